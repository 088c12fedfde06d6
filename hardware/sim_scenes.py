"""The MuJoCo scenes behind the simulated arm: which robopolicy env it runs, what it reports besides the joints,
and how an episode is scored.

A robot config picks one with ``sim_scene`` (conf/robot/pusht_sim.yaml: ``pusht``; conf/robot/obstacle_sim.yaml:
``obstacle``). Both scenes are a disk on two slide joints driven by position actuators, so the same
SimArmDriver drives either; a scene only adds its task: Push-T's block pose and coverage score, the obstacle task's
collision check (every physics step, as the env does it) and progress score.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from robopolicy.envs.obstacle import AroundObstacleEnv
from robopolicy.envs.obstacle.env import task_score
from robopolicy.envs.overhead import OverheadCameraEnv
from robopolicy.envs.pusht import SUCCESS_COVERAGE, PushTEnv
from robopolicy.envs.pusht.geometry import coverage


class SimScene(ABC):
    """One task for the simulated arm. ``env`` owns the MuJoCo model and data the arm steps."""

    #: the non-joint sources the scene reports in ArmState.extras, by name
    extras: tuple[str, ...] = ()

    def __init__(self, env: OverheadCameraEnv) -> None:
        self.env = env

    def reset(self, seed: int, initial_state: np.ndarray | None) -> None:
        """Start an episode: the env's seeded initial state, or ``initial_state`` in its ``get_state()`` layout."""
        if initial_state is not None:
            self.env.reset(options={"state": initial_state})
        else:
            self.env.reset(seed=seed)

    def after_physics_step(self) -> None:
        """Called after every physics step the arm takes (for checks that must see every step)."""

    def extra_values(self) -> dict[str, np.ndarray]:
        """{extra source: value} now, one entry per name in ``extras``."""
        return {}

    @abstractmethod
    def score(self) -> float:
        """The task's score now, 0..1."""

    @abstractmethod
    def success(self) -> bool:
        """Whether the task is solved now."""


class PushTScene(SimScene):
    """Push-T: reports the block pose as ``object_pose`` = (x, y, cos theta, sin theta), the env's ``object``
    observation; score = coverage of the goal T, success at SUCCESS_COVERAGE."""

    extras = ("object_pose",)

    def __init__(self) -> None:
        super().__init__(PushTEnv(render_mode=None))

    def extra_values(self) -> dict[str, np.ndarray]:
        x, y, theta = self.env.block_pose
        return {"object_pose": np.array([x, y, math.cos(theta), math.sin(theta)])}

    def score(self) -> float:
        return float(coverage(self.env.block_pose, self.env.goal_pose))

    def success(self) -> bool:
        return self.score() >= SUCCESS_COVERAGE


class ObstacleScene(SimScene):
    """The obstacle task: no extras (the policy sees only the agent's joints); touching the obstacle at any physics
    step fails the episode for good, as in AroundObstacleEnv.step."""

    def __init__(self) -> None:
        super().__init__(AroundObstacleEnv(render_mode=None))
        self.collided = False

    def reset(self, seed: int, initial_state: np.ndarray | None) -> None:
        super().reset(seed, initial_state)
        self.collided = bool(self.env.get_state()[6])

    def after_physics_step(self) -> None:
        if self.env.data.ncon > 0:
            self.collided = True

    def score(self) -> float:
        return task_score(self.env.agent_pos, self.collided)[0]

    def success(self) -> bool:
        return task_score(self.env.agent_pos, self.collided)[1]


SCENES: dict[str, type[SimScene]] = {"pusht": PushTScene, "obstacle": ObstacleScene}
