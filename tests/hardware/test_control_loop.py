import numpy as np
import pytest

from hardware.clock import ManualClock
from hardware.command_log import CommandLog, read_log
from hardware.control_loop import ControlLoop
from hardware.safety import EStop
from hardware.sim_driver import SimArmDriver
from robopolicy.core import PolicyRunner
from robopolicy.envs.pusht import GOAL_POSE
from tests.hardware.stubs import SPEC, RecordingDriver, WalkPolicy, pusht_robot, scene

TA = SPEC.action_horizon


def run(policy, driver, robot=None, clock=None, **kw):
    robot = robot or driver.robot
    loop = ControlLoop(driver, PolicyRunner(policy), robot, clock=clock or driver.clock, **kw)
    return loop.run()


def assert_held_once_and_silent_after(driver: RecordingDriver, sends_before: int) -> None:
    """Exactly one hold, it is the last call, and only the sends made before the fault went through."""
    assert driver.calls.count("hold") == 1 and driver.calls[-1] == "hold"
    assert len(driver.sent) == sends_before


# --- normal runs ------------------------------------------------------------------------------------------------
def test_a_normal_run_on_the_sim_sends_one_trajectory_per_chunk_and_stops_at_max_ticks():
    clock = ManualClock()
    arm = SimArmDriver(pusht_robot(), clock=clock, initial_state=scene())
    with arm:
        result = run(WalkPolicy(step=(0.01, 0.0)), arm, max_ticks=12)
        final = arm.read_state().positions
    assert result.status == "max_ticks" and result.ok
    assert (result.ticks, result.chunks, result.trajectories_sent, result.points_dropped) == (12, 3, 3, 0)
    sent = [c for c in arm.commands if c.kind == "trajectory"]
    assert [c.time for c in sent] == pytest.approx([0.0, 0.4, 0.8])
    # each chunk walks 4 x 1 cm from the position observed when it was predicted, first point one tick later
    first = sent[0].message
    assert first.header.stamp.to_seconds() == pytest.approx(0.1)
    np.testing.assert_allclose(first.points[0].positions, [-0.09, -0.1], atol=1e-9)
    assert [c.kind for c in arm.commands][-2:] == ["hold", "hold"]  # the loop's, then the context manager's
    # 3 chunks of 4 x 1 cm, each walking from the observed position, which trails the servo target by ~3 mm
    assert 0.0 < final[0] < -0.1 + 0.12 and final[1] == pytest.approx(-0.1, abs=1e-4)


def test_stops_at_max_seconds_on_the_loop_clock():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(), driver, max_seconds=1.0)
    assert result.status == "max_seconds" and result.ticks == 10 and result.seconds == pytest.approx(1.0)
    assert driver.calls.count("send_trajectory") == 3  # chunks at ticks 0, 4, 8


def test_stops_cleanly_on_task_success():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock, success_after=5)
    result = run(WalkPolicy(), driver, max_ticks=100)
    assert result.status == "success" and result.ok and result.ticks == 5
    assert_held_once_and_silent_after(driver, sends_before=2)


def test_the_sim_reports_success_and_the_loop_stops_before_commanding():
    clock = ManualClock()
    with SimArmDriver(pusht_robot(), clock=clock, initial_state=scene(block=GOAL_POSE)) as arm:
        result = run(WalkPolicy(), arm, max_ticks=10)
    assert result.status == "success" and result.ticks == 0 and result.trajectories_sent == 0


def test_forward_position_controller_streams_one_checked_setpoint_per_tick():
    robot = pusht_robot(controller={"type": "forward_position", "topic": "/forward_position_controller/commands"})
    clock = ManualClock()
    driver = RecordingDriver(robot, clock, position=(0.1, 0.0))
    result = run(WalkPolicy(step=(0.0, 0.01)), driver, max_ticks=6)
    assert result.setpoints_sent == 6 and result.trajectories_sent == 0 and result.chunks == 2
    setpoints = [s[1] for s in driver.sent]
    # the arm does not move (a recording driver), so each chunk walks from the same place: 1, 2, 3, 4, 1, 2 cm
    np.testing.assert_allclose([p[1] for p in setpoints], [0.01, 0.02, 0.03, 0.04, 0.01, 0.02])
    np.testing.assert_allclose([p[0] for p in setpoints], 0.1)


