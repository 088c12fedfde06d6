"""MSE behaviour cloning: shapes, it regresses to the conditional mean (so it averages modes), refuses noise."""

from __future__ import annotations

import pytest
import torch

from robopolicy.core import ChunkSpec, build_policy, get_policy_class
from robopolicy.policies.bc import BCPolicy
from tests.conftest import fitted_normalizer, random_obs

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=6, action_horizon=3)


def make_policy(meta, **overrides) -> BCPolicy:
    torch.manual_seed(0)
    return BCPolicy(meta, SPEC, fitted_normalizer(meta), {"hidden": 32, "depth": 1, **overrides})


def test_chunk_shapes_and_k_identical_candidates(low_dim_meta):
    policy = make_policy(low_dim_meta).eval()
    obs = random_obs(low_dim_meta, batch=4, horizon=2)
    one = policy.predict_chunk(obs)
    assert one.actions.shape == (4, 3, 2) and one.full.shape == (4, 6, 2) and one.info["nfe"] == 1
    torch.testing.assert_close(one.actions, one.full[:, 1:4])  # executed slice [To-1, To-1+Ta)
    many = policy.predict_chunk(obs, num_samples=3)
    assert many.full.shape == (4, 3, 6, 2)
    torch.testing.assert_close(many.full, one.full[:, None].expand(-1, 3, -1, -1))


def test_noise_is_refused_with_the_reason(low_dim_meta):
    policy = make_policy(low_dim_meta).eval()
    with pytest.raises(ValueError, match="no latent noise"):
        policy.predict_chunk(random_obs(low_dim_meta, batch=2, horizon=2), noise=torch.zeros(2, 6, 2))


def test_regression_learns_the_mean_of_two_modes(low_dim_meta):
    """Demos that split +c / -c for the same observation train BC to the average, 0: why it fails multimodal tasks."""
    policy = make_policy(low_dim_meta, hidden=64).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    obs = random_obs(low_dim_meta, batch=64, horizon=2)
    sign = torch.where(torch.arange(64) % 2 == 0, 1.0, -1.0)[:, None, None]
    chunks = policy.normalizer.unnormalize("action", 0.8 * sign * torch.ones(64, 6, 2))
    # Each observation appears once with each mode.
    batch = {"obs": {k: torch.cat([v, v]) for k, v in obs.items()}, "action": torch.cat([chunks, chunks.flip(0)])}
    first = None
    for _ in range(200):
        loss, metrics = policy.compute_loss(batch)
        first = first if first is not None else metrics["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    prediction = policy.normalizer.normalize("action", policy.eval().predict_chunk(obs).full)
    assert prediction.abs().max() < 0.1, prediction.abs().max()  # the modes are at +-0.8
    assert metrics["loss"] == pytest.approx(0.64, abs=0.05) and first > metrics["loss"]  # irreducible variance 0.8^2


def test_image_observations_through_the_shared_encoder(image_meta):
    policy = BCPolicy(image_meta, SPEC, fitted_normalizer(image_meta),
                      {"hidden": 16, "depth": 1, "encoder": {"channels": [8, 8, 8, 8], "num_keypoints": 4}}).eval()
    assert policy.predict_chunk(random_obs(image_meta, batch=2, horizon=2)).full.shape == (2, 6, 2)


def test_registered_and_rebuilt_from_its_config(low_dim_meta):
    policy = make_policy(low_dim_meta)
    assert get_policy_class("bc") is BCPolicy
    config = {"policy": {"name": "bc", **policy.config}, "shape_meta": low_dim_meta.to_dict(), "chunk_spec": SPEC.to_dict()}
    rebuilt = build_policy(config, fitted_normalizer(low_dim_meta))
    assert isinstance(rebuilt, BCPolicy) and rebuilt.cfg == policy.cfg
    with pytest.raises(ValueError, match="dropout"):
        make_policy(low_dim_meta, dropout=1.5)
    with pytest.raises((TypeError, ValueError), match="widht"):
        make_policy(low_dim_meta, widht=3)
