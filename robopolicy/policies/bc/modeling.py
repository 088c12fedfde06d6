"""MSE behaviour cloning: one forward pass from observations to the action chunk, no latent, no sampling."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec, Normalizer, ObsDict, Policy, ShapeMeta, register_policy
from robopolicy.core.config import dataclass_from_dict, dataclass_to_dict
from robopolicy.encoders import EncoderConfig, ObsEncoder
from robopolicy.policies.bc.configuration import BCConfig


class ResidualBlock(nn.Module):
    """x + Linear(Dropout(Mish(Linear(LayerNorm(x)))))."""

    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.ff = nn.Sequential(
            nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden), nn.Mish(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ff(x)


@register_policy("bc")
class BCPolicy(Policy):
    """Regress the normalized chunk (B, Tp, Da) on the flat observation features (B, To*D) of the shared ObsEncoder."""

    config_class: type[BCConfig] = BCConfig

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: dict[str, Any]) -> None:
        cfg = dataclass_from_dict(self.config_class, config, "bc policy")
        super().__init__(shape_meta, chunk_spec, normalizer, dataclass_to_dict(cfg))
        self.cfg = cfg
        self.encoder = ObsEncoder(shape_meta, EncoderConfig.from_dict(cfg.encoder))
        out_dim = chunk_spec.pred_horizon * shape_meta.action_dim
        self.head = nn.Sequential(
            nn.Linear(chunk_spec.obs_horizon * self.encoder.feature_dim, cfg.hidden),
            *[ResidualBlock(cfg.hidden, cfg.dropout) for _ in range(cfg.depth)],
            nn.LayerNorm(cfg.hidden),
            nn.Linear(cfg.hidden, out_dim),
        )

    def forward(self, obs: ObsDict) -> torch.Tensor:
        """Raw observations {key: (B, To, ...)} -> normalized chunk (B, Tp, Da)."""
        features = self.encoder(self.normalizer.normalize_obs(obs), flat=True)
        return rearrange(self.head(features), "b (t d) -> b t d", t=self.chunk_spec.pred_horizon)

    def compute_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        target = self.normalizer.normalize(ACTION_KEY, batch["action"].float())  # (B, Tp, Da)
        loss = F.mse_loss(self(batch["obs"]), target)
        return loss, {"loss": loss.item()}

    @torch.no_grad()
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        """One deterministic chunk per observation; num_samples=K repeats it K times ((B, K, Tp, Da)).

        BC has no latent to seed, so ``noise`` is refused rather than silently ignored (a DSRL or
        sampling wrapper built on it would otherwise search over an input that changes nothing).
        """
        self._check_num_samples(num_samples)
        if noise is not None:
            raise ValueError("the bc policy is deterministic and has no latent noise; call predict_chunk without noise=")
        full = self.normalizer.unnormalize(ACTION_KEY, self(obs))
        if num_samples > 1:
            full = repeat(full, "b t d -> b k t d", k=num_samples)
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info={"nfe": 1})
