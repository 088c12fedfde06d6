"""Around-the-obstacle: reach a goal past a wide obstacle, going round it on the left or on the right.

Both ways are equally good, so demonstrations split between two strategies; a policy that averages
them goes straight up into the obstacle, which ends the episode as a failure.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from robopolicy.envs.obstacle.model import (
    AGENT_RADIUS,
    GOAL_CENTER,
    GOAL_RADIUS,
    OBSTACLE_CENTER,
    START,
    START_RANGE,
    WORKSPACE_HALF,
    obstacle_xml,
)
from robopolicy.envs.overhead import OverheadCameraEnv

ACTION_LIMIT = WORKSPACE_HALF - AGENT_RADIUS
START_DISTANCE = float(np.linalg.norm(np.subtract(GOAL_CENTER, START)))  # the score's unit of progress


def task_score(agent_pos: np.ndarray, collided: bool) -> tuple[float, bool]:
    """(score, success) for the agent at ``agent_pos`` (2,) given whether it has touched the obstacle.

    success: the agent's centre is within GOAL_RADIUS of the goal centre and it never touched the
    obstacle. score: 1 on success; 0 once the obstacle was touched; otherwise the progress
    1 - |agent - goal| / |START - goal| clipped to [0, 1) (below 1 - GOAL_RADIUS / |START - goal|).
    """
    distance = float(np.linalg.norm(np.asarray(agent_pos) - GOAL_CENTER))
    if collided:
        return 0.0, False
    if distance <= GOAL_RADIUS:
        return 1.0, True
    return float(np.clip(1.0 - distance / START_DISTANCE, 0.0, 1.0)), False


class AroundObstacleEnv(OverheadCameraEnv):
    """Gymnasium env. Action: the agent's target position (x, y) in metres, clipped to the workspace.

    Observation dict: ``agent_pos`` (2,); with ``image_obs=True`` also ``overhead_image`` (H, W, 3) uint8.
    info: ``score`` and ``success`` (see ``task_score``), ``collided`` (the agent has touched the
    obstacle this episode), ``side`` (-1 left / +1 right: the sign of x when the agent first reached the
    obstacle's centre height; 0 before that). The episode terminates on success or on touching the
    obstacle, and truncates after ``max_steps`` control steps (10 Hz).
    """

    def __init__(
        self,
        image_obs: bool = False,
        image_size: int = 96,
        render_size: int = 256,
        max_steps: int = 120,
        render_mode: str | None = "rgb_array",
    ) -> None:
        super().__init__(obstacle_xml(), image_obs=image_obs, image_size=image_size, render_size=render_size,
                         max_steps=max_steps, render_mode=render_mode)

        self.action_space = spaces.Box(-ACTION_LIMIT, ACTION_LIMIT, shape=(2,), dtype=np.float64)
        obs_spaces: dict[str, spaces.Space] = {
            "agent_pos": spaces.Box(-WORKSPACE_HALF, WORKSPACE_HALF, shape=(2,), dtype=np.float64),
        }
        if image_obs:
            obs_spaces["overhead_image"] = self.image_space()
        self.observation_space = spaces.Dict(obs_spaces)
        self._collided = False
        self._side = 0

    # ----------------------------------------------------------------------------------------- state
    @property
    def agent_pos(self) -> np.ndarray:
        """The agent's centre (2,)."""
        return self.data.qpos[:2].copy()

    def get_state(self) -> np.ndarray:
        """Everything needed to restore the episode exactly: (qpos 2, qvel 2, ctrl 2, collided, side) -> (8,)."""
        return np.concatenate([self.data.qpos, self.data.qvel, self.data.ctrl, [float(self._collided), float(self._side)]])

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from ``get_state``; an agent placed overlapping the obstacle counts as collided."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (8,):
            raise ValueError(f"AroundObstacleEnv.set_state: expected a state of shape (8,), got {state.shape}")
        self.data.qpos[:] = state[0:2]
        self.data.qvel[:] = state[2:4]
        self.data.ctrl[:] = state[4:6]
        mujoco.mj_forward(self.model, self.data)
        self._collided = bool(state[6]) or bool(self.data.ncon > 0)
        self._side = int(state[7])

    # --------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """The agent at rest at START plus a uniform offset within +-START_RANGE.

        ``options={"state": s}`` restores a state from ``get_state`` instead of sampling.
        """
        super().reset(seed=seed)
        self._steps = 0
        if options and "state" in options:
            self.set_state(options["state"])
        else:
            start = np.asarray(START) + self.np_random.uniform(-1.0, 1.0, 2) * START_RANGE
            self.set_state(np.array([*start, 0.0, 0.0, *start, 0.0, 0.0]))
        return self._observation(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float64).reshape(2)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"AroundObstacleEnv.step: action must be finite, got {action}")
        self.data.ctrl[:] = np.clip(action, -ACTION_LIMIT, ACTION_LIMIT)
        y_before = self.data.qpos[1]
        # Stepped one physics step at a time so that a brief graze mid-step is still seen as a contact.
        for _ in range(self.substeps):
            mujoco.mj_step(self.model, self.data)
            if self.data.ncon > 0:
                self._collided = True
        if self._side == 0 and y_before < OBSTACLE_CENTER[1] <= self.data.qpos[1]:
            self._side = int(np.sign(self.data.qpos[0]))
        self._steps += 1
        info = self._info()
        terminated = bool(info["success"] or info["collided"])
        truncated = self._steps >= self.max_steps and not terminated
        return self._observation(), float(info["score"]), terminated, truncated, info

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {"agent_pos": self.agent_pos}
        if self.image_obs:
            obs["overhead_image"] = self._render(self.image_size)
        return obs

    def _info(self) -> dict[str, Any]:
        score, success = task_score(self.agent_pos, self._collided)
        return {"score": score, "success": success, "collided": self._collided, "side": self._side}
