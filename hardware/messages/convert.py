"""numpy <-> message conversions the driver needs: joint states in, trajectories and setpoints out, camera images in.

Conversions check what a robot config or a camera driver can get wrong and say how to fix it, because on hardware a
silently reordered joint or a mis-strided image is worse than an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hardware.messages.types import (
    Duration,
    Float64MultiArray,
    Header,
    Image,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    MultiArrayDimension,
    MultiArrayLayout,
    Time,
)

# Channels per pixel of the 8-bit encodings image conversion supports (names as in sensor_msgs/image_encodings.h).
IMAGE_CHANNELS: dict[str, int] = {"mono8": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}


def _as_time(stamp: Time | float) -> Time:
    return stamp if isinstance(stamp, Time) else Time.from_seconds(stamp)


# --- joint states and trajectories ----------------------------------------------------------------------------------


def joint_state_to_numpy(msg: JointState, joint_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions and velocities of `joint_names`, in that order, from a JointState that may list joints in any order.

    Joints the message has beyond `joint_names` (a gripper, say) are ignored. Returns (positions, velocities) as
    float64 arrays of length len(joint_names); velocities is None when the message carries none (an empty velocity
    array, which ROS allows). Raises ValueError naming the joints the message lacks, or when its arrays are malformed.
    """
    n = len(msg.name)
    if len(msg.position) != n:
        raise ValueError(f"JointState has {n} names but {len(msg.position)} positions; the publisher is malformed")
    if len(msg.velocity) not in (0, n):
        raise ValueError(f"JointState has {n} names but {len(msg.velocity)} velocities (expected 0 or {n})")
    index = {name: i for i, name in enumerate(msg.name)}
    if len(index) != n:
        duplicates = sorted({name for name in msg.name if msg.name.count(name) > 1})
        raise ValueError(f"JointState lists joints {duplicates} more than once")
    missing = [name for name in joint_names if name not in index]
    if missing:
        raise ValueError(
            f"JointState is missing joints {missing}; it has {list(msg.name)}. Make the joint names in the robot "
            "config match the names the arm's driver publishes."
        )
    order = np.array([index[name] for name in joint_names], dtype=np.intp)
    velocities = msg.velocity[order] if len(msg.velocity) else None
    return msg.position[order], velocities


def numpy_to_joint_trajectory(
    positions: np.ndarray, dt: float, joint_names: Sequence[str], stamp: Time | float, frame_id: str = ""
) -> JointTrajectory:
    """A JointTrajectory through the rows of `positions` (T, J), row i reached at time_from_start = i * dt seconds.

    `stamp` (a Time or float seconds since the epoch) is when the trajectory starts; `joint_names` names the J columns.
    Only positions are set; the controller interpolates velocities.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2:
        raise ValueError(f"positions must be a (T, J) array of joint positions, got shape {positions.shape}")
    if positions.shape[1] != len(joint_names):
        raise ValueError(
            f"positions has {positions.shape[1]} columns but {len(joint_names)} joint names were given: "
            f"{list(joint_names)}"
        )
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    points = [
        # round(i * dt * 1e9) keeps each time exact to the nanosecond instead of accumulating a rounded dt.
        JointTrajectoryPoint(positions=row.copy(), time_from_start=Duration.from_seconds(i * dt))
        for i, row in enumerate(positions)
    ]
    return JointTrajectory(
        header=Header(stamp=_as_time(stamp), frame_id=frame_id), joint_names=list(joint_names), points=points
    )


# --- streamed setpoints -------------------------------------------------------------------------------------------


def numpy_to_float64_multiarray(values: np.ndarray, label: str = "") -> Float64MultiArray:
    """A Float64MultiArray holding the 1-D `values`, its layout one dimension named `label`."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {data.shape}; flatten it (values.ravel()) if that is meant")
    n = len(data)
    layout = MultiArrayLayout(dim=[MultiArrayDimension(label=label, size=n, stride=n)], data_offset=0)
    return Float64MultiArray(layout=layout, data=data.copy())


def float64_multiarray_to_numpy(msg: Float64MultiArray) -> np.ndarray:
    """The data of a 1-D Float64MultiArray (after `layout.data_offset` padding elements) as a float64 array.

    A layout without dimensions is accepted (many publishers leave it empty); one with several dimensions, or whose
    size disagrees with the data, is refused.
    """
    offset = msg.layout.data_offset
    if offset > len(msg.data):
        raise ValueError(f"Float64MultiArray data_offset {offset} is beyond its {len(msg.data)} values")
    data = msg.data[offset:]
    dims = msg.layout.dim
    if len(dims) > 1:
        raise ValueError(f"expected a 1-D Float64MultiArray, its layout has {len(dims)} dimensions")
    if dims and dims[0].size != len(data):
        raise ValueError(
            f"Float64MultiArray layout says {dims[0].size} values but it holds {len(data)} after data_offset {offset}"
        )
    return data.copy()


# --- images -------------------------------------------------------------------------------------------------------


def _channels(encoding: str) -> int:
    try:
        return IMAGE_CHANNELS[encoding]
    except KeyError:
        raise ValueError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(IMAGE_CHANNELS)}. Set the camera driver "
            "to one of these, or add the encoding to IMAGE_CHANNELS if it is 8 bits per channel."
        ) from None


def image_to_numpy(msg: Image) -> np.ndarray:
    """The pixels of an 8-bit Image as a new (H, W, C) uint8 array, channels in the order `encoding` names them.

    Rows may be padded (step > width * channels); the padding is dropped. mono8 gives C = 1. bgr8/bgra8 are returned
    as stored (blue first): reverse the channels (`arr[..., 2::-1]`) where RGB is needed.
    """
    channels = _channels(msg.encoding)
    row_bytes = msg.width * channels
    if msg.step < row_bytes:
        raise ValueError(
            f"Image step {msg.step} is less than width * channels = {msg.width} * {channels} = {row_bytes} for "
            f"{msg.encoding}; the publisher filled step wrongly (it must be the bytes per row, padding included)"
        )
    expected = msg.height * msg.step
    if len(msg.data) != expected:
        raise ValueError(
            f"Image data has {len(msg.data)} bytes but height * step = {msg.height} * {msg.step} = {expected}; "
            "height, step and data disagree, so the message is malformed"
        )
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    return rows[:, :row_bytes].reshape(msg.height, msg.width, channels).copy()


def numpy_to_image(pixels: np.ndarray, encoding: str, stamp: Time | float, frame_id: str = "") -> Image:
    """An Image of the uint8 (H, W, C) `pixels` (or (H, W) for mono8), unpadded, stored as `encoding` says.

    `stamp` (a Time or float seconds since the epoch) is when the pixels were captured. The channels are written as
    given: pass RGB pixels with "rgb8", BGR pixels with "bgr8".
    """
    channels = _channels(encoding)
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(
            f"pixels must be uint8, got {pixels.dtype}; convert e.g. with np.clip(x * 255, 0, 255).astype(np.uint8)"
        )
    if pixels.ndim == 2 and channels == 1:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] != channels:
        raise ValueError(
            f"{encoding} needs pixels of shape (H, W, {channels}), got {pixels.shape}; pick the encoding that "
            "matches the channel count"
        )
    height, width, _ = pixels.shape
    return Image(
        header=Header(stamp=_as_time(stamp), frame_id=frame_id), height=height, width=width, encoding=encoding,
        is_bigendian=0, step=width * channels, data=np.ascontiguousarray(pixels).tobytes(),
    )
