"""What a ros2_control position controller does with the commands it receives, as a pure function of time.

The simulated arm drives its position actuators with ``TrajectoryFollower.target(now, measured)`` every physics
step, so it follows commands the way the real controllers would:

- JointTrajectory (joint_trajectory_controller, positions only): the points are reached at stamp + time_from_start
  (a zero stamp means "on receipt"); the desired position moves linearly from the state at receipt to the first
  point, then linearly between points, and stays on the last one. Joint names may come in any order; a message
  missing a joint, with times that do not increase, or that ends before it arrived is rejected (ValueError).
  A newer trajectory replaces whatever is left of the current one, starting again from the measured state.
- Setpoint (forward position controller): the desired position is the setpoint until the next one.
- Command timeout (the controller's ``cmd_timeout``): with no command for ``command_timeout_s`` after a trajectory's
  last point or after a setpoint, the controller holds the position measured at that moment.
- hold(): the desired position becomes the measured position, until the next command.

Shapes: J joints, in the follower's ``joint_names`` order; K trajectory points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hardware.messages import JointTrajectory


class TrajectoryFollower:
    """The desired joint positions over time, given the commands received so far."""

    def __init__(self, joint_names: Sequence[str], initial_positions: np.ndarray, command_timeout_s: float) -> None:
        if command_timeout_s <= 0:
            raise ValueError(f"command_timeout_s must be positive, got {command_timeout_s}")
        self.joint_names = list(joint_names)
        self.command_timeout_s = float(command_timeout_s)
        self.mode = "hold"  # "hold" | "trajectory" | "setpoint"
        self.timeouts = 0  # how many times the command timeout made the controller hold
        self._hold = np.array(initial_positions, dtype=np.float64).reshape(len(self.joint_names))
        self._times = np.zeros(0)  # (K,) absolute times of the trajectory's points
        self._points = np.zeros((0, len(self.joint_names)))  # (K, J)
        self._anchor_time = 0.0  # when the trajectory was received
        self._anchor = self._hold.copy()  # (J,) measured position at receipt
        self._setpoint_time = 0.0

    def receive_trajectory(self, msg: JointTrajectory, now: float, measured: np.ndarray) -> None:
        """Start following ``msg`` (received at ``now`` with the arm at ``measured`` (J,)); raises ValueError if a
        joint_trajectory_controller would reject it."""
        order = self._column_order(msg.joint_names)
        if not msg.points:
            raise ValueError("JointTrajectory has no points; the controller rejects an empty trajectory")
        points = np.zeros((len(msg.points), len(self.joint_names)))
        offsets = np.zeros(len(msg.points))
        for k, point in enumerate(msg.points):
            if len(point.positions) != len(msg.joint_names):
                raise ValueError(f"point {k} has {len(point.positions)} positions for {len(msg.joint_names)} joints")
            points[k] = point.positions[order]
            offsets[k] = point.time_from_start.to_seconds()
        if not np.all(np.isfinite(points)):
            raise ValueError("JointTrajectory holds non-finite positions; the controller rejects it")
        if np.any(np.diff(offsets) <= 0):
            raise ValueError(f"time_from_start must increase from point to point, got {offsets.tolist()}")
        stamp = msg.header.stamp.to_seconds()
        start = now if stamp == 0 else stamp
        times = start + offsets
        if times[-1] < now:
            raise ValueError(f"JointTrajectory ends at t={times[-1]:.4f} s, before it was received at t={now:.4f} s; "
                             "the controller rejects a trajectory that is entirely in the past")
        self._times, self._points = times, points
        self._anchor_time, self._anchor = now, np.array(measured, dtype=np.float64)
        self.mode = "trajectory"

    def receive_setpoint(self, positions: np.ndarray, now: float) -> None:
        """Go to ``positions`` (J,), in the follower's joint order, from ``now`` on."""
        positions = np.array(positions, dtype=np.float64).reshape(len(self.joint_names))
        if not np.all(np.isfinite(positions)):
            raise ValueError(f"setpoint {positions.tolist()} is not finite; the controller rejects it")
        self._hold, self._setpoint_time = positions, now
        self.mode = "setpoint"

    def hold(self, measured: np.ndarray) -> None:
        """Drop the current command and keep the arm at ``measured`` (J,)."""
        self._hold = np.array(measured, dtype=np.float64).reshape(len(self.joint_names))
        self.mode = "hold"

    def target(self, now: float, measured: np.ndarray) -> np.ndarray:
        """The desired positions (J,) at time ``now``; ``measured`` (J,) is where the arm is (used on timeout)."""
        if self.mode == "trajectory":
            if now > self._times[-1] + self.command_timeout_s:
                self._time_out(measured)
            else:
                return self._sample(now)
        elif self.mode == "setpoint" and now > self._setpoint_time + self.command_timeout_s:
            self._time_out(measured)
        return self._hold.copy()

    def _sample(self, now: float) -> np.ndarray:
        times, points = self._times, self._points
        if now <= times[0]:
            span = times[0] - self._anchor_time
            alpha = 1.0 if span <= 0 else min(max((now - self._anchor_time) / span, 0.0), 1.0)
            return self._anchor + alpha * (points[0] - self._anchor)
        if now >= times[-1]:
            return points[-1].copy()
        k = int(np.searchsorted(times, now, side="right")) - 1  # times[k] < now <= times[k + 1]
        alpha = (now - times[k]) / (times[k + 1] - times[k])
        return points[k] + alpha * (points[k + 1] - points[k])

    def _time_out(self, measured: np.ndarray) -> None:
        self.hold(measured)
        self.timeouts += 1

    def _column_order(self, names: Sequence[str]) -> np.ndarray:
        """Index array taking a message's columns into the follower's joint order."""
        missing = [n for n in self.joint_names if n not in names]
        unknown = [n for n in names if n not in self.joint_names]
        if missing or unknown or len(set(names)) != len(names):
            raise ValueError(f"JointTrajectory joints {list(names)} do not match the controller's {self.joint_names} "
                             f"(missing {missing}, unknown {unknown}); the controller rejects it")
        return np.array([list(names).index(n) for n in self.joint_names], dtype=np.intp)
