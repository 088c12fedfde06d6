"""A file laid out exactly as robomimic's published low-dim datasets (lift/ph/low_dim_v141.hdf5) trains and evaluates.

The file is written here by hand with h5py, not by our writer: the robosuite 1.4-era env_args (old-style
OSC_POSE controller config, env_version), every low-dim observation key robomimic stores (most of which
our task config does not use), the per-demo model_file attribute, and the extra filter keys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_ARGS = {
    "env_name": "Lift", "env_version": "1.4.1", "type": 1,
    "env_kwargs": {
        "has_renderer": False, "has_offscreen_renderer": False, "ignore_done": True, "use_object_obs": True,
        "use_camera_obs": False, "control_freq": 20,
        "controller_configs": {
            "type": "OSC_POSE", "input_max": 1, "input_min": -1, "output_max": [0.05, 0.05, 0.05, 0.5, 0.5, 0.5],
            "output_min": [-0.05, -0.05, -0.05, -0.5, -0.5, -0.5], "kp": 150, "damping": 1, "impedance_mode": "fixed",
            "kp_limits": [0, 300], "damping_limits": [0, 10], "position_limits": None, "orientation_limits": None,
            "uncouple_pos_ori": True, "control_delta": True, "interpolation": None, "ramp_ratio": 0.2,
        },
        "robots": ["Panda"], "camera_depths": False, "camera_heights": 84, "camera_widths": 84, "reward_shaping": False,
    },
}
OBS_DIMS = {  # robomimic's Lift low-dim observation keys and sizes
    "object": 10, "robot0_eef_pos": 3, "robot0_eef_quat": 4, "robot0_eef_vel_ang": 3, "robot0_eef_vel_lin": 3,
    "robot0_gripper_qpos": 2, "robot0_gripper_qvel": 2, "robot0_joint_pos": 7, "robot0_joint_pos_cos": 7,
    "robot0_joint_pos_sin": 7, "robot0_joint_vel": 7,
}


def write_published_layout(path: Path, num_demos: int = 5) -> Path:
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        total = 0
        for i in range(num_demos):
            steps = int(rng.integers(20, 30))
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = steps
            demo.attrs["model_file"] = "<mujoco model='base'></mujoco>"
            for group in ("obs", "next_obs"):
                for key, dim in OBS_DIMS.items():
                    demo.create_dataset(f"{group}/{key}", data=rng.normal(size=(steps, dim)))  # float64, as published
            demo.create_dataset("actions", data=rng.uniform(-1, 1, size=(steps, 7)))
            demo.create_dataset("rewards", data=np.r_[np.zeros(steps - 1), 1.0])
            demo.create_dataset("dones", data=np.r_[np.zeros(steps - 1, dtype=np.int64), 1])
            demo.create_dataset("states", data=rng.normal(size=(steps, 32)))
            total += steps
        data.attrs["total"] = total
        data.attrs["env_args"] = json.dumps(ENV_ARGS)
        names = [f"demo_{i}".encode() for i in range(num_demos)]
        for key, members in {"train": names[:4], "valid": names[4:], "20_percent": names[:1],
                             "20_percent_train": names[:1], "20_percent_valid": names[4:]}.items():
            f.create_dataset(f"mask/{key}", data=np.array(members, dtype="S8"))
    return path


def run(script: str, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *overrides], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str, int]:
    """(run dir, train.py stdout, steps in the mask/train demos) of a 3-step run on the published-layout file with task=lift."""
    tmp_path = tmp_path_factory.mktemp("published")
    dataset = write_published_layout(tmp_path / "low_dim_v141.hdf5")
    run_dir = tmp_path / "run"
    out = run("train.py", "task=lift", f"task.dataset={dataset}", "policy.mlp_hidden=32", "policy.mlp_depth=1",
              "policy.step_embed_dim=16", "policy.sampler=ddim", "policy.num_inference_steps=2", "training.num_steps=3",
              "training.batch_size=8", "eval.num_episodes=0", "logging.mode=disabled", f"hydra.run.dir={run_dir}")
    with h5py.File(dataset) as f:
        train_steps = sum(int(f[f"data/{name.decode()}"].attrs["num_samples"]) for name in f["mask/train"][()])
    return run_dir, out.stdout, train_steps


@pytest.mark.slow
def test_a_file_in_robomimics_published_layout_trains_through_our_script(trained):
    from robopolicy.core import read_checkpoint

    run_dir, stdout, train_steps = trained
    # One window per step of the 4 demos under mask/train; the observation keys the task does not use are read past.
    assert f"{train_steps} training windows" in stdout
    config = read_checkpoint(run_dir / "checkpoints" / "last").config
    assert config["env_args"]["env_name"] == "Lift" and config["env_args"]["env_kwargs"]["controller_configs"]["type"] == "OSC_POSE"
    assert set(config["shape_meta"]["obs"]) == {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"}
    assert config["shape_meta"]["obs"]["object"]["shape"] == [10] and config["shape_meta"]["action_dim"] == 7


@pytest.mark.slow
def test_a_policy_trained_on_it_evaluates_in_lift_rebuilt_from_the_files_env_args(trained, tmp_path):
    pytest.importorskip("robosuite", reason="evaluating in Lift needs the robosuite extra: pip install -e '.[robosuite]'")
    run_dir = trained[0]
    run("eval.py", f"checkpoint={run_dir / 'checkpoints' / 'last'}", "num_episodes=1", "num_envs=1", "video_episodes=0",
        f"output_dir={tmp_path / 'eval'}")
    result = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert result["num_episodes"] == 1 and result["success_rate"] == 0.0 and result["nfe"] == 2
