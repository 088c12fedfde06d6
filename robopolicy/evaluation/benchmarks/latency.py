"""predict_chunk latency of every family and inference setting, at batch 1 and batch 32, in one process.

Calls are interleaved (every setting at both batch sizes, then again), so all cells see the same machine load,
and each cell's median is reported with its ratio to Diffusion Policy DDPM-100 at the same batch size. The
policies are built from conf/policy/<family>.yaml with Push-T state shapes and random weights: the compute of
a call does not depend on the weights (EBT's early stop is off by default, so it always takes its steps).
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from robopolicy.evaluation.benchmarks.common import pusht_obs, pusht_policy

REFERENCE = "diffusion DDPM-100"
BATCHES = (1, 32)
# (label, family, config overrides): every family at its default, plus the scheduler settings people compare.
SETTINGS: list[tuple[str, str, dict[str, Any]]] = [
    (REFERENCE, "diffusion", {"sampler": "ddpm", "num_inference_steps": 100}),
    ("diffusion DDIM-10", "diffusion", {"sampler": "ddim", "num_inference_steps": 10}),
    ("diffusion U-Net DDIM-10", "diffusion", {"backbone": "unet", "sampler": "ddim", "num_inference_steps": 10}),
    ("streaming DDPM-100 (2 buffer chunks)", "streaming", {"sampler": "ddpm", "num_inference_steps": 100}),
    ("streaming DDIM-10 (2 buffer chunks)", "streaming", {"sampler": "ddim", "num_inference_steps": 10}),
    ("ebt 2 descent steps", "ebt", {"inference_steps": 2}),
    ("ebt 4 descent steps", "ebt", {"inference_steps": 4}),
    ("carp greedy (4 scales)", "carp", {}),
    ("bc", "bc", {}),
]


def latency_suite(args: Any, settings: list[tuple[str, str, dict[str, Any]]] = SETTINGS) -> dict[str, Any]:
    """Median / p95 ms per call for each (setting, batch), calls made round-robin; ratios to the first setting (DDPM-100)."""
    # Stateful families (Streaming DP's buffer) keep one instance per batch size, so no call pays for a reset.
    policies = {}
    for label, family, overrides in settings:
        policy = pusht_policy(family, overrides)
        policies[label] = {batch: copy.deepcopy(policy) for batch in BATCHES}
    reference = settings[0][0]
    obs = {batch: pusht_obs(policies[reference][1].chunk_spec, batch) for batch in BATCHES}
    cells = [(label, batch) for label, _, _ in settings for batch in BATCHES]
    times: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    nfe: dict[str, float] = {}
    with torch.no_grad():
        for rep in range(args.warmup + args.calls):
            for label, batch in cells:
                if sum(times[(label, batch)]) > args.cell_seconds:
                    continue  # a slow cell stops early; the table shows how many calls it got
                start = time.perf_counter()
                chunk = policies[label][batch].predict_chunk(obs[batch])
                elapsed = time.perf_counter() - start
                if rep >= args.warmup:
                    times[(label, batch)].append(elapsed)
                nfe[label] = float(chunk.info.get("nfe", float("nan")))
    rows = []
    for label, family, _ in settings:
        row = {"setting": label, "family": family, "nfe": nfe[label],
               "parameters": policies[label][1].num_parameters()}
        for batch in BATCHES:
            ms = np.asarray(times[(label, batch)]) * 1000
            ref = float(np.median(np.asarray(times[(reference, batch)]) * 1000))
            row[f"batch{batch}"] = {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
                                    "calls": len(ms), "ratio_to_ddpm100": float(np.median(ms)) / ref}
        rows.append(row)
    return {"rows": rows, "torch_threads": torch.get_num_threads()}


def latency_table(r: dict[str, Any]) -> str:
    lines = ["Per-chunk latency of predict_chunk (Push-T state shapes, random weights), calls interleaved across cells; "
             "ratio = median / Diffusion Policy DDPM-100's median at the same batch size.", "",
             "| setting | nfe | parameters | batch 1 ms (median / p95) | ratio | batch 32 ms (median / p95) | ratio | calls (1 / 32) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        one, many = row["batch1"], row["batch32"]
        lines.append(
            f"| {row['setting']} | {row['nfe']:g} | {row['parameters'] / 1e6:.2f} M "
            f"| {one['median_ms']:.1f} / {one['p95_ms']:.1f} | {one['ratio_to_ddpm100']:.3f} "
            f"| {many['median_ms']:.1f} / {many['p95_ms']:.1f} | {many['ratio_to_ddpm100']:.3f} | {one['calls']} / {many['calls']} |")
    return "\n".join(lines)
