"""CARP against Diffusion Policy: success, per-chunk latency, parameters, and the tokenizer's quality."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import ROOT, RUNS, evaluate_once, pusht_obs, train_once

SETTINGS = {  # cell -> (run slug, eval tag, inference options)
    "Diffusion Policy | DDPM-100": ("diffusion", "ddpm100", {"sampler": "ddpm", "num_inference_steps": 100}),
    "Diffusion Policy | DDIM-10": ("diffusion", "ddim10", {"sampler": "ddim", "num_inference_steps": 10}),
    "CARP | greedy": ("carp", "greedy", {"greedy": True}),
    "CARP | top-10 sampling": ("carp", "top10", {"greedy": False, "top_k": 10}),
}


def _windows(config: dict[str, Any], spec, split: str, count: int):
    """Up to ``count`` random action chunks (N, Tp, Da) in raw units from the run's dataset split."""
    from robopolicy.data import SequenceDataset, load_demos

    keys = list(config["task"]["obs_keys"])
    data = SequenceDataset(load_demos(config["dataset"], obs_keys=keys, filter_key=split), spec, keys)
    rng = np.random.default_rng(0)
    return data.get_batch(rng.choice(len(data), size=min(count, len(data)), replace=False))["action"].float()


def tokenizer_report(policy, chunks) -> dict[str, Any]:
    """Reconstruction error after each scale (action units) and codebook usage per scale, on chunks (N, Tp, Da)."""
    import torch

    with torch.no_grad():
        normalized = policy.normalizer.normalize("action", chunks)
        indices = policy.tokenizer.tokenize(normalized)
        partial = policy.tokenizer.quantizer.reconstruct(indices)
        errors = []
        for f_hat in partial:
            recon = policy.normalizer.unnormalize("action", policy.tokenizer.decode(f_hat))
            distance = (recon - chunks).norm(dim=-1)  # per action, in action units (m for Push-T)
            errors.append({"rmse": float((recon - chunks).square().mean().sqrt()), "mean_distance": float(distance.mean()),
                           "p95_distance": float(distance.quantile(0.95))})
    size = policy.cfg.codebook_size
    usage = [float(np.mean([len(torch.unique(idx[:, g])) / size for g in range(idx.shape[1])])) for idx in indices]
    return {"chunks": len(chunks), "scales": list(policy.cfg.scales), "error_after_scale": errors, "codebook_usage": usage,
            "codebook_size": size, "tokenizers": policy.tokenizer.groups}


def _shared_tokenizer(carp, config: dict[str, Any], steps: int, held_out) -> dict[str, Any]:
    """Stage 1 only, with one tokenizer shared across action dimensions: the CARP run's data, steps, batch, optimizer
    and learning-rate schedule."""
    import copy

    import torch

    from robopolicy.policies.carp import CARPPolicy
    from robopolicy.training.schedule import stage_schedule

    torch.manual_seed(0)
    policy = CARPPolicy(carp.shape_meta, carp.chunk_spec, copy.deepcopy(carp.normalizer), {**carp.config, "per_dimension": False})
    train = _windows(config, carp.chunk_spec, "train", 1_000_000)
    training = config["training"]
    group = policy.parameter_groups(training["lr"])[0]  # the tokenizer's: its learning rate and its stage's window
    window = group.pop("first_step", 0), group.pop("last_step", None) or training["num_steps"]
    optimizer = torch.optim.AdamW([group], lr=training["lr"], betas=tuple(training["betas"]), weight_decay=training["weight_decay"])
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, stage_schedule(*window, training["warmup_steps"], training["min_lr_ratio"]))
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        batch = train[torch.randint(0, len(train), (int(training["batch_size"]),), generator=generator)]
        loss, _ = policy.compute_loss({"obs": {}, "action": batch})  # stage 1 never looks at observations
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return {"seconds": time.perf_counter() - start, "tokenizer_params": sum(p.numel() for p in policy.tokenizer.parameters()),
            **tokenizer_report(policy.eval(), held_out)}


