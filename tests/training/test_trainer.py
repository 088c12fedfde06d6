"""The one Trainer: exact resume, atomic checkpoints, divergence handling, EMA evaluation."""

from __future__ import annotations

import json

import pytest
import torch

from robopolicy.core import ChunkSpec, Normalizer, load_policy
from robopolicy.data import SequenceDataset, load_demos, shape_meta_from_file
from robopolicy.policies.diffusion import DiffusionPolicy
from robopolicy.training import MetricsLogger, TrainConfig, Trainer, TrainingDiverged, precision
from tests.data.helpers import write_file

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=4, action_horizon=2)


@pytest.fixture
def dataset_and_meta(tmp_path):
    path = write_file(tmp_path / "d.hdf5", lengths=(9, 7, 12, 8))
    return SequenceDataset(load_demos(path, ["agent_pos"]), SPEC), shape_meta_from_file(path, ["agent_pos"])


def make_trainer(run_dir, data, meta, **cfg) -> Trainer:
    torch.manual_seed(123)  # the initial weights; the trainer seeds everything else from cfg.seed
    policy = DiffusionPolicy(meta, SPEC, Normalizer.fit(meta, data.stats_arrays()),
                             {"backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16, "num_train_timesteps": 20,
                              "sampler": "ddim", "num_inference_steps": 4})
    config = TrainConfig(**{"num_steps": 12, "batch_size": 8, "lr": 1e-3, "warmup_steps": 2, "checkpoint_every": 5,
                            "log_every": 1, "keep_checkpoints": 2, **cfg})
    return Trainer(policy, data, config, run_dir, logger=MetricsLogger(run_dir, mode="disabled"), progress=False)


def losses(run_dir) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_resume_continues_at_the_saved_step_with_identical_losses(tmp_path, dataset_and_meta, monkeypatch):
    data, meta = dataset_and_meta
    make_trainer(tmp_path / "full", data, meta).fit()
    full = losses(tmp_path / "full")
    assert sorted(full) == list(range(1, 13))

    interrupted = make_trainer(tmp_path / "cut", data, meta)
    original = Trainer._train_step

    def dies_at_step_8(self):
        if self.step == 7:
            raise KeyboardInterrupt  # killed after the step-5 checkpoint
        return original(self)

    monkeypatch.setattr(Trainer, "_train_step", dies_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit()
    monkeypatch.setattr(Trainer, "_train_step", original)
    resumed = make_trainer(tmp_path / "cut", data, meta)
    result = resumed.fit(resume=True)
    assert result.step == 12
    cut = losses(tmp_path / "cut")
    for step in range(6, 13):  # steps 6 and 7 ran twice; the resumed values are the later rows
        assert cut[step] == pytest.approx(full[step], rel=1e-6, abs=1e-7)
    a, b = load_policy(tmp_path / "full/checkpoints/last"), load_policy(tmp_path / "cut/checkpoints/last")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, msg=name)


