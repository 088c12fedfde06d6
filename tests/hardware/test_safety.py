import numpy as np
import pytest

from hardware.safety import ChunkSafety, EStop, SafetyFault, Watchdog
from tests.hardware.stubs import pusht_robot

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
