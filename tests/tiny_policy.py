"""A minimal registered family for testing the contracts: an MLP that regresses the chunk, plus optional noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from robopolicy.core import ACTION_KEY, Chunk, Policy, register_policy
from robopolicy.encoders import EncoderConfig, ObsEncoder


@register_policy("tiny_test")
class TinyPolicy(Policy):
    """Chunk = MLP(encoded obs) + 0.1 * noise; ``noise`` defaults to zeros so predictions are deterministic."""

    def __init__(self, shape_meta, chunk_spec, normalizer, config) -> None:
        super().__init__(shape_meta, chunk_spec, normalizer, config)
        enc_cfg = EncoderConfig(rgb_feature_dim=8, channels=(8, 8, 16, 16), num_keypoints=4)
        self.encoder = ObsEncoder(shape_meta, enc_cfg)
        hidden = int(config.get("hidden", 32))
        out = chunk_spec.pred_horizon * shape_meta.action_dim
        self.head = nn.Sequential(nn.Linear(self.encoder.feature_dim * chunk_spec.obs_horizon, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def _mean(self, obs) -> torch.Tensor:
        features = self.encoder(self.normalizer.normalize_obs(obs), flat=True)
        return self.head(features).reshape(-1, self.chunk_spec.pred_horizon, self.shape_meta.action_dim)

    def compute_loss(self, batch):
        target = self.normalizer.normalize(ACTION_KEY, batch["action"].float())
        loss = F.mse_loss(self._mean(batch["obs"]), target)
        return loss, {"mse": loss.item()}

    def predict_chunk(self, obs, *, num_samples=1, noise=None, generator=None):
        self._check_num_samples(num_samples)
        mean = self._mean(obs)  # (B, Tp, Da)
        if num_samples > 1:
            mean = mean[:, None].expand(-1, num_samples, -1, -1)
        if noise is None:
            noise = torch.zeros_like(mean)
        full = self.normalizer.unnormalize(ACTION_KEY, mean + 0.1 * noise)
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info={"nfe": 1})
