"""Collect scripted-expert demonstrations into a robomimic-format dataset, in parallel over processes.

Episodes are run for consecutive initial-state seeds starting at ``seed_start``; results come back in
seed order, so the dataset depends only on (env_args, seed_start, num_demos), not on the worker count.
Only successful episodes are written; the report gives the expert's success rate over all attempts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from robopolicy.data.writer import RobomimicWriter
from robopolicy.envs import EVAL_SEED_START, make_env
from robopolicy.envs.experts import make_expert
from robopolicy.envs.video import write_video


@dataclass
class Episode:
    """One expert rollout. obs[key], next_obs[key]: (T, ...); actions (T, Da); rewards, dones (T,); states (T, S)."""

    seed: int
    obs: dict[str, np.ndarray]
    next_obs: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    states: np.ndarray
    success: bool
    max_score: float
    seconds: float
    frames: list[np.ndarray] = field(default_factory=list)


@dataclass
class CollectionReport:
    attempts: int
    successes: int
    demos_written: int
    env_steps: int
    seconds: float
    output: Path
    video: Path | None = None

    @property
    def success_rate(self) -> float:
        return self.successes / max(1, self.attempts)

    def summary(self) -> str:
        text = (
            f"expert success rate {self.success_rate:.3f} ({self.successes}/{self.attempts} episodes); "
            f"wrote {self.demos_written} demos ({self.env_steps} steps) to {self.output} in {self.seconds:.1f} s"
        )
        return text + (f"; video {self.video}" if self.video else "")


def rollout_expert(env: Any, expert: Any, seed: int, render: bool = False, action_noise: float = 0.0) -> Episode:
    """Run one episode of ``expert`` from ``env.reset(seed=seed)`` until termination or truncation.

    ``action_noise`` > 0 (DART, Laskey et al. 2017): the env executes the expert's action plus Gaussian
    noise of that standard deviation (seeded by ``seed``) while the episode records the expert's own
    action, so the demonstrations visit the states a slightly imprecise learner reaches and show how the
    expert recovers from them. ``states`` and observations are those actually visited.
    """
    noise_rng = np.random.default_rng([seed, 0xDA27])
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    expert.reset()
    observations, next_observations, actions, rewards, dones, states, frames = [], [], [], [], [], [], []
    max_score, done = float(info["score"]), False
    while not done:
        if render:
            frames.append(env.render())
        states.append(env.get_state())
        action = np.asarray(expert.act(obs), dtype=np.float64)
        observations.append(obs)
        executed = action + noise_rng.normal(0.0, action_noise, action.shape) if action_noise > 0 else action
        obs, reward, terminated, truncated, info = env.step(executed)
        next_observations.append(obs)
        actions.append(action)
        rewards.append(reward)
        done = terminated or truncated
        dones.append(float(terminated))
        max_score = max(max_score, float(info["score"]))
    if render:
        frames.append(env.render())
    return Episode(
        seed=seed,
        obs=_stack(observations),
        next_obs=_stack(next_observations),
        actions=np.stack(actions),
        rewards=np.asarray(rewards),
        dones=np.asarray(dones),
        states=np.stack(states),
        success=bool(info["success"]),
        max_score=max_score,
        seconds=time.perf_counter() - start,
        frames=frames,
    )


def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([o[k] for o in observations]) for k in observations[0]}


_worker: dict[str, Any] = {}


def _init_worker(env_args: Mapping[str, Any]) -> None:
    # Workers share 2 cores with each other: one thread each keeps them from thrashing.
    os.environ["OMP_NUM_THREADS"] = "1"
    env = make_env(env_args)
    _worker["env"] = env
    _worker["make_expert"] = lambda seed: make_expert(env_args["env_name"], env, np.random.default_rng(seed))


def _run(job: tuple[int, bool, float]) -> Episode:
    seed, render, action_noise = job
    # An expert with randomness of its own gets it seeded per episode, so datasets stay reproducible.
    return rollout_expert(_worker["env"], _worker["make_expert"](seed), seed, render, action_noise)


def collect_demos(
    env_args: Mapping[str, Any],
    output: str | Path,
    num_demos: int,
    *,
    seed_start: int = 0,
    workers: int = 2,
    max_attempts: int | None = None,
    video_path: str | Path | None = None,
    video_episodes: int = 4,
    video_fps: int = 10,
    progress: bool = True,
    action_noise: float = 0.0,
) -> CollectionReport:
    """Write ``num_demos`` successful expert episodes to ``output`` (robomimic HDF5).

    Attempts seeds seed_start, seed_start+1, ... until enough episodes succeed or ``max_attempts``
    (default 3 * num_demos) is reached, in which case it raises with the success rate it saw.
    With ``video_path`` the first ``video_episodes`` attempts are rendered into one mp4.
    ``action_noise``: DART noise on the executed actions (see ``rollout_expert``).
    """
    if num_demos < 1:
        raise ValueError(f"num_demos must be positive, got {num_demos}")
    if seed_start + 3 * num_demos >= EVAL_SEED_START:
        raise ValueError(f"demo seeds must stay below the evaluation seeds ({EVAL_SEED_START}); lower seed_start")
    max_attempts = max_attempts or 3 * num_demos
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if action_noise < 0:
        raise ValueError(f"action_noise must be a non-negative standard deviation, got {action_noise}")
    jobs = ((seed_start + i, video_path is not None and i < video_episodes, action_noise) for i in range(max_attempts))
    start = time.perf_counter()
    attempts = successes = steps = 0
    frames: list[np.ndarray] = []
    ctx = mp.get_context("spawn")  # a fresh process per worker: no inherited GL contexts or thread pools
    bar = tqdm(total=num_demos, desc=f"collecting {env_args['env_name']}", unit="demo", disable=not progress)
    with RobomimicWriter(output, dict(env_args)) as writer, ctx.Pool(workers, _init_worker, (dict(env_args),)) as pool:
        for episode in pool.imap(_run, jobs):
            attempts += 1
            frames.extend(episode.frames)
            if episode.success:
                successes += 1
                steps += len(episode.actions)
                writer.add_demo(
                    episode.obs, episode.actions, rewards=episode.rewards, dones=episode.dones,
                    states=episode.states, next_obs=episode.next_obs, attrs={"seed": episode.seed},
                )
                bar.update(1)
            bar.set_postfix(success_rate=f"{successes / attempts:.2f}")
            if successes == num_demos:
                pool.terminate()
                break
        else:
            raise RuntimeError(
                f"the expert succeeded on only {successes} of {attempts} episodes ({successes / attempts:.2f}); "
                f"{num_demos} demos were asked for. Nothing was written to {output}."
            )
    bar.close()
    video = None
    if video_path is not None and frames:
        video = write_video(video_path, frames, fps=video_fps)
    return CollectionReport(attempts, successes, successes, steps, time.perf_counter() - start, output, video)

