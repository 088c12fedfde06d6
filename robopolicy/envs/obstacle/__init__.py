"""Around-the-obstacle: a two-mode reaching task (left or right of a wide obstacle) and its scripted expert."""

from robopolicy.envs.obstacle.env import AroundObstacleEnv, task_score

__all__ = ["AroundObstacleEnv", "task_score"]
