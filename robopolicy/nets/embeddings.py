"""Embeddings of scalar diffusion steps / positions."""

from __future__ import annotations

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """(...,) integer or real steps -> (..., dim) sin/cos features at geometrically spaced frequencies (Vaswani et al.)."""

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"SinusoidalEmbedding needs an even dim, got {dim}")
        self.dim = dim
        frequencies = torch.exp(-math.log(max_period) * torch.arange(dim // 2) / (dim // 2 - 1 if dim > 2 else 1))
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        angles = steps.float()[..., None] * self.frequencies
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class StepEncoder(nn.Module):
    """Diffusion step -> conditioning vector: sinusoidal features followed by a 2-layer MLP (as in Diffusion Policy)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(SinusoidalEmbedding(dim), nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))
        self.dim = dim

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        return self.net(steps)
