"""A scripted Push-T expert: greedy, simulation-checked pushes, with collision-free repositioning.

Each decision picks one *push*: the pusher travels to a staging point just outside the block, pushes
through a contact point on the T's outline for 1..K control steps, then backs off one step. The expert
commits to the whole push and re-plans only when it is done (or, as a safeguard, when the block is not
where the simulation said it would be).

Candidates. Contact points are spread along the T's outline at a spacing drawn with a random phase, on
every edge the pusher disk can reach (the notches under the bar are trimmed by the pusher radius). At
each contact the push direction is the inward normal, or turned by a few fixed angles so that the
friction at the contact also steers the block. Their validity (the pusher's approach path clear of the
rest of the T) depends only on the T's shape and is tabulated once in the block frame.

Cost. The pose error is the mean distance between corresponding outline vertices of the block and the
goal T; it weighs position and angle errors the way the coverage score does. A push is scored by the
error it leaves plus a small charge for every control step it takes (travel included), proportional to
the current error, so that the expert prefers quick pushes when they do nearly as well.

Two-stage selection, both in a second ``MjData`` (the env's own data is never stepped):
1. Screening: every candidate is simulated from the current block pose with the pusher placed at its
   staging point at rest, for K push steps; after each step the pose the block will coast to is
   extrapolated from its velocity and the damping time constants, which gives the cost of every push
   length at once.
2. Refinement: the best few (contact, direction) candidates are re-simulated exactly, from a copy of the
   env's full state (including the solver's warm start), with the real action sequence (the travel path,
   the push steps and the back-off step for each push length). MuJoCo is deterministic, so these
   predictions are what the env will do; a push that reaches the success coverage wins outright.
   The chosen plan is drawn at random among the refined options whose score is within a tolerance of
   the best, which varies the side pushed from, the contact point and the direction of rotation.

Coarse vs fine. The push step, the staging gap and the candidate set scale with the current error: far
from the goal the pusher pushes 2.5 cm per step from three directions per contact; once the vertex
error is below ``FINE_ERROR`` (about 12 mm) it makes 2-6 mm pushes from five directions at a denser
spacing, which gives the ~1.6 mm / 0.04 rad precision that 0.95 coverage needs.

Travel. Repositioning follows the shortest path around the T inflated by the pusher radius plus a
clearance (``travel.TravelPlanner``: a visibility graph over the vertices of a more inflated T), ending
with a straight approach along the push direction; it is sampled at most ``MAX_STEP`` apart, the same
limit as the push steps, so every action moves the target by at most ``MAX_STEP``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from robopolicy.envs.pusht.env import ACTION_LIMIT, SUCCESS_COVERAGE, PushTEnv
from robopolicy.envs.pusht.geometry import coverage, t_outline, t_polygon, transform_points
from robopolicy.envs.pusht.model import PUSHER_RADIUS
from robopolicy.envs.pusht.travel import TravelPlanner, resample

MAX_STEP = 0.025  # the most the pusher target moves in one control step (m)
TARGET_LIMIT = ACTION_LIMIT - 1e-4  # actions stay strictly inside the env's clip range
FINE_ERROR = 0.012  # vertex error (m) below which the expert switches to fine pushes
MAX_PUSH_STEPS = 4  # K: the longest push, in control steps
APPROACH = 0.012  # straight run-up (m) along the push direction before the staging point
STEP_COST = 0.04  # charge per control step, as a fraction of the current error
TIE_TOLERANCE = 0.1  # options scoring within this fraction of the current error of the best are equally good
REFINE_BEST = 3  # the best screened candidates are re-simulated exactly ...
REFINE_COUNT = 7  # ... and so is the best of each other outline edge, up to this many in all
SUCCESS_MARGIN = 0.001  # a simulated push must beat the success coverage by this much to count as reaching it
REPLAN_TOLERANCE = 1e-4  # block deviation from the predicted pose (m, rad) that triggers a re-plan
_DENSE_SPACING = 0.002  # spacing of the tabulated contact points along the outline
_WATCH_SUBSTEPS = 5  # contact checks during a control step happen every this many physics steps
_ANGLES = np.array([-0.4, -0.3, -0.2, 0.0, 0.2, 0.3, 0.4])  # push directions, relative to the inward normal


@dataclass(frozen=True)
class _Mode:
    """How the candidate pushes look at a given error."""

    step: float  # push distance per control step
    gap: float  # staging distance of the pusher's edge from the contact point, along the push
    spacing: float  # distance between candidate contact points along the outline
    angles: tuple[float, ...]  # push directions relative to the inward normal


def _mode(error: float) -> _Mode:
    step = float(np.clip(0.6 * error, 0.002, MAX_STEP))
    gap = float(np.clip(step, 0.003, 0.01))
    if error >= FINE_ERROR:
        return _Mode(step, gap, 0.0125, (-0.3, 0.0, 0.3))
    return _Mode(step, gap, 0.008, (-0.4, -0.2, 0.0, 0.2, 0.4))


class _ContactTable:
    """Contact points densely along the T outline (block frame) and which push angles can reach them."""

    def __init__(self) -> None:
        outline = t_outline()
        body = t_polygon(np.zeros(3))
        centers, normals, arclen, edges = [], [], [], []
        offset = 0.0
        for edge_id, (a, b) in enumerate(zip(outline, np.roll(outline, -1, axis=0))):
            edge = b - a
            length = float(np.linalg.norm(edge))
            normal = np.array([edge[1], -edge[0]]) / length  # outward for a counter-clockwise outline
            for t in np.arange(_DENSE_SPACING / 2, length, _DENSE_SPACING):
                centers.append(a + edge * t / length + normal * PUSHER_RADIUS)
                normals.append(normal)
                arclen.append(offset + t)
                edges.append(edge_id)
            offset += length
        self.centers = np.array(centers)
        self.normals = np.array(normals)
        self.arclen = np.array(arclen)
        self.edges = np.array(edges)
        self.perimeter = offset
        # valid[i, j]: the pusher can run along angle j into contact i without touching the T elsewhere.
        directions = self._directions(self.normals, _ANGLES)  # (N, A, 2)
        far = self.centers[:, None] - directions * (MAX_STEP + APPROACH)
        near = self.centers[:, None] - directions * 0.0005
        paths = shapely.linestrings(np.stack([far, near], axis=2).reshape(-1, 2, 2))
        clear = shapely.distance(paths, body) >= PUSHER_RADIUS - 1e-6
        self.valid = clear.reshape(len(self.centers), len(_ANGLES))

    @staticmethod
    def _directions(normals: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """Unit push directions (N, A, 2): the inward normal turned by each angle."""
        inward = -normals[:, None, :]
        c, s = np.cos(angles)[None, :], np.sin(angles)[None, :]
        return np.stack([c * inward[..., 0] - s * inward[..., 1], s * inward[..., 0] + c * inward[..., 1]], axis=-1)

    def sample(
        self, spacing: float, angles: tuple[float, ...], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Contacts every ``spacing`` along the outline from a random phase.

        Returns pusher centres at contact (M, 2), push directions (M, 2) and outline edge indices (M,).
        """
        targets = rng.uniform(0.0, spacing) + np.arange(0.0, self.perimeter, spacing)
        idx = np.unique(np.clip(np.searchsorted(self.arclen, targets), 0, len(self.arclen) - 1))
        cols = np.flatnonzero(np.isin(_ANGLES, angles))
        ii, jj = np.nonzero(self.valid[np.ix_(idx, cols)])
        dirs = self._directions(self.normals[idx], _ANGLES[cols])[ii, jj]
        return self.centers[idx[ii]], dirs, self.edges[idx[ii]]


