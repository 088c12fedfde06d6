"""Evaluate a policy and write ``eval.json`` (+ an mp4 of the first episodes) into an output directory; or evaluate
the same episodes under several seeds of the policy's sampling noise and write how far the figures spread."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robopolicy.core import Policy
from robopolicy.evaluation.rollout import EVAL_SEED_START, EvalResult, evaluate_policy


def describe_policy(policy: Policy, source: Mapping[str, Any] | None) -> dict[str, Any]:
    """What an evaluation file says was evaluated: the family, where the policy came from (e.g. its checkpoint and
    weights), its hyper-parameters as evaluated (inference options applied) and its chunk spec (the executed Ta)."""
    return {"family": policy.family, "source": dict(source or {}), "policy_config": dict(policy.config),
            "chunk_spec": policy.chunk_spec.to_dict()}


def evaluate_to_dir(policy: Policy, env_args: Mapping[str, Any], output_dir: str | Path, *, num_episodes: int = 50,
                    num_envs: int = 50, video_episodes: int = 4, seed_start: int = EVAL_SEED_START,
                    noise_seed: int = 0, progress: bool = True, source: Mapping[str, Any] | None = None) -> EvalResult:
    """Run ``evaluate_policy`` and write ``<output_dir>/eval.json`` (with ``describe_policy``'s header) and
    ``<output_dir>/episodes.mp4``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = evaluate_policy(
        policy, env_args, num_episodes=num_episodes, num_envs=num_envs, seed_start=seed_start,
        video_path=output_dir / "episodes.mp4" if video_episodes > 0 else None, video_episodes=video_episodes,
        noise_seed=noise_seed, progress=progress,
    )
    (output_dir / "eval.json").write_text(json.dumps({**describe_policy(policy, source), **asdict(result)}, indent=2))
    return result


@dataclass
class NoiseSeedSpread:
    """One policy on the same episodes under several noise seeds: what a figure owes to the sampler's draw.

    ``success_rate`` and ``mean_score`` hold one value per noise seed; ``success_rate_sem`` is the standard error of
    their mean over the seeds (0 with one seed). ``always_succeed`` / ``never_succeed``: the share of episodes that
    succeed under every seed / under none. Independent draws with success p give p**n and (1 - p)**n; far more than
    that means the starting states, not the sampler, decide which episodes fail."""

    noise_seeds: list[int]
    num_episodes: int
    seed_start: int
    success_rate: list[float]
    mean_score: list[float]
    success_rate_mean: float
    success_rate_sem: float
    mean_score_mean: float
    always_succeed: float
    never_succeed: float

    def summary(self) -> str:
        each = " / ".join(f"{r:.3f}" for r in self.success_rate)
        return (
            f"success_rate {self.success_rate_mean:.3f} +- {self.success_rate_sem:.3f} (standard error) over noise "
            f"seeds {self.noise_seeds} ({each})  mean_score {self.mean_score_mean:.3f}  ({self.num_episodes} episodes, seeds "
            f"{self.seed_start}..{self.seed_start + self.num_episodes - 1}; {self.always_succeed:.3f} succeed under "
            f"every noise seed, {self.never_succeed:.3f} under none)"
        )


def noise_seed_spread(results: Sequence[EvalResult]) -> NoiseSeedSpread:
    """Summarize evaluations of the same episodes that differ only in their noise seed."""
    if not results:
        raise ValueError("noise_seed_spread needs at least one evaluation")
    episodes = {(r.num_episodes, r.seed_start) for r in results}
    if len(episodes) != 1:
        raise ValueError(f"the evaluations ran different episodes (num_episodes, seed_start): {sorted(episodes)}")
    success = np.array([r.episode_success for r in results], dtype=bool)  # (seeds, episodes)
    rates = success.mean(axis=1)
    sem = float(rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else 0.0
    return NoiseSeedSpread(
        noise_seeds=[r.noise_seed for r in results], num_episodes=results[0].num_episodes,
        seed_start=results[0].seed_start, success_rate=rates.tolist(), mean_score=[r.mean_score for r in results],
        success_rate_mean=float(rates.mean()), success_rate_sem=sem,
        mean_score_mean=float(np.mean([r.mean_score for r in results])),
        always_succeed=float(success.all(axis=0).mean()), never_succeed=float((~success).all(axis=0).mean()),
    )


def evaluate_over_noise_seeds(policy: Policy, env_args: Mapping[str, Any], output_dir: str | Path,
                              noise_seeds: Sequence[int], *, num_episodes: int = 50, num_envs: int = 50,
                              video_episodes: int = 4, seed_start: int = EVAL_SEED_START,
                              progress: bool = True, source: Mapping[str, Any] | None = None) -> NoiseSeedSpread:
    """``evaluate_to_dir`` once per noise seed into ``<output_dir>/noise_seed_<n>/``, then their spread into
    ``<output_dir>/noise_seeds.json``."""
    noise_seeds = [int(n) for n in noise_seeds]
    if not noise_seeds or len(set(noise_seeds)) != len(noise_seeds):
        raise ValueError(f"noise seeds must be a non-empty list without repeats, got {noise_seeds}")
    output_dir = Path(output_dir)
    results = [
        evaluate_to_dir(policy, env_args, output_dir / f"noise_seed_{n}", num_episodes=num_episodes, num_envs=num_envs,
                        video_episodes=video_episodes, seed_start=seed_start, noise_seed=n, progress=progress,
                        source=source)
        for n in noise_seeds
    ]
    spread = noise_seed_spread(results)
    written = {**describe_policy(policy, source), **asdict(spread)}
    (output_dir / "noise_seeds.json").write_text(json.dumps(written, indent=2))
    return spread
