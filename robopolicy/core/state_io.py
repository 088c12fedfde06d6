"""Save nested state (optimizer state dicts, RNG states, counters) without pickle.

A tree of dicts, lists, tuples, tensors, numpy arrays and JSON scalars is split into
``<stem>.safetensors`` (every tensor / array, under a generated key) and ``<stem>.json`` (the structure,
with each tensor replaced by a reference). Loading rebuilds the tree exactly, dict key types and
tuple-vs-list included, and never unpickles anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from robopolicy.core.errors import CheckpointError, refuse_pickle


def _encode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = node.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(node, np.ndarray):
        key = f"t{len(tensors)}"
        tensors[key] = torch.from_numpy(np.ascontiguousarray(node))
        return {"__ndarray__": key}
    if isinstance(node, dict):
        items = []
        for k, v in node.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"state_io: dict keys must be str or int, got {type(k).__name__}")
            items.append([k, _encode(v, tensors)])
        return {"__dict__": items}
    if isinstance(node, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in node]}
    if isinstance(node, list):
        return [_encode(v, tensors) for v in node]
    if isinstance(node, np.generic):
        return node.item()
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    raise TypeError(f"state_io: cannot store a value of type {type(node).__name__}")


def _decode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__ndarray__" in node:
            return tensors[node["__ndarray__"]].numpy()
        if "__tuple__" in node:
            return tuple(_decode(v, tensors) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: _decode(v, tensors) for k, v in node["__dict__"]}
        raise CheckpointError(f"state_io: unexpected object in state structure: {sorted(node)}")
    return node


def save_tree(stem: Path, tree: Any) -> None:
    """Write ``tree`` to ``<stem>.safetensors`` and ``<stem>.json``."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(tree, tensors)
    save_file(tensors, str(stem.with_suffix(".safetensors")))
    stem.with_suffix(".json").write_text(json.dumps(structure))


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a pickle or torch.save payload is refused, never unpickled."""
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    refuse_pickle(path)
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a malformed header
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def load_tree(stem: Path) -> Any:
    """Inverse of ``save_tree``."""
    json_path = stem.with_suffix(".json")
    if not json_path.is_file():
        raise CheckpointError(f"{json_path}: file not found")
    try:
        structure = json.loads(json_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{json_path}: not valid JSON ({exc})") from exc
    return _decode(structure, load_safetensors(stem.with_suffix(".safetensors")))
