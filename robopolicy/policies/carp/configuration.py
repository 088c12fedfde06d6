"""Hyper-parameters of the coarse-to-fine autoregressive policy (CARP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DISTANCES = ("cosine", "l2")


@dataclass
class CARPConfig:
    """Both stages of CARP: the multi-scale action tokenizer and the coarse-to-fine transformer.

    Tokenizer (stage 1, the first ``tokenizer_steps`` training steps at learning rate ``tokenizer_lr``, None for
    training.lr; then frozen): a 1-D conv
    encoder/decoder over the normalized chunk, ``per_dimension`` (one tokenizer per action dimension, as
    in the paper, run as grouped convolutions) or one shared over all dimensions; ``num_downsamples``
    stride-2 stages take Tp steps to a latent of length Tp / 2^num_downsamples with ``latent_dim``
    channels, quantized residually at ``scales`` (the last must equal the latent length) against
    ``codebook_size`` codes per tokenizer by ``distance``; ``beta`` weighs the commitment loss;
    ``phi_mix`` blends a per-scale conv refinement into each upsampled code map (0 = none). Codes hit less
    than ``dead_code_threshold`` times per batch (running average) move onto residual vectors of the batch
    every ``restart_every`` tokenizer steps.
    Transformer (stage 2): ``dim``/``depth``/``heads``, adaptive layer norm on the observation embedding.
    Inference: greedy tokens (``greedy``) for single predictions; num_samples > 1 or a given noise sample
    from the ``top_k`` most likely codes at ``temperature``.
    """

    tokenizer_steps: int = 4000
    tokenizer_lr: float | None = 1.0e-3
    per_dimension: bool = True
    tokenizer_channels: int = 32
    num_downsamples: int = 2
    latent_dim: int = 8
    scales: tuple[int, ...] = (1, 2, 3, 4)
    codebook_size: int = 256
    distance: str = "cosine"
    beta: float = 0.25
    phi_mix: float = 0.5
    dead_code_threshold: float = 0.01
    restart_every: int = 100
    dim: int = 64
    depth: int = 4
    heads: int = 4
    dropout: float = 0.0
    greedy: bool = True
    top_k: int = 10
    temperature: float = 1.0
    encoder: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scales = tuple(int(s) for s in self.scales)
        for name in ("tokenizer_steps", "tokenizer_channels", "latent_dim", "codebook_size", "restart_every", "dim",
                     "depth", "heads", "top_k"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"carp: {name} must be a positive integer, got {getattr(self, name)!r}")
        if self.num_downsamples < 0:
            raise ValueError(f"carp: num_downsamples must be >= 0, got {self.num_downsamples}")
        if not self.scales or any(s < 1 for s in self.scales) or list(self.scales) != sorted(set(self.scales)):
            raise ValueError(f"carp: scales must be strictly increasing positive integers, got {list(self.scales)}")
        if self.distance not in DISTANCES:
            raise ValueError(f"carp: distance must be one of {list(DISTANCES)}, got {self.distance!r}")
        if self.tokenizer_lr is not None and self.tokenizer_lr <= 0:
            raise ValueError(f"carp: tokenizer_lr must be positive (or null for training.lr), got {self.tokenizer_lr}")
        if self.temperature <= 0:
            raise ValueError(f"carp: temperature must be positive, got {self.temperature}")
        for name in ("beta", "dead_code_threshold", "dropout"):
            if getattr(self, name) < 0:
                raise ValueError(f"carp: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.phi_mix <= 1:
            raise ValueError(f"carp: phi_mix must be in [0, 1], got {self.phi_mix}")

    def latent_length(self, pred_horizon: int) -> int:
        """Length of the tokenizer's latent for a chunk of ``pred_horizon`` actions; checks the arithmetic."""
        factor = 2**self.num_downsamples
        if pred_horizon % factor:
            raise ValueError(
                f"carp: pred_horizon {pred_horizon} must be divisible by 2^num_downsamples = {factor}; "
                "change policy.pred_horizon or policy.num_downsamples"
            )
        length = pred_horizon // factor
        if self.scales[-1] != length:
            raise ValueError(
                f"carp: the finest scale must equal the latent length pred_horizon / 2^num_downsamples = {length}, "
                f"got scales {list(self.scales)}; e.g. policy.scales=[{','.join(str(s) for s in range(1, length + 1))}]"
            )
        return length
