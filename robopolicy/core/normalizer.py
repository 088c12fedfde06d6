"""Per-key affine normalization fitted on the training set and saved with the policy.

Actions and low-dim observations are mapped min-max to [-1, 1]; images (uint8) are mapped to [0, 1].
A dimension that never varies in the data is mapped to 0 instead of dividing by zero.
The normalizer is an ``nn.Module`` whose buffers live in the policy's state dict, so a checkpoint carries it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from robopolicy.core.shape_meta import ShapeMeta

ACTION_KEY = "action"
_RANGE_EPS = 1e-4


class _Affine(nn.Module):
    """y = x * scale + offset, per last-axis dimension; also remembers the fitted min and max."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("offset", torch.zeros(dim))
        self.register_buffer("data_min", torch.zeros(dim))
        self.register_buffer("data_max", torch.zeros(dim))


class Normalizer(nn.Module):
    """Normalizes the keys of a ShapeMeta plus ``"action"``.

    Build it empty with ``Normalizer(shape_meta)`` (e.g. before loading a checkpoint) or fitted with
    ``Normalizer.fit(shape_meta, data)``. Low-dim and action tensors are (..., D); images are (..., H, W, C).
    """

    def __init__(self, shape_meta: ShapeMeta) -> None:
        super().__init__()
        self.rgb_keys = set(shape_meta.rgb_keys)
        dims = {k: shape_meta.obs[k].shape[0] for k in shape_meta.low_dim_keys}
        dims[ACTION_KEY] = shape_meta.action_dim
        self.affines = nn.ModuleDict({k: _Affine(d) for k, d in dims.items()})
        self.register_buffer("is_fitted", torch.tensor(False))

    @classmethod
    def fit(cls, shape_meta: ShapeMeta, data: Mapping[str, np.ndarray | torch.Tensor]) -> Normalizer:
        """Fit min-max statistics. ``data[key]`` is (N, D) (or (..., D)) for every low-dim key and ``"action"``."""
        normalizer = cls(shape_meta)
        for key, affine in normalizer.affines.items():
            if key not in data:
                raise KeyError(f"Normalizer.fit: no data for key {key!r}; got keys {sorted(data)}")
            values = torch.as_tensor(np.asarray(data[key]), dtype=torch.float64).reshape(-1, affine.scale.numel())
            if values.shape[0] == 0:
                raise ValueError(f"Normalizer.fit: key {key!r} has no samples")
            if not torch.isfinite(values).all():
                raise ValueError(f"Normalizer.fit: key {key!r} holds NaN or inf values")
            lo, hi = values.min(dim=0).values, values.max(dim=0).values
            span = hi - lo
            constant = span < _RANGE_EPS
            scale = torch.where(constant, torch.ones_like(span), 2.0 / span.clamp_min(_RANGE_EPS))
            offset = torch.where(constant, -lo, -1.0 - lo * scale)
            affine.scale.copy_(scale)
            affine.offset.copy_(offset)
            affine.data_min.copy_(lo)
            affine.data_max.copy_(hi)
        normalizer.is_fitted.fill_(True)
        return normalizer

    def _affine(self, key: str) -> _Affine:
        if not bool(self.is_fitted):
            raise RuntimeError("Normalizer used before it was fitted (Normalizer.fit) or loaded from a checkpoint")
        if key not in self.affines:
            raise KeyError(f"Normalizer has no low-dim statistics for {key!r}; known keys: {sorted(self.affines)}")
        return self.affines[key]

    def normalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """Raw units -> normalized. Images (any dtype, 0..255) -> float in [0, 1]."""
        if key in self.rgb_keys:
            return x.float() / 255.0
        affine = self._affine(key)
        return x * affine.scale.to(x.dtype) + affine.offset.to(x.dtype)

    def unnormalize(self, key: str, x: torch.Tensor) -> torch.Tensor:
        """Normalized -> raw units (inverse of ``normalize`` for low-dim keys and actions)."""
        if key in self.rgb_keys:
            return x * 255.0
        affine = self._affine(key)
        return (x - affine.offset.to(x.dtype)) / affine.scale.to(x.dtype)

    def normalize_obs(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Normalize every key of an observation dict that this normalizer knows; floats come back float32."""
        out = {}
        for key, value in obs.items():
            if key in self.rgb_keys or key in self.affines:
                value = value if key in self.rgb_keys else value.float()
                out[key] = self.normalize(key, value)
        return out
