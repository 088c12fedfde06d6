"""The comparison-table harness: cell planning and overrides, aggregation, and a tiny end-to-end run that resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from robopolicy.data import RobomimicWriter
from robopolicy.evaluation.benchmarks.matrix import Cell, matrix_table, plan, summarize, train_overrides

ROOT = Path(__file__).resolve().parents[2]


def preset(**changes) -> dict:
    base = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "benchmark" / "cpu.yaml"))
    return {**base, **changes}


def test_every_family_task_seed_is_planned_and_unknown_names_are_refused():
    cells = plan(preset())
    assert len(cells) == 5 * 4 * 3 and len(set(cells)) == len(cells)
    assert cells[0] == Cell("bc", "obstacle", 0)  # tasks outermost
    with pytest.raises(ValueError, match=r"benchmark.families names \['difusion'\]"):
        plan(preset(families=["difusion"]))
    with pytest.raises(ValueError, match="repeats"):
        plan(preset(seeds=[0, 0]))


def test_train_overrides_add_the_tokenizer_steps_for_carp_and_keep_the_preset_order():
    p = preset(overrides=["training.num_threads=1"])
    carp = train_overrides(p, Cell("carp", "pusht", 2))
    assert carp[:4] == ["policy=carp", "task=pusht", "training.seed=2", "training.num_steps=14000"]
    ebt = train_overrides(p, Cell("ebt", "lift", 0))
    assert "training.num_steps=10000" in ebt and ebt.index("training.num_threads=1") < ebt.index("training.batch_size=32")
    assert "eval.num_episodes=0" in ebt  # evaluation runs after training, on the held-out seeds, timed apart


def _record(family: str, seed: int, success: float, score: float, latency: float) -> dict:
    return {"family": family, "task": "pusht", "seed": seed, "success_rate": success, "mean_score": score,
            "num_episodes": 50, "latency_ms_median": latency, "latency_ms_p95": 2 * latency, "nfe": 100,
            "parameters": 1_500_000, "train": {"steps": 10, "seconds": 60.0 * (seed + 1)}, "curve": [[1, 1.0]],
            "machine": {"command": "python scripts/benchmark.py", "commit": "abc", "date": "d", "cpu": "cpu", "cores": 2,
                        "torch_threads": 2, "gpu": None}}


def test_rows_are_mean_and_std_over_seeds_and_the_table_has_every_column():
    records = [_record("diffusion", s, x, y, z) for s, (x, y, z) in enumerate([(0.2, 0.5, 10.0), (0.4, 0.7, 30.0), (0.6, 0.9, 20.0)])]
    records.append(_record("bc", 0, 0.0, 0.1, 1.0))
    rows = summarize(records)
    dp = next(r for r in rows if r["family"] == "diffusion")
    assert dp["success_mean"] == pytest.approx(0.4) and dp["success_std"] == pytest.approx(np.std([0.2, 0.4, 0.6]))
    assert dp["score_mean"] == pytest.approx(0.7) and dp["latency_ms_median"] == 20.0 and dp["train_minutes"] == 2.0
    assert dp["seeds"] == [0, 1, 2] and len(rows) == 2
    table = matrix_table({"preset": "cpu", "rows": rows, "cells": records, "failures": []})
    header = next(line for line in table.splitlines() if line.startswith("| family"))
    for column in ("success", "score", "latency ms (median / p95)", "nfe", "parameters", "train min", "seeds"):
        assert column in header
    assert "| diffusion | 0.40 ± 0.16 | 0.700 ± 0.163 | 20.0 / 40.0 | 100 | 1.50 M | 2.0 | 10 | 0, 1, 2 |" in table
    assert "| bc | 0.00 (1 seed) | 0.100 (1 seed) |" in table  # one seed: no spread to claim
    assert table.count("`python scripts/benchmark.py` — 4 cell(s), commit abc, d, cpu (2 cores, GPU: none)") == 1


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "demos.hdf5"
    rng = np.random.default_rng(0)
    with RobomimicWriter(path, {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"max_steps": 20}}) as writer:
        for _ in range(4):
            pos = np.cumsum(rng.normal(0, 0.01, (12, 2)), axis=0)
            writer.add_demo({"agent_pos": pos, "object": np.tile([0.05, -0.02, 1.0, 0.0], (12, 1))}, pos + 0.01)
    return path


def benchmark(out: Path, dataset: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "benchmark=tiny", f"benchmark.runs_dir={out / 'runs'}",
               f"benchmark.report={out / 'report'}", f"+benchmark.task_settings.pusht.overrides=['task.dataset={dataset}']"]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.mark.slow
def test_a_tiny_benchmark_writes_the_table_json_and_plots_resumes_and_reproduces(tmp_path, dataset):
    first = benchmark(tmp_path / "a", dataset)
    assert "training: policy=diffusion task=pusht training.seed=0 training.num_steps=6" in first.stdout
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    (row,) = report["rows"]
    for key in ("success_mean", "success_std", "score_mean", "latency_ms_median", "latency_ms_p95", "nfe", "parameters",
                "train_minutes"):
        assert key in row, key
    assert row["family"] == "diffusion" and row["task"] == "pusht" and row["nfe"] == 4 and row["parameters"] > 0
    assert report["cells"][0]["num_episodes"] == 2 and report["cells"][0]["seed_start"] >= 1_000_000
    text = (tmp_path / "a" / "report.md").read_text()
    assert "| diffusion |" in text and "benchmark=tiny" in text
    for plot in ("success_vs_latency.png", "learning_curves.png"):
        assert (tmp_path / "a" / "report" / "plots" / plot).stat().st_size > 5000
    cell = tmp_path / "a" / "runs" / "pusht" / "diffusion" / "seed0" / "cell.json"
    stamp = cell.stat().st_mtime_ns
    again = benchmark(tmp_path / "a", dataset)  # resumed: the finished cell is not redone
    assert "training:" not in again.stdout and cell.stat().st_mtime_ns == stamp
    other = benchmark(tmp_path / "b", dataset)  # the same cell from scratch gives the same numbers
    assert "training:" in other.stdout
    rerun = json.loads((tmp_path / "b" / "runs" / "pusht" / "diffusion" / "seed0" / "cell.json").read_text())
    original = json.loads(cell.read_text())
    for key in ("success_rate", "mean_score", "curve", "nfe", "parameters"):
        assert rerun[key] == original[key], key


@pytest.mark.parametrize("argv", [["suite=nope"], ["nope"]])  # the old positional spelling maps onto suite=
def test_an_unknown_suite_is_refused_with_the_valid_ones(argv):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and "suite=nope is not one of" in proc.stderr and "carp, default_run" in proc.stderr
