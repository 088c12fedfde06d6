"""Noise levels per position of the Streaming DP action buffer.

Positions 0..Tp-1 of a chunk: the first To-1 lie in the past (they share the first chunk's level),
then h = (Tp - (To-1)) / Ta chunks of Ta positions. With L levels (L = num_inference_steps at
inference, num_train_timesteps in training), chunk c sits at level (c+1) L/h - 1 - j for an offset
j in [0, L/h): the first chunk is L/h steps from clean, each later chunk L/h levels noisier. Level -1
means clean.
"""

from __future__ import annotations

import torch

from robopolicy.core import ChunkSpec


def check_buffer_geometry(spec: ChunkSpec, buffer_chunks: int) -> None:
    """Raise a ValueError saying how to fix a chunk spec that does not split into ``buffer_chunks`` chunks."""
    needed = spec.obs_horizon - 1 + buffer_chunks * spec.action_horizon
    if spec.pred_horizon != needed:
        raise ValueError(
            f"streaming: pred_horizon={spec.pred_horizon} must equal obs_horizon-1 + buffer_chunks*action_horizon = "
            f"{spec.obs_horizon - 1} + {buffer_chunks}*{spec.action_horizon} = {needed}; set policy.pred_horizon={needed} "
            "or change buffer_chunks / action_horizon"
        )


def chunk_index(spec: ChunkSpec) -> torch.Tensor:
    """(Tp,) long: which buffer chunk each position belongs to (past positions count as chunk 0)."""
    positions = torch.arange(spec.pred_horizon)
    return torch.div(positions - (spec.obs_horizon - 1), spec.action_horizon, rounding_mode="floor").clamp(min=0)


def chunkwise_levels(spec: ChunkSpec, buffer_chunks: int, num_levels: int, offset: torch.Tensor | int = 0) -> torch.Tensor:
    """Chunk-wise increasing levels: (Tp,) for an int ``offset`` j, (B, Tp) for offsets (B,)."""
    per_chunk = num_levels // buffer_chunks
    levels = (chunk_index(spec) + 1) * per_chunk - 1
    offset = torch.as_tensor(offset)
    return levels - offset[..., None] if offset.dim() else levels - offset


def sample_training_levels(
    batch: int,
    spec: ChunkSpec,
    buffer_chunks: int,
    num_levels: int,
    constant_prob: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample training levels (B, Tp) in [0, num_levels) and which samples got one constant level (B,) bool.

    With probability ``constant_prob`` a sample has one level, uniform over all levels, at every
    position; otherwise chunk-wise levels with a uniform offset j in [0, num_levels / h).
    """
    per_chunk = num_levels // buffer_chunks
    offsets = torch.randint(0, per_chunk, (batch,), generator=generator)
    levels = chunkwise_levels(spec, buffer_chunks, num_levels, offsets)
    constant = torch.rand(batch, generator=generator) < constant_prob
    uniform = torch.randint(0, num_levels, (batch, 1), generator=generator).expand(-1, spec.pred_horizon)
    return torch.where(constant[:, None], uniform, levels), constant
