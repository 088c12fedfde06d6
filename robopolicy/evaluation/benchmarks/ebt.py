"""EBT-Policy against Diffusion Policy: success at matched step counts, latency, energy as uncertainty."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import ROOT, RUNS, evaluate_once, pusht_obs, train_once


def _auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """P(outlier score > inlier score), ties counting half: the area under the ROC curve."""
    diff = outliers[:, None] - inliers[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def _energy_separation(policy, dataset: str, obs_keys: list[str], count: int = 500) -> dict[str, Any]:
    """Final energy on held-out demo windows vs the same windows perturbed off the demonstrated states."""
    import torch

    from robopolicy.data import SequenceDataset, load_demos

    if "object" not in obs_keys:
        raise ValueError(f"{dataset}: the energy separation needs Push-T (state) windows: its perturbations displace the "
                         f"'object' (block pose) observation, and this policy observes {sorted(obs_keys)}")
    data = SequenceDataset(load_demos(dataset, obs_keys=obs_keys, filter_key="valid"), policy.chunk_spec, obs_keys)
    rng = np.random.default_rng(0)
    obs = data.get_batch(rng.choice(len(data), size=min(count, len(data)), replace=False))["obs"]
    n = len(obs["object"])
    angle = rng.uniform(0, 2 * np.pi, n)
    displaced = {k: v.clone() for k, v in obs.items()}
    displaced["object"][..., :2] += torch.from_numpy(0.05 * np.stack([np.cos(angle), np.sin(angle)], -1))[:, None].to(obs["object"].dtype)
    noisy = {k: v + torch.from_numpy(rng.normal(0, 0.02, v.shape)).to(v.dtype) for k, v in obs.items()}
    noise = torch.randn(n, policy.chunk_spec.pred_horizon, policy.shape_meta.action_dim, generator=torch.Generator().manual_seed(0))
    energy = {name: policy.predict_chunk(o, noise=noise).info["energy"].numpy()
              for name, o in (("held-out", obs), ("block displaced 5 cm", displaced), ("observation noise 2 cm", noisy))}
    return {"windows": n, "mean_energy": {k: float(v.mean()) for k, v in energy.items()},
            "auroc": {k: _auroc(energy["held-out"], v) for k, v in energy.items() if k != "held-out"}}


def _checkpoint_energy_separation(policy, checkpoint: Path) -> dict[str, Any]:
    """_energy_separation with 2 descent steps on the held-out windows of the dataset ``checkpoint`` was trained on."""
    from robopolicy.core import read_checkpoint

    config = read_checkpoint(checkpoint).config
    policy.configure_inference(inference_steps=2)
    return _energy_separation(policy, config["dataset"], list(config["task"]["obs_keys"]))


def ebt_energy_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Energy as uncertainty of one trained Push-T EBT checkpoint (``energy_checkpoint=<dir>``); trains nothing."""
    from robopolicy.core import load_policy

    if not getattr(args, "energy_checkpoint", None):
        raise ValueError("suite=ebt_energy needs a trained EBT checkpoint: python scripts/benchmark.py suite=ebt_energy "
                         "energy_checkpoint=<run>/checkpoints/last")
    checkpoint = Path(args.energy_checkpoint).resolve()
    if not checkpoint.is_dir():
        raise ValueError(f"energy_checkpoint {checkpoint} is not a directory")
    policy = load_policy(checkpoint).eval()
    if not hasattr(policy, "energy"):
        raise ValueError(f"energy_checkpoint {checkpoint} holds a {type(policy).__name__}, not an EBT-Policy (policy=ebt)")
    shown = checkpoint.relative_to(ROOT) if checkpoint.is_relative_to(ROOT) else checkpoint
    return {"checkpoint": str(shown), "energy": _checkpoint_energy_separation(policy, checkpoint)}


def _energy_rows(energy: dict[str, Any]) -> list[str]:
    """The markdown table of mean final energy and AUROC per kind of observation."""
    rows = [f"Energy as uncertainty ({energy['windows']} held-out demo windows, final energy after 2 descent steps from fixed noise):",
            "", "| observations | mean final energy | AUROC vs held-out |", "|---|---|---|"]
    for name, mean in energy["mean_energy"].items():
        auroc = energy["auroc"].get(name)
        rows.append(f"| {name} | {mean:.3f} | {'-' if auroc is None else f'{auroc:.3f}'} |")
    return rows


def ebt_energy_table(r: dict[str, Any]) -> str:
    """Markdown for suite=ebt_energy: the checkpoint, then the energy table."""
    return "\n".join([f"Checkpoint `{r['checkpoint']}` (EMA weights).", "", *_energy_rows(r["energy"])])


