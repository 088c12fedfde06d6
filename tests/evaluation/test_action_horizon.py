"""Evaluating a checkpoint while executing another number of actions per chunk (scripts/eval.py action_horizon=N)."""

from __future__ import annotations

import json

import pytest
import torch

import robopolicy.workflows as workflows
from robopolicy.core import ChunkSpec, save_checkpoint
from tests.conftest import random_obs
from tests.policies.test_streaming import SPEC as STREAMING_SPEC
from tests.policies.test_streaming import make_policy as make_streaming_policy

PUSHT = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"max_steps": 10}}


@pytest.fixture
def evaluated(monkeypatch) -> list:
    """The policies handed to the evaluator (the rollouts themselves are not what these tests are about)."""
    policies = []
    monkeypatch.setattr(workflows, "evaluate_to_dir", lambda policy, *args, **kwargs: policies.append(policy))
    return policies


def test_the_evaluated_policy_executes_the_requested_number_of_actions_with_the_same_weights(
        tmp_path, tiny_policy, low_dim_meta, evaluated):
    checkpoint = save_checkpoint(tmp_path / "ckpt", tiny_policy, config={"env_args": PUSHT})
    workflows.evaluate_checkpoint(checkpoint, action_horizon=2)
    workflows.evaluate_checkpoint(checkpoint)
    shorter, stored = evaluated
    assert shorter.chunk_spec == ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=2)
    assert stored.chunk_spec == tiny_policy.chunk_spec == ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)
    obs = random_obs(low_dim_meta, batch=3, horizon=2)
    short_chunk, stored_chunk = shorter.predict_chunk(obs), stored.predict_chunk(obs)
    assert short_chunk.actions.shape == (3, 2, 2) and stored_chunk.actions.shape == (3, 4, 2)
    torch.testing.assert_close(short_chunk.full, stored_chunk.full)
    torch.testing.assert_close(short_chunk.actions, stored_chunk.full[:, 1:3])  # the slice [To-1, To-1+Ta)


def test_a_horizon_past_the_chunk_is_refused_before_any_episode_runs(tmp_path, tiny_policy, evaluated):
    checkpoint = save_checkpoint(tmp_path / "ckpt", tiny_policy, config={"env_args": PUSHT})
    refused = r"cannot execute action_horizon=8 actions per chunk: .*exceeds pred_horizon = 8"
    with pytest.raises(ValueError, match=refused):
        workflows.evaluate_checkpoint(checkpoint, action_horizon=8)
    assert evaluated == []


def test_streaming_diffusion_policy_refuses_another_horizon(tmp_path, low_dim_meta, evaluated):
    """Its buffer is built from chunks of the Ta it was trained with."""
    checkpoint = save_checkpoint(tmp_path / "ckpt", make_streaming_policy(low_dim_meta), config={"env_args": PUSHT})
    workflows.evaluate_checkpoint(checkpoint, action_horizon=STREAMING_SPEC.action_horizon)  # its own Ta is fine
    refused = r"cannot execute action_horizon=2 actions per chunk: streaming: pred_horizon=7"
    with pytest.raises(ValueError, match=refused):
        workflows.evaluate_checkpoint(checkpoint, action_horizon=2)
    assert len(evaluated) == 1


def test_the_evaluation_file_records_the_checkpoint_and_the_horizon_it_ran_with(tmp_path, tiny_policy):
    checkpoint = save_checkpoint(tmp_path / "ckpt", tiny_policy, config={"env_args": PUSHT})
    workflows.evaluate_checkpoint(checkpoint, action_horizon=2, num_episodes=1, num_envs=1, video_episodes=0,
                                  output_dir=tmp_path / "eval", weights="model")
    written = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert written["source"] == {"checkpoint": str(checkpoint), "weights": "model"}
    assert written["chunk_spec"] == {"obs_horizon": 2, "pred_horizon": 8, "action_horizon": 2}
    assert written["policy_config"] == {"hidden": 16} and written["num_episodes"] == 1
