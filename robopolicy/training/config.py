"""Trainer hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass

from robopolicy.training.precision import PRECISIONS


@dataclass
class TrainConfig:
    """Optimisation, EMA, checkpointing and evaluation cadence for ``Trainer``.

    Steps are optimizer steps. ``eval_every``/``checkpoint_every`` of 0 disable the periodic action
    (a final checkpoint and evaluation still happen at the end). ``num_threads`` of 0 keeps torch's default.
    """

    num_steps: int = 10_000
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-6
    betas: tuple[float, float] = (0.95, 0.999)
    warmup_steps: int = 500
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0
    ema_power: float = 0.75
    ema_max_decay: float = 0.9999
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    eval_every: int = 0
    log_every: int = 50
    seed: int = 0
    num_threads: int = 0
    device: str = "cpu"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.num_steps < 1 or self.batch_size < 1:
            raise ValueError(f"training: num_steps and batch_size must be positive (got {self.num_steps}, {self.batch_size})")
        if self.lr <= 0:
            raise ValueError(f"training: lr must be positive, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"training: min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"training: precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
