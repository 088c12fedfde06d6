"""The jobs behind scripts/: collect demonstrations, train a policy end to end, evaluate a checkpoint.

Each takes a plain config dict (what Hydra composed, resolved) so that scripts stay one call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from robopolicy.core import ChunkSpec, Normalizer, Policy, build_policy, policy_from_checkpoint, read_checkpoint
from robopolicy.core.config import dataclass_from_dict
from robopolicy.data import SequenceDataset, load_demos, read_env_args, shape_meta_from_file
from robopolicy.data.collect import CollectionReport, collect_demos
from robopolicy.envs import SEED_STARTS
from robopolicy.evaluation import (
    EvalResult, NoiseSeedSpread, describe_policy, evaluate_over_noise_seeds, evaluate_to_dir,
)
from robopolicy.evaluation.chunk_fit import ChunkFit, chunk_fit
from robopolicy.training import MetricsLogger, TrainConfig, Trainer, TrainResult, seed_everything

CHUNK_KEYS = ("obs_horizon", "pred_horizon", "action_horizon")


def collect(task: Mapping[str, Any], *, output: str | Path | None = None, num_episodes: int | None = None,
            image_obs: bool | None = None, workers: int = 2, seed_start: int = 0, video: bool = True,
            video_episodes: int = 4) -> CollectionReport:
    """Collect the task's scripted-expert dataset (defaults from the task config)."""
    env_args = {**task["env_args"], "env_kwargs": dict(task["env_args"].get("env_kwargs") or {})}
    if image_obs is not None:
        env_args["env_kwargs"]["image_obs"] = bool(image_obs)
    output = Path(output or task["dataset"])
    return collect_demos(
        env_args, output, int(num_episodes or task["num_demos"]), seed_start=seed_start, workers=workers,
        video_path=output.with_suffix(".mp4") if video else None, video_episodes=video_episodes,
        action_noise=float(task.get("expert_action_noise", 0.0)),
    )


def ensure_dataset(task: Mapping[str, Any], workers: int = 2) -> Path:
    """The task's dataset path, generating it with the scripted expert first if it does not exist."""
    path = Path(task["dataset"])
    if not path.exists():
        print(f"{path} not found: generating {task['num_demos']} demonstrations with the scripted expert")
        print(collect(task, workers=workers).summary())
    return path


def split_policy_config(policy: Mapping[str, Any]) -> tuple[str, ChunkSpec, dict[str, Any]]:
    """conf/policy/<family>.yaml -> (family name, chunk spec, family hyper-parameters)."""
    params = dict(policy)
    name = params.pop("name")
    spec = ChunkSpec(**{k: int(params.pop(k)) for k in CHUNK_KEYS})
    return name, spec, params


def train(cfg: Mapping[str, Any], run_dir: str | Path) -> tuple[TrainResult, EvalResult | None]:
    """Dataset (generated if missing) -> normalizer -> policy -> Trainer with periodic/final evaluation."""
    run_dir = Path(run_dir)
    task, eval_cfg = cfg["task"], cfg["eval"]
    dataset_path = ensure_dataset(task, cfg.get("collect", {}).get("workers", 2))
    obs_keys = list(task["obs_keys"])
    shape_meta = shape_meta_from_file(dataset_path, obs_keys)
    name, chunk_spec, params = split_policy_config(cfg["policy"])
    data = SequenceDataset(load_demos(dataset_path, obs_keys=obs_keys, filter_key=task.get("train_filter", "train")), chunk_spec, obs_keys)
    train_cfg = dataclass_from_dict(TrainConfig, cfg["training"], "training")
    seed_everything(train_cfg.seed)  # the initial weights are part of what the training seed fixes
    policy = build_policy(
        {"policy": {"name": name, **params}, "shape_meta": shape_meta.to_dict(), "chunk_spec": chunk_spec.to_dict()},
        Normalizer.fit(shape_meta, data.stats_arrays()),
    )
    env_args = read_env_args(dataset_path)
    run_config = {**cfg, "env_args": env_args, "dataset": str(dataset_path)}
    final: dict[str, EvalResult] = {}

    def evaluate(ema_policy, step: int) -> dict[str, float]:
        result = evaluate_to_dir(
            ema_policy, env_args, run_dir / "eval" / f"step_{step:07d}", num_episodes=int(eval_cfg["num_episodes"]),
            num_envs=int(eval_cfg["num_envs"]), video_episodes=int(eval_cfg["video_episodes"]),
            source={"run_dir": str(run_dir), "step": step, "weights": "ema"},
        )
        final["last"] = result
        print(f"step {step}: {result.summary()}")
        return result.metrics()

    resume_id = None
    if cfg.get("resume"):
        resume_id = read_checkpoint(run_dir / "checkpoints" / "last", with_train_state=True).train_state.get("wandb_run_id")
    log_cfg = cfg.get("logging", {})
    logger = MetricsLogger(run_dir, mode=log_cfg.get("mode", "offline"), project=log_cfg.get("project", "robopolicy"),
                           name=log_cfg.get("name"), config=run_config, resume_id=resume_id)
    print(f"{name} policy: {policy.num_parameters() / 1e6:.2f} M parameters; {len(data)} training windows from {dataset_path}; run dir {run_dir}")
    try:
        trainer = Trainer(policy, data, train_cfg, run_dir, run_config=run_config,
                          evaluate=evaluate if int(eval_cfg["num_episodes"]) > 0 else None, logger=logger)
        result = trainer.fit(resume=bool(cfg.get("resume")))
    finally:
        logger.close()
    return result, final.get("last")


