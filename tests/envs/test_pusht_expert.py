"""The scripted Push-T expert solves random starts, varies its demonstrations, and collection writes them."""

from __future__ import annotations

import h5py
import numpy as np

from robopolicy.data import load_demos, read_env_args
from robopolicy.data.collect import collect_demos, rollout_expert
from robopolicy.envs import make_env
from robopolicy.envs.experts import make_expert

ENV_ARGS = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {}}


def test_expert_succeeds_on_random_starts():
    env = make_env(ENV_ARGS)
    episodes = [rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(s)), s) for s in range(5)]
    assert sum(e.success for e in episodes) >= 4
    for e in episodes:
        assert len(e.actions) <= 300 and np.abs(e.actions).max() <= env.unwrapped.action_space.high.max()
        assert e.states.shape == (len(e.actions), 12) and e.next_obs["object"].shape == e.obs["object"].shape


def test_expert_varies_its_demonstrations_from_one_start():
    env = make_env(ENV_ARGS)
    varied = 0
    for seed in range(3):
        runs = [rollout_expert(env, make_expert(ENV_ARGS["env_name"], env, np.random.default_rng(r)), seed) for r in range(3)]
        first = np.stack([np.pad(r.actions, ((0, 15), (0, 0)), mode="edge")[:15] for r in runs])  # (3, 15, 2)
        varied += np.ptp(first, axis=0).max() > 0.01  # paths more than 1 cm apart: a different push was chosen
    assert varied >= 2


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
