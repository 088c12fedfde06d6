"""Streaming Diffusion Policy: noise-level sampling, the per-position sampler, buffer mechanics, config errors."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from robopolicy.core import ChunkSpec, PolicyRunner
from robopolicy.policies.streaming import StreamingDiffusionPolicy
from robopolicy.policies.streaming.levels import chunk_index, sample_training_levels
from robopolicy.policies.streaming.stepping import PerPositionStepper
from tests.conftest import fitted_normalizer, random_obs

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=7, action_horizon=3)  # 1 past position + 2 chunks of 3
TINY = {"backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16, "num_train_timesteps": 20}


def make_policy(meta, spec=SPEC, **overrides) -> StreamingDiffusionPolicy:
    torch.manual_seed(0)
    config = {**TINY, "sampler": "ddim", "num_inference_steps": 10, **overrides}
    return StreamingDiffusionPolicy(meta, spec, fitted_normalizer(meta), config).eval()


def test_training_levels_chunkwise_increasing_and_mixed_in_proportion():
    levels, constant = sample_training_levels(4000, SPEC, 2, 20, 0.2, torch.Generator().manual_seed(0))
    assert levels.shape == (4000, 7) and levels.min() >= 0 and levels.max() <= 19
    assert abs(constant.float().mean().item() - 0.2) < 0.03
    chunkwise = levels[~constant]
    assert (chunkwise.diff(dim=1) >= 0).all()
    first, second = chunkwise[:, :4], chunkwise[:, 4:]  # past position + first chunk, second chunk
    assert (first == first[:, :1]).all() and first.max() <= 9 and (second - first[:, :1] == 10).all()
    assert set(chunkwise[:, 0].tolist()) == set(range(10))  # every offset j in [0, L/h) is drawn
    assert (levels[constant] == levels[constant][:, :1]).all() and len(set(levels[constant][:, 0].tolist())) > 15
    only_chunkwise, none_constant = sample_training_levels(500, SPEC, 2, 20, 0.0)
    assert not none_constant.any() and (only_chunkwise.diff(dim=1) >= 0).all()


def test_chunk_index_puts_past_positions_in_the_first_chunk():
    assert chunk_index(SPEC).tolist() == [0, 0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "sample", "v_prediction"])
def test_one_level_everywhere_reproduces_the_diffusers_step(sampler, prediction_type):
    train = DDPMScheduler(num_train_timesteps=20, beta_schedule="squaredcos_cap_v2", clip_sample=True, prediction_type=prediction_type)
    scheduler = (DDIMScheduler if sampler == "ddim" else DDPMScheduler).from_config(train.config)
    scheduler.set_timesteps(5)
    stepper = PerPositionStepper(scheduler)
    x_t, output = torch.randn(2, 7, 2), torch.randn(2, 7, 2)
    for level, t in enumerate(scheduler.timesteps.flip(0)):
        ours, _ = stepper.step(output, torch.full((7,), level), x_t, torch.Generator().manual_seed(level))
        reference = scheduler.step(output, t, x_t, generator=torch.Generator().manual_seed(level)).prev_sample
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


def test_mixed_levels_step_each_position_on_its_own_ladder():
    train = DDPMScheduler(num_train_timesteps=20, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    scheduler = DDIMScheduler.from_config(train.config)
    scheduler.set_timesteps(10)
    stepper = PerPositionStepper(scheduler)
    x_t, output = torch.randn(1, 4, 2), torch.randn(1, 4, 2)
    levels = torch.tensor([-1, 0, 4, 9])
    stepped, _ = stepper.step(output, levels, x_t)
    torch.testing.assert_close(stepped[:, 0], x_t[:, 0])  # clean stays clean
    for pos in (1, 2, 3):
        one, _ = stepper.step(output, torch.full((4,), int(levels[pos])), x_t)
        torch.testing.assert_close(stepped[:, pos], one[:, pos])


def test_buffer_levels_after_a_step_shift_and_refill(low_dim_meta):
    policy = make_policy(low_dim_meta)
    assert policy.buffer_levels is None
    assert policy.initial_levels.tolist() == [4, 4, 4, 4, 9, 9, 9]
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    chunk = policy.predict_chunk(obs)
    assert chunk.info["nfe"] == 5 and chunk.actions.shape == (2, 3, 2) and chunk.full.shape == (2, 7, 2)
    assert policy.buffer_levels.tolist() == [-1, -1, -1, -1, 4, 4, 4]  # first chunk clean, second 5 levels down
    before = policy.buffer
    fresh = torch.randn(2, 7, 2)
    policy.advance_buffer(fresh)
    assert policy.buffer_levels.tolist() == [4, 4, 4, 4, 9, 9, 9]  # back to the primer's levels
    after = policy.buffer
    torch.testing.assert_close(after[:, 1:4], before[:, 4:7])  # the second chunk moved to the front
    torch.testing.assert_close(after[:, 4:], fresh[:, 4:])  # fresh noise entered at the top level
    stepper = policy.stepper
    renoised = stepper.add_noise(before[:, 3:4], fresh[:, :1], torch.tensor([4]))
    torch.testing.assert_close(after[:, :1], renoised)  # the past position re-noised to the first chunk's level


def test_reset_restores_the_primer_and_seeds_fix_the_rollout(low_dim_meta):
    policy = make_policy(low_dim_meta)
    obs = [random_obs(low_dim_meta, batch=1, horizon=2, seed=s) for s in range(3)]

    def rollout(seed: int) -> torch.Tensor:
        policy.reset()
        generator = torch.Generator().manual_seed(seed)
        return torch.stack([policy.predict_chunk(o, generator=generator).full for o in obs])

    first, again, other = rollout(0), rollout(0), rollout(1)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first - other).abs().max() > 1e-4
    w = torch.randn(1, 7, 2)
    policy.reset()
    a = policy.predict_chunk(obs[0], noise=w).full
    policy.predict_chunk(obs[1])
    policy.reset()
    torch.testing.assert_close(policy.predict_chunk(obs[0], noise=w).full, a, rtol=0, atol=0)


def test_ddpm_streaming_costs_levels_over_chunks(low_dim_meta):
    policy = make_policy(low_dim_meta, sampler="ddpm", num_inference_steps=20)
    obs = random_obs(low_dim_meta, batch=1, horizon=2)
    assert [policy.predict_chunk(obs).info["nfe"] for _ in range(3)] == [10, 10, 10]


def test_num_samples_and_batch_must_stay_fixed_until_reset(low_dim_meta):
    policy = make_policy(low_dim_meta)
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    assert policy.predict_chunk(obs, num_samples=3).full.shape == (2, 3, 7, 2)
    with pytest.raises(ValueError, match="call reset"):
        policy.predict_chunk(obs)
    policy.reset()
    assert policy.predict_chunk(obs).full.shape == (2, 7, 2)


def test_denoiser_contract_takes_one_step_per_chunk_or_per_position(low_dim_meta):
    policy = make_policy(low_dim_meta)
    with torch.no_grad():
        for p in policy.backbone.parameters():  # FiLM starts at zero: perturb so that steps change the output
            p.add_(0.1 * torch.randn_like(p))
    cond = policy.encode_obs(random_obs(low_dim_meta, batch=2, horizon=2))
    x_t = torch.randn(2, 7, 2)
    per_chunk = policy.denoise(x_t, torch.tensor([3, 8]), cond)
    per_position = policy.denoise(x_t, torch.tensor([[3] * 7, [8] * 7]), cond)
    torch.testing.assert_close(per_chunk, per_position)
    assert (policy.denoise(x_t, torch.tensor([[3] * 7, [9] * 7]), cond) - per_chunk)[1].abs().max() > 0


def test_training_loss_backpropagates_through_per_position_steps(low_dim_meta):
    policy = make_policy(low_dim_meta).train()
    obs = random_obs(low_dim_meta, batch=4, horizon=2)
    loss, metrics = policy.compute_loss({"obs": obs, "action": torch.rand(4, 7, 2)})
    loss.backward()
    assert loss.item() > 0 and 0.0 <= metrics["constant_level_fraction"] <= 1.0
    assert all(p.grad is not None for p in policy.backbone.parameters())


@pytest.mark.parametrize(
    ("spec", "overrides", "message"),
    [
        (ChunkSpec(2, 8, 3), {}, r"pred_horizon=8 must equal obs_horizon-1 \+ buffer_chunks\*action_horizon = 1 \+ 2\*3 = 7"),
        (SPEC, {"num_inference_steps": 5}, "num_inference_steps=5 must be a multiple of buffer_chunks=2"),
        (SPEC, {"buffer_chunks": 0}, "buffer_chunks must be a positive integer"),
        (SPEC, {"constant_level_prob": 1.5}, r"constant_level_prob must be in \[0, 1\]"),
    ],
)
def test_config_errors_say_how_to_fix_them(low_dim_meta, spec, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_policy(low_dim_meta, spec, **overrides)


def test_runner_refuses_early_replanning_for_a_stateful_buffer(low_dim_meta):
    policy = make_policy(low_dim_meta)
    with pytest.raises(ValueError, match="must execute all Ta=3 actions"):
        PolicyRunner(policy, replan_every=1)
    with pytest.raises(ValueError, match="temporal_ensemble off"):
        PolicyRunner(policy, temporal_ensemble=0.1)
    runner = PolicyRunner(policy)
    obs = {k: v[:, -1].numpy() for k, v in random_obs(low_dim_meta, batch=2, horizon=2).items()}
    for _ in range(7):
        runner.act(obs)
    assert runner.stats.nfe == [5, 5, 5]
