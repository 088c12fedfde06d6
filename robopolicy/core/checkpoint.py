"""Checkpoint directories: save atomically, load without unpickling, rebuild a policy with no Hydra run.

Layout of a checkpoint directory::

    config.yaml          the resolved run config; always holds policy (name + hyper-parameters),
                         shape_meta and chunk_spec, which are enough to rebuild the module
    model.safetensors    "model/<param>" weights (normalizer buffers included) and "ema/<param>" EMA weights
    train_state/         optional: state.safetensors + state.json (optimizer, LR schedule, step, RNG states)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file

from robopolicy.core.chunk import ChunkSpec
from robopolicy.core.errors import CheckpointError
from robopolicy.core.normalizer import Normalizer
from robopolicy.core.policy import Policy
from robopolicy.core.registry import get_policy_class
from robopolicy.core.shape_meta import ShapeMeta
from robopolicy.core.state_io import load_safetensors, load_tree, save_tree

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
TRAIN_STATE_DIR = "train_state"
_FORMAT = {"format": "robopolicy-checkpoint", "version": "1"}


@dataclass
class Checkpoint:
    """The parts of a checkpoint directory, as plain data."""

    config: dict[str, Any]
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None = None
    train_state: Any = None


def describe_policy(policy: Policy) -> dict[str, Any]:
    """The config entries that rebuild ``policy``: {"policy": {"name", ...}, "shape_meta", "chunk_spec"}."""
    return {
        "policy": {"name": policy.family, **policy.config},
        "shape_meta": policy.shape_meta.to_dict(),
        "chunk_spec": policy.chunk_spec.to_dict(),
    }


def build_policy(config: Mapping[str, Any], normalizer: Normalizer | None = None) -> Policy:
    """Instantiate the family named in ``config["policy"]["name"]`` (weights untouched).

    Without ``normalizer`` an unfitted one is created, to be filled by ``load_state_dict``.
    """
    for key in ("policy", "shape_meta", "chunk_spec"):
        if key not in config:
            raise CheckpointError(f"config lacks {key!r}; a policy config needs policy, shape_meta and chunk_spec")
    policy_cfg = dict(config["policy"])
    name = policy_cfg.pop("name", None)
    if not name:
        raise CheckpointError("config.policy has no 'name' (the registered family, e.g. 'diffusion')")
    shape_meta = ShapeMeta.from_dict(config["shape_meta"])
    chunk_spec = ChunkSpec.from_dict(config["chunk_spec"])
    return get_policy_class(name)(shape_meta, chunk_spec, normalizer or Normalizer(shape_meta), policy_cfg)


def save_checkpoint(
    path: str | Path,
    policy: Policy,
    *,
    config: Mapping[str, Any] | None = None,
    ema_state: Mapping[str, torch.Tensor] | None = None,
    train_state: Any = None,
) -> Path:
    """Write a checkpoint directory atomically: everything goes to a temporary sibling, then one rename.

    If ``path`` already exists it is replaced; a crash at any point leaves either the old or the new
    checkpoint readable (``read_checkpoint`` falls back to ``<path>.old`` if the swap was interrupted).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    full_config = {**dict(config or {}), **describe_policy(policy)}
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(_plain(full_config), sort_keys=False))
        tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
        if ema_state is not None:
            tensors.update({f"ema/{k}": v.detach().cpu().clone() for k, v in ema_state.items()})  # never alias model/
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata=_FORMAT)
        if train_state is not None:
            (tmp / TRAIN_STATE_DIR).mkdir()
            save_tree(tmp / TRAIN_STATE_DIR / "state", train_state)
        _fsync_files(tmp)
        old = path.with_name(path.name + ".old")
        if path.exists():
            if old.exists():
                shutil.rmtree(old)
            os.rename(path, old)
        os.rename(tmp, path)
        _fsync_dir(path.parent)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_checkpoint(path: str | Path, *, with_train_state: bool = False) -> Checkpoint:
    """Read a checkpoint directory into plain data. Only YAML, JSON and safetensors are parsed."""
    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".old").is_dir():
        path = path.with_name(path.name + ".old")  # a save was interrupted between its two renames
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint directory (expected {CONFIG_FILE} and {WEIGHTS_FILE} inside)")
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"{config_path}: missing")
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as exc:
        raise CheckpointError(f"{config_path}: not valid YAML ({exc})") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path}: expected a mapping at the top level")
    tensors = load_safetensors(path / WEIGHTS_FILE)
    model = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    ema = {k[len("ema/"):]: v for k, v in tensors.items() if k.startswith("ema/")} or None
    if not model:
        raise CheckpointError(f"{path / WEIGHTS_FILE}: holds no 'model/' tensors")
    train_state = None
    if with_train_state:
        stem = path / TRAIN_STATE_DIR / "state"
        if not stem.with_suffix(".json").is_file():
            raise CheckpointError(f"{path}: has no {TRAIN_STATE_DIR}/ (it was saved without training state)")
        train_state = load_tree(stem)
    return Checkpoint(config=config, model=model, ema=ema, train_state=train_state)


def load_policy(path: str | Path, *, weights: str = "ema", device: str | torch.device = "cpu",
                action_horizon: int | None = None) -> Policy:
    """Rebuild the policy saved in ``path`` in eval mode. ``weights``: "ema" (falls back to "model" if absent) or "model".
    ``action_horizon``: execute that many actions of each chunk instead of the stored Ta (None: the stored one)."""
    return policy_from_checkpoint(read_checkpoint(path), path, weights=weights, device=device,
                                  action_horizon=action_horizon)


def policy_from_checkpoint(ckpt: Checkpoint, path: str | Path, *, weights: str = "ema",
                           device: str | torch.device = "cpu", action_horizon: int | None = None) -> Policy:
    """The policy of an already read checkpoint (read from ``path``, named in errors), in eval mode; see load_policy.

    With ``action_horizon`` the policy is built with that Ta through the family's own constructor, so a horizon the
    chunk cannot hold (To - 1 + Ta > Tp) or the family cannot run (Streaming DP's buffer is built for its Ta) is
    refused with the checkpoint named; the weights do not depend on Ta.
    """
    if weights not in ("ema", "model"):
        raise ValueError(f"weights must be 'ema' or 'model', got {weights!r}")
    if action_horizon is None:
        policy = build_policy(ckpt.config)
    else:
        chunk_spec = {**ckpt.config["chunk_spec"], "action_horizon": int(action_horizon)}
        try:
            policy = build_policy({**ckpt.config, "chunk_spec": chunk_spec})
        except ValueError as err:
            raise ValueError(f"{path}: cannot execute action_horizon={action_horizon} actions per chunk: {err}. "
                             "Leave action_horizon at null to use the checkpoint's") from err
    state = ckpt.ema if weights == "ema" and ckpt.ema is not None else ckpt.model
    missing, unexpected = policy.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the {policy.family!r} policy its config describes "
            f"(missing: {missing[:5]}, unexpected: {unexpected[:5]})"
        )
    return policy.to(device).eval()


def _plain(node: Any) -> Any:
    """Turn tuples and other YAML-unfriendly containers into lists/dicts so safe_dump accepts them."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def _fsync_files(root: Path) -> None:
    """Flush every file under ``root`` to disk, so the rename that publishes it never exposes torn files."""
    for child in root.rglob("*"):
        if child.is_file():
            with open(child, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
