"""Hyper-parameters of Streaming Diffusion Policy (Høeg, Du, Egeland, 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from robopolicy.policies.diffusion.configuration import DiffusionConfig


@dataclass
class StreamingConfig(DiffusionConfig):
    """Diffusion Policy's settings plus the action buffer's.

    buffer_chunks (h): how many chunks of Ta actions the buffer holds after the To-1 past positions, so
    pred_horizon must equal To-1 + h*Ta, and num_inference_steps must be a multiple of h: each
    observation takes num_inference_steps / h denoising steps. constant_level_prob: the probability that a
    training sample gets one noise level for every position instead of chunk-wise increasing levels
    (the paper mixes 0.2 / 0.8; 0 trains chunk-wise only).
    """

    buffer_chunks: int = 2
    constant_level_prob: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.buffer_chunks, int) or self.buffer_chunks < 1:
            raise ValueError(f"streaming: buffer_chunks must be a positive integer, got {self.buffer_chunks!r}")
        if not 0.0 <= self.constant_level_prob <= 1.0:
            raise ValueError(f"streaming: constant_level_prob must be in [0, 1], got {self.constant_level_prob}")
        for name in ("num_inference_steps", "num_train_timesteps"):
            if getattr(self, name) % self.buffer_chunks:
                raise ValueError(
                    f"streaming: {name}={getattr(self, name)} must be a multiple of buffer_chunks={self.buffer_chunks} "
                    "(each observation denoises the buffer by the same number of levels)"
                )
