import numpy as np
import pytest
import yaml

from hardware.clock import ManualClock
from hardware.command_log import CommandLog, read_log
from hardware.control_loop import ControlLoop
from hardware.robot import ROBOT_CONF_DIR, RobotConfig
from hardware.safety import ChunkSafety, EStop, SafetyFault, Watchdog
from robopolicy.core import PolicyRunner
from tests.hardware.stubs import RecordingDriver, WalkPolicy, pusht_robot

DT = 0.1
HERE = np.array([0.0, 0.0])


def walk(step=(0.01, 0.0), n=4, start=HERE) -> np.ndarray:
    """(n, 2) chunk moving ``step`` per tick from ``start``."""
    return np.asarray(start) + np.arange(1, n + 1)[:, None] * np.asarray(step)


@pytest.fixture
def safety() -> ChunkSafety:
    return ChunkSafety(pusht_robot())  # +-0.2375 limits, workspace +-0.23, 0.5 m/s, 5 m/s^2, max_step 0.05


def test_a_valid_chunk_passes_unchanged(safety):
    chunk = walk()
    out = safety.check(chunk, HERE, DT, current_velocities=np.zeros(2))
    np.testing.assert_array_equal(out, chunk)
    assert out.dtype == np.float64


def trip(safety, chunk, current=HERE, **kw) -> SafetyFault:
    with pytest.raises(SafetyFault) as info:
        safety.check(chunk, current, DT, **kw)
    assert str(info.value) == info.value.reason
    return info.value


def test_non_finite_values_trip_with_joint_and_step(safety):
    chunk = walk()
    chunk[2, 1] = np.nan
    fault = trip(safety, chunk)
    assert (fault.check, fault.joint, fault.step) == ("non_finite", "pusher_y", 2)
    assert "joint 'pusher_y' at step 2 is nan" in fault.reason
    chunk[1, 0] = np.inf  # the earliest step is reported first
    assert trip(safety, chunk).step == 1


def test_position_limits(safety):
    chunk = np.array([[0.2, 0.0], [0.24, 0.0]])  # 0.24 > 0.2375
    fault = trip(safety, chunk, current=np.array([0.19, 0.0]))
    assert (fault.check, fault.joint, fault.step, fault.value, fault.limit) == ("position", "pusher_x", 1, 0.24, 0.2375)
    assert "joint position limits: joint 'pusher_x' at step 1 is 0.24, outside [-0.2375, 0.2375]" in fault.reason


def test_workspace_bounds_are_tighter_than_the_joint_limits(safety):
    chunk = np.array([[0.0, -0.22], [0.0, -0.235]])  # inside the joint limits, outside the workspace (+-0.23)
    fault = trip(safety, chunk, current=np.array([0.0, -0.21]))
    assert (fault.check, fault.joint, fault.step, fault.limit) == ("workspace", "pusher_y", 1, -0.23)
    assert "workspace bounds: joint 'pusher_y' at step 1 is -0.235, outside [-0.23, 0.23]" in fault.reason


def test_max_step_from_the_current_state(safety):
    chunk = walk(start=[0.06, 0.0])  # the first point is 7 cm from where the arm is
    fault = trip(safety, chunk)
    assert (fault.check, fault.joint, fault.step) == ("max_step", "pusher_x", 0)
    assert fault.value == pytest.approx(0.07) and fault.limit == 0.05
    assert "at step 0 (from the current state) moves 0.07 in one tick, over the max_step 0.05 per tick" in fault.reason


def test_velocity_limit_including_the_first_step(safety):
    # 4.5 cm per tick = 0.45 m/s: fine. A robot allowed 10 cm steps but 0.5 m/s trips on the velocity instead.
    safety.check(walk((0.045, 0.0)), HERE, DT)
    safety.max_step = np.array([0.1, 0.1])
    fault = trip(safety, walk((0.0, 0.06), n=2))
    assert (fault.check, fault.joint, fault.step) == ("velocity", "pusher_y", 0)
    assert fault.value == pytest.approx(0.6) and fault.limit == 0.5
    assert "needs a speed of 0.6/s, over the velocity limit 0.5/s" in fault.reason
    fault = trip(safety, np.array([[0.01, 0.0], [0.08, 0.0]]))  # a later step
    assert (fault.check, fault.step) == ("velocity", 1)


