"""Diffusion Policy: chunk latency per backbone and sampler, training samples/s."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import pusht_obs, pusht_policy


BACKBONES = {  # the default run's backbone (conf/policy/diffusion.yaml) and the paper's U-Net
    "mlp (default)": {"backbone": "mlp"},
    "unet 256-512-1024 (paper)": {"backbone": "unet", "down_dims": [256, 512, 1024]},
}
SAMPLERS = {"DDPM-100": {"sampler": "ddpm", "num_inference_steps": 100}, "DDIM-10": {"sampler": "ddim", "num_inference_steps": 10}}


def diffusion_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Latency per chunk at batch 1 (interleaved across backbones and samplers) and training samples/s."""
    import torch

    policies = {name: pusht_policy("diffusion", cfg) for name, cfg in BACKBONES.items()}
    results: dict[str, Any] = {"params_M": {n: p.num_parameters() / 1e6 for n, p in policies.items()}, "latency": {}, "train": {}}
    cells = [(b, s) for b in policies for s in SAMPLERS]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    with torch.no_grad():
        for rep in range(args.calls + args.warmup):  # A B A B ...: every cell sees the same machine load
            for backbone, sampler in cells:
                if sum(times[(backbone, sampler)]) > args.cell_seconds:
                    continue  # slow cells stop early; the table reports how many calls each cell got
                policy = policies[backbone]
                policy.configure_inference(**SAMPLERS[sampler])
                obs = pusht_obs(policy.chunk_spec, 1)
                start = time.perf_counter()
                policy.predict_chunk(obs)
                if rep >= args.warmup:
                    times[(backbone, sampler)].append(time.perf_counter() - start)
    for (backbone, sampler), values in times.items():
        ms = np.asarray(values) * 1000
        results["latency"][f"{backbone} | {sampler}"] = {
            "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)), "calls": len(values),
            "nfe": SAMPLERS[sampler]["num_inference_steps"],
        }
    print("latency:", json.dumps(results["latency"], indent=1))
    for backbone, policy in policies.items():
        spec = policy.chunk_spec
        policy.train()
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
        batch = {"obs": pusht_obs(spec, args.batch), "action": torch.randn(args.batch, spec.pred_horizon, 2)}
        durations = []
        for step in range(args.train_steps + 2):
            start = time.perf_counter()
            loss, _ = policy.compute_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step >= 2:  # warm-up
                durations.append(time.perf_counter() - start)
        results["train"][backbone] = {"batch": args.batch, "samples_per_s": args.batch / float(np.median(durations)),
                                      "steps_timed": len(durations)}
    print("train:", json.dumps(results["train"]))
    return results


def diffusion_table(r: dict[str, Any]) -> str:
    rows = ["| backbone | params (M) | DDPM-100 median / p95 (ms) | DDIM-10 median / p95 (ms) | DDPM-100 / DDIM-10 | train samples/s |",
            "|---|---|---|---|---|---|"]
    for backbone, params in r["params_M"].items():
        ddpm, ddim = r["latency"][f"{backbone} | DDPM-100"], r["latency"][f"{backbone} | DDIM-10"]
        rows.append(
            f"| {backbone} | {params:.1f} | {ddpm['median_ms']:.1f} / {ddpm['p95_ms']:.1f} | {ddim['median_ms']:.1f} / "
            f"{ddim['p95_ms']:.1f} | {ddpm['median_ms'] / ddim['median_ms']:.1f}x | {r['train'][backbone]['samples_per_s']:.1f} |"
        )
    calls = ", ".join(f"{cell}: {v['calls']}" for cell, v in r["latency"].items())
    batch = next(iter(r["train"].values()))["batch"]
    return "\n".join(rows) + (
        f"\n\nLatency: batch 1, cells interleaved after warm-up; timed calls per cell ({calls}). "
        f"Training: batch {batch}, forward + backward + AdamW step, median step time."
    )

