"""What every benchmark suite shares: the machine header, the repository root, shared training runs."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The benchmarks drive the repository's scripts and configs, so they run from a source checkout.
ROOT = Path(__file__).resolve().parents[3]
PUSHT = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {}}


def machine() -> dict[str, Any]:
    """CPU model, core count, torch threads, git commit and date: the header every table carries."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip())
    return {
        "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "commit": commit + ("+uncommitted" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }



def policy_config(family: str) -> dict[str, Any]:
    """conf/policy/<family>.yaml with the group configs it lists under ``defaults`` merged in first, as Hydra would."""
    from omegaconf import OmegaConf

    own = OmegaConf.load(ROOT / "conf" / "policy" / f"{family}.yaml")
    bases = [policy_config(str(d)) for d in own.pop("defaults", []) if d != "_self_"]
    return OmegaConf.to_container(OmegaConf.merge(*bases, own), resolve=True)


def pusht_policy(family: str, overrides: dict[str, Any] | None = None):
    """A policy of ``family`` with conf/policy/<family>.yaml (+ ``overrides``, chunk keys included) and Push-T state
    shapes.

    The weights are random and the normalizer fitted on noise: for timing only (the compute does not depend on them).
    """
    import numpy as np
    import torch

    from robopolicy.core import Normalizer, ObsSpec, ShapeMeta, get_policy_class
    from robopolicy.workflows import split_policy_config

    name, spec, params = split_policy_config({**policy_config(family), **(overrides or {})})
    meta = ShapeMeta({"agent_pos": ObsSpec((2,)), "object": ObsSpec((4,))}, action_dim=2)
    rng = np.random.default_rng(0)
    normalizer = Normalizer.fit(meta, {"agent_pos": rng.normal(size=(64, 2)), "object": rng.normal(size=(64, 4)),
                                       "action": rng.normal(size=(64, 2))})
    torch.manual_seed(0)
    return get_policy_class(name)(meta, spec, normalizer, params).eval()


def pusht_obs(spec, batch: int):
    import torch

    return {"agent_pos": torch.randn(batch, spec.obs_horizon, 2), "object": torch.randn(batch, spec.obs_horizon, 4)}



# Training runs the family suites share, by directory name under outputs/benchmark/runs/: (label, overrides).
# The family comparisons were measured on 200 Push-T demos at 10k steps per family, and the diffusion families in
# float32 at 1e-4; the default run has since grown (1000 demos, conf/training/per_policy/{diffusion,streaming}.yaml),
# so what they were measured with is pinned here and they still reproduce.
STEPS = "training.num_steps=10000"
DEMOS = "task.num_demos=200"
FIRST_RECIPE = ["training.lr=1e-4", "training.precision=fp32"]
RUNS = {
    "diffusion": ("Diffusion Policy", ["policy=diffusion", DEMOS, STEPS, *FIRST_RECIPE]),
    "streaming": ("Streaming DP (mixed levels)", ["policy=streaming", DEMOS, STEPS, *FIRST_RECIPE]),
    "streaming_chunkwise": ("Streaming DP (chunk-wise levels only)",
                            ["policy=streaming", "policy.constant_level_prob=0", DEMOS, STEPS, *FIRST_RECIPE]),
    # Second-order training is ~20x dearer per sample than DP's: a small batch with a higher learning rate,
    # and one thread so that it can share the 2 cores with another run.
    # With the contrastive term: this suite measures the energy as uncertainty. One training start in float32,
    # as its table was measured before four starts and conf/training/per_policy/ebt.yaml became the defaults.
    "ebt": ("EBT-Policy", ["policy=ebt", "training.batch_size=32", "training.lr=1e-3", "training.warmup_steps=200",
                           "policy.contrastive_weight=1.0", "policy.train_starts=1", "training.precision=fp32",
                           "training.num_threads=1", DEMOS, STEPS]),
    # 4000 tokenizer steps first, then the same 10k steps for the transformer as DP gets.
    "carp": ("CARP", ["policy=carp", DEMOS, "training.num_steps=14000"]),
}


def train_once(name: str, overrides: list[str], run_dir: Path) -> dict[str, Any]:
    """Train (and evaluate) one configuration unless a finished run is already in ``run_dir``: resumable."""
    evals = sorted((run_dir / "eval").glob("step_*/eval.json"))
    if not ((run_dir / "checkpoints" / "last").is_dir() and evals):
        print(f"training {name}: {' '.join(overrides)} -> {run_dir}")
        start = time.perf_counter()
        resume = ["resume=true"] if (run_dir / "checkpoints" / "last").is_dir() else []
        subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *overrides, *resume, f"hydra.run.dir={run_dir}"],
                       cwd=ROOT, check=True)
        (run_dir / "train_seconds.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
        evals = sorted((run_dir / "eval").glob("step_*/eval.json"))
    final = json.loads(evals[-1].read_text())
    seconds = run_dir / "train_seconds.txt"
    return {"overrides": overrides, "run_dir": str(run_dir.relative_to(ROOT)),
            "train_minutes": float(seconds.read_text()) / 60 if seconds.exists() else None,
            **{k: final[k] for k in ("success_rate", "mean_score", "num_episodes", "seed_start", "nfe")}}



def evaluate_once(run: dict[str, Any], tag: str, inference: dict[str, Any]) -> dict[str, Any]:
    """eval.json of the run's last checkpoint under ``inference`` options (50 held-out episodes), cached by tag."""
    from robopolicy.workflows import evaluate_checkpoint

    out = ROOT / run["run_dir"] / "eval" / f"benchmark_{tag}"
    if not (out / "eval.json").exists():
        evaluate_checkpoint(ROOT / run["run_dir"] / "checkpoints" / "last", output_dir=out, inference=inference, video_episodes=0)
    return json.loads((out / "eval.json").read_text())

