"""Push-T in MuJoCo: push a T-shaped block onto a fixed target pose with a disk pusher."""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces
from shapely.geometry import Point

from robopolicy.envs.overhead import OverheadCameraEnv
from robopolicy.envs.pusht.geometry import T_RADIUS, coverage, t_polygon
from robopolicy.envs.pusht.model import PUSHER_RADIUS, TABLE_HALF, pusht_xml

GOAL_POSE = (0.0, 0.0, np.pi / 4)
SUCCESS_COVERAGE = 0.95
# The block's centre starts within +-BLOCK_RANGE so the whole T is on the table with at least a
# pusher's width between it and every wall, whatever its orientation.
BLOCK_RANGE = TABLE_HALF - T_RADIUS - 2 * PUSHER_RADIUS - 0.008
ACTION_LIMIT = TABLE_HALF - PUSHER_RADIUS


class PushTEnv(OverheadCameraEnv):
    """Gymnasium env. Action: pusher target position (x, y) in metres, clipped to the table.

    Observation dict: ``agent_pos`` (2,) pusher position; ``object`` (4,) block pose as
    (x, y, cos theta, sin theta); with ``image_obs=True`` also ``overhead_image`` (H, W, 3) uint8.
    info: ``score`` (coverage of the goal T, 0..1), ``success`` (score >= 0.95), ``block_pose`` (x, y, theta).
    The episode terminates on success and truncates after ``max_steps`` control steps (10 Hz).
    """

    def __init__(
        self,
        image_obs: bool = False,
        image_size: int = 96,
        render_size: int = 256,
        max_steps: int = 300,
        render_mode: str | None = "rgb_array",
    ) -> None:
        super().__init__(pusht_xml(GOAL_POSE), image_obs=image_obs, image_size=image_size, render_size=render_size,
                         max_steps=max_steps, render_mode=render_mode)
        self.goal_pose = np.array(GOAL_POSE)
        self._qadr = {n: self.model.joint(n).qposadr[0] for n in ("pusher_x", "pusher_y", "block_x", "block_y", "block_theta")}

        self.action_space = spaces.Box(-ACTION_LIMIT, ACTION_LIMIT, shape=(2,), dtype=np.float64)
        obs_spaces: dict[str, spaces.Space] = {
            "agent_pos": spaces.Box(-TABLE_HALF, TABLE_HALF, shape=(2,), dtype=np.float64),
            "object": spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float64),
        }
        if image_obs:
            obs_spaces["overhead_image"] = self.image_space()
        self.observation_space = spaces.Dict(obs_spaces)

    # ----------------------------------------------------------------------------------------- state
    @property
    def pusher_pos(self) -> np.ndarray:
        return self.data.qpos[[self._qadr["pusher_x"], self._qadr["pusher_y"]]].copy()

    @property
    def block_pose(self) -> np.ndarray:
        """(x, y, theta) of the block's centre of mass; theta wrapped to (-pi, pi]."""
        q = self.data.qpos[[self._qadr["block_x"], self._qadr["block_y"], self._qadr["block_theta"]]].copy()
        q[2] = np.arctan2(np.sin(q[2]), np.cos(q[2]))
        return q

    def get_state(self) -> np.ndarray:
        """Everything needed to restore the simulation exactly: (qpos 5, qvel 5, ctrl 2) -> (12,)."""
        return np.concatenate([self.data.qpos, self.data.qvel, self.data.ctrl]).copy()

    def set_state(self, state: np.ndarray) -> None:
        nq, nv = self.model.nq, self.model.nv
        self.data.qpos[:] = state[:nq]
        self.data.qvel[:] = state[nq : nq + nv]
        self.data.ctrl[:] = state[nq + nv :]
        mujoco.mj_forward(self.model, self.data)

    def _place(self, pusher: np.ndarray, block: np.ndarray) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[[self._qadr["pusher_x"], self._qadr["pusher_y"]]] = pusher
        self.data.qpos[[self._qadr["block_x"], self._qadr["block_y"], self._qadr["block_theta"]]] = block
        self.data.ctrl[:] = pusher
        mujoco.mj_forward(self.model, self.data)

    # --------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Random block pose (centre within +-BLOCK_RANGE, any orientation) and a pusher clear of it.

        ``options={"state": s}`` restores a state from ``get_state`` instead of sampling.
        """
        super().reset(seed=seed)
        self._steps = 0
        if options and "state" in options:
            self.set_state(np.asarray(options["state"], dtype=np.float64))
        else:
            rng = self.np_random
            block = np.array([*rng.uniform(-BLOCK_RANGE, BLOCK_RANGE, 2), rng.uniform(-np.pi, np.pi)])
            outline = t_polygon(block).buffer(PUSHER_RADIUS + 0.01)
            while True:
                pusher = rng.uniform(-ACTION_LIMIT + 0.01, ACTION_LIMIT - 0.01, 2)
                if not outline.contains(Point(pusher)):
                    break
            self._place(pusher, block)
        return self._observation(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64).reshape(2)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"PushTEnv.step: action must be finite, got {action}")
        self.data.ctrl[:] = np.clip(action, -ACTION_LIMIT, ACTION_LIMIT)
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)
        self._steps += 1
        info = self._info()
        terminated = bool(info["success"])
        truncated = self._steps >= self.max_steps and not terminated
        return self._observation(), float(info["score"]), terminated, truncated, info

    def _observation(self) -> dict[str, np.ndarray]:
        pose = self.block_pose
        obs = {
            "agent_pos": self.pusher_pos,
            "object": np.array([pose[0], pose[1], np.cos(pose[2]), np.sin(pose[2])]),
        }
        if self.image_obs:
            obs["overhead_image"] = self._render(self.image_size)
        return obs

    def _info(self) -> dict[str, Any]:
        pose = self.block_pose
        score = coverage(pose, self.goal_pose)
        return {"score": score, "success": score >= SUCCESS_COVERAGE, "block_pose": pose}
