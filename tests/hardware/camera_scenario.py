"""Camera frames over a topic backend end to end, run by tests/hardware/test_dds.py and test_ros1.py inside a
network namespace of their own:

    unshare -n sh -c 'ip link set lo up && exec python tests/hardware/camera_scenario.py --backend dds --workdir DIR'

The robot is pusht_sim with the overhead camera on /overhead_camera/image_raw; the simulated arm node is
tests/hardware/camera_node.py (the backend's sim node remembering the frames it published), in its own process.
For ROS 1 a rosmaster is started first (as tests/hardware/ros1_scenario.py does). Steps, each recorded under its name
(or as {"error": ...}):

    frames          a few ArmStates read by the backend's driver: each image's shape, dtype and stamp, next to the
                    joint state's stamp
    missing_camera  a second driver whose camera topic nobody publishes: what connect() says
    camera_stop     a ControlLoop (a policy that stands still) on the driver; the node's camera frames stop 0.6 s in
                    while its joint states go on: how the run ends and every command sent
    compare         after the node stopped: each frame the driver read against the frame the node published with the
                    same stamp, pixel for pixel

The last line printed is "RESULT <json>".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.hardware import topic_backend_checks as checks  # noqa: E402

KEY = "overhead_image"
TOPIC = "/overhead_camera/image_raw"
NODE_RATE_HZ = 50.0


def write_robot(workdir: Path, name: str, topic: str) -> Path:
    """pusht_sim.yaml with one camera, ``KEY`` on ``topic``, written to ``workdir / name``."""
    import yaml

    from hardware.robot import ROBOT_CONF_DIR

    data = yaml.safe_load((ROBOT_CONF_DIR / "pusht_sim.yaml").read_text())
    data["cameras"] = {KEY: topic}
    path = workdir / name
    path.write_text(yaml.safe_dump(data))
    return path


def start_node(backend: str, robot_path: Path, workdir: Path) -> subprocess.Popen:
    node = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "hardware" / "camera_node.py"), "--backend", backend, "--robot",
         str(robot_path), "--workdir", str(workdir), "--rate", str(NODE_RATE_HZ)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = node.stdout.readline()
    if "ready" not in line:
        node.kill()
        raise AssertionError(f"the camera node did not start: {line!r} {node.stderr.read()[-3000:]}")
    return node


def make_driver(backend: str, robot_path: Path, state_timeout_s: float = 10.0) -> Any:
    from hardware.robot import load_robot

    if backend == "dds":
        from hardware.dds.driver import DdsArmDriver

        return DdsArmDriver(load_robot(robot_path), network="loopback", state_timeout_s=state_timeout_s)
    from hardware.ros1.driver import Ros1ArmDriver

    return Ros1ArmDriver(load_robot(robot_path), state_timeout_s=state_timeout_s)


def step_frames(driver: Any, read: list[tuple[float, np.ndarray]]) -> list[dict[str, Any]]:
    """Five states, 50 ms apart; their frames go into ``read`` as (image stamp, pixels) for step_compare."""
    out = []
    for _ in range(5):
        state = driver.read_state()
        image = state.images[KEY]
        read.append((state.image_stamps[KEY], image.copy()))
        out.append({"shape": list(image.shape), "dtype": str(image.dtype), "image_stamp": state.image_stamps[KEY],
                    "state_stamp": state.stamp, "age_s": time.time() - state.image_stamps[KEY],
                    "keys": sorted(state.images)})
        time.sleep(0.05)
    return out


def step_missing_camera(backend: str, workdir: Path) -> dict[str, Any]:
    driver = make_driver(backend, write_robot(workdir, "pusht_no_camera.yaml", "/no_camera/image_raw"),
                         state_timeout_s=1.0)
    try:
        driver.connect()
    except TimeoutError as exc:
        return {"raised": "TimeoutError", "message": str(exc)}
    finally:
        driver.close()
    return {"raised": None}


def step_camera_stop(driver: Any, node: subprocess.Popen, *, stop_after_s: float = 0.6,
                     max_ticks: int = 30) -> dict[str, Any]:
    """A ControlLoop that stands still on ``driver``; the node's camera stops ``stop_after_s`` into the run."""
    from hardware.clock import WallClock
    from hardware.control_loop import ControlLoop
    from robopolicy.core import PolicyRunner
    from tests.hardware.middleware_faults import CallRecorder
    from tests.hardware.stubs import WalkPolicy

    recorder = CallRecorder(driver)
    loop = ControlLoop(recorder, PolicyRunner(WalkPolicy(step=(0.0, 0.0))), driver.robot, clock=WallClock(),
                       max_ticks=max_ticks, echo=lambda _: None)
    stopped: dict[str, float] = {}

    def stop_camera() -> None:
        time.sleep(stop_after_s)
        node.send_signal(signal.SIGUSR1)
        stopped["at"] = time.time()

    began = time.time()
    thread = threading.Thread(target=stop_camera, daemon=True)
    thread.start()
    result = loop.run()
    ended = time.time()
    thread.join(timeout=10)
    sent = [c for c in recorder.calls if c[0] in ("send_trajectory", "send_setpoint", "hold", "estop")]
    return {"status": result.status, "fault_check": result.fault_check, "fault": result.fault, "ticks": result.ticks,
            "held": result.held, "stop_error": result.stop_error, "camera_stopped_at": stopped.get("at"),
            "began": began, "ended": ended, "sent": [[n, t] for n, t in sent], "driver_sent": len(driver.sent),
            "max_state_age_s": driver.robot.watchdog.max_state_age_s, "max_ticks": max_ticks,
            "node_alive": node.poll() is None}