def test_action_map_reorders_dims_into_joints():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(action=["pusher_y", "pusher_x"]), clock)
    run(WalkPolicy(step=(0.01, 0.0)), driver, max_ticks=1)
    np.testing.assert_allclose(driver.sent[0][1][:, 1], [0.01, 0.02, 0.03, 0.04])  # action dim 0 -> pusher_y


# --- faults: exactly one hold, nothing sent after -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "check", "message"),
    [
        ("nan", "non_finite", "non-finite value: joint 'pusher_x' at step 2 is nan"),
        ("jump", "max_step", "joint 'pusher_x' at step 0 (from the current state) moves 0.2"),
        ("raise", "exception", "RuntimeError during policy: the network fell over"),
    ],
)
def test_a_bad_second_chunk_ends_the_run_with_one_hold_and_no_send(fault, check, message):
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(fault=fault, fault_call=1), driver, max_ticks=50)
    assert (result.status, result.fault_check, result.fault_tick) == ("fault", check, TA)
    assert message in result.fault
    assert not result.ok and result.held
    assert_held_once_and_silent_after(driver, sends_before=1)


def test_a_chunk_outside_the_joint_limits_is_a_fault_not_clamped():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock, position=(0.2, 0.0))  # walking +x leaves the limits
    result = run(WalkPolicy(step=(0.04, 0.0)), driver, max_ticks=10)
    assert result.fault_check == "position" and "joint 'pusher_x' at step 0 is 0.24" in result.fault
    assert_held_once_and_silent_after(driver, sends_before=0)


def test_slow_inference_trips_the_watchdog_before_the_chunk_is_sent():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(fault="slow", fault_call=1, clock=clock, slow_s=0.6), driver, max_ticks=50)
    assert (result.fault_check, result.fault_tick) == ("slow_inference", TA)
    assert "the policy took 0.600 s, over the budget of 0.5 s" in result.fault
    assert_held_once_and_silent_after(driver, sends_before=1)


def test_a_stalled_state_stream_trips_the_watchdog():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock, freeze_after=2)  # stamps stop at t = 0.1
    result = run(WalkPolicy(), driver, max_ticks=50)
    # ages 0.1, 0.2 pass; at t = 0.4 the state is 0.3 s old (limit 0.25)
    assert (result.fault_check, result.fault_tick) == ("stale_state", 4)
    assert "0.300 s old" in result.fault
    assert_held_once_and_silent_after(driver, sends_before=1)


@pytest.mark.parametrize(("method", "call", "sends"), [("send_trajectory", 1, 1), ("read_state", 6, 2)])
def test_an_exception_in_the_driver_ends_the_run_with_one_hold(method, call, sends):
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock, raise_in=method, raise_on_call=call)
    result = run(WalkPolicy(), driver, max_ticks=50)
    assert result.fault_check == "exception" and "transport is down" in result.fault
    assert f"RuntimeError during {'command' if method == 'send_trajectory' else 'read_state'}" in result.fault
    assert isinstance(result.exception, RuntimeError)
    assert_held_once_and_silent_after(driver, sends_before=sends)


def test_a_failing_hold_falls_back_to_the_estop():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock, raise_in="hold")
    result = run(WalkPolicy(fault="nan", fault_call=0), driver, max_ticks=5)
    assert result.status == "fault" and not result.held
    assert result.stop_error == "hold failed (RuntimeError: hold failed: the transport is down); the e-stop was sent instead"
    assert "arm told to hold - FAILED" in result.summary()
    assert driver.calls[-2:] == ["hold", "estop"]


def test_pressing_the_estop_sends_the_arms_estop_and_nothing_else():
    clock = ManualClock()
    button = EStop()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(fault="estop", fault_call=1, estop=button), driver, max_ticks=50, estop=button)
    assert result.status == "estop" and result.fault == "operator pressed the e-stop"
    # pressed during the second prediction: that chunk is never sent, the arm is e-stopped instead of held
    assert driver.calls[-1] == "estop" and "hold" not in driver.calls
    assert len(driver.sent) == 1 and result.ticks == TA


