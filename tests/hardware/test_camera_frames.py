"""hardware/camera_frames.py: which message a camera topic carries, frames to (H, W, 3) uint8 RGB, and the sim node's
pixels to messages."""

from __future__ import annotations

import numpy as np
import pytest

from hardware.camera_frames import camera_message_type, frame_to_rgb, rgb_to_message
from hardware.messages import CompressedImage, Image, numpy_to_image

RGB = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)


def test_a_topic_ending_in_compressed_carries_compressed_images():
    assert camera_message_type("/camera/color/image_raw") is Image
    assert camera_message_type("/camera/color/image_raw/compressed") is CompressedImage
    assert camera_message_type("/camera/compressed_depth") is Image


@pytest.mark.parametrize("encoding, pixels", [
    ("rgb8", RGB), ("bgr8", RGB[..., ::-1]), ("rgba8", np.concatenate([RGB, np.full((4, 5, 1), 7, np.uint8)], 2)),
    ("bgra8", np.concatenate([RGB[..., ::-1], np.full((4, 5, 1), 7, np.uint8)], 2)),
])
def test_every_colour_encoding_becomes_rgb(encoding, pixels):
    rgb = frame_to_rgb(numpy_to_image(np.ascontiguousarray(pixels), encoding, stamp=1.0))
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 5, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, RGB)


def test_mono8_is_grey_in_three_channels_and_other_encodings_are_refused():
    grey = RGB[..., 0]
    rgb = frame_to_rgb(numpy_to_image(grey, "mono8", stamp=1.0))
    np.testing.assert_array_equal(rgb, np.repeat(grey[..., None], 3, axis=2))
    with pytest.raises(ValueError, match="unsupported image encoding '16UC1'"):
        frame_to_rgb(Image(height=1, width=1, encoding="16UC1", step=2, data=b"\x00\x00"))


def test_the_sim_nodes_messages_carry_the_pixels_and_stamp_losslessly():
    raw = rgb_to_message(RGB, Image, 1_700_000_000.25, frame_id="overhead")
    assert raw.encoding == "rgb8" and raw.header.frame_id == "overhead"
    assert raw.header.stamp.to_seconds() == pytest.approx(1_700_000_000.25, abs=1e-6)  # as Time.from_seconds gives
    np.testing.assert_array_equal(frame_to_rgb(raw), RGB)
    compressed = rgb_to_message(RGB, CompressedImage, 1_700_000_000.25)
    assert compressed.format == "png" and compressed.data.startswith(b"\x89PNG")
    np.testing.assert_array_equal(frame_to_rgb(compressed), RGB)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 pixels"):
        rgb_to_message(RGB[..., 0], CompressedImage, 1.0)


def test_a_compressed_frame_that_does_not_decode_says_so():
    with pytest.raises(ValueError, match="CompressedImage \\(format 'jpeg', 5 bytes\\) does not decode"):
        frame_to_rgb(CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0\x00"))
