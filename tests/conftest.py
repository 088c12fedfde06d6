"""Shared fixtures: a tiny registered policy family and shape metas, so core tests need no real family."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from robopolicy.core import ChunkSpec, Normalizer, ObsSpec, ShapeMeta  # noqa: E402
from tests.tiny_policy import TinyPolicy  # noqa: E402


@pytest.fixture
def low_dim_meta() -> ShapeMeta:
    return ShapeMeta(obs={"agent_pos": ObsSpec((2,)), "object": ObsSpec((4,))}, action_dim=2)


@pytest.fixture
def image_meta() -> ShapeMeta:
    return ShapeMeta(obs={"agent_pos": ObsSpec((2,)), "overhead_image": ObsSpec((48, 48, 3), "rgb")}, action_dim=2)


@pytest.fixture
def chunk_spec() -> ChunkSpec:
    return ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)


def fitted_normalizer(meta: ShapeMeta, seed: int = 0) -> Normalizer:
    rng = np.random.default_rng(seed)
    data = {k: rng.normal(size=(64, meta.obs[k].shape[0])) for k in meta.low_dim_keys}
    data["action"] = rng.uniform(-0.2, 0.2, size=(64, meta.action_dim))
    return Normalizer.fit(meta, data)


def random_obs(meta: ShapeMeta, batch: int, horizon: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = {}
    for key, spec in meta.obs.items():
        if spec.type == "rgb":
            obs[key] = torch.randint(0, 256, (batch, horizon, *spec.shape), generator=g, dtype=torch.uint8)
        else:
            obs[key] = torch.randn(batch, horizon, *spec.shape, generator=g)
    return obs


@pytest.fixture
def tiny_policy(low_dim_meta: ShapeMeta, chunk_spec: ChunkSpec) -> TinyPolicy:
    torch.manual_seed(0)
    return TinyPolicy(low_dim_meta, chunk_spec, fitted_normalizer(low_dim_meta), {"hidden": 16})
