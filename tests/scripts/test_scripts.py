"""The real entry points, run as a user would: train -> checkpoints -> eval.py, and config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robopolicy.core import load_policy
from robopolicy.data import RobomimicWriter

ROOT = Path(__file__).resolve().parents[2]
PUSHT = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"max_steps": 20}}
TINY = ["policy.mlp_hidden=32", "policy.mlp_depth=2", "policy.step_embed_dim=16", "policy.num_inference_steps=4",
        "training.batch_size=16", "training.warmup_steps=2", "training.log_every=2", "logging.mode=disabled"]


def run(script: str, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *overrides], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Random-walk 'demos' in Push-T's observation layout (training only needs the shapes to be right)."""
    path = tmp_path_factory.mktemp("data") / "demos.hdf5"
    rng = np.random.default_rng(0)
    with RobomimicWriter(path, PUSHT) as writer:
        for _ in range(4):
            steps = 12
            pos = np.cumsum(rng.normal(0, 0.01, (steps, 2)), axis=0)
            theta = rng.uniform(-np.pi, np.pi)
            obj = np.tile([0.05, -0.02, np.cos(theta), np.sin(theta)], (steps, 1))
            writer.add_demo({"agent_pos": pos, "object": obj}, pos + 0.01)
    return path


@pytest.mark.slow
def test_train_checkpoint_eval_round_trip(tmp_path, dataset):
    run_dir = tmp_path / "run"
    out = run("train.py", f"task.dataset={dataset}", "training.num_steps=6", "training.checkpoint_every=3",
              "eval.num_episodes=2", "eval.num_envs=2", "eval.video_episodes=1", f"hydra.run.dir={run_dir}", *TINY)
    assert "trained 6 steps" in out.stdout
    ckpts = run_dir / "checkpoints"
    assert {p.name for p in ckpts.iterdir()} == {"0000003", "0000006", "last"}
    train_eval = json.loads((run_dir / "eval" / "step_0000006" / "eval.json").read_text())
    assert train_eval["num_episodes"] == 2

    out = run("eval.py", f"checkpoint={ckpts / 'last'}", "num_episodes=3", "num_envs=3", "video_episodes=1")
    result = json.loads((ckpts / "last" / "eval" / "eval.json").read_text())
    for key in ("success_rate", "mean_score", "num_episodes", "latency_ms_median", "latency_ms_p95", "nfe"):
        assert key in result, key
    assert result["num_episodes"] == 3 and result["nfe"] == 4 and 0.0 <= result["mean_score"] <= 1.0
    assert result["seed_start"] >= 1_000_000  # disjoint from the demo seeds (0, 1, 2, ...)
    assert (ckpts / "last" / "eval" / "episodes.mp4").stat().st_size > 1000
    assert "success_rate" in out.stdout
    # The checkpoint alone rebuilds the policy, and the eval-time sampler override is honoured.
    assert load_policy(ckpts / "last").cfg.num_inference_steps == 4
    run("eval.py", f"checkpoint={ckpts / 'last'}", "num_episodes=1", "num_envs=1", "video_episodes=0",
        f"output_dir={tmp_path / 'ddpm'}", "+inference.sampler=ddpm", "+inference.num_inference_steps=20")
    assert json.loads((tmp_path / "ddpm" / "eval.json").read_text())["nfe"] == 20


@pytest.mark.slow
def test_a_streaming_checkpoint_evaluates_through_the_same_eval_script(tmp_path, dataset):
    run_dir = tmp_path / "run"
    run("train.py", "policy=streaming", f"task.dataset={dataset}", "training.num_steps=4", "eval.num_episodes=0",
        f"hydra.run.dir={run_dir}", *TINY)
    last = run_dir / "checkpoints" / "last"
    assert type(load_policy(last)).__name__ == "StreamingDiffusionPolicy"
    run("eval.py", f"checkpoint={last}", "num_episodes=2", "num_envs=2", "video_episodes=0")
    result = json.loads((last / "eval" / "eval.json").read_text())
    assert result["num_episodes"] == 2 and result["nfe"] == 2  # 4 inference levels over 2 buffer chunks


