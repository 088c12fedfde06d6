"""Hyper-parameters of Diffusion Policy (Chi et al., RSS 2023)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BACKBONES = ("unet", "mlp", "transformer")
SAMPLERS = ("ddpm", "ddim")
PREDICTION_TYPES = ("epsilon", "sample", "v_prediction")


@dataclass
class DiffusionConfig:
    """Backbone, noise schedule and sampler.

    backbone: "unet" (the paper's FiLM 1-D U-Net; widths ``down_dims``), "transformer" (time-series
    diffusion transformer) or "mlp" (residual MLP over the flattened chunk; fast on CPUs, low-dim tasks).
    Training uses DDPM with ``num_train_timesteps``; inference runs ``sampler`` for ``num_inference_steps``.
    DDIM runs with eta = 0, so a fixed initial noise gives a fixed chunk.
    """

    backbone: str = "unet"
    down_dims: tuple[int, ...] = (256, 512, 1024)
    kernel_size: int = 5
    groups: int = 8
    step_embed_dim: int = 128
    mlp_hidden: int = 512
    mlp_depth: int = 4
    transformer_dim: int = 256
    transformer_depth: int = 8
    transformer_heads: int = 4
    causal_attention: bool = True
    dropout: float = 0.0
    num_train_timesteps: int = 100
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "epsilon"
    clip_sample: bool = True
    sampler: str = "ddpm"
    num_inference_steps: int = 100
    encoder: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, options in (
            ("backbone", self.backbone, BACKBONES),
            ("sampler", self.sampler, SAMPLERS),
            ("prediction_type", self.prediction_type, PREDICTION_TYPES),
        ):
            if value not in options:
                raise ValueError(f"diffusion: {name}={value!r} is not one of {options}")
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError(
                f"diffusion: num_inference_steps={self.num_inference_steps} must be between 1 and "
                f"num_train_timesteps={self.num_train_timesteps}"
            )
