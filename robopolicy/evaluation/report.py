"""Evaluate a policy and write ``eval.json`` (+ an mp4 of the first episodes) into an output directory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from robopolicy.core import Policy
from robopolicy.evaluation.rollout import EVAL_SEED_START, EvalResult, evaluate_policy


def evaluate_to_dir(policy: Policy, env_args: Mapping[str, Any], output_dir: str | Path, *, num_episodes: int = 50,
                    num_envs: int = 50, video_episodes: int = 4, seed_start: int = EVAL_SEED_START,
                    noise_seed: int = 0, progress: bool = True) -> EvalResult:
    """Run ``evaluate_policy`` and write ``<output_dir>/eval.json`` and ``<output_dir>/episodes.mp4``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = evaluate_policy(
        policy, env_args, num_episodes=num_episodes, num_envs=num_envs, seed_start=seed_start,
        video_path=output_dir / "episodes.mp4" if video_episodes > 0 else None, video_episodes=video_episodes,
        noise_seed=noise_seed, progress=progress,
    )
    (output_dir / "eval.json").write_text(json.dumps({"family": policy.family, **asdict(result)}, indent=2))
    return result