@pytest.mark.slow
def test_an_ebt_checkpoint_evaluates_through_the_same_eval_script(tmp_path, dataset):
    run_dir = tmp_path / "run"
    run("train.py", "policy=ebt", "policy.dim=16", "policy.depth=1", f"task.dataset={dataset}", "training.num_steps=4",
        "training.batch_size=8", "eval.num_episodes=0", "logging.mode=disabled", f"hydra.run.dir={run_dir}")
    last = run_dir / "checkpoints" / "last"
    assert type(load_policy(last)).__name__ == "EBTPolicy"
    run("eval.py", f"checkpoint={last}", "num_episodes=2", "num_envs=2", "video_episodes=0", "+inference.inference_steps=3",
        "noise_seed=7", "seeds=validation")
    result = json.loads((last / "eval" / "eval.json").read_text())
    assert result["num_episodes"] == 2 and result["nfe"] == 4  # 3 descent steps + the final energy
    assert result["noise_seed"] == 7 and result["seed_start"] == 2_000_000  # the validation episodes
    assert len(result["episode_info"]["energy"]) == 2  # each episode's mean chunk energy
    # What was evaluated: the checkpoint, the weights, the inference option over the stored default (2), the chunk.
    assert result["source"] == {"checkpoint": str(last), "weights": "ema"}
    assert result["policy_config"]["inference_steps"] == 3 and load_policy(last).cfg.inference_steps == 2
    assert result["chunk_spec"] == load_policy(last).chunk_spec.to_dict()

    # A list of noise seeds: one evaluation each on the same episodes, and their spread.
    spread_dir = tmp_path / "spread"
    out = run("eval.py", f"checkpoint={last}", "num_episodes=2", "num_envs=2", "video_episodes=0",
              f"output_dir={spread_dir}", "noise_seed=[0,4]")
    spread = json.loads((spread_dir / "noise_seeds.json").read_text())
    assert spread["noise_seeds"] == [0, 4] and len(spread["success_rate"]) == 2 and spread["num_episodes"] == 2
    assert spread["source"]["checkpoint"] == str(last) and spread["policy_config"]["inference_steps"] == 2
    assert json.loads((spread_dir / "noise_seed_4" / "eval.json").read_text())["noise_seed"] == 4
    assert "over noise seeds [0, 4]" in out.stdout

    # The open-loop chunk fit alone (num_episodes=0): held-out windows, the energy's pick included.
    fit_dir = tmp_path / "fit"
    out = run("eval.py", f"checkpoint={last}", "num_episodes=0", f"output_dir={fit_dir}", "chunk_fit.windows=6",
              "chunk_fit.samples=3", f"chunk_fit.dataset={dataset}")
    fit = json.loads((fit_dir / "chunk_fit.json").read_text())
    assert fit["filter_key"] == "valid" and fit["num_windows"] == 6 and fit["num_samples"] == 3
    assert fit["source"] == {"checkpoint": str(last), "weights": "ema"} and fit["family"] == "ebt"
    assert 0 < fit["best_of_k_error"] <= fit["lowest_energy_error"] and fit["best_of_k_error"] <= fit["error"]
    assert fit["spread"] > 0 and fit["travel_ratio"] > 0 and fit["best_of_k_travel_ratio"] > 0
    assert "chunk fit on 6 windows" in out.stdout
    assert not (fit_dir / "eval.json").exists()
    missing = run("eval.py", f"checkpoint={last}", "num_episodes=0", "chunk_fit.windows=6",
                  f"chunk_fit.dataset={tmp_path / 'nowhere.hdf5'}", check=False)
    assert missing.returncode != 0 and "pass chunk_fit.dataset=<hdf5>" in missing.stderr

    out = tmp_path / "bench"
    run("benchmark.py", "suite=ebt_energy", f"energy_checkpoint={last}", f"out={out}")
    energy = json.loads((out / "ebt_energy.json").read_text())["results"]["energy"]
    assert set(energy["auroc"]) == {"block displaced 5 cm", "observation noise 2 cm"}
    assert all(0.0 <= v <= 1.0 for v in energy["auroc"].values()) and energy["windows"] > 0
    assert "| block displaced 5 cm |" in (out / "ebt_energy.md").read_text()
    missing = run("benchmark.py", "suite=ebt_energy", f"out={out}", check=False)
    assert missing.returncode != 0 and "energy_checkpoint=<run>/checkpoints/last" in missing.stderr


@pytest.mark.slow
def test_a_bc_checkpoint_evaluates_through_the_same_eval_script(tmp_path, dataset):
    run_dir = tmp_path / "run"
    run("train.py", "policy=bc", "policy.hidden=16", "policy.depth=1", f"task.dataset={dataset}", "training.num_steps=4",
        "training.batch_size=8", "eval.num_episodes=0", "logging.mode=disabled", f"hydra.run.dir={run_dir}")
    last = run_dir / "checkpoints" / "last"
    assert type(load_policy(last)).__name__ == "BCPolicy"
    run("eval.py", f"checkpoint={last}", "num_episodes=2", "num_envs=2", "video_episodes=0")
    result = json.loads((last / "eval" / "eval.json").read_text())
    assert result["num_episodes"] == 2 and result["nfe"] == 1


