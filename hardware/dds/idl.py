"""The ROS 2 messages the DDS backend sends and receives, as cyclonedds IDL types under ROS 2's DDS type names.

rmw_cyclonedds (and every ROS 2 DDS layer) names the type of ``pkg/msg/Name`` ``pkg::msg::dds_::Name_`` on the
wire. Declared here with those names and the fields in ROS 2's order, cyclonedds serializes them to the same bytes
as hardware.messages.cdr (plain little-endian CDR, encapsulation 00 01 00 00; checked in tests/hardware/test_dds.py).

Use the classes through hardware/dds/convert.py, which maps them to and from the hardware.messages dataclasses.
Image and CompressedImage are declared here too, so that their topics carry ROS 2's type (name, fields, type
information), but their samples never go through cyclonedds' Python serializer: it packs sequence<uint8> one
element at a time (a 640x480 RGB frame takes about 65 ms). The participant writes and takes them as raw CDR
bytes from hardware.messages.cdr instead (hardware/dds/participant.py); tests/hardware/test_dds.py checks that
these classes serialize to exactly those bytes.
"""

# No `from __future__ import annotations` here: cyclonedds resolves field annotations by name in this module, and
# builtins (str, bool) given as strings are not found.
from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import float64, int32, sequence, uint8, uint32


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    """builtin_interfaces/Time."""

    sec: int32 = 0
    nanosec: uint32 = 0


@dataclass
class Duration(IdlStruct, typename="builtin_interfaces::msg::dds_::Duration_"):
    """builtin_interfaces/Duration."""

    sec: int32 = 0
    nanosec: uint32 = 0


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    """std_msgs/Header (ROS 2: no seq)."""

    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass
class JointState(IdlStruct, typename="sensor_msgs::msg::dds_::JointState_"):
    """sensor_msgs/JointState."""

    header: Header = field(default_factory=Header)
    name: sequence[str] = field(default_factory=list)
    position: sequence[float64] = field(default_factory=list)
    velocity: sequence[float64] = field(default_factory=list)
    effort: sequence[float64] = field(default_factory=list)


@dataclass
class JointTrajectoryPoint(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectoryPoint_"):
    """trajectory_msgs/JointTrajectoryPoint."""

    positions: sequence[float64] = field(default_factory=list)
    velocities: sequence[float64] = field(default_factory=list)
    accelerations: sequence[float64] = field(default_factory=list)
    effort: sequence[float64] = field(default_factory=list)
    time_from_start: Duration = field(default_factory=Duration)


@dataclass
class JointTrajectory(IdlStruct, typename="trajectory_msgs::msg::dds_::JointTrajectory_"):
    """trajectory_msgs/JointTrajectory."""

    header: Header = field(default_factory=Header)
    joint_names: sequence[str] = field(default_factory=list)
    points: sequence[JointTrajectoryPoint] = field(default_factory=list)


@dataclass
class MultiArrayDimension(IdlStruct, typename="std_msgs::msg::dds_::MultiArrayDimension_"):
    """std_msgs/MultiArrayDimension."""

    label: str = ""
    size: uint32 = 0
    stride: uint32 = 0


@dataclass
class MultiArrayLayout(IdlStruct, typename="std_msgs::msg::dds_::MultiArrayLayout_"):
    """std_msgs/MultiArrayLayout."""

    dim: sequence[MultiArrayDimension] = field(default_factory=list)
    data_offset: uint32 = 0


@dataclass
class Float64MultiArray(IdlStruct, typename="std_msgs::msg::dds_::Float64MultiArray_"):
    """std_msgs/Float64MultiArray."""

    layout: MultiArrayLayout = field(default_factory=MultiArrayLayout)
    data: sequence[float64] = field(default_factory=list)


@dataclass
class Bool(IdlStruct, typename="std_msgs::msg::dds_::Bool_"):
    """std_msgs/Bool (a ROS bool is one byte, 0 or 1)."""

    data: bool = False


@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    """sensor_msgs/Image (written and taken as raw CDR by the participant, not through this class)."""

    header: Header = field(default_factory=Header)
    height: uint32 = 0
    width: uint32 = 0
    encoding: str = ""
    is_bigendian: uint8 = 0
    step: uint32 = 0
    data: sequence[uint8] = field(default_factory=list)


@dataclass
class CompressedImage(IdlStruct, typename="sensor_msgs::msg::dds_::CompressedImage_"):
    """sensor_msgs/CompressedImage (written and taken as raw CDR by the participant, not through this class)."""

    header: Header = field(default_factory=Header)
    format: str = ""
    data: sequence[uint8] = field(default_factory=list)


__all__ = ["Bool", "CompressedImage", "Duration", "Float64MultiArray", "Header", "Image", "JointState",
           "JointTrajectory", "JointTrajectoryPoint", "MultiArrayDimension", "MultiArrayLayout", "Time"]
