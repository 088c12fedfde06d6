"""The ``deploy`` suite's aggregation and markdown table (hardware/benchmark.py runs the episodes): per backend,
success, scores, loop timing and latency pooled over episodes, and each run's distance to the evaluator."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

import numpy as np

MIDDLEWARE = ("dds", "ros1")
TOLERANCE = 0.1  # the target: success rate within 0.1 of the direct evaluation


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _fault_check(row: dict[str, Any]) -> str:
    """The safety rule (or "exception") that ended a faulted episode."""
    if row.get("fault_check"):
        return str(row["fault_check"])
    return str(row.get("fault") or "?").split(":")[0].replace(" bounds", "").replace(" ", "_")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate one backend's episode rows: success, scores, and timing pooled over all episodes (tick periods:
    the median over episodes of each episode's p50 / p99, and the worst episode's p99)."""
    ran = [r for r in rows if r.get("status") != "error"]
    scores = [r["max_score"] for r in ran if r.get("max_score") is not None]
    finals = [r["score"] for r in ran if r.get("score") is not None]
    p50s = [r["tick_p50_ms"] for r in ran if r.get("tick_p50_ms") is not None]
    p99s = [r["tick_p99_ms"] for r in ran if r.get("tick_p99_ms") is not None]
    inference = [v for r in ran for v in r.get("inference_ms", [])]
    send = [v for r in ran for v in r.get("stamp_to_send_ms", [])]
    start = [v for r in ran for v in r.get("stamp_to_start_ms", [])]
    return {
        "episodes": len(rows), "ran": len(ran),
        "success_rate": sum(bool(r.get("success")) for r in ran) / len(ran) if ran else None,
        "mean_max_score": statistics.fmean(scores) if scores else None,
        "mean_final_score": statistics.fmean(finals) if finals else None,
        "ends": dict(Counter(r.get("status") for r in rows)),
        "faults": dict(Counter(_fault_check(r) for r in rows if r.get("status") == "fault")),
        "tick_p50_ms": statistics.median(p50s) if p50s else None,
        "tick_p99_ms": statistics.median(p99s) if p99s else None,
        "tick_p99_worst_ms": max(p99s) if p99s else None,
        "overruns": sum(r.get("overruns", 0) for r in ran),
        "points_dropped": sum(r.get("points_dropped", 0) for r in ran),
        "inference_p50_ms": _pct(inference, 50), "inference_p99_ms": _pct(inference, 99),
        "stamp_to_send_p50_ms": _pct(send, 50), "stamp_to_send_p99_ms": _pct(send, 99),
        "stamp_to_start_p50_ms": _pct(start, 50), "stamp_to_start_max_ms": max(start) if start else None,
    }


# --------------------------------------------------------------------------------------------------- table
LABELS = {"sim": "in-process sim, real time", "dds": "DDS (loopback, own netns)",
          "ros1": "ROS 1 (rosmaster on 127.0.0.1, own netns)"}
COLUMNS = ["run", "episodes", "success rate", "Δ success vs evaluator", "mean max score", "Δ score vs evaluator",
           "mean final score", "tick period p50 / p99 (worst) ms", "jitter p99−p50 ms", "overruns / points dropped",
           "inference p50 / p99 ms", "stamp→sent p50 / p99 ms", "stamp→first point p50 / max ms", "ends"]


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(cells: list[str]) -> str:
    """A table row with the cells given and "-" in the rest."""
    return "| " + " | ".join([*cells, *["-"] * (len(COLUMNS) - len(cells))]) + " |"


def _delta(value: float | None, ref: float | None) -> str:
    return "-" if value is None or ref is None else f"{value - ref:+.2f}"