class EStopInputDriver(RecordingDriver):
    """A RecordingDriver whose own e-stop input (a topic, on a real backend) fires from read number ``fire_after``
    on, and stays fired."""

    def __init__(self, *args, fire_after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fire_after = fire_after

    def estop_requested(self):
        return "e-stop topic /estop: std_msgs/Bool True received" if self.reads >= self.fire_after else None


@pytest.mark.parametrize("with_button", [True, False])
def test_the_drivers_estop_input_presses_the_button_and_ends_the_run_with_the_estop(with_button):
    clock = ManualClock()
    button = EStop() if with_button else None
    # fires at the read of tick TA + 1, after the second chunk went out (tick TA); the loop sees it at tick TA + 2
    driver = EStopInputDriver(pusht_robot(), clock, fire_after=TA + 2)
    result = run(WalkPolicy(), driver, max_ticks=50, estop=button)
    assert result.status == "estop" and result.fault == "e-stop topic /estop: std_msgs/Bool True received"
    assert driver.calls[-1] == "estop" and driver.calls.count("estop") == 1 and "hold" not in driver.calls
    assert len(driver.sent) == 2 and result.ticks == TA + 2
    if with_button:
        assert button.pressed and button.reason == result.fault


def test_a_failing_estop_falls_back_to_hold():
    clock = ManualClock()
    button = EStop()
    button.press()
    driver = RecordingDriver(pusht_robot(), clock, raise_in="estop")
    result = run(WalkPolicy(), driver, max_ticks=5, estop=button)
    assert result.status == "estop" and result.held and driver.calls[-2:] == ["estop", "hold"]
    assert result.stop_error.startswith("the e-stop failed (RuntimeError") and "hold was sent instead" in result.stop_error


def test_the_sim_driver_faults_the_same_way():
    clock = ManualClock()
    with SimArmDriver(pusht_robot(), clock=clock, initial_state=scene()) as arm:
        result = run(WalkPolicy(fault="nan", fault_call=2), arm, max_ticks=50)
        kinds = [c.kind for c in arm.commands]
    assert result.fault_check == "non_finite" and result.fault_tick == 2 * TA
    assert kinds == ["trajectory", "trajectory", "hold"]


# --- set-up errors --------------------------------------------------------------------------------------------------
def test_a_policy_that_does_not_fit_the_robot_is_refused_up_front():
    robot = pusht_robot(observations={"agent_pos": {"joints": ["pusher_x"]}, "object": {"extra": "object_pose"}})
    with pytest.raises(ValueError, match=r"'agent_pos' is 2 wide for the policy but maps 1 joints"):
        ControlLoop(RecordingDriver(robot, ManualClock()), PolicyRunner(WalkPolicy()), robot, clock=ManualClock(),
                    max_ticks=1)
    robot = pusht_robot(observations={"agent_pos": {"joints": ["pusher_x", "pusher_y"]}})
    with pytest.raises(ValueError, match=r"the policy reads 'object' \(4,\) but `observations` does not map it"):
        ControlLoop(RecordingDriver(robot, ManualClock()), PolicyRunner(WalkPolicy()), robot, clock=ManualClock(),
                    max_ticks=1)


def test_a_run_needs_an_end_and_trajectory_control_needs_chunks():
    robot, clock = pusht_robot(), ManualClock()
    with pytest.raises(ValueError, match="max_ticks or max_seconds"):
        ControlLoop(RecordingDriver(robot, clock), PolicyRunner(WalkPolicy()), robot, clock=clock)
    with pytest.raises(ValueError, match="temporal ensembling"):
        ControlLoop(RecordingDriver(robot, clock), PolicyRunner(WalkPolicy(), temporal_ensemble=0.1), robot,
                    clock=clock, max_ticks=1)


# --- dry run, command log, status line, clamping, timing statistics -------------------------------------------------
def test_a_dry_run_reads_state_but_sends_nothing_at_all_and_prints_what_it_would_send(tmp_path):
    clock, printed = ManualClock(), []
    driver = RecordingDriver(pusht_robot(), clock)
    with CommandLog(tmp_path / "log.jsonl") as log:
        result = run(WalkPolicy(step=(0.01, 0.0)), driver, max_ticks=10, dry_run=True, log=log, echo=printed.append)
    assert set(driver.calls) == {"read_state"} and driver.sent == []  # no send_*, no hold, no estop
    assert result.ok and result.dry_run and not result.held and result.trajectories_sent == 3
    assert [line.split(":")[0] for line in printed] == ["[dry run] tick 0", "[dry run] tick 4", "[dry run] tick 8"]
    assert "would send trajectory of 4 points from t=0.100 every 0.1 s ['pusher_x', 'pusher_y']" in printed[0]
    assert "[0.01, 0.  ]" in printed[0] and "[0.04, 0.  ]" in printed[0]
    records = read_log(tmp_path / "log.jsonl")
    assert len(records) == 3 and all(r["dry_run"] for r in records)
    np.testing.assert_allclose(records[0]["positions"], [[0.01, 0.0], [0.02, 0.0], [0.03, 0.0], [0.04, 0.0]])
    assert "DRY RUN" in result.summary() and "the arm was not told to hold" in result.summary()


def test_a_dry_run_fault_or_estop_sends_no_hold_or_estop_either():
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(fault="nan", fault_call=1), driver, max_ticks=50, dry_run=True, echo=lambda line: None)
    assert result.status == "fault" and result.fault_check == "non_finite" and not result.ok
    assert set(driver.calls) == {"read_state"}
    button = EStop()
    driver = RecordingDriver(pusht_robot(), clock)
    result = run(WalkPolicy(fault="estop", fault_call=1, estop=button), driver, max_ticks=50, estop=button,
                 dry_run=True, echo=lambda line: None)
    assert result.status == "estop" and set(driver.calls) == {"read_state"}


