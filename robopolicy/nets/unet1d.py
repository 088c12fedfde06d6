"""The FiLM-conditioned 1-D temporal U-Net of Diffusion Policy (Chi et al., RSS 2023, Sec. 3.2 / Fig. 3).

The action sequence is a 1-D signal over time with Da channels. Residual blocks (Conv1d, GroupNorm,
Mish) are modulated by FiLM: the conditioning vector (observation features + diffusion-step embedding)
predicts a per-channel scale and bias. The conditioning may also vary along time, (B, Dc, T): then the
FiLM parameters are per position and are resampled to each U-Net level's resolution (Streaming DP
gives every position its own noise level).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from robopolicy.nets.embeddings import StepEncoder


class ConvBlock(nn.Module):
    """Conv1d -> GroupNorm -> Mish, length-preserving."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(groups, out_channels),
            nn.Mish(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FiLMResidualBlock(nn.Module):
    """Two ConvBlocks; between them, FiLM from ``cond``: x * scale + bias, per channel (and per position)."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        self.conv1 = ConvBlock(in_channels, out_channels, kernel_size, groups)
        self.conv2 = ConvBlock(out_channels, out_channels, kernel_size, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T); cond: (B, Dc) or (B, Dc, T) -> (B, C_out, T)."""
        h = self.conv1(x)
        if cond.dim() == 2:
            scale, bias = self.film(cond)[..., None].chunk(2, dim=1)
        else:
            cond = _resample(cond, h.shape[-1])
            scale, bias = rearrange(self.film(rearrange(cond, "b d t -> b t d")), "b t c -> b c t").chunk(2, dim=1)
        return self.conv2(h * scale + bias) + self.skip(x)


def _resample(cond: torch.Tensor, length: int) -> torch.Tensor:
    """(B, Dc, T) -> (B, Dc, length) by averaging (down) or repeating (up) along time."""
    if cond.shape[-1] == length:
        return cond
    if cond.shape[-1] > length:
        return F.adaptive_avg_pool1d(cond, length)
    return F.interpolate(cond, size=length, mode="nearest")


class ConditionalUnet1D(nn.Module):
    """Noisy action sequence (B, T, Da), steps (B,) or (B, T), global condition (B, Dg) -> (B, T, Da).

    ``down_dims`` are the channel widths per level (the paper uses 256, 512, 1024); each level but the
    last halves the length, so T must be divisible by 2**(len(down_dims) - 1).
    """

    def __init__(
        self,
        action_dim: int,
        global_cond_dim: int,
        down_dims: tuple[int, ...] = (256, 512, 1024),
        kernel_size: int = 5,
        groups: int = 8,
        step_embed_dim: int = 128,
    ) -> None:
        super().__init__()
        self.step_encoder = StepEncoder(step_embed_dim)
        cond_dim = step_embed_dim + global_cond_dim
        widths = [action_dim, *down_dims]

        def block(cin: int, cout: int) -> FiLMResidualBlock:
            return FiLMResidualBlock(cin, cout, cond_dim, kernel_size, groups)

        self.down = nn.ModuleList()
        for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            last = i == len(down_dims) - 1
            down = nn.Identity() if last else nn.Conv1d(cout, cout, 3, stride=2, padding=1)
            self.down.append(nn.ModuleList([block(cin, cout), block(cout, cout), down]))
        self.mid = nn.ModuleList([block(down_dims[-1], down_dims[-1]), block(down_dims[-1], down_dims[-1])])
        self.up = nn.ModuleList()
        for cout, cin in reversed(list(zip(down_dims[:-1], down_dims[1:]))):
            up = nn.ConvTranspose1d(cout, cout, 4, stride=2, padding=1)
            self.up.append(nn.ModuleList([block(2 * cin, cout), block(cout, cout), up]))
        self.head = nn.Sequential(ConvBlock(down_dims[0], down_dims[0], kernel_size, groups), nn.Conv1d(down_dims[0], action_dim, 1))
        self.min_length_factor = 2 ** (len(down_dims) - 1)

    def forward(self, sample: torch.Tensor, steps: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        if sample.shape[1] % self.min_length_factor:
            raise ValueError(f"sequence length {sample.shape[1]} must be divisible by {self.min_length_factor} for this U-Net depth")
        x = rearrange(sample, "b t d -> b d t")
        step_features = self.step_encoder(steps.expand(sample.shape[0]) if steps.dim() == 0 else steps)
        if step_features.dim() == 2:  # one step per sequence
            cond = torch.cat([step_features, global_cond], dim=-1)
        else:  # one step per position: (B, T, E) -> (B, E + Dg, T)
            cond = torch.cat([step_features, global_cond[:, None].expand(-1, step_features.shape[1], -1)], dim=-1)
            cond = rearrange(cond, "b t d -> b d t")
        skips = []
        for res1, res2, down in self.down:
            x = res2(res1(x, cond), cond)
            skips.append(x)
            x = down(x)
        for res in self.mid:
            x = res(x, cond)
        for res1, res2, up in self.up:  # the finest level's skip is not used, as in the reference U-Net
            x = torch.cat([x, skips.pop()], dim=1)
            x = up(res2(res1(x, cond), cond))
        return rearrange(self.head(x), "b d t -> b t d")
