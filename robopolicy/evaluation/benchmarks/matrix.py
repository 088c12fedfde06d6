"""The comparison tables: policy families x tasks x training seeds, each cell trained and then evaluated on held-out states.

A cell is one ``scripts/train.py`` run (``policy=<family> task=<task> training.seed=<seed>`` plus the preset's
overrides) followed by one evaluation of its EMA weights on ``eval_episodes`` initial states from the held-out
seed range. Its results go to ``<runs_dir>/<task>/<family>/seed<k>/cell.json``; a cell with that file is never
redone, and a cell whose training was interrupted resumes from its last checkpoint. The report aggregates every
finished cell under ``runs_dir``, so a benchmark run in several sittings (or one task at a time) adds up to one table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import ROOT, machine

TRAINED = re.compile(r"trained (\d+) steps in ([0-9.]+) s")


@dataclass(frozen=True)
class Cell:
    family: str
    task: str
    seed: int

    def run_dir(self, runs_dir: Path) -> Path:
        return runs_dir / self.task / self.family / f"seed{self.seed}"


def plan(preset: Mapping[str, Any]) -> list[Cell]:
    """Every (family, task, seed) of the preset, tasks outermost so a task's table fills up first."""
    for name, group in (("families", "family_settings"), ("tasks", "task_settings")):
        unknown = sorted(set(preset[name]) - set(preset[group]))
        if unknown:
            raise ValueError(f"benchmark.{name} names {unknown}, which have no entry in benchmark.{group} "
                             f"(known: {sorted(preset[group])}); add one there or fix the name")
    if len(set(preset["seeds"])) != len(preset["seeds"]):
        raise ValueError(f"benchmark.seeds has repeats: {list(preset['seeds'])}")
    return [Cell(f, t, int(s)) for t in preset["tasks"] for f in preset["families"] for s in preset["seeds"]]


def train_overrides(preset: Mapping[str, Any], cell: Cell) -> list[str]:
    """The train.py overrides of one cell: family, task, seed, the step budget, then the preset's own overrides.

    A family's ``extra_steps`` are added to the task's step budget (CARP trains its tokenizer for that many
    steps first, so its transformer gets the same number of steps as the other families' networks).
    """
    family, task = preset["family_settings"][cell.family] or {}, preset["task_settings"][cell.task] or {}
    steps = int(task["steps"]) + int(family.get("extra_steps", 0))
    return [
        f"policy={cell.family}", f"task={cell.task}", f"training.seed={cell.seed}", f"training.num_steps={steps}",
        "eval.num_episodes=0", "logging.mode=disabled",
        *preset.get("overrides", []), *task.get("overrides", []), *family.get("overrides", []),
    ]


def run_cell(preset: Mapping[str, Any], cell: Cell, runs_dir: Path) -> dict[str, Any]:
    """Train (or resume) and evaluate one cell unless its cell.json exists; returns the cell's record."""
    run_dir = cell.run_dir(runs_dir)
    record_path = run_dir / "cell.json"
    if record_path.exists():
        return json.loads(record_path.read_text())
    overrides = train_overrides(preset, cell)
    timing_path = run_dir / "train_timing.json"
    if not timing_path.exists():
        resume = ["resume=true"] if (run_dir / "checkpoints" / "last").is_dir() else []
        print(f"[{cell.task} / {cell.family} / seed {cell.seed}] training: {' '.join(overrides + resume)}", flush=True)
        stdout = _run_streaming([sys.executable, str(ROOT / "scripts" / "train.py"), *overrides, *resume,
                                 f"hydra.run.dir={run_dir}"])
        found = TRAINED.findall(stdout)
        if not found:
            raise RuntimeError(f"train.py for {cell} did not report its training time; its output ended:\n{stdout[-2000:]}")
        steps, seconds = found[-1]
        timing_path.write_text(json.dumps({"steps": int(steps), "seconds": float(seconds), "resumed": bool(resume)}) + "\n")
    # A task may ask for fewer parallel envs than the preset's (robosuite envs are large: 25 of them and a video
    # left too little memory to start ffmpeg on a 24 GB machine).
    num_envs = int((preset["task_settings"][cell.task] or {}).get("eval_envs", preset["eval_envs"]))
    record = {**vars(cell), "overrides": overrides, **_evaluate(preset, run_dir, num_envs),
              "train": json.loads(timing_path.read_text()), "curve": _loss_curve(run_dir / "metrics.jsonl"),
              "machine": machine()}
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def _run_streaming(command: Sequence[str]) -> str:
    """Run ``command`` from the repository root, echoing its stdout (progress bars go to stderr untouched); return stdout."""
    lines = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, command, "".join(lines))
    return "".join(lines)


