import gymnasium as gym
import numpy as np
import pytest

from shapely.geometry import Point

from robopolicy.envs import PUSHT_ID, make_env
from robopolicy.envs.pusht import GOAL_POSE, PushTEnv
from robopolicy.envs.pusht.env import ACTION_LIMIT, BLOCK_RANGE
from robopolicy.envs.pusht.model import PUSHER_RADIUS
from robopolicy.envs.pusht.geometry import BAR_HALF, STEM_HALF, T_AREA, coverage, t_polygon


def test_t_area_matches_bar_plus_stem():
    assert T_AREA == pytest.approx(4 * BAR_HALF[0] * BAR_HALF[1] + 4 * STEM_HALF[0] * STEM_HALF[1])
    assert t_polygon(np.zeros(3)).centroid.coords[0] == pytest.approx((0.0, 0.0), abs=1e-12)  # origin = centre of mass


def test_coverage_on_known_poses():
    goal = np.array(GOAL_POSE)
    assert coverage(goal, goal) == pytest.approx(1.0)
    assert coverage(goal + [0.3, 0.0, 0.0], goal) == 0.0
    # Sliding the T by d along its bar: bar overlap (L - d) * w_bar, stem overlap (w_stem - d) * L_stem.
    d = 0.01
    expected = ((2 * BAR_HALF[0] - d) * 2 * BAR_HALF[1] + (2 * STEM_HALF[0] - d) * 2 * STEM_HALF[1]) / T_AREA
    c, s = np.cos(goal[2]), np.sin(goal[2])
    assert coverage(goal + [d * c, d * s, 0.0], goal) == pytest.approx(expected, abs=1e-9)
    # Turning the T half a turn about its centre of mass keeps only the stem's overlap with itself.
    assert 0.0 < coverage(goal + [0, 0, np.pi], goal) < 0.5


def test_reset_is_deterministic_under_a_seed_and_differs_across_seeds():
    a, b = PushTEnv(), PushTEnv()
    obs_a, _ = a.reset(seed=11)
    obs_b, _ = b.reset(seed=11)
    obs_c, _ = b.reset(seed=12)
    assert all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)
    assert not np.array_equal(obs_a["object"], obs_c["object"])
    actions = np.random.default_rng(0).uniform(-0.2, 0.2, size=(20, 2))
    b.reset(seed=11)
    for action in actions:
        ra = a.step(action)
        rb = b.step(action)
        assert all(np.array_equal(ra[0][k], rb[0][k]) for k in ra[0]) and ra[1] == rb[1]


def test_initial_states_cover_positions_and_all_orientations():
    env = PushTEnv()
    poses = np.array([env.reset(seed=s)[1]["block_pose"] for s in range(200)])
    assert np.abs(poses[:, :2]).max() <= BLOCK_RANGE
    assert poses[:, :2].min() < -0.7 * BLOCK_RANGE and poses[:, :2].max() > 0.7 * BLOCK_RANGE
    counts, _ = np.histogram(poses[:, 2], bins=4, range=(-np.pi, np.pi))
    assert counts.min() > 25  # roughly uniform over the full circle
    for s in range(20):  # the pusher never starts touching the block
        obs, info = env.reset(seed=s)
        assert t_polygon(info["block_pose"]).distance(Point(obs["agent_pos"])) > PUSHER_RADIUS


def test_observation_layout_and_info():
    env = PushTEnv()
    obs, info = env.reset(seed=0)
    assert set(obs) == {"agent_pos", "object"}
    assert obs["agent_pos"].shape == (2,) and obs["object"].shape == (4,)
    x, y, theta = info["block_pose"]
    assert np.allclose(obs["object"], [x, y, np.cos(theta), np.sin(theta)])
    assert 0.0 <= info["score"] <= 1.0 and info["success"] == (info["score"] >= 0.95)


def test_success_terminates_and_time_limit_truncates():
    env = PushTEnv(max_steps=3)
    env.reset(seed=0)
    state = env.get_state()
    qadr = env._qadr
    state[[qadr["block_x"], qadr["block_y"], qadr["block_theta"]]] = GOAL_POSE
    state[[qadr["pusher_x"], qadr["pusher_y"]]] = [0.2, 0.2]
    state[-2:] = [0.2, 0.2]
    env.reset(options={"state": state})
    _, reward, terminated, truncated, info = env.step(np.array([0.2, 0.2]))
    assert info["success"] and terminated and not truncated and reward == pytest.approx(1.0, abs=1e-3)
    env.reset(seed=1)
    results = [env.step(env.pusher_pos)[2:4] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]


def test_pusher_tracks_target_and_actions_are_clipped():
    env = PushTEnv()
    env.reset(seed=0)
    state = env.get_state()
    qadr = env._qadr
    state[[qadr["block_x"], qadr["block_y"]]] = [0.15, 0.15]
    state[[qadr["pusher_x"], qadr["pusher_y"]]] = [-0.1, -0.1]
    env.reset(options={"state": state})
    for _ in range(3):
        obs, *_ = env.step(np.array([-0.1, -0.05]))
    assert np.allclose(obs["agent_pos"], [-0.1, -0.05], atol=2e-3)
    env.step(np.array([-5.0, -0.05]))
    assert env.data.ctrl[0] == -ACTION_LIMIT
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))


def test_state_round_trip_reproduces_the_future():
    env = PushTEnv()
    env.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(5):
        env.step(rng.uniform(-0.2, 0.2, 2))
    state = env.get_state()
    actions = rng.uniform(-0.2, 0.2, size=(5, 2))
    first = [env.step(a)[0]["object"] for a in actions]
    env.reset(options={"state": state})
    second = [env.step(a)[0]["object"] for a in actions]
    assert np.array_equal(np.array(first), np.array(second))


def test_image_observation_and_render():
    env = PushTEnv(image_obs=True, image_size=96, render_size=128)
    obs, _ = env.reset(seed=0)
    image = obs["overhead_image"]
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert image.std() > 5  # the scene is drawn, not a blank frame
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    env.close()


def test_registered_id_and_make_env_from_env_args():
    env = gym.make(PUSHT_ID, disable_env_checker=True)
    assert isinstance(env.unwrapped, PushTEnv)
    rebuilt = make_env({"env_name": PUSHT_ID, "type": 2, "env_kwargs": {"max_steps": 50}}, image_obs=True)
    assert isinstance(rebuilt, PushTEnv) and rebuilt.max_steps == 50 and rebuilt.image_obs
    with pytest.raises(ValueError, match="not supported"):
        make_env({"env_name": "Lift", "type": 7, "env_kwargs": {}})
    with pytest.raises(ValueError, match="env_name"):
        make_env({"type": 2})
