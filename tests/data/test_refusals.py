"""Every kind of bad file is refused with a message naming file, demo and key."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from robopolicy.data import DatasetError, load_demos, read_env_args
from tests.data.helpers import write_file


def _corrupt(tmp_path, edit) -> str:
    path = write_file(tmp_path / "bad.hdf5", lengths=(5, 3, 7), image=True)
    with h5py.File(path, "a") as f:
        edit(f)
    return str(path)


def _refused(path: str, *patterns: str, keys=("agent_pos", "cam_image"), filter_key=None) -> None:
    with pytest.raises(DatasetError) as info:
        load_demos(path, keys, filter_key=filter_key)
    message = str(info.value)
    assert message.startswith(path), message
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"


def test_missing_file_and_non_hdf5(tmp_path):
    _refused(str(tmp_path / "nope.hdf5"), "no such dataset file", "collect.py")
    (tmp_path / "text.hdf5").write_text("not hdf5")
    _refused(str(tmp_path / "text.hdf5"), "not a readable HDF5 file")


def test_missing_data_group(tmp_path):
    path = tmp_path / "empty.hdf5"
    with h5py.File(path, "w") as f:
        f.create_group("mask")
    _refused(str(path), "missing group 'data'")


def test_missing_actions(tmp_path):
    _refused(_corrupt(tmp_path, lambda f: f.__delitem__("data/demo_1/actions")), "demo 'demo_1'", "missing key 'actions'")


def test_missing_obs_group_and_obs_key(tmp_path):
    _refused(_corrupt(tmp_path, lambda f: f.__delitem__("data/demo_2/obs")), "demo 'demo_2'", "missing group 'obs'")
    path = _corrupt(tmp_path, lambda f: f.__delitem__("data/demo_0/obs/cam_image"))
    _refused(path, "demo 'demo_0'", "missing key 'obs/cam_image'", r"obs keys \['agent_pos'\]")


def test_mismatched_lengths(tmp_path):
    def shorten(f):
        del f["data/demo_2/obs/agent_pos"]
        f["data/demo_2/obs"].create_dataset("agent_pos", data=np.zeros((6, 2)))

    _refused(_corrupt(tmp_path, shorten), "demo 'demo_2'", "key 'obs/agent_pos'", "6 steps but 'actions' has 7")
    _refused(_corrupt(tmp_path, lambda f: f["data/demo_1"].attrs.__setitem__("num_samples", 4)),
             "demo 'demo_1'", "num_samples = 4", "has 3 steps")


def test_wrong_dtypes_and_shapes(tmp_path):
    def int_actions(f):
        del f["data/demo_0/actions"]
        f["data/demo_0"].create_dataset("actions", data=np.zeros((5, 2), dtype=np.int64))

    _refused(_corrupt(tmp_path, int_actions), "demo 'demo_0'", "key 'actions'", "float", "int64")

    def float_image(f):
        del f["data/demo_1/obs/cam_image"]
        f["data/demo_1/obs"].create_dataset("cam_image", data=np.zeros((3, 8, 8, 3), dtype=np.float32))

    _refused(_corrupt(tmp_path, float_image), "demo 'demo_1'", "key 'obs/cam_image'", "float32", "uint8")

    def wide_obs(f):
        del f["data/demo_2/obs/agent_pos"]
        f["data/demo_2/obs"].create_dataset("agent_pos", data=np.zeros((7, 3)))

    _refused(_corrupt(tmp_path, wide_obs), "demo 'demo_2'", "key 'obs/agent_pos'", r"\(3,\).*earlier demos have \(2,\)")

    def wide_actions(f):
        del f["data/demo_1/actions"]
        f["data/demo_1"].create_dataset("actions", data=np.zeros((3, 4)))

    _refused(_corrupt(tmp_path, wide_actions), "demo 'demo_1'", "action dim 4", "earlier demos have 2")


def test_nan_and_inf_values(tmp_path):
    def nan_action(f):
        f["data/demo_2/actions"][4, 1] = np.nan

    _refused(_corrupt(tmp_path, nan_action), "demo 'demo_2'", "key 'actions'", "NaN/inf", "first at step 4")

    def inf_obs(f):
        f["data/demo_0/obs/agent_pos"][1, 0] = np.inf

    _refused(_corrupt(tmp_path, inf_obs), "demo 'demo_0'", "key 'obs/agent_pos'", "NaN/inf", "first at step 1")


def test_empty_demo(tmp_path):
    def empty(f):
        demo = f["data/demo_1"]
        del demo["actions"], demo["obs"]
        demo.create_dataset("actions", data=np.zeros((0, 2)))
        demo.create_group("obs").create_dataset("agent_pos", data=np.zeros((0, 2)))
        demo["obs"].create_dataset("cam_image", data=np.zeros((0, 8, 8, 3), dtype=np.uint8))
        demo.attrs["num_samples"] = 0

    _refused(_corrupt(tmp_path, empty), "demo 'demo_1'", "empty")


def test_filter_key_that_does_not_exist_lists_the_real_ones(tmp_path):
    path = str(write_file(tmp_path / "d.hdf5"))
    _refused(path, "filter key 'validation' does not exist", r"\['train', 'valid'\]", filter_key="validation")


def test_mask_naming_a_missing_demo(tmp_path):
    def dangling(f):
        del f["mask/valid"]
        f["mask"].create_dataset("valid", data=np.array([b"demo_9"]))

    _refused(_corrupt(tmp_path, dangling), "mask/valid lists demo 'demo_9'", filter_key="valid")


def test_env_args_missing_or_invalid(tmp_path):
    path = _corrupt(tmp_path, lambda f: f["data"].attrs.__setitem__("env_args", "{not json"))
    with pytest.raises(DatasetError, match="not valid JSON"):
        read_env_args(path)
    path = _corrupt(tmp_path, lambda f: f["data"].attrs.__delitem__("env_args"))
    with pytest.raises(DatasetError, match=f"^{re.escape(path)}: data has no 'env_args'"):
        read_env_args(path)
