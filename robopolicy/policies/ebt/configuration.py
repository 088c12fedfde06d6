"""Hyper-parameters of the energy-based transformer policy (EBT-Policy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EBTConfig:
    """Energy model size, the unrolled descent used in training, and inference settings.

    Model: an EnergyTransformer of width ``dim``, ``depth`` blocks and ``heads`` heads; ``action_patch``
    consecutive actions share one token (1: one token per action; the chunk length must be a multiple of it).

    Training: from ``init_std`` * N(0, I) (normalized action units) take S ~ U{train_steps_min..train_steps_max}
    steps y <- y - alpha dE/dy, keeping the graph through every step (second order) unless
    ``detach_between_steps``; ``langevin_std`` adds noise before each step (training only); the loss is the
    mean squared error of every step's chunk (``loss_on_all_steps``) or of the last one; with ``distance: euclidean``
    the Euclidean distance between the whole chunks replaces the mean squared error (both in the loss and in
    choosing the winner among the starts below), as IMLE does (Li and Malik 2018; Rana et al. 2025, "IMLE Policy"):
    its gradient has the same size however close the chunk already is, and the nearest of several samples is pulled
    toward a median of the demonstrations it wins rather than their mean. alpha = exp(log_alpha)
    is learned (positive by construction) from ``step_size``. ``train_starts`` K > 1 descends from K starts per
    window and keeps only the best one's error (winner takes all), so different starts may settle in different
    modes of the demonstrations instead of all being pulled to their average (the winner is found by K descents
    without a graph; only it is descended again with one).
    Inference: ``inference_steps`` steps from noise, or from the previous chunk shifted by Ta (``warm_start``);
    ``candidates`` (G) descents per requested sample, the lowest final energy wins; ``early_stop_tol`` > 0
    stops once no sample's energy falls by more than that in a step. ``coherence_weight`` w != 0 chooses among the G
    descents by final energy + w * (mean squared distance, normalized units, between a candidate's first Tp - Ta actions
    and the previous chosen chunk's last Tp - Ta): with w > 0 the backward coherence of Bidirectional Decoding (Liu et
    al. 2024), which keeps consecutive chunks in one mode of the demonstrations; w < 0 prefers the candidates that
    depart from the previous plan. Like ``warm_start`` it keeps the previous chunk. ``pace_gain`` c (needs
    ``relative_to``) returns anchor + c * offsets instead of anchor + offsets: a calibration for chunks that move less
    far than the demonstrations. Choose c on validation episodes (``scripts/eval.py seeds=validation``): 1 / the chunk
    fit's travel ratio overshoots (docs/ebt.md). The reported energy stays that of the descended chunk.
    Landscape near the data: ``matching_weight`` > 0 adds an equilibrium-matching term: at a chunk drawn on the
    line between noise and the demonstration, one descent step should land on the demonstration
    (alpha dE/dy = y - x), so the data are the energy's stationary points and steps taken near them refine.
    Energy as uncertainty: ``contrastive_weight`` > 0 adds a logistic term that trains the final energy low for
    each window's own observation and high for observations assembled from two windows (negatives.py).
    Choosing among descents: ``ranking_weight`` > 0 (needs ``train_starts`` > 1) adds a cross-entropy over the
    final energies of a window's K descents whose target is the one that landed closest to the demonstration.
    Action frame: ``relative_to`` names a low-dim observation key in the action's units (e.g. ``agent_pos`` when
    the action is a target position); the chunk is then descended, regressed and started from noise as offsets from
    that key's last frame (both in normalized action units), so a start's noise reads as a motion rather than as
    a place in the workspace. Chunks come back absolute either way.
    """

    dim: int = 64
    depth: int = 3
    heads: int = 4
    dropout: float = 0.0
    action_patch: int = 1
    init_std: float = 1.0
    step_size: float = 1.0
    learn_step_size: bool = True
    train_steps_min: int = 2
    train_steps_max: int = 4
    detach_between_steps: bool = False
    langevin_std: float = 0.0
    loss_on_all_steps: bool = True
    distance: str = "squared"
    train_starts: int = 4
    inference_steps: int = 2
    candidates: int = 1
    warm_start: bool = False
    early_stop_tol: float = 0.0
    coherence_weight: float = 0.0
    pace_gain: float = 1.0
    matching_weight: float = 0.0
    contrastive_weight: float = 0.0
    ranking_weight: float = 0.0
    relative_to: str | None = None
    encoder: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.train_steps_min <= self.train_steps_max:
            raise ValueError(
                f"ebt: need 1 <= train_steps_min <= train_steps_max, got {self.train_steps_min} and {self.train_steps_max}"
            )
        for name in ("inference_steps", "candidates", "train_starts", "depth", "heads", "dim", "action_patch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ebt: {name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("step_size", "init_std", "pace_gain"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ebt: {name} must be positive, got {getattr(self, name)}")
        for name in ("langevin_std", "early_stop_tol", "dropout", "matching_weight", "contrastive_weight",
                     "ranking_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"ebt: {name} must be >= 0, got {getattr(self, name)}")
        if self.distance not in ("squared", "euclidean"):
            raise ValueError(f"ebt: distance must be 'squared' or 'euclidean', got {self.distance!r}")
        if self.pace_gain != 1 and self.relative_to is None:
            raise ValueError(f"ebt: pace_gain={self.pace_gain} scales the chunk's offsets from policy.relative_to, but "
                             "this policy predicts absolute actions (relative_to is null); leave pace_gain at 1")
        if self.ranking_weight > 0 and self.train_starts < 2:
            raise ValueError("ebt: ranking_weight > 0 ranks a window's descents from several starts; "
                             f"set policy.train_starts to 2 or more (got {self.train_starts})")