def _evaluate(preset: Mapping[str, Any], run_dir: Path, num_envs: int) -> dict[str, Any]:
    """Evaluate the cell's last checkpoint (EMA weights) on the held-out seeds with ``num_envs`` lock-stepped envs."""
    import torch

    from robopolicy.core import load_policy
    from robopolicy.workflows import evaluate_checkpoint

    last = run_dir / "checkpoints" / "last"
    if int(preset.get("eval_threads", 0)) > 0:  # e.g. 1 when another benchmark shares the cores: no thread thrashing
        torch.set_num_threads(int(preset["eval_threads"]))
    result = evaluate_checkpoint(last, num_episodes=int(preset["eval_episodes"]), num_envs=num_envs,
                                 video_episodes=int(preset["video_episodes"]), output_dir=run_dir / "eval" / "benchmark")
    return {
        "success_rate": result.success_rate, "mean_score": result.mean_score, "num_episodes": result.num_episodes,
        "seed_start": result.seed_start, "latency_ms_median": result.latency_ms_median,
        "latency_ms_p95": result.latency_ms_p95, "nfe": result.nfe, "parameters": load_policy(last).num_parameters(),
        "eval_threads": torch.get_num_threads(), "eval_envs": num_envs,
    }


def _loss_curve(metrics_path: Path, points: int = 200) -> list[list[float]]:
    """[[step, loss], ...] from the trainer's metrics.jsonl, thinned to at most ``points`` entries."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "loss" in r and "step" in r]
    stride = max(1, len(rows) // points)
    return [[r["step"], r["loss"]] for r in rows[::stride]]


# ------------------------------------------------------------------------------------------- aggregation
def summarize(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, family): mean and std over training seeds of success and score, latency and the rest."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        for family in dict.fromkeys(r["family"] for r in records if r["task"] == task):
            group = [r for r in records if r["task"] == task and r["family"] == family]
            success = np.array([r["success_rate"] for r in group])
            score = np.array([r["mean_score"] for r in group])
            rows.append({
                "task": task, "family": family, "seeds": sorted(r["seed"] for r in group),
                "success_mean": float(success.mean()), "success_std": float(success.std()),
                "score_mean": float(score.mean()), "score_std": float(score.std()),
                "latency_ms_median": float(np.median([r["latency_ms_median"] for r in group])),
                "latency_ms_p95": float(np.median([r["latency_ms_p95"] for r in group])),
                "nfe": group[0]["nfe"], "parameters": group[0]["parameters"],
                "train_minutes": float(np.mean([r["train"]["seconds"] for r in group])) / 60,
                "train_steps": group[0]["train"]["steps"],
                "episodes": group[0]["num_episodes"],
            })
    return rows


def finished_records(runs_dir: Path) -> list[dict[str, Any]]:
    """Every cell.json under ``runs_dir``, in a stable order."""
    return [json.loads(p.read_text()) for p in sorted(runs_dir.glob("*/*/seed*/cell.json"))]


def matrix_suite(args: Any) -> dict[str, Any]:
    """Run every pending cell of the preset; a failing cell is reported and the others still run."""
    preset = args.benchmark
    runs_dir = ROOT / preset["runs_dir"]
    cells = plan(preset)
    failures = []
    start = time.perf_counter()
    for i, cell in enumerate(cells):
        print(f"=== cell {i + 1}/{len(cells)}: {cell.task} / {cell.family} / seed {cell.seed} "
              f"({(time.perf_counter() - start) / 60:.1f} min so far)", flush=True)
        try:
            run_cell(preset, cell, runs_dir)
        except (subprocess.CalledProcessError, RuntimeError) as error:
            print(f"cell {cell} failed: {error}", file=sys.stderr, flush=True)
            failures.append({**vars(cell), "error": str(error)[-500:]})
    records = finished_records(runs_dir)
    return {"preset": preset["name"], "rows": summarize(records), "cells": records, "failures": failures}


def _spread(mean: float, std: float, digits: int, seeds: list[int]) -> str:
    """"mean ± std" over several seeds; one seed has no spread to show, so the cell says so instead."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(seeds) > 1 else f"{mean:.{digits}f} (1 seed)"


