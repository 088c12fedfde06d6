"""Closed-loop evaluation: episodes in parallel over a gymnasium vector env, one PolicyRunner for the batch."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from robopolicy.core import Policy, PolicyRunner
from robopolicy.envs import EVAL_SEED_START, make_env
from robopolicy.envs.video import write_video


@dataclass
class EvalResult:
    """Aggregate metrics (what eval.json holds) plus per-episode records."""

    success_rate: float
    mean_score: float
    num_episodes: int
    latency_ms_median: float
    latency_ms_p95: float
    nfe: float
    batch_size: int
    seed_start: int
    noise_seed: int = 0  # seeds the policy's sampling noise (the episodes' seeds are seed_start..)
    episode_success: list[bool] = field(default_factory=list)
    episode_max_score: list[float] = field(default_factory=list)
    episode_length: list[int] = field(default_factory=list)
    # Per-episode means of the per-environment values a family reports in Chunk.info (e.g. EBT's
    # "energy"), averaged over the chunks predicted while the episode ran: {name: [value per episode]}.
    episode_info: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    video: str | None = None

    def summary(self) -> str:
        return (
            f"success_rate {self.success_rate:.3f}  mean_score {self.mean_score:.3f}  ({self.num_episodes} episodes, "
            f"seeds {self.seed_start}..{self.seed_start + self.num_episodes - 1})  latency per chunk "
            f"{self.latency_ms_median:.1f} ms median / {self.latency_ms_p95:.1f} ms p95 at batch {self.batch_size}  "
            f"nfe {self.nfe:g}  [{self.seconds:.0f} s]"
        )

    def metrics(self) -> dict[str, float]:
        """The scalar metrics, for logging."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def evaluate_policy(
    policy: Policy,
    env_args: Mapping[str, Any],
    *,
    num_episodes: int = 50,
    num_envs: int = 50,
    seed_start: int = EVAL_SEED_START,
    video_path: str | Path | None = None,
    video_episodes: int = 4,
    noise_seed: int = 0,
    progress: bool = True,
    env_overrides: Mapping[str, Any] | None = None,
) -> EvalResult:
    """Run ``num_episodes`` episodes from seeds seed_start.. in batches of ``num_envs`` lock-stepped envs.

    An episode's success is whether it reached the task's success at any step (the env terminates on
    success); its score is the maximum task score over the episode (Push-T: max coverage).
    With ``video_path`` the first ``video_episodes`` episodes are rendered side by side into one mp4.
    """
    start = time.perf_counter()
    policy.eval()
    successes: list[bool] = []
    scores: list[float] = []
    lengths: list[int] = []
    episode_info: dict[str, list[float]] = {}
    frames: list[np.ndarray] = []
    latencies: list[float] = []
    nfes: list[float] = []
    generator = torch.Generator(device=policy.device).manual_seed(noise_seed)
    bar = tqdm(total=num_episodes, desc="eval", unit="episode", disable=not progress, dynamic_ncols=True)
    for batch_start in range(0, num_episodes, num_envs):
        n = min(num_envs, num_episodes - batch_start)
        envs = gym.vector.SyncVectorEnv([lambda: make_env(env_args, **(env_overrides or {})) for _ in range(n)])
        record = [i for i in range(n) if video_path is not None and batch_start + i < video_episodes]
        runner = PolicyRunner(policy, generator=generator)
        result = _run_batch(envs, runner, seed_start + batch_start, record, frames)
        envs.close()
        successes += result[0]
        scores += result[1]
        lengths += result[2]
        for name, values in result[3].items():
            episode_info.setdefault(name, []).extend(values)
        latencies += runner.stats.latencies
        nfes += runner.stats.nfe
        bar.update(n)
        bar.set_postfix(success_rate=f"{np.mean(successes):.2f}")
    bar.close()
    video = None
    if frames:
        video = str(write_video(video_path, frames))
    lat_ms = np.asarray(latencies) * 1000.0
    return EvalResult(
        success_rate=float(np.mean(successes)),
        mean_score=float(np.mean(scores)),
        num_episodes=num_episodes,
        latency_ms_median=float(np.median(lat_ms)),
        latency_ms_p95=float(np.percentile(lat_ms, 95)),
        nfe=float(np.nanmean(nfes)) if nfes else float("nan"),
        batch_size=min(num_envs, num_episodes),
        seed_start=seed_start,
        noise_seed=noise_seed,
        episode_success=successes,
        episode_max_score=scores,
        episode_length=lengths,
        episode_info=episode_info,
        seconds=time.perf_counter() - start,
        video=video,
    )


def _run_batch(envs: gym.vector.SyncVectorEnv, runner: PolicyRunner, seed: int, record: list[int],
               frames: list[np.ndarray]) -> tuple[list[bool], list[float], list[int], dict[str, list[float]]]:
    """One episode in each env of ``envs``; envs that finish keep stepping (their results are frozen)."""
    n = envs.num_envs
    obs, info = envs.reset(seed=[seed + i for i in range(n)])
    success = np.zeros(n, dtype=bool)
    max_score = np.asarray(info["score"], dtype=np.float64).copy()
    length = np.zeros(n, dtype=int)
    done = np.zeros(n, dtype=bool)
    info_sums: dict[str, np.ndarray] = {}
    chunks = np.zeros(n)
    while not done.all():
        if record:
            frames.append(_tile([envs.envs[i].render() if not done[i] else _last_frame(frames, i, len(record)) for i in record]))
        predicted = len(runner.stats.latencies)
        action = runner.act(obs)
        if len(runner.stats.latencies) > predicted:  # a new chunk: collect its per-environment info
            active = ~done
            chunks[active] += 1
            for name, value in runner.last_chunk.info.items():
                if isinstance(value, torch.Tensor) and value.shape == (n,):
                    sums = info_sums.setdefault(name, np.zeros(n))
                    sums[active] += value.detach().cpu().numpy()[active]
        obs, _, terminated, truncated, info = envs.step(action)
        active = ~done
        max_score[active] = np.maximum(max_score[active], info["score"][active])
        success[active] |= info["success"][active]
        length[active] += 1
        done |= terminated | truncated
    means = {name: (sums / np.maximum(chunks, 1)).tolist() for name, sums in info_sums.items()}
    return success.tolist(), max_score.tolist(), length.tolist(), means


def _tile(images: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(images, axis=1)


def _last_frame(frames: list[np.ndarray], index: int, count: int) -> np.ndarray:
    """The last rendered tile of a finished episode, so its panel freezes instead of showing the reset."""
    width = frames[-1].shape[1] // count
    return frames[-1][:, index * width : (index + 1) * width]