def test_acceleration_limit_between_steps_and_from_the_measured_velocity(safety):
    # 0 -> 4 cm/tick in one tick: velocity 0 -> 0.4 m/s is 4 m/s^2 (limit 5); 0 -> 0.4 -> -0.2 m/s is 6 m/s^2.
    fault = trip(safety, np.array([[0.04, 0.0], [0.02, 0.0]]))
    assert (fault.check, fault.joint, fault.step) == ("acceleration", "pusher_x", 1)
    assert fault.value == pytest.approx(6.0) and fault.limit == 5.0
    # Moving at -0.2 m/s, a first step at +0.4 m/s needs 6 m/s^2; without the measured velocity it is not known.
    fault = trip(safety, walk((0.04, 0.0), n=1), current_velocities=np.array([-0.2, 0.0]))
    assert (fault.check, fault.step) == ("acceleration", 0)
    assert "(from the current state)" in fault.reason
    safety.check(walk((0.04, 0.0), n=1), HERE, DT)


def test_dropped_rows_are_checked_for_limits_but_motion_starts_at_the_first_row_sent(safety):
    chunk = walk((0.03, 0.0), n=4)  # rows at 3, 6, 9, 12 cm
    # Row 0 is in the past: the arm goes straight from 0 to 6 cm, which exceeds max_step in one tick ...
    fault = trip(safety, chunk, dropped=1)
    assert (fault.check, fault.step) == ("max_step", 1)
    # ... and with 5 cm of the path already behind it, it is fine, unless the approach gets too little time.
    near = np.array([0.04, 0.0])
    safety.check(chunk, near, DT, dropped=1)
    fault = trip(safety, chunk, current=near, dropped=1, first_step_s=0.03)  # 2 cm in 30 ms = 0.67 m/s
    assert (fault.check, fault.step) == ("velocity", 1) and fault.value == pytest.approx(2 / 3)
    chunk[0, 0] = np.nan  # a dropped row still has to be a sane prediction
    assert trip(safety, chunk, current=near, dropped=1).check == "non_finite"


def test_shape_and_broken_state_are_faults(safety):
    assert trip(safety, np.zeros((4, 3))).check == "shape"
    assert trip(safety, np.zeros((0, 2))).check == "shape"
    assert trip(safety, walk(), current=np.array([np.nan, 0.0])).check == "non_finite"


def test_watchdog_stale_state_and_slow_inference():
    dog = Watchdog(max_state_age_s=0.2, max_inference_s=0.5)
    dog.check_state(stamp=10.0, now=10.15)
    with pytest.raises(SafetyFault, match=r"stale state: the newest joint state is 0.300 s old .* limit of 0.2 s") as info:
        dog.check_state(stamp=10.0, now=10.3)
    assert info.value.check == "stale_state"
    with pytest.raises(SafetyFault, match="different clocks"):
        dog.check_state(stamp=1_700_000_000.0, now=5.0)
    dog.check_inference(0.4)
    with pytest.raises(SafetyFault, match=r"slow inference: the policy took 0.700 s, over the budget of 0.5 s") as info:
        dog.check_inference(0.7)
    assert info.value.check == "slow_inference"


def test_watchdog_from_robot_and_estop_latch():
    dog = Watchdog.from_robot(pusht_robot())
    assert (dog.max_state_age_s, dog.max_inference_s) == (0.25, 0.5)
    button = EStop()
    assert not button.pressed
    button.press("operator")
    button.press("second press")
    assert button.pressed and button.reason == "operator"


def test_clamp_mode_moves_targets_onto_the_joint_limits_and_counts_them():
    clamp = ChunkSafety(pusht_robot(position_limits="clamp", workspace={}))
    chunk = np.array([[0.2, -0.22], [0.24, -0.25]])  # 0.24 and -0.25 are outside +-0.2375
    out = clamp.check(chunk, np.array([0.19, -0.22]), DT)
    np.testing.assert_allclose(out, [[0.2, -0.22], [0.2375, -0.2375]])
    assert clamp.last_clamped == 2
    np.testing.assert_allclose(chunk[1], [0.24, -0.25])  # the caller's chunk is not changed
    clamp.check(walk(), HERE, DT)
    assert clamp.last_clamped == 0