def carp_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or reuse) DP and CARP; success; interleaved batch-1 latency; parameters; tokenizer quality."""
    import torch

    from robopolicy.core import load_policy, read_checkpoint

    runs_root = ROOT / "outputs" / "benchmark" / "runs"
    runs = {slug: train_once(*RUNS[slug], runs_root / slug) for slug in ("diffusion", "carp")}
    success = {}
    for cell, (slug, tag, inference) in SETTINGS.items():
        result = evaluate_once(runs[slug], tag, inference)
        success[cell] = {k: result[k] for k in ("success_rate", "mean_score", "num_episodes", "seed_start", "nfe")}
    print("success:", json.dumps({k: (v["success_rate"], v["mean_score"]) for k, v in success.items()}))

    policies = {slug: load_policy(ROOT / run["run_dir"] / "checkpoints" / "last").eval() for slug, run in runs.items()}
    times: dict[str, list[float]] = {cell: [] for cell in SETTINGS}
    obs = pusht_obs(policies["diffusion"].chunk_spec, 1)
    generator = torch.Generator().manual_seed(0)
    for rep in range(args.calls + args.warmup):  # interleaved: every cell sees the same machine load
        for cell, (slug, _, inference) in SETTINGS.items():
            if sum(times[cell]) > args.cell_seconds:
                continue
            policy = policies[slug]
            policy.configure_inference(**inference)
            start = time.perf_counter()
            with torch.no_grad():
                policy.predict_chunk(obs, generator=generator)
            if rep >= args.warmup:
                times[cell].append(time.perf_counter() - start)
    latency = {cell: {"median_ms": float(np.median(v) * 1000), "p95_ms": float(np.percentile(v, 95) * 1000), "calls": len(v)}
               for cell, v in times.items()}
    print("latency:", json.dumps(latency))

    carp = policies["carp"]
    config = read_checkpoint(ROOT / runs["carp"]["run_dir"] / "checkpoints" / "last").config
    held_out = _windows(config, carp.chunk_spec, "valid", 4096)
    tokenizer = tokenizer_report(carp, held_out)
    print("tokenizer:", json.dumps(tokenizer))
    shared = _shared_tokenizer(carp, config, carp.cfg.tokenizer_steps, held_out)
    print("shared tokenizer:", json.dumps(shared))
    params = {slug: p.num_parameters() / 1e6 for slug, p in policies.items()}
    params["carp tokenizer"] = sum(p.numel() for p in carp.tokenizer.parameters()) / 1e6
    params["carp transformer + obs embedding"] = params["carp"] - params["carp tokenizer"]
    return {"runs": runs, "success": success, "latency": latency, "params_M": params,
            "tokenizer": tokenizer, "shared_tokenizer": shared}


def _tokenizer_rows(report: dict[str, Any]) -> list[str]:
    rows = ["| after scale | tokens so far | RMSE (m) | mean / p95 distance per action (mm) | codebook usage at this scale |",
            "|---|---|---|---|---|"]
    tokens = 0
    for scale, err, usage in zip(report["scales"], report["error_after_scale"], report["codebook_usage"], strict=True):
        tokens += scale * report["tokenizers"]
        rows.append(f"| {scale} | {tokens} | {err['rmse']:.4f} | {err['mean_distance'] * 1000:.1f} / {err['p95_distance'] * 1000:.1f} "
                    f"| {usage:.2f} |")
    return rows


def carp_table(r: dict[str, Any]) -> str:
    rows = ["| policy | inference | success rate | mean score | nfe per chunk | latency per chunk, batch 1 (median / p95 ms) |",
            "|---|---|---|---|---|---|"]
    for cell, v in r["success"].items():
        name, setting = cell.split(" | ")
        lat = r["latency"][cell]
        rows.append(f"| {name} | {setting} | {v['success_rate']:.2f} | {v['mean_score']:.3f} | {v['nfe']:g} "
                    f"| {lat['median_ms']:.2f} / {lat['p95_ms']:.2f} |")
    ms = r["latency"]["CARP | greedy"]["median_ms"]
    ddpm, ddim = r["latency"]["Diffusion Policy | DDPM-100"]["median_ms"], r["latency"]["Diffusion Policy | DDIM-10"]["median_ms"]
    rows.append(f"\nCARP (greedy) per-chunk latency: {ddpm / ms:.1f}x below DP DDPM-100 and {ddim / ms:.1f}x below DP DDIM-10 "
                "(median, same run, interleaved).")
    rows.append("\nParameters (M): " + ", ".join(f"{k} {v:.3f}" for k, v in r["params_M"].items()) + ".")
    tok, shared = r["tokenizer"], r["shared_tokenizer"]
    rows += ["", f"Tokenizer of the CARP run ({tok['tokenizers']} per-dimension tokenizers, {tok['codebook_size']} codes each; "
             f"{tok['chunks']} held-out chunks; usage = share of codes used at least once):", "", *_tokenizer_rows(tok),
             "", f"The same stage 1 with one tokenizer shared across dimensions ({shared['tokenizer_params'] / 1e6:.3f} M parameters, "
             f"trained in-process for the same steps, {shared['seconds']:.0f} s):", "", *_tokenizer_rows(shared)]
    return "\n".join(rows) + (
        "\n\nSuccess: 50 held-out episodes per row (seeds from 1,000,000), EMA weights. Latency: batch 1, interleaved "
        "after warm-up. Run directories under `outputs/benchmark/runs/` (not committed)."
    )
