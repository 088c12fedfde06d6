"""The robosuite adapter (type-1 env_args), its experts and its install message.

Every test but the last needs robosuite (pip install -e ".[robosuite]") and skips without it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from robopolicy.envs import make_env

SKIP_REASON = 'robosuite is optional; install it with pip install -e ".[robosuite]" (robosuite 1.5.2, mujoco<3.10, numpy<2)'
OBS_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")
# robomimic's stored controller config (robosuite <= 1.4 format), as in its lift/can/square low-dim datasets.
OLD_OSC_POSE = {
    "type": "OSC_POSE", "input_max": 1, "input_min": -1,
    "output_max": [0.05, 0.05, 0.05, 0.5, 0.5, 0.5], "output_min": [-0.05, -0.05, -0.05, -0.5, -0.5, -0.5],
    "kp": 150, "damping": 1, "impedance_mode": "fixed", "kp_limits": [0, 300], "damping_limits": [0, 10],
    "position_limits": None, "orientation_limits": None, "uncouple_pos_ori": True, "control_delta": True,
    "interpolation": None, "ramp_ratio": 0.2,
}


def env_args(name: str, **extra: Any) -> dict[str, Any]:
    kwargs = {"robots": ["Panda"], "controller_configs": OLD_OSC_POSE, "control_freq": 20, "has_renderer": False,
              "has_offscreen_renderer": False, "use_camera_obs": False, "ignore_done": True, "use_object_obs": True,
              "reward_shaping": False, "max_steps": 200, **extra}
    return {"env_name": name, "type": 1, "env_kwargs": kwargs}


@pytest.fixture(scope="module")
def lift():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    env = make_env(env_args("Lift"))
    yield env
    env.close()


@pytest.fixture(scope="module")
def can():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    env = make_env(env_args("PickPlaceCan", max_steps=300))
    yield env
    env.close()


def run_expert(env, seed: int) -> tuple[bool, int]:
    from robopolicy.envs.experts import make_expert

    expert = make_expert(env.env_name, env, np.random.default_rng(seed))
    obs, info = env.reset(seed=seed)
    expert.reset()
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(expert.act(obs))
        steps += 1
        done = terminated or truncated
    return bool(info["success"] and terminated), steps


def test_observations_are_named_like_robomimic(lift):
    obs, info = lift.reset(seed=0)
    shapes = {k: obs[k].shape for k in OBS_KEYS}
    assert shapes == {"robot0_eef_pos": (3,), "robot0_eef_quat": (4,), "robot0_gripper_qpos": (2,), "object": (10,)}
    assert set(obs) == set(lift.observation_space.spaces)
    assert lift.action_space.shape == (7,)
    assert info == {"success": False, "score": 0.0}


def test_reset_is_deterministic_under_a_seed_and_differs_across_seeds(lift):
    lift.reset(seed=3)
    first = lift.get_state()
    for _ in range(5):
        lift.step(lift.action_space.sample())
    lift.reset(seed=4)
    other = lift.get_state()
    lift.reset(seed=3)
    assert np.array_equal(lift.get_state(), first)
    assert not np.allclose(other[1:], first[1:])
    fresh = make_env(env_args("Lift"))
    fresh.reset(seed=3)
    assert np.array_equal(fresh.get_state(), first)


def test_state_round_trip_restores_observations(lift):
    obs, _ = lift.reset(seed=1)
    for _ in range(10):
        obs, *_ = lift.step(np.array([0.3, -0.2, 0.1, 0, 0, 0, 1.0]))
    state = lift.get_state()
    assert state.shape == (1 + lift.sim.model.nq + lift.sim.model.nv,)
    restored, _ = lift.reset(seed=2, options={"state": state})
    assert np.array_equal(lift.get_state(), state)
    other = make_env(env_args("Lift"))
    again, _ = other.reset(options={"state": state})
    for key in OBS_KEYS:
        np.testing.assert_array_equal(restored[key], again[key], err_msg=key)
        # robosuite computes a step's observation before its last integration substep: close, not identical.
        np.testing.assert_allclose(restored[key], obs[key], atol=2e-3, err_msg=key)


def test_success_is_detected_on_hand_made_states(lift):
    lift.reset(seed=0)
    state = lift.get_state()
    cube_z = 1 + lift.sim.model.get_joint_qpos_addr(lift.env.cube.joints[0])[0] + 2  # 1: time comes first
    _, on_table = lift.reset(options={"state": state})
    lifted = state.copy()
    lifted[cube_z] += 0.1
    obs, raised = lift.reset(options={"state": lifted})
    assert not on_table["success"] and on_table["score"] == 0.0
    assert raised["success"] and raised["score"] == 1.0
    assert obs["object"][2] == pytest.approx(state[cube_z] + 0.1)
    _, _, terminated, truncated, info = lift.step(np.zeros(7))  # still in the air one step later: terminates
    assert terminated and not truncated and info["success"]


def test_truncates_at_max_steps():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    env = make_env(env_args("Lift", max_steps=3))
    env.reset(seed=0)
    flags = [env.step(np.zeros(7))[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lift_expert_succeeds(lift, seed):
    success, steps = run_expert(lift, seed)
    assert success and steps < 80


@pytest.mark.parametrize("seed", [0, 1])
def test_can_expert_succeeds(can, seed):
    success, steps = run_expert(can, seed)
    assert success and steps < 250


def test_square_expert_succeeds():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    env = make_env(env_args("NutAssemblySquare", max_steps=300))
    success, steps = run_expert(env, 0)
    assert success and steps < 250
    env.close()


def test_old_controller_config_is_converted_and_new_one_kept():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    from robopolicy.envs.robosuite.config import convert_controller_config

    new = convert_controller_config(OLD_OSC_POSE, "Panda")
    assert new["type"] == "BASIC"
    arm = new["body_parts"]["right"]
    assert arm["type"] == "OSC_POSE" and arm["output_max"] == OLD_OSC_POSE["output_max"]
    assert arm["gripper"] == {"type": "GRIP"}
    assert convert_controller_config(new, "Panda") == new


def test_agentview_image_is_right_side_up():
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    import mujoco

    env = make_env(env_args("Lift"), image_obs=True, image_size=64)
    obs, _ = env.reset(seed=0)
    image = obs["agentview_image"]
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert env.observation_space["agentview_image"].shape == (64, 64, 3)
    # mujoco.Renderer returns rows top-down; robosuite's raw camera observation is bottom-up.
    renderer = mujoco.Renderer(env.sim.model._model, 64, 64)
    renderer.update_scene(env.sim.data._data, camera="agentview")
    reference = renderer.render().astype(np.float64)
    renderer.close()
    upright = np.corrcoef(image.ravel(), reference.ravel())[0, 1]
    flipped = np.corrcoef(image.ravel(), reference[::-1].ravel())[0, 1]
    assert upright > 0.9 and upright > flipped + 0.1
    frame = env.render()
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8 and frame.std() > 5
    env.close()


def test_collected_demos_rebuild_their_env(tmp_path: Path):
    pytest.importorskip("robosuite", reason=SKIP_REASON)
    from robopolicy.data import load_demos, read_env_args
    from robopolicy.data.collect import collect_demos

    report = collect_demos(env_args("Lift"), tmp_path / "lift.hdf5", 2, workers=1, progress=False)
    assert report.demos_written == 2
    stored = read_env_args(tmp_path / "lift.hdf5")
    assert stored["type"] == 1 and stored["env_name"] == "Lift"
    env = make_env(stored)
    demo = load_demos(tmp_path / "lift.hdf5", obs_keys=list(OBS_KEYS))[0]
    with h5py.File(tmp_path / "lift.hdf5", "r") as f:
        first_state = f["data/demo_0/states"][0]
    obs, _ = env.reset(options={"state": first_state})
    for key in OBS_KEYS:
        np.testing.assert_allclose(obs[key], demo.obs[key][0], atol=1e-9, err_msg=key)
    assert demo.actions.shape[1] == 7


def test_type_1_without_robosuite_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "robosuite", None)  # makes `import robosuite` raise ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[robosuite\]"'):
        make_env({"env_name": "Lift", "type": 1, "env_kwargs": {"robots": ["Panda"]}})
