"""Metrics to a JSON-lines file in the run directory, and to Weights & Biases when enabled."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WANDB_MODES = ("offline", "online", "disabled")


class MetricsLogger:
    """``log(metrics, step)`` appends to ``<run_dir>/metrics.jsonl`` and, unless disabled, to wandb.

    The wandb mode comes from the ``WANDB_MODE`` environment variable when set (tests set "disabled"),
    otherwise from ``mode`` ("offline" by default: nothing leaves the machine until ``wandb sync``).
    """

    def __init__(self, run_dir: Path, *, mode: str = "offline", project: str = "robopolicy", name: str | None = None,
                 config: Mapping[str, Any] | None = None, resume_id: str | None = None) -> None:
        mode = os.environ.get("WANDB_MODE", mode)
        if mode not in WANDB_MODES:
            raise ValueError(f"logging.mode must be one of {WANDB_MODES}, got {mode!r}")
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "metrics.jsonl"
        self.run = None
        if mode != "disabled":
            import wandb

            self.run = wandb.init(project=project, name=name, dir=str(run_dir), mode=mode, config=dict(config or {}),
                                  id=resume_id, resume="allow" if resume_id else None)

    @property
    def run_id(self) -> str | None:
        return None if self.run is None else self.run.id

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        if self.run is not None:
            self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