def matrix_table(results: Mapping[str, Any]) -> str:
    """Markdown: one table per task, each headed by the command(s) and machine(s) its cells were run with."""
    lines = [f"Preset `{results['preset']}`: mean ± std over training seeds; each seed evaluated on the same held-out "
             "initial states. Latency is per predict_chunk call of the batched evaluation (median over seeds), measured "
             "under whatever else ran on the machine then; `suite=latency` times every family side by side in one "
             "process ([benchmarks/latency.md](benchmarks/latency.md)).", ""]
    for task in dict.fromkeys(r["task"] for r in results["rows"]):
        cells = [c for c in results["cells"] if c["task"] == task]
        lines.append(f"### {task}")
        lines += _headers([c["machine"] for c in cells])
        lines += ["", "| family | success | score | latency ms (median / p95) | nfe | parameters | train min | steps | seeds |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in results["rows"] if r["task"] == task):
            lines.append(
                f"| {r['family']} | {_spread(r['success_mean'], r['success_std'], 2, r['seeds'])} "
                f"| {_spread(r['score_mean'], r['score_std'], 3, r['seeds'])} "
                f"| {r['latency_ms_median']:.1f} / {r['latency_ms_p95']:.1f} | {r['nfe']:g} | {r['parameters'] / 1e6:.2f} M "
                f"| {r['train_minutes']:.1f} | {r['train_steps']} | {', '.join(map(str, r['seeds']))} |")
        lines.append("")
    if results["failures"]:
        lines.append("Failed cells (rerun the command to retry them): " +
                     "; ".join(f"{f['task']}/{f['family']}/seed{f['seed']}" for f in results["failures"]))
    return "\n".join(lines)


def _headers(machines: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per distinct command that produced cells: the command, its commits, dates and machine."""
    lines = []
    for command in dict.fromkeys(m["command"] for m in machines):
        runs = [m for m in machines if m["command"] == command]
        commits = ", ".join(dict.fromkeys(m["commit"] for m in runs))
        dates = sorted(m["date"] for m in runs)
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        machine = ", ".join(dict.fromkeys(f"{m['cpu']} ({m['cores']} cores, GPU: {m['gpu'] or 'none'})" for m in runs))
        lines.append(f"`{command}` — {len(runs)} cell(s), commit {commits}, {when}, {machine}  ")
    return lines


def write_matrix_report(results: Mapping[str, Any], header: Mapping[str, Any], report: Path) -> str:
    """Write ``<report>.md`` (tables + plots), ``<report>.json`` (rows and every cell) and ``<report>/plots/*.png``."""
    from robopolicy.evaluation.benchmarks.plots import plot_learning_curves, plot_success_vs_latency

    report.parent.mkdir(parents=True, exist_ok=True)
    md, js, plots = report.with_suffix(".md"), report.with_suffix(".json"), report / "plots"
    js.write_text(json.dumps({"machine": header, **results}, indent=1) + "\n")
    text = f"# Benchmarks: families x tasks\n\nReport written by `{header['command']}` ({header['date']}).\n\n"
    text += matrix_table(results) + "\n"
    if results["rows"]:
        plots.mkdir(parents=True, exist_ok=True)
        figures = [plot_success_vs_latency(results["rows"], plots / "success_vs_latency.png"),
                   plot_learning_curves(results["cells"], plots / "learning_curves.png")]
        text += "\n" + "\n".join(f"![{f.stem}]({f.relative_to(md.parent).as_posix()})" for f in figures) + "\n"
    md.write_text(text)
    return text
