"""Plain dataclasses for the ROS messages the hardware layer reads and writes.

Field names and order follow the ROS message definitions, so a message here maps one-to-one onto the wire. Float64
arrays are 1-D numpy float64 arrays (lists are accepted and converted); byte payloads (image data) are `bytes`.
std_msgs/Header differs between the ROS versions: ROS 1 carries a sequence number that ROS 2 removed, so `Header` is
the ROS 2 header and `Ros1Header` adds `seq`. Any header serializes to either format (ROS 1 writes seq 0 for a plain
Header, ROS 2 drops seq as ros1_bridge does); deserializing ROS 1 bytes gives a `Ros1Header`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

NSEC_PER_SEC = 1_000_000_000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_TimeT = TypeVar("_TimeT", bound="_TimeValue")


def float64_vector(value: Any, what: str) -> np.ndarray:
    """`value` as a 1-D float64 array (no copy when it already is one); `what` names it in the error."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of floats, got shape {arr.shape}")
    return arr


def as_bytes(value: Any, what: str) -> bytes:
    """A byte payload (bytes, bytearray, memoryview or uint8 array) as `bytes`; `what` names it in the error."""
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8:
            raise ValueError(f"{what} must hold uint8 values, got a {value.dtype} array")
        return value.tobytes()
    if isinstance(value, int):  # bytes(5) would silently make five zero bytes
        raise ValueError(f"{what} must be bytes, got the int {value}")
    return bytes(value)


class Message:
    """Base of every message: equality that compares numpy fields by value (dataclass equality cannot)."""

    ros_type: ClassVar[str]  # the name rosbags and ROS 2 use, "package/msg/Name"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable


@dataclass(eq=False)
class _TimeValue(Message):
    """Seconds plus nanoseconds in [0, 1e9), the layout Time and Duration share on the wire."""

    sec: int = 0
    nanosec: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not _INT32_MIN <= self.sec <= _INT32_MAX:
            raise ValueError(f"{name}.sec = {self.sec} does not fit in int32")
        if not 0 <= self.nanosec < NSEC_PER_SEC:
            raise ValueError(f"{name}.nanosec = {self.nanosec} must be in [0, 1e9); carry whole seconds into sec")

    @classmethod
    def from_nanoseconds(cls: type[_TimeT], nanoseconds: int) -> _TimeT:
        """The value for a whole number of nanoseconds (negative values borrow from sec, as ROS does)."""
        sec, nanosec = divmod(int(nanoseconds), NSEC_PER_SEC)
        return cls(sec=sec, nanosec=nanosec)

    @classmethod
    def from_seconds(cls: type[_TimeT], seconds: float) -> _TimeT:
        """The value for a float number of seconds, rounded to the nearest nanosecond."""
        return cls.from_nanoseconds(round(seconds * NSEC_PER_SEC))

    def to_nanoseconds(self) -> int:
        """The value as a whole number of nanoseconds."""
        return self.sec * NSEC_PER_SEC + self.nanosec

    def to_seconds(self) -> float:
        """The value as float seconds."""
        return self.sec + self.nanosec / NSEC_PER_SEC


@dataclass(eq=False)
class Time(_TimeValue):
    """builtin_interfaces/Time (ROS 1: the builtin `time`): a point in time since the epoch."""

    ros_type: ClassVar[str] = "builtin_interfaces/msg/Time"


@dataclass(eq=False)
class Duration(_TimeValue):
    """builtin_interfaces/Duration (ROS 1: the builtin `duration`): a span of time."""

    ros_type: ClassVar[str] = "builtin_interfaces/msg/Duration"


@dataclass(eq=False)
class Header(Message):
    """std_msgs/Header as ROS 2 defines it: when the data was measured and in which frame."""

    ros_type: ClassVar[str] = "std_msgs/msg/Header"
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass(eq=False)
class Ros1Header(Header):
    """std_msgs/Header as ROS 1 defines it: the ROS 2 header plus a sequence number (ROS 1 publishers fill it in)."""

    seq: int = 0


def _no_floats() -> np.ndarray:
    return np.zeros(0, dtype=np.float64)


