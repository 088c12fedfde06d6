"""Ros1ArmDriver: an arm behind ROS 1 topics, through rospy and a ROS master.

Topics (names from the robot config, the same ones the DDS backend uses):

    in   robot.state_topic            sensor_msgs/JointState      the newest one is the arm's state, stamped by its header
    in   robot.extra_topics[name]     std_msgs/Float64MultiArray  one per extra source the observations read
    in   robot.success_topic          std_msgs/Bool               task success, where something publishes it
    out  robot.controller.topic       trajectory_msgs/JointTrajectory (joint_trajectory controller, e.g.
                                      <controller>/command of ros_control's joint_trajectory_controller) or
                                      std_msgs/Float64MultiArray (forward_position controller)

Messages are (de)serialized by hardware.messages.ros1; rospy moves the bytes (hardware/ros1/transport.py). hold()
sends a one-point trajectory at the newest measured position, reached one control tick after receipt (stamp 0:
"start now"), or that position as a setpoint. estop() holds and latches: nothing is sent afterwards (the calls are
counted in ``ignored_commands``). This e-stop is the driver's, not the arm's: a real arm's protective stop belongs to
its own safety system.

The master is never guessed: ROS_MASTER_URI must be set (or ``master_uri`` given). rospy allows one node per process,
so every Ros1ArmDriver in a process shares one node; close() unregisters the driver's topics, and the node lives
until the process exits. Stamps are the publisher's (ROS time, seconds since the epoch): the loop's clock must be the
wall clock and the arm's computer time-synchronised with this one. Extras carry no stamp: each is timed by its arrival.
Cameras are not carried.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from hardware.clock import Clock, WallClock
from hardware.driver import ArmDriver, ArmState
from hardware.messages import (
    Bool,
    Duration,
    Float64MultiArray,
    Header,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    float64_multiarray_to_numpy,
    joint_state_to_numpy,
    numpy_to_float64_multiarray,
    numpy_to_joint_trajectory,
)
from hardware.robot import RobotConfig
from hardware.ros1.transport import Publisher, Subscription, ensure_node
from hardware.ros1.transport import master_uri as required_master_uri
from hardware.safety import SafetyFault

_WAIT_STEP_S = 0.02  # how often connect() re-checks what it is waiting for


@dataclass
class SentCommand:
    """One command published: kind ("trajectory", "setpoint", "hold", "estop"), when (the driver's clock), and the
    message that went out."""

    kind: str
    time: float
    message: JointTrajectory | Float64MultiArray


class Ros1ArmDriver(ArmDriver):
    """The arm described by ``robot`` behind ROS 1 topics on the master at ROS_MASTER_URI.

    master_uri: sets ROS_MASTER_URI for this process when given; otherwise the environment's is used, and a missing
    one is refused (Ros1MasterError) at construction. state_timeout_s: how long connect() waits for the master, the
    first joint state, every extra and a subscriber on the command topic. clock: the loop's clock; must be the wall
    clock (stamps are ROS time). node_name: the rospy node's base name, used only if this process has no node yet.
    Nothing touches the network until connect().
    """

    def __init__(self, robot: RobotConfig, *, master_uri: str | None = None, clock: Clock | None = None,
                 state_timeout_s: float = 5.0, node_name: str = "robopolicy_arm_driver") -> None:
        super().__init__(robot)
        if master_uri:
            os.environ["ROS_MASTER_URI"] = master_uri
        self.master_uri = required_master_uri()  # refuses an unset master before anything else
        self.clock = clock if clock is not None else WallClock()
        if not (math.isfinite(state_timeout_s) and state_timeout_s > 0):
            raise ValueError(f"state_timeout_s must be a positive number of seconds, got {state_timeout_s}")
        self.state_timeout_s = float(state_timeout_s)
        self.node_name = node_name
        self.extras = self._check_robot(robot)
        self.sent: list[SentCommand] = []
        self.ignored_commands = 0  # commands asked for after the e-stop latched, and not sent
        self.estopped = False
        self._connected = False
        self._state_sub: Subscription[JointState] | None = None
        self._extra_subs: dict[str, Subscription[Float64MultiArray]] = {}
        self._success_sub: Subscription[Bool] | None = None
        self._command_pub: Publisher | None = None
        self._state: ArmState | None = None
        self._extra_values: dict[str, tuple[np.ndarray, float]] = {}  # name -> (values, arrival time)
        self._success = False
        self._closed = False

    @staticmethod
    def _check_robot(robot: RobotConfig) -> list[str]:
        """The extra sources the observations read; ValueError for what this backend cannot serve."""
        if robot.cameras:
            raise ValueError(f"robot '{robot.name}' lists cameras {sorted(robot.cameras)}, but the ROS 1 backend does "
                             "not carry camera images yet; use a low-dim policy, or the in-process sim backend")
        extras = sorted({s.extra for s in robot.observations.values() if s.extra is not None})
        missing = [e for e in extras if e not in robot.extra_topics]
        if missing:
            raise ValueError(f"robot '{robot.name}' ({robot.source}): observations read extra source(s) {missing}, but "
                             f"`extra_topics` names no topic for them; add e.g. extra_topics: {{{missing[0]}: "
                             f"/{missing[0]}}} (a std_msgs/Float64MultiArray topic)")
        return extras

    # ----------------------------------------------------------------------------------------- ArmDriver
    def connect(self) -> None:
        """Start (or reuse) this process's rospy node and wait (up to state_timeout_s) for a joint state with every
        configured joint, a sample of every extra, and a subscriber on the command topic; TimeoutError says which
        is missing."""
        if self._closed:
            raise RuntimeError("Ros1ArmDriver is closed; build a new one")
        if self._connected:
            raise RuntimeError("Ros1ArmDriver is already connected")
        robot = self.robot
        ensure_node(self.node_name, self.state_timeout_s)
        self._connected = True
        try:
            self._state_sub = Subscription(robot.state_topic, JointState)
            self._extra_subs = {e: Subscription(robot.extra_topics[e], Float64MultiArray) for e in self.extras}
            if robot.success_topic is not None:
                self._success_sub = Subscription(robot.success_topic, Bool)
            command_type = JointTrajectory if robot.controller.type == "joint_trajectory" else Float64MultiArray
            self._command_pub = Publisher(robot.controller.topic, command_type)
            self._wait_until_ready()
        except BaseException:
            self.close()
            raise

    def read_state(self) -> ArmState:
        """The newest joint state (stamped by its header) with the newest extras; SafetyFault("stale_state") when an
        extra stopped arriving (older than the watchdog's max_state_age_s)."""
        self._require_connected()
        self._poll()
        if self._state is None:
            raise RuntimeError(f"no sensor_msgs/JointState has arrived on {self._state_sub.topic} yet")
        now = self.clock.now()
        extras = {}
        for name in self.extras:
            values, arrived = self._extra_values[name]
            age = now - arrived
            if age > self.robot.watchdog.max_state_age_s:
                raise SafetyFault("stale_state", f"stale extra: '{name}' last arrived on "
                                  f"{self._extra_subs[name].topic} {age:.3f} s ago, over the limit of "
                                  f"{self.robot.watchdog.max_state_age_s} s; its publisher stalled",
                                  value=age, limit=self.robot.watchdog.max_state_age_s)
            extras[name] = values.copy()
        state = self._state
        return ArmState(stamp=state.stamp, positions=state.positions.copy(),
                        velocities=None if state.velocities is None else state.velocities.copy(), extras=extras)

    def send_trajectory(self, positions: np.ndarray, dt: float, start_stamp: float) -> None:
        self._require_controller("joint_trajectory", "send_trajectory")
        msg = numpy_to_joint_trajectory(positions, dt, self.robot.joint_names, start_stamp)
        self._publish("trajectory", msg)

    def send_setpoint(self, positions: np.ndarray) -> None:
        self._require_controller("forward_position", "send_setpoint")
        positions = np.asarray(positions, dtype=np.float64)
        if positions.shape != (self.robot.num_joints,):
            raise ValueError(f"a setpoint is one position per joint {self.robot.joint_names}, got shape {positions.shape}")
        self._publish("setpoint", numpy_to_float64_multiarray(positions))

    def hold(self) -> None:
        """Keep the arm at its newest measured position (ignored, and counted, after the e-stop)."""
        self._require_connected()
        if self.estopped:
            self.ignored_commands += 1
            return
        self._publish("hold", self._hold_message())

    def estop(self) -> None:
        """Hold, then latch: every later command is dropped and counted in ``ignored_commands``."""
        self._require_connected()
        if self.estopped:
            self.ignored_commands += 1
            return
        try:
            self._publish("estop", self._hold_message())
        finally:
            self.estopped = True

    def close(self) -> None:
        """Unregister this driver's topics (the process's rospy node stays up: rospy cannot restart one). Sends
        nothing; publishing is synchronous, so every command sent has been written already."""
        for endpoint in (self._state_sub, self._success_sub, self._command_pub, *self._extra_subs.values()):
            if endpoint is not None:
                endpoint.close()
        self._state_sub = self._success_sub = self._command_pub = None
        self._extra_subs = {}
        self._connected = False
        self._closed = True

    def task_success(self) -> bool:
        """The newest std_msgs/Bool on the robot config's success_topic; False when it has none or nothing arrived."""
        if self._success_sub is not None:
            self._poll()
        return self._success

    # ------------------------------------------------------------------------------------------ internals
    def _require_connected(self) -> None:
        if not self._connected:
            raise RuntimeError("Ros1ArmDriver: call connect() first (or use it as a context manager)"
                               + (" - it is closed" if self._closed else ""))

    def _require_controller(self, kind: str, method: str) -> None:
        if self.robot.controller.type != kind:
            raise ValueError(f"{method} needs a {kind} controller; robot '{self.robot.name}' has a "
                             f"{self.robot.controller.type} controller on {self.robot.controller.topic}")

    def _publish(self, kind: str, msg: JointTrajectory | Float64MultiArray) -> None:
        self._require_connected()
        if self.estopped:
            self.ignored_commands += 1
            return
        self._command_pub.publish(msg)
        self.sent.append(SentCommand(kind, self.clock.now(), msg))

    def _hold_message(self) -> JointTrajectory | Float64MultiArray:
        """The command that keeps the arm at its newest measured position."""
        self._poll()
        if self._state is None:
            raise RuntimeError("cannot hold: no joint state has arrived, so the arm's position is unknown")
        positions = self._state.positions
        if self.robot.controller.type == "forward_position":
            return numpy_to_float64_multiarray(positions)
        point = JointTrajectoryPoint(positions=positions.copy(), time_from_start=Duration.from_seconds(self.robot.dt))
        return JointTrajectory(header=Header(), joint_names=self.robot.joint_names, points=[point])

    def _poll(self) -> None:
        """Take what arrived on the input topics and keep the newest of each."""
        states = self._state_sub.take()
        if states:
            self._state = self._to_state(states[-1])
        now = self.clock.now()
        for name, sub in self._extra_subs.items():
            samples = sub.take()
            if samples:
                try:
                    self._extra_values[name] = (float64_multiarray_to_numpy(samples[-1]), now)
                except ValueError as exc:
                    raise ValueError(f"extra '{name}' on {sub.topic}: {exc}") from exc
        if self._success_sub is not None:
            flags = self._success_sub.take()
            if flags:
                self._success = bool(flags[-1].data)

    def _to_state(self, msg: JointState) -> ArmState:
        topic = self._state_sub.topic
        try:
            positions, velocities = joint_state_to_numpy(msg, self.robot.joint_names)
        except ValueError as exc:
            raise ValueError(f"JointState on {topic}: {exc}") from exc
        stamp = msg.header.stamp.to_seconds()
        if stamp == 0:
            raise ValueError(f"JointState on {topic} has a zero header stamp; the ROS 1 backend times every state by "
                             "its stamp, so the arm's driver must fill it in (joint_state_controller does)")
        return ArmState(stamp=stamp, positions=positions, velocities=velocities)

    def _wait_until_ready(self) -> None:
        deadline = self.clock.now() + self.state_timeout_s
        while True:
            self._poll()
            missing = self._missing()
            if not missing:
                return
            if self.clock.now() >= deadline:
                raise TimeoutError(
                    f"Ros1ArmDriver could not connect to robot '{self.robot.name}' within {self.state_timeout_s} s "
                    f"(ROS master {self.master_uri}): " + "; ".join(missing)
                    + ". Is the arm's ROS 1 driver (or `python -m hardware.ros1.sim_node --robot "
                    f"{self.robot.name}`) running against the same master?")
            time.sleep(_WAIT_STEP_S)

    def _missing(self) -> list[str]:
        """What connect() is still waiting for, in words."""
        missing = []
        if self._state is None:
            missing.append(f"no sensor_msgs/JointState on {self._state_sub.topic}")
        missing += [f"no std_msgs/Float64MultiArray for extra '{name}' on {sub.topic}"
                    for name, sub in self._extra_subs.items() if name not in self._extra_values]
        if self._command_pub.subscriber_count() == 0:
            missing.append(f"no subscriber for {self._command_pub.msg_type.__name__} on {self._command_pub.topic} "
                           f"(is the {self.robot.controller.type} controller running?)")
        return missing

