"""A scripted Push-T expert that is a feedback law of the observation: learnable demonstrations.

At every control step the expert looks at the observed block pose and pusher position and answers
three questions, each with a smooth function of the observation except where noted:

1. *Which contact would move the block towards the goal?* Candidate contacts are pusher positions
   touching the T's outline every few millimetres (notches under the bar included where the pusher
   fits), each with a push direction: the inward normal or turned by +-0.3 rad, inside the friction
   cone. The block is quasi-static with viscous joint damping, so a push of the pusher by ds along
   direction d at lever arm r moves the block by a twist proportional to (d / b_xy, (r x d) / b_theta)
   (``_push_response``). Each contact is scored by the cosine between that twist and the pose error,
   with rotation converted to metres by ``ROTATION_SCALE`` (about the T's mean vertex radius, so the
   score weighs position and angle the way the coverage does), minus a charge per metre of travel to
   reach it.
2. *Keep the current contact or switch?* The one discontinuous decision. The expert keeps its contact
   until another one scores ``SWITCH_MARGIN`` better or its own cosine falls below ``MIN_COSINE``
   (hysteresis, so it does not dither between neighbours).
3. *How to act on it?* Away from the contact, the pusher travels towards a staging point behind it at
   ``TRAVEL_SPEED`` per step along the shortest path that keeps ``TRAVEL_CLEARANCE`` from the block
   (``travel.TravelPlanner``), wide enough that an imitator a few millimetres off does not bump it. At
   the contact, the target is the body-fixed contact point advanced along the push direction by a
   proportional step: the distance that would remove ``GAIN`` of the error component the twist can
   remove, clipped to [``MIN_PUSH``, ``MAX_PUSH``]. The pushes shrink as the block nears the goal, which
   gives the ~1.6 mm / 0.04 rad precision that 0.95 coverage needs.

The law is deterministic; datasets vary through the initial states and the DART noise that collection
adds to the executed actions (robopolicy/data/collect.py). An earlier expert that planned each push by
simulating candidates solved episodes in fewer steps but jumped between plans, and Diffusion Policy
imitated it clearly worse (docs/benchmarks/experiments.md).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point

from robopolicy.envs.pusht.env import ACTION_LIMIT, PushTEnv
from robopolicy.envs.pusht.geometry import t_outline, t_polygon
from robopolicy.envs.pusht.model import PUSHER_RADIUS
from robopolicy.envs.pusht.travel import TravelPlanner

TARGET_LIMIT = ACTION_LIMIT - 1e-4  # actions stay strictly inside the env's clip range
TRAVEL_SPEED = 0.015  # pusher target advance per control step while repositioning (m)
MAX_PUSH = 0.012  # the largest push per control step (m)
MIN_PUSH = 0.0015  # the smallest push per control step (m): enough to overcome the block's friction loss
GAIN = 0.6  # fraction of the reachable error removed per push step
ROTATION_SCALE = 0.04  # metres per radian when comparing rotation with translation errors
CONTACT_SPACING = 0.004  # spacing of candidate contacts along the T outline (m)
PUSH_ANGLES = (-0.3, 0.0, 0.3)  # push directions relative to the inward normal (rad)
TRAVEL_CLEARANCE = 0.01  # the pusher's edge keeps this far from the block while repositioning (m) ...
NODE_CLEARANCE = 0.016  # ... going round it through waypoints this far out
STAGING_GAP = 0.012  # the pusher's edge waits this far from the block before a push (m)
SWITCH_MARGIN = 0.25  # another contact must score this much better to replace the current one
MIN_COSINE = 0.2  # below this the current contact no longer helps and is dropped
TRAVEL_COST = 2.0  # score charged per metre between the pusher and a contact's staging point
LOST_CONTACT = 0.01  # pusher this far sideways from its push line (or 3x behind the contact) repositions (m)
# Damping of the block's x/y and hinge joints (robopolicy/envs/pusht/model.py): the mobility model.
LINEAR_DAMPING = 2.0
ANGULAR_DAMPING = 0.002


def _rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def candidate_contacts() -> tuple[np.ndarray, np.ndarray]:
    """Body-frame pusher centres at contact (N, 2) and unit push directions (N, 2).

    A candidate is kept when the pusher can run straight into it from 3 cm away without touching the T
    elsewhere and its staging point leaves the travel planner's clearance round the block.
    """
    outline = t_outline()
    body = t_polygon(np.zeros(3))
    centres, directions = [], []
    for a, b in zip(outline, np.roll(outline, -1, axis=0)):
        edge = b - a
        length = float(np.linalg.norm(edge))
        outward = np.array([edge[1], -edge[0]]) / length  # the outline is counter-clockwise
        for t in np.arange(CONTACT_SPACING / 2, length, CONTACT_SPACING):
            centre = a + edge * t / length + outward * PUSHER_RADIUS
            for angle in PUSH_ANGLES:
                direction = _rotation(angle) @ -outward
                run_up = shapely.linestrings([centre - direction * 0.03, centre - direction * 5e-4])
                staging = Point(centre - direction * STAGING_GAP)
                if (
                    shapely.distance(run_up, body) >= PUSHER_RADIUS - 1e-6
                    and staging.distance(body) >= PUSHER_RADIUS + TRAVEL_CLEARANCE + 5e-4
                ):
                    centres.append(centre)
                    directions.append(direction)
    return np.array(centres), np.array(directions)


def _push_response(lever: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Block twist (N, 3) = (vx, vy, omega) per metre the pusher advances along ``direction`` (N, 2).

    ``lever`` (N, 2): contact points relative to the block's centre of mass. With a sticking contact the
    contact point moves with the pusher along ``direction``; the force f that achieves this satisfies
    f * (1 / b_xy + (r x d)^2 / b_theta) = 1 for viscous damping b.
    """
    moment = lever[:, 0] * direction[:, 1] - lever[:, 1] * direction[:, 0]
    force = 1.0 / (1.0 / LINEAR_DAMPING + moment**2 / ANGULAR_DAMPING)
    return np.concatenate([direction * (force / LINEAR_DAMPING)[:, None], (force * moment / ANGULAR_DAMPING)[:, None]], 1)


