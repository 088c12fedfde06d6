"""Contracts shared by every policy family: chunks, shapes, normalization, the policy base, runner, registry, checkpoints."""

from robopolicy.core.checkpoint import (
    Checkpoint, build_policy, describe_policy, load_policy, policy_from_checkpoint, read_checkpoint, save_checkpoint,
)
from robopolicy.core.chunk import Chunk, ChunkSpec
from robopolicy.core.errors import CheckpointError
from robopolicy.core.normalizer import ACTION_KEY, Normalizer
from robopolicy.core.policy import Batch, Denoiser, ObsDict, Policy
from robopolicy.core.registry import available_policies, get_policy_class, register_policy
from robopolicy.core.runner import PolicyRunner, RunnerStats
from robopolicy.core.shape_meta import ObsSpec, ShapeMeta

__all__ = [
    "ACTION_KEY", "Batch", "Checkpoint", "CheckpointError", "Chunk", "ChunkSpec", "Denoiser", "Normalizer",
    "ObsDict", "ObsSpec", "Policy", "PolicyRunner", "RunnerStats", "ShapeMeta", "available_policies",
    "build_policy", "describe_policy", "get_policy_class", "load_policy", "policy_from_checkpoint", "read_checkpoint", "register_policy",
    "save_checkpoint",
]
