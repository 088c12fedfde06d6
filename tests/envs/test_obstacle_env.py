"""The around-the-obstacle env: seeding, success / collision / score, state round trips, rendering, registration."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from robopolicy.envs import OBSTACLE_ID, make_env
from robopolicy.envs.obstacle import AroundObstacleEnv, task_score
from robopolicy.envs.obstacle.env import ACTION_LIMIT, START_DISTANCE
from robopolicy.envs.obstacle.model import (
    AGENT_RADIUS,
    GOAL_CENTER,
    GOAL_RADIUS,
    OBSTACLE_CENTER,
    OBSTACLE_HALF,
    START,
    START_RANGE,
    obstacle_distance,
)


def _state_at(pos: tuple[float, float], collided: bool = False, side: int = 0) -> np.ndarray:
    """A get_state vector with the agent at rest at ``pos`` and its target there too."""
    return np.array([*pos, 0.0, 0.0, *pos, float(collided), float(side)])


def test_reset_is_deterministic_under_a_seed_and_differs_across_seeds():
    a, b = AroundObstacleEnv(), AroundObstacleEnv()
    obs_a, _ = a.reset(seed=11)
    obs_b, _ = b.reset(seed=11)
    obs_c, _ = b.reset(seed=12)
    np.testing.assert_array_equal(obs_a["agent_pos"], obs_b["agent_pos"])
    assert not np.array_equal(obs_a["agent_pos"], obs_c["agent_pos"])
    actions = np.random.default_rng(0).uniform(-0.2, -0.1, size=(10, 2))
    b.reset(seed=11)
    for action in actions:
        ra, rb = a.step(action), b.step(action)
        np.testing.assert_array_equal(ra[0]["agent_pos"], rb[0]["agent_pos"])
        assert ra[1:4] == rb[1:4]


def test_starts_are_near_the_bottom_centre_and_face_the_obstacle():
    env = AroundObstacleEnv()
    starts = np.array([env.reset(seed=s)[0]["agent_pos"] for s in range(50)])
    assert np.all(np.abs(starts - START) <= np.array(START_RANGE) + 1e-12)
    assert starts[:, 0].std() > 0.3 * START_RANGE[0]  # the offset really varies
    # Every start is squarely below the obstacle: going straight up runs into it.
    assert np.all(np.abs(starts[:, 0] - OBSTACLE_CENTER[0]) < OBSTACLE_HALF[0] - 2 * AGENT_RADIUS)
    assert np.all(starts[:, 1] + AGENT_RADIUS < OBSTACLE_CENTER[1] - OBSTACLE_HALF[1])


def test_observation_layout_and_initial_info():
    env = AroundObstacleEnv()
    obs, info = env.reset(seed=0)
    assert set(obs) == {"agent_pos"} and obs["agent_pos"].shape == (2,)
    assert info["success"] is False and info["collided"] is False and info["side"] == 0
    assert 0.0 <= info["score"] < 0.1  # at the start: hardly any progress


def test_task_score_definition():
    assert task_score(np.array(GOAL_CENTER), collided=False) == (1.0, True)
    assert task_score(np.array(GOAL_CENTER), collided=True) == (0.0, False)
    assert task_score(np.array(START), collided=False) == (pytest.approx(0.0, abs=1e-12), False)
    outside = np.array(GOAL_CENTER) + [GOAL_RADIUS + 0.01, 0.0]
    score, success = task_score(outside, collided=False)
    assert not success and score == pytest.approx(1.0 - (GOAL_RADIUS + 0.01) / START_DISTANCE)


def test_agent_in_the_goal_succeeds_and_terminates():
    env = AroundObstacleEnv(max_steps=5)
    goal = np.array(GOAL_CENTER)
    env.reset(options={"state": _state_at(tuple(goal + [0.005, 0.0]), side=1)})
    _, reward, terminated, truncated, info = env.step(goal)
    assert info["success"] and terminated and not truncated
    assert reward == info["score"] == 1.0 and not info["collided"] and info["side"] == 1


def test_touching_the_obstacle_is_a_terminal_failure_even_in_the_goal():
    env = AroundObstacleEnv()
    inside = (OBSTACLE_CENTER[0] + OBSTACLE_HALF[0], OBSTACLE_CENTER[1])  # overlapping the right edge
    assert obstacle_distance(np.array(inside)) < AGENT_RADIUS
    _, info = env.reset(options={"state": _state_at(inside)})
    assert info["collided"] and not info["success"] and info["score"] == 0.0
    _, reward, terminated, truncated, info = env.step(np.array(inside))
    assert info["collided"] and terminated and not truncated and not info["success"] and reward == 0.0
    # A collision earlier in the episode (carried in the state) voids reaching the goal.
    env.reset(options={"state": _state_at(GOAL_CENTER, collided=True)})
    _, reward, terminated, _, info = env.step(np.array(GOAL_CENTER))
    assert terminated and not info["success"] and reward == 0.0


def test_driving_into_the_obstacle_is_detected_by_contact():
    env = AroundObstacleEnv()
    env.reset(seed=0)
    below = (0.0, OBSTACLE_CENTER[1] - OBSTACLE_HALF[1] - AGENT_RADIUS - 0.01)
    env.reset(options={"state": _state_at(below)})
    _, _, terminated, _, info = env.step(np.array([0.0, OBSTACLE_CENTER[1]]))
    assert info["collided"] and terminated and info["score"] == 0.0


def test_time_limit_truncates_and_side_records_the_passing_side():
    env = AroundObstacleEnv(max_steps=3)
    env.reset(seed=1)
    results = [env.step(env.agent_pos)[2:4] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]
    env.reset(options={"state": _state_at((-0.16, OBSTACLE_CENTER[1] - 0.01))})
    *_, info = env.step(np.array([-0.16, OBSTACLE_CENTER[1] + 0.02]))
    assert info["side"] == -1 and not info["collided"]


def test_agent_tracks_target_and_actions_are_clipped():
    env = AroundObstacleEnv()
    env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(np.array([-0.15, -0.15]))
    assert np.allclose(obs["agent_pos"], [-0.15, -0.15], atol=2e-3)
    env.step(np.array([-5.0, -0.15]))
    assert env.data.ctrl[0] == -ACTION_LIMIT
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))


def test_state_round_trip_reproduces_the_future():
    env = AroundObstacleEnv()
    env.reset(seed=5)
    for target in ([-0.05, -0.17], [-0.12, -0.12]):
        env.step(np.array(target))
    state = env.get_state()
    actions = [np.array([-0.16, -0.08 + 0.03 * k]) for k in range(4)]
    first = [env.step(a) for a in actions]
    env.reset(options={"state": state})
    second = [env.step(a) for a in actions]
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x[0]["agent_pos"], y[0]["agent_pos"])
        assert x[1:] == y[1:]


def test_image_observation_and_render():
    env = AroundObstacleEnv(image_obs=True, image_size=64, render_size=96)
    obs, _ = env.reset(seed=0)
    assert obs["overhead_image"].shape == (64, 64, 3) and obs["overhead_image"].dtype == np.uint8
    frame = env.render()
    assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


def test_registered_id_and_make_env_from_env_args():
    env = gym.make(OBSTACLE_ID, disable_env_checker=True)
    assert isinstance(env.unwrapped, AroundObstacleEnv)
    rebuilt = make_env({"env_name": OBSTACLE_ID, "type": 2, "env_kwargs": {"max_steps": 50}})
    assert isinstance(rebuilt, AroundObstacleEnv) and rebuilt.max_steps == 50
