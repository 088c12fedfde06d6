"""The interface every policy family implements, and the Denoiser contract of score/flow families."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from robopolicy.core.chunk import Chunk, ChunkSpec
from robopolicy.core.normalizer import Normalizer
from robopolicy.core.shape_meta import ShapeMeta

# Shapes: B batch, K samples, To obs horizon, Tp prediction horizon, Ta executed actions, Da action dim.
ObsDict = Mapping[str, torch.Tensor]  # {key: (B, To, D) low-dim float | (B, To, H, W, 3) uint8 image}
Batch = Mapping[str, Any]  # {"obs": ObsDict, "action": (B, Tp, Da)} in raw units


class Policy(nn.Module, ABC):
    """A policy maps a short observation history to a chunk of future actions.

    Callers speak raw units: observations and actions are normalized inside the policy with
    ``self.normalizer``, which is part of the module state and therefore of every checkpoint.
    ``config`` holds the family's hyper-parameters as plain data; ``Policy.build`` + the saved config,
    shape meta and chunk spec rebuild an identical module (see ``robopolicy.core.checkpoint``).
    """

    family: ClassVar[str] = ""  # set by @register_policy
    # True for families with state carried between calls (Streaming DP's buffer) that assume every
    # predicted chunk's Ta actions are executed before the next call: no early replanning or ensembling.
    executes_whole_chunks: ClassVar[bool] = False
    # Training metrics (keys of compute_loss's dict) the trainer's progress bar shows beside the loss.
    progress_metrics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, shape_meta: ShapeMeta, chunk_spec: ChunkSpec, normalizer: Normalizer, config: Mapping[str, Any]) -> None:
        super().__init__()
        self.shape_meta = shape_meta
        self.chunk_spec = chunk_spec
        self.normalizer = normalizer
        self.config = dict(config)

    @abstractmethod
    def compute_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a raw batch (obs (B, To, ...), action (B, Tp, Da)) -> (scalar loss, metrics)."""

    @abstractmethod
    def predict_chunk(
        self,
        obs: ObsDict,
        *,
        num_samples: int = 1,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Chunk:
        """Predict action chunks from raw observations {key: (B, To, ...)}.

        num_samples=1 -> Chunk(actions (B, Ta, Da), full (B, Tp, Da)); num_samples=K -> (B, K, Ta, Da), (B, K, Tp, Da).
        noise: the initial latent of a generative family, (B, Tp, Da) or (B, K, Tp, Da), in normalized units;
        with it (and a deterministic sampler) the chunk is a deterministic function of (obs, noise).
        """

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups for a base learning rate; families override this to give parts their own rate.

        Each group gets the trainer's warm-up + cosine schedule over the whole run, or over the steps
        [``first_step``, ``last_step``) when the group gives them (a stage of a multi-stage family; ``last_step``
        None: the end of the run). The last group should be the one at ``lr`` (it is the one logged).
        """
        return [{"params": list(self.parameters()), "lr": lr}]

    def check_training_budget(self, num_steps: int) -> None:
        """Raise a clear error before training if ``num_steps`` cannot train this policy (e.g. multi-stage families)."""

    def reset(self) -> None:
        """Clear per-episode state (streaming buffers, warm starts). Stateless families need nothing."""

    def configure_inference(self, **options: Any) -> None:
        """Change inference-only settings (e.g. sampler and step count) of a trained policy; weights are untouched."""
        if options:
            raise ValueError(f"the {self.family!r} policy has no inference options; got {sorted(options)}")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_num_samples(self, num_samples: int) -> None:
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")


@runtime_checkable
class Denoiser(Protocol):
    """What score/flow families expose so wrappers (GPC, DSRL) can drive their sampling loop.

    encode_obs: raw obs {key: (B, To, ...)} -> cond (B, Dc), the conditioning every denoise call reuses.
    denoise: (x_t (B, Tp, Da) normalized, t (B,) integer timesteps, cond) -> model output in the
    scheduler's parameterization (epsilon, sample or v). ``scheduler`` is the diffusers scheduler used at inference.
    """

    scheduler: Any

    def encode_obs(self, obs: ObsDict) -> torch.Tensor: ...

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor: ...
