"""The README's main job from scratch: wall time, success rate, mean score."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from robopolicy.evaluation.benchmarks.common import ROOT


def default_run_suite(args: argparse.Namespace) -> dict[str, Any]:
    """`python scripts/train.py` with no overrides but a fresh dataset path and run dir, timed end to end."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = ROOT / "outputs" / "benchmark" / f"default_run-{stamp}"
    dataset = run_dir / "demos.hdf5"  # a fresh path, so data generation is part of the measured time
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), f"task.dataset={dataset}", f"hydra.run.dir={run_dir}"],
                   cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    evals = sorted((run_dir / "eval").glob("step_*/eval.json"))
    final = json.loads(evals[-1].read_text())
    return {"run_dir": str(run_dir.relative_to(ROOT)), "minutes": seconds / 60, **{k: final[k] for k in (
        "success_rate", "mean_score", "num_episodes", "seed_start", "latency_ms_median", "latency_ms_p95", "nfe")}}


def default_run_table(r: dict[str, Any]) -> str:
    return "\n".join([
        "| wall time (data + training + evaluation) | success rate | mean score (max coverage) | episodes (seeds) | latency per chunk, batch 50 |",
        "|---|---|---|---|---|",
        f"| {r['minutes']:.1f} min | {r['success_rate']:.2f} | {r['mean_score']:.3f} | {r['num_episodes']} "
        f"({r['seed_start']}..{r['seed_start'] + r['num_episodes'] - 1}) | {r['latency_ms_median']:.1f} ms median, nfe {r['nfe']:g} |",
        f"\nRun directory: `{r['run_dir']}` (not committed).",
    ])


