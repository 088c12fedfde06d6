"""EBT-Policy: scalar energies, unrolled second-order training, deterministic descent, best-of-G, warm start."""

from __future__ import annotations

import pytest
import torch

from robopolicy.core import ChunkSpec
from robopolicy.policies.ebt import EBTPolicy
from robopolicy.training.trainer import seed_everything
from tests.conftest import fitted_normalizer, random_obs

SPEC = ChunkSpec(obs_horizon=2, pred_horizon=6, action_horizon=3)
TINY = {"dim": 16, "depth": 1, "heads": 2}


def make_policy(meta, **overrides) -> EBTPolicy:
    seed_everything(0)  # Python's RNG too: training draws its number of unrolled steps from it
    return EBTPolicy(meta, SPEC, fitted_normalizer(meta), {**TINY, **overrides}).eval()


def test_energy_is_one_scalar_per_sample(low_dim_meta):
    policy = make_policy(low_dim_meta)
    tokens = policy.encode_obs(random_obs(low_dim_meta, batch=5, horizon=2))
    assert policy.energy(tokens, torch.randn(5, 6, 2)).shape == (5,)


def test_an_action_patch_embeds_consecutive_actions_as_one_token_and_every_action_moves_the_energy(low_dim_meta):
    policy = make_policy(low_dim_meta, action_patch=3)
    net = policy.energy_net
    assert net.action_pos.shape[1] == 2 and net.action_in.in_features == 3 * 2  # 6 actions -> 2 tokens of 3
    obs = random_obs(low_dim_meta, batch=4, horizon=2)
    chunk = torch.randn(4, 6, 2, requires_grad=True)
    energy = policy.energy(policy.encode_obs(obs), chunk)
    (grad,) = torch.autograd.grad(energy.sum(), chunk)
    assert energy.shape == (4,) and bool((grad.abs().sum(dim=(0, 2)) > 0).all())
    seen = []
    net.action_in.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    policy.energy(policy.encode_obs(obs), chunk.detach())
    assert torch.equal(seen[0][:, 0], chunk.detach()[:, :3].flatten(1))  # token 0 = actions 0-2, time-major
    assert policy.predict_chunk(obs).full.shape == (4, 6, 2)


def test_gradients_reach_alpha_and_the_network_through_the_unrolled_steps(low_dim_meta):
    policy = make_policy(low_dim_meta, train_steps_min=3, train_steps_max=3).train()
    obs = random_obs(low_dim_meta, batch=8, horizon=2)
    loss, metrics = policy.compute_loss({"obs": obs, "action": torch.rand(8, 6, 2)})
    loss.backward()
    assert metrics["steps"] == 3 and policy.log_alpha.grad is not None and policy.log_alpha.grad.abs() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.energy_net.parameters())
    # Second order: the loss depends on the network only through dE/dy, so the head gets a gradient
    # exclusively through the differentiated energy gradients.
    assert policy.energy_net.head.weight.grad.abs().sum() > 0