def test_clamp_mode_still_faults_on_every_other_rule_checked_on_the_clamped_chunk():
    clamp = ChunkSafety(pusht_robot(position_limits="clamp"))  # workspace +-0.23 is inside the limits
    assert trip(clamp, np.array([[0.24, 0.0]]), current=np.array([0.2, 0.0])).check == "workspace"
    chunk = walk()
    chunk[1, 0] = np.nan
    assert trip(clamp, chunk).check == "non_finite"  # NaN is not clamped into range
    no_ws = ChunkSafety(pusht_robot(position_limits="clamp", workspace={}))
    # 0.9 clamps to 0.2375, still 0.2375 from the current state in one tick: the max step check sees the clamped value
    fault = trip(no_ws, np.array([[0.9, 0.0]]))
    assert fault.check == "max_step" and fault.value == pytest.approx(0.2375)


# --- Cartesian workspace (forward kinematics) -------------------------------------------------------------------
HOME = np.array([0.0, -np.pi / 2, np.pi / 2, -np.pi / 2, -np.pi / 2, 0.0])  # UR5e flange at (-0.4919, -0.1333, 0.4879)


def ur5e(**cartesian) -> ChunkSafety:
    """The shipped UR5e with its DH table and the Cartesian box replaced where given."""
    data = yaml.safe_load((ROBOT_CONF_DIR / "ur5e_ros2.yaml").read_text())
    data["cartesian_workspace"] = {**data["cartesian_workspace"], **cartesian}
    return ChunkSafety(RobotConfig.from_dict(data))


def pan(start: np.ndarray, step: float, n: int) -> np.ndarray:
    """(n, 6) chunk turning shoulder_pan by ``step`` rad per tick from ``start`` (the tool point circles the z axis)."""
    chunk = np.tile(start, (n, 1))
    chunk[:, 0] += step * np.arange(1, n + 1)
    return chunk


def test_a_chunk_inside_the_cartesian_box_passes():
    safety = ur5e()
    chunk = pan(HOME, 0.03, 8)
    np.testing.assert_array_equal(safety.check(chunk, HOME, DT, current_velocities=np.zeros(6)), chunk)


def test_a_chunk_that_leaves_the_cartesian_box_faults_at_the_step_with_axis_value_and_bound():
    # Panning by +q turns the flange (radius 0.5096 m about z, at -164.86 deg) towards y = -0.5096: y = -0.3 at
    # q = 0.3683 rad. Rows at 0.05 rad per tick: row 6 (q 0.35, y -0.293) is in, row 7 (q 0.40, y -0.314) is out;
    # the sample half-way between them (q 0.375, y -0.304) is the first point out.
    safety = ur5e(y=[-0.3, 0.3])
    fault = trip(safety, pan(HOME, 0.05, 8), current=HOME)
    assert (fault.check, fault.step, fault.axis, fault.limit, fault.joint) == ("cartesian_workspace", 7, "y", -0.3, None)
    assert fault.value == pytest.approx(-0.5096 * np.sin(np.deg2rad(164.86 - np.rad2deg(0.375))), abs=2e-4)
    assert "the tool point at 2/4 of the way from step 6 to step 7 is at (" in fault.reason
    assert "y = -0.3042 outside [-0.3, 0.3]" in fault.reason


def test_a_row_outside_the_box_is_named_by_its_step():
    safety = ur5e(z=[0.1, 0.45])  # the home pose's flange is at z 0.4879
    chunk = np.tile(HOME, (3, 1))  # every row at home: row 0 is out
    fault = trip(safety, chunk, current=HOME)
    assert (fault.check, fault.step, fault.axis, fault.limit) == ("cartesian_workspace", 0, "z", 0.45)
    assert fault.value == pytest.approx(0.4879, abs=1e-4) and "the tool point at step 0 is at" in fault.reason


