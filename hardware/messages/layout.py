"""The field order of every message, written once for both wire formats.

ROS 1 and ROS 2 (CDR) both lay a message out field by field in definition order, nested messages inline and variable
arrays as a uint32 count followed by the elements. They differ only in how primitives are encoded (CDR aligns them and
NUL-terminates strings) and in std_msgs/Header, which has `seq` only in ROS 1. `Encoder` and `Decoder` capture exactly
those differences; ros1.py and cdr.py implement them.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, TypeVar

import numpy as np

from hardware.messages.types import (
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
    Ros1Header,
    Time,
)

M = TypeVar("M", bound=Message)


class Encoder(Protocol):
    """Writes primitives in one wire format."""

    header_has_seq: bool

    def u8(self, value: int) -> None: ...
    def u32(self, value: int) -> None: ...
    def i32(self, value: int) -> None: ...
    def string(self, value: str) -> None: ...
    def float64s(self, values: np.ndarray) -> None: ...
    def uint8s(self, data: bytes) -> None: ...


class Decoder(Protocol):
    """Reads primitives in one wire format."""

    header_has_seq: bool

    def u8(self) -> int: ...
    def u32(self) -> int: ...
    def i32(self) -> int: ...
    def string(self) -> str: ...
    def float64s(self) -> np.ndarray: ...
    def uint8s(self) -> bytes: ...


# --- encoding -------------------------------------------------------------------------------------------------------


def _encode_time(w: Encoder, t: Time | Duration) -> None:
    w.i32(t.sec)
    w.u32(t.nanosec)


def _encode_header(w: Encoder, h: Header) -> None:
    if w.header_has_seq:
        w.u32(h.seq if isinstance(h, Ros1Header) else 0)
    _encode_time(w, h.stamp)
    w.string(h.frame_id)


def _encode_strings(w: Encoder, items: list[str]) -> None:
    w.u32(len(items))
    for item in items:
        w.string(item)


def _encode_joint_state(w: Encoder, m: JointState) -> None:
    _encode_header(w, m.header)
    _encode_strings(w, m.name)
    w.float64s(m.position)
    w.float64s(m.velocity)
    w.float64s(m.effort)


def _encode_trajectory_point(w: Encoder, p: JointTrajectoryPoint) -> None:
    w.float64s(p.positions)
    w.float64s(p.velocities)
    w.float64s(p.accelerations)
    w.float64s(p.effort)
    _encode_time(w, p.time_from_start)


def _encode_trajectory(w: Encoder, m: JointTrajectory) -> None:
    _encode_header(w, m.header)
    _encode_strings(w, m.joint_names)
    w.u32(len(m.points))
    for point in m.points:
        _encode_trajectory_point(w, point)


def _encode_dimension(w: Encoder, d: MultiArrayDimension) -> None:
    w.string(d.label)
    w.u32(d.size)
    w.u32(d.stride)


def _encode_layout(w: Encoder, m: MultiArrayLayout) -> None:
    w.u32(len(m.dim))
    for dim in m.dim:
        _encode_dimension(w, dim)
    w.u32(m.data_offset)


def _encode_float64_multiarray(w: Encoder, m: Float64MultiArray) -> None:
    _encode_layout(w, m.layout)
    w.float64s(m.data)


def _encode_bool(w: Encoder, m: Bool) -> None:
    w.u8(1 if m.data else 0)


def _encode_image(w: Encoder, m: Image) -> None:
    _encode_header(w, m.header)
    w.u32(m.height)
    w.u32(m.width)
    w.string(m.encoding)
    w.u8(m.is_bigendian)
    w.u32(m.step)
    w.uint8s(m.data)


def _encode_compressed_image(w: Encoder, m: CompressedImage) -> None:
    _encode_header(w, m.header)
    w.string(m.format)
    w.uint8s(m.data)


_ENCODERS: dict[type, Callable[[Encoder, Any], None]] = {
    Time: _encode_time,
    Duration: _encode_time,
    Header: _encode_header,
    Ros1Header: _encode_header,
    JointState: _encode_joint_state,
    JointTrajectoryPoint: _encode_trajectory_point,
    JointTrajectory: _encode_trajectory,
    MultiArrayDimension: _encode_dimension,
    MultiArrayLayout: _encode_layout,
    Float64MultiArray: _encode_float64_multiarray,
    Bool: _encode_bool,
    Image: _encode_image,
    CompressedImage: _encode_compressed_image,
}


def encode(w: Encoder, msg: Message) -> None:
    """Write `msg` field by field to `w`."""
    try:
        encode_fields = _ENCODERS[type(msg)]
    except KeyError:
        raise TypeError(f"cannot serialize a {type(msg).__name__}; supported messages: {_supported()}") from None
    encode_fields(w, msg)


# --- decoding -------------------------------------------------------------------------------------------------------
# Keyword arguments are evaluated left to right, so the constructor calls below read fields in wire order.


def _decode_time(r: Decoder) -> Time:
    return Time(sec=r.i32(), nanosec=r.u32())


def _decode_duration(r: Decoder) -> Duration:
    return Duration(sec=r.i32(), nanosec=r.u32())


def _decode_header(r: Decoder) -> Header:
    if r.header_has_seq:
        seq = r.u32()
        return Ros1Header(seq=seq, stamp=_decode_time(r), frame_id=r.string())
    return Header(stamp=_decode_time(r), frame_id=r.string())


def _decode_strings(r: Decoder) -> list[str]:
    return [r.string() for _ in range(r.u32())]


def _decode_joint_state(r: Decoder) -> JointState:
    return JointState(
        header=_decode_header(r), name=_decode_strings(r), position=r.float64s(), velocity=r.float64s(),
        effort=r.float64s(),
    )


def _decode_trajectory_point(r: Decoder) -> JointTrajectoryPoint:
    return JointTrajectoryPoint(
        positions=r.float64s(), velocities=r.float64s(), accelerations=r.float64s(), effort=r.float64s(),
        time_from_start=_decode_duration(r),
    )


def _decode_trajectory(r: Decoder) -> JointTrajectory:
    header = _decode_header(r)
    joint_names = _decode_strings(r)
    points = [_decode_trajectory_point(r) for _ in range(r.u32())]
    return JointTrajectory(header=header, joint_names=joint_names, points=points)


def _decode_dimension(r: Decoder) -> MultiArrayDimension:
    return MultiArrayDimension(label=r.string(), size=r.u32(), stride=r.u32())


def _decode_layout(r: Decoder) -> MultiArrayLayout:
    dims = [_decode_dimension(r) for _ in range(r.u32())]
    return MultiArrayLayout(dim=dims, data_offset=r.u32())


def _decode_float64_multiarray(r: Decoder) -> Float64MultiArray:
    return Float64MultiArray(layout=_decode_layout(r), data=r.float64s())


def _decode_bool(r: Decoder) -> Bool:
    return Bool(data=r.u8() != 0)


def _decode_image(r: Decoder) -> Image:
    return Image(
        header=_decode_header(r), height=r.u32(), width=r.u32(), encoding=r.string(), is_bigendian=r.u8(),
        step=r.u32(), data=r.uint8s(),
    )


def _decode_compressed_image(r: Decoder) -> CompressedImage:
    return CompressedImage(header=_decode_header(r), format=r.string(), data=r.uint8s())


_DECODERS: dict[type, Callable[[Decoder], Message]] = {
    Time: _decode_time,
    Duration: _decode_duration,
    Header: _decode_header,
    JointState: _decode_joint_state,
    JointTrajectoryPoint: _decode_trajectory_point,
    JointTrajectory: _decode_trajectory,
    MultiArrayDimension: _decode_dimension,
    MultiArrayLayout: _decode_layout,
    Float64MultiArray: _decode_float64_multiarray,
    Bool: _decode_bool,
    Image: _decode_image,
    CompressedImage: _decode_compressed_image,
}


def decode(r: Decoder, msg_type: type[M]) -> M:
    """Read one `msg_type` field by field from `r`."""
    try:
        decode_fields = _DECODERS[msg_type]
    except KeyError:
        raise TypeError(f"cannot deserialize a {msg_type.__name__}; supported messages: {_supported()}") from None
    return decode_fields(r)  # type: ignore[return-value]


def _supported() -> str:
    return ", ".join(cls.__name__ for cls in _DECODERS)
