"""Safety between the policy and every backend: whole-chunk checks, a watchdog, and an e-stop button.

Nothing here corrects a command, with one opt-in exception. A chunk that breaks a limit is a fault (SafetyFault),
and the control loop answers every fault the same way: the arm is told to hold and nothing more is sent. Clamping a
bad chunk into range would execute a motion the policy never proposed, so it is not the default; a robot config may
ask for ``position_limits: clamp``, and then only targets outside the joint position limits are moved onto them
(counted in ``ChunkSafety.last_clamped``); every other rule still faults, checked on the clamped chunk.

Shapes: T points of a chunk, J joints (the robot config's order). Step i of a chunk is the move that ends at point i,
from the point before it, or from the current state for the first point sent; it takes one tick of dt seconds (the
first one sent may get less, when latency has used part of its tick).
"""

from __future__ import annotations

import math

import numpy as np

from hardware.kinematics import SerialChain
from hardware.robot import CARTESIAN_AXES, RobotConfig

# The Cartesian check also looks between chunk points: the arm moves in a straight line in joint space, which is not
# one in Cartesian space, so each step is sampled at k / CARTESIAN_PATH_SAMPLES, k = 1 .. CARTESIAN_PATH_SAMPLES - 1.
CARTESIAN_PATH_SAMPLES = 4


class SafetyFault(Exception):
    """A command or a timing broke a safety rule.

    check: which rule ("shape", "non_finite", "position", "workspace", "cartesian_workspace", "max_step", "velocity",
    "acceleration", "stale_state", "clock", "slow_inference", or the control loop's "late": every point of a chunk
    already past);
    reason: the full explanation (also the exception's message);
    joint / step / value / limit where the rule is per joint and step; for "cartesian_workspace" axis ("x", "y",
    "z") / step / value / limit instead of joint (value: the tool point's coordinate, limit: the bound it crossed).
    """

    def __init__(self, check: str, reason: str, *, joint: str | None = None, step: int | None = None,
                 value: float | None = None, limit: float | None = None, axis: str | None = None) -> None:
        super().__init__(reason)
        self.check = check
        self.axis = axis
        self.reason = reason
        self.joint = joint
        self.step = step
        self.value = value
        self.limit = limit


