"""Action chunks: how many observations a policy sees, how many actions it predicts and executes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class ChunkSpec:
    """The receding-horizon geometry shared by every family.

    A policy conditions on the last ``obs_horizon`` (To) observations, predicts ``pred_horizon`` (Tp)
    actions starting at the oldest of them, and the runner executes ``action_horizon`` (Ta) of them,
    the slice ``[To-1, To-1+Ta)`` which starts at the current step (as in Diffusion Policy).
    """

    obs_horizon: int = 2
    pred_horizon: int = 16
    action_horizon: int = 8

    def __post_init__(self) -> None:
        for name in ("obs_horizon", "pred_horizon", "action_horizon"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ChunkSpec.{name} must be a positive integer, got {value!r}")
        if self.obs_horizon - 1 + self.action_horizon > self.pred_horizon:
            raise ValueError(
                f"ChunkSpec: obs_horizon-1+action_horizon = {self.obs_horizon - 1 + self.action_horizon} "
                f"exceeds pred_horizon = {self.pred_horizon}; the executed slice [To-1, To-1+Ta) must fit "
                "inside the predicted chunk. Raise pred_horizon or lower action_horizon/obs_horizon."
            )

    @property
    def executed(self) -> slice:
        """Slice of a (…, Tp, Da) chunk that is executed: [To-1, To-1+Ta)."""
        start = self.obs_horizon - 1
        return slice(start, start + self.action_horizon)

    def to_dict(self) -> dict[str, int]:
        return {"obs_horizon": self.obs_horizon, "pred_horizon": self.pred_horizon, "action_horizon": self.action_horizon}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkSpec:
        return cls(int(data["obs_horizon"]), int(data["pred_horizon"]), int(data["action_horizon"]))


@dataclass
class Chunk:
    """What ``Policy.predict_chunk`` returns, in raw (unnormalized) action units.

    actions: (B, Ta, Da) the executed slice; full: (B, Tp, Da) the whole prediction.
    With ``num_samples=K`` both gain a sample axis after the batch: (B, K, Ta, Da) and (B, K, Tp, Da).
    info: what the family knows about this prediction, e.g. ``nfe`` (network evaluations),
    ``energy`` (EBT), ``log_prob`` (CARP); tensors keep the leading batch (and sample) axes.
    """

    actions: torch.Tensor
    full: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
