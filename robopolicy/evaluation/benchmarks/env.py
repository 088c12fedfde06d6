"""Push-T: env steps/s, render fps, expert success, demo collection time."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from robopolicy.evaluation.benchmarks.common import PUSHT, ROOT


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

