"""Scripted experts by environment id (a plain dict registry), and the protocol they follow."""

from __future__ import annotations

import importlib
from typing import Protocol

import gymnasium as gym
import numpy as np

# env id -> "module:Class"; the class is built as Class(env, rng) on the unwrapped env.
EXPERTS: dict[str, str] = {
    "robopolicy/PushT-v0": "robopolicy.envs.pusht.expert:PushTExpert",
    "robopolicy/AroundObstacle-v0": "robopolicy.envs.obstacle.expert:AroundObstacleExpert",
    # robosuite tasks, under robomimic's env names
    "Lift": "robopolicy.envs.robosuite.experts:LiftExpert",
    "PickPlaceCan": "robopolicy.envs.robosuite.experts:PickPlaceCanExpert",
    "NutAssemblySquare": "robopolicy.envs.robosuite.experts:NutAssemblySquareExpert",
}


class Expert(Protocol):
    """A privileged controller: it may read the simulator state of the env it was built with."""

    def reset(self) -> None:
        """Forget the previous episode; call after every env.reset."""

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The action for the current observation."""


def make_expert(env_name: str, env: gym.Env, rng: np.random.Generator) -> Expert:
    if env_name not in EXPERTS:
        raise KeyError(f"no scripted expert for {env_name!r}; experts exist for: {', '.join(sorted(EXPERTS))}")
    module, cls = EXPERTS[env_name].split(":")
    return getattr(importlib.import_module(module), cls)(env.unwrapped, rng)
