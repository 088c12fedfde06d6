"""One reverse-diffusion step with a different noise level at every position of the chunk.

diffusers' schedulers step a whole sample from one timestep to the next. The streaming buffer needs
each position to move one level down its own ladder: the inference schedule's timesteps, ascending,
tau_0 < tau_1 < ... < tau_{L-1}, with level l at timestep tau_l and level -1 clean (abar = 1). The
formulas are the schedulers' own, written per position:

1. From the model output, the clean estimate x0 and the noise estimate eps
   (Ho et al. 2020, Eq. 15, for epsilon; sample and v parameterizations likewise), x0 clipped to [-1, 1].
2. DDIM with eta = 0 (Song et al. 2021, Eq. 12): x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps.
3. DDPM (Ho et al. 2020, Eqs. 6-7, with the step's own beta = 1 - abar_t / abar_prev, which is
   how diffusers skips timesteps): x_prev = c0 x0 + ct x_t + sigma z, with the posterior's small variance.
With one level for every position these reproduce DDIMScheduler.step / DDPMScheduler.step.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler


class PerPositionStepper:
    """Steps (N, Tp, Da) samples whose positions sit at levels (Tp,) of an inference schedule."""

    def __init__(self, scheduler: DDPMScheduler | DDIMScheduler) -> None:
        config = scheduler.config
        self.deterministic = isinstance(scheduler, DDIMScheduler)
        self.prediction_type = config.prediction_type
        self.clip = float(config.clip_sample_range) if config.clip_sample else None
        self.timesteps = scheduler.timesteps.flip(0).long()  # ascending: level l -> timestep tau_l
        self.alphas_cumprod = scheduler.alphas_cumprod.float()

    @property
    def num_levels(self) -> int:
        return len(self.timesteps)

    def timestep(self, levels: torch.Tensor) -> torch.Tensor:
        """The training timestep of each level (levels >= 0), same shape."""
        return self.timesteps.to(levels.device)[levels.clamp(min=0)]

    def abar(self, levels: torch.Tensor) -> torch.Tensor:
        """abar of each level (any shape; level -1 -> 1, clean)."""
        values = self.alphas_cumprod.to(levels.device)[self.timestep(levels)]
        return torch.where(levels < 0, torch.ones_like(values), values)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
        """Forward-noise clean x0 (N, Tp, Da) to ``levels`` (Tp,): sqrt(abar) x0 + sqrt(1 - abar) noise."""
        abar = self.abar(levels)[:, None]
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def step(
        self,
        model_output: torch.Tensor,
        levels: torch.Tensor,
        x_t: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Move every position with level >= 0 one level down; clean positions (-1) are left as they are.

        model_output, x_t: (N, Tp, Da); levels: (Tp,). Returns (x at levels - 1, clipped x0 estimate), both (N, Tp, Da).
        """
        noisy = (levels >= 0)[:, None]
        abar_t = self.abar(levels)[:, None]
        abar_prev = self.abar(levels - 1)[:, None]
        # 1. x0 and eps from the model output.
        if self.prediction_type == "epsilon":
            eps = model_output
            x0 = (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()
        elif self.prediction_type == "sample":
            x0 = model_output
            eps = (x_t - abar_t.sqrt() * x0) / (1 - abar_t).sqrt().clamp(min=1e-8)
        else:  # v_prediction
            x0 = abar_t.sqrt() * x_t - (1 - abar_t).sqrt() * model_output
            eps = abar_t.sqrt() * model_output + (1 - abar_t).sqrt() * x_t
        if self.clip is not None:
            x0 = x0.clamp(-self.clip, self.clip)
        if self.deterministic:
            # 2. DDIM, eta = 0.
            x_prev = abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps
        else:
            # 3. DDPM posterior mean and variance for the step abar_t -> abar_prev.
            alpha = abar_t / abar_prev
            beta = 1 - alpha
            mean = (abar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - abar_prev) * x_t) / (1 - abar_t)
            variance = ((1 - abar_prev) / (1 - abar_t) * beta).clamp(min=1e-20)
            z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
            x_prev = mean + torch.where((levels > 0)[:, None], variance.sqrt() * z, torch.zeros_like(z))
        return torch.where(noisy, x_prev, x_t), torch.where(noisy, x0, x_t)
