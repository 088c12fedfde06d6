"""The deploy loop: state -> observation -> PolicyRunner -> joint chunk -> safety -> driver, once per control tick.

Each tick:
 1. the e-stop button is polled (pressed: the arm's e-stop is sent and the run ends; it is polled again right
    before anything is sent, so nothing goes out after a press);
 2. the newest state is read and the watchdog checks its age; the run ends cleanly on task success;
 3. the observation map turns the state into the policy's observation; the PolicyRunner hands out this tick's
    action, predicting a new chunk when its queue runs dry; the watchdog checks how long that took;
 4. joint_trajectory controller: each new chunk's executed actions are mapped to joints, timed (points already
    past dropped, driver.schedule_chunk), checked by ChunkSafety along the path that will be executed, and sent
    as one trajectory; ticks without a new chunk send nothing (the controller is following the last one).
    forward_position controller: each new chunk is checked whole, and every tick's action is checked and sent
    as a setpoint;
 5. the loop sleeps until the next tick on its clock.
Any fault - a SafetyFault, or any exception from the driver, the policy or the mapping - ends the run at once:
the driver is told to hold, exactly once, and nothing more is sent. A clean stop (max ticks, max seconds, success,
Ctrl+C) also ends with one hold.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

from hardware.clock import Clock
from hardware.driver import ArmDriver, ArmState, schedule_chunk
from hardware.mapping import actions_to_joints, check_policy_fits_robot, observation_from_state
from hardware.robot import RobotConfig
from hardware.safety import ChunkSafety, EStop, SafetyFault, Watchdog
from robopolicy.core import PolicyRunner

CLEAN_STOPS = ("max_ticks", "max_seconds", "success")


class _EStopPressed(Exception):
    """Unwinds the tick loop when the e-stop button has been pressed."""


@dataclass
class LoopResult:
    """What a run did and why it ended.

    status: "max_ticks" | "max_seconds" | "success" (clean stops), "fault", "estop" or "interrupted".
    fault_check / fault: the rule that tripped (a SafetyFault's check, or "exception") and the full reason;
    fault_tick: the tick it happened in (ticks count completed ticks). held: the driver acknowledged hold().
    stop_error: what went wrong stopping the arm (hold failed: the e-stop was tried; e-stop failed: hold was tried).
    inference_s: wall-clock seconds of each predict_chunk call (PolicyRunner.stats).
    exception: the exception behind an "exception" fault.
    """

    status: str = "running"
    ticks: int = 0
    seconds: float = 0.0
    fault_check: str | None = None
    fault: str | None = None
    fault_tick: int | None = None
    chunks: int = 0
    trajectories_sent: int = 0
    setpoints_sent: int = 0
    points_dropped: int = 0
    overruns: int = 0
    held: bool = False
    stop_error: str | None = None
    inference_s: list[float] = field(default_factory=list)
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True for a clean stop (max ticks, max seconds, success) with the arm holding."""
        return self.status in CLEAN_STOPS and self.held

    def summary(self) -> str:
        """A few lines for a person: how it ended, what was sent, inference times, whether the arm holds."""
        timing = ""
        if self.inference_s:
            ms = [1000 * s for s in self.inference_s]
            timing = f"; inference median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms"
        line = (f"{self.status} after {self.ticks} ticks ({self.seconds:.2f} s): {self.chunks} chunks, "
                f"{self.trajectories_sent} trajectories ({self.points_dropped} past points dropped), "
                f"{self.setpoints_sent} setpoints{timing}; {self.overruns} overrun ticks")
        if self.status == "fault":
            line = f"FAULT at tick {self.fault_tick} [{self.fault_check}]: {self.fault}\n  {line}"
        elif self.status == "estop":
            line = f"E-STOP: {self.fault}\n  {line}"
        if self.status != "estop" or self.stop_error:
            line += "\n  arm told to hold" + ("" if self.held else " - FAILED")
        if self.stop_error:
            line += f"\n  {self.stop_error}"
        return line


class ControlLoop:
    """Runs a policy on an arm through a driver (connected by the caller) until a limit, success or a fault.

    max_ticks / max_seconds (on ``clock``): at least one is required. ``safety`` and ``watchdog`` default to the
    robot config's limits; ``estop`` is a button another thread may press.
    """

    def __init__(self, driver: ArmDriver, runner: PolicyRunner, robot: RobotConfig, *, clock: Clock,
                 max_ticks: int | None = None, max_seconds: float | None = None, stop_on_success: bool = True,
                 safety: ChunkSafety | None = None, watchdog: Watchdog | None = None,
                 estop: EStop | None = None) -> None:
        if max_ticks is None and max_seconds is None:
            raise ValueError("set max_ticks or max_seconds: a run on an arm must have an end")
        check_policy_fits_robot(robot, runner.policy.shape_meta)
        if robot.controller.type == "joint_trajectory" and runner.temporal_ensemble is not None:
            raise ValueError("temporal ensembling gives one action per tick, not a chunk: it needs a forward_position "
                             "controller (streamed setpoints), not joint_trajectory")
        self.driver, self.runner, self.robot, self.clock = driver, runner, robot, clock
        self.max_ticks, self.max_seconds, self.stop_on_success = max_ticks, max_seconds, stop_on_success
        self.safety = safety or ChunkSafety(robot)
        self.watchdog = watchdog or Watchdog.from_robot(robot)
        self.estop = estop
        self._phase = "start"

    def run(self) -> LoopResult:
        """Run until a stop or a fault; the driver is told to hold once at the end (e-stopped instead on e-stop)."""
        result = LoopResult()
        start = self.clock.now()
        try:
            result.status = self._ticks(result, start)
        except _EStopPressed as pressed:
            result.status, result.fault = "estop", str(pressed)
        except SafetyFault as fault:
            result.status, result.fault_check, result.fault = "fault", fault.check, fault.reason
        except Exception as exc:  # noqa: BLE001 - any failure anywhere must end with the arm holding
            result.status, result.fault_check, result.exception = "fault", "exception", exc
            result.fault = f"{type(exc).__name__} during {self._phase}: {exc}"
        except KeyboardInterrupt:
            result.status = "interrupted"
        if result.status == "fault":
            result.fault_tick = result.ticks
        if result.status == "estop":
            self._estop(result)
        else:
            self._hold(result)
        result.seconds = self.clock.now() - start
        result.inference_s = list(self.runner.stats.latencies)
        return result

    def _ticks(self, result: LoopResult, start: float) -> str:
        """The tick loop; returns the reason it stopped cleanly, raises on a fault."""
        self.runner.reset()
        meta, dt = self.runner.policy.shape_meta, self.robot.dt
        while True:
            self._check_estop()
            if self.max_ticks is not None and result.ticks >= self.max_ticks:
                return "max_ticks"
            if self.max_seconds is not None and self.clock.now() - start >= self.max_seconds - 1e-9:
                return "max_seconds"
            self._phase = "read_state"
            state = self.driver.read_state()
            self.watchdog.check_state(state.stamp, self.clock.now())
            if self.stop_on_success and self.driver.task_success():
                return "success"
            self._phase = "observation"
            obs = {k: v[None] for k, v in observation_from_state(state, self.robot, meta).items()}  # batch of 1
            self._phase = "policy"
            predictions = len(self.runner.stats.latencies)
            began = self.clock.now()
            action = self.runner.act(obs)[0]  # (Da,)
            self.watchdog.check_inference(self.clock.now() - began)
            self._phase = "command"
            self._command(state, action, len(self.runner.stats.latencies) > predictions, result)
            result.ticks += 1
            deadline = start + result.ticks * dt
            if self.clock.now() > deadline:
                result.overruns += 1
            self._phase = "sleep"
            self.clock.sleep_until(deadline)

    def _command(self, state: ArmState, action: np.ndarray, new_chunk: bool, result: LoopResult) -> None:
        """Check and send this tick's command (see the module docstring, step 4)."""
        dt = self.robot.dt
        if new_chunk:
            result.chunks += 1
            chunk = actions_to_joints(self.runner.last_chunk.actions[0].detach().cpu().numpy(), self.robot)  # (Ta, J)
        if self.robot.controller.type == "joint_trajectory":
            if not new_chunk:
                return
            arrival = self.clock.now() + self.robot.controller.latency_s
            timed = schedule_chunk(chunk, dt, state.stamp, arrival - state.stamp)
            if len(timed.positions) == 0:
                raise SafetyFault("late", f"late chunk: it reaches the controller {arrival - state.stamp:.3f} s after "
                                  f"its observation, after all {len(chunk)} of its points ({len(chunk) * dt:.3f} s)")
            self.safety.check(chunk, state.positions, dt, state.velocities, dropped=timed.dropped,
                              first_step_s=timed.start_stamp - arrival)
            self._check_estop()
            self.driver.send_trajectory(timed.positions, dt, timed.start_stamp)
            result.trajectories_sent += 1
            result.points_dropped += timed.dropped
        else:
            if new_chunk:
                self.safety.check(chunk, state.positions, dt, state.velocities)
            setpoint = actions_to_joints(action, self.robot)  # (J,)
            self.safety.check(setpoint[None], state.positions, dt, state.velocities)
            self._check_estop()
            self.driver.send_setpoint(setpoint)
            result.setpoints_sent += 1

    def _check_estop(self) -> None:
        if self.estop is not None and self.estop.pressed:
            raise _EStopPressed(self.estop.reason)

    def _estop(self, result: LoopResult) -> None:
        """Send the arm's e-stop; if that fails, at least try to make it hold."""
        try:
            self.driver.estop()
        except Exception as exc:  # noqa: BLE001
            self._hold(result)
            result.stop_error = f"the e-stop failed ({type(exc).__name__}: {exc}); hold " + \
                ("was sent instead" if result.held else f"failed too: {result.stop_error}")

    def _hold(self, result: LoopResult) -> None:
        """Tell the arm to hold, once; if that fails, try its e-stop."""
        try:
            self.driver.hold()
            result.held = True
        except Exception as exc:  # noqa: BLE001
            result.stop_error = f"hold failed ({type(exc).__name__}: {exc})"
            try:
                self.driver.estop()
                result.stop_error += "; the e-stop was sent instead"
            except Exception as estop_exc:  # noqa: BLE001
                result.stop_error += f"; the e-stop failed too ({type(estop_exc).__name__}: {estop_exc})"
