"""TopicArmDriver: the transport-independent half of an arm behind ROS topics (hardware/dds/driver.py over Cyclone
DDS, hardware/ros1/driver.py over rospy).

Topics (names from the robot config):

    in   robot.state_topic            sensor_msgs/JointState      the newest one is the arm's state, stamped by its header
    in   robot.extra_topics[name]     std_msgs/Float64MultiArray  one per extra source the observations read
    in   robot.cameras[key]           sensor_msgs/Image           one per camera (CompressedImage on a topic ending
                                                                  in /compressed: hardware/camera_frames.py)
    in   robot.success_topic          std_msgs/Bool               task success, where something publishes it
    in   robot.estop_topic            std_msgs/Bool               True: e-stop (``estop_requested``); False: nothing
    out  robot.controller.topic       trajectory_msgs/JointTrajectory (joint_trajectory controller) or
                                      std_msgs/Float64MultiArray (forward_position controller)

hold() sends a one-point trajectory at the newest measured position, reached one control tick after receipt (stamp
0: "start on receipt"), or that position as a setpoint. estop() holds and latches: nothing is sent afterwards (the
calls are counted in ``ignored_commands``). This e-stop is the driver's, not the arm's: a real arm's protective stop
belongs to its own safety system.

Stamps are the publisher's (ROS time, seconds since the epoch), so the loop's clock must be the wall clock and the
arm's computer must be time-synchronised with this one; the watchdog reports a clock mismatch as such. Extras carry
no stamp: each one is timed by its arrival, and an extra older than the watchdog's max_state_age_s is a stale-state
fault like an old joint state. Camera frames are timed by their header stamps, like joint states: the newest frame
of each camera goes into ``ArmState.images[key]`` as (H, W, 3) uint8 RGB (its stamp in ``ArmState.image_stamps``),
and a frame older than max_state_age_s (a camera that stopped) is a stale-state fault; one stamped that far in the
future is a clock fault. connect() waits for a first frame from every camera.

The e-stop topic is optional and nothing waits for a publisher on it. Every message that arrived since the last poll
is looked at (up to ESTOP_KEEP), so a True followed at once by a False still presses; once a True has arrived,
``estop_requested`` gives its reason for good (False never releases it). It is read best effort, so that a best-effort
publisher matches too: publish True repeatedly rather than once.

A backend subclasses TopicArmDriver and supplies the transport: ``_open`` (join the network), ``_subscribe`` /
``_publisher`` (endpoints with the TopicSubscription / TopicPublisher interface below), ``_wait``, ``_close`` and
the words its messages use.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hardware.camera_frames import camera_message_type, frame_to_rgb
from hardware.clock import Clock, WallClock
from hardware.driver import ArmDriver, ArmState
from hardware.messages import (
    Bool,
    CompressedImage,
    Duration,
    Float64MultiArray,
    Header,
    Image,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    Message,
    float64_multiarray_to_numpy,
    joint_state_to_numpy,
    numpy_to_float64_multiarray,
    numpy_to_joint_trajectory,
)
from hardware.robot import RobotConfig
from hardware.safety import SafetyFault

_WAIT_STEP_S = 0.02  # how often connect() re-checks what it is waiting for
ESTOP_KEEP = 64  # e-stop messages kept between polls: all of them, in practice


class TopicSubscription(Protocol):
    """What the driver needs of a subscription: its topic as the transport names it, and what arrived since."""

    name: str

    def take(self) -> list: ...


class TopicPublisher(Protocol):
    """What the driver needs of a publisher: its topic and type, sending, and whether anyone listens."""

    name: str
    msg_type: type[Message]

    def publish(self, msg: Message) -> None: ...

    def subscriber_count(self) -> int: ...


@dataclass
class SentCommand:
    """One command published: kind ("trajectory", "setpoint", "hold", "estop"), when (the driver's clock), and the
    message that went out."""

    kind: str
    time: float
    message: JointTrajectory | Float64MultiArray


class TopicArmDriver(ArmDriver):
    """The arm described by ``robot`` behind ROS topics, over a transport the subclass provides.

    state_timeout_s: how long connect() waits for the first joint state, every extra, a frame from every camera and a
    subscriber on the command topic. clock: the loop's clock; must be the wall clock (stamps are ROS time). Nothing
    touches the network until connect().
    """

    #: "the DDS backend" / "the ROS 1 backend", in messages
    backend = "this backend"
    #: the arm-side component that stamps joint states, named in the zero-stamp error
    state_publisher = "joint_state_broadcaster"
    #: "active" / "running": the state the command topic's controller should be in
    controller_state = "active"
    #: the connect() timeout's hint: "ROS 2", the sim node's module, and "on the same domain and network"
    ros_version = "ROS"
    sim_node_module = ""
    same_network = ""

    def __init__(self, robot: RobotConfig, *, clock: Clock | None = None, state_timeout_s: float = 5.0) -> None:
        super().__init__(robot)
        self.clock = clock if clock is not None else WallClock()
        if not (math.isfinite(state_timeout_s) and state_timeout_s > 0):
            raise ValueError(f"state_timeout_s must be a positive number of seconds, got {state_timeout_s}")
        self.state_timeout_s = float(state_timeout_s)
        self.extras = self._check_robot(robot)
        self.sent: list[SentCommand] = []
        self.ignored_commands = 0  # commands asked for after the e-stop latched, and not sent
        self.estopped = False
        self._state_sub: TopicSubscription | None = None
        self._extra_subs: dict[str, TopicSubscription] = {}
        self._camera_subs: dict[str, TopicSubscription] = {}  # policy obs key -> its camera topic
        self._success_sub: TopicSubscription | None = None
        self._estop_sub: TopicSubscription | None = None
        self._estop_reason: str | None = None  # latched by the first True on the e-stop topic
        self._command_pub: TopicPublisher | None = None
        self._state: ArmState | None = None
        self._extra_values: dict[str, tuple[np.ndarray, float]] = {}  # name -> (values, arrival time)
        self._frames: dict[str, tuple[np.ndarray, float]] = {}  # camera key -> ((H, W, 3) uint8 RGB, header stamp)
        self._success = False
        self._closed = False

    # ------------------------------------------------------------------------------------- the transport
    @abstractmethod
    def _open(self) -> None:
        """Join the network (the subscriptions and publisher are made after it)."""

    @abstractmethod
    def _is_open(self) -> bool:
        """Whether the network has been joined and not left."""

    @abstractmethod
    def _subscribe(self, topic: str, msg_type: type[Message], *, keep: int = 1) -> TopicSubscription:
        """A subscription to ``msg_type`` on the ROS topic ``topic`` that keeps the newest ``keep`` messages between
        takes (best effort, volatile)."""

    @abstractmethod
    def _publisher(self, topic: str, msg_type: type[Message]) -> TopicPublisher:
        """A publisher of ``msg_type`` on the ROS topic ``topic``."""

    @abstractmethod
    def _wait(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for something to arrive."""

    @abstractmethod
    def _close(self) -> None:
        """Release the endpoints and leave the network (the base forgets the endpoints afterwards)."""

    def _check_topic(self, topic: str) -> None:
        """ValueError for a topic name the transport would not accept."""

    @abstractmethod
    def _where(self) -> str:
        """Where connect() looked, for its TimeoutError (" on DDS domain 0 (...)")."""

    # ------------------------------------------------------------------------------------------- checks
    def _check_robot(self, robot: RobotConfig) -> list[str]:
        """The extra sources the observations read; ValueError for what this backend cannot serve."""
        extras = sorted({s.extra for s in robot.observations.values() if s.extra is not None})
        missing = [e for e in extras if e not in robot.extra_topics]
        if missing:
            raise ValueError(f"robot '{robot.name}' ({robot.source}): observations read extra source(s) {missing}, but "
                             f"`extra_topics` names no topic for them; add e.g. extra_topics: {{{missing[0]}: "
                             f"/{missing[0]}}} (a std_msgs/Float64MultiArray topic)")
        topics = [robot.state_topic, robot.controller.topic, *(robot.extra_topics[e] for e in extras),
                  *robot.cameras.values()]
        topics += [t for t in (robot.success_topic, robot.estop_topic) if t is not None]
        for topic in topics:
            self._check_topic(topic)
        return extras

    # ----------------------------------------------------------------------------------------- ArmDriver
    def connect(self) -> None:
        """Join the network and wait (up to state_timeout_s) for a joint state with every configured joint, a
        sample of every extra, a frame from every camera, and a subscriber on the command topic; TimeoutError says
        which is missing."""
        name = type(self).__name__
        if self._closed:
            raise RuntimeError(f"{name} is closed; build a new one")
        if self._is_open():
            raise RuntimeError(f"{name} is already connected")
        robot = self.robot
        self._open()
        try:
            self._state_sub = self._subscribe(robot.state_topic, JointState)
            self._extra_subs = {e: self._subscribe(robot.extra_topics[e], Float64MultiArray) for e in self.extras}
            self._camera_subs = {key: self._subscribe(topic, camera_message_type(topic))
                                 for key, topic in robot.cameras.items()}
            if robot.success_topic is not None:
                self._success_sub = self._subscribe(robot.success_topic, Bool)
            if robot.estop_topic is not None:
                self._estop_sub = self._subscribe(robot.estop_topic, Bool, keep=ESTOP_KEEP)
            command_type = JointTrajectory if robot.controller.type == "joint_trajectory" else Float64MultiArray
            self._command_pub = self._publisher(robot.controller.topic, command_type)
            self._wait_until_ready()
        except BaseException:
            self.close()
            raise

    def read_state(self) -> ArmState:
        """The newest joint state (stamped by its header) with the newest extras and camera frames (images: {key:
        (H, W, 3) uint8 RGB}, image_stamps: {key: header stamp}); SafetyFault("stale_state") when an extra stopped
        arriving or a camera's newest frame is older than the watchdog's max_state_age_s ("clock" when it is stamped
        that far in the future)."""
        self._require_connected()
        self._poll()
        if self._state is None:
            raise RuntimeError(f"no sensor_msgs/JointState has arrived on {self._state_sub.name} yet")
        now = self.clock.now()
        extras = {}
        for name in self.extras:
            values, arrived = self._extra_values[name]
            age = now - arrived
            if age > self.robot.watchdog.max_state_age_s:
                raise SafetyFault("stale_state", f"stale extra: '{name}' last arrived on "
                                  f"{self._extra_subs[name].name} {age:.3f} s ago, over the limit of "
                                  f"{self.robot.watchdog.max_state_age_s} s; its publisher stalled",
                                  value=age, limit=self.robot.watchdog.max_state_age_s)
            extras[name] = values.copy()
        images, image_stamps = self._fresh_frames(now)
        state = self._state
        return ArmState(stamp=state.stamp, positions=state.positions.copy(),
                        velocities=None if state.velocities is None else state.velocities.copy(), extras=extras,
                        images=images, image_stamps=image_stamps)

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
        """Release this driver's topics and leave the network. Sends nothing."""
        self._close()
        self._state_sub = self._success_sub = self._estop_sub = self._command_pub = None
        self._extra_subs = {}
        self._camera_subs = {}
        self._closed = True

    def task_success(self) -> bool:
        """The newest std_msgs/Bool on the robot config's success_topic; False when it has none or nothing arrived."""
        if self._success_sub is not None:
            self._poll()
        return self._success

    def estop_requested(self) -> str | None:
        """The reason, once a std_msgs/Bool True has arrived on the robot config's estop_topic (latched: a later
        False changes nothing); None while none has, or when there is no such topic."""
        if self._estop_reason is None and self._estop_sub is not None:
            if any(msg.data for msg in self._estop_sub.take()):
                self._estop_reason = f"e-stop topic {self._estop_sub.name}: std_msgs/Bool True received"
        return self._estop_reason

    # ------------------------------------------------------------------------------------------ internals
    def _require_connected(self) -> None:
        if not self._is_open():
            raise RuntimeError(f"{type(self).__name__}: call connect() first (or use it as a context manager)"
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
                    raise ValueError(f"extra '{name}' on {sub.name}: {exc}") from exc
        for key, sub in self._camera_subs.items():
            frames = sub.take()
            if frames:
                self._frames[key] = self._to_frame(key, sub.name, frames[-1])
        if self._success_sub is not None:
            flags = self._success_sub.take()
            if flags:
                self._success = bool(flags[-1].data)

    def _to_state(self, msg: JointState) -> ArmState:
        topic = self._state_sub.name
        try:
            positions, velocities = joint_state_to_numpy(msg, self.robot.joint_names)
        except ValueError as exc:
            raise ValueError(f"JointState on {topic}: {exc}") from exc
        stamp = msg.header.stamp.to_seconds()
        if stamp == 0:
            raise ValueError(f"JointState on {topic} has a zero header stamp; {self.backend} times every state by its "
                             f"stamp, so the arm's driver must fill it in ({self.state_publisher} does)")
        return ArmState(stamp=stamp, positions=positions, velocities=velocities)

    def _to_frame(self, key: str, topic: str, msg: Image | CompressedImage) -> tuple[np.ndarray, float]:
        """A received camera frame as ((H, W, 3) uint8 RGB, header stamp); ValueError naming the camera otherwise."""
        what = f"{type(msg).__name__} for camera '{key}' on {topic}"
        stamp = msg.header.stamp.to_seconds()
        if stamp == 0:
            raise ValueError(f"{what} has a zero header stamp; {self.backend} times every frame by its stamp, so the "
                             "camera driver must fill it in with the capture time")
        try:
            return frame_to_rgb(msg), stamp
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from exc

    def _fresh_frames(self, now: float) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Every camera's newest frame (a copy) and its stamp; SafetyFault when one is too old or from the future."""
        limit = self.robot.watchdog.max_state_age_s
        images, stamps = {}, {}
        for key, sub in self._camera_subs.items():
            if key not in self._frames:
                raise SafetyFault("stale_state", f"no camera frame for '{key}' has arrived on {sub.name}; is the "
                                  "camera driver publishing?", limit=limit)
            pixels, stamp = self._frames[key]
            age = now - stamp
            if age > limit:
                raise SafetyFault("stale_state", f"stale camera frame: the newest frame for '{key}' on {sub.name} is "
                                  f"{age:.3f} s old (stamp {stamp:.3f}, now {now:.3f}), over the limit of {limit} s; "
                                  "the camera stream stalled", value=age, limit=limit)
            if -age > limit:
                raise SafetyFault("clock", f"the camera frame for '{key}' on {sub.name} is stamped {-age:.3f} s in "
                                  f"the future (stamp {stamp:.3f}, now {now:.3f}); is the camera's computer "
                                  "time-synchronised with this one?", value=age, limit=limit)
            images[key], stamps[key] = pixels.copy(), stamp
        return images, stamps

    def _wait_until_ready(self) -> None:
        deadline = self.clock.now() + self.state_timeout_s
        while True:
            self._poll()
            missing = self._missing()
            if not missing:
                return
            if self.clock.now() >= deadline:
                raise TimeoutError(
                    f"{type(self).__name__} could not connect to robot '{self.robot.name}' within "
                    f"{self.state_timeout_s} s{self._where()}: " + "; ".join(missing) + f". Is the arm's "
                    f"{self.ros_version} driver (or `python -m {self.sim_node_module} --robot {self.robot.name}`) "
                    f"running {self.same_network}?")
            self._wait(_WAIT_STEP_S)

    def _missing(self) -> list[str]:
        """What connect() is still waiting for, in words."""
        missing = []
        if self._state is None:
            missing.append(f"no sensor_msgs/JointState on {self._state_sub.name}")
        missing += [f"no std_msgs/Float64MultiArray for extra '{name}' on {sub.name}"
                    for name, sub in self._extra_subs.items() if name not in self._extra_values]
        missing += [f"no sensor_msgs/{camera_message_type(self.robot.cameras[key]).__name__} for camera '{key}' on "
                    f"{sub.name}"
                    for key, sub in self._camera_subs.items() if key not in self._frames]
        if self._command_pub.subscriber_count() == 0:
            missing.append(f"no subscriber for {self._command_pub.msg_type.__name__} on {self._command_pub.name} "
                           f"(is the {self.robot.controller.type} controller {self.controller_state}?)")
        return missing