class ChunkSafety:
    """Checks a whole chunk of joint-position targets against the robot config's limits before anything is sent."""

    def __init__(self, robot: RobotConfig) -> None:
        self.joint_names = robot.joint_names
        self.lower = robot.joint_array("lower")
        self.upper = robot.joint_array("upper")
        self.max_velocity = robot.joint_array("velocity")
        self.max_acceleration = robot.joint_array("acceleration")
        self.max_step = robot.max_step_array()
        self.workspace_lower, self.workspace_upper = robot.workspace_arrays()
        self.chain = SerialChain.from_config(robot.kinematics) if robot.cartesian_workspace else None
        self.cartesian_lower, self.cartesian_upper = robot.cartesian_workspace_arrays()
        self.clamp = robot.position_limits == "clamp"
        self.last_clamped = 0  # joint values the last check moved onto a position limit (clamp mode only)

    def check(self, chunk: np.ndarray, current_positions: np.ndarray, dt: float,
              current_velocities: np.ndarray | None = None, *, dropped: int = 0,
              first_step_s: float | None = None) -> np.ndarray:
        """Return the chunk (T, J) (as float64) if it is safe from the current state, else raise SafetyFault.

        With ``position_limits: clamp`` the returned chunk has its targets outside the joint position limits moved
        onto them (``last_clamped`` says how many values), and every later rule is checked on that clamped chunk;
        send the returned chunk, not the one passed in. Otherwise it is returned unchanged.

        current_positions: (J,) measured now. current_velocities: (J,) or None; when given, the acceleration from
        the arm's current velocity into the first step is checked too.
        dropped: leading rows that will not be sent (already in the past, see driver.schedule_chunk). Every row is
        checked for finite values, position limits and workspace bounds; motion is checked along the path the arm
        will take: from the current state to row ``dropped`` in ``first_step_s`` seconds (default dt), then row to
        row every dt. Steps are named by the chunk row they end at.
        With a ``cartesian_workspace``, the tool point (forward kinematics) must be inside its box at every row and
        at CARTESIAN_PATH_SAMPLES - 1 points inside every step of that path (the joint-space straight line); the
        first step's inside points only when the current tool point is itself inside the box, so an arm that has
        drifted just outside may be brought back in.
        In order: shape, finite values, position limits, workspace bounds, Cartesian workspace, max step per tick,
        velocity, acceleration.
        """
        first_step_s = dt if first_step_s is None else first_step_s
        for name, value in (("dt", dt), ("first_step_s", first_step_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")
        chunk = np.array(chunk, dtype=np.float64)
        num_joints = len(self.joint_names)
        if chunk.ndim != 2 or chunk.shape[0] == 0 or chunk.shape[1] != num_joints:
            raise SafetyFault("shape", f"a chunk must be (T >= 1, J = {num_joints}) joint positions for "
                              f"{self.joint_names}, got shape {chunk.shape}")
        if not 0 <= dropped < len(chunk):
            raise ValueError(f"dropped must leave at least one of the chunk's {len(chunk)} rows, got {dropped}")
        current = np.asarray(current_positions, dtype=np.float64).reshape(num_joints)
        if not np.all(np.isfinite(current)):
            raise SafetyFault("non_finite", f"the current joint positions are not finite: {current.tolist()}; "
                              "the joint state is broken, nothing can be checked against it")
        self._non_finite(chunk)
        self.last_clamped = 0
        if self.clamp:
            clamped = np.clip(chunk, self.lower, self.upper)
            self.last_clamped = int(np.count_nonzero(clamped != chunk))
            chunk = clamped
        else:
            self._outside(chunk, self.lower, self.upper, "position", "joint position limits")
        self._outside(chunk, self.workspace_lower, self.workspace_upper, "workspace", "workspace bounds")
        if self.chain is not None:
            self._cartesian(chunk, current, dropped)

        path = chunk[dropped:]
        steps = np.diff(np.vstack([current, path]), axis=0)  # (T', J), step r ends at chunk row dropped + r
        durations = np.full((len(path), 1), dt)
        durations[0] = first_step_s
        self._too_large(np.abs(steps), self.max_step, "max_step", "moves {value:.4g} in one tick",
                        "max_step {limit:.4g} per tick", dropped, dropped)
        velocities = steps / durations
        self._too_large(np.abs(velocities), self.max_velocity, "velocity", "needs a speed of {value:.4g}/s",
                        "velocity limit {limit:.4g}/s", dropped, dropped)
        if current_velocities is not None:
            start = np.asarray(current_velocities, dtype=np.float64).reshape(num_joints)
            if not np.all(np.isfinite(start)):
                raise SafetyFault("non_finite", f"the current joint velocities are not finite: {start.tolist()}; "
                                  "the joint state is broken")
            accelerations = np.diff(np.vstack([start, velocities]), axis=0) / durations
            first = dropped
        else:  # without a measured velocity the first step's acceleration is unknown; the later ones are checked
            accelerations = np.diff(velocities, axis=0) / durations[1:]
            first = dropped + 1
        self._too_large(np.abs(accelerations), self.max_acceleration, "acceleration",
                        "needs an acceleration of {value:.4g}/s^2", "acceleration limit {limit:.4g}/s^2", first, dropped)
        return chunk

    # --- one rule each -------------------------------------------------------------------------------------------
    def _non_finite(self, chunk: np.ndarray) -> None:
        bad = np.argwhere(~np.isfinite(chunk))
        if len(bad):
            i, j = (int(x) for x in bad[0])
            raise SafetyFault("non_finite", f"non-finite value: joint '{self.joint_names[j]}' at step {i} is "
                              f"{chunk[i, j]} ({len(bad)} non-finite values in the chunk)",
                              joint=self.joint_names[j], step=i, value=float(chunk[i, j]))

    def _outside(self, chunk: np.ndarray, lower: np.ndarray, upper: np.ndarray, check: str, what: str) -> None:
        bad = np.argwhere((chunk < lower) | (chunk > upper))
        if len(bad):
            i, j = (int(x) for x in bad[0])
            value = float(chunk[i, j])
            limit = float(lower[j] if value < lower[j] else upper[j])
            raise SafetyFault(check, f"{what}: joint '{self.joint_names[j]}' at step {i} is {value:.4g}, outside "
                              f"[{lower[j]:.4g}, {upper[j]:.4g}]", joint=self.joint_names[j], step=i, value=value,
                              limit=limit)

    def _cartesian(self, chunk: np.ndarray, current: np.ndarray, dropped: int) -> None:
        """Fault on the first step whose tool point leaves the Cartesian box: at a row, or inside a step of the path.

        One forward-kinematics call over the rows, the current state and the path's in-between samples."""
        samples = CARTESIAN_PATH_SAMPLES
        path = chunk[dropped:]
        starts = np.vstack([current, path[:-1]])  # (T', J): where each step of the path starts
        fractions = np.arange(1, samples)[:, None, None] / samples  # (S-1, 1, 1)
        between = starts + fractions * (path - starts)  # (S-1, T', J): sample k of step r
        points = self.chain.tool_points(np.vstack([chunk, current[None], between.reshape(-1, chunk.shape[1])]))
        num_rows = len(chunk)
        row_points, current_point = points[:num_rows], points[num_rows]
        between_points = points[num_rows + 1:].reshape(samples - 1, len(path), 3)
        lower, upper = self.cartesian_lower, self.cartesian_upper
        outside_row = np.any((row_points < lower) | (row_points > upper), axis=1)  # (T,)
        outside_between = np.any((between_points < lower) | (between_points > upper), axis=2)  # (S-1, T')
        if np.any((current_point < lower) | (current_point > upper)):
            outside_between[:, 0] = False  # already outside: the way back in is not checked between points
        # step i: row i, and for a path step the samples before it (the step ends at row i)
        bad = outside_row.copy()
        bad[dropped:] |= outside_between.any(axis=0)
        if not bad.any():
            return
        step = int(np.argmax(bad))
        if step >= dropped and np.any(outside_between[:, step - dropped]):  # the earliest point of that step
            k = int(np.argmax(outside_between[:, step - dropped]))
            point = between_points[k, step - dropped]
            origin = "the current state" if step == dropped else f"step {step - 1}"
            where = f"{k + 1}/{samples} of the way from {origin} to step {step}"
        else:
            point = row_points[step]
            where = f"step {step}"
        a = int(np.argmax((point < lower) | (point > upper)))
        value = float(point[a])
        limit = float(lower[a] if value < lower[a] else upper[a])
        axis = CARTESIAN_AXES[a]
        xyz = ", ".join(f"{v:.4g}" for v in point)
        raise SafetyFault("cartesian_workspace", f"cartesian workspace: the tool point at {where} is at ({xyz}) m, "
                          f"{axis} = {value:.4g} outside [{lower[a]:.4g}, {upper[a]:.4g}]", step=step, value=value,
                          limit=limit, axis=axis)

    def _too_large(self, magnitudes: np.ndarray, limit: np.ndarray, check: str, does: str, allowed: str,
                   first_step: int, path_start: int) -> None:
        """Fault on the first (step, joint) whose magnitude exceeds its joint's limit; row r is step first_step + r,
        and step path_start is the one that starts at the current state."""
        bad = np.argwhere(magnitudes > limit)
        if len(bad):
            r, j = (int(x) for x in bad[0])
            step = r + first_step
            value, lim = float(magnitudes[r, j]), float(limit[j])
            origin = " (from the current state)" if step == path_start else ""
            raise SafetyFault(check, f"{check.replace('_', ' ')}: joint '{self.joint_names[j]}' at step {step}{origin} "
                              f"{does.format(value=value)}, over the {allowed.format(limit=lim)}",
                              joint=self.joint_names[j], step=step, value=value, limit=lim)


class Watchdog:
    """Faults when the state the loop acts on is stale, or when the policy takes too long to answer."""

    def __init__(self, max_state_age_s: float, max_inference_s: float) -> None:
        if max_state_age_s <= 0 or max_inference_s <= 0:
            raise ValueError(f"watchdog timeouts must be positive, got {max_state_age_s}, {max_inference_s}")
        self.max_state_age_s = max_state_age_s
        self.max_inference_s = max_inference_s

    @classmethod
    def from_robot(cls, robot: RobotConfig) -> Watchdog:
        return cls(robot.watchdog.max_state_age_s, robot.watchdog.max_inference_s)

    def check_state(self, stamp: float, now: float) -> None:
        """Fault if the state stamped ``stamp`` is older than max_state_age_s at ``now`` (or as far in the future)."""
        age = now - stamp
        if age > self.max_state_age_s:
            raise SafetyFault("stale_state", f"stale state: the newest joint state is {age:.3f} s old (stamp "
                              f"{stamp:.3f}, now {now:.3f}), over the limit of {self.max_state_age_s} s; the state "
                              "stream stalled", value=age, limit=self.max_state_age_s)
        if -age > self.max_state_age_s:
            raise SafetyFault("clock", f"the joint state is stamped {-age:.3f} s in the future (stamp {stamp:.3f}, now "
                              f"{now:.3f}): the driver and the control loop use different clocks",
                              value=age, limit=self.max_state_age_s)

    def check_inference(self, seconds: float) -> None:
        """Fault if one policy call took longer than max_inference_s."""
        if seconds > self.max_inference_s:
            raise SafetyFault("slow_inference", f"slow inference: the policy took {seconds:.3f} s, over the budget of "
                              f"{self.max_inference_s} s", value=seconds, limit=self.max_inference_s)


class EStop:
    """An e-stop button the loop polls every tick; ``press`` may be called from any thread (a UI, a signal handler).

    Once pressed it stays pressed: the loop sends the arm's e-stop and ends the run. hardware/estop_triggers.py wires
    it to signals and the keyboard; the topic backends' estop_topic presses it through the control loop.
    """

    def __init__(self) -> None:
        self._pressed = False
        self.reason = ""

    def press(self, reason: str = "e-stop pressed") -> None:
        """Latch the button; the first press's reason is kept. It takes no lock (plain assignments, atomic under the
        GIL): a signal handler runs on the main thread, possibly in the middle of a press there, and must not wait
        for a lock that thread holds."""
        self.reason = self.reason or reason
        self._pressed = True  # after the reason: whoever sees it pressed sees why

    @property
    def pressed(self) -> bool:
        return self._pressed
