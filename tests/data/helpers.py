"""Small synthetic robomimic files for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robopolicy.data import RobomimicWriter

ENV_ARGS = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {}}


def demo_arrays(length: int, offset: float = 0.0, image: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """obs (agent_pos (T,2) = [offset+t, -t], optional image (T,8,8,3)) and actions (T,2) = [offset+t, 10t]."""
    t = np.arange(length, dtype=np.float64)
    obs = {"agent_pos": np.stack([offset + t, -t], axis=1)}
    if image:
        obs["cam_image"] = np.broadcast_to((t % 256).astype(np.uint8)[:, None, None, None], (length, 8, 8, 3)).copy()
    return obs, np.stack([offset + t, 10 * t], axis=1)


def write_file(path: Path, lengths: tuple[int, ...] = (5, 3, 7), image: bool = False, **writer_kwargs) -> Path:
    with RobomimicWriter(path, ENV_ARGS, **writer_kwargs) as writer:
        for i, length in enumerate(lengths):
            obs, actions = demo_arrays(length, offset=100.0 * i, image=image)
            writer.add_demo(obs, actions, attrs={"seed": i})
    return path
