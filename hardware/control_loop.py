"""The deploy loop: state -> observation -> PolicyRunner -> joint chunk -> safety -> driver, once per control tick.

Each tick:
 1. the e-stop button is polled, and with it the driver's own e-stop input (``driver.estop_requested()``, e.g. a
    topic), which presses the button (pressed: the arm's e-stop is sent and the run ends; both are polled again
    right before anything is sent, so nothing goes out after a press);
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

Every command goes out through one place, ``ControlLoop._send``: it counts it, writes it to the command log (when
one is given, hardware/command_log.py) and sends it - or, in a dry run, prints what it would have sent instead. A
dry run sends nothing at all to the arm: no trajectory, no setpoint, and no hold or e-stop at the end either (the
driver is only read). With ``status_every_s`` a one-line status is printed that often on the loop clock.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hardware.clock import Clock
from hardware.command_log import CommandLog
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
    dry_run: nothing was sent to the arm (the commands were printed and logged instead; no hold either).
    interventions: commands whose targets safety changed before sending (clamped onto joint position limits, robot
    ``position_limits: clamp``); clamped_values: how many joint values that moved in all.
    loop_rate_hz: ticks per second of loop-clock time; tick_period_p50_s / tick_period_p99_s: median and 99th
    percentile of the time between tick starts on the loop clock (jitter; None with fewer than two ticks).
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
    dry_run: bool = False
    interventions: int = 0
    clamped_values: int = 0
    loop_rate_hz: float | None = None
    tick_period_p50_s: float | None = None
    tick_period_p99_s: float | None = None

    @property
    def ok(self) -> bool:
        """True for a clean stop (max ticks, max seconds, success) with the arm holding (in a dry run: not told to)."""
        return self.status in CLEAN_STOPS and (self.held or self.dry_run)

    def summary(self) -> str:
        """A few lines for a person: how it ended, what was sent, inference times, whether the arm holds."""
        timing = ""
        if self.inference_s:
            ms = [1000 * s for s in self.inference_s]
            timing = f"; inference median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms"
        line = (f"{self.status} after {self.ticks} ticks ({self.seconds:.2f} s): {self.chunks} chunks, "
                f"{self.trajectories_sent} trajectories ({self.points_dropped} past points dropped), "
                f"{self.setpoints_sent} setpoints{timing}; {self.overruns} overrun ticks; "
                f"{self.interventions} safety interventions ({self.clamped_values} values clamped)")
        if self.tick_period_p50_s is not None:
            line += (f"\n  loop {self.loop_rate_hz:.2f} ticks/s; tick period p50 {1000 * self.tick_period_p50_s:.1f} ms, "
                     f"p99 {1000 * self.tick_period_p99_s:.1f} ms")
        if self.dry_run:
            line = "DRY RUN (nothing sent to the arm; the counts are what would have been sent)\n  " + line
        if self.status == "fault":
            line = f"FAULT at tick {self.fault_tick} [{self.fault_check}]: {self.fault}\n  {line}"
        elif self.status == "estop":
            line = f"E-STOP: {self.fault}\n  {line}"
        if self.dry_run:
            line += "\n  dry run: the arm was not told to hold (nothing is sent in a dry run)"
        elif self.status != "estop" or self.stop_error:
            line += "\n  arm told to hold" + ("" if self.held else " - FAILED")
        if self.stop_error:
            line += f"\n  {self.stop_error}"
        return line


class ControlLoop:
    """Runs a policy on an arm through a driver (connected by the caller) until a limit, success or a fault.

    max_ticks / max_seconds (on ``clock``): at least one is required. ``safety`` and ``watchdog`` default to the
    robot config's limits; ``estop`` is a button another thread may press (the driver's ``estop_requested`` is
    polled with it, with or without a button).
    dry_run: run everything but send nothing to the arm (each command is printed through ``echo`` instead).
    log: a CommandLog that gets one line per command sent (and the fault, if any); the caller closes it.
    status_every_s: print a status line through ``echo`` this often on the loop clock; None: quiet.
    """

    def __init__(self, driver: ArmDriver, runner: PolicyRunner, robot: RobotConfig, *, clock: Clock,
                 max_ticks: int | None = None, max_seconds: float | None = None, stop_on_success: bool = True,
                 safety: ChunkSafety | None = None, watchdog: Watchdog | None = None,
                 estop: EStop | None = None, dry_run: bool = False, log: CommandLog | None = None,
                 status_every_s: float | None = None, echo: Callable[[str], None] = print) -> None:
        if max_ticks is None and max_seconds is None:
            raise ValueError("set max_ticks or max_seconds: a run on an arm must have an end")
        if status_every_s is not None and not status_every_s > 0:
            raise ValueError(f"status_every_s must be a positive number of seconds or None (quiet), got {status_every_s}")
        check_policy_fits_robot(robot, runner.policy.shape_meta)
        if robot.controller.type == "joint_trajectory" and runner.temporal_ensemble is not None:
            raise ValueError("temporal ensembling gives one action per tick, not a chunk: it needs a forward_position "
                             "controller (streamed setpoints), not joint_trajectory")
        self.driver, self.runner, self.robot, self.clock = driver, runner, robot, clock
        self.max_ticks, self.max_seconds, self.stop_on_success = max_ticks, max_seconds, stop_on_success
        self.safety = safety or ChunkSafety(robot)
        self.watchdog = watchdog or Watchdog.from_robot(robot)
        self.estop = estop
        self.dry_run, self.log, self.status_every_s, self.echo = dry_run, log, status_every_s, echo
        self._phase = "start"
        self._chunk_stamp: float | None = None  # observation stamp of the chunk being executed
        self._tick_starts: list[float] = []

    def run(self) -> LoopResult:
        """Run until a stop or a fault; the driver is told to hold once at the end (e-stopped instead on e-stop)."""
        result = LoopResult(dry_run=self.dry_run)
        start = self.clock.now()
        self._tick_starts = []
        record: dict = {}
        try:
            result.status = self._ticks(result, start)
        except _EStopPressed as pressed:
            result.status, result.fault = "estop", str(pressed)
        except SafetyFault as fault:
            result.status, result.fault_check, result.fault = "fault", fault.check, fault.reason
            record = {"joint": fault.joint, "axis": fault.axis, "step": fault.step, "value": fault.value,
                      "limit": fault.limit}
        except Exception as exc:  # noqa: BLE001 - any failure anywhere must end with the arm holding
            result.status, result.fault_check, result.exception = "fault", "exception", exc
            result.fault = f"{type(exc).__name__} during {self._phase}: {exc}"
        except KeyboardInterrupt:
            result.status = "interrupted"
        if result.status == "fault":
            result.fault_tick = result.ticks
        if self.dry_run:
            pass  # nothing at all goes to the arm in a dry run, not even hold
        elif result.status == "estop":
            self._estop(result)
        else:
            self._hold(result)
        if self.log is not None and result.status in ("fault", "estop"):
            # After the arm is stopped: a failing log write must never stand between a fault and the hold.
            try:
                self.log.write({"tick": result.ticks, "kind": result.status, "clock": self.clock.now(),
                                "check": result.fault_check, "reason": result.fault, **record})
            except Exception as exc:  # noqa: BLE001
                result.stop_error = (result.stop_error + "; " if result.stop_error else "") + f"the fault could not be logged: {exc}"
        result.seconds = self.clock.now() - start
        result.inference_s = list(self.runner.stats.latencies)
        self._timing(result)
        return result

    def _timing(self, result: LoopResult) -> None:
        """Fill the loop-rate and tick-period statistics from the tick start times."""
        if result.seconds > 0:
            result.loop_rate_hz = result.ticks / result.seconds
        if len(self._tick_starts) >= 2:
            periods = np.diff(np.asarray(self._tick_starts))
            result.tick_period_p50_s = float(np.percentile(periods, 50))
            result.tick_period_p99_s = float(np.percentile(periods, 99))

    def _ticks(self, result: LoopResult, start: float) -> str:
        """The tick loop; returns the reason it stopped cleanly, raises on a fault."""
        self.runner.reset()
        meta, dt = self.runner.policy.shape_meta, self.robot.dt
        next_status = start + self.status_every_s if self.status_every_s is not None else None
        last_status = (start, 0)  # (time, ticks) at the last status line
        while True:
            self._check_estop()
            now = self.clock.now()
            if next_status is not None and now >= next_status - 1e-9:
                self._status(result, now, start, last_status)
                last_status = (now, result.ticks)
                while next_status <= now + 1e-9:  # after a stall: the next one due, not a burst of late ones
                    next_status += self.status_every_s
            if self.max_ticks is not None and result.ticks >= self.max_ticks:
                return "max_ticks"
            if self.max_seconds is not None and self.clock.now() - start >= self.max_seconds - 1e-9:
                return "max_seconds"
            self._tick_starts.append(now)
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
            self._chunk_stamp = state.stamp
            chunk = actions_to_joints(self.runner.last_chunk.actions[0].detach().cpu().numpy(), self.robot)  # (Ta, J)
        if self.robot.controller.type == "joint_trajectory":
            if not new_chunk:
                return
            arrival = self.clock.now() + self.robot.controller.latency_s
            timed = schedule_chunk(chunk, dt, state.stamp, arrival - state.stamp)
            if len(timed.positions) == 0:
                raise SafetyFault("late", f"late chunk: it reaches the controller {arrival - state.stamp:.3f} s after "
                                  f"its observation, after all {len(chunk)} of its points ({len(chunk) * dt:.3f} s)")
            checked = self.safety.check(chunk, state.positions, dt, state.velocities, dropped=timed.dropped,
                                        first_step_s=timed.start_stamp - arrival)
            self._send(result, "trajectory", checked[timed.dropped:], state.stamp, start_stamp=timed.start_stamp,
                       dropped=timed.dropped, clamped=self.safety.last_clamped)
        else:
            if new_chunk:
                self.safety.check(chunk, state.positions, dt, state.velocities)
            setpoint = actions_to_joints(action, self.robot)  # (J,)
            checked = self.safety.check(setpoint[None], state.positions, dt, state.velocities)
            self._send(result, "setpoint", checked[0], state.stamp, clamped=self.safety.last_clamped)

    def _send(self, result: LoopResult, kind: str, positions: np.ndarray, obs_stamp: float, *,
              start_stamp: float | None = None, dropped: int = 0, clamped: int = 0) -> None:
        """The one place commands leave the loop: send (or, in a dry run, print) a checked command, count it and
        log it. kind: "trajectory" (positions (T', J), point k due at start_stamp + k * dt) or "setpoint" ((J,))."""
        self._check_estop()
        dt = self.robot.dt
        if self.dry_run:
            what = (f"trajectory of {len(positions)} points from t={start_stamp:.3f} every {dt:g} s"
                    if kind == "trajectory" else "setpoint")
            self.echo(f"[dry run] tick {result.ticks}: would send {what} {self.robot.joint_names}: "
                      f"{np.array2string(np.asarray(positions), precision=4, separator=', ')}")
        elif kind == "trajectory":
            self.driver.send_trajectory(positions, dt, start_stamp)
        else:
            self.driver.send_setpoint(positions)
        if kind == "trajectory":
            result.trajectories_sent += 1
            result.points_dropped += dropped
        else:
            result.setpoints_sent += 1
        if clamped:
            result.interventions += 1
            result.clamped_values += clamped
        if self.log is not None:
            self.log.write({"tick": result.ticks, "kind": kind, "clock": self.clock.now(), "obs_stamp": obs_stamp,
                            "start_stamp": start_stamp, "dt": dt, "joints": self.robot.joint_names,
                            "positions": positions, "dropped": dropped, "clamped": clamped, "dry_run": self.dry_run})

    def _status(self, result: LoopResult, now: float, start: float, last: tuple[float, int]) -> None:
        """Print one status line: loop rate since the last line, inference latency, chunk age, interventions."""
        elapsed = now - last[0]
        rate = (result.ticks - last[1]) / elapsed if elapsed > 0 else float("nan")
        latencies = self.runner.stats.latencies
        inference = (f"inference last {1000 * latencies[-1]:.1f} ms, median {1000 * statistics.median(latencies[-100:]):.1f} ms"
                     if latencies else "inference -")
        age = f"{1000 * (now - self._chunk_stamp):.0f} ms" if self._chunk_stamp is not None else "-"
        self.echo(f"[deploy{' dry run' if self.dry_run else ''}] t={now - start:.1f} s tick {result.ticks}: "
                  f"{rate:.1f} ticks/s; {inference}; chunk age {age}; {result.interventions} safety interventions; "
                  f"{result.overruns} overruns")

    def _check_estop(self) -> None:
        """Raise _EStopPressed if the button is pressed or the driver's e-stop input asks for a stop (which presses
        the button, so whoever holds it sees why)."""
        requested = self.driver.estop_requested()
        if requested is not None and self.estop is not None:
            self.estop.press(requested)
        if self.estop is not None and self.estop.pressed:
            raise _EStopPressed(self.estop.reason)
        if requested is not None:
            raise _EStopPressed(requested)

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
