"""Scripted pick-and-place experts for robosuite's Lift, PickPlaceCan and NutAssemblySquare (7-D OSC_POSE deltas).

Each expert is a short sequence of phases (move above the object, descend, close, lift, carry, release), each a
proportional move of the end effector towards a target read from the privileged simulator state. For Lift and
Can the gripper keeps its initial orientation: the Panda's 8 cm opening takes the 4 cm cube and the 6.6 cm can
in any yaw. For Square it also turns about the vertical, to grip the nut's handle across and to square the nut
with the peg, and levels the hand while grasping. The experts are deterministic: they keep the rng they are given
(the registry's protocol) but draw nothing from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

OPEN, CLOSED = -1.0, 1.0
MAX_DELTA = 0.05  # metres per control step that an action of 1 asks for (the OSC_POSE output_max)
MAX_ROTATION = 0.5  # radians per control step that a rotation action of 1 asks for


@dataclass
class Phase:
    """Go to ``target`` (3,) with the gripper at ``grip``; done within ``tol`` metres or after ``max_steps``."""

    target: np.ndarray
    grip: float
    tol: float = 0.01
    max_steps: int = 60
    min_steps: int = 0
    yaw_error: float = 0.0  # radians to turn about the vertical; the phase is not done while it exceeds yaw_tol
    yaw_tol: float = np.inf


def move_action(eef_pos: np.ndarray, target: np.ndarray, grip: float, rotation: np.ndarray | None = None) -> np.ndarray:
    """(7,) action that asks the OSC controller to move the end effector from ``eef_pos`` to ``target`` (3,) and
    to turn it by the axis-angle ``rotation`` (3,) in the world frame."""
    action = np.zeros(7)
    action[:3] = np.clip((target - eef_pos) / MAX_DELTA, -1.0, 1.0)
    if rotation is not None:
        action[3:6] = np.clip(rotation / MAX_ROTATION, -1.0, 1.0)
    action[6] = grip
    return action


def wrap(angle: float, period: float) -> float:
    """``angle`` mapped into [-period/2, period/2)."""
    return float((angle + period / 2) % period - period / 2)


class PhasedExpert(ABC):
    """Runs the phases that ``plan`` returns, re-planning each step so that targets follow the moving object."""

    def __init__(self, env: Any, rng: np.random.Generator) -> None:
        """``env``: the unwrapped RobosuiteEnv (its ``env`` attribute is robosuite's, read for privileged state)."""
        self.env = env
        self.rng = rng
        self.reset()

    def reset(self) -> None:
        self.phase = 0
        self.steps_in_phase = 0

    @abstractmethod
    def plan(self) -> list[Phase]:
        """This task's phases, from the current privileged state."""

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """(7,) OSC_POSE delta action for the current observation; advances to the next phase when this one is done."""
        eef = self.eef = np.asarray(obs["robot0_eef_pos"], dtype=np.float64)
        phases = self.plan()
        phase = phases[min(self.phase, len(phases) - 1)]
        reached = (np.linalg.norm(phase.target - eef) < phase.tol and abs(phase.yaw_error) <= phase.yaw_tol
                   and self.steps_in_phase >= phase.min_steps)
        if (reached or self.steps_in_phase >= phase.max_steps) and self.phase < len(phases) - 1:
            self.phase += 1
            self.steps_in_phase = 0
            phase = self.plan()[self.phase]
        self.steps_in_phase += 1
        return move_action(eef, phase.target, phase.grip, self.rotation(phase.yaw_error))

    def rotation(self, yaw_error: float) -> np.ndarray | None:
        """The axis-angle turn (3,) to ask for this step; None keeps the hand's orientation."""
        return None


class LiftExpert(PhasedExpert):
    """Lift: above the cube, down to it, close, lift 20 cm (the task succeeds 4 cm above the table)."""

    def plan(self) -> list[Phase]:
        cube = np.array(self.env.sim.data.body_xpos[self.env.env.cube_body_id])
        return [
            Phase(cube + [0, 0, 0.08], OPEN, tol=0.015),
            Phase(cube + [0, 0, -0.005], OPEN, tol=0.008, max_steps=40),
            Phase(cube + [0, 0, -0.005], CLOSED, max_steps=8, tol=0.0, min_steps=8),
            Phase(cube + [0, 0, 0.2], CLOSED, max_steps=200),
        ]


class PickPlaceCanExpert(PhasedExpert):
    """PickPlaceCan: grasp the can from above, carry it high over its compartment of the right bin, release, back off."""

    CARRY_HEIGHT = 0.25  # above the bin's floor: clears the bins' walls with the can hanging below the fingers

    def reset(self) -> None:
        super().reset()
        self._grasp: np.ndarray | None = None

    def plan(self) -> list[Phase]:
        env = self.env.env
        can = np.array(env.sim.data.body_xpos[env.obj_body_id[env.obj_to_use]])
        goal = np.array(env.target_bin_placements[env.object_id])
        if self.phase <= 2:
            self._grasp = can.copy()  # where the can was when the fingers closed: the carry phases start there
        start = self._grasp
        high = env.bin2_pos[2] + self.CARRY_HEIGHT
        return [
            Phase(can + [0, 0, 0.08], OPEN, tol=0.015),
            Phase(can + [0, 0, 0.0], OPEN, tol=0.008, max_steps=40),
            Phase(can + [0, 0, 0.0], CLOSED, max_steps=8, tol=0.0, min_steps=8),
            Phase(np.array([start[0], start[1], high]), CLOSED, tol=0.02, max_steps=80),
            Phase(np.array([goal[0], goal[1], high]), CLOSED, tol=0.02, max_steps=100),
            Phase(np.array([goal[0], goal[1], env.bin2_pos[2] + 0.15]), CLOSED, tol=0.015, max_steps=40),
            Phase(np.array([goal[0], goal[1], env.bin2_pos[2] + 0.15]), OPEN, max_steps=6, tol=0.0, min_steps=6),
            Phase(np.array([goal[0], goal[1], high]), OPEN, max_steps=200),
        ]


class NutAssemblySquareExpert(PhasedExpert):
    """Square: grip the nut's handle across, lift it over the peg, turn it square with the peg, lower it onto the
    peg's top and let it drop down the peg (a gripped nut tilts and jams; a free one slides).

    Once the nut hangs from the fingers, targets are set for the nut rather than the hand: the hand is moved by
    the nut's offset from where it should be (peg axis, then resting height), which absorbs where exactly in the
    handle the fingers closed.
    """

    CARRY_Z = 1.03  # hand height while carrying: the nut's bottom clears the peg's top (0.95 m)
    GRIP_RADIUS = 0.065  # distance from the nut's centre, along the handle, where the fingers close
    ABOVE_PEG_Z = 0.975  # nut centre just above the peg's top, where it is squared and centred
    ENGAGED_Z = 0.925  # nut centre once the peg is inside it: released here, it slides down the peg by itself

    def reset(self) -> None:
        super().reset()
        self.eef = np.zeros(3)

    def rotation(self, yaw_error: float) -> np.ndarray:
        """Turn by ``yaw_error`` about the vertical and level the hand (its approach axis straight down): a tilted
        hand pinches the low handle between slanted pads, which squeeze it out."""
        sim = self.env.sim
        site = self.env.env.robots[0].eef_site_id["right"]
        approach = np.array(sim.data.site_xmat[site]).reshape(3, 3)[:, 2]
        down = np.array([0.0, 0.0, -1.0])
        axis = np.cross(approach, down)
        angle = np.arctan2(np.linalg.norm(axis), approach @ down)
        level = axis / max(np.linalg.norm(axis), 1e-9) * angle
        if self.phase > 2:  # once holding the nut, leave the tilt alone: far from the base, the arm cannot level it
            level[:2] = 0.0
        return level + np.array([0.0, 0.0, yaw_error])

    def _finger_yaw(self) -> float:
        """World yaw of the line between the fingers (the direction they close along), modulo pi."""
        sim = self.env.sim
        left = np.array(sim.data.body_xpos[sim.model.body_name2id("gripper0_right_leftfinger")])
        right = np.array(sim.data.body_xpos[sim.model.body_name2id("gripper0_right_rightfinger")])
        return float(np.arctan2(*(left - right)[1::-1]))

    def plan(self) -> list[Phase]:
        env = self.env.env
        sim = env.sim
        nut = env.nuts[env.nut_id]
        nut_pos = np.array(sim.data.body_xpos[env.obj_body_id[nut.name]])
        nut_mat = np.array(sim.data.body_xmat[env.obj_body_id[nut.name]]).reshape(3, 3)
        nut_yaw = float(np.arctan2(nut_mat[1, 0], nut_mat[0, 0]))
        handle = np.array(sim.data.site_xpos[sim.model.site_name2id(nut.important_sites["handle"])])
        # Grip the handle's outer part: at its site (5.4 cm out) the fingers would brush the nut's wall (4.4 cm).
        handle[:2] = nut_pos[:2] + self.GRIP_RADIUS * np.array([np.cos(nut_yaw), np.sin(nut_yaw)])
        peg = np.array(sim.data.body_xpos[env.peg1_body_id])
        # Fingers close across the handle, i.e. along the nut's local y axis; the square is symmetric under pi/2.
        grip_yaw = wrap(nut_yaw + np.pi / 2 - self._finger_yaw(), np.pi)
        square_yaw = wrap(-nut_yaw, np.pi / 2)
        over_peg = self.eef + np.array([*(peg[:2] - nut_pos[:2]), 0.0])
        return [
            Phase(handle + [0, 0, 0.08], OPEN, tol=0.006, yaw_error=grip_yaw, yaw_tol=0.03, max_steps=80),
            Phase(handle + [0, 0, -0.005], OPEN, tol=0.008, yaw_error=grip_yaw, max_steps=40),
            Phase(handle + [0, 0, -0.005], CLOSED, max_steps=8, tol=0.0, min_steps=8),
            Phase(np.array([*self.eef[:2], self.CARRY_Z]), CLOSED, tol=0.02, max_steps=60),
            Phase(np.array([*over_peg[:2], self.CARRY_Z]), CLOSED, tol=0.004, yaw_error=square_yaw, yaw_tol=0.03,
                  max_steps=120),
            Phase(np.array([*over_peg[:2], self.eef[2] + self.ABOVE_PEG_Z - nut_pos[2]]), CLOSED, tol=0.003,
                  yaw_error=square_yaw, yaw_tol=0.03, max_steps=60),
            Phase(np.array([*over_peg[:2], self.eef[2] + self.ENGAGED_Z - nut_pos[2]]), CLOSED, tol=0.005,
                  yaw_error=square_yaw, max_steps=40),
            Phase(self.eef.copy(), OPEN, max_steps=6, tol=0.0, min_steps=6),
            Phase(np.array([*self.eef[:2], self.CARRY_Z + 0.05]), OPEN, max_steps=200),
        ]
