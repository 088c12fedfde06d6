"""What the DDS and ROS 1 end-to-end checks share: scenario steps (run inside tests/hardware/dds_scenario.py and
ros1_scenario.py, each in its own network namespace) and the assertions that test_dds.py and test_ros1.py make on
their JSON results.

Scenario side: ``start_sim_node``, ``stop_node``, ``step_deploy``, ``step_node``, ``step_still``, ``step_driver``
(trajectory followed, hold, e-stop), ``step_forward_position``, ``step_estop_topic`` and ``run_step``, parameterised
by the backend's sim-node module, driver factory and names. Test side: ``run_scenario``, ``step`` and the
``assert_*`` functions.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED = 1_000_000
NODE_RATE_HZ = 50  # fresher states than the 10 Hz control rate: less latency for the deploy's first points


# --- scenario side ----------------------------------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 5 ms until it holds; AssertionError(what) after ``timeout_s``."""
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            raise AssertionError(what)
        time.sleep(0.005)


def run_step(results: dict[str, Any], name: str, step: Callable[[], Any]) -> bool:
    try:
        results[name] = step()
        return True
    except Exception:  # noqa: BLE001 - recorded for the test to show
        results[name] = {"error": traceback.format_exc()}
        return False


def start_sim_node(module: str, workdir: Path, report: str = "node.json", robot: str = "pusht_sim",
                   extra_args: tuple[str, ...] = ()) -> subprocess.Popen:
    """``python -m <module>`` (a backend's sim node) started and ready, reporting to ``workdir / report``."""
    node = subprocess.Popen(
        [sys.executable, "-m", module, "--robot", robot, "--seed", str(SEED), "--rate", str(NODE_RATE_HZ),
         *extra_args, "--report", str(workdir / report)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = node.stdout.readline()
    if "ready" not in line:
        node.kill()
        raise AssertionError(f"the sim node did not start: {line!r} {node.stderr.read()[-2000:]}")
    return node


def stop_node(node: subprocess.Popen) -> dict[str, Any]:
    node.terminate()
    try:
        out, err = node.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        node.kill()
        out, err = node.communicate()
    return {"returncode": node.returncode, "stdout": out[-2000:], "stderr": err[-2000:]}


def expected_start() -> dict[str, list[float]]:
    from robopolicy.envs.pusht import PushTEnv

    env = PushTEnv(render_mode=None)
    env.reset(seed=SEED)
    pose = env.block_pose
    return {"pusher": env.pusher_pos.tolist(), "object_pose": [pose[0], pose[1], math.cos(pose[2]), math.sin(pose[2])]}


def read_positions(driver) -> np.ndarray:
    return driver.read_state().positions


def step_deploy(checkpoint: str, backend: str) -> dict[str, Any]:
    began = time.time()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deploy.py"), f"checkpoint={checkpoint}", "robot=pusht_sim",
         f"backend={backend}", "max_seconds=null", "max_ticks=8", f"{backend}.state_timeout_s=10", "log_path=null"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    return {"returncode": proc.returncode, "stdout": proc.stdout[-3000:], "stderr": proc.stderr[-3000:],
            "began": began, "ended": time.time()}


def step_node(driver) -> dict[str, Any]:
    state = driver.read_state()
    return {"positions": state.positions.tolist(), "velocities": None if state.velocities is None else
            state.velocities.tolist(), "object_pose": state.extras["object_pose"].tolist(),
            "age_s": time.time() - state.stamp, "expected": expected_start(), "task_success": driver.task_success()}


def step_still(driver) -> dict[str, Any]:
    """How far the arm moves in 0.4 s with nobody commanding it (after the deploy's hold)."""
    before = read_positions(driver)
    time.sleep(0.4)
    return {"moved": float(np.abs(read_positions(driver) - before).max())}


def step_driver(driver) -> dict[str, Any]:
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


def step_forward_position(workdir: Path, start_node: Callable[[Path], subprocess.Popen],
                          make_driver: Callable[[Path], Any], topics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same arm with a forward_position controller (``topics``: more robot-config keys, e.g. its own topics),
    its node from ``start_node(config_path)`` reporting to node_forward.json: a setpoint, then hold."""
    import yaml

    from hardware.robot import ROBOT_CONF_DIR

    data = yaml.safe_load((ROBOT_CONF_DIR / "pusht_sim.yaml").read_text())
    data["controller"] = {"type": "forward_position", "topic": "/forward_position_controller/commands"}
    data.update(topics or {})
    path = workdir / "pusht_forward.yaml"
    path.write_text(yaml.safe_dump(data))
    node = start_node(path)
    driver = make_driver(path)
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


ESTOP_CHECK_TOPIC = "/estop_check"  # its own name: no other driver in the scenario listens to it


def step_estop_topic(workdir: Path, checkpoint: str, make_driver: Callable[[Path], Any],
                     open_publisher: Callable[[str], tuple[Any, Callable[[], None]]], *, false_after_s: float = 0.3,
                     true_after_s: float = 1.0, max_ticks: int = 40) -> dict[str, Any]:
    """A ControlLoop run (wall clock, the checkpoint's policy, an EStop button) on a driver whose robot config has
    estop_topic ESTOP_CHECK_TOPIC, against a running sim node; the scenario publishes std_msgs/Bool False on it
    ``false_after_s`` into the run and True ``true_after_s`` into it. ``make_driver(config path)`` builds the
    driver; ``open_publisher(topic)`` gives (a Bool publisher, its closer)."""
    import threading

    import yaml

    from hardware.clock import WallClock
    from hardware.control_loop import ControlLoop
    from hardware.messages import Bool
    from hardware.robot import ROBOT_CONF_DIR
    from hardware.safety import EStop
    from robopolicy.core import PolicyRunner, load_policy
    from tests.hardware.middleware_faults import CallRecorder

    data = yaml.safe_load((ROBOT_CONF_DIR / "pusht_sim.yaml").read_text())
    data["estop_topic"] = ESTOP_CHECK_TOPIC
    path = workdir / "pusht_estop.yaml"
    path.write_text(yaml.safe_dump(data))
    driver = make_driver(path)
    publisher, close_publisher = open_publisher(ESTOP_CHECK_TOPIC)
    published: dict[str, float] = {}
    try:
        driver.connect()
        wait_for(lambda: publisher.subscriber_count() > 0, 10.0, "the e-stop publisher never reached the driver")
        recorder = CallRecorder(driver)
        button = EStop()
        loop = ControlLoop(recorder, PolicyRunner(load_policy(checkpoint, weights="ema", device="cpu")), driver.robot,
                           clock=WallClock(), max_ticks=max_ticks, estop=button, echo=lambda _: None)

        def publish() -> None:
            time.sleep(false_after_s)
            publisher.publish(Bool(data=False))
            published["false"] = time.time()
            time.sleep(true_after_s - false_after_s)
            publisher.publish(Bool(data=True))
            published["true"] = time.time()

        began = time.time()
        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        result = loop.run()
        ended = time.time()
        thread.join(timeout=10)
        sent = [c for c in recorder.calls if c[0] in ("send_trajectory", "send_setpoint", "hold", "estop")]
        return {"status": result.status, "fault": result.fault, "button_reason": button.reason,
                "ticks": result.ticks, "max_ticks": max_ticks, "held": result.held, "stop_error": result.stop_error,
                "began": began, "ended": ended, "false_at": published.get("false"), "true_at": published.get("true"),
                "sent": [[n, t] for n, t in sent], "driver_sent": [c.kind for c in driver.sent],
                "requested_after": driver.estop_requested(), "ignored": driver.ignored_commands}
    finally:
        driver.close()
        close_publisher()


def run_main_steps(results: dict[str, Any], held: dict[str, Any], checkpoint: str, backend: str,
                   start_node: Callable[[], subprocess.Popen], make_driver: Callable[[], Any]) -> None:
    """node_start, deploy, connect, node, still, driver; the node and driver started go into ``held``."""
    if run_step(results, "node_start", start_node):
        held["node"] = results.pop("node_start")
        results["node_start"] = "ok"
        run_step(results, "deploy", lambda: step_deploy(checkpoint, backend))
        driver = held["driver"] = make_driver()
        if run_step(results, "connect", lambda: driver.connect() or "ok"):
            run_step(results, "node", lambda: step_node(driver))
            run_step(results, "still", lambda: step_still(driver))
            run_step(results, "driver", lambda: step_driver(driver))


def finish_main_steps(results: dict[str, Any], workdir: Path, held: dict[str, Any]) -> None:
    """The driver closed, the node stopped (node_exit) and its own report read (report); ``held`` emptied."""
    driver, node = held.pop("driver", None), held.pop("node", None)
    if driver is not None:
        driver.close()
    if node is not None:
        results["node_exit"] = stop_node(node)
        run_step(results, "report", lambda: json.loads((workdir / "node.json").read_text()))


# --- test side --------------------------------------------------------------------------------------------------------
def run_scenario(scenario: Path, checkpoint: Path | None, workdir: Path, label: str,
                 extra_args: tuple[str, ...] = ()) -> dict:
    """Run ``scenario`` once in its own network namespace (with --checkpoint unless it is None, --workdir and
    ``extra_args``); its JSON results."""
    argv = [sys.executable, str(scenario), "--workdir", str(workdir), *extra_args]
    if checkpoint is not None:
        argv += ["--checkpoint", str(checkpoint)]
    script = " ".join(shlex.quote(a) for a in argv)
    proc = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {script}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"the {label} scenario failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def step(scenario: dict, name: str) -> dict:
    """One step's results, failing with its traceback if it raised."""
    import pytest

    assert name in scenario, f"the scenario never reached '{name}': {sorted(scenario)}"
    result = scenario[name]
    if isinstance(result, dict) and "error" in result:
        pytest.fail(f"scenario step '{name}' raised:\n{result['error']}")
    return result


def assert_the_seeds_state_reached_the_driver(scenario: dict) -> None:
    node = step(scenario, "node")
    expected = node["expected"]
    np.testing.assert_allclose(node["positions"], expected["pusher"], atol=2e-4)  # after the deploy's dithering
    np.testing.assert_allclose(node["object_pose"], expected["object_pose"], atol=1e-6)
    assert node["velocities"] is not None and len(node["velocities"]) == 2
    assert 0.0 <= node["age_s"] < 0.25 and node["task_success"] is False


def assert_deploy_ran_and_left_the_arm_holding(scenario: dict, backend: str) -> None:
    deploy = step(scenario, "deploy")
    assert deploy["returncode"] == 0, deploy["stdout"] + deploy["stderr"]
    assert f"on pusht_sim ({backend} backend)" in deploy["stdout"]
    assert "max_ticks after 8 ticks" in deploy["stdout"] and "2 chunks, 2 trajectories" in deploy["stdout"]
    assert "arm told to hold" in deploy["stdout"] and "FAULT" not in deploy["stdout"]
    received = [c for c in step(scenario, "report")["commands"] if deploy["began"] <= c["time"] <= deploy["ended"]]
    # two chunks (past points dropped: 1 to 4 points each), then the loop's hold and the context manager's: one point
    # each, where the arm was
    assert [c["kind"] for c in received] == ["trajectory"] * 4
    assert [len(c["points"]) for c in received[2:]] == [1, 1]
    assert step(scenario, "still")["moved"] < 1e-4


def assert_trajectory_followed(scenario: dict) -> None:
    trajectory = step(scenario, "driver")["trajectory"]
    np.testing.assert_allclose(trajectory["reached"], trajectory["target"], atol=1e-3)
    assert np.linalg.norm(np.subtract(trajectory["target"], trajectory["start"])) > 0.04


def assert_hold_stayed(scenario: dict) -> None:
    hold = step(scenario, "driver")["hold"]
    assert hold["points"] == 1
    np.testing.assert_allclose(hold["after"], hold["held_at"], atol=1e-3)
    assert np.linalg.norm(np.subtract(hold["after"], hold["start"])) > 0.005  # it did move before the hold
    assert np.linalg.norm(np.subtract(hold["after"], hold["trajectory_end"])) > 0.05


def assert_estop_then_nothing_sent(scenario: dict) -> None:
    driver = step(scenario, "driver")
    estop = driver["estop"]
    assert estop["estopped"] and estop["sent_after"] == estop["sent_before"] and estop["ignored"] == 3
    np.testing.assert_allclose(estop["after"], estop["estop_point"], atol=1e-3)
    report = step(scenario, "report")
    # everything after the deploy script exited is the driver's (the node logs a command at its latest physics
    # step, up to 2 ms before it arrived, so the driver step's own start time is no clean boundary)
    received = [c for c in report["commands"] if c["time"] > step(scenario, "deploy")["ended"]]
    assert len(received) == len(driver["sent"]) == estop["sent_before"]  # every command sent arrived, none after
    np.testing.assert_allclose(received[-1]["points"], [estop["estop_point"]])
    assert report["rejected"] == [] and step(scenario, "node_exit")["returncode"] == 0


def assert_forward_position_setpoints_and_hold(scenario: dict) -> None:
    forward = step(scenario, "forward_position")
    np.testing.assert_allclose(forward["reached"], forward["setpoint"], atol=1e-3)
    assert forward["hold_kind"] == "Float64MultiArray"
    np.testing.assert_allclose(forward["hold_values"], forward["reached"], atol=1e-3)
    np.testing.assert_allclose(forward["after"], forward["hold_values"], atol=1e-3)
    assert forward["received"] == ["setpoint", "setpoint"] and forward["rejected"] == []
    assert forward["node_exit"]["returncode"] == 0


def assert_estop_topic_ends_the_run_and_nothing_is_sent_after(run: dict) -> None:
    """False on the e-stop topic changed nothing (the run went on sending for 0.7 s); True ended it as "estop"
    within a tick or two, the driver's e-stop the last command, exactly once, and nothing sent after it."""
    assert run["status"] == "estop" and run["ticks"] < run["max_ticks"], run
    assert ESTOP_CHECK_TOPIC.strip("/") in run["fault"] and "True" in run["fault"], run
    assert run["button_reason"] == run["fault"] and run["requested_after"] == run["fault"], run
    assert run["false_at"] is not None and run["true_at"] is not None, run
    kinds = [name for name, _ in run["sent"]]
    assert kinds.count("estop") == 1 and kinds[-1] == "estop" and "hold" not in kinds, kinds
    assert any(run["false_at"] < t < run["true_at"] for name, t in run["sent"] if name == "send_trajectory"), run
    estop_at = run["sent"][-1][1]
    assert run["true_at"] <= estop_at < run["true_at"] + 0.5, run  # noticed at the next tick (0.1 s) or so
    assert run["driver_sent"] == [k.removeprefix("send_") for k in kinds], run  # published exactly these
    assert run["stop_error"] is None and run["ignored"] == 0, run


def assert_stale_state_fault_then_one_hold(fault: dict) -> None:
    """The sim node was SIGKILLed mid-run (joint states and extras stop): a stale_state fault within a second of the
    kill (in practice the object_pose extra's arrival check in read_state, 0.3 s after it; the JointState
    watchdog would trip a tick later), then exactly one hold as the last command and nothing sent after it."""
    assert fault["status"] == "fault" and fault["fault_check"] == "stale_state", fault
    assert fault["held"] and fault["stop_error"] is None, fault
    assert fault["killed_at"] is not None and fault["ticks"] < fault["max_ticks"], fault
    kinds = [name for name, _ in fault["sent"]]
    assert kinds.count("hold") == 1 and kinds[-1] == "hold" and "estop" not in kinds, kinds
    assert kinds[:-1] and set(kinds[:-1]) == {"send_trajectory"}, kinds  # it was running before the kill
    assert all(t <= fault["killed_at"] + fault["max_state_age_s"] + 0.3 for _, t in fault["sent"][:-1]), fault
    assert fault["ended"] - fault["killed_at"] < 1.0, fault  # it noticed within the limit and a tick or two
    assert fault["driver_sent"] == len(kinds), fault  # the driver published exactly these, hold included


# --- cameras (tests/hardware/camera_scenario.py) ----------------------------------------------------------------------
def assert_camera_frames_reached_the_driver(scenario: dict) -> None:
    """Every state read carried the overhead frame as (96, 96, 3) uint8, fresh, stamped like a joint state (the sim
    node stamps a frame with its state's stamp), and each is pixel for pixel the frame the node published."""
    frames = step(scenario, "frames")
    assert all(f["shape"] == [96, 96, 3] and f["dtype"] == "uint8" and f["keys"] == ["overhead_image"]
               for f in frames), frames
    assert all(0.0 <= f["age_s"] < 0.25 for f in frames), frames
    assert any(f["image_stamp"] == f["state_stamp"] for f in frames), frames  # same publish cycle at least once
    assert all(abs(f["image_stamp"] - f["state_stamp"]) <= 0.05 for f in frames), frames
    compare = step(scenario, "compare")
    assert compare["published"] > 0 and len(compare["frames"]) == len(frames)
    assert all(f["found"] and f["equal"] for f in compare["frames"]), compare["frames"]
    assert all(f["distinct_values"] > 1 for f in compare["frames"]), "the rendered frames are blank"


def assert_a_silent_camera_is_named_at_connect(scenario: dict) -> None:
    missing = step(scenario, "missing_camera")
    assert missing["raised"] == "TimeoutError", missing
    assert "no sensor_msgs/Image for camera 'overhead_image' on" in missing["message"], missing
    assert "no_camera/image_raw" in missing["message"], missing


def assert_a_stopped_camera_faults_stale_then_one_hold(scenario: dict) -> None:
    """The node's camera stopped while its joint states went on: a stale_state fault naming the camera within the
    limit and a tick or two, then exactly one hold as the last command and nothing after it."""
    run = step(scenario, "camera_stop")
    assert run["status"] == "fault" and run["fault_check"] == "stale_state", run
    assert "stale camera frame" in run["fault"] and "'overhead_image'" in run["fault"], run
    assert run["held"] and run["stop_error"] is None and run["node_alive"], run
    assert run["camera_stopped_at"] is not None and run["ticks"] < run["max_ticks"], run
    kinds = [name for name, _ in run["sent"]]
    assert kinds.count("hold") == 1 and kinds[-1] == "hold" and "estop" not in kinds, kinds
    assert kinds[:-1] and set(kinds[:-1]) == {"send_trajectory"}, kinds  # it was running before the stop
    assert run["ended"] - run["camera_stopped_at"] < run["max_state_age_s"] + 0.5, run
    assert run["driver_sent"] == len(kinds), run
    assert step(scenario, "node_exit")["returncode"] == 0
