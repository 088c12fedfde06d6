"""Write rendered frames to an mp4."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """Encode (H, W, 3) uint8 frames as an H.264 mp4 (any frame size; no macro-block resizing)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=1, quality=7) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path
