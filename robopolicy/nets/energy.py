"""A transformer that scores an (observation, action chunk) pair with one scalar energy."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from robopolicy.nets.transformer import TransformerBlock


class EnergyTransformer(nn.Module):
    """Observation tokens (B, To, Do) and an action chunk (B, T, Da) -> energy (B,).

    The chunk becomes T / ``patch`` action tokens, each embedding ``patch`` consecutive actions; with the To
    observation tokens (each token with a learned position embedding) they form one sequence that ``depth``
    bidirectional pre-norm blocks process; every action token then gives a scalar through a bias-free linear
    head, and the energy is their mean. Low energy = compatible. The cost per chunk grows with the number of
    tokens, so ``patch`` > 1 trades temporal resolution of the tokens for speed.
    GELU and softmax attention keep the energy twice differentiable, which training by unrolled
    gradient descent on the chunk needs.
    """

    def __init__(self, action_dim: int, horizon: int, obs_horizon: int, obs_feature_dim: int, dim: int = 64,
                 depth: int = 3, heads: int = 4, dropout: float = 0.0, patch: int = 1) -> None:
        super().__init__()
        if patch < 1 or horizon % patch:
            raise ValueError(f"EnergyTransformer: patch ({patch}) must be a positive divisor of the chunk length ({horizon})")
        self.obs_in = nn.Linear(obs_feature_dim, dim)
        self.action_in = nn.Linear(action_dim * patch, dim)
        self.obs_pos = nn.Parameter(0.02 * torch.randn(1, obs_horizon, dim))
        self.action_pos = nn.Parameter(0.02 * torch.randn(1, horizon // patch, dim))
        # explicit attention: the fused kernels have no double backward, and their math fallback is slow at this length
        self.blocks = nn.ModuleList(
            [TransformerBlock(dim, heads, dropout=dropout, explicit_attention=True) for _ in range(depth)]
        )
        # No bias in the last norm or the head: the descent loss sees only dE/dy, so a constant offset would never learn.
        self.norm = nn.LayerNorm(dim, bias=False)
        self.head = nn.Linear(dim, 1, bias=False)
        self.obs_horizon, self.horizon, self.patch = obs_horizon, horizon, patch

    def forward(self, obs_tokens: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if actions.shape[1] != self.horizon:
            raise ValueError(f"EnergyTransformer: expected chunks of {self.horizon} actions, got {tuple(actions.shape)}")
        patches = rearrange(actions, "b (n p) d -> b n (p d)", p=self.patch)
        x = torch.cat([self.obs_in(obs_tokens) + self.obs_pos, self.action_in(patches) + self.action_pos], 1)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, self.obs_horizon :])).squeeze(-1).mean(dim=1)
