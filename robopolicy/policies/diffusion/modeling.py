"""Diffusion Policy: actions as the reverse of a denoising diffusion process, conditioned on observations.

Training (DDPM, Ho et al. 2020): for a demonstration chunk x0 (normalized), draw k ~ U{0..K-1} and
eps ~ N(0, I), form x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps, and regress the network output on
eps (or x0, or v). Inference: start from x_K ~ N(0, I) and apply the scheduler's reverse step with the
network's prediction ``num_inference_steps`` times; the executed actions are the slice [To-1, To-1+Ta).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DDPMScheduler
from einops import rearrange, repeat
from torch import nn

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec, Normalizer, ObsDict, Policy, ShapeMeta, register_policy
from robopolicy.core.config import dataclass_from_dict, dataclass_to_dict
from robopolicy.encoders import EncoderConfig, ObsEncoder
from robopolicy.nets.mlp import ResidualMLPDenoiser
from robopolicy.nets.transformer import DiffusionTransformer
from robopolicy.nets.unet1d import ConditionalUnet1D
from robopolicy.policies.diffusion.configuration import DiffusionConfig


def build_backbone(
    cfg: DiffusionConfig, action_dim: int, spec: ChunkSpec, obs_feature_dim: int, per_position_steps: bool = False
) -> nn.Module:
    """The denoising network: (x_t (B, Tp, Da), steps (B,) or (B, Tp), obs features (B, To*Do)) -> (B, Tp, Da).

    The U-Net and the transformer accept either step shape; the MLP is built for one of them.
    """
    cond_dim = spec.obs_horizon * obs_feature_dim
    if cfg.backbone == "unet":
        return ConditionalUnet1D(action_dim, cond_dim, cfg.down_dims, cfg.kernel_size, cfg.groups, cfg.step_embed_dim)
    if cfg.backbone == "mlp":
        return ResidualMLPDenoiser(
            action_dim, spec.pred_horizon, cond_dim, cfg.mlp_hidden, cfg.mlp_depth, cfg.step_embed_dim, cfg.dropout,
            per_position_steps,
        )
    return DiffusionTransformer(
        action_dim, spec.pred_horizon, spec.obs_horizon, obs_feature_dim, cfg.transformer_dim,
        cfg.transformer_depth, cfg.transformer_heads, cfg.dropout, cfg.causal_attention,
    )


def make_schedulers(cfg: DiffusionConfig) -> tuple[DDPMScheduler, DDPMScheduler | DDIMScheduler]:
    """(training scheduler, inference scheduler) sharing one noise schedule."""
    train = DDPMScheduler(
        num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule,
        clip_sample=cfg.clip_sample, prediction_type=cfg.prediction_type,
    )
    infer_cls = DDIMScheduler if cfg.sampler == "ddim" else DDPMScheduler
    infer = infer_cls.from_config(train.config)
    infer.set_timesteps(cfg.num_inference_steps)
    return train, infer


@register_policy("diffusion")
class DiffusionPolicy(Policy):
    """Diffusion Policy on the shared ObsEncoder; implements the Denoiser contract for GPC and DSRL."""

    config_class: type[DiffusionConfig] = DiffusionConfig
    per_position_steps = False  # whether the network gets one diffusion step per chunk position

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: dict[str, Any]) -> None:
        cfg = dataclass_from_dict(self.config_class, config, f"{self.family} policy")
        super().__init__(shape_meta, chunk_spec, normalizer, dataclass_to_dict(cfg))
        self.cfg = cfg
        self.encoder = ObsEncoder(shape_meta, EncoderConfig.from_dict(cfg.encoder))
        self.backbone = build_backbone(cfg, shape_meta.action_dim, chunk_spec, self.encoder.feature_dim, self.per_position_steps)
        self.train_scheduler, self.scheduler = make_schedulers(cfg)

    def configure_inference(self, **options: Any) -> None:
        """Switch sampler ("ddpm" | "ddim") and/or num_inference_steps, e.g. to compare DDPM-100 and DDIM-10."""
        allowed = {"sampler", "num_inference_steps"}
        if set(options) - allowed:
            raise ValueError(f"diffusion inference options are {sorted(allowed)}; got {sorted(options)}")
        self.cfg = dataclasses.replace(self.cfg, **options)
        self.config = dataclass_to_dict(self.cfg)
        self.train_scheduler, self.scheduler = make_schedulers(self.cfg)

    # --- Denoiser contract -------------------------------------------------------------------------
    def encode_obs(self, obs: ObsDict) -> torch.Tensor:
        """Raw observations {key: (B, To, ...)} -> conditioning (B, To*D)."""
        return self.encoder(self.normalizer.normalize_obs(obs), flat=True)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Network output in the scheduler's parameterization for normalized x_t (B, Tp, Da) at steps t (B,) or (B, Tp)."""
        return self.backbone(x_t, t, cond)

    # --- training ----------------------------------------------------------------------------------
    def sample_training_steps(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """Diffusion steps for a training batch, (B,): one uniform step per chunk; plus metrics to log."""
        return torch.randint(0, self.cfg.num_train_timesteps, (batch_size,), device=device), {}

    def compute_loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        x0 = self.normalizer.normalize(ACTION_KEY, batch["action"].float())  # (B, Tp, Da)
        cond = self.encode_obs(batch["obs"])
        noise = torch.randn_like(x0)
        steps, metrics = self.sample_training_steps(x0.shape[0], x0.device)  # (B,) or (B, Tp)
        abar = self.train_scheduler.alphas_cumprod.to(x0.device)[steps]
        abar = abar.reshape(*steps.shape, *[1] * (x0.dim() - steps.dim()))  # broadcast over positions / action dims
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise  # q(x_t | x0), Ho et al. 2020, Eq. 4
        if self.cfg.prediction_type == "epsilon":
            target = noise
        elif self.cfg.prediction_type == "sample":
            target = x0
        else:  # v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho 2022)
            target = abar.sqrt() * noise - (1 - abar).sqrt() * x0
        loss = F.mse_loss(self.denoise(x_t, steps, cond), target)
        return loss, {"loss": loss.item(), **metrics}

    # --- inference ---------------------------------------------------------------------------------
    def sample(self, cond: torch.Tensor, noise: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run the reverse process from ``noise`` (N, Tp, Da) under ``cond`` (N, Dc) -> normalized chunks (N, Tp, Da)."""
        x = noise
        for t in self.scheduler.timesteps:
            steps = torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)
            x = self.scheduler.step(self.denoise(x, steps, cond), t, x, generator=generator).prev_sample
        return x

    def initial_noise(
        self, noise: torch.Tensor | None, batch: int, num_samples: int, device: torch.device, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``noise`` as given ((B, Tp, Da), or (B, K, Tp, Da) for K > 1), checked and flattened to (B*K, Tp, Da); else a fresh draw."""
        shape = (batch * num_samples, self.chunk_spec.pred_horizon, self.shape_meta.action_dim)
        if noise is None:
            return torch.randn(shape, generator=generator, device=device)
        expected = (batch, num_samples, *shape[1:]) if num_samples > 1 else (batch, *shape[1:])
        if tuple(noise.shape) != expected:
            raise ValueError(f"noise must have shape {expected} (normalized units), got {tuple(noise.shape)}")
        return noise.reshape(shape).to(device, torch.float32)

    @torch.no_grad()
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        self._check_num_samples(num_samples)
        cond = self.encode_obs(obs)
        k = num_samples
        noise = self.initial_noise(noise, cond.shape[0], k, cond.device, generator)
        cond = repeat(cond, "b d -> (b k) d", k=k)
        full = self.normalizer.unnormalize(ACTION_KEY, self.sample(cond, noise, generator))
        if k > 1:
            full = rearrange(full, "(b k) t d -> b k t d", k=k)
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info={"nfe": len(self.scheduler.timesteps)})
