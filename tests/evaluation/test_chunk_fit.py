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
    """Sample 0 is the demonstrated chunk, sample 1 the same shifted by OFFSET; ``shrink`` scales the motion of
    sample 0, and of sample 1 too unless ``shrink_first_only``."""

    device = torch.device("cpu")
    chunk_spec = SPEC

    def __init__(self, data: SequenceDataset, shrink: float = 1.0, energy_prefers_shifted: bool = False,
                 shrink_first_only: bool = False) -> None:
        self.data, self.shrink, self.energy_prefers_shifted = data, shrink, energy_prefers_shifted
        self.shrink_first_only = shrink_first_only
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
        shrunk = anchor + self.shrink * (demo - anchor)
        full = torch.stack([shrunk, (demo if self.shrink_first_only else shrunk) + OFFSET], dim=1)  # (B, 2, Tp, Da)
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
    assert fit.best_of_k_travel_ratio == pytest.approx(1.0) and fit.lowest_energy_travel_ratio == pytest.approx(1.0)
    assert policy.resets == 5  # once per batch of 7


def test_a_chunk_that_moves_half_as_far_has_travel_ratio_one_half():
    data = line_demos()
    fit = chunk_fit(ReplayPolicy(data, shrink=0.5), data, num_windows=50, num_samples=2, progress=False)
    assert fit.travel_ratio == pytest.approx(0.5)
    assert fit.best_of_k_error > 0  # shrunk chunks fall behind the demonstrated ones
    assert fit.lowest_energy_error == pytest.approx(fit.best_of_k_error)  # the energy now prefers sample 0
    assert fit.best_of_k_travel_ratio == pytest.approx(0.5) and fit.lowest_energy_travel_ratio == pytest.approx(0.5)


class ReversedReplayPolicy(ReplayPolicy):
    """ReplayPolicy with the two samples (and their energies) in the other order."""

    def predict_chunk(self, obs, *, num_samples=1, noise=None, generator=None) -> Chunk:
        chunk = super().predict_chunk(obs, num_samples=num_samples)
        energy = chunk.info["energy"].flip(1)
        return Chunk(actions=chunk.actions.flip(1), full=chunk.full.flip(1), info={"energy": energy})


@pytest.mark.parametrize("policy_class", [ReplayPolicy, ReversedReplayPolicy])
def test_travel_of_the_closest_and_of_the_lowest_energy_sample_tell_selection_from_shrinkage(policy_class):
    """The shrunk sample stays near the demonstration (at most 0.075 off on average: less where the padded end of a
    demo stops moving) while the full-motion one is 0.5 off: the closest sample moves half as far, the one the
    energy picks as far as the demonstration."""
    data = line_demos()
    policy = policy_class(data, shrink=0.5, energy_prefers_shifted=True, shrink_first_only=True)
    fit = chunk_fit(policy, data, num_windows=50, num_samples=2, progress=False)
    assert 0.05 < fit.best_of_k_error <= 0.075 + 1e-6
    assert fit.travel_ratio == pytest.approx(0.75)
    assert fit.best_of_k_travel_ratio == pytest.approx(0.5)
    assert fit.lowest_energy_travel_ratio == pytest.approx(1.0)
    assert "best of 2 0.500, lowest energy 1.000" in fit.summary()


def test_more_windows_than_the_data_has_uses_every_window_once_and_bad_counts_are_refused():
    data = line_demos()
    assert chunk_fit(ReplayPolicy(data), data, num_windows=10_000, num_samples=2, progress=False).num_windows == len(data)
    with pytest.raises(ValueError, match="num_samples >= 1"):
        chunk_fit(ReplayPolicy(data), data, num_windows=10, num_samples=0, progress=False)
