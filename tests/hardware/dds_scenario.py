"""The DDS backend end to end, run by tests/hardware/test_dds.py inside a network namespace of its own:

    unshare -n sh -c 'ip link set lo up && exec python tests/hardware/dds_scenario.py --checkpoint DIR --workdir DIR'

Every DDS participant lives in this process or its children, all inside that namespace (only loopback exists
there). The pytest process itself never creates one. Steps, each recorded under its name (or as {"error": ...}):

    wire       messages published through hardware/dds/participant.py and taken as raw bytes off a DataReader,
               compared with hardware.messages.cdr.serialize; a JointState round trip through DDS
    node       python -m hardware.dds.sim_node started (subprocess), its first states read by a DdsArmDriver
    deploy     python scripts/deploy.py ... backend=dds against that node, then whether the arm stays put
    driver     a trajectory followed, hold, and e-stop (nothing more sent) through DdsArmDriver
    report     the node's own JSON report (what it received), after SIGTERM
    forward_position  a second node and driver on DDS domain 1 with a forward_position controller: a setpoint
               followed, hold as a setpoint
    fault_node  a ControlLoop run (tests/hardware/middleware_faults.py) on DDS domain 2 whose sim node is
               SIGKILLed mid-run: joint states stop

The last line printed is "RESULT <json>".
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hardware.dds.driver import DdsArmDriver  # noqa: E402
from hardware.dds.network import loopback_config  # noqa: E402
from hardware.dds.participant import RELIABLE, DdsParticipant  # noqa: E402
from hardware.messages import (  # noqa: E402
    Bool,
    Duration,
    Float64MultiArray,
    Header,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    MultiArrayDimension,
    MultiArrayLayout,
    Time,
    cdr,
)
from hardware.robot import ROBOT_CONF_DIR, load_robot  # noqa: E402
from robopolicy.envs.pusht import PushTEnv  # noqa: E402
from tests.hardware.middleware_faults import run_loop_and_kill  # noqa: E402

SEED = 1_000_000
NODE_RATE_HZ = 50  # fresher states than the 10 Hz control rate: less latency for the deploy's first points


def wire_messages() -> dict[str, Any]:
    """One message of each type the backend sends, with odd-length strings so that CDR has to pad."""
    header = Header(stamp=Time(sec=1_700_000_123, nanosec=456_789_012), frame_id="base")
    return {
        "joint_state": JointState(header=header, name=["pusher_x", "pusher_y", "j3"], position=[0.1, -0.2, 3.0],
                                  velocity=[0.0, 0.5, -0.25]),
        "joint_trajectory": JointTrajectory(header=header, joint_names=["a", "bb", "ccc"], points=[
            JointTrajectoryPoint(positions=[0.0, 0.1, 0.2], time_from_start=Duration(0, 0)),
            JointTrajectoryPoint(positions=[0.3, 0.4, 0.5], velocities=[1.0, 1.0, 1.0],
                                 time_from_start=Duration(0, 100_000_000)),
        ]),
        "float64_multiarray": Float64MultiArray(
            layout=MultiArrayLayout(dim=[MultiArrayDimension("object_pose", 4, 4)]), data=[0.1, -0.2, 1.0, 0.0]),
        "bool": Bool(data=True),
    }


def step_wire() -> dict[str, Any]:
    """Bytes on the wire vs hardware.messages.cdr, and a JointState round trip, between two participants."""
    config = loopback_config()
    sender, receiver = DdsParticipant(config, network_name="loopback"), DdsParticipant(config, network_name="loopback")
    try:
        out: dict[str, Any] = {}
        for name, msg in wire_messages().items():
            pub = sender.publisher(f"/wire_check/{name}", type(msg), RELIABLE)
            sub = receiver.subscription(f"/wire_check/{name}", type(msg), RELIABLE)
            wait_for(lambda: pub.subscriber_count() > 0, 5.0, f"{name}: the two participants never matched")
            pub.publish(msg)
            taken: list[bytes] = []
            wait_for(lambda: bool(taken.extend(sub.take_serialized()) or taken), 5.0, f"{name}: nothing arrived")
            raw = taken[0]
            expected = cdr.serialize(msg)
            out[name] = {"count": len(taken), "wire_len": len(raw), "cdr_len": len(expected),
                         # the writer pads the payload to a multiple of 4 bytes, as Cyclone DDS's C writer does
                         "equal": bytes(raw) == expected.ljust(math.ceil(len(expected) / 4) * 4, b"\0"),
                         "reads_back": cdr.deserialize(bytes(raw), type(msg)) == msg}
        state = wire_messages()["joint_state"]
        pub = sender.publisher("/wire_check/round_trip", JointState, RELIABLE)
        sub = receiver.subscription("/wire_check/round_trip", JointState, RELIABLE)
        wait_for(lambda: pub.subscriber_count() > 0, 5.0, "round trip: never matched")
        pub.publish(state)
        received: list = []
        wait_for(lambda: bool(received.extend(sub.take()) or received), 5.0, "round trip: nothing arrived")
        out["round_trip_equal"] = received[0] == state
        return out
    finally:
        sender.close()
        receiver.close()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 5 ms until it holds; AssertionError(what) after ``timeout_s``."""
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(what)
        time.sleep(0.005)


