"""Hyper-parameters of the MSE behaviour-cloning baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BCConfig:
    """A residual MLP from the encoded observation history to the whole action chunk.

    ``hidden`` x ``depth`` residual blocks (LayerNorm, Mish, dropout); the loss is the mean squared error
    of the chunk in normalized action units. It predicts the conditional mean of the demonstrations, so
    where they split between strategies it averages them: the point of having it in the tables.
    """

    hidden: int = 512
    depth: int = 4
    dropout: float = 0.0
    encoder: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.depth < 0:
            raise ValueError(f"bc: hidden must be >= 1 and depth >= 0, got hidden={self.hidden} depth={self.depth}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"bc: dropout must be in [0, 1), got {self.dropout}")
