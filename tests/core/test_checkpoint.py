import json
import pickle

import numpy as np
import pytest
import torch
import yaml

from robopolicy.core import CheckpointError, load_policy, read_checkpoint, save_checkpoint
from robopolicy.core.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from robopolicy.core.state_io import load_tree, save_tree
from tests.conftest import random_obs


def test_save_then_load_gives_identical_predictions(tmp_path, tiny_policy, low_dim_meta):
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    expected = tiny_policy.eval().predict_chunk(obs)
    save_checkpoint(tmp_path / "ckpt", tiny_policy, config={"task": {"name": "pusht"}})
    loaded = load_policy(tmp_path / "ckpt", weights="model")
    got = loaded.predict_chunk(obs)
    assert type(loaded) is type(tiny_policy)
    assert torch.equal(got.full, expected.full)
    assert torch.equal(got.actions, expected.actions)


def test_config_yaml_describes_the_policy(tmp_path, tiny_policy):
    save_checkpoint(tmp_path / "ckpt", tiny_policy, config={"task": {"name": "pusht"}, "policy": {"stale": 1}})
    config = yaml.safe_load((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    assert config["policy"] == {"name": "tiny_test", "hidden": 16}
    assert config["chunk_spec"] == {"obs_horizon": 2, "pred_horizon": 8, "action_horizon": 4}
    assert config["shape_meta"]["obs"]["object"] == {"shape": [4], "type": "low_dim"}
    assert config["task"] == {"name": "pusht"}


def test_ema_weights_are_loaded_by_default(tmp_path, tiny_policy, low_dim_meta):
    ema = {k: v + 1.0 if v.is_floating_point() else v for k, v in tiny_policy.state_dict().items()}
    save_checkpoint(tmp_path / "ckpt", tiny_policy, ema_state=ema)
    from_ema = load_policy(tmp_path / "ckpt")
    from_model = load_policy(tmp_path / "ckpt", weights="model")
    w_ema = from_ema.head[0].weight
    assert torch.allclose(w_ema, from_model.head[0].weight + 1.0)
    with pytest.raises(ValueError, match="weights"):
        load_policy(tmp_path / "ckpt", weights="best")


def test_pickle_payload_is_refused(tmp_path, tiny_policy):
    save_checkpoint(tmp_path / "ckpt", tiny_policy)
    torch.save(tiny_policy.state_dict(), tmp_path / "ckpt" / WEIGHTS_FILE)  # a zip of pickles
    with pytest.raises(CheckpointError, match="pickle"):
        load_policy(tmp_path / "ckpt")
    (tmp_path / "ckpt" / WEIGHTS_FILE).write_bytes(pickle.dumps({"x": 1}, protocol=4))
    with pytest.raises(CheckpointError, match="pickle"):
        read_checkpoint(tmp_path / "ckpt")


def test_train_state_pickle_payload_is_refused(tmp_path, tiny_policy):
    save_checkpoint(tmp_path / "ckpt", tiny_policy, train_state={"step": 3})
    (tmp_path / "ckpt" / "train_state" / "state.safetensors").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="pickle"):
        read_checkpoint(tmp_path / "ckpt", with_train_state=True)


def test_missing_or_malformed_checkpoint_is_explained(tmp_path, tiny_policy):
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_policy(tmp_path / "nowhere")
    save_checkpoint(tmp_path / "ckpt", tiny_policy)
    (tmp_path / "ckpt" / WEIGHTS_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_policy(tmp_path / "ckpt")


def test_weights_that_do_not_match_the_config_are_refused(tmp_path, tiny_policy):
    save_checkpoint(tmp_path / "ckpt", tiny_policy)
    config = yaml.safe_load((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    config["policy"]["hidden"] = 32
    (tmp_path / "ckpt" / CONFIG_FILE).write_text(yaml.safe_dump(config))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_policy(tmp_path / "ckpt")


def test_overwrite_replaces_atomically_and_failed_save_keeps_previous(tmp_path, tiny_policy, low_dim_meta, monkeypatch):
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    save_checkpoint(tmp_path / "last", tiny_policy)
    before = load_policy(tmp_path / "last").predict_chunk(obs).full

    import robopolicy.core.checkpoint as ckpt_mod

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(ckpt_mod, "save_file", crash)
    with torch.no_grad():
        tiny_policy.head[0].weight.add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "last", tiny_policy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # the temporary directory is gone
    assert torch.equal(load_policy(tmp_path / "last").predict_chunk(obs).full, before)


def test_interrupted_swap_falls_back_to_the_old_directory(tmp_path, tiny_policy):
    save_checkpoint(tmp_path / "last", tiny_policy)
    (tmp_path / "last").rename(tmp_path / "last.old")  # killed between the two renames
    assert read_checkpoint(tmp_path / "last").config["policy"]["name"] == "tiny_test"


def test_train_state_round_trips_optimizer_and_rng_without_pickle(tmp_path, tiny_policy):
    opt = torch.optim.AdamW(tiny_policy.parameters(), lr=1e-3)
    tiny_policy.compute_loss({"obs": random_obs(tiny_policy.shape_meta, 4, 2), "action": torch.randn(4, 8, 2)})[0].backward()
    opt.step()
    state = {
        "step": 7,
        "optimizer": opt.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.default_rng(5).bit_generator.state,
        "python_rng": (3, tuple(range(5)), None),
    }
    save_checkpoint(tmp_path / "ckpt", tiny_policy, train_state=state)
    loaded = read_checkpoint(tmp_path / "ckpt", with_train_state=True).train_state
    assert loaded["step"] == 7
    assert loaded["python_rng"] == (3, (0, 1, 2, 3, 4), None)
    assert loaded["numpy_rng"] == state["numpy_rng"]
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    restored = torch.optim.AdamW(tiny_policy.parameters(), lr=1e-3)
    restored.load_state_dict(loaded["optimizer"])
    for key, value in opt.state_dict()["state"][0].items():
        assert torch.equal(restored.state_dict()["state"][0][key], value)
    assert restored.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_state_tree_keeps_key_types_and_refuses_unknown_objects(tmp_path):
    tree = {1: [1.5, "a", None, True], "x": (np.arange(3), torch.ones(2))}
    save_tree(tmp_path / "s", tree)
    back = load_tree(tmp_path / "s")
    assert list(back) == [1, "x"] and back[1] == [1.5, "a", None, True]
    assert isinstance(back["x"], tuple) and np.array_equal(back["x"][0], np.arange(3))
    assert json.loads((tmp_path / "s.json").read_text())  # structure is plain JSON
    with pytest.raises(TypeError, match="cannot store"):
        save_tree(tmp_path / "t", {"f": object()})
