"""Deterministic mini-batch indices: a function of (seed, step) only, so a resumed run sees the same batches."""

from __future__ import annotations

import torch


class StepBatchSampler:
    """Shuffles the dataset once per epoch with a generator seeded by (seed, epoch) and cuts it into batches.

    ``indices(step)`` needs no iteration history, which makes exact resume trivial. Each epoch drops
    the remainder; a dataset smaller than one batch is sampled as one batch with repetition.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int) -> None:
        if num_items < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.steps_per_epoch = max(1, num_items // batch_size)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.num_items, generator=g)
            if self.num_items < self.batch_size:
                perm = perm.repeat(-(-self.batch_size // self.num_items))
            self._epoch, self._perm = epoch, perm
        start = position * self.batch_size
        return self._perm[start : start + self.batch_size]
