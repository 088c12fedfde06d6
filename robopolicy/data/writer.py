"""Write demonstrations in robomimic's HDF5 layout.

    data                      attrs: total (sum of num_samples), env_args (JSON: env_name, type, env_kwargs)
    data/demo_<i>             attrs: num_samples, plus any per-demo attrs (e.g. the reset seed)
    data/demo_<i>/obs/<key>   (T, D) float or (T, H, W, 3) uint8
    data/demo_<i>/next_obs/<key>, actions (T, Da), rewards (T,), dones (T,), states (T, S)
    mask/train, mask/valid    demo names (bytes), as robomimic's filter keys

The file is written under a temporary name and renamed on a clean exit, so an interrupted collection
never leaves a half-written dataset where a training run would pick it up.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np


class RobomimicWriter:
    """Context manager that appends demos and, on exit, writes the totals and the train/valid split.

    ``valid_fraction`` of the demos (at least one when there are two or more) go to ``mask/valid``,
    chosen with ``seed``; the rest go to ``mask/train``.
    """

    def __init__(self, path: str | Path, env_args: Mapping[str, Any], *, valid_fraction: float = 0.1, seed: int = 0) -> None:
        if not 0.0 <= valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
        missing = {"env_name", "type", "env_kwargs"} - set(env_args)
        if missing:
            raise ValueError(f"env_args needs env_name, type and env_kwargs; missing {sorted(missing)}")
        self.path = Path(path)
        self.env_args = dict(env_args)
        self.valid_fraction, self.seed = valid_fraction, seed
        # A name of our own: two collections aimed at one path must not truncate each other's file.
        self._tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
        self._file: h5py.File | None = None
        self._names: list[str] = []
        self._total = 0

    def __enter__(self) -> RobomimicWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self._tmp, "w-")
        self._file.create_group("data")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._file is not None
        if exc_type is None:
            self._finish(self._file)
        self._file.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    @property
    def num_demos(self) -> int:
        return len(self._names)

    def add_demo(
        self,
        obs: Mapping[str, np.ndarray],
        actions: np.ndarray,
        *,
        rewards: np.ndarray | None = None,
        dones: np.ndarray | None = None,
        states: np.ndarray | None = None,
        next_obs: Mapping[str, np.ndarray] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> str:
        """Append one demo of T steps and return its name. ``obs[key]`` and ``next_obs[key]`` are (T, ...).

        Without ``next_obs`` it is ``obs`` shifted by one step with the last observation repeated.
        Missing rewards and dones are written as zeros (dones: 1 on the last step).
        """
        if self._file is None:
            raise RuntimeError("RobomimicWriter.add_demo called outside its `with` block")
        actions = np.asarray(actions, dtype=np.float64)
        steps = len(actions)
        if actions.ndim != 2 or steps == 0:
            raise ValueError(f"actions must be (T, Da) with T >= 1, got shape {actions.shape}")
        obs = {k: np.asarray(v) for k, v in obs.items()}
        for key, value in obs.items():
            if len(value) != steps:
                raise ValueError(f"obs[{key!r}] has {len(value)} steps but actions have {steps}")
        if next_obs is None:
            next_obs = {k: np.concatenate([v[1:], v[-1:]]) for k, v in obs.items()}
        if rewards is None:
            rewards = np.zeros(steps)
        if dones is None:
            dones = np.zeros(steps)
            dones[-1] = 1.0
        name = f"demo_{len(self._names)}"
        group = self._file["data"].create_group(name)
        group.attrs["num_samples"] = steps
        for key, value in (attrs or {}).items():
            group.attrs[key] = value
        group.create_dataset("actions", data=actions)
        group.create_dataset("rewards", data=np.asarray(rewards, dtype=np.float64))
        group.create_dataset("dones", data=np.asarray(dones, dtype=np.int64))
        if states is not None:
            group.create_dataset("states", data=np.asarray(states, dtype=np.float64))
        for section, values in (("obs", obs), ("next_obs", next_obs)):
            sub = group.create_group(section)
            for key, value in values.items():
                _write_obs(sub, key, np.asarray(value))
        self._names.append(name)
        self._total += steps
        return name

    def _finish(self, file: h5py.File) -> None:
        data = file["data"]
        data.attrs["total"] = self._total
        data.attrs["env_args"] = json.dumps(self.env_args)
        order = np.random.default_rng(self.seed).permutation(len(self._names))
        num_valid = int(round(self.valid_fraction * len(self._names)))
        if self.valid_fraction > 0 and len(self._names) >= 2:
            num_valid = max(1, num_valid)
        valid = sorted(order[:num_valid])
        train = sorted(order[num_valid:])
        mask = file.create_group("mask")
        for split, indices in (("train", train), ("valid", valid)):
            mask.create_dataset(split, data=np.array([self._names[i] for i in indices], dtype="S"))


def _write_obs(group: h5py.Group, key: str, value: np.ndarray) -> None:
    if value.dtype == np.uint8 and value.ndim == 4:
        # Images: chunked per frame with LZF, which h5py (and so robomimic) reads without plugins.
        group.create_dataset(key, data=value, chunks=(1, *value.shape[1:]), compression="lzf")
    else:
        group.create_dataset(key, data=value.astype(np.float64) if value.dtype.kind == "f" else value)
