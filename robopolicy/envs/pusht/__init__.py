"""Push-T in MuJoCo: the env, its geometry and its scripted expert."""

from robopolicy.envs.pusht.env import GOAL_POSE, SUCCESS_COVERAGE, PushTEnv

__all__ = ["GOAL_POSE", "SUCCESS_COVERAGE", "PushTEnv"]
