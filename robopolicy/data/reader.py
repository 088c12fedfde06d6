"""Read robomimic-format HDF5 datasets, refusing anything that would silently train on bad data.

Every refusal is a :class:`DatasetError` whose message starts with the file, then the demo and key,
then what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from robopolicy.core import ObsSpec, ShapeMeta
from robopolicy.data.errors import DatasetError


@dataclass
class Demo:
    """One demonstration. obs[key]: (T, D) float32 or (T, H, W, 3) uint8; actions: (T, Da) float32."""

    name: str
    obs: dict[str, np.ndarray]
    actions: np.ndarray
    attrs: dict[str, Any]

    def __len__(self) -> int:
        return len(self.actions)


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file. Generate one with `python scripts/collect.py task=<task>`.")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DatasetError(f"{path}: not a readable HDF5 file ({err})") from err


def _data_group(f: h5py.File) -> h5py.Group:
    if "data" not in f or not isinstance(f["data"], h5py.Group):
        raise DatasetError(f"{f.filename}: missing group 'data'; a robomimic dataset keeps its demos under data/demo_<i>")
    return f["data"]


def _demo_order(name: str) -> tuple[int, str]:
    match = re.fullmatch(r"demo_(\d+)", name)
    return (int(match.group(1)) if match else -1, name)


def demo_names(path: str | Path, filter_key: str | None = None) -> list[str]:
    """The demos of a file (all, or those listed under mask/<filter_key>), in numeric order."""
    with _open(path) as f:
        return _demo_names(f, filter_key)


def _demo_names(f: h5py.File, filter_key: str | None) -> list[str]:
    data = _data_group(f)
    if filter_key is None:
        names = list(data.keys())
    else:
        available = sorted(f["mask"].keys()) if "mask" in f else []
        if filter_key not in available:
            raise DatasetError(
                f"{f.filename}: filter key {filter_key!r} does not exist (mask/{filter_key}); "
                f"available filter keys: {available or 'none'}. Pass one of them, or none to use every demo."
            )
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["mask"][filter_key][()]]
        for name in names:
            if name not in data:
                raise DatasetError(f"{f.filename}: mask/{filter_key} lists demo {name!r}, which is not under data/")
    if not names:
        where = f"mask/{filter_key}" if filter_key else "data"
        raise DatasetError(f"{f.filename}: {where} holds no demos")
    return sorted(names, key=_demo_order)


def read_env_args(path: str | Path) -> dict[str, Any]:
    """data.attrs['env_args'] parsed: {'env_name', 'type', 'env_kwargs'}."""
    with _open(path) as f:
        data = _data_group(f)
        if "env_args" not in data.attrs:
            raise DatasetError(f"{path}: data has no 'env_args' attribute, so the environment cannot be rebuilt from it")
        try:
            env_args = json.loads(data.attrs["env_args"])
        except (TypeError, json.JSONDecodeError) as err:
            raise DatasetError(f"{path}: data.attrs['env_args'] is not valid JSON ({err})") from err
    missing = {"env_name", "type", "env_kwargs"} - set(env_args)
    if missing:
        raise DatasetError(f"{path}: data.attrs['env_args'] lacks {sorted(missing)}")
    return env_args


def _obs_dataset(where: str, group: h5py.Group, key: str) -> tuple[str, h5py.Dataset]:
    """The dataset obs/<key> of a demo and the location string errors about it start with."""
    if key not in group:
        raise DatasetError(f"{where}: missing key 'obs/{key}'; this demo has obs keys {sorted(group.keys())}")
    return f"{where}, key 'obs/{key}'", group[key]


def _obs_spec(where: str, value: h5py.Dataset) -> ObsSpec:
    """low_dim: (T, D) numeric; rgb: (T, H, W, 3) uint8."""
    if value.ndim == 2 and value.dtype.kind in "fiub":
        return ObsSpec((int(value.shape[1]),), "low_dim")
    if value.ndim == 4 and value.dtype == np.uint8 and value.shape[-1] == 3:
        return ObsSpec(tuple(int(s) for s in value.shape[1:]), "rgb")
    raise DatasetError(
        f"{where}: shape {value.shape} dtype {value.dtype} is neither low-dim (T, D) numeric "
        "nor an image (T, H, W, 3) uint8"
    )


class _DemoChecker:
    """Validates demos one by one against the first demo's shapes."""

    def __init__(self, path: Path, obs_keys: Sequence[str]) -> None:
        self.path, self.obs_keys = path, list(obs_keys)
        self.specs: dict[str, ObsSpec] = {}
        self.action_dim: int | None = None

    def check(self, name: str, demo: h5py.Group) -> Demo:
        where = f"{self.path}: demo {name!r}"
        if "actions" not in demo:
            raise DatasetError(f"{where}: missing key 'actions'")
        if "obs" not in demo:
            raise DatasetError(f"{where}: missing group 'obs'")
        actions = demo["actions"]
        if actions.dtype.kind != "f" or actions.ndim != 2:
            raise DatasetError(f"{where}, key 'actions': expected a (T, Da) float array, got shape {actions.shape} dtype {actions.dtype}")
        steps = actions.shape[0]
        if steps == 0:
            raise DatasetError(f"{where}: the demo is empty (0 steps); remove it from the file or from its masks")
        if self.action_dim is None:
            self.action_dim = int(actions.shape[1])
        elif actions.shape[1] != self.action_dim:
            raise DatasetError(f"{where}, key 'actions': action dim {actions.shape[1]}, but earlier demos have {self.action_dim}")
        declared = demo.attrs.get("num_samples")
        if declared is not None and int(declared) != steps:
            raise DatasetError(f"{where}: attribute num_samples = {int(declared)} but 'actions' has {steps} steps")
        action_values = _finite(f"{where}, key 'actions'", actions[()]).astype(np.float32)
        obs = {key: self._obs(where, demo["obs"], key, steps) for key in self.obs_keys}
        for key in ("rewards", "dones"):
            if key in demo and demo[key].shape[:1] != (steps,):
                raise DatasetError(f"{where}, key {key!r}: {demo[key].shape[0] if demo[key].ndim else 0} steps but 'actions' has {steps}")
        return Demo(name, obs, action_values, {k: _plain(v) for k, v in demo.attrs.items()})

    def _obs(self, where: str, group: h5py.Group, key: str, steps: int) -> np.ndarray:
        where, value = _obs_dataset(where, group, key)
        spec = _obs_spec(where, value)
        known = self.specs.setdefault(key, spec)
        if spec != known:
            raise DatasetError(f"{where}: shape {spec.shape} ({spec.type}), but earlier demos have {known.shape} ({known.type})")
        if value.shape[0] != steps:
            raise DatasetError(f"{where}: {value.shape[0]} steps but 'actions' has {steps}; every obs key needs one row per action")
        array = value[()]
        if spec.type == "rgb":
            return array
        return _finite(where, array).astype(np.float32)


