"""The scripted Push-T expert solves random starts deterministically, its push model matches the physics, and collection writes demos."""

from __future__ import annotations

import h5py
import numpy as np

from robopolicy.data import load_demos, read_env_args
from robopolicy.data.collect import collect_demos, rollout_expert
from robopolicy.envs import make_env
from robopolicy.envs.experts import make_expert
from robopolicy.envs.pusht.expert import ROTATION_SCALE, _push_response, candidate_contacts
from robopolicy.envs.pusht.model import PUSHER_RADIUS

ENV_ARGS = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {}}


def test_expert_succeeds_on_random_starts():
    env = make_env(ENV_ARGS)
    episodes = [rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(s)), s) for s in range(5)]
    assert all(e.success for e in episodes)
    for e in episodes:
        assert len(e.actions) <= 300 and np.abs(e.actions).max() <= env.unwrapped.action_space.high.max()
        assert e.states.shape == (len(e.actions), 12) and e.next_obs["object"].shape == e.obs["object"].shape


def test_expert_is_a_deterministic_function_of_the_episode():
    env = make_env(ENV_ARGS)
    runs = [rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(r)), 7) for r in (0, 1)]
    np.testing.assert_array_equal(runs[0].actions, runs[1].actions)


def test_push_response_predicts_how_the_block_moves():
    """Pushing at a candidate contact moves the block along the twist the expert's mobility model predicts."""
    env = make_env(ENV_ARGS).unwrapped
    env.reset(seed=3)
    pose = env.block_pose
    centres, directions = candidate_contacts()
    rotation = np.array([[np.cos(pose[2]), -np.sin(pose[2])], [np.sin(pose[2]), np.cos(pose[2])]])
    state = env.get_state()
    pusher_q = [env.model.joint(n).qposadr[0] for n in ("pusher_x", "pusher_y")]
    cosines = []
    for i in np.linspace(0, len(centres) - 1, 12).astype(int):
        centre, direction = rotation @ centres[i] + pose[:2], rotation @ directions[i]
        start = state.copy()
        start[pusher_q] = start[10:12] = centre - direction * 0.002  # just behind the contact, at rest
        env.reset(options={"state": start})
        env.step(centre + direction * 0.01)
        moved = env.block_pose - pose
        predicted = _push_response((centre + direction * PUSHER_RADIUS - pose[:2])[None], direction[None])[0]
        scale = np.array([1.0, 1.0, ROTATION_SCALE])
        cosines.append(moved * scale @ (predicted * scale) / np.linalg.norm(moved * scale) / np.linalg.norm(predicted * scale))
    assert np.median(cosines) > 0.9 and min(cosines) > 0.5, cosines


def test_collect_writes_successful_episodes_with_a_report(tmp_path):
    output = tmp_path / "demos.hdf5"
    report = collect_demos(ENV_ARGS, output, 3, workers=2, video_path=tmp_path / "demos.mp4", video_episodes=1, progress=False)
    assert report.demos_written == 3 and report.attempts >= 3 and 0.0 < report.success_rate <= 1.0
    assert "expert success rate" in report.summary()
    assert read_env_args(output) == ENV_ARGS
    demos = load_demos(output, ["agent_pos", "object"])
    assert len(demos) == 3 and all(d.attrs["seed"] < 3 + report.attempts for d in demos)
    with h5py.File(output) as f:
        assert f["data"].attrs["total"] == report.env_steps == sum(len(d) for d in demos)
    assert report.video is not None and report.video.stat().st_size > 1000


def test_dart_noise_perturbs_the_executed_actions_but_records_the_experts():
    env = make_env(ENV_ARGS)
    clean = rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(0)), 2)
    noisy = rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(0)), 2, action_noise=0.003)
    executed = lambda e: e.states[1:, 10:12]  # noqa: E731 - the state's ctrl is the previous step's executed action
    np.testing.assert_allclose(executed(clean), clean.actions[:-1])
    deviation = executed(noisy) - noisy.actions[:-1]
    assert 0.002 < deviation.std() < 0.004 and noisy.success
