"""MuJoCo tasks, registered with gymnasium, and ``make_env`` to rebuild one from a dataset's env_args."""

import os

# Offscreen rendering without a display; set before mujoco creates a GL context.
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from robopolicy.envs.factory import (  # noqa: E402
    ENV_TYPE_GYM, EVAL_SEED_START, SEED_STARTS, VALIDATION_SEED_START, control_rate_hz, make_env,
)

PUSHT_ID = "robopolicy/PushT-v0"
OBSTACLE_ID = "robopolicy/AroundObstacle-v0"

if PUSHT_ID not in gym.registry:
    gym.register(id=PUSHT_ID, entry_point="robopolicy.envs.pusht.env:PushTEnv")
if OBSTACLE_ID not in gym.registry:
    gym.register(id=OBSTACLE_ID, entry_point="robopolicy.envs.obstacle.env:AroundObstacleEnv")

__all__ = ["ENV_TYPE_GYM", "EVAL_SEED_START", "OBSTACLE_ID", "PUSHT_ID", "SEED_STARTS", "VALIDATION_SEED_START",
           "control_rate_hz", "make_env"]
