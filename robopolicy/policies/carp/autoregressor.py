"""CARP stage 2: a transformer that predicts action-code tokens coarse to fine, one scale per forward pass."""

from __future__ import annotations

import torch
from torch import nn

from robopolicy.nets.transformer import KVCache, TransformerBlock


class CoarseToFineTransformer(nn.Module):
    """Observation embedding and coarser scales -> logits over the V codes for every token of a scale.

    Layout: scale s holds n_s = p_s * G tokens ordered (position, group), L = sum n_s in all. The tokens
    of the first scale are the observation embedding plus learned start embeddings; those of scale s > 1
    embed the reconstruction after the coarser scales, area-pooled to p_s positions (what is already
    decided, at this scale's resolution). Each token adds a level (scale) and a slot embedding. Blocks use
    adaptive layer norm on the observation embedding; the block-causal mask lets a token attend to its
    own and coarser scales only, so teacher-forced training (one pass over all L tokens) and cached
    inference (one pass per scale) compute the same function.
    """

    def __init__(self, scales: tuple[int, ...], groups: int, latent_dim: int, codebook_size: int, cond_dim: int,
                 dim: int = 128, depth: int = 4, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.lengths = [p * groups for p in scales]
        self.offsets = [sum(self.lengths[:s]) for s in range(len(scales) + 1)]
        total = self.offsets[-1]
        self.cond_in = nn.Linear(cond_dim, dim)
        self.token_in = nn.Linear(latent_dim, dim)
        self.start = nn.Parameter(torch.zeros(1, self.lengths[0], dim))
        self.slot = nn.Parameter(torch.zeros(1, total, dim))
        self.level = nn.Embedding(len(scales), dim)
        for weight in (self.start, self.slot, self.level.weight):
            nn.init.trunc_normal_(weight, std=0.02)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, cond_dim=dim, dropout=dropout) for _ in range(depth)])
        self.head_norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.head_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        nn.init.zeros_(self.head_modulation[-1].weight)
        nn.init.zeros_(self.head_modulation[-1].bias)
        self.head = nn.Linear(dim, codebook_size)
        levels = torch.cat([torch.full((n,), s) for s, n in enumerate(self.lengths)])
        self.register_buffer("mask", levels[:, None] >= levels[None, :], persistent=False)  # (L, L), True = may attend

    def condition(self, obs_features: torch.Tensor) -> torch.Tensor:
        """Flattened observation features (B, Dc) -> the embedding (B, dim) used as start token and AdaLN condition."""
        return self.cond_in(obs_features)

    def embed(self, cond: torch.Tensor, scale: int, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings (B, n_s, dim) of one scale; ``inputs`` (B, n_s, C) are required for scales after the first."""
        if scale == 0:
            x = cond[:, None] + self.start
        elif inputs is None:
            raise ValueError(f"scale {scale} needs the pooled coarser reconstruction as inputs")
        else:
            x = self.token_in(inputs)
        return x + self.slot[:, self.offsets[scale]:self.offsets[scale + 1]] + self.level.weight[scale]

    def _logits(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.head_modulation(cond)[:, None].chunk(2, dim=-1)
        return self.head(self.head_norm(x) * (1 + scale) + shift)

    def forward(self, cond: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: cond (B, dim), inputs (B, L - n_1, C) for scales 2..S -> logits (B, L, V)."""
        x = torch.cat([self.embed(cond, 0)] + [
            self.embed(cond, s, inputs[:, self.offsets[s] - self.lengths[0]:self.offsets[s + 1] - self.lengths[0]])
            for s in range(1, len(self.lengths))
        ], dim=1)
        for block in self.blocks:
            x = block(x, cond=cond, mask=self.mask)
        return self._logits(x, cond)

    def new_caches(self) -> list[KVCache]:
        """One empty key/value cache per block, for ``forward_scale``."""
        return [KVCache() for _ in self.blocks]

    def forward_scale(self, x: torch.Tensor, cond: torch.Tensor, caches: list[KVCache]) -> torch.Tensor:
        """Incremental pass: the tokens (B, n_s, dim) of the next scale attend to themselves and to every cached
        token of the coarser scales -> logits (B, n_s, V). Call once per scale, coarse to fine."""
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block(x, cond=cond, cache=cache)
        return self._logits(x, cond)
