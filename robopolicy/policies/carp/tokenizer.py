"""CARP stage 1: a multi-scale residual tokenizer for action chunks.

An encoder maps a normalized chunk (B, Tp, Da) to a latent sequence f (B, G, C, L); the residual quantizer
writes f as a sum of code maps at increasing scales p_1 < ... < p_S = L,

    f ~ sum_s phi_s(upsample_L(e[k_s])),     k_s: (B, G, p_s) code indices at scale s,

each scale coding what the coarser ones left (after VAR, Tian et al. 2024, as CARP applies it to actions).
G is the number of tokenizers: one per action dimension (``per_dimension``, the paper's choice, run as
grouped convolutions so the dimensions never mix) or a single one over all dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from robopolicy.policies.carp.configuration import CARPConfig


@dataclass
class TokenizerOutput:
    """recon (B, Tp, Da) normalized; latent f (B, G, C, L); indices per scale [(B, G, p_s)]; vq_loss scalar."""

    recon: torch.Tensor
    latent: torch.Tensor
    indices: list[torch.Tensor]
    vq_loss: torch.Tensor


class ResidualQuantizer(nn.Module):
    """Residual multi-scale vector quantization of (B, G, C, L) latents with one codebook of V codes per group.

    At scale s the remaining residual is area-pooled to p_s positions, each position takes the nearest
    code of its group's codebook (cosine or L2), the code map is linearly upsampled back to L and refined
    by phi_s (h + phi_mix * (conv(h) - h)), then added to the reconstruction and removed from the residual.
    """

    def __init__(self, groups: int, latent_dim: int, codebook_size: int, scales: tuple[int, ...], latent_length: int,
                 distance: str = "cosine", beta: float = 0.25, phi_mix: float = 0.5) -> None:
        super().__init__()
        self.groups, self.latent_dim, self.codebook_size = groups, latent_dim, codebook_size
        self.scales, self.length = tuple(scales), latent_length
        self.distance, self.beta, self.phi_mix = distance, beta, phi_mix
        self.codebook = nn.Parameter(torch.empty(groups, codebook_size, latent_dim).uniform_(-1 / codebook_size, 1 / codebook_size))
        width = groups * latent_dim
        self.phis = nn.ModuleList([nn.Conv1d(width, width, 3, padding=1, groups=groups) for _ in self.scales])
        # running average of how often each code is picked per batch, per scale: usage reports and dead-code restarts
        self.register_buffer("hits", torch.zeros(len(self.scales), groups, codebook_size))

    # --- the pieces of one scale -------------------------------------------------------------------
    def pool(self, latent: torch.Tensor, scale: int) -> torch.Tensor:
        """(B, G, C, L) -> (B, G, p_s, C): area-average to the positions of scale index ``scale``."""
        x = rearrange(latent, "b g c l -> b (g c) l")
        if self.scales[scale] != self.length:
            x = F.adaptive_avg_pool1d(x, self.scales[scale])
        return rearrange(x, "b (g c) p -> b g p c", g=self.groups)

    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """(B, G, N, C) -> (B, G, N) index of the nearest code in each group's codebook."""
        codes = self.codebook.detach()
        if self.distance == "cosine":
            return torch.einsum("bgnc,gvc->bgnv", F.normalize(vectors, dim=-1), F.normalize(codes, dim=-1)).argmax(-1)
        cross = torch.einsum("bgnc,gvc->bgnv", vectors, codes)
        return (codes.square().sum(-1)[None, :, None] - 2 * cross).argmin(-1)  # |v|^2 is the same for every code

    def code_map(self, scale: int, indices: torch.Tensor) -> torch.Tensor:
        """(B, G, p_s) indices -> their contribution (B, G, C, L): looked up, upsampled to L, refined by phi_s."""
        group = torch.arange(self.groups, device=indices.device)[None, :, None]
        h = rearrange(self.codebook[group, indices], "b g p c -> b (g c) p")
        if h.shape[-1] != self.length:
            h = F.interpolate(h, size=self.length, mode="linear", align_corners=False)
        if self.phi_mix > 0:
            h = h + self.phi_mix * (self.phis[scale](h) - h)
        return rearrange(h, "b (g c) l -> b g c l", g=self.groups)

    # --- whole decompositions ----------------------------------------------------------------------
    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Quantize (B, G, C, L) -> (straight-through reconstruction, indices per scale, codebook + commitment loss).

        The loss averages over scales beta * |sg(f_hat_s) - f|^2 + |f_hat_s - sg(f)|^2, f_hat_s being the
        reconstruction after s scales; the returned reconstruction passes the decoder's gradient to f unchanged.
        """
        target = latent.detach()
        residual, f_hat = target, torch.zeros_like(target)
        indices, loss = [], latent.new_zeros(())
        for s in range(len(self.scales)):
            idx = self.nearest(self.pool(residual, s))
            h = self.code_map(s, idx)
            f_hat = f_hat + h
            residual = residual - h.detach()
            loss = loss + self.beta * F.mse_loss(f_hat.detach(), latent) + F.mse_loss(f_hat, target)
            indices.append(idx)
        if self.training:
            self._record_hits(indices)
        return latent + (f_hat - latent).detach(), indices, loss / len(self.scales)

    @torch.no_grad()
    def tokenize(self, latent: torch.Tensor) -> list[torch.Tensor]:
        """(B, G, C, L) -> code indices per scale [(B, G, p_s)], without touching the usage statistics."""
        residual, indices = latent, []
        for s in range(len(self.scales)):
            idx = self.nearest(self.pool(residual, s))
            residual = residual - self.code_map(s, idx)
            indices.append(idx)
        return indices

    def reconstruct(self, indices: list[torch.Tensor]) -> list[torch.Tensor]:
        """Code indices of the first n scales -> the latent reconstructions after each of them [(B, G, C, L)]."""
        f_hat, partial = None, []
        for s, idx in enumerate(indices):
            h = self.code_map(s, idx)
            f_hat = h if f_hat is None else f_hat + h
            partial.append(f_hat)
        return partial

    # --- codebook health ---------------------------------------------------------------------------
    @torch.no_grad()
    def _record_hits(self, indices: list[torch.Tensor]) -> None:
        for s, idx in enumerate(indices):
            counts = F.one_hot(idx, self.codebook_size).sum(dim=(0, 2)).to(self.hits.dtype)  # (G, V)
            self.hits[s].lerp_(counts, 0.01)

    def usage(self, threshold: float) -> torch.Tensor:
        """(S,) fraction of codes (averaged over groups) picked more than ``threshold`` times per batch, per scale."""
        return (self.hits > threshold).float().mean(dim=(1, 2))

    @torch.no_grad()
    def residual_vectors(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, G, C, L) -> (G, N, C): the pooled residuals every scale quantizes, i.e. what codes have to match."""
        residual, vectors = latent, []
        for s in range(len(self.scales)):
            pooled = self.pool(residual, s)
            vectors.append(rearrange(pooled, "b g p c -> g (b p) c"))
            residual = residual - self.code_map(s, self.nearest(pooled))
        return torch.cat(vectors, dim=1)

    @torch.no_grad()
    def restart_dead_codes(self, latent: torch.Tensor, threshold: float) -> int:
        """Move codes hit less than ``threshold`` times per batch (all scales together) onto random residual
        vectors of the batch's latents (B, G, C, L), and mark them alive. Returns how many codes moved.

        Residuals rather than raw latents, so revived codes can serve the fine scales, whose residuals are small.
        """
        dead = self.hits.sum(0) < threshold  # (G, V)
        vectors = self.residual_vectors(latent)
        moved = 0
        for g in range(self.groups):
            slots = dead[g].nonzero().flatten()
            if len(slots) == 0:
                continue
            picks = torch.randint(0, vectors.shape[1], (len(slots),), device=latent.device)
            self.codebook.data[g, slots] = vectors[g, picks]
            self.hits[:, g, slots] = threshold
            moved += len(slots)
        return moved


