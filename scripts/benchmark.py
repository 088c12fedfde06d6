"""Measure robopolicy and write the figures (JSON + a markdown table headed by this command) under docs/benchmarks/.

    python scripts/benchmark.py env        # Push-T: env steps/s, render fps, expert success over 100 seeds, demo collection time
    python scripts/benchmark.py diffusion  # Diffusion Policy: chunk latency (DDPM-100 vs DDIM-10) and training samples/s per backbone
    python scripts/benchmark.py default_run  # the README's main job from scratch: wall time, success rate, mean score
    python scripts/benchmark.py streaming  # Streaming DP vs Diffusion Policy: success, network calls and latency per step
    python scripts/benchmark.py ebt        # EBT-Policy vs Diffusion Policy: success, latency, energy as uncertainty

Figures are printed and written to docs/benchmarks/<suite>.json and docs/benchmarks/<suite>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
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


def _steps_per_second(env_kwargs: dict[str, Any], steps: int) -> float:
    from robopolicy.envs import make_env

    env = make_env({**PUSHT, "env_kwargs": env_kwargs})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.15, 0.15, size=(steps, 2))
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def _render_fps(frames: int) -> float:
    from robopolicy.envs import make_env

    env = make_env(PUSHT)
    env.reset(seed=0)
    env.render()  # first call creates the GL context
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    return frames / (time.perf_counter() - start)


def _expert_success(num_seeds: int) -> dict[str, float]:
    from robopolicy.data.collect import rollout_expert
    from robopolicy.envs import make_env
    from robopolicy.envs.experts import make_expert

    env = make_env(PUSHT)
    episodes = [rollout_expert(env, make_expert(PUSHT["env_name"], env, np.random.default_rng(s)), s) for s in range(num_seeds)]
    return {
        "seeds": f"0..{num_seeds - 1}",
        "success_rate": float(np.mean([e.success for e in episodes])),
        "mean_max_coverage": float(np.mean([e.max_score for e in episodes])),
        "mean_steps": float(np.mean([len(e.actions) for e in episodes])),
        "seconds_per_episode": float(np.mean([e.seconds for e in episodes])),
    }


def _collection(num_demos: int, workers: int, output: Path) -> dict[str, float]:
    from robopolicy.data.collect import collect_demos

    report = collect_demos(PUSHT, output, num_demos, workers=workers)
    output.unlink(missing_ok=True)
    return {"demos": num_demos, "workers": workers, "seconds": report.seconds, "success_rate": report.success_rate,
            "attempts": report.attempts}


def env_suite(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results["env_steps_per_s_state"] = _steps_per_second({}, args.steps)
    results["env_steps_per_s_image96"] = _steps_per_second({"image_obs": True}, args.steps // 4)
    results["render_fps_256"] = _render_fps(200)
    print("speed:", json.dumps(results))
    results["expert"] = _expert_success(args.seeds)
    print("expert:", json.dumps(results["expert"]))
    results["collection"] = _collection(args.demos, args.workers, ROOT / "outputs" / "benchmark_demos.hdf5")
    print("collection:", json.dumps(results["collection"]))
    return results


def env_table(r: dict[str, Any]) -> str:
    e, c = r["expert"], r["collection"]
    return "\n".join([
        "| figure | value |",
        "|---|---|",
        f"| env steps/s, state obs (10 Hz control step = 50 physics steps) | {r['env_steps_per_s_state']:.0f} |",
        f"| env steps/s, with 96x96 overhead image | {r['env_steps_per_s_image96']:.0f} |",
        f"| render() fps, 256x256 | {r['render_fps_256']:.0f} |",
        f"| expert success, seeds {e['seeds']} | {e['success_rate']:.2f} (mean max coverage {e['mean_max_coverage']:.3f}) |",
        f"| expert steps per episode (mean) | {e['mean_steps']:.1f} |",
        f"| expert seconds per episode, 1 process | {e['seconds_per_episode']:.2f} |",
        f"| collect {c['demos']} demos, {c['workers']} workers | {c['seconds']:.0f} s ({c['attempts']} attempts, success {c['success_rate']:.2f}) |",
    ])


BACKBONES = {  # the default run's backbone (conf/policy/diffusion.yaml) and the paper's U-Net
    "mlp (default)": {"backbone": "mlp"},
    "unet 256-512-1024 (paper)": {"backbone": "unet", "down_dims": [256, 512, 1024]},
}
SAMPLERS = {"DDPM-100": {"sampler": "ddpm", "num_inference_steps": 100}, "DDIM-10": {"sampler": "ddim", "num_inference_steps": 10}}


def _pusht_policy(backbone: dict[str, Any]):
    """A Diffusion Policy with the default config and Push-T state shapes (weights random: speed only)."""
    import torch
    import yaml

    from robopolicy.core import Normalizer, ObsSpec, ShapeMeta
    from robopolicy.policies.diffusion import DiffusionPolicy
    from robopolicy.workflows import split_policy_config

    _, spec, params = split_policy_config(yaml.safe_load((ROOT / "conf" / "policy" / "diffusion.yaml").read_text()))
    meta = ShapeMeta({"agent_pos": ObsSpec((2,)), "object": ObsSpec((4,))}, action_dim=2)
    rng = np.random.default_rng(0)
    normalizer = Normalizer.fit(meta, {"agent_pos": rng.normal(size=(64, 2)), "object": rng.normal(size=(64, 4)),
                                       "action": rng.normal(size=(64, 2))})
    torch.manual_seed(0)
    return DiffusionPolicy(meta, spec, normalizer, {**params, **backbone}), spec


def _obs(spec, batch: int):
    import torch

    return {"agent_pos": torch.randn(batch, spec.obs_horizon, 2), "object": torch.randn(batch, spec.obs_horizon, 4)}


def diffusion_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Latency per chunk at batch 1 (interleaved across backbones and samplers) and training samples/s."""
    import torch

    policies = {name: _pusht_policy(cfg) for name, cfg in BACKBONES.items()}
    results: dict[str, Any] = {"params_M": {n: p.num_parameters() / 1e6 for n, (p, _) in policies.items()}, "latency": {}, "train": {}}
    cells = [(b, s) for b in policies for s in SAMPLERS]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    for policy, spec in policies.values():
        policy.eval()
    with torch.no_grad():
        for rep in range(args.calls + args.warmup):  # A B A B ...: every cell sees the same machine load
            for backbone, sampler in cells:
                if sum(times[(backbone, sampler)]) > args.cell_seconds:
                    continue  # slow cells stop early; the table reports how many calls each cell got
                policy, spec = policies[backbone]
                policy.configure_inference(**SAMPLERS[sampler])
                obs = _obs(spec, 1)
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
    for backbone, (policy, spec) in policies.items():
        policy.train()
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
        batch = {"obs": _obs(spec, args.batch), "action": torch.randn(args.batch, spec.pred_horizon, 2)}
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


