"""CARP: residual multi-scale quantization, the block-causal transformer, KV-cached decoding, two-stage training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from robopolicy.core import ChunkSpec
from robopolicy.policies.carp import CARPConfig, CARPPolicy
from robopolicy.policies.carp.tokenizer import MultiScaleActionTokenizer, ResidualQuantizer
from tests.conftest import fitted_normalizer, random_obs

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)  # latent length 8 / 2^1 = 4
TINY = {"tokenizer_steps": 3, "num_downsamples": 1, "tokenizer_channels": 8, "latent_dim": 4, "codebook_size": 16,
        "dim": 16, "depth": 2, "heads": 2, "restart_every": 2}


def make_policy(meta, **overrides) -> CARPPolicy:
    torch.manual_seed(0)
    return CARPPolicy(meta, SPEC, fitted_normalizer(meta), {**TINY, **overrides})


def randomize_(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every weight (the zero-initialised AdaLN gates too) a random value, so blocks are not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))


# --- quantization ------------------------------------------------------------------------------------
def test_the_residual_decomposition_sums_back_to_the_latent_as_scales_are_added():
    torch.manual_seed(0)
    quantizer = ResidualQuantizer(groups=1, latent_dim=2, codebook_size=4096, scales=(1, 2, 4), latent_length=4,
                                  distance="l2", phi_mix=0.0)
    with torch.no_grad():  # a dense codebook over the latents' range: every residual has a near code
        quantizer.codebook.copy_(torch.rand(1, 4096, 2) * 4 - 2)
    latent = torch.rand(32, 1, 2, 4) * 2 - 1
    indices = quantizer.tokenize(latent)
    partial = quantizer.reconstruct(indices)
    errors = [(latent - f_hat).norm(dim=2).mean().item() for f_hat in partial]
    assert errors[-1] < 0.05 < errors[0]
    assert errors[-1] < 0.1 * latent.norm(dim=2).mean().item()
    # Each scale codes what the coarser ones left: the codes are the nearest to the pooled residual.
    for s in range(1, 3):
        assert torch.equal(indices[s], quantizer.nearest(quantizer.pool(latent - partial[s - 1], s)))


def test_codes_are_valid_indices_with_one_row_per_tokenizer_and_scale():
    for per_dimension, groups in ((True, 3), (False, 1)):
        cfg = CARPConfig(**{**TINY, "per_dimension": per_dimension})
        tokenizer = MultiScaleActionTokenizer(action_dim=3, pred_horizon=8, cfg=cfg)
        indices = tokenizer.tokenize(torch.randn(5, 8, 3))
        assert [tuple(i.shape) for i in indices] == [(5, groups, p) for p in cfg.scales]
        assert all(i.dtype == torch.long and i.min() >= 0 and i.max() < cfg.codebook_size for i in indices)
        assert tokenizer.detokenize(indices).shape == (5, 8, 3)


def test_per_dimension_tokenizers_never_mix_dimensions():
    tokenizer = MultiScaleActionTokenizer(action_dim=2, pred_horizon=8, cfg=CARPConfig(**TINY))
    chunk = torch.randn(4, 8, 2)
    changed = chunk.clone()
    changed[..., 1] += 1.0
    before, after = tokenizer.tokenize(chunk), tokenizer.tokenize(changed)
    assert all(torch.equal(b[:, 0], a[:, 0]) for b, a in zip(before, after))
    assert torch.allclose(tokenizer.encode(chunk)[:, 0], tokenizer.encode(changed)[:, 0])


def test_the_straight_through_gradient_reaches_the_encoder():
    tokenizer = MultiScaleActionTokenizer(action_dim=2, pred_horizon=8, cfg=CARPConfig(**TINY))
    chunk = torch.randn(6, 8, 2)
    F.mse_loss(tokenizer(chunk).recon, chunk).backward()  # reconstruction only: no commitment term
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tokenizer.encoder.parameters())


def test_dead_codes_restart_onto_the_residuals_they_would_quantize():
    tokenizer = MultiScaleActionTokenizer(action_dim=2, pred_horizon=8, cfg=CARPConfig(**TINY))
    quantizer = tokenizer.quantizer
    latent = tokenizer.encode(torch.randn(6, 8, 2)).detach()
    quantizer.hits.zero_()
    quantizer.hits[:, 0, 0] = 1.0  # code 0 of the first tokenizer is alive
    kept = quantizer.codebook[0, 0].clone()
    vectors = quantizer.residual_vectors(latent)[1]  # what the second tokenizer's codes quantize, at every scale
    assert vectors.shape == (6 * sum(quantizer.scales), 4)
    assert quantizer.restart_dead_codes(latent, threshold=0.01) == 2 * 16 - 1
    assert torch.equal(quantizer.codebook[0, 0], kept)
    assert all((vectors == code).all(-1).any() for code in quantizer.codebook[1])
    assert quantizer.restart_dead_codes(latent, threshold=0.01) == 0  # restarted codes count as alive


def test_a_trained_tokenizer_reconstructs_better_with_every_scale():
    torch.manual_seed(0)
    tokenizer = MultiScaleActionTokenizer(action_dim=2, pred_horizon=8, cfg=CARPConfig(**{**TINY, "codebook_size": 32}))
    optimizer = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)
    time = torch.linspace(0, 1, 8)[None, :, None]

    def chunks(n: int) -> torch.Tensor:  # smooth random trajectories
        start, velocity = torch.rand(n, 1, 2) * 2 - 1, torch.rand(n, 1, 2) - 0.5
        return start + velocity * time

    for step in range(150):
        batch = chunks(64)
        out = tokenizer(batch)
        loss = F.mse_loss(out.recon, batch) + out.vq_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 49:
            tokenizer.quantizer.restart_dead_codes(out.latent.detach(), 0.01)
    held_out = chunks(256)
    partial = tokenizer.quantizer.reconstruct(tokenizer.tokenize(held_out))
    errors = [F.mse_loss(tokenizer.decode(f_hat), held_out).item() for f_hat in partial]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.25 * errors[0] and errors[-1] < 0.02


# --- the coarse-to-fine transformer ------------------------------------------------------------------
def test_the_block_causal_mask_lets_no_token_see_a_finer_scale(low_dim_meta):
    policy = make_policy(low_dim_meta).eval()
    ar = policy.autoregressor
    levels = torch.cat([torch.full((n,), s) for s, n in enumerate(ar.lengths)])
    assert torch.equal(ar.mask, levels[:, None] >= levels[None, :])
    randomize_(ar)
    cond = ar.condition(policy.encode_obs(random_obs(low_dim_meta, batch=3, horizon=2)))
    inputs = torch.randn(3, ar.offsets[-1] - ar.lengths[0], 4)
    changed = inputs.clone()
    finest = ar.offsets[-2] - ar.lengths[0]
    changed[:, finest:] += 1.0  # only the inputs of the finest scale
    with torch.no_grad():
        before, after = ar(cond, inputs), ar(cond, changed)
    assert torch.allclose(before[:, :ar.offsets[-2]], after[:, :ar.offsets[-2]], atol=1e-6)
    assert not torch.allclose(before[:, ar.offsets[-2]:], after[:, ar.offsets[-2]:])


def test_kv_cached_inference_gives_the_tokens_of_uncached_teacher_forcing(low_dim_meta):
    policy = make_policy(low_dim_meta).eval()
    randomize_(policy.autoregressor)
    cond = policy.autoregressor.condition(policy.encode_obs(random_obs(low_dim_meta, batch=6, horizon=2)))
    for uniforms in (None, torch.rand(6, policy.num_tokens, generator=torch.Generator().manual_seed(1))):
        with torch.no_grad():
            codes, latent, _ = policy.generate(cond, uniforms)
            tokens = torch.cat([c.permute(0, 2, 1).flatten(1) for c in codes], dim=1)  # (N, L) in (position, group) order
            partial = policy.tokenizer.quantizer.reconstruct(codes[:-1])
            inputs = torch.cat([policy.tokenizer.quantizer.pool(partial[s - 1], s).permute(0, 2, 1, 3).flatten(1, 2)
                                for s in range(1, len(codes))], dim=1)
            logits = policy.autoregressor(cond, inputs)
        if uniforms is None:
            assert torch.equal(logits.argmax(-1), tokens)
        else:
            assert torch.equal(policy._choose(logits, uniforms), tokens)


# --- the policy --------------------------------------------------------------------------------------
def test_training_runs_the_tokenizer_then_the_frozen_transformer_stage(low_dim_meta):
    policy = make_policy(low_dim_meta).train()
    batch = {"obs": random_obs(low_dim_meta, batch=8, horizon=2), "action": torch.rand(8, 8, 2) * 0.4 - 0.2}
    stages = []
    for _ in range(5):
        policy.zero_grad(set_to_none=True)
        loss, metrics = policy.compute_loss(batch)
        loss.backward()
        stages.append(metrics["stage"])
        tokenizer_grads = [p.grad for p in policy.tokenizer.parameters()]
        transformer_grads = [p.grad for p in policy.autoregressor.parameters()]
        if metrics["stage"] == 1:
            assert all(g is None for g in transformer_grads) and any(g is not None for g in tokenizer_grads)
        else:
            assert all(g is None for g in tokenizer_grads) and all(g is not None for g in transformer_grads)
            assert 0.0 <= metrics["token_accuracy"] <= 1.0
    assert stages == [1, 1, 1, 2, 2]
    groups = policy.parameter_groups(1e-4)
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]  # the tokenizer at tokenizer_lr, the rest at the base rate
    # each stage schedules its own learning rate: the tokenizer over the first 3 steps, the rest after them
    assert [(g["first_step"], g.get("last_step")) for g in groups] == [(0, 3), (3, None)]
    assert sorted(id(p) for g in groups for p in g["params"]) == sorted(id(p) for p in policy.parameters())
    assert int(policy.state_dict()["tokenizer_updates"]) == 3  # the stage travels with checkpoints
    with pytest.raises(ValueError, match="training.num_steps=3 leaves no steps for the transformer"):
        policy.check_training_budget(3)


def test_chunks_are_a_deterministic_function_of_observation_and_noise(low_dim_meta):
    policy = make_policy(low_dim_meta).eval()
    randomize_(policy.autoregressor)
    obs = random_obs(low_dim_meta, batch=4, horizon=2)
    greedy = policy.predict_chunk(obs)
    assert greedy.actions.shape == (4, 4, 2) and greedy.full.shape == (4, 8, 2) and greedy.info["nfe"] == 4  # one pass per scale
    assert torch.equal(greedy.full, policy.predict_chunk(obs).full)
    w = torch.randn(4, 5, policy.num_tokens, generator=torch.Generator().manual_seed(0))
    a = policy.predict_chunk(obs, num_samples=5, noise=w)
    assert a.full.shape == (4, 5, 8, 2) and a.info["log_prob"].shape == (4, 5) and (a.info["log_prob"] <= 0).all()
    assert torch.equal(a.full, policy.predict_chunk(obs, num_samples=5, noise=w).full)
    b = policy.predict_chunk(obs, num_samples=5, noise=torch.randn(4, 5, policy.num_tokens))
    assert not torch.equal(a.full, b.full)
    # Very negative noise picks the most likely code everywhere: the greedy chunk.
    assert torch.equal(policy.predict_chunk(obs, noise=torch.full((4, policy.num_tokens), -10.0)).full, greedy.full)
    with pytest.raises(ValueError, match="noise must have shape"):
        policy.predict_chunk(obs, noise=torch.randn(4, 8, 2))


@pytest.mark.parametrize(("overrides", "message"), [
    ({"scales": [1, 2]}, "finest scale must equal the latent length"),
    ({"num_downsamples": 4}, "must be divisible by 2"),
    ({"scales": [2, 1, 4]}, "strictly increasing"),
    ({"distance": "dot"}, "distance must be one of"),
])
def test_config_errors_name_the_fix(low_dim_meta, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_policy(low_dim_meta, **overrides)