def _res_block(width: int, groups: int) -> nn.Module:
    return _Residual(nn.Sequential(
        nn.GroupNorm(groups, width), nn.Mish(), nn.Conv1d(width, width, 3, padding=1, groups=groups),
        nn.GroupNorm(groups, width), nn.Mish(), nn.Conv1d(width, width, 3, padding=1, groups=groups),
    ))


class _Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class MultiScaleActionTokenizer(nn.Module):
    """Chunk (B, Tp, Da) normalized <-> latent (B, G, C, L) <-> code indices per scale [(B, G, p_s)].

    G = Da tokenizers of one channel each (``per_dimension``) or one tokenizer of Da channels; every conv
    is grouped by G so per-dimension tokenizers stay independent. Stride-2 convs take Tp to L = Tp / 2^n.
    """

    def __init__(self, action_dim: int, pred_horizon: int, cfg: CARPConfig) -> None:
        super().__init__()
        self.action_dim, self.pred_horizon = action_dim, pred_horizon
        self.groups = action_dim if cfg.per_dimension else 1
        length = cfg.latent_length(pred_horizon)
        g, width, inputs = self.groups, self.groups * cfg.tokenizer_channels, action_dim  # Da input channels either way
        down: list[nn.Module] = [nn.Conv1d(inputs, width, 3, padding=1, groups=g)]
        up: list[nn.Module] = [nn.Conv1d(g * cfg.latent_dim, width, 3, padding=1, groups=g), _res_block(width, g)]
        for _ in range(cfg.num_downsamples):
            down += [_res_block(width, g), nn.Conv1d(width, width, 4, stride=2, padding=1, groups=g)]
            up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(width, width, 3, padding=1, groups=g), _res_block(width, g)]
        down += [_res_block(width, g), nn.Mish(), nn.Conv1d(width, g * cfg.latent_dim, 1, groups=g)]
        up += [nn.Mish(), nn.Conv1d(width, inputs, 3, padding=1, groups=g)]
        self.encoder, self.decoder = nn.Sequential(*down), nn.Sequential(*up)
        self.quantizer = ResidualQuantizer(g, cfg.latent_dim, cfg.codebook_size, cfg.scales, length, cfg.distance,
                                           cfg.beta, cfg.phi_mix)

    def encode(self, chunk: torch.Tensor) -> torch.Tensor:
        """(B, Tp, Da) -> latent (B, G, C, L)."""
        return rearrange(self.encoder(rearrange(chunk, "b t d -> b d t")), "b (g c) l -> b g c l", g=self.groups)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, G, C, L) -> chunk (B, Tp, Da)."""
        return rearrange(self.decoder(rearrange(latent, "b g c l -> b (g c) l")), "b d t -> b t d")

    def forward(self, chunk: torch.Tensor) -> TokenizerOutput:
        """Stage-1 training pass: encode, quantize (straight-through), decode."""
        latent = self.encode(chunk)
        quantized, indices, vq_loss = self.quantizer(latent)
        return TokenizerOutput(self.decode(quantized), latent, indices, vq_loss)

    @torch.no_grad()
    def tokenize(self, chunk: torch.Tensor) -> list[torch.Tensor]:
        """(B, Tp, Da) -> code indices per scale [(B, G, p_s)]."""
        return self.quantizer.tokenize(self.encode(chunk))

    def detokenize(self, indices: list[torch.Tensor]) -> torch.Tensor:
        """Code indices of all scales -> chunk (B, Tp, Da)."""
        return self.decode(self.quantizer.reconstruct(indices)[-1])