def test_checkpoint_layout_and_pruning(tmp_path, dataset_and_meta):
    data, meta = dataset_and_meta
    make_trainer(tmp_path, data, meta).fit()
    numbered = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name != "last")
    assert numbered == ["0000010", "0000012"]  # keep_checkpoints=2 pruned step 5
    for name in [*numbered, "last"]:
        ckpt = tmp_path / "checkpoints" / name
        assert (ckpt / "config.yaml").is_file() and (ckpt / "model.safetensors").is_file() and (ckpt / "train_state").is_dir()


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, dataset_and_meta, monkeypatch):
    data, meta = dataset_and_meta
    import robopolicy.core.checkpoint as checkpoint_module
    import robopolicy.training.trainer as trainer_module

    def torn_write(tensors, filename, *args, **kwargs):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 10)
        raise KeyboardInterrupt  # the process dies halfway through the file

    real_save = trainer_module.save_checkpoint
    writes_of_last = []

    def save(path, *args, **kwargs):
        if path.name == "last":
            writes_of_last.append(path)
            if len(writes_of_last) == 2:  # step 10's replacement of last/ (step 5's went through)
                monkeypatch.setattr(checkpoint_module, "save_file", torn_write)
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path, data, meta, num_steps=10).fit()
    monkeypatch.undo()
    last = tmp_path / "checkpoints" / "last"
    assert isinstance(load_policy(last), DiffusionPolicy)
    from robopolicy.core import read_checkpoint

    assert read_checkpoint(last, with_train_state=True).train_state["step"] == 5
    assert make_trainer(tmp_path, data, meta, num_steps=10).fit(resume=True).step == 10


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path, dataset_and_meta, monkeypatch):
    data, meta = dataset_and_meta
    trainer = make_trainer(tmp_path, data, meta)
    original = DiffusionPolicy.compute_loss

    def nan_after_six(self, batch):
        loss, metrics = original(self, batch)
        return (loss * float("nan") if trainer.step >= 6 else loss), metrics

    monkeypatch.setattr(DiffusionPolicy, "compute_loss", nan_after_six)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 7.*checkpoints/last.*training.lr"):
        trainer.fit()
    monkeypatch.undo()
    assert load_policy(tmp_path / "checkpoints" / "last") is not None
    assert not (tmp_path / "checkpoints" / "0000007").exists()


def test_evaluation_sees_ema_weights_and_does_not_disturb_training(tmp_path, dataset_and_meta):
    data, meta = dataset_and_meta
    seen = []

    def evaluate(policy, step):
        seen.append((step, policy.training, {k: v.clone() for k, v in policy.state_dict().items()}))
        torch.rand(100)  # evaluation randomness must not shift training's RNG stream
        return {"success_rate": 0.5}

    with_eval = make_trainer(tmp_path / "a", data, meta, eval_every=4)
    with_eval.evaluate = evaluate
    result = with_eval.fit()
    make_trainer(tmp_path / "b", data, meta).fit()
    assert [s for s, _, _ in seen] == [4, 8, 12] and not any(training for _, training, _ in seen)
    assert result.eval_metrics == {"success_rate": 0.5}
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    ema = with_eval.ema.state()
    for key, value in seen[-1][2].items():
        torch.testing.assert_close(value, ema[key])


def test_bf16_precision_autocasts_the_forward_pass_and_keeps_float32_state(tmp_path, dataset_and_meta):
    data, meta = dataset_and_meta
    trainer = make_trainer(tmp_path / "bf16", data, meta, precision="bf16", num_steps=30)
    output_dtypes = []
    trainer.policy.backbone.register_forward_hook(lambda module, args, out: output_dtypes.append(out.dtype))
    trainer.fit()
    assert len(output_dtypes) == 30 and set(output_dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in trainer.policy.parameters())
    assert all(v.dtype == torch.float32 for v in trainer.ema.state().values() if v.is_floating_point())
    bf16 = losses(tmp_path / "bf16")
    make_trainer(tmp_path / "fp32", data, meta, num_steps=30).fit()
    fp32 = losses(tmp_path / "fp32")
    assert bf16 != fp32  # the forward pass really ran in lower precision
    assert all(torch.isfinite(torch.tensor(list(bf16.values()))))
    assert sum(bf16[s] for s in range(26, 31)) < sum(bf16[s] for s in range(1, 6))  # and it still learns


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'bf16', 'auto'\], got 'fp16'"):
        TrainConfig(precision="fp16")


@pytest.mark.parametrize("hardware_bf16", [True, False])
def test_auto_precision_uses_bf16_only_where_the_hardware_has_it(monkeypatch, hardware_bf16):
    monkeypatch.setattr(precision, "fast_bf16", lambda device: hardware_bf16)
    assert precision.autocast_dtype("auto", "cpu") is (torch.bfloat16 if hardware_bf16 else None)
    assert precision.autocast_dtype("bf16", "cpu") is torch.bfloat16
    assert precision.autocast_dtype("fp32", "cpu") is None