def _fit_toy(meta) -> tuple[EBTPolicy, dict[str, torch.Tensor]]:
    """Train on chunks that are a fixed function of the observation; return the policy and held-out obs."""
    policy = make_policy(meta, dim=32, depth=2).train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3)

    def batch(seed: int, size: int) -> dict:
        obs = random_obs(meta, batch=size, horizon=2, seed=seed)
        normalized = torch.tanh(obs["agent_pos"][:, -1:, :]).expand(-1, 6, -1) * torch.linspace(0.5, 1.0, 6)[None, :, None]
        return {"obs": obs, "action": policy.normalizer.unnormalize("action", normalized)}

    for step in range(150):
        loss, _ = policy.compute_loss(batch(step, 64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return policy.eval(), batch(10_000, 32)


def test_a_descent_step_lowers_the_energy_of_a_trained_model_on_held_out_observations(low_dim_meta):
    policy, held_out = _fit_toy(low_dim_meta)
    tokens = policy.encode_obs(held_out["obs"])
    start = torch.randn(32, 6, 2, generator=torch.Generator().manual_seed(0))
    with torch.enable_grad():
        (after,), (before,) = policy.descend(tokens, start, 1, create_graph=False)
    with torch.no_grad():
        assert (policy.energy(tokens, after) < before).float().mean() > 0.9
        chunk = policy.predict_chunk(held_out["obs"], noise=start)
    target = policy.normalizer.normalize("action", held_out["action"])  # compare in normalized units, like the noise
    error = (policy.normalizer.normalize("action", chunk.full) - target).abs().mean()
    assert error < (start - target).abs().mean() / 3, (error, (start - target).abs().mean())


def test_inference_is_deterministic_given_noise_and_langevin_noise_is_training_only(low_dim_meta):
    policy = make_policy(low_dim_meta, langevin_std=0.5)
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    w = torch.randn(3, 6, 2)
    a, b = policy.predict_chunk(obs, noise=w), policy.predict_chunk(obs, noise=w)
    torch.testing.assert_close(a.full, b.full, rtol=0, atol=0)
    assert (policy.predict_chunk(obs, noise=torch.randn_like(w)).full - a.full).abs().max() > 1e-5
    assert a.actions.shape == (3, 3, 2) and a.info["energy"].shape == (3,) and a.info["steps"] == 2 and a.info["nfe"] == 3
    with pytest.raises(ValueError, match="noise must have shape"):
        policy.predict_chunk(obs, noise=w[:, :5])


def test_best_of_g_returns_the_lowest_energy_candidate_for_each_of_k_samples(low_dim_meta):
    policy = make_policy(low_dim_meta, candidates=3)
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    w = torch.randn(2, 4, 3, 6, 2)
    chunk = policy.predict_chunk(obs, num_samples=4, noise=w)
    assert chunk.full.shape == (2, 4, 6, 2) and chunk.info["energy"].shape == (2, 4)
    assert chunk.info["nfe"] == 3 * (2 + 1)  # three candidates, each two steps and the final energy
    policy.configure_inference(candidates=1)
    singles = [policy.predict_chunk(obs, num_samples=4, noise=w[:, :, g]) for g in range(3)]
    energies = torch.stack([s.info["energy"] for s in singles], dim=-1)  # (B, K, G)
    torch.testing.assert_close(chunk.info["energy"], energies.min(dim=-1).values, rtol=1e-5, atol=1e-6)
    best = energies.argmin(dim=-1)
    expected = torch.stack([singles[int(best[i, j])].full[i, j] for i in range(2) for j in range(4)]).reshape(2, 4, 6, 2)
    torch.testing.assert_close(chunk.full, expected, rtol=1e-5, atol=1e-6)


def test_warm_start_continues_from_the_shifted_previous_chunk_and_reset_forgets_it(low_dim_meta):
    policy = make_policy(low_dim_meta, warm_start=True, inference_steps=1)
    assert policy.executes_whole_chunks
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    first = policy.predict_chunk(obs, noise=torch.randn(2, 6, 2))
    previous = policy.normalizer.normalize("action", first.full)
    shifted = torch.cat([previous[:, 3:], previous[:, -1:].expand(-1, 3, -1)], dim=1)
    second = policy.predict_chunk(obs)
    torch.testing.assert_close(second.full, policy.predict_chunk(obs, noise=shifted).full, rtol=1e-5, atol=1e-5)
    policy.reset()
    assert policy._previous is None


def test_relative_chunks_are_descended_as_offsets_from_the_key_s_last_frame_and_returned_absolute(low_dim_meta):
    """With the step size ~0 the descent leaves its start alone, so the returned chunk is the start plus the anchor:
    each window's (and each of its K samples') own last ``agent_pos``, in normalized action units."""
    policy = make_policy(low_dim_meta, relative_to="agent_pos", candidates=2)
    policy.log_alpha.data.fill_(-40.0)
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    noise = torch.randn(3, 4, 2, 6, 2)  # (B, K, G, Tp, Da)
    chunk = policy.predict_chunk(obs, num_samples=4, noise=noise)
    anchor = policy.normalizer.normalize("action", obs["agent_pos"][:, -1])  # (B, Da)
    chosen = policy.normalizer.normalize("action", chunk.full) - anchor[:, None, None]  # (B, K, Tp, Da)
    assert chunk.full.shape == (3, 4, 6, 2)
    assert all(any(torch.allclose(chosen[i, j], noise[i, j, c], atol=1e-5) for c in range(2)) for i in range(3) for j in range(4))
    absolute = make_policy(low_dim_meta)
    absolute.log_alpha.data.fill_(-40.0)
    w = noise[:, 0, 0]
    torch.testing.assert_close(absolute.normalizer.normalize("action", absolute.predict_chunk(obs, noise=w).full), w)


def test_the_pace_gain_scales_the_offsets_from_the_anchor_and_leaves_the_energy_that_of_the_descended_chunk(low_dim_meta):
    policy = make_policy(low_dim_meta, relative_to="agent_pos", pace_gain=1.5)
    policy.log_alpha.data.fill_(-40.0)  # the descent leaves its start alone
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    noise = torch.randn(3, 6, 2)
    chunk = policy.predict_chunk(obs, noise=noise)
    anchor = policy.normalizer.normalize("action", obs["agent_pos"][:, -1:])  # (B, 1, Da)
    torch.testing.assert_close(policy.normalizer.normalize("action", chunk.full) - anchor, 1.5 * noise, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(chunk.info["energy"], policy.energy(policy.encode_obs(obs), noise).detach(), rtol=1e-5, atol=1e-6)
    policy.configure_inference(pace_gain=1.0)
    plain = policy.normalizer.normalize("action", policy.predict_chunk(obs, noise=noise).full) - anchor
    torch.testing.assert_close(plain, noise, rtol=1e-5, atol=1e-5)


def test_a_relative_warm_start_keeps_the_previous_chunk_where_it_was_in_the_workspace(low_dim_meta):
    policy = make_policy(low_dim_meta, relative_to="agent_pos", warm_start=True, inference_steps=1)
    first_obs, obs = random_obs(low_dim_meta, batch=2, horizon=2, seed=1), random_obs(low_dim_meta, batch=2, horizon=2, seed=2)
    previous = policy.normalizer.normalize("action", policy.predict_chunk(first_obs, noise=torch.randn(2, 6, 2)).full)
    shifted = torch.cat([previous[:, 3:], previous[:, -1:].expand(-1, 3, -1)], dim=1)
    offsets = shifted - policy.normalizer.normalize("action", obs["agent_pos"][:, -1:])
    second = policy.predict_chunk(obs)
    policy.reset()
    torch.testing.assert_close(second.full, policy.predict_chunk(obs, noise=offsets).full, rtol=1e-5, atol=1e-5)


def test_the_coherence_choice_picks_the_candidate_that_continues_the_previous_chunk(low_dim_meta):
    """With the step size ~0 every candidate stays at its start, so the choice can be read off the noise: without a
    previous chunk the lowest energy wins; after one, a large positive weight picks the candidate whose first Tp - Ta
    actions repeat the previous chunk's last Tp - Ta, whatever its energy, a large negative one the other; zero goes
    back to the energy alone."""
    policy = make_policy(low_dim_meta, candidates=2)
    policy.log_alpha.data.fill_(-40.0)
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    first_noise = torch.randn(2, 2, 6, 2)
    previous = policy.normalizer.normalize("action", policy.predict_chunk(obs, noise=first_noise).full)  # (B, Tp, Da)
    continuing = torch.cat([previous[:, 3:], torch.randn(2, 3, 2)], dim=1)
    tokens = policy.encode_obs(obs)
    draws = torch.randn(20, 2, 6, 2)  # the other candidate: the lowest-energy of 20 draws per window
    lowest = torch.stack([policy.energy(tokens, d) for d in draws]).argmin(dim=0)
    noise = torch.stack([draws[lowest, torch.arange(2)], continuing], dim=1)  # candidate 1 continues the previous chunk
    energies = torch.stack([policy.energy(tokens, noise[:, c]) for c in range(2)], dim=1).detach()  # (B, G)
    assert (energies.argmin(dim=1) == 0).all(), "the test needs the continuing candidate to have the higher energy"

    def second_choice(weight: float) -> torch.Tensor:
        policy.configure_inference(coherence_weight=weight)  # also forgets the previous chunk
        assert policy.executes_whole_chunks == (weight != 0)
        policy.predict_chunk(obs, noise=first_noise)
        chunk = policy.predict_chunk(obs, noise=noise)
        chosen = policy.normalizer.normalize("action", chunk.full)
        index = torch.tensor([int(torch.allclose(chosen[i], noise[i, 1], atol=1e-5)) for i in range(2)])
        torch.testing.assert_close(chunk.info["energy"], energies[torch.arange(2), index], rtol=1e-5, atol=1e-5)
        return index

    assert second_choice(1e6).tolist() == [1, 1]
    assert second_choice(-1e6).tolist() == [0, 0]
    assert second_choice(0.0).tolist() == energies.argmin(dim=1).tolist()


def test_early_stop_ends_the_descent_when_the_energy_stops_falling(low_dim_meta):
    policy = make_policy(low_dim_meta, inference_steps=5)
    obs = random_obs(low_dim_meta, batch=2, horizon=2)
    assert policy.predict_chunk(obs).info["steps"] == 5
    policy.configure_inference(early_stop_tol=1e9)
    assert policy.predict_chunk(obs).info["steps"] == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"train_steps_min": 3, "train_steps_max": 2}, "train_steps_min <= train_steps_max"),
        ({"step_size": 0.0}, "step_size must be positive"),
        ({"candidates": 0}, "candidates must be a positive integer"),
        ({"langevin_std": -1.0}, "langevin_std must be >= 0"),
        ({"matching_weight": -1.0}, "matching_weight must be >= 0"),
        ({"action_patch": 4}, "action_patch \\(4\\) must divide policy.pred_horizon \\(6\\)"),
        ({"action_patch": 0}, "action_patch must be a positive integer"),
        ({"ranking_weight": 1.0, "train_starts": 1}, "set policy.train_starts to 2 or more"),
        ({"ranking_weight": -1.0}, "ranking_weight must be >= 0"),
        ({"relative_to": "gripper"}, "'gripper' is not a low-dim observation key of this task"),
        ({"relative_to": "object"}, "has shape \\(4,\\), but offsets need the action's shape \\(2,\\)"),
        ({"distance": "l1"}, "distance must be 'squared' or 'euclidean', got 'l1'"),
        ({"pace_gain": 1.5}, "predicts absolute actions \\(relative_to is null\\); leave pace_gain at 1"),
        ({"pace_gain": 0.0, "relative_to": "agent_pos"}, "pace_gain must be positive"),
    ],
)
def test_config_errors(low_dim_meta, overrides, message):
    with pytest.raises(ValueError, match=message):
        make_policy(low_dim_meta, **overrides)
    with pytest.raises(ValueError, match="ebt inference options"):
        make_policy(low_dim_meta).configure_inference(sampler="ddim")


