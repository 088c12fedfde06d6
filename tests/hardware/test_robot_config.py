import numpy as np
import pytest

from hardware.robot import RobotConfig, RobotConfigError, load_robot
from tests.hardware.stubs import pusht_dict


def test_pusht_sim_config_loads_with_the_envs_limits():
    robot = load_robot("pusht_sim")
    assert robot.joint_names == ["pusher_x", "pusher_y"]
    assert robot.dt == pytest.approx(0.1)
    assert robot.controller.type == "joint_trajectory"
    np.testing.assert_allclose(robot.joint_array("lower"), [-0.2375, -0.2375])
    np.testing.assert_allclose(robot.joint_array("upper"), [0.2375, 0.2375])
    assert robot.observations["agent_pos"].joints == ("pusher_x", "pusher_y")
    assert robot.observations["object"].extra == "object_pose"
    lower, upper = robot.workspace_arrays()
    np.testing.assert_allclose(upper, [0.23, 0.23])
    np.testing.assert_allclose(robot.max_step_array(), [0.1, 0.1])
    np.testing.assert_allclose(robot.joint_array("acceleration"), [10.0, 10.0])
    assert robot.extra_topics == {"object_pose": "/object_pose"} and robot.success_topic == "/task_success"


def test_ur5e_example_loads_and_validates():
    robot = load_robot("ur5e_ros2")
    assert robot.joint_names == ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
                                 "wrist_2_joint", "wrist_3_joint"]
    assert robot.controller.topic == "/scaled_joint_trajectory_controller/joint_trajectory"
    assert robot.state_topic == "/joint_states"
    np.testing.assert_allclose(robot.joint_array("velocity"), np.pi, atol=1e-6)  # 180 deg/s on every joint
    assert robot.joint_array("upper")[2] == pytest.approx(np.pi, abs=1e-6)  # the elbow's +-180 deg
    lower, upper = robot.workspace_arrays()
    assert np.isinf(lower[0]) and upper[1] == pytest.approx(-0.2)
    assert set(robot.cameras) == {"wrist_image", "scene_image"}
    assert robot.extra_topics == {} and robot.success_topic is None  # both optional: a real cell has neither


def test_action_map_reorders_action_dims_into_joint_order():
    data = pusht_dict()
    data["action"] = ["pusher_y", "pusher_x"]  # the policy's first action dim drives pusher_y
    robot = RobotConfig.from_dict(data)
    assert robot.action_to_joint_index().tolist() == [1, 0]


def _break(path: str, value):
    data = pusht_dict()
    node = data
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is KeyError:
        del node[leaf]
    else:
        node[int(leaf) if isinstance(node, list) else leaf] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("joints.0.velocity", -1.0, r"joints\[0\]\.velocity \(pusher_x\): -1.0 must be > 0"),
        ("joints.1.lower", 0.5, r"joints\[1\] \(pusher_y\): lower 0.5 is not below upper 0.2375. Fix: set lower < upper"),
        ("joints.0.acceleration", "1e-3", r"expected a number.*write 1.0e-3"),
        ("joints.0.velocity", KeyError, r"joints\[0\]: missing \['velocity'\]. Fix: add velocity"),
        ("controller.type", "effort", r"controller.type: 'effort' is not a supported controller. Fix: use one of "
                                      r"joint_trajectory, forward_position"),
        ("control_rate_hz", 0, r"control_rate_hz: 0.0 must be > 0"),
        ("action", ["pusher_x"], r"action: commands \['pusher_x'\] .*missing: \['pusher_y'\]"),
        ("action", ["pusher_x", "pusher_z"], r"action: unknown joint\(s\) \['pusher_z'\]"),
        ("observations.agent_pos", {"joints": ["pusher_x"], "extra": "x"}, r"exactly one of `joints` or `extra`"),
        ("observations.agent_pos", {"joints": ["pusher_x"], "field": "effort"}, r"field: 'effort' is not a joint field"),
        ("workspace.pusher_x", [0.1, -0.1], r"workspace.pusher_x: lower 0.1 is not below upper -0.1"),
        ("workspace.elbow", [0.0, 1.0], r"workspace.elbow: not a joint"),
        ("max_step", {"pusher_x": 0.05}, r"max_step: missing joints \['pusher_y'\]"),
        ("watchdog.max_inference_s", KeyError, r"watchdog: missing \['max_inference_s'\]"),
        ("state_topic", "", r"state_topic: expected a non-empty string"),
        ("joint_limits", {}, r"top level: unknown key\(s\) \['joint_limits'\]. Fix: use only name, control_rate_hz"),
        ("extra_topics", ["/object_pose"], r"extra_topics: expected a mapping.*Fix: write \{extra source name: topic\}"),
        ("extra_topics.object_pose", "", r"extra_topics.object_pose: expected a non-empty string"),
        ("extra_topics", {"object_pose": "/pose", "block_velocity": "/pose"},
         r"extra_topics: topic\(s\) \['/pose'\] carry more than one extra source"),
        ("success_topic", 3, r"success_topic: expected a non-empty string"),
    ],
)
def test_bad_configs_name_the_field_and_the_fix(path, value, expected):
    data = _break(path, value) if "." in path else {**pusht_dict(), path: value}
    with pytest.raises(RobotConfigError, match=expected) as info:
        RobotConfig.from_dict(data, source="my_arm.yaml")
    assert str(info.value).startswith("my_arm.yaml: ") and "Fix: " in str(info.value)


