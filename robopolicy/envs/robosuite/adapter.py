"""A robosuite manipulation task behind the project's gymnasium env contract (see robopolicy/envs/pusht/env.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import robosuite
from gymnasium import spaces

from robopolicy.envs.robosuite.config import split_env_kwargs

# robosuite's concatenations of the per-quantity observables; robomimic keeps only "object" (= object-state).
_CONCATENATED = ("-state",)


class RobosuiteEnv(gym.Env):
    """Gymnasium env around ``robosuite.make(env_name, **env_kwargs)`` (robomimic's env_args for a type-1 env).

    Action: robosuite's (7,) OSC_POSE delta in [-1, 1] (dx, dy, dz scaled to 5 cm, axis-angle scaled to 0.5 rad,
    gripper -1 open / +1 close). Observations are named as robomimic names them: every robosuite observable
    (``robot0_eef_pos`` (3,), ``robot0_eef_quat`` (4,), ``robot0_gripper_qpos`` (2,), ...), ``object`` for the
    object-state vector, and ``<camera>_image`` (H, W, 3) uint8 right side up when cameras are on.
    info: ``success`` (robosuite's ``_check_success``) and ``score`` (1.0 on success, else 0.0: these tasks have no
    graded notion of done). The episode terminates on success and truncates after ``max_steps`` control steps (20 Hz).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, env_name: str, render_mode: str | None = "rgb_array", **env_kwargs: Any) -> None:
        make_kwargs, options = split_env_kwargs(env_kwargs)
        self.env_name = env_name
        self.env = robosuite.make(env_name, **make_kwargs)
        self.max_steps = options.max_steps
        self.render_size = options.render_size
        self.render_camera = options.render_camera
        self.render_mode = render_mode
        self._renderer: mujoco.Renderer | None = None
        self._renderer_model: mujoco.MjModel | None = None
        self._steps = 0
        self._closed = False

        low, high = self.env.action_spec
        self.action_space = spaces.Box(low.astype(np.float64), high.astype(np.float64), dtype=np.float64)
        obs = self._observation(self.env.reset())
        self.observation_space = spaces.Dict({k: _space_like(v) for k, v in obs.items()})

    # ----------------------------------------------------------------------------------------- state
    @property
    def sim(self) -> Any:
        """robosuite's MjSim, for privileged experts and tests."""
        return self.env.sim

    def get_state(self) -> np.ndarray:
        """robomimic's flattened simulator state (time, qpos, qvel) -> (1 + nq + nv,)."""
        return np.asarray(self.env.sim.get_state().flatten(), dtype=np.float64).copy()

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from ``get_state`` (or a robomimic dataset's ``states``)."""
        self.env.sim.set_state_from_flattened(np.asarray(state, dtype=np.float64))
        self.env.sim.forward()
        self.env.update_state()

    def is_success(self) -> bool:
        """robosuite's own success test for the task (e.g. Lift: cube centre 4 cm above the table)."""
        return bool(self.env._check_success())

    # --------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """robosuite's randomized reset; ``seed`` fixes it. ``options={"state": s}`` then restores state ``s``."""
        super().reset(seed=seed)
        if seed is not None:
            # robosuite's placement samplers and joint-noise draw from this one Generator, which they hold by
            # reference: reseeding it in place makes the whole initial state a function of the seed.
            self.env.rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
        self._steps = 0
        raw = self.env.reset()
        if options and "state" in options:
            self.set_state(options["state"])
            raw = self.env._get_observations(force_update=True)
        return self._observation(raw), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"{self.env_name}: action must be finite, got {action}")
        raw, reward, _, _ = self.env.step(np.clip(action, self.action_space.low, self.action_space.high))
        self._steps += 1
        info = self._info()
        terminated = bool(info["success"])
        truncated = self._steps >= self.max_steps and not terminated
        return self._observation(raw), float(reward), terminated, truncated, info

    def _observation(self, raw: Mapping[str, Any]) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        for key, value in raw.items():
            if key == "object-state":
                obs["object"] = np.asarray(value, dtype=np.float64)
            elif key.endswith(_CONCATENATED):
                continue
            elif key.endswith(("_image", "_depth", "_segmentation")):
                # robosuite renders with OpenGL's bottom-up row order: flip to the usual top-down image.
                obs[key] = np.ascontiguousarray(np.asarray(value)[::-1])
            else:
                obs[key] = np.asarray(value, dtype=np.float64)
        return obs

    def _info(self) -> dict[str, Any]:
        success = self.is_success()
        return {"success": success, "score": 1.0 if success else 0.0}

    # ------------------------------------------------------------------------------------- rendering
    def render(self) -> np.ndarray:
        """RGB frame (render_size, render_size, 3) uint8 from the agentview camera, for videos."""
        model = self.env.sim.model._model
        if self._renderer is None or self._renderer_model is not model:  # a hard reset recompiles the model
            self._drop_renderer()
            self._renderer = mujoco.Renderer(model, self.render_size, self.render_size)
            self._renderer_model = model
        self._renderer.update_scene(self.env.sim.data._data, camera=self.render_camera)
        # Video frames only: without shadows and reflections software (llvmpipe) rendering is about twice as fast.
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        return self._renderer.render()

    def close(self) -> None:
        """Free the renderer and robosuite's simulator; the env is unusable afterwards (a second close is a no-op)."""
        self._drop_renderer()
        if not self._closed:
            self.env.close()
            self._closed = True

    def _drop_renderer(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
            self._renderer_model = None


def _space_like(value: np.ndarray) -> spaces.Box:
    if value.dtype == np.uint8:
        return spaces.Box(0, 255, shape=value.shape, dtype=np.uint8)
    return spaces.Box(-np.inf, np.inf, shape=value.shape, dtype=value.dtype)
