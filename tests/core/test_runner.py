import numpy as np
import pytest
import torch

from robopolicy.core import Chunk, ChunkSpec, Policy, PolicyRunner, ShapeMeta
from robopolicy.core.normalizer import Normalizer
from robopolicy.core.shape_meta import ObsSpec


class CountingPolicy(Policy):
    """Predicts full[b, i] = [calls, i] and records the observation windows it was given."""

    def __init__(self, spec: ChunkSpec) -> None:
        meta = ShapeMeta(obs={"x": ObsSpec((1,))}, action_dim=2)
        super().__init__(meta, spec, Normalizer(meta), {})
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.calls = 0
        self.windows: list[np.ndarray] = []
        self.resets = 0

    def compute_loss(self, batch):
        raise AssertionError("not used")

    def predict_chunk(self, obs, *, num_samples=1, noise=None, generator=None):
        self.windows.append(obs["x"].numpy().copy())
        b, tp = obs["x"].shape[0], self.chunk_spec.pred_horizon
        full = torch.stack([torch.full((b, tp), float(self.calls)), torch.arange(tp).expand(b, tp).float()], dim=-1)
        self.calls += 1
        return Chunk(actions=full[:, self.chunk_spec.executed], full=full, info={"nfe": 3})

    def reset(self):
        self.resets += 1


def _obs(t: int, batch: int = 2) -> dict[str, np.ndarray]:
    return {"x": np.full((batch, 1), float(t))}


def test_new_chunk_exactly_every_action_horizon_and_executed_slice_in_order():
    spec = ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4)
    policy = CountingPolicy(spec)
    runner = PolicyRunner(policy)
    actions = [runner.act(_obs(t)) for t in range(12)]
    assert policy.calls == 3
    assert [a[0, 0] for a in actions] == [0] * 4 + [1] * 4 + [2] * 4  # chunk index
    assert [a[0, 1] for a in actions] == [1, 2, 3, 4] * 3  # positions [To-1, To-1+Ta)
    assert runner.stats.nfe == [3, 3, 3] and len(runner.stats.latencies) == 3


def test_history_is_padded_with_the_first_observation_then_slides():
    policy = CountingPolicy(ChunkSpec(obs_horizon=3, pred_horizon=8, action_horizon=2))
    runner = PolicyRunner(policy)
    for t in range(5):
        runner.act(_obs(t, batch=1))
    windows = [w[0, :, 0].tolist() for w in policy.windows]
    assert windows == [[0, 0, 0], [0, 1, 2], [2, 3, 4]]


def test_replan_every_drops_the_rest_of_the_chunk():
    policy = CountingPolicy(ChunkSpec(obs_horizon=1, pred_horizon=8, action_horizon=6))
    runner = PolicyRunner(policy, replan_every=2)
    actions = [runner.act(_obs(t))[0] for t in range(6)]
    assert policy.calls == 3
    assert [a.tolist() for a in actions] == [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]
    with pytest.raises(ValueError, match="replan_every"):
        PolicyRunner(policy, replan_every=7)


def test_reset_clears_history_queue_and_policy_state():
    policy = CountingPolicy(ChunkSpec(obs_horizon=2, pred_horizon=8, action_horizon=4))
    runner = PolicyRunner(policy)
    runner.act(_obs(5))
    runner.reset()
    runner.act(_obs(9))
    assert policy.calls == 2  # the queued actions of the first chunk were dropped
    assert policy.windows[-1][0, :, 0].tolist() == [9, 9]
    assert policy.resets == 2  # once at construction, once on reset


def test_temporal_ensemble_averages_overlapping_predictions_oldest_first():
    policy = CountingPolicy(ChunkSpec(obs_horizon=1, pred_horizon=4, action_horizon=4))
    k = 0.5
    runner = PolicyRunner(policy, temporal_ensemble=k)
    a0, a1, a2 = (runner.act(_obs(t))[0] for t in range(3))
    assert policy.calls == 3
    assert a0.tolist() == [0, 0]
    w = np.exp(-k * np.arange(3))
    # At tick 2, chunk c (made at tick c) predicts position 2-c for it, with value c in the first dim.
    expected = np.array([np.dot(w, [0, 1, 2]), np.dot(w, [2, 1, 0])]) / w.sum()
    assert np.allclose(a2, expected)
    assert np.allclose(a1, np.array([np.dot(w[:2], [0, 1]), np.dot(w[:2], [1, 0])]) / w[:2].sum())