def test_the_log_has_one_line_per_trajectory_sent_with_its_positions_and_timing(tmp_path):
    clock = ManualClock()
    driver = RecordingDriver(pusht_robot(), clock)
    with CommandLog(tmp_path / "log.jsonl") as log:
        result = run(WalkPolicy(step=(0.01, 0.0)), driver, max_ticks=10, log=log)
    records = read_log(tmp_path / "log.jsonl")
    assert len(records) == len(driver.sent) == result.trajectories_sent == 3
    for record, sent, tick in zip(records, driver.sent, (0, 4, 8)):
        assert (record["tick"], record["kind"], record["dt"], record["dropped"], record["clamped"]) == \
            (tick, "trajectory", 0.1, 0, 0)
        assert record["obs_stamp"] == pytest.approx(tick * 0.1) and record["clock"] == pytest.approx(tick * 0.1)
        assert record["start_stamp"] == pytest.approx(sent[3]) == pytest.approx(tick * 0.1 + 0.1)
        assert record["joints"] == ["pusher_x", "pusher_y"] and record["dry_run"] is False
        assert isinstance(record["wall"], float)
        np.testing.assert_allclose(record["positions"], sent[1])


def test_the_log_has_one_line_per_setpoint(tmp_path):
    robot = pusht_robot(controller={"type": "forward_position", "topic": "/forward_position_controller/commands"})
    driver = RecordingDriver(robot, ManualClock(), position=(0.1, 0.0))
    with CommandLog(tmp_path / "log.jsonl") as log:
        run(WalkPolicy(step=(0.0, 0.01)), driver, max_ticks=6, log=log)
    records = read_log(tmp_path / "log.jsonl")
    assert [r["kind"] for r in records] == ["setpoint"] * 6 and [r["tick"] for r in records] == list(range(6))
    np.testing.assert_allclose([r["positions"] for r in records], [s[1] for s in driver.sent])
    assert records[0]["start_stamp"] is None


