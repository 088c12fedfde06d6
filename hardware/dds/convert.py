"""hardware.messages dataclasses <-> the cyclonedds IDL objects of hardware/dds/idl.py, field by field.

``to_idl(msg)`` gives the IdlStruct to write on a DataWriter; ``from_idl(obj)`` the dataclass of a received sample.
Float arrays cross as lists (what cyclonedds' sequence<double> serializer takes) and come back as float64 arrays.

Image and CompressedImage (RAW_CDR_TYPES) convert too, with their data as a list of ints, but only for checking:
the participant sends and receives them as raw hardware.messages.cdr bytes, since cyclonedds' Python serializer
takes ~65 ms for a 640x480 RGB frame's sequence<uint8>.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from cyclonedds.idl import IdlStruct

from hardware.dds import idl
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

# message dataclass -> its IDL type
IDL_TYPES: dict[type[Message], type[IdlStruct]] = {
    Time: idl.Time,
    Duration: idl.Duration,
    Header: idl.Header,
    JointState: idl.JointState,
    JointTrajectoryPoint: idl.JointTrajectoryPoint,
    JointTrajectory: idl.JointTrajectory,
    MultiArrayDimension: idl.MultiArrayDimension,
    MultiArrayLayout: idl.MultiArrayLayout,
    Float64MultiArray: idl.Float64MultiArray,
    Bool: idl.Bool,
    Image: idl.Image,
    CompressedImage: idl.CompressedImage,
}
# Sent and received as hardware.messages.cdr bytes, not through cyclonedds' Python serializer (see the docstring).
RAW_CDR_TYPES: frozenset[type[Message]] = frozenset({Image, CompressedImage})


def _floats(values: np.ndarray) -> list[float]:
    return np.asarray(values, dtype=np.float64).tolist()


def _time_to(t: Time | Duration) -> IdlStruct:
    return IDL_TYPES[type(t)](sec=t.sec, nanosec=t.nanosec)


def _header_to(h: Header) -> idl.Header:
    return idl.Header(stamp=idl.Time(sec=h.stamp.sec, nanosec=h.stamp.nanosec), frame_id=h.frame_id)


def _joint_state_to(m: JointState) -> idl.JointState:
    return idl.JointState(header=_header_to(m.header), name=list(m.name), position=_floats(m.position),
                          velocity=_floats(m.velocity), effort=_floats(m.effort))


def _point_to(p: JointTrajectoryPoint) -> idl.JointTrajectoryPoint:
    return idl.JointTrajectoryPoint(
        positions=_floats(p.positions), velocities=_floats(p.velocities), accelerations=_floats(p.accelerations),
        effort=_floats(p.effort),
        time_from_start=idl.Duration(sec=p.time_from_start.sec, nanosec=p.time_from_start.nanosec),
    )


def _trajectory_to(m: JointTrajectory) -> idl.JointTrajectory:
    return idl.JointTrajectory(header=_header_to(m.header), joint_names=list(m.joint_names),
                               points=[_point_to(p) for p in m.points])


def _dimension_to(d: MultiArrayDimension) -> idl.MultiArrayDimension:
    return idl.MultiArrayDimension(label=d.label, size=d.size, stride=d.stride)


def _layout_to(m: MultiArrayLayout) -> idl.MultiArrayLayout:
    return idl.MultiArrayLayout(dim=[_dimension_to(d) for d in m.dim], data_offset=m.data_offset)


def _multiarray_to(m: Float64MultiArray) -> idl.Float64MultiArray:
    return idl.Float64MultiArray(layout=_layout_to(m.layout), data=_floats(m.data))


def _bool_to(m: Bool) -> idl.Bool:
    return idl.Bool(data=m.data)


def _image_to(m: Image) -> idl.Image:
    return idl.Image(header=_header_to(m.header), height=m.height, width=m.width, encoding=m.encoding,
                     is_bigendian=m.is_bigendian, step=m.step, data=list(m.data))


def _compressed_to(m: CompressedImage) -> idl.CompressedImage:
    return idl.CompressedImage(header=_header_to(m.header), format=m.format, data=list(m.data))


def _time_from(t: idl.Time) -> Time:
    return Time(sec=t.sec, nanosec=t.nanosec)


def _duration_from(t: idl.Duration) -> Duration:
    return Duration(sec=t.sec, nanosec=t.nanosec)


def _header_from(h: idl.Header) -> Header:
    return Header(stamp=_time_from(h.stamp), frame_id=h.frame_id)


def _joint_state_from(m: idl.JointState) -> JointState:
    return JointState(header=_header_from(m.header), name=list(m.name), position=m.position, velocity=m.velocity,
                      effort=m.effort)


def _point_from(p: idl.JointTrajectoryPoint) -> JointTrajectoryPoint:
    return JointTrajectoryPoint(positions=p.positions, velocities=p.velocities, accelerations=p.accelerations,
                                effort=p.effort, time_from_start=_duration_from(p.time_from_start))


def _trajectory_from(m: idl.JointTrajectory) -> JointTrajectory:
    return JointTrajectory(header=_header_from(m.header), joint_names=list(m.joint_names),
                           points=[_point_from(p) for p in m.points])


def _dimension_from(d: idl.MultiArrayDimension) -> MultiArrayDimension:
    return MultiArrayDimension(label=d.label, size=d.size, stride=d.stride)


def _layout_from(m: idl.MultiArrayLayout) -> MultiArrayLayout:
    return MultiArrayLayout(dim=[_dimension_from(d) for d in m.dim], data_offset=m.data_offset)


def _multiarray_from(m: idl.Float64MultiArray) -> Float64MultiArray:
    return Float64MultiArray(layout=_layout_from(m.layout), data=m.data)


def _bool_from(m: idl.Bool) -> Bool:
    return Bool(data=bool(m.data))


def _image_from(m: idl.Image) -> Image:
    return Image(header=_header_from(m.header), height=m.height, width=m.width, encoding=m.encoding,
                 is_bigendian=m.is_bigendian, step=m.step, data=bytes(m.data))


def _compressed_from(m: idl.CompressedImage) -> CompressedImage:
    return CompressedImage(header=_header_from(m.header), format=m.format, data=bytes(m.data))


_TO_IDL: dict[type, Callable[[Any], IdlStruct]] = {
    Time: _time_to, Duration: _time_to, Header: _header_to, JointState: _joint_state_to,
    JointTrajectoryPoint: _point_to, JointTrajectory: _trajectory_to, MultiArrayDimension: _dimension_to,
    MultiArrayLayout: _layout_to, Float64MultiArray: _multiarray_to, Bool: _bool_to, Image: _image_to,
    CompressedImage: _compressed_to,
}
_FROM_IDL: dict[type, Callable[[Any], Message]] = {
    idl.Time: _time_from, idl.Duration: _duration_from, idl.Header: _header_from, idl.JointState: _joint_state_from,
    idl.JointTrajectoryPoint: _point_from, idl.JointTrajectory: _trajectory_from,
    idl.MultiArrayDimension: _dimension_from, idl.MultiArrayLayout: _layout_from,
    idl.Float64MultiArray: _multiarray_from, idl.Bool: _bool_from, idl.Image: _image_from,
    idl.CompressedImage: _compressed_from,
}


def idl_type(msg_type: type[Message]) -> type[IdlStruct]:
    """The IDL type that carries ``msg_type`` on DDS; TypeError (listing the supported ones) for any other."""
    try:
        return IDL_TYPES[msg_type]
    except KeyError:
        raise TypeError(f"the DDS backend has no IDL type for {msg_type.__name__}; supported: "
                        f"{', '.join(t.__name__ for t in IDL_TYPES)}") from None


def to_idl(msg: Message) -> IdlStruct:
    """The IDL object of a hardware.messages message (a Ros1Header's seq is dropped, as ROS 2 has none)."""
    convert = _TO_IDL.get(type(msg)) or (_header_to if isinstance(msg, Header) else None)
    if convert is None:
        idl_type(type(msg))  # raises with the list of supported types
    return convert(msg)


def from_idl(obj: IdlStruct) -> Message:
    """The hardware.messages dataclass of an IDL object received from DDS."""
    try:
        convert = _FROM_IDL[type(obj)]
    except KeyError:
        raise TypeError(f"{type(obj).__name__} is not one of the DDS backend's IDL types "
                        f"({', '.join(t.__name__ for t in _FROM_IDL)})") from None
    return convert(obj)