@pytest.mark.slow
def test_a_carp_checkpoint_holds_both_stages_and_evaluates_through_the_same_eval_script(tmp_path, dataset):
    run_dir = tmp_path / "run"
    out = run("train.py", "policy=carp", "policy.tokenizer_steps=3", "policy.dim=16", "policy.depth=1",
              "policy.codebook_size=16", "policy.tokenizer_channels=8", f"task.dataset={dataset}", "training.num_steps=6",
              "training.batch_size=8", "training.log_every=1", "eval.num_episodes=0", "logging.mode=disabled",
              f"hydra.run.dir={run_dir}")
    assert "stage=1" in out.stderr and "stage=2" in out.stderr  # the progress bar shows the stage
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["stage"] for row in logged if "stage" in row] == [1, 1, 1, 2, 2, 2]
    last = run_dir / "checkpoints" / "last"
    policy = load_policy(last)
    assert type(policy).__name__ == "CARPPolicy" and policy.tokenizer_frozen
    run("eval.py", f"checkpoint={last}", "num_episodes=2", "num_envs=2", "video_episodes=0")
    result = json.loads((last / "eval" / "eval.json").read_text())
    assert result["num_episodes"] == 2 and result["nfe"] == 4  # one transformer pass per scale
    assert len(result["episode_info"]["log_prob"]) == 2
    too_short = run("train.py", "policy=carp", "policy.tokenizer_steps=10", f"task.dataset={dataset}", "training.num_steps=5",
                    "logging.mode=disabled", f"hydra.run.dir={tmp_path / 'short'}", check=False)
    assert too_short.returncode != 0 and "leaves no steps for the transformer" in too_short.stderr


@pytest.mark.slow
def test_resume_through_the_script(tmp_path, dataset):
    run_dir = tmp_path / "run"
    common = [f"task.dataset={dataset}", "training.checkpoint_every=4", "eval.num_episodes=0", f"hydra.run.dir={run_dir}", *TINY]
    run("train.py", "training.num_steps=4", *common)
    out = run("train.py", "training.num_steps=8", "resume=true", *common)
    assert "trained 8 steps" in out.stdout
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("policy=difusion", "Available options in 'policy'"),
        ("training.num_step=5", "Valid keys under 'training': batch_size"),
        ("policy.num_inference_steps=500", "num_inference_steps=500 must be between 1 and num_train_timesteps=100"),
    ],
)
def test_config_errors_say_what_is_valid(tmp_path, dataset, override, expected):
    proc = run("train.py", f"task.dataset={dataset}", "training.num_steps=2", "eval.num_episodes=0",
               f"hydra.run.dir={tmp_path}", override, check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


def test_a_family_s_training_defaults_apply_over_the_shared_ones_and_under_the_command_line():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    shared = OmegaConf.load(ROOT / "conf" / "training" / "default.yaml")
    for path in (ROOT / "conf" / "training" / "per_policy").glob("*.yaml"):
        refined = OmegaConf.load(path)
        assert set(refined) - {"defaults"} <= set(shared), path.name  # a family's file only refines keys the trainer knows
    diffusion = OmegaConf.load(ROOT / "conf" / "training" / "per_policy" / "diffusion.yaml")
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        default, carp = compose("train").training, compose("train", overrides=["policy=carp"]).training
        streaming = compose("train", overrides=["policy=streaming"]).training
        ebt = compose("train", overrides=["policy=ebt"]).training
        cli = compose("train", overrides=["training.lr=5e-4"]).training
    assert all(default[k] == diffusion[k] for k in diffusion)
    assert default.batch_size == shared.batch_size  # keys it does not name stay shared
    assert all(carp[k] == shared[k] for k in diffusion)  # a family without a file gets the shared values
    assert all(streaming[k] == diffusion[k] for k in diffusion)  # streaming's file takes Diffusion Policy's
    assert (ebt.batch_size, ebt.lr, ebt.num_steps) == (32, 1e-3, shared.num_steps)  # its own file, then the shared one
    assert cli.lr == 5e-4 and cli.num_steps == diffusion.num_steps
