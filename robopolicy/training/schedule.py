"""Learning-rate schedule: linear warm-up, then cosine decay to ``min_lr_ratio`` of the peak (over a run or a stage)."""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def stage_schedule(start: int, end: int, warmup_steps: int, min_lr_ratio: float = 0.0) -> Callable[[int], float]:
    """The multiplier for a parameter group trained only in steps [start, end): warm-up + cosine over that window,
    0 before it and ``min_lr_ratio`` after it (a multi-stage family's later stage gets a full schedule of its own
    instead of the tail of the run's)."""
    if not 0 <= start < end:
        raise ValueError(f"a training stage must cover at least one step, got steps [{start}, {end})")

    def multiplier(step: int) -> float:
        if step < start:
            return 0.0
        return warmup_cosine(min(step, end) - start, min(warmup_steps, end - start), end - start, min_lr_ratio)

    return multiplier