def step_compare(workdir: Path, read: list[tuple[float, np.ndarray]]) -> dict[str, Any]:
    """Each frame the driver read next to the node's frame whose stamp is nearest (within 1 us: the same frame)."""
    published = np.load(workdir / "node_frames.npz")
    stamps = published["stamps_ns"] / 1e9
    out = []
    for stamp, pixels in read:
        i = int(np.argmin(np.abs(stamps - stamp)))
        same = abs(stamps[i] - stamp) < 1e-6
        out.append({"stamp": stamp, "found": bool(same),
                    "equal": bool(same and np.array_equal(published["frames"][i], pixels)),
                    "distinct_values": int(len(np.unique(pixels)))})
    return {"published": int(len(stamps)), "frames": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("dds", "ros1"), required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    master = node = driver = None
    read: list[tuple[float, np.ndarray]] = []
    try:
        if args.backend == "ros1":
            from tests.hardware.ros1_scenario import start_master

            master = start_master(args.workdir)
        robot_path = write_robot(args.workdir, "pusht_camera.yaml", TOPIC)
        if checks.run_step(results, "node_start", lambda: start_node(args.backend, robot_path, args.workdir)):
            node = results.pop("node_start")
            driver = make_driver(args.backend, robot_path)
            if checks.run_step(results, "connect", lambda: driver.connect() or "ok"):
                checks.run_step(results, "frames", lambda: step_frames(driver, read))
                checks.run_step(results, "missing_camera", lambda: step_missing_camera(args.backend, args.workdir))
                checks.run_step(results, "camera_stop", lambda: step_camera_stop(driver, node))
            driver.close()
            driver = None
            results["node_exit"] = checks.stop_node(node)
            node = None
            checks.run_step(results, "compare", lambda: step_compare(args.workdir, read))
    finally:
        if driver is not None:
            driver.close()
        if node is not None:
            node.kill()
        if master is not None and master.poll() is None:
            master.terminate()
            master.wait(timeout=10)
        print("RESULT " + json.dumps(results), flush=True)
        os._exit(0)  # rospy's threads (ROS 1) would otherwise keep the process alive


if __name__ == "__main__":
    main()
