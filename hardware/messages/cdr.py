"""ROS 2 wire format (little-endian plain CDR, as rmw implementations send it): serialize messages, and back.

The bytes start with the 4-byte encapsulation header 00 01 00 00 (CDR, little-endian, no options). After it every
primitive is aligned to its own size, counted from the end of that header; strings are a uint32 length that includes
a terminating NUL, then the bytes and the NUL; variable arrays are a uint32 count, then the elements.
"""

from __future__ import annotations

import struct

import numpy as np

from hardware.messages.layout import M, decode, encode
from hardware.messages.types import Message, as_bytes, float64_vector

ENCAPSULATION_HEADER = b"\x00\x01\x00\x00"
_PADDING = bytes(8)
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


class _Writer:
    """Collects a message's encoded fields, padding each primitive to its alignment."""

    header_has_seq = False

    def __init__(self) -> None:
        self._chunks: list[bytes] = [ENCAPSULATION_HEADER]
        self._pos = 0  # bytes written after the encapsulation header

    def _put(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._pos += len(chunk)

    def _align(self, size: int) -> None:
        pad = -self._pos % size
        if pad:
            self._put(_PADDING[:pad])

    def u8(self, value: int) -> None:
        self._put(_U8.pack(value))

    def u32(self, value: int) -> None:
        self._align(4)
        self._put(_U32.pack(value))

    def i32(self, value: int) -> None:
        self._align(4)
        self._put(_I32.pack(value))

    def string(self, value: str) -> None:
        encoded = value.encode("utf-8")
        self.u32(len(encoded) + 1)
        self._put(encoded + b"\x00")

    def float64s(self, values: np.ndarray) -> None:
        arr = float64_vector(values, "float64 array")
        self.u32(len(arr))
        if len(arr):  # an empty array is not padded to 8 (Fast-CDR and rosbags agree)
            self._align(8)
            self._put(arr.astype("<f8", copy=False).tobytes())

    def uint8s(self, data: bytes) -> None:
        data = as_bytes(data, "uint8 array")
        self.u32(len(data))
        self._put(data)

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


class _Reader:
    """Reads encoded fields after the encapsulation header, skipping alignment padding; never reads past the end."""

    header_has_seq = False

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        buf = memoryview(data).cast("B")
        if len(buf) < 4:
            raise ValueError(f"a CDR message starts with a 4-byte encapsulation header; got only {len(buf)} bytes")
        kind = bytes(buf[:2])
        if kind != ENCAPSULATION_HEADER[:2]:
            what = "big-endian CDR, which this reader does not support" if kind == b"\x00\x00" else "not plain CDR"
            raise ValueError(
                f"encapsulation header {bytes(buf[:4]).hex(' ')} is {what}; expected 00 01 00 00 "
                "(little-endian CDR, what ROS 2 sends)"
            )
        self._buf = buf[4:]
        self._pos = 0

    def _advance(self, size: int, align: int = 1) -> int:
        start = self._pos + (-self._pos % align)
        end = start + size
        if end > len(self._buf):
            raise ValueError(
                f"truncated CDR message: a field needs bytes up to {end + 4}, the message has {len(self._buf) + 4}"
            )
        self._pos = end
        return start

    def u8(self) -> int:
        return _U8.unpack_from(self._buf, self._advance(1))[0]

    def u32(self) -> int:
        return _U32.unpack_from(self._buf, self._advance(4, 4))[0]

    def i32(self) -> int:
        return _I32.unpack_from(self._buf, self._advance(4, 4))[0]

    def string(self) -> str:
        size = self.u32()
        start = self._advance(size)
        # The length counts the terminating NUL; drop it (a zero length, which no writer should send, reads as "").
        return str(self._buf[start : start + max(size - 1, 0)], "utf-8")

    def float64s(self) -> np.ndarray:
        count = self.u32()
        if not count:
            return np.zeros(0, dtype=np.float64)
        start = self._advance(8 * count, 8)
        return np.frombuffer(self._buf, dtype="<f8", count=count, offset=start).astype(np.float64)

    def uint8s(self) -> bytes:
        size = self.u32()
        start = self._advance(size)
        return self._buf[start : start + size].tobytes()

    def finish(self, msg_type: type) -> None:
        """Refuse bytes left over after the message beyond the up-to-3 padding bytes some writers append."""
        left = len(self._buf) - self._pos
        if left > 3:
            raise ValueError(
                f"{left} bytes left over after reading a {msg_type.__name__} from a {len(self._buf) + 4}-byte CDR "
                "message; are these bytes really that message type?"
            )


def serialize(msg: Message) -> bytes:
    """The ROS 2 CDR bytes of `msg`, encapsulation header included (what rmw and rosbag2 store)."""
    writer = _Writer()
    encode(writer, msg)
    return writer.getvalue()


def deserialize(data: bytes | bytearray | memoryview, msg_type: type[M]) -> M:
    """The `msg_type` message encoded in the ROS 2 CDR bytes `data` (encapsulation header included)."""
    reader = _Reader(data)
    msg = decode(reader, msg_type)
    reader.finish(msg_type)
    return msg