@pytest.mark.parametrize("distance", ["squared", "euclidean"])
@pytest.mark.parametrize("loss_on_all_steps", [True, False])
def test_several_training_starts_give_the_gradient_of_regressing_only_each_window_s_best_descent(
    low_dim_meta, loss_on_all_steps, distance
):
    """The loss picks the best of K starts without a graph and descends only the winner with one; the loss and the
    gradients must equal those of unrolling all K with a graph and keeping each window's smallest error, measured
    as the mean squared error or as the Euclidean distance between the whole chunks."""
    policy = make_policy(low_dim_meta, train_starts=3, train_steps_min=2, train_steps_max=2,
                         loss_on_all_steps=loss_on_all_steps, distance=distance).train()
    obs, actions = random_obs(low_dim_meta, batch=4, horizon=2), torch.rand(4, 6, 2)
    torch.manual_seed(5)
    loss, metrics = policy.compute_loss({"obs": obs, "action": actions})
    loss.backward()
    grads = [p.grad.clone() for p in policy.energy_net.parameters()]
    policy.zero_grad()

    torch.manual_seed(5)
    target = policy.normalizer.normalize("action", actions).repeat_interleave(3, dim=0)
    starts = policy.cfg.init_std * torch.randn(12, 6, 2)
    chunks, _ = policy.descend(policy.encode_obs(obs).repeat_interleave(3, dim=0), starts, 2, create_graph=True)
    errors = torch.stack([(y - target).pow(2).mean(dim=(1, 2)) for y in chunks]).view(2, 4, 3)
    distances = errors if distance == "squared" else torch.stack([(y - target).flatten(1).norm(dim=1) for y in chunks]).view(2, 4, 3)
    per_start = distances.mean(dim=0) if loss_on_all_steps else distances[-1]
    assert not torch.allclose(per_start.min(dim=1).values, per_start.mean(dim=1))  # the choice matters here
    expected = per_start.min(dim=1).values.mean()
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert metrics["final_mse"] == pytest.approx(errors[-1].gather(1, per_start.argmin(1, keepdim=True)).mean().item(), rel=1e-5)
    for got, p in zip(grads, policy.energy_net.parameters()):
        torch.testing.assert_close(got, p.grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(("distance", "winner"), [("squared", 1), ("euclidean", 0)])
def test_the_winning_start_is_the_one_with_the_smallest_error_in_the_configured_distance(low_dim_meta, monkeypatch, distance, winner):
    """Over two steps, start 0 lands at distances 0 then 2 from the demonstration, start 1 at 1.1 and 1.1: the mean
    distance prefers start 0 (1.0 < 1.1), the mean squared error start 1 (1.21 < 2.0)."""
    policy = make_policy(low_dim_meta, distance=distance)
    target = torch.zeros(1, 6, 2)
    along = torch.zeros(6, 2)
    along[0, 0] = 1.0  # a unit step in one action coordinate
    landed = [torch.stack([0.0 * along, 1.1 * along]), torch.stack([2.0 * along, 1.1 * along])]
    monkeypatch.setattr(policy, "descend", lambda *args, **kwargs: (landed, []))
    best, _, _ = policy._best_starts(torch.zeros(1, 2, 16), torch.zeros(1, 2, 6, 2), None, target, steps=2)
    assert best.tolist() == [winner]


@pytest.mark.parametrize("relative_to", [None, "agent_pos"])
def test_one_training_start_is_the_plain_mean_squared_error(low_dim_meta, relative_to):
    """With ``relative_to`` the regression target is the chunk's offset from the key's last frame."""
    policy = make_policy(low_dim_meta, train_starts=1, train_steps_min=2, train_steps_max=2, relative_to=relative_to).train()
    obs, actions = random_obs(low_dim_meta, batch=5, horizon=2), torch.rand(5, 6, 2)
    torch.manual_seed(3)
    loss, _ = policy.compute_loss({"obs": obs, "action": actions})
    torch.manual_seed(3)
    target = policy.normalizer.normalize("action", actions)
    if relative_to:
        target = target - policy.normalizer.normalize("action", obs["agent_pos"][:, -1:])
    chunks, _ = policy.descend(policy.encode_obs(obs), policy.cfg.init_std * torch.randn_like(target), 2, create_graph=True)
    expected = torch.stack([torch.nn.functional.mse_loss(y, target) for y in chunks]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize(("offset", "expected"), [(0.0, 0.0), (0.1, 0.1**2)])
def test_the_matching_term_asks_one_step_from_a_noised_demonstration_to_land_on_it(low_dim_meta, monkeypatch, offset, expected):
    """E = |y - x - offset|^2 / (2 alpha): one step from any y lands at x + offset, so the term is offset^2."""
    policy = make_policy(low_dim_meta, train_starts=1, train_steps_min=1, train_steps_max=1, matching_weight=2.0).train()
    actions = torch.rand(4, 6, 2)
    target = policy.normalizer.normalize("action", actions)
    landed = target.clone().requires_grad_()  # the unrolled loss is zero, so only the matching term is left
    monkeypatch.setattr(policy, "descend", lambda *args, **kwargs: ([landed], [torch.zeros(4)]))
    monkeypatch.setattr(policy, "energy", lambda tokens, y: (y - target - offset).pow(2).sum(dim=(1, 2)) / (2 * policy.alpha))
    loss, metrics = policy.compute_loss({"obs": random_obs(low_dim_meta, batch=4, horizon=2), "action": actions})
    assert metrics["matching"] == pytest.approx(expected, abs=1e-7)
    assert loss.item() == pytest.approx(2.0 * expected, abs=1e-7)


def test_the_matching_term_trains_the_network_and_the_step_size(low_dim_meta):
    policy = make_policy(low_dim_meta, matching_weight=1.0).train()
    loss = policy._matching_loss(policy.encode_obs(random_obs(low_dim_meta, batch=8, horizon=2)), torch.randn(8, 6, 2))
    loss.backward()
    assert loss.item() > 0 and policy.log_alpha.grad.abs() > 0 and policy.energy_net.head.weight.grad.abs().sum() > 0


def test_the_ranking_term_adds_its_weighted_cross_entropy_to_the_unchanged_descent_loss(low_dim_meta):
    obs, actions = random_obs(low_dim_meta, batch=6, horizon=2), torch.rand(6, 6, 2)
    losses = {}
    for weight in (0.0, 0.5):
        policy = make_policy(low_dim_meta, train_starts=4, ranking_weight=weight).train()
        seed_everything(7)
        losses[weight] = policy.compute_loss({"obs": obs, "action": actions})
    (plain, plain_logs), (ranked, logs) = losses[0.0], losses[0.5]
    assert logs["final_mse"] == pytest.approx(plain_logs["final_mse"], rel=1e-6)
    assert logs["ranking"] > 0 and 0.0 <= logs["ranking_hits"] <= 1.0
    assert ranked.item() == pytest.approx(plain.item() + 0.5 * logs["ranking"], rel=1e-5)


def test_the_ranking_term_teaches_the_lowest_energy_to_mark_the_descent_closest_to_the_demonstration(low_dim_meta):
    """Trained on the ranking term alone over fixed landed chunks, the energy's argmin over each window's K chunks
    must come to agree with the smallest error (from chance, 1 / K); ranking the other way round would drive it to 0."""
    policy = make_policy(low_dim_meta, dim=32, depth=2, train_starts=4, ranking_weight=1.0).train()
    obs = random_obs(low_dim_meta, batch=16, horizon=2)
    landed, error = torch.randn(16, 4, 6, 2), torch.rand(16, 4)
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-3)
    _, hits_before = policy._ranking_loss(policy.encode_obs(obs), landed, error)
    for _ in range(150):
        loss, _ = policy._ranking_loss(policy.encode_obs(obs), landed, error)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    energy = policy.energy(policy.encode_obs(obs).repeat_interleave(4, dim=0), landed.flatten(0, 1)).view(16, 4)
    assert hits_before < 0.5
    assert (energy.argmin(dim=1) == error.argmin(dim=1)).float().mean().item() >= 0.9
