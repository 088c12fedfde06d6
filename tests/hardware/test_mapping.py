import numpy as np
import pytest

from hardware.driver import ArmState
from hardware.mapping import actions_to_joints, check_policy_fits_robot, observation_from_state
from robopolicy.core import ObsSpec, ShapeMeta
from tests.hardware.stubs import META, pusht_robot

STATE = ArmState(stamp=1.0, positions=np.array([0.1, 0.2]), velocities=np.array([-1.0, -2.0]),
                 extras={"object_pose": np.array([0.0, 0.1, 1.0, 0.0])},
                 images={"overhead_image": np.zeros((8, 8, 3), np.uint8)})


def test_observation_reads_joints_in_the_listed_order_extras_velocities_and_cameras():
    robot = pusht_robot(observations={"agent_pos": {"joints": ["pusher_y", "pusher_x"]},
                                      "agent_vel": {"joints": ["pusher_x"], "field": "velocity"},
                                      "object": {"extra": "object_pose"}},
                        cameras={"overhead_image": "/overhead_camera/image_raw"})
    meta = ShapeMeta(obs={"agent_pos": ObsSpec((2,)), "agent_vel": ObsSpec((1,)), "object": ObsSpec((4,)),
                          "overhead_image": ObsSpec((8, 8, 3), "rgb")}, action_dim=2)
    check_policy_fits_robot(robot, meta)
    obs = observation_from_state(STATE, robot, meta)
    assert list(obs) == ["agent_pos", "agent_vel", "object", "overhead_image"]
    np.testing.assert_array_equal(obs["agent_pos"], [0.2, 0.1])
    np.testing.assert_array_equal(obs["agent_vel"], [-1.0])
    np.testing.assert_array_equal(obs["object"], [0.0, 0.1, 1.0, 0.0])
    assert obs["overhead_image"].shape == (8, 8, 3)


def test_missing_sources_and_wrong_shapes_are_errors():
    robot = pusht_robot(observations={"agent_pos": {"joints": ["pusher_x", "pusher_y"]},
                                      "object": {"extra": "block_pose"}})
    with pytest.raises(ValueError, match=r"extra source 'block_pose', which the driver does not provide \(it provides "
                                         r"\['object_pose'\]\)"):
        observation_from_state(STATE, robot, META)
    short = ArmState(stamp=1.0, positions=np.zeros(2), extras={"object_pose": np.zeros(3)})
    with pytest.raises(ValueError, match=r"observation 'object' has shape \(3,\), the policy expects \(4,\)"):
        observation_from_state(short, pusht_robot(), META)


def test_a_camera_the_robot_does_not_list_and_a_wrong_action_width_are_refused():
    meta = ShapeMeta(obs={"agent_pos": ObsSpec((2,)), "wrist_image": ObsSpec((8, 8, 3), "rgb")}, action_dim=3)
    with pytest.raises(ValueError) as info:
        check_policy_fits_robot(pusht_robot(), meta)
    assert "camera 'wrist_image' but `cameras` does not list it" in str(info.value)
    assert "action has 3 dims but `action` maps 2 joints" in str(info.value)


def test_actions_map_to_joints_for_chunks_and_single_actions():
    robot = pusht_robot(action=["pusher_y", "pusher_x"])
    np.testing.assert_array_equal(actions_to_joints(np.array([1.0, 2.0]), robot), [2.0, 1.0])
    np.testing.assert_array_equal(actions_to_joints(np.array([[1.0, 2.0], [3.0, 4.0]]), robot), [[2.0, 1.0], [4.0, 3.0]])
    with pytest.raises(ValueError, match="3 dims"):
        actions_to_joints(np.zeros(3), robot)
