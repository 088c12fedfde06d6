"""PolicyRunner: a chunk-predicting policy as a per-tick controller (used by evaluation and hardware)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from robopolicy.core.chunk import Chunk
from robopolicy.core.policy import Policy


@dataclass
class RunnerStats:
    """Per-chunk measurements: wall-clock latency of predict_chunk (s) and network evaluations."""

    latencies: list[float] = field(default_factory=list)
    nfe: list[float] = field(default_factory=list)


class PolicyRunner:
    """Feeds B lock-stepped environments one action per control tick.

    It keeps the last To observations (the first one repeated at the start of an episode, as in
    training), asks the policy for a chunk when its queue runs dry, and hands out the executed slice
    one action at a time. ``replan_every`` < Ta replans before the queue is empty (the rest of the old
    chunk is dropped). ``temporal_ensemble=k`` predicts at every tick and averages, for the current
    tick, every earlier prediction that covers it with weights exp(-k * age_rank), oldest first (ACT).
    """

    def __init__(
        self,
        policy: Policy,
        *,
        replan_every: int | None = None,
        temporal_ensemble: float | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        spec = policy.chunk_spec
        self.policy = policy
        self.replan_every = spec.action_horizon if replan_every is None else int(replan_every)
        if not 1 <= self.replan_every <= spec.action_horizon:
            raise ValueError(f"replan_every must be in [1, Ta={spec.action_horizon}], got {replan_every}")
        if temporal_ensemble is not None and temporal_ensemble < 0:
            raise ValueError(f"temporal_ensemble must be a non-negative decay rate, got {temporal_ensemble}")
        if policy.executes_whole_chunks and (self.replan_every != spec.action_horizon or temporal_ensemble is not None):
            raise ValueError(
                f"the {policy.family!r} policy keeps state between chunks and must execute all Ta={spec.action_horizon} "
                "actions of each one: leave replan_every unset and temporal_ensemble off"
            )
        self.temporal_ensemble = temporal_ensemble
        self.generator = generator
        self.stats = RunnerStats()
        self.last_chunk: Chunk | None = None
        self.reset()

    def reset(self) -> None:
        """Start a new episode in every environment: forget history, queued actions and policy state."""
        self._history: deque[dict[str, np.ndarray]] = deque(maxlen=self.policy.chunk_spec.obs_horizon)
        self._queue: list[np.ndarray] = []  # each (B, Da), next action first
        self._ensemble: list[tuple[int, np.ndarray]] = []  # (tick of first action, (B, T, Da))
        self._tick = 0
        self.policy.reset()

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One control tick: obs {key: (B, ...)} -> action (B, Da) in raw units."""
        frame = {k: np.asarray(v) for k, v in obs.items()}
        if not self._history:
            self._history.extend([frame] * self._history.maxlen)
        else:
            self._history.append(frame)
        if self.temporal_ensemble is not None:
            action = self._act_ensembled()
        else:
            if not self._queue:
                chunk = self._predict()
                executed = chunk.actions[:, : self.replan_every].cpu().numpy()
                self._queue = [executed[:, i] for i in range(executed.shape[1])]
            action = self._queue.pop(0)
        self._tick += 1
        return action

    def _act_ensembled(self) -> np.ndarray:
        spec = self.policy.chunk_spec
        future = self._predict().full[:, spec.obs_horizon - 1 :].cpu().numpy()  # (B, Tp-To+1, Da), starts now
        self._ensemble.append((self._tick, future))
        self._ensemble = [(t0, a) for t0, a in self._ensemble if self._tick - t0 < a.shape[1]]
        preds = np.stack([a[:, self._tick - t0] for t0, a in self._ensemble])  # (N, B, Da), oldest first
        weights = np.exp(-self.temporal_ensemble * np.arange(len(preds)))
        return np.tensordot(weights / weights.sum(), preds, axes=1)

    @torch.no_grad()
    def _predict(self) -> Chunk:
        device = self.policy.device
        batch = {k: torch.from_numpy(np.stack([f[k] for f in self._history], axis=1)).to(device) for k in self._history[0]}
        start = time.perf_counter()
        chunk = self.policy.predict_chunk(batch, generator=self.generator)
        self.stats.latencies.append(time.perf_counter() - start)
        self.stats.nfe.append(float(chunk.info.get("nfe", float("nan"))))
        self.last_chunk = chunk
        return chunk
