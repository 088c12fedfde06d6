"""hardware.messages dataclasses <-> the ROS 2 Python message classes (rosidl-generated, from a ROS 2 install), as
plain field copies.

``to_ros(msg)`` gives the ROS 2 message to hand to an rclpy publisher; ``from_ros(obj, msg_type)`` the dataclass of a
message an rclpy subscription delivered. float64[] fields cross as ``array.array('d')`` (what the generated setters
take; they refuse numpy arrays) and come back as float64 arrays; uint8[] image data crosses as ``array.array('B')``
(which the generated setters take without checking each byte, so a 640x480 frame costs no per-pixel Python) and
comes back as bytes. The ROS 2 classes are looked up when called, so this
module imports without ROS 2.
"""

from __future__ import annotations

import array
import importlib
from typing import Any

import numpy as np

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
    MultiArrayDimension,
    MultiArrayLayout,
    Time,
)

# message dataclass -> (ROS 2 Python module, class name)
ROS2_CLASSES: dict[type[Message], tuple[str, str]] = {
    Time: ("builtin_interfaces.msg", "Time"),
    Duration: ("builtin_interfaces.msg", "Duration"),
    Header: ("std_msgs.msg", "Header"),
    JointState: ("sensor_msgs.msg", "JointState"),
    JointTrajectoryPoint: ("trajectory_msgs.msg", "JointTrajectoryPoint"),
    JointTrajectory: ("trajectory_msgs.msg", "JointTrajectory"),
    MultiArrayDimension: ("std_msgs.msg", "MultiArrayDimension"),
    MultiArrayLayout: ("std_msgs.msg", "MultiArrayLayout"),
    Float64MultiArray: ("std_msgs.msg", "Float64MultiArray"),
    Bool: ("std_msgs.msg", "Bool"),
    Image: ("sensor_msgs.msg", "Image"),
    CompressedImage: ("sensor_msgs.msg", "CompressedImage"),
}


def ros_class(msg_type: type[Message]) -> type:
    """The ROS 2 Python class of a message dataclass (e.g. sensor_msgs.msg.JointState for JointState)."""
    if msg_type not in ROS2_CLASSES:
        raise TypeError(f"the ROS 2 backend does not carry {msg_type.__name__}")
    module, name = ROS2_CLASSES[msg_type]
    return getattr(importlib.import_module(module), name)


def _floats(values: np.ndarray) -> array.array:
    return array.array("d", np.asarray(values, dtype=np.float64).tolist())


def _bytes(data: Any) -> bytes:
    """A uint8[] field as bytes: array.array('B') (rclpy's), bytes, or a sequence of ints."""
    return data.tobytes() if isinstance(data, array.array) else bytes(data)


def _time_to(t: Time | Duration, msg_type: type[Message]) -> Any:
    return ros_class(msg_type)(sec=t.sec, nanosec=t.nanosec)


def _header_to(h: Header) -> Any:
    return ros_class(Header)(stamp=_time_to(h.stamp, Time), frame_id=h.frame_id)


def _point_to(p: JointTrajectoryPoint) -> Any:
    return ros_class(JointTrajectoryPoint)(
        positions=_floats(p.positions), velocities=_floats(p.velocities), accelerations=_floats(p.accelerations),
        effort=_floats(p.effort), time_from_start=_time_to(p.time_from_start, Duration))


