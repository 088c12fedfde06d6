"""Transformer pieces: pre-norm blocks with optional cross-attention and adaptive layer norm, and the
time-series diffusion transformer of Diffusion Policy (action tokens attend to observation tokens)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from robopolicy.nets.embeddings import StepEncoder


class KVCache:
    """Keys and values of the tokens a self-attention layer has already seen, (B, H, M, d) each.

    Incremental decoding passes one cache per layer: each call appends its tokens' keys and values and
    attends over everything cached so far, so earlier tokens are never recomputed.
    """

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def extend(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is not None:
            keys, values = torch.cat([self.keys, keys], dim=2), torch.cat([self.values, values], dim=2)
        self.keys, self.values = keys, values
        return keys, values


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                       dropout: float = 0.0) -> torch.Tensor:
    """Softmax attention (B, H, N, d) x (B, H, M, d) -> (B, H, N, d) written out in elementary ops.

    It has a double backward, which the fused kernels lack, and for the short sequences of an energy network on a
    CPU it is several times faster than PyTorch's math fallback, whose softmax over a last axis of a few tokens
    vectorizes poorly (measured in docs/ebt.md, "A faster attention for the energy network").
    ``mask`` (N, M), True = may attend; every row must allow at least one key.
    """
    scores = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = (scores - scores.detach().amax(dim=-1, keepdim=True)).exp()  # the shift cancels; no gradient needed
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return F.dropout(weights, dropout) @ v if dropout > 0 else weights @ v


class Attention(nn.Module):
    """Multi-head attention (B, N, D) x (B, M, D) -> (B, N, D) with an optional boolean mask (N, M), True = may attend.

    With a ``cache`` (self-attention only) the new tokens also attend to every token cached before them.
    ``explicit``: compute it with ``explicit_attention`` instead of PyTorch's fused kernels (twice differentiable).
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, explicit: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model width {dim} must be divisible by the number of heads {heads}")
        self.heads, self.dropout, self.explicit = heads, dropout, explicit
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        context = x if context is None else context
        q = rearrange(self.q(x), "b n (h d) -> b h n d", h=self.heads)
        k, v = rearrange(self.kv(context), "b m (two h d) -> two b h m d", two=2, h=self.heads)
        if cache is not None:
            k, v = cache.extend(k, v)
        dropout = self.dropout if self.training else 0.0
        if self.explicit:
            out = explicit_attention(q, k, v, mask, dropout)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention to a context, MLP.

    With ``cond_dim`` the layer norms are adaptive (AdaLN, as in DiT): a condition vector (B, Dc) or
    (B, N, Dc) predicts a scale, shift and residual gate for each sub-layer, zero-initialised so that
    every block starts as the identity. ``explicit_attention``: see ``Attention``.
    """

    def __init__(self, dim: int, heads: int, *, cross_attention: bool = False, cond_dim: int | None = None,
                 mlp_ratio: int = 4, dropout: float = 0.0, explicit_attention: bool = False) -> None:
        super().__init__()
        adaptive = cond_dim is not None
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=not adaptive)
        self.attn = Attention(dim, heads, dropout, explicit_attention)
        self.cross: Attention | None = Attention(dim, heads, dropout, explicit_attention) if cross_attention else None
        self.norm_cross = nn.LayerNorm(dim) if cross_attention else None
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=not adaptive)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_ratio * dim, dim))
        self.modulation: nn.Module | None = None
        if adaptive:
            self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 6 * dim))
            nn.init.zeros_(self.modulation[-1].weight)
            nn.init.zeros_(self.modulation[-1].bias)

    def forward(self, x: torch.Tensor, *, context: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                cond: torch.Tensor | None = None, cache: KVCache | None = None) -> torch.Tensor:
        if self.modulation is not None:
            if cond is None:
                raise ValueError("this block uses adaptive layer norm and needs cond")
            mod = self.modulation(cond)
            mod = mod[:, None] if mod.dim() == 2 else mod
            shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
            x = x + gate1 * self.attn(self.norm1(x) * (1 + scale1) + shift1, mask=mask, cache=cache)
        else:
            x = x + self.attn(self.norm1(x), mask=mask, cache=cache)
        if self.cross is not None:
            if context is None:
                raise ValueError("this block cross-attends and needs context")
            x = x + self.cross(self.norm_cross(x), context)
        if self.modulation is not None:
            return x + gate2 * self.mlp(self.norm2(x) * (1 + scale2) + shift2)
        return x + self.mlp(self.norm2(x))


class DiffusionTransformer(nn.Module):
    """Noisy chunk (B, T, Da), steps (B,) or (B, T), observation features (B, To*Do) -> (B, T, Da).

    Action tokens (plus a learned position embedding and the embedding of their diffusion step) run
    through ``depth`` blocks of self-attention and cross-attention to the To observation tokens, after
    Diffusion Policy's time-series diffusion transformer. ``causal`` restricts each action token to
    itself and earlier ones, which the paper found to work best.
    """

    def __init__(self, action_dim: int, horizon: int, obs_horizon: int, obs_feature_dim: int, dim: int = 256,
                 depth: int = 8, heads: int = 4, dropout: float = 0.1, causal: bool = True) -> None:
        super().__init__()
        self.obs_horizon = obs_horizon
        self.action_in = nn.Linear(action_dim, dim)
        self.obs_in = nn.Linear(obs_feature_dim, dim)
        self.action_pos = nn.Parameter(torch.zeros(1, horizon, dim))
        self.obs_pos = nn.Parameter(torch.zeros(1, obs_horizon, dim))
        nn.init.normal_(self.action_pos, std=0.02)
        nn.init.normal_(self.obs_pos, std=0.02)
        self.step_encoder = StepEncoder(dim)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, cross_attention=True, dropout=dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, action_dim)
        mask = torch.tril(torch.ones(horizon, horizon, dtype=torch.bool)) if causal else None
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, sample: torch.Tensor, steps: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        b, t, _ = sample.shape
        steps = steps.expand(b) if steps.dim() == 0 else steps
        step_features = self.step_encoder(steps)
        step_features = step_features[:, None] if step_features.dim() == 2 else step_features  # (B, 1 or T, D)
        x = self.action_in(sample) + self.action_pos[:, :t] + step_features
        context = self.obs_in(rearrange(global_cond, "b (to d) -> b to d", to=self.obs_horizon)) + self.obs_pos
        mask = None if self.mask is None else self.mask[:t, :t]
        for block in self.blocks:
            x = block(x, context=context, mask=mask)
        return self.out(self.norm(x))
