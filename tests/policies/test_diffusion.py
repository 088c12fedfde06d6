"""Diffusion Policy: the Denoiser contract, deterministic DDIM under a fixed noise, K samples, config errors."""

from __future__ import annotations

import pytest
import torch

from robopolicy.core import build_policy, get_policy_class
from robopolicy.policies.diffusion import DiffusionPolicy
from tests.conftest import fitted_normalizer, random_obs

TINY = {
    "unet": {"backbone": "unet", "down_dims": [16, 32], "step_embed_dim": 16, "groups": 4},
    "mlp": {"backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16},
    "transformer": {"backbone": "transformer", "transformer_dim": 32, "transformer_depth": 2, "transformer_heads": 2},
}


def make_policy(meta, spec, backbone="mlp", **overrides) -> DiffusionPolicy:
    torch.manual_seed(0)
    config = {**TINY[backbone], "num_train_timesteps": 20, "sampler": "ddim", "num_inference_steps": 5, **overrides}
    return DiffusionPolicy(meta, spec, fitted_normalizer(meta), config).eval()


@pytest.mark.parametrize("backbone", sorted(TINY))
def test_ddim_with_fixed_noise_is_deterministic_and_noise_matters(low_dim_meta, chunk_spec, backbone):
    policy = make_policy(low_dim_meta, chunk_spec, backbone)
    obs = random_obs(low_dim_meta, batch=3, horizon=chunk_spec.obs_horizon)
    w = torch.randn(3, chunk_spec.pred_horizon, 2, generator=torch.Generator().manual_seed(1))
    a, b = policy.predict_chunk(obs, noise=w), policy.predict_chunk(obs, noise=w)
    torch.testing.assert_close(a.full, b.full, rtol=0, atol=0)
    c = policy.predict_chunk(obs, noise=torch.randn_like(w))
    assert (a.full - c.full).abs().max() > 1e-4
    assert a.actions.shape == (3, chunk_spec.action_horizon, 2) and a.full.shape == (3, chunk_spec.pred_horizon, 2)
    torch.testing.assert_close(a.actions, a.full[:, chunk_spec.executed])
    assert a.info["nfe"] == 5


def test_num_samples_returns_k_candidates_matching_single_calls(low_dim_meta, chunk_spec):
    policy = make_policy(low_dim_meta, chunk_spec)
    obs = random_obs(low_dim_meta, batch=2, horizon=chunk_spec.obs_horizon)
    w = torch.randn(2, 4, chunk_spec.pred_horizon, 2, generator=torch.Generator().manual_seed(2))
    chunk = policy.predict_chunk(obs, num_samples=4, noise=w)
    assert chunk.full.shape == (2, 4, chunk_spec.pred_horizon, 2) and chunk.actions.shape == (2, 4, chunk_spec.action_horizon, 2)
    single = policy.predict_chunk({k: v[1:2] for k, v in obs.items()}, noise=w[1, 3][None])
    torch.testing.assert_close(chunk.full[1, 3], single.full[0], rtol=1e-5, atol=1e-5)
    assert (chunk.full[:, 0] - chunk.full[:, 1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="noise must have shape"):
        policy.predict_chunk(obs, num_samples=4, noise=w[:, :3])


def test_image_observations_through_the_shared_encoder(image_meta, chunk_spec):
    policy = make_policy(image_meta, chunk_spec, encoder={"channels": [8, 8, 16, 16], "num_keypoints": 4, "rgb_feature_dim": 8})
    obs = random_obs(image_meta, batch=2, horizon=chunk_spec.obs_horizon)
    assert policy.predict_chunk(obs).full.shape == (2, chunk_spec.pred_horizon, 2)
    loss, _ = policy.train().compute_loss({"obs": obs, "action": torch.zeros(2, chunk_spec.pred_horizon, 2)})
    loss.backward()
    assert len(policy.encoder.trunks) and all(p.grad is not None for p in policy.encoder.parameters() if p.requires_grad)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(low_dim_meta, chunk_spec):
    policy = make_policy(low_dim_meta, chunk_spec).train()
    obs = random_obs(low_dim_meta, batch=16, horizon=chunk_spec.obs_horizon)
    batch = {"obs": obs, "action": torch.rand(16, chunk_spec.pred_horizon, 2) * 0.2 - 0.1}
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        torch.manual_seed(len(losses) % 4)  # the same 4 (noise, step) draws in rotation
        loss, _ = policy.compute_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-8:]) < 0.5 * sum(losses[:8])


def test_configure_inference_switches_sampler_and_checks_steps(low_dim_meta, chunk_spec):
    policy = make_policy(low_dim_meta, chunk_spec)
    policy.configure_inference(sampler="ddpm", num_inference_steps=20)
    obs = random_obs(low_dim_meta, batch=1, horizon=chunk_spec.obs_horizon)
    assert policy.predict_chunk(obs).info["nfe"] == 20
    with pytest.raises(ValueError, match="num_inference_steps=50 must be between 1 and num_train_timesteps=20"):
        policy.configure_inference(num_inference_steps=50)
    with pytest.raises(ValueError, match="inference options are"):
        policy.configure_inference(temperature=2.0)


def test_config_errors_name_the_problem(low_dim_meta, chunk_spec):
    with pytest.raises(ValueError, match="num_inference_steps=200 must be between 1 and num_train_timesteps=100"):
        DiffusionPolicy(low_dim_meta, chunk_spec, fitted_normalizer(low_dim_meta), {"num_inference_steps": 200})
    with pytest.raises(ValueError, match="backbone='resnet'"):
        DiffusionPolicy(low_dim_meta, chunk_spec, fitted_normalizer(low_dim_meta), {"backbone": "resnet"})
    with pytest.raises(ValueError, match="mlp_hiden"):
        DiffusionPolicy(low_dim_meta, chunk_spec, fitted_normalizer(low_dim_meta), {"mlp_hiden": 3})
    with pytest.raises(KeyError, match="diffusion"):
        get_policy_class("difusion")


def test_checkpoint_config_rebuilds_the_same_family(low_dim_meta, chunk_spec):
    policy = make_policy(low_dim_meta, chunk_spec, backbone="unet")
    config = {"policy": {"name": "diffusion", **policy.config}, "shape_meta": low_dim_meta.to_dict(), "chunk_spec": chunk_spec.to_dict()}
    rebuilt = build_policy(config, fitted_normalizer(low_dim_meta))
    assert isinstance(rebuilt, DiffusionPolicy) and rebuilt.cfg == policy.cfg
