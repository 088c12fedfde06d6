"""Streaming Diffusion Policy: a rolling action buffer whose later actions are progressively noisier.

Training (Høeg et al. 2024, Sec. 4): like Diffusion Policy, but each position of the demonstration
chunk is noised to its own level, chunk-wise increasing along the chunk (with probability
``constant_level_prob`` one level everywhere, as in plain DP), and the network is told every position's
level.

Inference keeps the buffer between control steps. On reset it is a zero primer noised to chunk-wise
levels (first chunk L/h - 1, ..., last chunk L - 1 for L inference levels and h buffer chunks). Each
call denoises the whole buffer L/h times, one level per position per network evaluation, so the first
chunk comes out clean while every later chunk is still L/h levels from clean; that chunk is returned.
The next call first shifts the buffer by Ta (the executed actions leave, the second chunk becomes the
first), appends Ta positions of fresh Gaussian noise at the top level, and re-noises the To-1 past
positions to the new first chunk's level, which is how they look in training. A chunk therefore costs
L/h network evaluations instead of L.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange, repeat

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec, Normalizer, ObsDict, ShapeMeta, register_policy
from robopolicy.policies.diffusion.modeling import DiffusionPolicy
from robopolicy.policies.streaming.configuration import StreamingConfig
from robopolicy.policies.streaming.levels import check_buffer_geometry, chunkwise_levels, sample_training_levels
from robopolicy.policies.streaming.stepping import PerPositionStepper


@register_policy("streaming")
class StreamingDiffusionPolicy(DiffusionPolicy):
    """Diffusion Policy's network and encoder with per-position noise levels and a rolling buffer."""

    config_class = StreamingConfig
    per_position_steps = True
    executes_whole_chunks = True  # each call assumes the previous chunk's Ta actions were executed

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: dict[str, Any]) -> None:
        super().__init__(shape_meta, chunk_spec, normalizer, config)
        check_buffer_geometry(chunk_spec, self.cfg.buffer_chunks)
        self.stepper = PerPositionStepper(self.scheduler)
        self.reset()

    def configure_inference(self, **options: Any) -> None:
        """As Diffusion Policy's (StreamingConfig re-checks the step count against buffer_chunks); resets the buffer."""
        super().configure_inference(**options)
        self.stepper = PerPositionStepper(self.scheduler)
        self.reset()

    def reset(self) -> None:
        """Drop the buffer; the next prediction starts from a fresh noised zero primer."""
        self._buffer: torch.Tensor | None = None  # (N, Tp, Da) normalized, N = B*K
        self._levels: torch.Tensor | None = None  # (Tp,) level per position, -1 = clean

    @property
    def buffer_levels(self) -> torch.Tensor | None:
        """The buffer's current level per position (Tp,), or None after reset."""
        return None if self._levels is None else self._levels.clone()

    @property
    def initial_levels(self) -> torch.Tensor:
        """Levels (Tp,) of a freshly initialized buffer, in inference-schedule units."""
        return chunkwise_levels(self.chunk_spec, self.cfg.buffer_chunks, self.stepper.num_levels)

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The Denoiser contract with steps (B, Tp) per position; steps (B,) mean one level everywhere, as in DP."""
        if t.dim() < 2:
            t = t.reshape(-1, 1).expand(x_t.shape[0], x_t.shape[1])
        return self.backbone(x_t, t, cond)

    # --- training ----------------------------------------------------------------------------------
    def sample_training_steps(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """One training step per position, (B, Tp): chunk-wise increasing, or constant with constant_level_prob."""
        levels, constant = sample_training_levels(
            batch_size, self.chunk_spec, self.cfg.buffer_chunks, self.cfg.num_train_timesteps, self.cfg.constant_level_prob
        )
        return levels.to(device), {"constant_level_fraction": constant.float().mean().item()}

    # --- inference ---------------------------------------------------------------------------------
    def advance_buffer(self, noise: torch.Tensor) -> None:
        """Start a buffer from the zero primer, or shift the last one by Ta; ``noise`` (N, Tp, Da) supplies every fresh draw."""
        spec, stepper = self.chunk_spec, self.stepper
        if self._buffer is None:
            self._levels = self.initial_levels.to(noise.device)
            self._buffer = stepper.add_noise(torch.zeros_like(noise), noise, self._levels)
            return
        ta, past = spec.action_horizon, spec.obs_horizon - 1
        top = torch.full((ta,), stepper.num_levels - 1, device=noise.device, dtype=torch.long)
        levels = torch.cat([self._levels[ta:], top])
        buffer = torch.cat([self._buffer[:, ta:], noise[:, -ta:]], dim=1)
        if past:  # the clean past positions get the new first chunk's level, as in training
            levels[:past] = levels[past]
            buffer[:, :past] = stepper.add_noise(buffer[:, :past], noise[:, :past], levels[:past])
        self._buffer, self._levels = buffer, levels

    def denoise_buffer(self, cond: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, int]:
        """Denoise until the first chunk is clean, under ``cond`` (N, Dc).

        Returns the normalized prediction (N, Tp, Da) - clean positions as they are, the rest as the last
        x0 estimate - and the number of network evaluations.
        """
        first_chunk_end = self.chunk_spec.obs_horizon - 1 + self.chunk_spec.action_horizon
        estimate, nfe = self._buffer, 0
        while self._levels[first_chunk_end - 1] >= 0:
            steps = repeat(self.stepper.timestep(self._levels), "t -> n t", n=self._buffer.shape[0])
            output = self.denoise(self._buffer, steps, cond)
            self._buffer, estimate = self.stepper.step(output, self._levels, self._buffer, generator)
            self._levels = (self._levels - 1).clamp(min=-1)
            nfe += 1
        return torch.where((self._levels < 0)[:, None], self._buffer, estimate), nfe

    @property
    def buffer(self) -> torch.Tensor | None:
        """The normalized buffer (N, Tp, Da), or None after reset."""
        return None if self._buffer is None else self._buffer.clone()

    @torch.no_grad()
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        """The next clean chunk from the rolling buffer (see the module docstring).

        noise: (B, Tp, Da), or (B, K, Tp, Da) with num_samples=K, normalized: the Gaussian draws this call
        adds to the buffer (all of it on the first call after reset; afterwards its last Ta positions are
        the fresh entries and its first To-1 re-noise the past positions). With DDIM the chunk is then a
        deterministic function of the observations, the noise of this and earlier calls since reset.
        ``full`` holds the clean first chunk and, for the positions still noisy, the last x0 estimate.
        """
        self._check_num_samples(num_samples)
        cond = self.encode_obs(obs)
        b, k = cond.shape[0], num_samples
        if self._buffer is not None and self._buffer.shape[0] != b * k:
            raise ValueError(
                f"streaming: the buffer holds {self._buffer.shape[0]} sequences but this call asks for {b}x{k}; "
                "call reset() before changing the batch size or num_samples"
            )
        noise = self.initial_noise(noise, b, k, cond.device, generator)
        cond = repeat(cond, "b d -> (b k) d", k=k)

        self.advance_buffer(noise)
        normalized, nfe = self.denoise_buffer(cond, generator)
        full = self.normalizer.unnormalize(ACTION_KEY, normalized)
        if k > 1:
            full = rearrange(full, "(b k) t d -> b k t d", k=k)
        return Chunk(actions=full[..., self.chunk_spec.executed, :], full=full, info={"nfe": nfe})
