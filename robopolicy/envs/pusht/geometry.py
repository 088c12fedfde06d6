"""Push-T geometry: the T outline in its body frame, poses, and the coverage score.

Units are metres and radians. The T is a 10 x 2.5 cm bar on top of a 2.5 x 7.5 cm stem (the proportions
of the original Push-T); its body frame has the origin at the centre of mass, the stem along -y.
"""

from __future__ import annotations

import numpy as np
from shapely import affinity
from shapely.geometry import Polygon

BAR_LENGTH = 0.10
BAR_WIDTH = 0.025
STEM_LENGTH = 0.075
STEM_WIDTH = 0.025

_BAR_AREA = BAR_LENGTH * BAR_WIDTH
_STEM_AREA = STEM_WIDTH * STEM_LENGTH
# Centre of mass above the stem's bottom edge; the body frame is shifted so that it sits at the origin.
_COM_Y = (_BAR_AREA * (STEM_LENGTH + BAR_WIDTH / 2) + _STEM_AREA * STEM_LENGTH / 2) / (_BAR_AREA + _STEM_AREA)

# Centres of the two boxes (bar, stem) in the body frame, and their half sizes.
BAR_CENTER = (0.0, STEM_LENGTH + BAR_WIDTH / 2 - _COM_Y)
STEM_CENTER = (0.0, STEM_LENGTH / 2 - _COM_Y)
BAR_HALF = (BAR_LENGTH / 2, BAR_WIDTH / 2)
STEM_HALF = (STEM_WIDTH / 2, STEM_LENGTH / 2)


def t_outline() -> np.ndarray:
    """The T's 8 outline vertices (8, 2) in its body frame, counter-clockwise."""
    bx, by = BAR_HALF
    sx, _ = STEM_HALF
    top = BAR_CENTER[1] + by
    joint = BAR_CENTER[1] - by
    bottom = STEM_CENTER[1] - STEM_HALF[1]
    return np.array(
        [[-bx, top], [-bx, joint], [-sx, joint], [-sx, bottom], [sx, bottom], [sx, joint], [bx, joint], [bx, top]]
    )


_OUTLINE = Polygon(t_outline())
T_AREA = _OUTLINE.area
T_RADIUS = float(np.linalg.norm(t_outline(), axis=1).max())  # farthest outline point from the centre of mass


def t_polygon(pose: np.ndarray) -> Polygon:
    """The T as a shapely polygon at ``pose`` = (x, y, theta) in the world frame."""
    x, y, theta = (float(v) for v in pose)
    rotated = affinity.rotate(_OUTLINE, theta, origin=(0.0, 0.0), use_radians=True)
    return affinity.translate(rotated, x, y)


def transform_points(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Body-frame points (N, 2) -> world frame at ``pose`` = (x, y, theta)."""
    c, s = np.cos(pose[2]), np.sin(pose[2])
    return points @ np.array([[c, s], [-s, c]]) + np.asarray(pose[:2])


def coverage(block_pose: np.ndarray, goal_pose: np.ndarray) -> float:
    """Fraction of the goal T's area covered by the block T (exact polygon intersection), in [0, 1]."""
    goal = t_polygon(goal_pose)
    return float(t_polygon(block_pose).intersection(goal).area / goal.area)
