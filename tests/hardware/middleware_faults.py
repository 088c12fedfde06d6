"""A middleware-gone fault injection shared by tests/hardware/ros1_scenario.py and dds_scenario.py.

``run_loop_and_kill`` runs a ControlLoop (wall clock, the checkpoint's policy) on a real topic driver wrapped in
``CallRecorder``, and kills a process (the sim node or rosmaster) ``kill_after_s`` into the run. It returns, as
JSON, how the run ended and every driver call with its time, so a test can assert one hold and nothing after it.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any

from hardware.clock import WallClock
from hardware.control_loop import ControlLoop
from robopolicy.core import PolicyRunner, load_policy


class CallRecorder:
    """Wraps a driver: every call (read_state, send_*, hold, estop) logged by name and wall time, then passed on."""

    def __init__(self, driver) -> None:
        self.driver = driver
        self.robot = driver.robot
        self.calls: list[tuple[str, float]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.driver, name)
        if name not in ("read_state", "send_trajectory", "send_setpoint", "hold", "estop", "task_success"):
            return target

        def call(*args, **kwargs):
            self.calls.append((name, time.time()))
            return target(*args, **kwargs)
        return call


def run_loop_and_kill(driver, checkpoint: str, victim: subprocess.Popen, *, kill_after_s: float,
                      max_ticks: int) -> dict[str, Any]:
    """The loop on ``driver`` (connected) with ``victim`` SIGKILLed ``kill_after_s`` after the run starts."""
    robot = driver.robot
    runner = PolicyRunner(load_policy(checkpoint, weights="ema", device="cpu"))
    recorder = CallRecorder(driver)
    loop = ControlLoop(recorder, runner, robot, clock=WallClock(), max_ticks=max_ticks, echo=lambda _: None)
    killed: dict[str, float] = {}

    def kill() -> None:
        time.sleep(kill_after_s)
        victim.kill()
        victim.wait(timeout=10)
        killed["at"] = time.time()

    began = time.time()
    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    result = loop.run()
    ended = time.time()
    killer.join(timeout=15)
    sent = [c for c in recorder.calls if c[0] in ("send_trajectory", "send_setpoint", "hold", "estop")]
    return {"status": result.status, "fault_check": result.fault_check, "fault": result.fault,
            "ticks": result.ticks, "held": result.held, "stop_error": result.stop_error,
            "killed_at": killed.get("at"), "began": began, "ended": ended,
            "reads_after_kill": sum(1 for n, t in recorder.calls if n == "read_state" and t > killed.get("at", ended)),
            "sent": [[n, t] for n, t in sent], "driver_sent": len(driver.sent),
            "max_state_age_s": robot.watchdog.max_state_age_s, "max_ticks": max_ticks}
