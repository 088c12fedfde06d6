"""Evaluating the same episodes under several noise seeds: the spread's arithmetic and the files it writes."""

from __future__ import annotations

import json

import pytest

from robopolicy.evaluation import EvalResult, evaluate_over_noise_seeds, noise_seed_spread
from tests.evaluation.test_rollout import PUSHT, NoiseRecordingPolicy


def result(noise_seed: int, success: list[bool], mean_score: float, seed_start: int = 1_000_000) -> EvalResult:
    return EvalResult(success_rate=sum(success) / len(success), mean_score=mean_score, num_episodes=len(success),
                      latency_ms_median=1.0, latency_ms_p95=1.0, nfe=1, batch_size=len(success), seed_start=seed_start,
                      noise_seed=noise_seed, episode_success=success)


def test_the_spread_is_the_mean_its_standard_error_and_the_episodes_every_seed_agrees_on():
    spread = noise_seed_spread([result(0, [True, False, True, False, False], 0.8),
                                result(1, [True, False, False, False, False], 0.6),
                                result(2, [True, True, False, False, False], 0.7)])
    assert spread.noise_seeds == [0, 1, 2] and spread.num_episodes == 5
    assert spread.success_rate == [0.4, 0.2, 0.4]
    assert spread.success_rate_mean == pytest.approx(1 / 3) and spread.mean_score_mean == pytest.approx(0.7)
    assert spread.success_rate_sem == pytest.approx(0.115470054 / 3**0.5)  # sample std of the three rates / sqrt(3)
    assert spread.always_succeed == 0.2 and spread.never_succeed == 0.4  # episode 0 always, episodes 3 and 4 never
    assert "0.333 +- 0.067" in spread.summary() and "0.400 / 0.200 / 0.400" in spread.summary()
    assert noise_seed_spread([result(4, [True, False], 0.5)]).success_rate_sem == 0.0


def test_evaluations_of_different_episodes_are_not_pooled():
    with pytest.raises(ValueError, match="different episodes"):
        noise_seed_spread([result(0, [True, False], 0.5), result(1, [True, False, True], 0.5)])
    with pytest.raises(ValueError, match="different episodes"):
        noise_seed_spread([result(0, [True], 0.5), result(1, [True], 0.5, seed_start=2_000_000)])


class KeepsEveryDraw(NoiseRecordingPolicy):
    """Keeps its draws across the resets between evaluations."""

    def reset(self) -> None:
        self.draws = getattr(self, "draws", [])


def test_each_noise_seed_gets_its_own_evaluation_and_the_spread_is_written(tmp_path, low_dim_meta, chunk_spec,
                                                                           tiny_policy):
    policy = KeepsEveryDraw(low_dim_meta, chunk_spec, tiny_policy.normalizer, {})
    spread = evaluate_over_noise_seeds(policy, PUSHT, tmp_path, [3, 5], num_episodes=2, num_envs=2, video_episodes=0,
                                       progress=False)
    for n in (3, 5):
        assert json.loads((tmp_path / f"noise_seed_{n}" / "eval.json").read_text())["noise_seed"] == n
    written = json.loads((tmp_path / "noise_seeds.json").read_text())
    assert written["noise_seeds"] == [3, 5] == spread.noise_seeds and written["num_episodes"] == 2
    assert written["success_rate_mean"] == spread.success_rate_mean
    assert len(policy.draws) == 6 and policy.draws[:3] != policy.draws[3:]  # 3 chunks per evaluation, other noise


@pytest.mark.parametrize("seeds", [[], [1, 1]])
def test_an_empty_or_repeated_list_of_noise_seeds_is_refused_before_any_episode(tmp_path, seeds, low_dim_meta,
                                                                                 chunk_spec, tiny_policy):
    with pytest.raises(ValueError, match="non-empty list without repeats"):
        evaluate_over_noise_seeds(tiny_policy, PUSHT, tmp_path, seeds, num_episodes=1, num_envs=1)
    assert not any(tmp_path.iterdir())
