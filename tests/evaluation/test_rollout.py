"""The evaluator: per-episode means of what a family reports per environment in Chunk.info, and its seeds."""

from __future__ import annotations

import pytest
import torch

from robopolicy.envs import SEED_STARTS
from robopolicy.evaluation.rollout import evaluate_policy
from robopolicy.workflows import evaluate_checkpoint
from tests.tiny_policy import TinyPolicy

PUSHT = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"max_steps": 10}}


class CountingPolicy(TinyPolicy):
    """Reports, per environment, how many chunks it has predicted so far as its "energy"."""

    def reset(self) -> None:
        self.calls = 0

    def predict_chunk(self, obs, **kwargs):
        chunk = super().predict_chunk(obs, **kwargs)
        self.calls += 1
        chunk.info["energy"] = torch.full((obs["agent_pos"].shape[0],), float(self.calls))
        chunk.info["not_per_env"] = torch.zeros(7)
        return chunk


def test_per_environment_chunk_info_is_averaged_per_episode(low_dim_meta, chunk_spec, tiny_policy):
    policy = CountingPolicy(low_dim_meta, chunk_spec, tiny_policy.normalizer, {})
    result = evaluate_policy(policy, PUSHT, num_episodes=3, num_envs=3, progress=False)
    # 10 steps with Ta = 4: chunks at steps 0, 4 and 8 (energies 1, 2, 3) in every episode.
    assert result.episode_length == [10, 10, 10]
    assert result.episode_info == {"energy": [2.0, 2.0, 2.0]}


class NoiseRecordingPolicy(TinyPolicy):
    """Records the first number it draws from the evaluator's generator at each chunk."""

    def reset(self) -> None:
        self.draws = []

    def predict_chunk(self, obs, *, generator=None, **kwargs):
        self.draws.append(float(torch.randn(1, generator=generator)))
        return super().predict_chunk(obs, **kwargs)


def test_the_noise_seed_seeds_the_policy_s_sampling_and_is_recorded(low_dim_meta, chunk_spec, tiny_policy):
    def draws(noise_seed: int) -> tuple[list[float], int]:
        policy = NoiseRecordingPolicy(low_dim_meta, chunk_spec, tiny_policy.normalizer, {})
        result = evaluate_policy(policy, PUSHT, num_episodes=2, num_envs=2, noise_seed=noise_seed, progress=False)
        return policy.draws, result.noise_seed

    (first, recorded), (again, _), (other, other_recorded) = draws(0), draws(0), draws(1)
    assert len(first) == 3 and first == again and recorded == 0
    assert other != first and other_recorded == 1


def test_a_seed_range_is_chosen_by_name_and_an_unknown_name_is_refused_before_anything_loads(tmp_path):
    assert SEED_STARTS == {"evaluation": 1_000_000, "validation": 2_000_000}  # a million episodes apart
    with pytest.raises(ValueError, match=r"seeds must be one of \['evaluation', 'validation'\], got 'test'"):
        evaluate_checkpoint(tmp_path / "no-checkpoint-here", seeds="test")