@dataclass(eq=False)
class JointState(Message):
    """sensor_msgs/JointState: per named joint its position, velocity and effort (each array empty or one per name)."""

    ros_type: ClassVar[str] = "sensor_msgs/msg/JointState"
    header: Header = field(default_factory=Header)
    name: list[str] = field(default_factory=list)
    position: np.ndarray = field(default_factory=_no_floats)
    velocity: np.ndarray = field(default_factory=_no_floats)
    effort: np.ndarray = field(default_factory=_no_floats)

    def __post_init__(self) -> None:
        self.name = list(self.name)
        self.position = float64_vector(self.position, "JointState.position")
        self.velocity = float64_vector(self.velocity, "JointState.velocity")
        self.effort = float64_vector(self.effort, "JointState.effort")


@dataclass(eq=False)
class JointTrajectoryPoint(Message):
    """trajectory_msgs/JointTrajectoryPoint: one waypoint, reached `time_from_start` after the trajectory's stamp."""

    ros_type: ClassVar[str] = "trajectory_msgs/msg/JointTrajectoryPoint"
    positions: np.ndarray = field(default_factory=_no_floats)
    velocities: np.ndarray = field(default_factory=_no_floats)
    accelerations: np.ndarray = field(default_factory=_no_floats)
    effort: np.ndarray = field(default_factory=_no_floats)
    time_from_start: Duration = field(default_factory=Duration)

    def __post_init__(self) -> None:
        self.positions = float64_vector(self.positions, "JointTrajectoryPoint.positions")
        self.velocities = float64_vector(self.velocities, "JointTrajectoryPoint.velocities")
        self.accelerations = float64_vector(self.accelerations, "JointTrajectoryPoint.accelerations")
        self.effort = float64_vector(self.effort, "JointTrajectoryPoint.effort")


@dataclass(eq=False)
class JointTrajectory(Message):
    """trajectory_msgs/JointTrajectory: waypoints for the named joints, timed from header.stamp."""

    ros_type: ClassVar[str] = "trajectory_msgs/msg/JointTrajectory"
    header: Header = field(default_factory=Header)
    joint_names: list[str] = field(default_factory=list)
    points: list[JointTrajectoryPoint] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.joint_names = list(self.joint_names)
        self.points = list(self.points)


@dataclass(eq=False)
class MultiArrayDimension(Message):
    """std_msgs/MultiArrayDimension: one axis of a multi-array (label, length, stride in elements)."""

    ros_type: ClassVar[str] = "std_msgs/msg/MultiArrayDimension"
    label: str = ""
    size: int = 0
    stride: int = 0


@dataclass(eq=False)
class MultiArrayLayout(Message):
    """std_msgs/MultiArrayLayout: the axes of a multi-array and how many padding elements precede its data."""

    ros_type: ClassVar[str] = "std_msgs/msg/MultiArrayLayout"
    dim: list[MultiArrayDimension] = field(default_factory=list)
    data_offset: int = 0

    def __post_init__(self) -> None:
        self.dim = list(self.dim)


@dataclass(eq=False)
class Float64MultiArray(Message):
    """std_msgs/Float64MultiArray: flat float64 data plus its layout (used for streamed joint setpoints)."""

    ros_type: ClassVar[str] = "std_msgs/msg/Float64MultiArray"
    layout: MultiArrayLayout = field(default_factory=MultiArrayLayout)
    data: np.ndarray = field(default_factory=_no_floats)

    def __post_init__(self) -> None:
        self.data = float64_vector(self.data, "Float64MultiArray.data")


@dataclass(eq=False)
class Bool(Message):
    """std_msgs/Bool: one flag (the simulated arm publishes its task success as one)."""

    ros_type: ClassVar[str] = "std_msgs/msg/Bool"
    data: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.data, (bool, np.bool_)):
            raise ValueError(f"Bool.data must be True or False, got {self.data!r}")
        self.data = bool(self.data)


@dataclass(eq=False)
class Image(Message):
    """sensor_msgs/Image: `height` rows of `step` bytes each, pixels packed as `encoding` says (e.g. "rgb8")."""

    ros_type: ClassVar[str] = "sensor_msgs/msg/Image"
    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    data: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        self.data = as_bytes(self.data, "Image.data")


@dataclass(eq=False)
class CompressedImage(Message):
    """sensor_msgs/CompressedImage: an encoded image file (`format` e.g. "jpeg" or "png") in `data`."""

    ros_type: ClassVar[str] = "sensor_msgs/msg/CompressedImage"
    header: Header = field(default_factory=Header)
    format: str = ""
    data: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        self.data = as_bytes(self.data, "CompressedImage.data")
