"""ROS 1 wire format: serialize messages to the bytes rospy/roscpp send, and back.

Little-endian, no alignment or padding; strings and variable arrays are a uint32 length followed by the bytes or
elements (strings without a terminating NUL). std_msgs/Header starts with a uint32 `seq`.
"""

from __future__ import annotations

import struct

import numpy as np

from hardware.messages.layout import M, decode, encode
from hardware.messages.types import Header, Message, Ros1Header, as_bytes, float64_vector

_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class _Writer:
    """Collects a message's encoded fields."""

    header_has_seq = True

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def u8(self, value: int) -> None:
        self._chunks.append(_U8.pack(value))

    def u32(self, value: int) -> None:
        self._chunks.append(_U32.pack(value))

    def i32(self, value: int) -> None:
        self._chunks.append(_I32.pack(value))

    def string(self, value: str) -> None:
        encoded = value.encode("utf-8")
        self.u32(len(encoded))
        self._chunks.append(encoded)

    def float64s(self, values: np.ndarray) -> None:
        arr = float64_vector(values, "float64 array")
        self.u32(len(arr))
        self._chunks.append(arr.astype("<f8", copy=False).tobytes())

    def uint8s(self, data: bytes) -> None:
        data = as_bytes(data, "uint8 array")
        self.u32(len(data))
        self._chunks.append(data)

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


class _Reader:
    """Reads encoded fields from the front of a buffer, refusing to read past its end."""

    header_has_seq = True

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._buf = memoryview(data).cast("B")
        self._pos = 0

    def _advance(self, size: int) -> int:
        start, end = self._pos, self._pos + size
        if end > len(self._buf):
            raise ValueError(
                f"truncated ROS 1 message: a field needs bytes up to {end}, the message has {len(self._buf)}"
            )
        self._pos = end
        return start

    def u8(self) -> int:
        return _U8.unpack_from(self._buf, self._advance(1))[0]

    def u32(self) -> int:
        return _U32.unpack_from(self._buf, self._advance(4))[0]

    def i32(self) -> int:
        return _I32.unpack_from(self._buf, self._advance(4))[0]

    def string(self) -> str:
        size = self.u32()
        start = self._advance(size)
        return str(self._buf[start : start + size], "utf-8")

    def float64s(self) -> np.ndarray:
        count = self.u32()
        start = self._advance(8 * count)
        return np.frombuffer(self._buf, dtype="<f8", count=count, offset=start).astype(np.float64)

    def uint8s(self) -> bytes:
        size = self.u32()
        start = self._advance(size)
        return self._buf[start : start + size].tobytes()

    def finish(self, msg_type: type) -> None:
        """Refuse bytes left over after the message: they mean the bytes hold a different type."""
        left = len(self._buf) - self._pos
        if left:
            raise ValueError(
                f"{left} bytes left over after reading a {msg_type.__name__} from a {len(self._buf)}-byte ROS 1 "
                "message; are these bytes really that message type?"
            )


def serialize(msg: Message) -> bytes:
    """The ROS 1 wire bytes of `msg` (without the uint32 message-length prefix TCPROS puts in front)."""
    writer = _Writer()
    encode(writer, msg)
    return writer.getvalue()


def deserialize(data: bytes | bytearray | memoryview, msg_type: type[M]) -> M:
    """The `msg_type` message encoded in the ROS 1 wire bytes `data`; headers come back as `Ros1Header`."""
    reader = _Reader(data)
    msg = decode(reader, Header if msg_type is Ros1Header else msg_type)  # type: ignore[arg-type]
    reader.finish(msg_type)
    return msg  # type: ignore[return-value]
