"""Windows of (To observations, Tp actions) cut from demos, padded at both ends like Diffusion Policy.

Window ``(demo, t)`` has current step t, for every step t of every demo:

    obs     steps t-To+1 .. t           (indices below 0 repeat the demo's first observation)
    action  steps t-To+1 .. t-To+Tp     (indices below 0 repeat the first action, past the end the last)

so the executed slice [To-1, To-1+Ta) of the action window starts at the current step, matching
``ChunkSpec.executed``. All demos are concatenated into flat arrays once, which makes a whole batch
one fancy-indexing gather (``get_batch``) instead of a Python loop over windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from robopolicy.core import ACTION_KEY, ChunkSpec
from robopolicy.data.reader import Demo


class SequenceDataset(torch.utils.data.Dataset):
    """One window per demo step. Items are ``{"obs": {key: (To, ...)}, "action": (Tp, Da)}`` in raw units."""

    def __init__(self, demos: Sequence[Demo], chunk_spec: ChunkSpec, obs_keys: Sequence[str] | None = None) -> None:
        if not demos:
            raise ValueError("SequenceDataset needs at least one demo")
        self.chunk_spec = chunk_spec
        self.obs_keys = list(obs_keys or demos[0].obs)
        lengths = np.array([len(d) for d in demos])
        self.demo_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # (num_demos,)
        self.demo_length = lengths
        # Per window: the demo it belongs to and its current step.
        self.window_demo = np.repeat(np.arange(len(demos)), lengths)  # (N,)
        self.window_step = np.concatenate([np.arange(n) for n in lengths])  # (N,)
        self.obs = {k: torch.from_numpy(np.concatenate([d.obs[k] for d in demos])) for k in self.obs_keys}
        self.actions = torch.from_numpy(np.concatenate([d.actions for d in demos]).astype(np.float32))
        self._obs_offsets = np.arange(-chunk_spec.obs_horizon + 1, 1)  # (To,)
        self._action_offsets = self._obs_offsets[0] + np.arange(chunk_spec.pred_horizon)  # (Tp,)

    def __len__(self) -> int:
        return len(self.window_step)

    @property
    def num_demos(self) -> int:
        return len(self.demo_start)

    def _rows(self, indices: np.ndarray, offsets: np.ndarray) -> torch.Tensor:
        """Flat row indices (B, len(offsets)) of steps t+offset, clipped into each window's demo."""
        demo = self.window_demo[indices]
        steps = np.clip(self.window_step[indices, None] + offsets[None], 0, self.demo_length[demo, None] - 1)
        return torch.from_numpy(self.demo_start[demo, None] + steps)

    def get_batch(self, indices: torch.Tensor | np.ndarray | Sequence[int]) -> dict[str, Any]:
        """Windows for ``indices`` (B,): obs[key] (B, To, ...), action (B, Tp, Da) float32."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"window index out of range [0, {len(self)})")
        obs_rows = self._rows(indices, self._obs_offsets)
        action_rows = self._rows(indices, self._action_offsets)
        return {"obs": {k: v[obs_rows] for k, v in self.obs.items()}, ACTION_KEY: self.actions[action_rows]}

    def __getitem__(self, index: int) -> dict[str, Any]:
        batch = self.get_batch([index])
        return {"obs": {k: v[0] for k, v in batch["obs"].items()}, ACTION_KEY: batch[ACTION_KEY][0]}

    def stats_arrays(self) -> dict[str, np.ndarray]:
        """Every row of every low-dim key and of the actions, (N, D): what ``Normalizer.fit`` needs."""
        arrays = {k: v.numpy() for k, v in self.obs.items() if v.dtype != torch.uint8}
        arrays[ACTION_KEY] = self.actions.numpy()
        return arrays