def start_node(workdir: Path, robot: str = "pusht_sim", domain_id: int = 0, report: str = "node.json"
               ) -> subprocess.Popen:
    node = subprocess.Popen(
        [sys.executable, "-m", "hardware.dds.sim_node", "--robot", robot, "--seed", str(SEED), "--rate",
         str(NODE_RATE_HZ), "--network", "loopback", "--domain-id", str(domain_id), "--report", str(workdir / report)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = node.stdout.readline()
    if "ready" not in line:
        node.kill()
        raise AssertionError(f"the sim node did not start: {line!r} {node.stderr.read()[-2000:]}")
    return node


def expected_start() -> dict[str, list[float]]:
    env = PushTEnv(render_mode=None)
    env.reset(seed=SEED)
    pose = env.block_pose
    return {"pusher": env.pusher_pos.tolist(), "object_pose": [pose[0], pose[1], math.cos(pose[2]), math.sin(pose[2])]}


def read_positions(driver: DdsArmDriver) -> np.ndarray:
    return driver.read_state().positions


def step_node(driver: DdsArmDriver) -> dict[str, Any]:
    state = driver.read_state()
    return {"positions": state.positions.tolist(), "velocities": None if state.velocities is None else
            state.velocities.tolist(), "object_pose": state.extras["object_pose"].tolist(),
            "age_s": time.time() - state.stamp, "expected": expected_start(), "task_success": driver.task_success()}


def step_deploy(checkpoint: str, workdir: Path) -> dict[str, Any]:
    began = time.time()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deploy.py"), f"checkpoint={checkpoint}", "robot=pusht_sim",
         "backend=dds", "max_seconds=null", "max_ticks=8", "dds.state_timeout_s=10", "log_path=null"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    return {"returncode": proc.returncode, "stdout": proc.stdout[-3000:], "stderr": proc.stderr[-3000:],
            "began": began, "ended": time.time()}


def step_still(driver: DdsArmDriver) -> dict[str, Any]:
    """How far the arm moves in 0.4 s with nobody commanding it (after the deploy's hold)."""
    before = read_positions(driver)
    time.sleep(0.4)
    return {"moved": float(np.abs(read_positions(driver) - before).max())}


def step_driver(driver: DdsArmDriver) -> dict[str, Any]:
    out: dict[str, Any] = {"began": time.time()}
    dt = driver.robot.dt
    # a trajectory: 4 points, 1 cm + 0.5 cm per tick, followed to its last point
    start = read_positions(driver)
    target = start + np.arange(1, 5)[:, None] * np.array([0.01, 0.005])
    driver.send_trajectory(target, dt, time.time() + dt)
    time.sleep(4 * dt + 0.5)
    out["trajectory"] = {"start": start.tolist(), "target": target[-1].tolist(),
                         "reached": read_positions(driver).tolist()}
    # hold: a 1 s trajectory interrupted after 0.25 s; the arm must stay where it was, not finish it
    start = read_positions(driver)
    long = start + np.arange(1, 11)[:, None] * np.array([-0.01, 0.0])
    driver.send_trajectory(long, dt, time.time() + dt)
    time.sleep(0.25)
    driver.hold()
    held_at = driver.sent[-1].message.points[0].positions
    time.sleep(0.6)
    out["hold"] = {"start": start.tolist(), "trajectory_end": long[-1].tolist(), "held_at": held_at.tolist(),
                   "after": read_positions(driver).tolist(), "points": len(driver.sent[-1].message.points)}
    # e-stop: during a motion; then every command is dropped
    start = read_positions(driver)
    driver.send_trajectory(start + np.arange(1, 5)[:, None] * np.array([0.0, -0.01]), dt, time.time() + dt)
    time.sleep(0.15)
    driver.estop()
    estop_point = driver.sent[-1].message.points[0].positions
    sent_before = len(driver.sent)
    driver.send_trajectory(start[None] + 0.02, dt, time.time() + dt)
    driver.hold()
    driver.estop()
    time.sleep(0.5)
    out["estop"] = {"estop_point": estop_point.tolist(), "after": read_positions(driver).tolist(),
                    "sent_before": sent_before, "sent_after": len(driver.sent), "ignored": driver.ignored_commands,
                    "estopped": driver.estopped}
    out["sent"] = [{"kind": c.kind, "time": c.time} for c in driver.sent]
    out["ended"] = time.time()
    return out


def stop_node(node: subprocess.Popen) -> dict[str, Any]:
    node.terminate()
    try:
        out, err = node.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        node.kill()
        out, err = node.communicate()
    return {"returncode": node.returncode, "stdout": out[-2000:], "stderr": err[-2000:]}


def step_forward_position(workdir: Path) -> dict[str, Any]:
    """The same arm with a forward_position controller, on its own domain: a setpoint, then hold."""
    data = yaml.safe_load((ROBOT_CONF_DIR / "pusht_sim.yaml").read_text())
    data["controller"] = {"type": "forward_position", "topic": "/forward_position_controller/commands"}
    path = workdir / "pusht_forward.yaml"
    path.write_text(yaml.safe_dump(data))
    node = start_node(workdir, str(path), domain_id=1, report="node_forward.json")
    driver = DdsArmDriver(load_robot(path), network="loopback", domain_id=1, state_timeout_s=10.0)
    try:
        driver.connect()
        start = read_positions(driver)
        setpoint = start + np.array([0.02, -0.01])
        driver.send_setpoint(setpoint)
        time.sleep(0.4)  # within the 0.5 s command timeout
        reached = read_positions(driver)
        driver.hold()
        hold = driver.sent[-1].message
        time.sleep(0.2)
        out = {"start": start.tolist(), "setpoint": setpoint.tolist(), "reached": reached.tolist(),
               "hold_kind": type(hold).__name__, "hold_values": hold.data.tolist(),
               "after": read_positions(driver).tolist()}
    finally:
        driver.close()
        out_exit = stop_node(node)
    out["node_exit"] = out_exit
    report = json.loads((workdir / "node_forward.json").read_text())
    out["received"] = [c["kind"] for c in report["commands"]]
    out["rejected"] = report["rejected"]
    return out


def step_fault_node(workdir: Path, checkpoint: str) -> dict[str, Any]:
    """A deploy-loop run on a fresh node (domain 2) that is SIGKILLed 0.8 s into it."""
    node = start_node(workdir, domain_id=2, report="node_fault.json")
    driver = DdsArmDriver(load_robot("pusht_sim"), network="loopback", domain_id=2, state_timeout_s=10.0)
    try:
        driver.connect()
        return run_loop_and_kill(driver, checkpoint, node, kill_after_s=0.8, max_ticks=25)
    finally:
        driver.close()
        node.kill()
        node.wait(timeout=10)


def run_step(results: dict[str, Any], name: str, step: Callable[[], Any]) -> bool:
    try:
        results[name] = step()
        return True
    except Exception:  # noqa: BLE001 - recorded for the test to show
        results[name] = {"error": traceback.format_exc()}
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    run_step(results, "wire", step_wire)
    node = None
    driver = None
    try:
        if run_step(results, "node_start", lambda: start_node(args.workdir)):
            node = results.pop("node_start")
            results["node_start"] = "ok"
            run_step(results, "deploy", lambda: step_deploy(args.checkpoint, args.workdir))
            driver = DdsArmDriver(load_robot("pusht_sim"), network="loopback", state_timeout_s=10.0)
            if run_step(results, "connect", lambda: driver.connect() or "ok"):
                run_step(results, "node", lambda: step_node(driver))
                run_step(results, "still", lambda: step_still(driver))
                run_step(results, "driver", lambda: step_driver(driver))
    finally:
        if driver is not None:
            driver.close()
        if node is not None:
            results["node_exit"] = stop_node(node)
            run_step(results, "report", lambda: json.loads((args.workdir / "node.json").read_text()))
    run_step(results, "forward_position", lambda: step_forward_position(args.workdir))
    run_step(results, "fault_node", lambda: step_fault_node(args.workdir, args.checkpoint))
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
