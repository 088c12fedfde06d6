"""Forward kinematics of a serial arm's tool point, vectorized over many joint vectors (numpy only).

The chain is given in standard (distal) Denavit-Hartenberg form, one row per revolute joint in the robot config's
joint order. Frame i follows frame i-1 by

    T_i = Rot_z(q_i + theta_offset_i) Trans_z(d_i) Trans_x(a_i) Rot_x(alpha_i)

(metres, radians), so the flange is T_1 T_2 ... T_J. The tool point is ``tool`` (xyz in the flange frame) carried by
that chain, plus ``base`` (xyz: where frame 0 sits in the frame the Cartesian workspace is written in; a translation
only). This is the convention of Universal Robots' published DH tables: with their UR5e parameters and every joint at
0 the flange is at (a2 + a3, -(d4 + d6), d1 - d5) = (-0.8172, -0.2329, 0.0628) m.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SerialChain:
    """A revolute serial chain in standard DH form; ``tool_points(q (N, J)) -> (N, 3)``."""

    def __init__(self, a: Sequence[float], d: Sequence[float], alpha: Sequence[float],
                 theta_offset: Sequence[float] | None = None, base: Sequence[float] = (0.0, 0.0, 0.0),
                 tool: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        self.a = np.asarray(a, dtype=np.float64).reshape(-1)
        self.d = np.asarray(d, dtype=np.float64).reshape(-1)
        self.alpha = np.asarray(alpha, dtype=np.float64).reshape(-1)
        num = len(self.a)
        self.theta_offset = (np.zeros(num) if theta_offset is None
                             else np.asarray(theta_offset, dtype=np.float64).reshape(-1))
        if num == 0 or not len(self.d) == len(self.alpha) == len(self.theta_offset) == num:
            raise ValueError(f"a, d, alpha and theta_offset need one value per joint (at least one joint), got "
                             f"{len(self.a)}, {len(self.d)}, {len(self.alpha)}, {len(self.theta_offset)}")
        self.base = np.asarray(base, dtype=np.float64).reshape(3)
        self.tool = np.asarray(tool, dtype=np.float64).reshape(3)
        self._cos_alpha = np.cos(self.alpha)
        self._sin_alpha = np.sin(self.alpha)

    @classmethod
    def from_config(cls, kinematics) -> SerialChain:
        """From a ``hardware.robot.KinematicsConfig`` (the robot config's ``kinematics`` section)."""
        return cls(kinematics.a, kinematics.d, kinematics.alpha, kinematics.theta_offset, kinematics.base,
                   kinematics.tool)

    @property
    def num_joints(self) -> int:
        return len(self.a)

    def tool_points(self, q: np.ndarray) -> np.ndarray:
        """(N, J) joint positions (radians, the config's joint order) -> (N, 3) tool points in the base frame.

        A (J,) vector gives (3,). One pass over the J joints, each a batched 3x3 product over the N rows."""
        q = np.asarray(q, dtype=np.float64)
        single = q.ndim == 1
        q = np.atleast_2d(q)
        if q.ndim != 2 or q.shape[1] != self.num_joints:
            raise ValueError(f"expected (N, {self.num_joints}) joint positions, got shape {q.shape}")
        n = len(q)
        rotation = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
        position = np.zeros((n, 3))
        theta = q + self.theta_offset
        cos_t, sin_t = np.cos(theta), np.sin(theta)
        for i in range(self.num_joints):
            c, s = cos_t[:, i], sin_t[:, i]
            ca, sa = self._cos_alpha[i], self._sin_alpha[i]
            # Rot_z(theta) Trans_z(d) Trans_x(a): the joint frame's origin moves by Rot_z(theta) [a, 0, d]
            step = np.stack([self.a[i] * c, self.a[i] * s, np.full(n, self.d[i])], axis=1)
            position += np.einsum("nij,nj->ni", rotation, step)
            # Rot_z(theta) Rot_x(alpha)
            link = np.empty((n, 3, 3))
            link[:, 0, 0], link[:, 0, 1], link[:, 0, 2] = c, -s * ca, s * sa
            link[:, 1, 0], link[:, 1, 1], link[:, 1, 2] = s, c * ca, -c * sa
            link[:, 2, 0], link[:, 2, 1], link[:, 2, 2] = 0.0, sa, ca
            rotation = rotation @ link
        points = self.base + position + rotation @ self.tool
        return points[0] if single else points


def tool_points_looped(chain: SerialChain, q: np.ndarray) -> np.ndarray:
    """The same as ``chain.tool_points`` with 4x4 homogeneous matrices, one joint vector at a time: the reference
    the vectorized version is tested against (slow, not for the control loop)."""
    out = []
    for row in np.atleast_2d(np.asarray(q, dtype=np.float64)):
        pose = np.eye(4)
        pose[:3, 3] = chain.base
        for i, angle in enumerate(row + chain.theta_offset):
            c, s = np.cos(angle), np.sin(angle)
            ca, sa = chain._cos_alpha[i], chain._sin_alpha[i]
            pose = pose @ np.array([[c, -s * ca, s * sa, chain.a[i] * c],
                                    [s, c * ca, -c * sa, chain.a[i] * s],
                                    [0.0, sa, ca, chain.d[i]],
                                    [0.0, 0.0, 0.0, 1.0]])
        out.append((pose @ np.append(chain.tool, 1.0))[:3])
    return np.array(out)
