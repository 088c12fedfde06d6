import numpy as np
import pytest

from hardware.clock import ManualClock
from hardware.messages import Float64MultiArray, JointTrajectory
from hardware.robot import SIM_SCENES, RobotConfig, RobotConfigError, load_robot
from hardware.sim_driver import SimArmDriver
from hardware.sim_scenes import SCENES
from robopolicy.envs.obstacle import AroundObstacleEnv
from robopolicy.envs.pusht import GOAL_POSE, PushTEnv
from tests.hardware.stubs import pusht_dict, pusht_robot, scene

DT = 0.1
START = np.array([-0.1, -0.1])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=50.0)  # not zero, so stamps are visibly in the clock's time base


@pytest.fixture
def arm(clock):
    driver = SimArmDriver(pusht_robot(), clock=clock, initial_state=scene())
    driver.connect()
    yield driver
    driver.close()


def walk(step, n=4, start=START) -> np.ndarray:
    return start + np.arange(1, n + 1)[:, None] * np.asarray(step)


def at(clock, arm, t):
    clock.sleep_until(50.0 + t)
    return arm.read_state()


def test_state_is_stamped_on_the_clock_and_reports_the_block_pose(arm, clock):
    state = at(clock, arm, 0.25)
    assert state.stamp == pytest.approx(50.25)
    np.testing.assert_allclose(state.positions, START, atol=1e-6)
    assert state.velocities.shape == (2,)
    np.testing.assert_allclose(state.extras["object_pose"], [0.12, 0.12, 1.0, 0.0], atol=1e-6)
    assert state.images == {}


def test_follows_a_trajectory_interpolating_between_points_and_reaches_the_last(arm, clock):
    arm.send_trajectory(walk((0.01, 0.0)), DT, start_stamp=50.1)  # 1 cm per tick along x
    at(clock, arm, 0.05)
    np.testing.assert_allclose(arm.desired_positions(), [-0.095, -0.1], atol=3e-4)  # halfway to the first point
    at(clock, arm, 0.25)
    np.testing.assert_allclose(arm.desired_positions(), [-0.075, -0.1], atol=3e-4)  # between points 2 and 3
    moving = arm.read_state()
    assert abs(moving.positions[0] - (-0.075)) < 0.005 and moving.velocities[0] == pytest.approx(0.1, abs=0.01)
    settled = at(clock, arm, 0.8)
    np.testing.assert_allclose(settled.positions, [-0.06, -0.1], atol=5e-4)


def test_commands_are_recorded_as_the_ros_messages_a_backend_would_send(arm, clock):
    chunk = walk((0.01, 0.0), n=3)
    arm.send_trajectory(chunk, DT, start_stamp=50.1)
    at(clock, arm, 0.4)
    arm.send_setpoint(np.array([-0.05, -0.1]))
    arm.hold()
    kinds = [c.kind for c in arm.commands]
    assert kinds == ["trajectory", "setpoint", "hold"]
    msg = arm.commands[0].message
    assert isinstance(msg, JointTrajectory) and msg.joint_names == ["pusher_x", "pusher_y"]
    assert msg.header.stamp.to_seconds() == pytest.approx(50.1)
    assert [p.time_from_start.to_seconds() for p in msg.points] == pytest.approx([0.0, 0.1, 0.2])
    np.testing.assert_array_equal(np.stack([p.positions for p in msg.points]), chunk)
    assert isinstance(arm.commands[1].message, Float64MultiArray)
    assert arm.commands[1].time == pytest.approx(50.4)


def test_a_newer_trajectory_replaces_the_rest_of_the_current_one(arm, clock):
    arm.send_trajectory(walk((0.02, 0.0)), DT, start_stamp=50.1)  # heading to x = -0.02
    at(clock, arm, 0.15)
    here = arm.read_state().positions
    arm.send_trajectory(walk((0.0, 0.02), start=here), DT, start_stamp=50.25)  # turn to +y from where it is
    final = at(clock, arm, 1.0).positions
    np.testing.assert_allclose(final, here + [0.0, 0.08], atol=1e-3)
    assert final[0] < -0.06  # never went on towards the old trajectory's x = -0.02


def test_holds_where_it_is_after_the_command_timeout(clock):
    data = pusht_dict()
    data["controller"]["command_timeout_s"] = 0.02
    arm = SimArmDriver(RobotConfig.from_dict(data), clock=clock, initial_state=scene())
    arm.connect()
    arm.send_setpoint(np.array([0.0, -0.1]))  # 10 cm away; the pusher needs far longer than 20 ms
    at(clock, arm, 0.03)
    assert arm.follower.mode == "hold" and arm.follower.timeouts == 1
    stopped_at = arm.desired_positions()
    assert -0.095 < stopped_at[0] < -0.05  # held partway, where the timeout caught it
    final = at(clock, arm, 0.5).positions
    np.testing.assert_allclose(final, stopped_at, atol=1e-3)