class PushTExpert:
    """Feedback-law expert for :class:`PushTEnv` (see the module docstring); reads only the observation."""

    def __init__(self, env: PushTEnv, rng: np.random.Generator) -> None:
        """``rng`` is accepted for the expert protocol; this expert is deterministic and does not use it."""
        self.goal = np.asarray(env.goal_pose, dtype=np.float64)
        self.centres, self.directions = candidate_contacts()
        self.planner = TravelPlanner(TARGET_LIMIT, TRAVEL_CLEARANCE, NODE_CLEARANCE)
        self._contact: int | None = None
        self._pushing = False

    def reset(self) -> None:
        """Forget the previous episode (call after ``env.reset``)."""
        self._contact = None
        self._pushing = False

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The pusher target (2,) for the next control step."""
        x, y, cos_t, sin_t = (float(v) for v in obs["object"])
        pose = np.array([x, y, np.arctan2(sin_t, cos_t)])
        pusher = np.asarray(obs["agent_pos"], dtype=np.float64)

        rotation = _rotation(pose[2])
        centres = self.centres @ rotation.T + pose[:2]  # pusher centres at contact, world frame
        directions = self.directions @ rotation.T
        response = _push_response(centres - pose[:2] + directions * PUSHER_RADIUS, directions)
        angle_error = np.arctan2(np.sin(self.goal[2] - pose[2]), np.cos(self.goal[2] - pose[2]))
        error = np.array([*(self.goal[:2] - pose[:2]), ROTATION_SCALE * angle_error])
        response[:, 2] *= ROTATION_SCALE
        gain = np.linalg.norm(response, axis=1)
        error_norm = float(np.linalg.norm(error)) + 1e-12
        cosine = response @ error / (gain * error_norm)

        staging = centres - directions * STAGING_GAP
        reachable = np.all(np.abs(np.concatenate([centres, staging], 1)) <= TARGET_LIMIT, axis=1)
        value = np.where(reachable, cosine - TRAVEL_COST * np.linalg.norm(staging - pusher, axis=1), -np.inf)
        best = int(np.argmax(value))
        current = self._contact
        if current is None or value[best] > value[current] + SWITCH_MARGIN or cosine[current] < MIN_COSINE:
            if best != current:
                self._pushing = False
            self._contact = current = best

        if not self._pushing:
            target = self._travel_target(pusher, staging[current], pose)
            if target is not None:
                return target
            self._pushing = True
        offset = pusher - centres[current]
        direction = directions[current]
        sideways, behind = abs(offset[0] * direction[1] - offset[1] * direction[0]), -float(offset @ direction)
        if sideways > LOST_CONTACT or behind > 3 * LOST_CONTACT:
            self._pushing = False  # the block moved away from under the pusher: reposition next step
        step = np.clip(GAIN * cosine[current] * error_norm / gain[current], MIN_PUSH, MAX_PUSH)
        return np.clip(centres[current] + direction * step, -TARGET_LIMIT, TARGET_LIMIT)

    def _travel_target(self, pusher: np.ndarray, staging: np.ndarray, pose: np.ndarray) -> np.ndarray | None:
        """The next travel target towards ``staging`` round the block, or None once within one step of it."""
        path = self.planner.path(pusher, staging, pose)
        lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
        if lengths.sum() <= TRAVEL_SPEED:
            return None
        arc = np.concatenate([[0.0], np.cumsum(lengths)])
        target = np.array([np.interp(TRAVEL_SPEED, arc, path[:, k]) for k in range(2)])
        return np.clip(target, -TARGET_LIMIT, TARGET_LIMIT)
