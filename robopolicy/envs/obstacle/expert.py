"""A scripted expert for the around-the-obstacle task that goes round on a side it picks at random.

Per episode the expert draws left or right with probability 1/2 and follows a smooth path round that
side of the obstacle to the goal: the corner-cut (Chaikin) curve of the polygon start -> below the
obstacle's side -> above it -> goal centre. The path leaves the centre line at once (its first leg runs
more sideways than up), so demonstrations from the same start split into two clearly separated modes.

Following is a feedback law of the observed position: the target is the point LOOKAHEAD further
along the path than the nearest path point (searched forwards from the last one, so progress never
runs backwards), at most MAX_STEP from the agent. Perturbed executions (DART noise) are pulled back
onto the path.
"""

from __future__ import annotations

import numpy as np

from robopolicy.envs.obstacle.env import ACTION_LIMIT, AroundObstacleEnv
from robopolicy.envs.obstacle.model import GOAL_CENTER, OBSTACLE_CENTER, OBSTACLE_HALF

SIDE_X = 0.15  # |x| of the path beside the obstacle: 4.75 cm between the agent's edge and the obstacle
BELOW_Y = OBSTACLE_CENTER[1] - OBSTACLE_HALF[1] - 0.05  # corner of the control polygon below the obstacle
ABOVE_Y = OBSTACLE_CENTER[1] + OBSTACLE_HALF[1] + 0.05  # ... and above it
SMOOTHING = 4  # Chaikin corner-cutting rounds
SPACING = 0.002  # resampled path spacing (m)
LOOKAHEAD = 0.016  # how far along the path the target leads the nearest path point (m)
MAX_STEP = 0.02  # the target is never further than this from the agent (m)
SEARCH = 0.05  # the nearest path point is searched this far ahead of the previous one (m)


def side_path(start: np.ndarray, side: int) -> np.ndarray:
    """Path (N, 2) from ``start`` (2,) round the obstacle on ``side`` (-1 left, +1 right) to the goal centre.

    Points are SPACING apart along the curve; the first is ``start`` and the last the goal centre.
    """
    points = np.array([start, (side * SIDE_X, BELOW_Y), (side * SIDE_X, ABOVE_Y), GOAL_CENTER], dtype=np.float64)
    for _ in range(SMOOTHING):
        a, b = points[:-1], points[1:]
        cut = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], axis=1).reshape(-1, 2)
        points = np.concatenate([points[:1], cut[1:-1], points[-1:]])  # the end points stay put
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    samples = np.linspace(0.0, arc[-1], int(np.ceil(arc[-1] / SPACING)) + 1)
    return np.stack([np.interp(samples, arc, points[:, k]) for k in range(2)], axis=1)


class AroundObstacleExpert:
    """Random-side path-following expert for :class:`AroundObstacleEnv` (see the module docstring)."""

    def __init__(self, env: AroundObstacleEnv, rng: np.random.Generator) -> None:
        """``rng`` decides the side of each episode (one draw per ``reset``)."""
        # The collection code seeds ``rng`` with the same seed as the env's reset, so its first draws
        # equal the ones that placed the start: a child stream keeps the side independent of the start.
        self._rng = rng.spawn(1)[0]
        self.side = 0
        self._path: np.ndarray | None = None
        self._index = 0
        self.reset()

    def reset(self) -> None:
        """Pick this episode's side (call after ``env.reset``); the path is laid from the first observation."""
        self.side = 1 if self._rng.random() < 0.5 else -1
        self._path = None
        self._index = 0

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The agent's target position (2,) for the next control step."""
        pos = np.asarray(obs["agent_pos"], dtype=np.float64)
        if self._path is None:
            self._path = side_path(pos, self.side)
        window = self._path[self._index : self._index + int(SEARCH / SPACING) + 1]
        self._index += int(np.argmin(np.linalg.norm(window - pos, axis=1)))
        target = self._path[min(self._index + int(round(LOOKAHEAD / SPACING)), len(self._path) - 1)]
        offset = target - pos
        distance = float(np.linalg.norm(offset))
        if distance > MAX_STEP:
            target = pos + offset * (MAX_STEP / distance)
        return np.clip(target, -ACTION_LIMIT, ACTION_LIMIT)
