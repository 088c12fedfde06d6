"""A residual MLP denoiser over the flattened action chunk: the light backbone for low-dim tasks on CPUs."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from robopolicy.nets.embeddings import StepEncoder


class FiLMResidualLayer(nn.Module):
    """x + Linear(Mish(Linear(LayerNorm(x) * (1 + scale) + bias))), scale and bias predicted from the condition."""

    def __init__(self, hidden: int, cond_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.film = nn.Linear(cond_dim, 2 * hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.Mish(), nn.Dropout(dropout), nn.Linear(2 * hidden, hidden))
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, bias = self.film(cond).chunk(2, dim=-1)
        return x + self.ff(self.norm(x) * (1 + scale) + bias)


class ResidualMLPDenoiser(nn.Module):
    """Noisy chunk (B, T, Da), steps (B,) — or (B, T) with ``per_position_steps`` — and condition (B, Dg) -> (B, T, Da).

    The whole chunk is one vector, so every action sees every other through the dense layers; this
    is cheap for short chunks of low-dim actions and is ~30x faster to train on a CPU than the U-Net.
    With ``per_position_steps`` every position has its own diffusion step (Streaming DP); their
    embeddings are concatenated into the conditioning vector that drives the FiLM layers.
    """

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        global_cond_dim: int,
        hidden: int = 512,
        depth: int = 4,
        step_embed_dim: int = 128,
        dropout: float = 0.0,
        per_position_steps: bool = False,
    ) -> None:
        super().__init__()
        self.step_encoder = StepEncoder(step_embed_dim)
        self.per_position_steps = per_position_steps
        cond_dim = step_embed_dim * (horizon if per_position_steps else 1) + global_cond_dim
        self.cond_mlp = nn.Sequential(nn.Linear(cond_dim, hidden), nn.Mish(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(horizon * action_dim, hidden)
        self.layers = nn.ModuleList([FiLMResidualLayer(hidden, hidden, dropout) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, horizon * action_dim))
        self.horizon, self.action_dim = horizon, action_dim

    def forward(self, sample: torch.Tensor, steps: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        b = sample.shape[0]
        expected = (b, self.horizon) if self.per_position_steps else (b,)
        steps = steps.expand(expected) if steps.dim() == 0 else steps
        if tuple(steps.shape) != expected:
            raise ValueError(
                f"this mlp backbone takes steps of shape {expected}, got {tuple(steps.shape)}"
                + ("" if self.per_position_steps else "; build it with per_position_steps=True for one step per position")
            )
        step_features = rearrange(self.step_encoder(steps), "b ... -> b (...)")
        cond = self.cond_mlp(torch.cat([step_features, global_cond], dim=-1))
        x = self.inp(rearrange(sample, "b t d -> b (t d)"))
        for layer in self.layers:
            x = layer(x, cond)
        return rearrange(self.out(x), "b (t d) -> b t d", t=self.horizon)