def _finite(where: str, array: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        step = int(np.argwhere(bad)[0][0])
        raise DatasetError(f"{where}: {int(bad.sum())} NaN/inf values (first at step {step})")
    return array


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_demos(path: str | Path, obs_keys: Sequence[str], filter_key: str | None = None) -> list[Demo]:
    """Load and validate the demos of ``path`` (those under mask/<filter_key> when given).

    Raises DatasetError naming file, demo and key for: a missing file, group or key; a filter key that
    does not exist; empty demos; lengths that disagree; wrong dtypes or shapes; NaN/inf values.
    """
    if not obs_keys:
        raise ValueError("load_demos needs at least one observation key")
    path = Path(path)
    with _open(path) as f:
        checker = _DemoChecker(path, obs_keys)
        data = _data_group(f)
        return [checker.check(name, data[name]) for name in _demo_names(f, filter_key)]


def shape_meta_from_file(path: str | Path, obs_keys: Sequence[str]) -> ShapeMeta:
    """ShapeMeta for ``obs_keys`` read from the first demo's datasets (no arrays are loaded)."""
    path = Path(path)
    with _open(path) as f:
        first = _demo_names(f, None)[0]
        demo = _data_group(f)[first]
        where = f"{path}: demo {first!r}"
        if "obs" not in demo or "actions" not in demo:
            raise DatasetError(f"{where}: missing {'obs' if 'obs' not in demo else 'actions'}")
        obs = {key: _obs_spec(*_obs_dataset(where, demo["obs"], key)) for key in obs_keys}
        return ShapeMeta(obs=obs, action_dim=int(demo["actions"].shape[1]))
