"""One trainer for every policy family: AdamW, warm-up + cosine, clipping, EMA, checkpoints, exact resume."""

from __future__ import annotations

import copy
import math
import random
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from robopolicy.core import Policy, read_checkpoint, save_checkpoint
from robopolicy.training.config import TrainConfig
from robopolicy.training.ema import EMA
from robopolicy.training.logger import MetricsLogger
from robopolicy.training.precision import autocast_dtype
from robopolicy.training.sampler import StepBatchSampler
from robopolicy.training.schedule import stage_schedule

EvalFn = Callable[[Policy, int], Mapping[str, float]]  # (policy with EMA weights, step) -> metrics


class BatchSource(Protocol):
    """What the trainer needs from a dataset: its size and a batch for given indices (raw units)."""

    def __len__(self) -> int: ...

    def get_batch(self, indices: torch.Tensor) -> dict[str, Any]: ...


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped without writing a checkpoint for that step."""


@dataclass
class TrainResult:
    step: int
    last_checkpoint: Path
    final_loss: float
    eval_metrics: dict[str, float]
    seconds: float


class Trainer:
    """Trains ``policy`` on ``dataset`` into ``run_dir`` (checkpoints/<step>/, checkpoints/last/, metrics.jsonl).

    Every randomness source the loop touches (torch, numpy and Python RNGs, batch order) is either
    saved in the checkpoint or a function of (seed, step), so ``fit(resume=True)`` after a kill
    continues exactly as an uninterrupted run would. Evaluation runs on the EMA weights under a forked
    RNG, so it does not perturb training.
    """

    def __init__(self, policy: Policy, dataset: BatchSource, cfg: TrainConfig, run_dir: str | Path, *,
                 run_config: Mapping[str, Any] | None = None, evaluate: EvalFn | None = None,
                 logger: MetricsLogger | None = None, progress: bool = True) -> None:
        self.policy = policy.to(cfg.device)
        self.dataset, self.cfg = dataset, cfg
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.run_config = dict(run_config or {})
        self.evaluate, self.logger, self.progress = evaluate, logger, progress
        policy.check_training_budget(cfg.num_steps)  # before the schedule: a stage window may depend on it
        groups = policy.parameter_groups(cfg.lr)
        windows = [(g.pop("first_step", 0), g.pop("last_step", None) or cfg.num_steps) for g in groups]
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, [stage_schedule(first, last, cfg.warmup_steps, cfg.min_lr_ratio) for first, last in windows]
        )
        self.ema = EMA(policy, cfg.ema_power, cfg.ema_max_decay)
        self.sampler = StepBatchSampler(len(dataset), cfg.batch_size, cfg.seed)
        self.autocast_dtype = autocast_dtype(cfg.precision, cfg.device)  # None: float32
        self._autocast = {"device_type": torch.device(cfg.device).type, "dtype": self.autocast_dtype or torch.float32,
                          "enabled": self.autocast_dtype is not None}
        self.step = 0

    # ------------------------------------------------------------------------------------- the loop
    def fit(self, resume: bool = False) -> TrainResult:
        cfg = self.cfg
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        if resume:
            self._restore(self.ckpt_dir / "last")
        else:
            seed_everything(cfg.seed)
        if self.progress and self.autocast_dtype is not None:
            tqdm.write(f"training.precision={cfg.precision}: forward pass and loss in {self.autocast_dtype} under autocast")
        start, loss_value, eval_metrics = time.perf_counter(), float("nan"), {}
        bar = tqdm(total=cfg.num_steps, initial=self.step, desc="train", unit="step", disable=not self.progress, dynamic_ncols=True)
        window_start, window_steps = time.perf_counter(), 0
        self.policy.train()
        while self.step < cfg.num_steps:
            loss_value, metrics = self._train_step()
            self.step += 1
            window_steps += 1
            if self.step % cfg.log_every == 0 or self.step == cfg.num_steps:
                rate = window_steps * cfg.batch_size / (time.perf_counter() - window_start)
                window_start, window_steps = time.perf_counter(), 0
                shown = {k: metrics[k] for k in self.policy.progress_metrics if k in metrics}
                bar.set_postfix(**shown, loss=f"{loss_value:.4f}", samples_per_s=f"{rate:.0f}")
                self._log({**metrics, "loss": loss_value, "lr": self.lr_schedule.get_last_lr()[-1], "samples_per_s": rate})
            bar.update(1)
            final = self.step == cfg.num_steps
            if self.evaluate is not None and ((cfg.eval_every and self.step % cfg.eval_every == 0) or final):
                eval_metrics = self._run_evaluation()
            if (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or final:
                self.save()
        bar.close()
        return TrainResult(self.step, self.ckpt_dir / "last", loss_value, eval_metrics, time.perf_counter() - start)

    def _train_step(self) -> tuple[float, dict[str, float]]:
        batch = _to_device(self.dataset.get_batch(self.sampler.indices(self.step)), self.cfg.device)
        with torch.autocast(**self._autocast):
            loss, metrics = self.policy.compute_loss(batch)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            last = self.ckpt_dir / "last"
            kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint had been written yet"
            raise TrainingDiverged(
                f"loss became {loss_value} at step {self.step + 1}; training stopped and {kept}. "
                "Try a lower training.lr, a smaller training.grad_clip, or check the data for outliers."
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            metrics = {**metrics, "grad_norm": float(torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.cfg.grad_clip))}
        self.optimizer.step()
        self.lr_schedule.step()
        self.ema.update(self.policy)
        return loss_value, metrics

    def _run_evaluation(self) -> dict[str, float]:
        with torch.random.fork_rng(devices=[]):
            ema_policy = self.ema_policy()
            metrics = dict(self.evaluate(ema_policy, self.step))
        self._log({f"eval/{k}": v for k, v in metrics.items()})
        return metrics

    def ema_policy(self) -> Policy:
        """A copy of the policy carrying the EMA weights, in eval mode."""
        policy = copy.deepcopy(self.policy)
        policy.load_state_dict(self.ema.state())
        return policy.eval()

    def _log(self, metrics: Mapping[str, float]) -> None:
        if self.logger is not None:
            self.logger.log(metrics, self.step)

    # ------------------------------------------------------------------------------- checkpointing
    def save(self) -> Path:
        """Write checkpoints/<step>/ and replace checkpoints/last/, then prune old numbered ones."""
        train_state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "ema_updates": self.ema.updates,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            "wandb_run_id": None if self.logger is None else self.logger.run_id,
        }
        kwargs = {"config": self.run_config, "ema_state": self.ema.state(), "train_state": train_state}
        numbered = save_checkpoint(self.ckpt_dir / f"{self.step:07d}", self.policy, **kwargs)
        save_checkpoint(self.ckpt_dir / "last", self.policy, **kwargs)
        steps = sorted(p for p in self.ckpt_dir.iterdir() if p.is_dir() and p.name.isdigit())
        for old in steps[: max(0, len(steps) - self.cfg.keep_checkpoints)]:
            shutil.rmtree(old)
        return numbered

    def _restore(self, path: Path) -> None:
        ckpt = read_checkpoint(path, with_train_state=True)
        state = ckpt.train_state
        self.policy.load_state_dict(ckpt.model)
        self.ema.load(ckpt.ema or ckpt.model, int(state["ema_updates"]))
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_schedule.load_state_dict(state["lr_schedule"])
        self.step = int(state["step"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(_as_python_rng_state(rng["python"]))


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (call before building a policy so its initial weights follow the seed)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _as_python_rng_state(state: Any) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _to_device(batch: Any, device: str) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch
