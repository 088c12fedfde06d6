"""Streaming DP against Diffusion Policy: success, network evaluations and latency per control step."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import ROOT, RUNS, pusht_obs, train_once


def streaming_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Train DP, SDP and the chunk-wise-only ablation; then time their checkpoints per control step, interleaved."""
    import torch

    from robopolicy.core import load_policy

    runs = {RUNS[slug][0]: train_once(*RUNS[slug], ROOT / "outputs" / "benchmark" / "runs" / slug)
            for slug in ("diffusion", "streaming", "streaming_chunkwise")}
    dp_name, sdp_name = RUNS["diffusion"][0], RUNS["streaming"][0]
    policies = {name: load_policy(ROOT / runs[name]["run_dir"] / "checkpoints" / "last").eval() for name in (dp_name, sdp_name)}
    samplers = {"DDIM-10": {"sampler": "ddim", "num_inference_steps": 10}, "DDPM-100": {"sampler": "ddpm", "num_inference_steps": 100}}
    cells = [(p, s) for s in samplers for p in policies]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    nfe: dict[tuple[str, str], float] = {}
    obs = pusht_obs(next(iter(policies.values())).chunk_spec, 1)
    with torch.no_grad():
        for rep in range(args.calls + args.warmup):  # interleaved: every cell sees the same machine load
            for name, sampler in cells:
                if sum(times[(name, sampler)]) > args.cell_seconds:
                    continue
                policy = policies[name]
                policy.configure_inference(**samplers[sampler])  # also resets the streaming buffer
                if policy.executes_whole_chunks:
                    policy.predict_chunk(obs)  # time the steady state, a buffer that has already rolled
                start = time.perf_counter()
                chunk = policy.predict_chunk(obs)
                if rep >= args.warmup:
                    times[(name, sampler)].append(time.perf_counter() - start)
                nfe[(name, sampler)] = float(chunk.info["nfe"])
    latency = {}
    for (name, sampler), values in times.items():
        ms = np.asarray(values) * 1000
        ta = policies[name].chunk_spec.action_horizon
        latency[f"{name} | {sampler}"] = {
            "chunk_median_ms": float(np.median(ms)), "chunk_p95_ms": float(np.percentile(ms, 95)), "calls": len(values),
            "nfe_per_chunk": nfe[(name, sampler)], "nfe_per_step": nfe[(name, sampler)] / ta,
            "step_median_ms": float(np.median(ms)) / ta,
        }
    print("latency:", json.dumps(latency, indent=1))
    return {"runs": runs, "latency": latency, "params_M": {n: p.num_parameters() / 1e6 for n, p in policies.items()}}


def streaming_table(r: dict[str, Any]) -> str:
    runs, latency = r["runs"], r["latency"]
    dp = runs["Diffusion Policy"]
    rows = ["| policy | overrides | success rate | mean score | train + eval time | nfe per chunk (default sampler) |", "|---|---|---|---|---|---|"]
    for name, run in runs.items():
        minutes = f"{run['train_minutes']:.1f} min" if run["train_minutes"] else "n/a"
        rows.append(f"| {name} | `{' '.join(run['overrides'])}` | {run['success_rate']:.2f} | {run['mean_score']:.3f} | "
                    f"{minutes} | {run['nfe']:g} |")
    rows += ["", "| sampler | policy | nfe per control step | latency per chunk median / p95 (ms) | per control step (ms) | ratio to DP |",
             "|---|---|---|---|---|---|"]
    for cell, v in latency.items():
        name, sampler = cell.split(" | ")
        base = latency[f"Diffusion Policy | {sampler}"]
        rows.append(f"| {sampler} | {name} | {v['nfe_per_step']:.3f} | {v['chunk_median_ms']:.2f} / {v['chunk_p95_ms']:.2f} | "
                    f"{v['step_median_ms']:.3f} | nfe {v['nfe_per_step'] / base['nfe_per_step']:.2f}x, "
                    f"latency {v['step_median_ms'] / base['step_median_ms']:.2f}x |")
    return "\n".join(rows) + (
        f"\n\nSuccess: {dp['num_episodes']} episodes from seeds {dp['seed_start']}.., EMA weights, each family's default "
        "sampler (DDPM-100). Latency: batch 1, the trained checkpoints, cells interleaved after warm-up; a streaming call "
        "is timed on a buffer that has already rolled once. Per control step = per chunk / Ta (Ta = 8 for both). "
        "Run directories under `outputs/benchmark/runs/` (not committed); rerunning skips finished runs."
    )