def test_hold_keeps_the_current_position(arm, clock):
    arm.send_trajectory(walk((0.02, 0.0)), DT, start_stamp=50.1)
    here = at(clock, arm, 0.2).positions
    arm.hold()
    np.testing.assert_allclose(arm.desired_positions(), here)
    np.testing.assert_allclose(at(clock, arm, 0.8).positions, here, atol=2e-3)


def test_estop_latches_and_later_commands_are_ignored_and_counted(arm, clock):
    arm.send_trajectory(walk((0.01, 0.0)), DT, start_stamp=50.1)
    at(clock, arm, 0.1)
    arm.estop()
    frozen = arm.desired_positions()
    arm.send_trajectory(walk((0.0, 0.01), start=frozen), DT, start_stamp=50.2)
    arm.send_setpoint(np.array([0.1, 0.1]))
    assert arm.estopped and arm.ignored_commands == 2
    assert [c.ignored for c in arm.commands] == [False, False, True, True]
    np.testing.assert_allclose(at(clock, arm, 1.0).positions, frozen, atol=2e-3)


def test_reports_task_success_from_the_block_pose(clock):
    solved = SimArmDriver(pusht_robot(), clock=clock, initial_state=scene(block=GOAL_POSE))
    solved.connect()
    assert solved.task_success() and solved.score() > 0.99
    unsolved = SimArmDriver(pusht_robot(), clock=clock, seed=3)
    unsolved.connect()
    assert not unsolved.task_success()


def test_configs_the_simulated_arm_cannot_serve_are_refused():
    data = pusht_dict()
    data["joints"][0]["name"] = "shoulder_pan_joint"
    data["action"][0] = data["observations"]["agent_pos"][0] = "shoulder_pan_joint"
    data["workspace"] = {}
    with pytest.raises(ValueError, match=r"\['shoulder_pan_joint'\] that the pusht scene does not actuate"):
        SimArmDriver(RobotConfig.from_dict(data))
    data = pusht_dict()
    data["observations"]["object"] = {"extra": "block_velocity"}
    with pytest.raises(ValueError, match=r"extra sources \['block_velocity'\]; the simulated arm's pusht scene provides"):
        SimArmDriver(RobotConfig.from_dict(data))
    data = pusht_dict()
    data["sim_scene"] = "obstacle"  # Push-T's joint names in the obstacle scene
    with pytest.raises(ValueError, match="that the obstacle scene does not actuate"):
        SimArmDriver(RobotConfig.from_dict(data))
    data["sim_scene"] = "kitchen"
    with pytest.raises(RobotConfigError, match="sim_scene.*'kitchen' is not a scene.*pusht"):
        RobotConfig.from_dict(data)


def test_the_obstacle_scene_starts_as_the_env_and_fails_on_a_touch(clock):
    arm = SimArmDriver(load_robot("obstacle_sim"), clock=clock, seed=1_000_003)
    arm.connect()
    state = arm.read_state()
    env = AroundObstacleEnv(render_mode=None)
    np.testing.assert_array_equal(state.positions, env.reset(seed=1_000_003)[0]["agent_pos"])
    assert state.extras == {} and 0.0 <= arm.score() < 0.1 and not arm.task_success()
    arm.send_setpoint(state.positions + [0.0, 0.15])  # straight up, into the obstacle's underside
    at(clock, arm, 2.0)
    assert arm.scene.collided and arm.score() == 0.0 and not arm.task_success()
    # Round the obstacle's left end, then to the goal: success, with the best score kept in max_score.
    arm.connect()
    for target in ([-0.15, -0.19], [-0.15, 0.12], [0.0, 0.17]):
        arm.send_setpoint(np.array(target))
        clock.sleep_until(clock.now() + 1.5)
        arm.read_state()
    assert not arm.scene.collided and arm.task_success() and arm.max_score == 1.0


def test_must_be_connected_first():
    arm = SimArmDriver(pusht_robot())
    with pytest.raises(RuntimeError, match="connect"):
        arm.read_state()


def test_a_configured_camera_renders_the_same_frame_as_the_image_env():
    robot = pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"})
    arm = SimArmDriver(robot, seed=7, image_size=48)
    arm.connect()
    frame = arm.read_state().images["overhead_image"]
    arm.close()
    env = PushTEnv(image_obs=True, image_size=48, render_mode=None)
    expected = env.reset(seed=7)[0]["overhead_image"]
    env.close()
    assert frame.shape == (48, 48, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, expected)


def test_the_robot_parser_names_exactly_the_scenes_the_simulated_arm_has():
    assert set(SIM_SCENES) == set(SCENES)