def _source(checkpoint: Path, weights: str) -> dict[str, str]:
    """Where an evaluated policy came from, as its evaluation files record it."""
    return {"checkpoint": str(checkpoint), "weights": weights}


def _load_for_evaluation(checkpoint: Path, weights: str, inference: Mapping[str, Any] | None,
                         action_horizon: int | None = None) -> tuple[dict[str, Any], Policy]:
    """A checkpoint's stored run config and its policy (no Hydra, no unpickling; the directory read once), with
    inference options applied and, when ``action_horizon`` is given, built to execute that many actions per chunk
    (see ``policy_from_checkpoint``)."""
    ckpt = read_checkpoint(checkpoint)
    policy = policy_from_checkpoint(ckpt, checkpoint, weights=weights, action_horizon=action_horizon)
    if inference:
        policy.configure_inference(**inference)
    return ckpt.config, policy


def _checkpoint_for_rollouts(checkpoint: Path, weights: str, inference: Mapping[str, Any] | None,
                             seeds: str, action_horizon: int | None) -> tuple[Policy, dict[str, Any], int]:
    """The policy, the env_args stored with it and the first episode seed of the named range."""
    if seeds not in SEED_STARTS:
        raise ValueError(f"seeds must be one of {sorted(SEED_STARTS)}, got {seeds!r}")
    config, policy = _load_for_evaluation(checkpoint, weights, inference, action_horizon)
    if "env_args" not in config:
        raise ValueError(f"{checkpoint}/config.yaml has no env_args: cannot tell which environment to evaluate in")
    return policy, config["env_args"], SEED_STARTS[seeds]


def evaluate_checkpoint(checkpoint: str | Path, *, num_episodes: int = 50, num_envs: int = 50, video_episodes: int = 4,
                        output_dir: str | Path | None = None, weights: str = "ema",
                        inference: Mapping[str, Any] | None = None, noise_seed: int = 0,
                        seeds: str = "evaluation", action_horizon: int | None = None) -> EvalResult:
    """Load a checkpoint (no Hydra, no unpickling), rebuild its env from the stored env_args, evaluate.

    ``noise_seed`` seeds the policy's sampling noise; the episodes' seeds are fixed, so two noise seeds measure how
    much a figure owes to the sampler's draw rather than to the policy. ``seeds``: "evaluation" (the reported
    episodes, from EVAL_SEED_START) or "validation" (a disjoint range to choose inference settings on).
    ``action_horizon``: execute that many actions of each chunk instead of the checkpoint's Ta."""
    checkpoint = Path(checkpoint)
    policy, env_args, seed_start = _checkpoint_for_rollouts(checkpoint, weights, inference, seeds, action_horizon)
    return evaluate_to_dir(policy, env_args, output_dir or checkpoint / "eval", num_episodes=num_episodes,
                           num_envs=num_envs, video_episodes=video_episodes, noise_seed=noise_seed,
                           seed_start=seed_start, source=_source(checkpoint, weights))


def evaluate_checkpoint_over_noise_seeds(checkpoint: str | Path, noise_seeds: Sequence[int], *, num_episodes: int = 50,
                                         num_envs: int = 50, video_episodes: int = 4,
                                         output_dir: str | Path | None = None, weights: str = "ema",
                                         inference: Mapping[str, Any] | None = None, seeds: str = "evaluation",
                                         action_horizon: int | None = None) -> NoiseSeedSpread:
    """``evaluate_checkpoint`` once per noise seed on the same episodes (``<output_dir>/noise_seed_<n>/``), and the
    spread of the figures over the seeds (``<output_dir>/noise_seeds.json``)."""
    checkpoint = Path(checkpoint)
    policy, env_args, seed_start = _checkpoint_for_rollouts(checkpoint, weights, inference, seeds, action_horizon)
    return evaluate_over_noise_seeds(policy, env_args, output_dir or checkpoint / "eval", noise_seeds,
                                     num_episodes=num_episodes, num_envs=num_envs, video_episodes=video_episodes,
                                     seed_start=seed_start, source=_source(checkpoint, weights))


def chunk_fit_checkpoint(checkpoint: str | Path, *, windows: int = 400, samples: int = 8, filter_key: str = "valid",
                         dataset: str | Path | None = None, output_dir: str | Path | None = None, weights: str = "ema",
                         inference: Mapping[str, Any] | None = None, action_horizon: int | None = None) -> ChunkFit:
    """Measure a checkpoint's open-loop chunk fit on the held-out demos of its dataset; write chunk_fit.json."""
    checkpoint = Path(checkpoint)
    config, policy = _load_for_evaluation(checkpoint, weights, inference, action_horizon)
    dataset = Path(dataset or config.get("dataset") or "")
    if not dataset.is_file():
        raise FileNotFoundError(
            f"chunk fit: dataset {str(dataset)!r} (from {checkpoint}/config.yaml unless given) not found; run from the "
            "directory the training ran in or pass chunk_fit.dataset=<hdf5>"
        )
    obs_keys = list(config["task"]["obs_keys"])
    data = SequenceDataset(load_demos(dataset, obs_keys=obs_keys, filter_key=filter_key), policy.chunk_spec, obs_keys)
    result = chunk_fit(policy, data, num_windows=windows, num_samples=samples)
    output_dir = Path(output_dir or checkpoint / "eval")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "chunk_fit.json").write_text(
        json.dumps({**describe_policy(policy, _source(checkpoint, weights)),
                    "dataset": str(dataset), "filter_key": filter_key, **asdict(result)}, indent=2))
    return result
