"""Writing and reading robomimic-layout files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from robopolicy.data import RobomimicWriter, demo_names, load_demos, read_env_args, shape_meta_from_file
from tests.data.helpers import ENV_ARGS, demo_arrays, write_file


def test_layout_attrs_and_masks(tmp_path):
    path = write_file(tmp_path / "d.hdf5", lengths=(5, 3, 7, 4, 6, 2, 3, 5, 4, 6), image=True)
    with h5py.File(path) as f:
        assert f["data"].attrs["total"] == 45
        assert json.loads(f["data"].attrs["env_args"]) == ENV_ARGS
        demo = f["data/demo_1"]
        assert demo.attrs["num_samples"] == 3 and demo.attrs["seed"] == 1
        assert demo["actions"].shape == (3, 2) and demo["rewards"].shape == (3,) and demo["dones"][-1] == 1
        assert demo["obs/cam_image"].dtype == np.uint8 and demo["obs/cam_image"].shape == (3, 8, 8, 3)
        np.testing.assert_array_equal(demo["next_obs/agent_pos"][:-1], demo["obs/agent_pos"][1:])
        train = {n.decode() for n in f["mask/train"][()]}
        valid = {n.decode() for n in f["mask/valid"][()]}
    assert len(valid) == 1 and len(train) == 9 and not train & valid
    assert train | valid == {f"demo_{i}" for i in range(10)}
    assert read_env_args(path) == ENV_ARGS


def test_round_trip_values_and_numeric_demo_order(tmp_path):
    path = write_file(tmp_path / "d.hdf5", lengths=tuple(range(1, 13)), valid_fraction=0.0)
    names = demo_names(path)
    assert names[:3] == ["demo_0", "demo_1", "demo_2"] and names[-1] == "demo_11"
    demos = load_demos(path, ["agent_pos"])
    obs, actions = demo_arrays(12, offset=1100.0)
    np.testing.assert_allclose(demos[11].obs["agent_pos"], obs["agent_pos"])
    np.testing.assert_allclose(demos[11].actions, actions)
    assert demos[11].actions.dtype == np.float32 and demos[11].attrs["seed"] == 11
    assert [d.name for d in load_demos(path, ["agent_pos"], filter_key="train")] == names


def test_shape_meta_from_file(tmp_path):
    meta = shape_meta_from_file(write_file(tmp_path / "d.hdf5", image=True), ["agent_pos", "cam_image"])
    assert meta.obs["agent_pos"].shape == (2,) and meta.obs["agent_pos"].type == "low_dim"
    assert meta.obs["cam_image"].shape == (8, 8, 3) and meta.obs["cam_image"].type == "rgb"
    assert meta.action_dim == 2


def test_interrupted_writer_leaves_no_file(tmp_path):
    path = tmp_path / "d.hdf5"
    with pytest.raises(RuntimeError, match="boom"):
        with RobomimicWriter(path, ENV_ARGS) as writer:
            writer.add_demo(*demo_arrays(3))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_two_writers_on_one_path_do_not_corrupt_each_other(tmp_path):
    path = tmp_path / "d.hdf5"
    with RobomimicWriter(path, ENV_ARGS) as first:
        first.add_demo(*demo_arrays(3))
        with RobomimicWriter(path, ENV_ARGS) as second:
            second.add_demo(*demo_arrays(5))
            second.add_demo(*demo_arrays(4))
        first.add_demo(*demo_arrays(6))
    assert [len(d) for d in load_demos(path, ["agent_pos"])] == [3, 6]  # the last to finish wins, intact
    assert [p.name for p in tmp_path.iterdir()] == ["d.hdf5"]


def test_writer_rejects_mismatched_lengths_and_bad_env_args(tmp_path):
    with pytest.raises(ValueError, match="env_kwargs"):
        RobomimicWriter(tmp_path / "d.hdf5", {"env_name": "x", "type": 2})
    with RobomimicWriter(tmp_path / "d.hdf5", ENV_ARGS) as writer:
        obs, actions = demo_arrays(4)
        with pytest.raises(ValueError, match="3 steps but actions have 4"):
            writer.add_demo({"agent_pos": obs["agent_pos"][:3]}, actions)
        writer.add_demo(obs, actions)
