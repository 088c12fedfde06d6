"""chunk_fit: exact values for policies whose samples are known functions of the demonstrated chunk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopolicy.core import ACTION_KEY, Chunk, ChunkSpec
from robopolicy.data.reader import Demo
from robopolicy.data.sequence_dataset import SequenceDataset
from robopolicy.evaluation.chunk_fit import chunk_fit

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)
OFFSET = torch.tensor([0.3, 0.4])  # 0.5 long


def line_demos() -> SequenceDataset:
    """Demos that move 0.1 per step along x; the observation carries the window's own index."""
    demos = []
    start = 0
    for length in (20, 30):
        steps = np.arange(length, dtype=np.float32)
        actions = np.stack([0.1 * steps, np.zeros_like(steps)], axis=1)
        index = (start + steps)[:, None]  # window t of this demo is dataset window start + t
        demos.append(Demo(name=f"demo_{start}", obs={"index": index}, actions=actions, attrs={}))
        start += length
    return SequenceDataset(demos, SPEC, ["index"])


class ReplayPolicy:
    """Sample 0 is the demonstrated chunk, sample 1 the same shifted by OFFSET; ``shrink`` scales motion."""

    device = torch.device("cpu")
    chunk_spec = SPEC

    def __init__(self, data: SequenceDataset, shrink: float = 1.0, energy_prefers_shifted: bool = False) -> None:
        self.data, self.shrink, self.energy_prefers_shifted = data, shrink, energy_prefers_shifted
        self.resets = 0

    def eval(self) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1

    def predict_chunk(self, obs, *, num_samples=1, noise=None, generator=None) -> Chunk:
        assert num_samples == 2
        windows = obs["index"][:, -1, 0].long()
        demo = self.data.get_batch(windows)[ACTION_KEY]  # (B, Tp, Da)
        anchor = demo[:, SPEC.executed.start : SPEC.executed.start + 1]
        demo = anchor + self.shrink * (demo - anchor)
        full = torch.stack([demo, demo + OFFSET], dim=1)  # (B, 2, Tp, Da)
        energy = torch.tensor([1.0, 0.0] if self.energy_prefers_shifted else [0.0, 1.0]).expand(len(demo), 2)
        return Chunk(actions=full[:, :, SPEC.executed], full=full, info={"energy": energy})


def test_errors_spread_and_travel_match_hand_computed_values():
    data = line_demos()
    policy = ReplayPolicy(data, energy_prefers_shifted=True)
    fit = chunk_fit(policy, data, num_windows=30, num_samples=2, batch_size=7, progress=False)
    assert fit.num_windows == 30 and fit.num_samples == 2
    assert fit.error == pytest.approx(0.25)  # one sample exact, the other 0.5 off at every step
    assert fit.best_of_k_error == pytest.approx(0.0, abs=1e-6)
    assert fit.lowest_energy_error == pytest.approx(0.5)  # the energy picks the shifted sample
    assert fit.spread == pytest.approx(0.25)
    assert fit.travel_ratio == pytest.approx(1.0)  # a shift does not change how far the chunk moves
    assert policy.resets == 5  # once per batch of 7


def test_a_chunk_that_moves_half_as_far_has_travel_ratio_one_half():
    data = line_demos()
    fit = chunk_fit(ReplayPolicy(data, shrink=0.5), data, num_windows=50, num_samples=2, progress=False)
    assert fit.travel_ratio == pytest.approx(0.5)
    assert fit.best_of_k_error > 0  # shrunk chunks fall behind the demonstrated ones
    assert fit.lowest_energy_error == pytest.approx(fit.best_of_k_error)  # the energy now prefers sample 0


def test_more_windows_than_the_data_has_uses_every_window_once_and_bad_counts_are_refused():
    data = line_demos()
    assert chunk_fit(ReplayPolicy(data), data, num_windows=10_000, num_samples=2, progress=False).num_windows == len(data)
    with pytest.raises(ValueError, match="num_samples >= 1"):
        chunk_fit(ReplayPolicy(data), data, num_windows=10, num_samples=0, progress=False)
