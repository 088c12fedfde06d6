"""Window sampling with Diffusion-Policy padding at both ends of a demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robopolicy.core import ChunkSpec
from robopolicy.data import SequenceDataset, load_demos
from tests.data.helpers import write_file

SPEC = ChunkSpec(obs_horizon=3, pred_horizon=6, action_horizon=4)


@pytest.fixture
def dataset(tmp_path) -> SequenceDataset:
    path = write_file(tmp_path / "d.hdf5", lengths=(5, 3, 7), image=True)
    return SequenceDataset(load_demos(path, ["agent_pos", "cam_image"]), SPEC)


def _steps(batch_values: torch.Tensor, offset: float) -> list[int]:
    """Recover demo step indices from agent_pos/actions whose first column is offset + t."""
    return [int(round(v)) for v in (batch_values[..., 0] - offset).tolist()]


def test_one_window_per_step(dataset):
    assert len(dataset) == 5 + 3 + 7 and dataset.num_demos == 3


def test_start_of_demo_repeats_first_observation_and_action(dataset):
    item = dataset[0]  # demo_0, current step 0
    assert item["obs"]["agent_pos"].shape == (3, 2) and item["action"].shape == (6, 2)
    assert _steps(item["obs"]["agent_pos"], 0.0) == [0, 0, 0]
    assert _steps(item["action"], 0.0) == [0, 0, 0, 1, 2, 3]
    assert item["obs"]["cam_image"].shape == (3, 8, 8, 3) and item["obs"]["cam_image"].dtype == torch.uint8


def test_end_of_demo_repeats_last_action(dataset):
    item = dataset[5 + 3 + 6]  # demo_2 (offset 200), current step 6 = its last
    assert _steps(item["obs"]["agent_pos"], 200.0) == [4, 5, 6]
    assert _steps(item["action"], 200.0) == [4, 5, 6, 6, 6, 6]
    # The executed slice starts at the current step.
    assert _steps(item["action"][SPEC.executed], 200.0) == [6, 6, 6, 6]


def test_short_demo_is_padded_at_both_ends(dataset):
    item = dataset[5 + 1]  # demo_1 (length 3, offset 100), step 1
    assert _steps(item["obs"]["agent_pos"], 100.0) == [0, 0, 1]
    assert _steps(item["action"], 100.0) == [0, 0, 1, 2, 2, 2]


def test_windows_never_cross_demos(dataset):
    batch = dataset.get_batch(torch.arange(len(dataset)))
    demo_of_row = np.floor(batch["action"][..., 0].numpy() / 100.0)
    assert (demo_of_row == demo_of_row[:, :1]).all()
    assert batch["obs"]["agent_pos"].shape == (15, 3, 2) and batch["obs"]["cam_image"].shape == (15, 3, 8, 8, 3)


def test_get_batch_matches_items_and_checks_range(dataset):
    batch = dataset.get_batch([4, 9, 0])
    torch.testing.assert_close(batch["action"][1], dataset[9]["action"])
    with pytest.raises(IndexError):
        dataset.get_batch([len(dataset)])


def test_stats_arrays_cover_low_dim_keys_and_actions(dataset):
    stats = dataset.stats_arrays()
    assert set(stats) == {"agent_pos", "action"} and stats["action"].shape == (15, 2)
