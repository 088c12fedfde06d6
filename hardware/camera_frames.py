"""Camera frames between ROS messages and the policy: which message type a camera topic carries, a received frame
as (H, W, 3) uint8 RGB pixels, and the sim node's pixels as a message.

A camera topic in a robot config (``cameras: {policy obs key: topic}``) carries sensor_msgs/Image, unless its name
ends in ``/compressed`` (image_transport's name for the compressed stream, e.g. ``/camera/color/image_raw/compressed``):
then sensor_msgs/CompressedImage (png or jpeg; decoding needs Pillow, ``pip install pillow``).
"""

from __future__ import annotations

import io

import numpy as np

from hardware.messages import CompressedImage, Header, Image, Time, image_to_numpy, numpy_to_image

COMPRESSED_SUFFIX = "/compressed"
CameraMessage = Image | CompressedImage


def camera_message_type(topic: str) -> type[Image] | type[CompressedImage]:
    """The message type on the camera topic ``topic``: CompressedImage for ".../compressed", else Image."""
    return CompressedImage if topic.rstrip("/").endswith(COMPRESSED_SUFFIX) else Image


def _pillow():  # noqa: ANN202 - the PIL.Image module
    try:
        from PIL import Image as PILImage
    except ImportError as exc:
        raise ImportError(f"a camera topic ending in {COMPRESSED_SUFFIX} carries sensor_msgs/CompressedImage, which "
                          "needs Pillow to decode (pip install pillow); or subscribe to the raw image topic instead "
                          "(drop the suffix)") from exc
    return PILImage


def _image_rgb(msg: Image) -> np.ndarray:
    pixels = image_to_numpy(msg)  # (H, W, C) in the encoding's channel order; ValueError for a malformed message
    if msg.encoding in ("rgb8", "rgba8"):
        return np.ascontiguousarray(pixels[..., :3])
    if msg.encoding in ("bgr8", "bgra8"):
        return np.ascontiguousarray(pixels[..., 2::-1])
    return np.repeat(pixels, 3, axis=2)  # mono8: grey in all three channels


def _compressed_rgb(msg: CompressedImage) -> np.ndarray:
    pil = _pillow()
    try:
        with pil.open(io.BytesIO(msg.data)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError) as exc:
        raise ValueError(f"CompressedImage (format {msg.format!r}, {len(msg.data)} bytes) does not decode as an "
                         f"image ({exc}); the camera driver must publish png or jpeg") from exc


def frame_to_rgb(msg: CameraMessage) -> np.ndarray:
    """The pixels of a received frame as a new (H, W, 3) uint8 RGB array.

    Image: rgb8 / rgba8 as stored (alpha dropped), bgr8 / bgra8 reversed to RGB, mono8 repeated into three channels;
    ValueError for another encoding or a malformed message. CompressedImage: decoded with Pillow.
    """
    if isinstance(msg, CompressedImage):
        return _compressed_rgb(msg)
    return _image_rgb(msg)


def rgb_to_message(pixels: np.ndarray, msg_type: type[Image] | type[CompressedImage], stamp: float,
                   frame_id: str = "") -> CameraMessage:
    """The (H, W, 3) uint8 RGB ``pixels`` as an rgb8 Image, or a lossless png CompressedImage, stamped ``stamp``
    (seconds since the epoch)."""
    if msg_type is Image:
        return numpy_to_image(pixels, "rgb8", stamp=stamp, frame_id=frame_id)
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"a png frame is made of (H, W, 3) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    buffer = io.BytesIO()
    _pillow().fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return CompressedImage(header=Header(stamp=Time.from_seconds(stamp), frame_id=frame_id), format="png",
                           data=buffer.getvalue())
