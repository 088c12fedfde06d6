"""Exponential moving average of the weights, used for evaluation and saved in every checkpoint."""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = EMA of a module's floating-point state (parameters and buffers).

    The decay warms up as 1 - (1 + step)^-power, capped at ``max_decay`` (Diffusion Policy's schedule,
    after Karras et al.): early weights are forgotten quickly, later ones averaged over ~1/(1-decay) steps.
    Non-float buffers (counters, flags) are copied as they are.
    """

    def __init__(self, module: nn.Module, power: float = 0.75, max_decay: float = 0.9999) -> None:
        self.power, self.max_decay = power, max_decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.updates = 0

    def decay(self) -> float:
        return 0.0 if self.updates == 0 else min(self.max_decay, 1.0 - (1.0 + self.updates) ** -self.power)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        decay = self.decay()
        for key, value in module.state_dict().items():
            shadow = self.shadow[key]
            if value.is_floating_point():
                shadow.lerp_(value.detach(), 1.0 - decay)
            else:
                shadow.copy_(value)
        self.updates += 1

    def state(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load(self, shadow: dict[str, torch.Tensor], updates: int) -> None:
        for key, value in shadow.items():
            self.shadow[key].copy_(value)
        self.updates = updates
