"""The ArmDriver interface every backend implements, the state it reports, and how a chunk is timed for sending.

Shapes: J joints (the robot config's order), T points of a chunk.

Timing of a chunk. The policy's executed actions start at the tick of the observation they were computed from (the
PolicyRunner's slice [To-1, To-1+Ta)). Action i is the position target for tick i after that observation, which a
position-controlled arm reaches at the end of the tick: the time ``obs_stamp + (i + 1) * dt``. By the time the
command reaches the controller, ``latency`` seconds after the observation (inference plus transport, measured),
the points at or before ``obs_stamp + latency`` are already in the past, and a point less than half a tick after
it could only be reached by a jump: both are dropped, and the trajectory's stamp is the time of the first point kept
(so the arm always has at least dt / 2 to reach it, and the safety checks judge that move over that time). The points keep the times the policy meant, so each kept point sits at
time_from_start = k * dt after the stamp, and the controller moves from wherever the arm is to the first point.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from hardware.robot import RobotConfig


@dataclass
class ArmState:
    """The newest state of the arm.

    stamp: when the joint positions were measured (seconds, the loop's clock).
    positions: (J,) joint positions in the robot config's joint order.
    velocities: (J,) joint velocities, or None where the arm's driver publishes none.
    extras: named non-joint sources the driver provides, e.g. {"object_pose": (4,)} from a simulator.
    images: {policy obs key: (H, W, 3) uint8 RGB} newest camera frames.
    image_stamps: {policy obs key: seconds} when each of those frames was captured (its header stamp, the loop's
    clock), where the driver knows it.
    """

    stamp: float
    positions: np.ndarray
    velocities: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    image_stamps: dict[str, float] = field(default_factory=dict)


class ArmDriver(ABC):
    """One arm behind one transport (in-process simulation, ROS 2, ROS 1, ...).

    Commands are positions in the robot config's joint order. Safety is not the driver's job: the control loop
    checks every chunk before it reaches ``send_trajectory`` / ``send_setpoint``. Use it as a context manager:
    ``with driver:`` connects, and on exit (normal or not) tells the arm to hold, then closes.
    """

    def __init__(self, robot: RobotConfig) -> None:
        self.robot = robot

    @abstractmethod
    def connect(self) -> None:
        """Open the transport and wait until a first joint state has arrived."""

    @abstractmethod
    def read_state(self) -> ArmState:
        """The newest state received (it does not wait for a new one; its stamp tells how old it is)."""

    @abstractmethod
    def send_trajectory(self, positions: np.ndarray, dt: float, start_stamp: float) -> None:
        """Send positions (T, J) as one JointTrajectory: point k reached at start_stamp + k * dt.

        A newer trajectory replaces whatever is left of the previous one.
        """

    @abstractmethod
    def send_setpoint(self, positions: np.ndarray) -> None:
        """Send one position setpoint (J,) to a streaming (forward position) controller."""

    @abstractmethod
    def hold(self) -> None:
        """Stop following commands and keep the arm where it is now."""

    @abstractmethod
    def estop(self) -> None:
        """Emergency stop. Latches: the arm ignores every later command until it is reset by hand."""

    @abstractmethod
    def close(self) -> None:
        """Release the transport. The driver cannot be used afterwards."""

    def task_success(self) -> bool:
        """Whether the task is done, where the backend can tell (a simulator can; a real arm cannot: False)."""
        return False

    def estop_requested(self) -> str | None:
        """Why an e-stop input that this backend watches asks the run to stop (the robot config's ``estop_topic`` on
        the topic backends), or None. Latched: once it gives a reason it keeps giving it. The control loop polls it
        with its e-stop button (each tick and right before each send) and presses the button with this reason.
        Default: the backend watches no such input."""
        return None

    def __enter__(self) -> ArmDriver:
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.hold()
        finally:
            self.close()


@dataclass(frozen=True)
class TimedChunk:
    """A chunk ready to send: positions (T', J), point k reached at ``start_stamp + k * dt``; ``dropped`` leading
    rows of the original chunk were already in the past. T' = 0 when every row was."""

    positions: np.ndarray
    start_stamp: float
    dropped: int


def schedule_chunk(positions: np.ndarray, dt: float, obs_stamp: float, latency: float) -> TimedChunk:
    """Time a chunk computed from the observation stamped ``obs_stamp`` that reaches the controller ``latency``
    seconds after it: row i belongs at obs_stamp + (i + 1) * dt; rows due less than dt / 2 after obs_stamp + latency
    are dropped (already past, or too close to reach without a jump).

    positions: (T, J). Returns the kept rows and the stamp of the first one (see the module docstring).
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2:
        raise ValueError(f"positions must be a (T, J) chunk, got shape {positions.shape}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    if not (math.isfinite(latency) and latency >= 0):
        raise ValueError(f"latency must be a non-negative number of seconds, got {latency}")
    # Row i is kept when (i + 1) * dt - latency >= dt / 2 (the tolerance keeps exactly half a tick of lead).
    dropped = min(len(positions), max(0, math.ceil(latency / dt + 0.5 - 1e-9) - 1))
    return TimedChunk(positions=positions[dropped:].copy(), start_stamp=obs_stamp + (dropped + 1) * dt, dropped=dropped)