# Training runs the family suites share, by directory name under outputs/benchmark/runs/: (label, overrides).
RUNS = {
    "diffusion": ("Diffusion Policy", ["policy=diffusion"]),
    "streaming": ("Streaming DP (mixed levels)", ["policy=streaming"]),
    "streaming_chunkwise": ("Streaming DP (chunk-wise levels only)", ["policy=streaming", "policy.constant_level_prob=0"]),
    # Second-order training is ~20x dearer per sample than DP's: a small batch with a higher learning rate,
    # and one thread so that it can share the 2 cores with another run.
    "ebt": ("EBT-Policy", ["policy=ebt", "training.batch_size=32", "training.lr=1e-3", "training.warmup_steps=200",
                           "training.num_threads=1"]),
}


def _train_once(name: str, overrides: list[str], run_dir: Path) -> dict[str, Any]:
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


def streaming_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Train DP, SDP and the chunk-wise-only ablation; then time their checkpoints per control step, interleaved."""
    import torch

    from robopolicy.core import load_policy

    runs = {RUNS[slug][0]: _train_once(*RUNS[slug], ROOT / "outputs" / "benchmark" / "runs" / slug)
            for slug in ("diffusion", "streaming", "streaming_chunkwise")}
    dp_name, sdp_name = RUNS["diffusion"][0], RUNS["streaming"][0]
    policies = {name: load_policy(ROOT / runs[name]["run_dir"] / "checkpoints" / "last").eval() for name in (dp_name, sdp_name)}
    samplers = {"DDIM-10": {"sampler": "ddim", "num_inference_steps": 10}, "DDPM-100": {"sampler": "ddpm", "num_inference_steps": 100}}
    cells = [(p, s) for s in samplers for p in policies]
    times: dict[tuple[str, str], list[float]] = {c: [] for c in cells}
    nfe: dict[tuple[str, str], float] = {}
    obs = _obs(next(iter(policies.values())).chunk_spec, 1)
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


def _evaluate_once(run: dict[str, Any], tag: str, inference: dict[str, Any]) -> dict[str, Any]:
    """eval.json of the run's last checkpoint under ``inference`` options (50 held-out episodes), cached by tag."""
    from robopolicy.workflows import evaluate_checkpoint

    out = ROOT / run["run_dir"] / "eval" / f"benchmark_{tag}"
    if not (out / "eval.json").exists():
        evaluate_checkpoint(ROOT / run["run_dir"] / "checkpoints" / "last", output_dir=out, inference=inference, video_episodes=0)
    return json.loads((out / "eval.json").read_text())