def test_a_fault_is_the_last_line_of_the_log(tmp_path):
    driver = RecordingDriver(pusht_robot(), ManualClock())
    with CommandLog(tmp_path / "log.jsonl") as log:
        result = run(WalkPolicy(fault="nan", fault_call=1), driver, max_ticks=50, log=log)
    records = read_log(tmp_path / "log.jsonl")
    assert [r["kind"] for r in records] == ["trajectory", "fault"]
    last = records[-1]
    assert (last["tick"], last["check"], last["joint"], last["step"]) == (TA, "non_finite", "pusher_x", 2)
    assert last["reason"] == result.fault and last["value"] == "nan"
    driver = RecordingDriver(pusht_robot(), ManualClock(), raise_in="send_trajectory", raise_on_call=1)
    with CommandLog(tmp_path / "log2.jsonl") as log:
        run(WalkPolicy(), driver, max_ticks=50, log=log)
    records = read_log(tmp_path / "log2.jsonl")  # the failed send is not logged as sent
    assert [r["kind"] for r in records] == ["trajectory", "fault"] and records[-1]["check"] == "exception"


def test_the_status_line_reports_rate_inference_chunk_age_and_interventions():
    printed = []
    driver = RecordingDriver(pusht_robot(), ManualClock())
    run(WalkPolicy(), driver, max_ticks=10, status_every_s=0.5, echo=printed.append)
    assert len(printed) == 2
    assert printed[0].startswith("[deploy] t=0.5 s tick 5: 10.0 ticks/s; inference last ")
    assert "chunk age 100 ms; 0 safety interventions; 0 overruns" in printed[0]  # the chunk observed at t = 0.4
    assert printed[1].startswith("[deploy] t=1.0 s tick 10") and "chunk age 200 ms" in printed[1]


def test_the_loop_is_quiet_by_default(capsys):
    run(WalkPolicy(), RecordingDriver(pusht_robot(), ManualClock()), max_ticks=10)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="status_every_s must be a positive number"):
        run(WalkPolicy(), RecordingDriver(pusht_robot(), ManualClock()), max_ticks=1, status_every_s=0)


def test_clamp_mode_sends_the_clamped_chunk_and_counts_interventions(tmp_path):
    robot = pusht_robot(position_limits="clamp", workspace={})
    driver, printed = RecordingDriver(robot, ManualClock(), position=(0.2, 0.0)), []
    with CommandLog(tmp_path / "log.jsonl") as log:  # walking +x at 4 cm a tick leaves the limits at once
        result = run(WalkPolicy(step=(0.04, 0.0)), driver, max_ticks=8, log=log, status_every_s=0.8,
                     echo=printed.append)
    assert result.ok and result.trajectories_sent == 2
    assert (result.interventions, result.clamped_values) == (2, 8)
    for sent in driver.sent:
        np.testing.assert_allclose(sent[1][:, 0], 0.2375)
    assert [r["clamped"] for r in read_log(tmp_path / "log.jsonl")] == [4, 4]
    assert "2 safety interventions (8 values clamped)" in result.summary()
    assert "2 safety interventions" in printed[-1]


def test_clamp_mode_still_faults_on_the_other_checks():
    robot = pusht_robot(position_limits="clamp")  # the workspace (+-0.23) lies inside the limits
    driver = RecordingDriver(robot, ManualClock(), position=(0.2, 0.0))
    result = run(WalkPolicy(step=(0.04, 0.0)), driver, max_ticks=8)
    assert result.fault_check == "workspace" and driver.sent == [] and result.interventions == 0


def test_the_result_reports_loop_rate_and_tick_period_percentiles():
    result = run(WalkPolicy(), RecordingDriver(pusht_robot(), ManualClock()), max_ticks=10)
    assert result.loop_rate_hz == pytest.approx(10.0)
    assert result.tick_period_p50_s == pytest.approx(0.1) and result.tick_period_p99_s == pytest.approx(0.1)
    assert "loop 10.00 ticks/s; tick period p50 100.0 ms, p99 100.0 ms" in result.summary()
    clock = ManualClock()  # the second prediction takes 0.3 s: one long tick, then the loop catches up
    result = run(WalkPolicy(fault="slow", fault_call=1, clock=clock, slow_s=0.3), RecordingDriver(pusht_robot(), clock),
                 max_ticks=12)
    assert result.ok and result.overruns >= 1
    assert result.tick_period_p50_s == pytest.approx(0.1) and result.tick_period_p99_s > 0.25