def ebt_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or reuse) DP and EBT; success at matched step counts; latency; energy as uncertainty."""
    import torch

    from robopolicy.core import load_policy

    runs_root = ROOT / "outputs" / "benchmark" / "runs"
    dp, ebt = (train_once(*RUNS[slug], runs_root / slug) for slug in ("diffusion", "ebt"))
    settings = {
        "Diffusion Policy | DDPM-100": (dp, "ddpm100", {"sampler": "ddpm", "num_inference_steps": 100}),
        "Diffusion Policy | DDIM-10": (dp, "ddim10", {"sampler": "ddim", "num_inference_steps": 10}),
        "Diffusion Policy | DDIM-4": (dp, "ddim4", {"sampler": "ddim", "num_inference_steps": 4}),
        "Diffusion Policy | DDIM-2": (dp, "ddim2", {"sampler": "ddim", "num_inference_steps": 2}),
        "EBT-Policy | 2 steps": (ebt, "steps2", {"inference_steps": 2}),
        "EBT-Policy | 4 steps": (ebt, "steps4", {"inference_steps": 4}),
    }
    success = {}
    for cell, (run, tag, inference) in settings.items():
        result = evaluate_once(run, tag, inference)
        success[cell] = {k: result[k] for k in ("success_rate", "mean_score", "num_episodes", "seed_start", "nfe")}
        if "energy" in result.get("episode_info", {}):
            success[cell]["episode_energy"] = result["episode_info"]["energy"]
            success[cell]["episode_success"], success[cell]["episode_max_score"] = result["episode_success"], result["episode_max_score"]
    print("success:", json.dumps({k: (v["success_rate"], v["mean_score"]) for k, v in success.items()}))

    policies = {slug: load_policy(ROOT / run["run_dir"] / "checkpoints" / "last").eval() for slug, run in (("dp", dp), ("ebt", ebt))}
    cells = {cell: (policies["dp" if run is dp else "ebt"], inference) for cell, (run, _, inference) in settings.items()
             if cell.split(" | ")[1] in ("DDPM-100", "DDIM-10", "2 steps", "4 steps")}
    times: dict[str, list[float]] = {c: [] for c in cells}
    obs = pusht_obs(policies["dp"].chunk_spec, 1)
    for rep in range(args.calls + args.warmup):  # interleaved: every cell sees the same machine load
        for cell, (policy, inference) in cells.items():
            if sum(times[cell]) > args.cell_seconds:
                continue
            policy.configure_inference(**inference)
            start = time.perf_counter()
            with torch.no_grad():
                policy.predict_chunk(obs)
            if rep >= args.warmup:
                times[cell].append(time.perf_counter() - start)
    latency = {cell: {"median_ms": float(np.median(v) * 1000), "p95_ms": float(np.percentile(v, 95) * 1000), "calls": len(v)}
               for cell, v in times.items()}
    print("latency:", json.dumps(latency))

    separation = _checkpoint_energy_separation(policies["ebt"], ROOT / ebt["run_dir"] / "checkpoints" / "last")
    print("energy:", json.dumps(separation))
    return {"runs": {"dp": dp, "ebt": ebt}, "success": success, "latency": latency, "energy": separation,
            "params_M": {k: p.num_parameters() / 1e6 for k, p in policies.items()}}


def ebt_table(r: dict[str, Any]) -> str:
    rows = ["| policy | sampler / descent | success rate | mean score | nfe per chunk | latency per chunk, batch 1 (median / p95 ms) |",
            "|---|---|---|---|---|---|"]
    for cell, v in r["success"].items():
        name, setting = cell.split(" | ")
        lat = r["latency"].get(cell)
        timing = f"{lat['median_ms']:.1f} / {lat['p95_ms']:.1f}" if lat else "-"
        rows.append(f"| {name} | {setting} | {v['success_rate']:.2f} | {v['mean_score']:.3f} | {v['nfe']:g} | {timing} |")
    base = r["latency"]["Diffusion Policy | DDPM-100"]["median_ms"], r["latency"]["Diffusion Policy | DDIM-10"]["median_ms"]
    for cell in ("EBT-Policy | 2 steps", "EBT-Policy | 4 steps"):
        ms = r["latency"][cell]["median_ms"]
        rows.append(f"\n{cell}: {base[0] / ms:.1f}x faster than DDPM-100, {base[1] / ms:.1f}x faster than DDIM-10 (median latency).")
    rows += ["", *_energy_rows(r["energy"])]
    episodes = r["success"]["EBT-Policy | 2 steps"]
    if "episode_energy" in episodes:
        e = np.asarray(episodes["episode_energy"])
        low = e <= np.median(e)
        ok, score = np.asarray(episodes["episode_success"], float), np.asarray(episodes["episode_max_score"])
        rows += ["", "Episodes split at the median of their mean chunk energy (EBT, 2 steps): "
                 f"low-energy half success {ok[low].mean():.2f}, mean score {score[low].mean():.3f}; "
                 f"high-energy half success {ok[~low].mean():.2f}, mean score {score[~low].mean():.3f}."]
    params = ", ".join(f"{k} {v:.2f} M" for k, v in r["params_M"].items())
    return "\n".join(rows) + (
        f"\n\nParameters: {params}. Success: 50 held-out episodes per row (seeds from 1,000,000), EMA weights. "
        "Latency: batch 1, interleaved after warm-up. Run directories under `outputs/benchmark/runs/` (not committed)."
    )