def deploy_table(results: dict[str, Any]) -> str:
    """The markdown table: the evaluator's reference row, then one row per backend, and the 0.1 criterion."""
    ref = results.get("reference") or {}
    ref_ok = "error" not in ref and bool(ref)
    ref_success, ref_score = (ref.get("success_rate"), ref.get("mean_max_score")) if ref_ok else (None, None)
    inference = results.get("inference") or {}
    lines = [
        f"Checkpoint `{results['checkpoint']}` on `{results['robot']}`, seeds {results['seeds'][0]}.."
        f"{results['seeds'][1]} ({results['episodes']} episodes per row), at most {results['max_seconds']:g} s per "
        f"episode on the wall clock, stop on success; inference {json.dumps(inference) if inference else 'as trained'}; "
        f"sim node states at {results['node_rate_hz']:g} Hz. Success: the run ended on the arm's task-success report "
        "(evaluator: success at any step); score: the task's score (Push-T: goal coverage), the highest over the "
        "episode (evaluator: the same, per env step).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    if ref_ok:
        lines.append(f"| evaluator (`evaluate_checkpoint`, simulated time, batch {ref['batch_size']}) | {ref['episodes']} "
                     f"| {_f(ref_success)} | - | {_f(ref_score, 3)} | - | - | - | - | - | "
                     f"{_f(ref.get('latency_ms_median'), 1)} per batched chunk | - | - | - |")
    elif ref:
        lines.append(_row(["evaluator", "-", f"error: {ref['error']}"]))
    for backend, entry in results["backends"].items():
        label = LABELS.get(backend, backend)
        if "skipped" in entry:
            lines.append(_row([label, "0", f"skipped: {entry['skipped']}"]))
            continue
        s = entry.get("summary") or summarize(entry.get("episodes", []))
        jitter = None if s["tick_p99_ms"] is None else s["tick_p99_ms"] - s["tick_p50_ms"]
        faults = s.get("faults") or {}
        ends = ", ".join(f"{k} {v}" + (f" ({', '.join(f'{c} {n}' for c, n in sorted(faults.items()))})"
                                       if k == "fault" and faults else "")
                         for k, v in sorted(s["ends"].items()))
        if entry.get("error"):
            ends += f"; error: {entry['error']}"
        lines.append(
            f"| {label} | {s['episodes']} | {_f(s['success_rate'])} | {_delta(s['success_rate'], ref_success)} "
            f"| {_f(s['mean_max_score'], 3)} | {_delta(s['mean_max_score'], ref_score)} | {_f(s['mean_final_score'], 3)} "
            f"| {_f(s['tick_p50_ms'], 1)} / {_f(s['tick_p99_ms'], 1)} ({_f(s['tick_p99_worst_ms'], 1)}) | {_f(jitter, 1)} "
            f"| {s['overruns']} / {s['points_dropped']} | {_f(s['inference_p50_ms'], 1)} / {_f(s['inference_p99_ms'], 1)} "
            f"| {_f(s['stamp_to_send_p50_ms'], 1)} / {_f(s['stamp_to_send_p99_ms'], 1)} "
            f"| {_f(s['stamp_to_start_p50_ms'], 1)} / {_f(s['stamp_to_start_max_ms'], 1)} | {ends} |")
    lines += ["", *criterion_lines(results)]
    return "\n".join(lines)


def criterion_lines(results: dict[str, Any]) -> list[str]:
    """Whether each middleware backend's success rate (and mean max score) is within 0.1 of each reference."""
    ref = results.get("reference") or {}
    refs = []
    if ref and "error" not in ref:
        refs.append(("the evaluator", ref.get("success_rate"), ref.get("mean_max_score")))
    sim = results["backends"].get("sim", {}).get("summary")
    if sim and sim.get("ran"):
        refs.append(("the in-process sim (real time)", sim["success_rate"], sim["mean_max_score"]))
    out = []
    for backend in MIDDLEWARE:
        s = results["backends"].get(backend, {}).get("summary")
        if not s or not s.get("ran"):
            continue
        for name, success, score in refs:
            d_success = abs(s["success_rate"] - success)
            text = (f"- {backend} vs {name}: |Δ success rate| {d_success:.2f} "
                    f"({'within' if d_success <= TOLERANCE + 1e-9 else 'NOT within'} {TOLERANCE})")
            if s["mean_max_score"] is not None and score is not None:
                d_score = abs(s["mean_max_score"] - score)
                text += (f"; |Δ mean max score| {d_score:.3f} "
                         f"({'within' if d_score <= TOLERANCE + 1e-9 else 'NOT within'} {TOLERANCE})")
            out.append(text)
    return out