def _auroc(inliers: np.ndarray, outliers: np.ndarray) -> float:
    """P(outlier score > inlier score), ties counting half: the area under the ROC curve."""
    diff = outliers[:, None] - inliers[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def _energy_separation(policy, dataset: str, obs_keys: list[str], count: int = 500) -> dict[str, Any]:
    """Final energy on held-out demo windows vs the same windows perturbed off the demonstrated states."""
    import torch

    from robopolicy.data import SequenceDataset, load_demos

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


def ebt_suite(args: argparse.Namespace) -> dict[str, Any]:
    """Train (or reuse) DP and EBT; success at matched step counts; latency; energy as uncertainty."""
    import torch

    from robopolicy.core import load_policy, read_checkpoint

    runs_root = ROOT / "outputs" / "benchmark" / "runs"
    dp, ebt = (_train_once(*RUNS[slug], runs_root / slug) for slug in ("diffusion", "ebt"))
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
        result = _evaluate_once(run, tag, inference)
        success[cell] = {k: result[k] for k in ("success_rate", "mean_score", "num_episodes", "seed_start", "nfe")}
        if "energy" in result.get("episode_info", {}):
            success[cell]["episode_energy"] = result["episode_info"]["energy"]
            success[cell]["episode_success"], success[cell]["episode_max_score"] = result["episode_success"], result["episode_max_score"]
    print("success:", json.dumps({k: (v["success_rate"], v["mean_score"]) for k, v in success.items()}))

    policies = {slug: load_policy(ROOT / run["run_dir"] / "checkpoints" / "last").eval() for slug, run in (("dp", dp), ("ebt", ebt))}
    cells = {cell: (policies["dp" if run is dp else "ebt"], inference) for cell, (run, _, inference) in settings.items()
             if cell.split(" | ")[1] in ("DDPM-100", "DDIM-10", "2 steps", "4 steps")}
    times: dict[str, list[float]] = {c: [] for c in cells}
    obs = _obs(policies["dp"].chunk_spec, 1)
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

    config = read_checkpoint(ROOT / ebt["run_dir"] / "checkpoints" / "last").config
    policies["ebt"].configure_inference(inference_steps=2)
    separation = _energy_separation(policies["ebt"], config["dataset"], list(config["task"]["obs_keys"]))
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
    energy = r["energy"]
    rows += ["", f"Energy as uncertainty ({energy['windows']} held-out demo windows, final energy after 2 descent steps from fixed noise):", "",
             "| observations | mean final energy | AUROC vs held-out |", "|---|---|---|"]
    for name, mean in energy["mean_energy"].items():
        auroc = energy["auroc"].get(name)
        rows.append(f"| {name} | {mean:.3f} | {'-' if auroc is None else f'{auroc:.3f}'} |")
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


SUITES = {
    "env": (env_suite, env_table),
    "diffusion": (diffusion_suite, diffusion_table),
    "default_run": (default_run_suite, default_run_table),
    "streaming": (streaming_suite, streaming_table),
    "ebt": (ebt_suite, ebt_table),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--steps", type=int, default=4000, help="env steps timed (state obs; a quarter with images)")
    parser.add_argument("--seeds", type=int, default=100, help="initial-state seeds for the expert success rate")
    parser.add_argument("--demos", type=int, default=200, help="demos for the collection timing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=100, help="timed predict_chunk calls per latency cell")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cell-seconds", type=float, default=90.0, help="stop timing a latency cell after this many seconds")
    parser.add_argument("--batch", type=int, default=256, help="training batch size for samples/s")
    parser.add_argument("--train-steps", type=int, default=10, help="timed training steps per backbone")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    run, table = SUITES[args.suite]
    header = machine()
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.suite}.json").write_text(json.dumps({"machine": header, "results": results}, indent=2) + "\n")
    text = (
        f"`{header['command']}`\n\ncommit {header['commit']}, {header['date']}, {header['cpu']} "
        f"({header['cores']} cores, torch threads {header['torch_threads']}, GPU: {header['gpu'] or 'none'})\n\n"
        + table(results) + "\n"
    )
    (args.out / f"{args.suite}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