def to_ros(msg: Message) -> Any:
    """The ROS 2 Python message with ``msg``'s fields (a Ros1Header loses its seq: ROS 2's Header has none)."""
    if isinstance(msg, JointState):
        return ros_class(JointState)(header=_header_to(msg.header), name=list(msg.name),
                                     position=_floats(msg.position), velocity=_floats(msg.velocity),
                                     effort=_floats(msg.effort))
    if isinstance(msg, JointTrajectory):
        return ros_class(JointTrajectory)(header=_header_to(msg.header), joint_names=list(msg.joint_names),
                                          points=[_point_to(p) for p in msg.points])
    if isinstance(msg, JointTrajectoryPoint):
        return _point_to(msg)
    if isinstance(msg, Float64MultiArray):
        return ros_class(Float64MultiArray)(layout=_layout_to(msg.layout), data=_floats(msg.data))
    if isinstance(msg, MultiArrayLayout):
        return _layout_to(msg)
    if isinstance(msg, MultiArrayDimension):
        return _dimension_to(msg)
    if isinstance(msg, Bool):
        return ros_class(Bool)(data=msg.data)
    if isinstance(msg, Image):
        return ros_class(Image)(header=_header_to(msg.header), height=msg.height, width=msg.width,
                                encoding=msg.encoding, is_bigendian=msg.is_bigendian, step=msg.step,
                                data=array.array("B", msg.data))
    if isinstance(msg, CompressedImage):
        return ros_class(CompressedImage)(header=_header_to(msg.header), format=msg.format,
                                          data=array.array("B", msg.data))
    if isinstance(msg, Header):
        return _header_to(msg)
    if isinstance(msg, (Time, Duration)):
        return _time_to(msg, type(msg))
    raise TypeError(f"the ROS 2 backend does not carry {type(msg).__name__}")


def _dimension_to(d: MultiArrayDimension) -> Any:
    return ros_class(MultiArrayDimension)(label=d.label, size=d.size, stride=d.stride)


def _layout_to(m: MultiArrayLayout) -> Any:
    return ros_class(MultiArrayLayout)(dim=[_dimension_to(d) for d in m.dim], data_offset=m.data_offset)


def _header_from(h: Any) -> Header:
    return Header(stamp=Time(sec=h.stamp.sec, nanosec=h.stamp.nanosec), frame_id=h.frame_id)


def _point_from(p: Any) -> JointTrajectoryPoint:
    return JointTrajectoryPoint(positions=p.positions, velocities=p.velocities, accelerations=p.accelerations,
                                effort=p.effort,
                                time_from_start=Duration(sec=p.time_from_start.sec, nanosec=p.time_from_start.nanosec))


def _layout_from(m: Any) -> MultiArrayLayout:
    return MultiArrayLayout(dim=[MultiArrayDimension(label=d.label, size=d.size, stride=d.stride) for d in m.dim],
                            data_offset=m.data_offset)


def from_ros(obj: Any, msg_type: type[Message]) -> Message:
    """The ``msg_type`` dataclass with the fields of the ROS 2 Python message ``obj``."""
    if msg_type is JointState:
        return JointState(header=_header_from(obj.header), name=list(obj.name), position=obj.position,
                          velocity=obj.velocity, effort=obj.effort)
    if msg_type is JointTrajectory:
        return JointTrajectory(header=_header_from(obj.header), joint_names=list(obj.joint_names),
                               points=[_point_from(p) for p in obj.points])
    if msg_type is JointTrajectoryPoint:
        return _point_from(obj)
    if msg_type is Float64MultiArray:
        return Float64MultiArray(layout=_layout_from(obj.layout), data=obj.data)
    if msg_type is MultiArrayLayout:
        return _layout_from(obj)
    if msg_type is MultiArrayDimension:
        return MultiArrayDimension(label=obj.label, size=obj.size, stride=obj.stride)
    if msg_type is Bool:
        return Bool(data=bool(obj.data))
    if msg_type is Image:
        return Image(header=_header_from(obj.header), height=obj.height, width=obj.width, encoding=obj.encoding,
                     is_bigendian=obj.is_bigendian, step=obj.step, data=_bytes(obj.data))
    if msg_type is CompressedImage:
        return CompressedImage(header=_header_from(obj.header), format=obj.format, data=_bytes(obj.data))
    if msg_type is Header:
        return _header_from(obj)
    if msg_type in (Time, Duration):
        return msg_type(sec=obj.sec, nanosec=obj.nanosec)
    raise TypeError(f"the ROS 2 backend does not carry {msg_type.__name__}")
