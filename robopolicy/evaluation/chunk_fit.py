"""Open-loop fit of a policy's chunks to held-out demonstrations: how far off, how many modes, how shrunk.

Closed-loop success mixes many causes. This measures three of them on demonstration windows (held-out ones, the
dataset's mask/valid, when run through ``scripts/eval.py``), with K sampled chunks per window, over the executed
slice (the Ta actions a rollout runs):

- ``error``: the mean distance between a sampled action and the demonstrated one (raw action units);
  ``best_of_k_error`` is the same for the closest of the K samples, so the gap between the two is what a
  perfect re-ranker could gain; ``lowest_energy_error`` (families that report ``Chunk.info["energy"]``)
  is what re-ranking by that energy gains.
- ``spread``: the mean distance of the K samples from their mean. Near zero means the policy returns the
  same chunk whatever its noise: a regressor, whatever its sampler.
- ``travel_ratio``: the summed step-to-step change of the predicted actions over that of the demonstrated
  ones (for position actions, path length). Below 1 is the signature of averaging over modes: a chunk
  that splits the difference between "go left" and "go right" moves less than either.
  ``best_of_k_travel_ratio`` is the same for the sample closest to the demonstration and
  ``lowest_energy_travel_ratio`` for the lowest-energy one: when even the closest sample moves too little,
  every sample is shrunk and no re-ranking restores the motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from robopolicy.core import ACTION_KEY, Policy
from robopolicy.data.sequence_dataset import SequenceDataset


@dataclass
class ChunkFit:
    """Averages over ``num_windows`` windows (and the K samples of each); errors in raw action units."""

    num_windows: int
    num_samples: int
    error: float
    best_of_k_error: float
    lowest_energy_error: float | None
    spread: float
    travel_ratio: float
    best_of_k_travel_ratio: float
    lowest_energy_travel_ratio: float | None

    def summary(self) -> str:
        energy, energy_travel = "", ""
        if self.lowest_energy_error is not None:
            energy = f", lowest energy {self.lowest_energy_error:.4g}"
            energy_travel = f", lowest energy {self.lowest_energy_travel_ratio:.3f}"
        return (f"chunk fit on {self.num_windows} windows, {self.num_samples} samples each: error "
                f"{self.error:.4g} (best of {self.num_samples} {self.best_of_k_error:.4g}{energy}), spread "
                f"{self.spread:.4g}, travel ratio {self.travel_ratio:.3f} (best of {self.num_samples} "
                f"{self.best_of_k_travel_ratio:.3f}{energy_travel})")


def chunk_fit(policy: Policy, data: SequenceDataset, *, num_windows: int = 400, num_samples: int = 8,
              batch_size: int = 100, seed: int = 0, progress: bool = True) -> ChunkFit:
    """Sample ``num_samples`` chunks for ``num_windows`` windows of ``data`` (drawn with ``seed``) and compare.

    The policy is reset before every batch, so families that keep state between chunks start fresh.
    """
    if num_windows < 1 or num_samples < 1:
        raise ValueError(f"chunk_fit needs num_windows >= 1 and num_samples >= 1, got {num_windows} and {num_samples}")
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(data), size=min(num_windows, len(data)), replace=False)
    generator = torch.Generator(device=policy.device).manual_seed(seed)
    executed = policy.chunk_spec.executed
    errors, energies, spreads, travel, demo_travel = [], [], [], [], []
    policy.eval()
    for start in tqdm(range(0, len(indices), batch_size), desc="chunk fit", unit="batch", disable=not progress):
        batch = data.get_batch(indices[start : start + batch_size])
        policy.reset()
        chunk = policy.predict_chunk(batch["obs"], num_samples=num_samples, generator=generator)
        ta, da = chunk.actions.shape[-2:]
        predicted = chunk.actions.detach().reshape(-1, num_samples, ta, da)  # (B, K, Ta, Da)
        demo = batch[ACTION_KEY][:, None, executed].to(predicted)  # (B, 1, Ta, Da)
        errors.append(torch.linalg.vector_norm(predicted - demo, dim=-1).mean(-1))  # (B, K)
        spreads.append(torch.linalg.vector_norm(predicted - predicted.mean(1, keepdim=True), dim=-1).mean((1, 2)))
        travel.append(torch.linalg.vector_norm(predicted.diff(dim=-2), dim=-1).sum(-1))  # (B, K)
        demo_travel.append(torch.linalg.vector_norm(demo.diff(dim=-2), dim=-1).sum(-1)[:, 0])
        if isinstance(chunk.info.get("energy"), torch.Tensor):
            energies.append(chunk.info["energy"].detach().reshape(len(demo), num_samples))
    error, sample_travel, total_demo_travel = torch.cat(errors), torch.cat(travel), torch.cat(demo_travel).sum()
    rows = torch.arange(len(error))
    closest = error.argmin(1)

    def travel_ratio(per_window: torch.Tensor) -> float:
        """Travel per window (N,), of one chosen sample or averaged over the samples, over the demonstrations' travel."""
        return float(per_window.sum() / total_demo_travel)

    lowest_energy, lowest_energy_travel = None, None
    if len(energies) == len(errors):
        pick = torch.cat(energies).argmin(1)
        lowest_energy = float(error[rows, pick].mean())
        lowest_energy_travel = travel_ratio(sample_travel[rows, pick])
    return ChunkFit(
        num_windows=len(indices),
        num_samples=num_samples,
        error=float(error.mean()),
        best_of_k_error=float(error[rows, closest].mean()),
        lowest_energy_error=lowest_energy,
        spread=float(torch.cat(spreads).mean()),
        travel_ratio=travel_ratio(sample_travel.mean(1)),
        best_of_k_travel_ratio=travel_ratio(sample_travel[rows, closest]),
        lowest_energy_travel_ratio=lowest_energy_travel,
    )