@dataclass
class _Push:
    """A candidate push in the world frame: pusher centre at contact, direction, staging point."""

    contact: np.ndarray
    direction: np.ndarray
    staging: np.ndarray
    edge: int
    screen_score: float = np.inf


@dataclass
class _Plan:
    """Actions to execute and the block pose the simulation predicts after each of them."""

    actions: list[np.ndarray]
    poses: list[np.ndarray]
    score: float
    travel: int  # how many of the actions are travel (before the push)


class PushTExpert:
    """Greedy push planner for :class:`PushTEnv` that reads the simulator state (see the module docstring)."""

    def __init__(self, env: PushTEnv, rng: np.random.Generator) -> None:
        self.env = env
        self.rng = rng
        self.model = env.model
        self.sim = mujoco.MjData(env.model)
        self.substeps = env.substeps
        self.goal_vertices = transform_points(t_outline(), env.goal_pose)
        self.contacts = _ContactTable()
        self.planner = TravelPlanner(TARGET_LIMIT)
        joint = {n: env.model.joint(n) for n in ("block_x", "block_y", "block_theta", "pusher_x", "pusher_y")}
        self.block_q = np.array([joint[n].qposadr[0] for n in ("block_x", "block_y", "block_theta")])
        self.block_v = np.array([joint[n].dofadr[0] for n in ("block_x", "block_y", "block_theta")])
        self.pusher_q = np.array([joint[n].qposadr[0] for n in ("pusher_x", "pusher_y")])
        self.pusher_v = np.array([joint[n].dofadr[0] for n in ("pusher_x", "pusher_y")])
        self.coast_time = self._coast_time()
        self.pusher_geom = env.model.geom("pusher").id
        self.block_geoms = np.array([env.model.geom(n).id for n in ("block_bar", "block_stem")])
        self._plan: _Plan | None = None
        self._expected = np.zeros(3)
        self._last_action: np.ndarray | None = None

    def _coast_time(self) -> np.ndarray:
        """Time constants (3,) of the block's free coasting: inertia / damping of x, y and theta."""
        return self.model.dof_M0[self.block_v] / self.model.dof_damping[self.block_v]

    def reset(self) -> None:
        """Forget the previous episode (call after ``env.reset``)."""
        self._plan = None
        self._last_action = None

    # ------------------------------------------------------------------------------------------ acting
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The pusher target (2,) for the next control step."""
        if self._last_action is None:
            self._last_action = np.clip(self.env.pusher_pos, -TARGET_LIMIT, TARGET_LIMIT)
        if self._plan is None or not self._plan.actions or not self._on_track():
            self._plan = self._make_plan()
        action = self._plan.actions.pop(0)
        self._expected = self._plan.poses.pop(0)
        self._last_action = action
        return action.copy()

    def _on_track(self) -> bool:
        """Whether the block is where the simulation predicted it would be after the previous action."""
        actual = self.env.data.qpos[self.block_q]
        return bool(np.all(np.abs(actual - self._expected) <= REPLAN_TOLERANCE))

    def _error(self, poses: np.ndarray) -> np.ndarray:
        """Mean distance between corresponding outline vertices of block poses (N, 3) and the goal: (N,)."""
        poses = np.atleast_2d(poses)
        c, s = np.cos(poses[:, 2]), np.sin(poses[:, 2])
        outline = t_outline()
        x = outline[:, 0] * c[:, None] - outline[:, 1] * s[:, None] + poses[:, :1]
        y = outline[:, 0] * s[:, None] + outline[:, 1] * c[:, None] + poses[:, 1:2]
        return np.hypot(x - self.goal_vertices[:, 0], y - self.goal_vertices[:, 1]).mean(axis=1)

    # ---------------------------------------------------------------------------------------- planning
    def _make_plan(self) -> _Plan:
        data = self.env.data
        pose = data.qpos[self.block_q].copy()
        error = float(self._error(pose)[0])
        mode = _mode(error)
        pushes = self._candidates(pose, mode)
        self._screen(pushes, pose, data.qvel[self.block_v].copy(), error, mode)
        options: list[_Plan] = []
        for push in self._shortlist(pushes):
            options.extend(self._refine(push, pose, error, mode))
        if not options:  # nothing reachable: back away from the block towards the table centre
            target = self._last_action + np.clip(-self._last_action, -MAX_STEP, MAX_STEP) * 0.5
            return _Plan([np.clip(target, -TARGET_LIMIT, TARGET_LIMIT)], [pose], error, 1)
        scores = np.array([o.score for o in options])
        tolerance = 1e-9 if scores.min() < 0.0 else TIE_TOLERANCE * error
        near = np.flatnonzero(scores <= scores.min() + tolerance)
        return options[int(self.rng.choice(near))]

    @staticmethod
    def _shortlist(pushes: list[_Push]) -> list[_Push]:
        """The pushes worth simulating exactly: the best few overall, then the best one of each other edge."""
        ranked = sorted(pushes, key=lambda p: p.screen_score)
        chosen = ranked[:REFINE_BEST]
        edges = {p.edge for p in chosen}
        for push in ranked[REFINE_BEST:]:
            if len(chosen) >= REFINE_COUNT:
                break
            if push.edge not in edges:
                chosen.append(push)
                edges.add(push.edge)
        return chosen

    def _candidates(self, pose: np.ndarray, mode: _Mode) -> list[_Push]:
        """Reachable candidate pushes in the world frame for the block at ``pose``."""
        centers, dirs, edges = self.contacts.sample(mode.spacing, mode.angles, self.rng)
        contact = transform_points(centers, pose)
        c, s = np.cos(pose[2]), np.sin(pose[2])
        direction = dirs @ np.array([[c, s], [-s, c]])
        staging = contact - direction * mode.gap
        run_up = staging - direction * APPROACH
        inside = np.all(np.abs(np.concatenate([staging, run_up], axis=1)) <= TARGET_LIMIT, axis=1)
        return [_Push(contact[i], direction[i], staging[i], int(edges[i])) for i in np.flatnonzero(inside)]

    def _load(self, qpos: np.ndarray, qvel: np.ndarray, ctrl: np.ndarray, warmstart: np.ndarray) -> None:
        sim = self.sim
        sim.qpos[:], sim.qvel[:], sim.ctrl[:], sim.qacc_warmstart[:] = qpos, qvel, ctrl, warmstart

    def _step(self, target: np.ndarray) -> None:
        """One control step of the simulation towards ``target``."""
        self.sim.ctrl[:] = np.clip(target, -ACTION_LIMIT, ACTION_LIMIT)
        mujoco.mj_step(self.model, self.sim, nstep=self.substeps)

    def _step_watching(self, target: np.ndarray) -> bool:
        """One control step towards ``target``; whether the pusher touched the block during it."""
        self.sim.ctrl[:] = np.clip(target, -ACTION_LIMIT, ACTION_LIMIT)
        touched = False
        for _ in range(self.substeps // _WATCH_SUBSTEPS):
            mujoco.mj_step(self.model, self.sim, nstep=_WATCH_SUBSTEPS)
            geoms = self.sim.contact.geom[: self.sim.ncon]
            touched |= bool(np.any((geoms == self.pusher_geom).any(axis=1) & np.isin(geoms, self.block_geoms).any(axis=1)))
        return touched

    def _away(self) -> np.ndarray:
        """Unit vector from the simulated block's nearest outline point to the simulated pusher."""
        pusher = self.sim.qpos[self.pusher_q]
        block = t_polygon(self.sim.qpos[self.block_q])
        nearest = np.asarray(block.exterior.interpolate(block.exterior.project(Point(pusher))).coords[0])
        away = pusher - nearest
        return away / max(float(np.linalg.norm(away)), 1e-9)

    def _rest_pose(self) -> np.ndarray:
        """Where the simulated block will coast to: its pose plus velocity times the damping time constants."""
        return self.sim.qpos[self.block_q] + self.sim.qvel[self.block_v] * self.coast_time

    def _travel_steps(self, start: np.ndarray, goal: np.ndarray, pose: np.ndarray) -> float:
        """Rough number of travel steps from ``start`` to ``goal`` going round the block centred at ``pose``."""
        a, b = start - pose[:2], goal - pose[:2]
        turn = abs(np.arctan2(a[0] * b[1] - a[1] * b[0], a @ b))
        around = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b)) * turn
        return max(float(np.linalg.norm(goal - start)), around) / MAX_STEP

    def _screen(self, pushes: list[_Push], pose: np.ndarray, block_vel: np.ndarray, error: float, mode: _Mode) -> None:
        """Score each push (best over its lengths) with the pusher placed at its staging point at rest."""
        qpos = np.zeros(self.model.nq)
        qvel = np.zeros(self.model.nv)
        qpos[self.block_q] = pose
        qvel[self.block_v] = block_vel
        zero = np.zeros(self.model.nv)
        charge = STEP_COST * error
        for push in pushes:
            qpos[self.pusher_q] = push.staging
            self._load(qpos, qvel, push.staging, zero)
            rest = np.empty((MAX_PUSH_STEPS, 3))
            for k in range(MAX_PUSH_STEPS):
                self._step(push.staging + push.direction * mode.step * (k + 1))
                rest[k] = self._rest_pose()
            steps = self._travel_steps(self._last_action, push.staging, pose) + np.arange(2, MAX_PUSH_STEPS + 2)
            push.screen_score = float(np.min(self._error(rest) + charge * steps))

    def _refine(self, push: _Push, pose: np.ndarray, error: float, mode: _Mode) -> list[_Plan]:
        """Exact plans (one per push length) for ``push``, simulated from the env's full current state."""
        start = self._last_action
        local = LineString([start, push.staging])
        if local.distance(t_polygon(pose)) >= PUSHER_RADIUS + 0.002:
            waypoints = np.array([start, push.staging])
        else:
            run_up = push.staging - push.direction * APPROACH
            waypoints = np.concatenate([self.planner.path(start, run_up, pose), push.staging[None]])
        travel = [np.clip(p, -TARGET_LIMIT, TARGET_LIMIT) for p in resample(waypoints, MAX_STEP)]
        data = self.env.data
        self._load(data.qpos, data.qvel, data.ctrl, data.qacc_warmstart)
        poses = []
        touched = False
        for target in travel:
            touched |= self._step_watching(target)
            poses.append(self.sim.qpos[self.block_q].copy())
        charge = STEP_COST * error
        plans: list[_Plan] = []
        actions = list(travel)
        for k in range(MAX_PUSH_STEPS):
            target = np.clip(push.staging + push.direction * mode.step * (k + 1), -TARGET_LIMIT, TARGET_LIMIT)
            self._step(target)
            actions.append(target)
            poses.append(self.sim.qpos[self.block_q].copy())
            if coverage(poses[-1], self.env.goal_pose) >= SUCCESS_COVERAGE + SUCCESS_MARGIN:
                score = -2.0 + 1e-3 * len(actions) + (1.0 if touched else 0.0)
                plans.append(_Plan(list(actions), list(poses), score, len(travel)))
                break
            saved = (self.sim.qpos.copy(), self.sim.qvel.copy(), self.sim.ctrl.copy(), self.sim.qacc_warmstart.copy())
            back = np.clip(target + self._away() * min(MAX_STEP, mode.gap + mode.step), -TARGET_LIMIT, TARGET_LIMIT)
            bumped = self._step_watching(back) or touched
            rest = self._rest_pose()
            score = float(self._error(rest)[0]) + charge * (len(actions) + 1) + (error if bumped else 0.0)
            if coverage(self.sim.qpos[self.block_q], self.env.goal_pose) >= SUCCESS_COVERAGE + SUCCESS_MARGIN:
                score = -2.0 + 1e-3 * (len(actions) + 1)
            plans.append(_Plan([*actions, back], [*poses, self.sim.qpos[self.block_q].copy()], score, len(travel)))
            self._load(*saved)
        return plans