def test_the_path_between_points_is_checked_not_only_the_points():
    # Two rows either side of x = -r (the pan angle where the flange points along -x): both rows lie inside an x
    # bound just above -r, the arc between them does not.
    chain = ur5e().chain
    radius = float(np.hypot(*chain.tool_points(HOME)[:2]))
    phi0 = float(np.arctan2(*chain.tool_points(HOME)[1::-1]))
    centre = HOME.copy()
    centre[0] = np.pi - phi0  # flange at angle pi: x = -radius
    before, after = centre - [0.05, 0, 0, 0, 0, 0], centre + [0.05, 0, 0, 0, 0, 0]
    safety = ur5e(x=[-radius + 1e-4, -0.25])
    assert chain.tool_points(before)[0] > -radius + 1e-4 and chain.tool_points(after)[0] > -radius + 1e-4
    fault = trip(safety, np.array([after]), current=before)
    assert (fault.check, fault.step, fault.axis) == ("cartesian_workspace", 0, "x")
    assert "2/4 of the way from the current state to step 0" in fault.reason
    # an arm already outside the box may come back in: the first step's inside points are not checked then, its rows are
    safety = ur5e(x=[-radius + 1e-4, -0.25], y=[-0.3, 0.3])
    safety.max_step, safety.max_velocity, safety.max_acceleration = np.full(6, 1.0), np.full(6, 10.0), np.full(6, 1e3)
    far = centre - [1.2, 0, 0, 0, 0, 0]  # flange at angle pi - 1.2: y = r sin 1.2 = 0.475, out
    near = centre - [1.1, 0, 0, 0, 0, 0]  # y = 0.454, still out
    into = centre - [0.5, 0, 0, 0, 0, 0]  # y = 0.244, in; the samples on the way from `far` are out
    assert chain.tool_points(far)[1] > 0.3 and chain.tool_points(into)[1] < 0.3
    safety.check(np.array([into, into]), far, DT)
    fault = trip(safety, np.array([near, into]), current=far)  # near is out in x (-0.23 > -0.25) and y: x comes first
    assert (fault.check, fault.step, fault.axis) == ("cartesian_workspace", 0, "x") and "at step 0 is" in fault.reason
    # from inside, the same kind of path is checked between the points: from `into` out to `far` faults on the way
    fault = trip(safety, np.array([into - [0.2, 0, 0, 0, 0, 0]]), current=into)
    assert fault.step == 0 and "of the way from the current state to step 0" in fault.reason


def test_cartesian_check_comes_after_joint_workspace_and_before_motion():
    safety = ur5e(y=[-0.3, 0.3])
    out_of_joint_ws = pan(HOME, 0.05, 8)
    out_of_joint_ws[7, 1] = -0.1  # shoulder_lift workspace is [-3.0, -0.2]
    assert trip(safety, out_of_joint_ws, current=HOME).check == "workspace"
    too_fast = pan(HOME, 0.05, 8)
    too_fast[:, 0] += 0.2  # a 0.25 rad first step would break max_step, but the box is checked first
    assert trip(safety, too_fast, current=HOME).check == "cartesian_workspace"


def test_dropped_rows_are_checked_for_the_cartesian_box_too():
    safety = ur5e(z=[0.1, 0.6])
    chunk = pan(HOME, 0.03, 4)
    chunk[0, 1] = -0.8  # shoulder lifted towards vertical: the flange rises above 0.6
    fault = trip(safety, chunk, current=chunk[1], dropped=2)
    assert (fault.check, fault.step, fault.axis) == ("cartesian_workspace", 0, "z")


def test_a_robot_without_a_cartesian_workspace_does_no_forward_kinematics():
    assert ChunkSafety(pusht_robot()).chain is None
    data = yaml.safe_load((ROBOT_CONF_DIR / "ur5e_ros2.yaml").read_text())
    del data["cartesian_workspace"]
    assert ChunkSafety(RobotConfig.from_dict(data)).chain is None


def test_the_control_loop_holds_and_sends_nothing_when_a_chunk_leaves_the_cartesian_box(tmp_path):
    # The pusher's two joints read as a planar 2-link arm with 1 m links: y = sin q1 + sin(q1 + q2) ~ 2 q1. Walking
    # q1 by 0.02 per tick from 0, y crosses 0.1 at q1 = 0.0500: the sample 3/4 of the way from row 1 (0.04) to row 2.
    robot = pusht_robot(kinematics={"dh": [{"a": 1.0, "d": 0.0, "alpha": 0.0}, {"a": 1.0, "d": 0.0, "alpha": 0.0}]},
                        cartesian_workspace={"y": [-0.1, 0.1]})
    clock = ManualClock()
    driver = RecordingDriver(robot, clock)
    with CommandLog(tmp_path / "log.jsonl") as log:
        result = ControlLoop(driver, PolicyRunner(WalkPolicy(step=(0.02, 0.0))), robot, clock=clock, max_ticks=10,
                             log=log).run()
    assert result.status == "fault" and result.fault_check == "cartesian_workspace"
    fault = read_log(tmp_path / "log.jsonl")[-1]  # the log's fault record says which axis, not only the message
    assert fault["kind"] == "fault" and fault["axis"] == "y" and fault["joint"] is None and fault["limit"] == 0.1
    assert "3/4 of the way from step 1 to step 2" in result.fault and "y = 0.1099 outside [-0.1, 0.1]" in result.fault
    assert driver.calls.count("hold") == 1 and driver.calls[-1] == "hold" and driver.sent == []
