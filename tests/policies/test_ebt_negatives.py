"""Observations mixed from two windows (the negatives of EBT's contrastive energy term) and what the term trains."""

from __future__ import annotations

import pytest
import torch

from robopolicy.core import ChunkSpec, ObsSpec, ShapeMeta
from robopolicy.policies.ebt import EBTPolicy
from robopolicy.policies.ebt.negatives import mixed_observations
from tests.conftest import fitted_normalizer, random_obs
from tests.policies.test_ebt import make_policy


def _taken_from(mixed: dict, obs: dict, i: int, j: int) -> torch.Tensor | None:
    """(K, To) True where sample i's mixed cell (key, frame) is window j's and not its own; None when some cell
    is neither window i's nor window j's."""
    def same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # (To,): frame equal in every element
        return (a == b).flatten(1).all(-1)

    taken = []
    for key in sorted(obs):
        own, other = same(mixed[key][i], obs[key][i]), same(mixed[key][i], obs[key][j])
        if not (own | other).all():
            return None
        taken.append(other & ~own)
    return torch.stack(taken)


@pytest.mark.parametrize("meta_name", ["low_dim_meta", "image_meta"])
def test_each_mixed_observation_takes_some_but_not_all_of_itself_from_one_other_window(meta_name, request):
    obs = random_obs(request.getfixturevalue(meta_name), batch=64, horizon=3)
    mixed = mixed_observations(obs, torch.Generator().manual_seed(0))
    assert {k: (v.shape, v.dtype) for k, v in mixed.items()} == {k: (v.shape, v.dtype) for k, v in obs.items()}
    recipes = {"keys": 0, "frames": 0}
    for i in range(64):
        donors = {j: t for j in range(64) if j != i and (t := _taken_from(mixed, obs, i, j)) is not None and t.any()}
        assert len(donors) == 1, f"sample {i} mixes with {sorted(donors)}"
        (taken,) = donors.values()  # (K, To)
        assert 0 < taken.sum() < taken.numel()
        by_key = bool((taken.all(dim=1) | ~taken.any(dim=1)).all())  # whole keys (every frame) taken
        by_frame = bool((taken.all(dim=0) | ~taken.any(dim=0)).all())  # whole frames (every key) taken
        assert by_key != by_frame, taken
        recipes["keys" if by_key else "frames"] += 1
    assert min(recipes.values()) >= 16, recipes  # both recipes are drawn


def test_one_key_mixes_frames_and_one_frame_mixes_keys(low_dim_meta):
    obs = random_obs(low_dim_meta, batch=8, horizon=2)
    one_key = mixed_observations({"agent_pos": obs["agent_pos"]}, torch.Generator().manual_seed(1))["agent_pos"]
    assert ((one_key == obs["agent_pos"]).all(-1).sum(-1) == 1).all()  # exactly one of the two frames replaced
    one_frame = mixed_observations({k: v[:, :1] for k, v in obs.items()}, torch.Generator().manual_seed(1))
    replaced = torch.stack([(one_frame[k] != obs[k][:, :1]).any(-1)[:, 0] for k in sorted(obs)], dim=1)  # (B, 2)
    assert (replaced.sum(dim=1) == 1).all()  # exactly one of the two keys replaced


def test_mixing_needs_two_windows_and_something_to_mix(low_dim_meta):
    with pytest.raises(ValueError, match="at least 2 windows"):
        mixed_observations(random_obs(low_dim_meta, batch=1, horizon=2))
    with pytest.raises(ValueError, match="two observation keys or an observation history"):
        mixed_observations({"agent_pos": torch.zeros(4, 1, 2)})
    one_key = ShapeMeta(obs={"agent_pos": ObsSpec((2,))}, action_dim=2)
    spec = ChunkSpec(obs_horizon=1, pred_horizon=6, action_horizon=3)
    with pytest.raises(ValueError, match="set policy.contrastive_weight=0 or policy.obs_horizon=2"):
        EBTPolicy(one_key, spec, fitted_normalizer(one_key), {"dim": 16, "depth": 1, "heads": 2, "contrastive_weight": 1})
    EBTPolicy(one_key, spec, fitted_normalizer(one_key), {"dim": 16, "depth": 1, "heads": 2, "contrastive_weight": 0})


def _consistent_batch(policy, size: int, seed: int) -> dict:
    """Windows whose keys and frames agree: the block sits 0.3 beside the pusher, which moves by a small step
    between frames; chunks are a fixed function of the pusher position."""
    g = torch.Generator().manual_seed(seed)
    start, step = torch.randn(size, 1, 2, generator=g), 0.1 * torch.randn(size, 1, 2, generator=g)
    pusher = torch.cat([start, start + step], dim=1)  # (B, 2, 2)
    angle = torch.rand(size, 1, 1, generator=g).expand(-1, 2, -1) * 6.28
    obs = {"agent_pos": pusher, "object": torch.cat([pusher + 0.3, angle.cos(), angle.sin()], dim=-1)}
    chunk = torch.tanh(pusher[:, -1:, :]).expand(-1, 6, -1) * torch.linspace(0.5, 1.0, 6)[None, :, None]
    return {"obs": obs, "action": policy.normalizer.unnormalize("action", chunk)}


def test_the_contrastive_term_trains_the_final_energy_higher_on_mixed_observations(low_dim_meta):
    policy = make_policy(low_dim_meta, dim=32, depth=2, contrastive_weight=1.0).train()
    loss, logs = policy.compute_loss(_consistent_batch(policy, 8, seed=0))
    loss.backward()
    assert {"contrastive", "energy_gap"} <= set(logs) and logs["loss"] > logs["contrastive"] > 0
    assert all(p.grad is not None for p in policy.encoder.parameters())
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    for step in range(150):
        loss, logs = policy.compute_loss(_consistent_batch(policy, 64, seed=step + 1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.eval()
    held_out = _consistent_batch(policy, 200, seed=10_000)["obs"]
    noise = torch.randn(200, 6, 2, generator=torch.Generator().manual_seed(0))
    clean = policy.predict_chunk(held_out, noise=noise).info["energy"]
    mixed = policy.predict_chunk(mixed_observations(held_out, torch.Generator().manual_seed(0)), noise=noise).info["energy"]
    auroc = (mixed[:, None] > clean[None, :]).float().mean()
    assert auroc > 0.9, f"AUROC of mixed against clean observations {auroc:.3f}"