def test_duplicate_joint_names_are_refused():
    data = pusht_dict()
    data["joints"][1]["name"] = "pusher_x"
    with pytest.raises(RobotConfigError, match=r"joint name\(s\) \['pusher_x'\] appear more than once"):
        RobotConfig.from_dict(data)


def test_unknown_robot_name_lists_the_known_ones(tmp_path):
    with pytest.raises(RobotConfigError, match="pusht_sim, ur5e_ros2"):
        load_robot("ur10")
    bad = tmp_path / "arm.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(RobotConfigError, match="not valid YAML"):
        load_robot(bad)


def test_position_limits_mode_defaults_to_reject_and_is_validated():
    data = pusht_dict()
    data.pop("position_limits", None)
    assert RobotConfig.from_dict(data).position_limits == "reject"
    assert RobotConfig.from_dict({**data, "position_limits": "clamp"}).position_limits == "clamp"
    with pytest.raises(RobotConfigError, match=r"position_limits: 'clip' is not a mode\. Fix: write `position_limits: "
                                                r"reject`"):
        RobotConfig.from_dict({**data, "position_limits": "clip"})


def test_ur5e_example_has_urs_dh_table_and_an_example_cartesian_box():
    robot = load_robot("ur5e_ros2")
    kin = robot.kinematics
    np.testing.assert_allclose(kin.a, [0.0, -0.425, -0.3922, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(kin.d, [0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996])
    np.testing.assert_allclose(kin.alpha, np.array([1, 0, 0, 1, -1, 0]) * np.pi / 2, atol=1e-6)
    assert kin.theta_offset == (0.0,) * 6 and kin.base == (0.0, 0.0, 0.0) and kin.tool == (0.0, 0.0, 0.0)
    lower, upper = robot.cartesian_workspace_arrays()
    assert np.all(lower < upper) and np.all(np.isfinite(lower))


def test_kinematics_and_cartesian_workspace_are_optional_and_partial_boxes_are_unbounded_elsewhere():
    robot = RobotConfig.from_dict(pusht_dict())
    assert robot.kinematics is None and robot.cartesian_workspace == {}
    data = {**pusht_dict(), "kinematics": {"dh": [{"a": 1.0, "d": 0.0, "alpha": 0.0, "theta_offset": 0.5},
                                                  {"a": 1.0, "d": 0.0, "alpha": 0.0}], "tool": [0.1, 0, 0]},
            "cartesian_workspace": {"z": [-1, 1]}}
    robot = RobotConfig.from_dict(data)
    assert robot.kinematics.theta_offset == (0.5, 0.0) and robot.kinematics.tool == (0.1, 0.0, 0.0)
    lower, upper = robot.cartesian_workspace_arrays()
    assert lower.tolist() == [-np.inf, -np.inf, -1.0] and upper.tolist() == [np.inf, np.inf, 1.0]


_ROW = {"a": 1.0, "d": 0.0, "alpha": 0.0}


@pytest.mark.parametrize(
    ("kinematics", "box", "expected"),
    [
        ({"dh": [_ROW]}, None,
         r"kinematics.dh: expected one row per joint \(2: \['pusher_x', 'pusher_y'\]\), got 1 rows. Fix: write one "),
        ({"dh": "DH"}, None, r"kinematics.dh: expected one row per joint .*got 'DH'"),
        ({"dh": [_ROW, {"a": 1.0, "d": 0.0}]}, None, r"kinematics.dh\[1\] \(pusher_y\): missing \['alpha'\]"),
        ({"dh": [_ROW, {**_ROW, "theta": 0.1}]}, None, r"kinematics.dh\[1\] \(pusher_y\): unknown key\(s\) \['theta'\]"),
        ({"dh": [_ROW, {**_ROW, "alpha": "pi/2"}]}, None, r"kinematics.dh\[1\] \(pusher_y\).alpha: expected a number"),
        ({"dh": [_ROW, _ROW], "tool": [0.0, 0.1]}, None, r"kinematics.tool: expected \[x, y, z\]"),
        ({"dh": [_ROW, _ROW], "flange": [0, 0, 0]}, None, r"kinematics: unknown key\(s\) \['flange'\]"),
        ({"base": [0, 0, 0]}, None, r"kinematics: missing \['dh'\]"),
        (None, {"x": [0.0, 1.0]}, r"cartesian_workspace: given without `kinematics`. Fix: add a `kinematics"),
        ({"dh": [_ROW, _ROW]}, {"x": [0.5, 0.5]}, r"cartesian_workspace.x: lower 0.5 is not below upper 0.5"),
        ({"dh": [_ROW, _ROW]}, {"w": [0.0, 1.0]}, r"cartesian_workspace.w: not an axis. Fix: use x, y, z"),
        ({"dh": [_ROW, _ROW]}, {"z": [0.0]}, r"cartesian_workspace.z: expected \[lower, upper\]"),
        ({"dh": [_ROW, _ROW]}, {}, r"cartesian_workspace: expected a non-empty mapping"),
    ],
)
def test_bad_kinematics_and_cartesian_workspace_name_the_field_and_the_fix(kinematics, box, expected):
    data = {**pusht_dict(), "kinematics": kinematics, "cartesian_workspace": box}
    with pytest.raises(RobotConfigError, match=expected) as info:
        RobotConfig.from_dict(data, source="my_arm.yaml")
    assert str(info.value).startswith("my_arm.yaml: ") and "Fix: " in str(info.value)
