"""robomimic's own SequenceDataset reads the files we write (and ours reads the same windows)."""

from __future__ import annotations

import numpy as np
import pytest

from robopolicy.data import load_demos
from tests.data.helpers import write_file

pytest.importorskip("robomimic")  # installed by `make setup` with --no-deps; only its dataset reader is used
from robomimic.utils import obs_utils  # noqa: E402
from robomimic.utils.dataset import SequenceDataset as RobomimicSequenceDataset  # noqa: E402


def test_robomimic_sequence_dataset_reads_our_file(tmp_path):
    path = write_file(tmp_path / "d.hdf5", lengths=(5, 3, 7, 4), image=True)
    obs_utils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": ["agent_pos"], "rgb": ["cam_image"]}})
    dataset = RobomimicSequenceDataset(
        hdf5_path=str(path), obs_keys=("agent_pos", "cam_image"), dataset_keys=("actions", "rewards", "dones"),
        frame_stack=1, seq_length=4, pad_frame_stack=True, pad_seq_length=True, filter_by_attribute="train",
        hdf5_cache_mode="low_dim", load_next_obs=True,
    )
    train = load_demos(path, ["agent_pos"], filter_key="train")
    assert len(train) == 3  # the writer holds one demo of the four back for mask/valid
    assert len(dataset) == sum(len(d) for d in train)  # one padded window per step, as in ours
    item = dataset[0]
    assert item["actions"].shape == (4, 2) and item["obs"]["agent_pos"].shape == (4, 2)
    assert item["obs"]["cam_image"].shape[0] == 4
    # Window 0 is steps 0..3 of the first training demo: agent_pos = (offset + t, -t), actions = (offset + t, 10 t).
    np.testing.assert_allclose(item["obs"]["agent_pos"][:, 1], [0, -1, -2, -3])
    np.testing.assert_allclose(item["actions"][:, 0], item["obs"]["agent_pos"][:, 0])
    np.testing.assert_allclose(item["actions"][:, 1], [0, 10, 20, 30])
