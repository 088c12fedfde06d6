"""The ROS 1 backend end to end, run by tests/hardware/test_ros1.py inside a network namespace of its own:

    unshare -n sh -c 'ip link set lo up && exec python tests/hardware/ros1_scenario.py --checkpoint DIR --workdir DIR'

It starts a real rosmaster on a free loopback port (ROS_MASTER_URI / ROS_IP / ROS_HOSTNAME all 127.0.0.1, logs
under --workdir), and every ROS 1 node runs in this process or its children, all inside that namespace. Steps,
each recorded under its name (or as {"error": ...}):

    wire       rospy's own generated messages published by rospy and received as raw bytes (rospy.AnyMsg),
               compared with hardware.messages.ros1.serialize; and the backend's Publisher read by rospy's own
               generated classes (this process's rospy node, which the driver below then shares)
    deploy     python scripts/deploy.py ... backend=ros1 against python -m hardware.ros1.sim_node
    node       the node's current state read by a Ros1ArmDriver; "still": whether the arm stays put after the deploy
    driver     a trajectory followed, hold, and e-stop (nothing more sent) through Ros1ArmDriver
    report     the node's own JSON report (what it received), after SIGTERM
    forward_position  a second node (forward_position controller, its own command topic) and a second driver
               sharing this process's rospy node: a setpoint followed, hold as a setpoint
    estop_topic   a ControlLoop run on a fresh node whose robot config has an estop_topic: False published on it
               mid-run, then True (tests/hardware/topic_backend_checks.py step_estop_topic)
    fault_node    a ControlLoop run (tests/hardware/middleware_faults.py) on that node, which is SIGKILLed mid-run:
               joint states stop
    fault_master  the same with rosmaster SIGKILLed mid-run instead (last: nothing after it needs the master)

The last line printed is "RESULT <json>".
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hardware.messages import (  # noqa: E402
    Bool,
    CompressedImage,
    Duration,
    Float64MultiArray,
    Header,
    Image,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    MultiArrayDimension,
    MultiArrayLayout,
    Ros1Header,
    Time,
    ros1,
)
from hardware.robot import load_robot  # noqa: E402
from hardware.ros1 import import_rospy  # noqa: E402

rospy = import_rospy()
from std_msgs import msg as std_msgs  # noqa: E402
from sensor_msgs import msg as sensor_msgs  # noqa: E402
from trajectory_msgs import msg as trajectory_msgs  # noqa: E402

from hardware.ros1.driver import Ros1ArmDriver  # noqa: E402
from hardware.ros1.transport import Publisher  # noqa: E402
from tests.hardware.middleware_faults import run_loop_and_kill  # noqa: E402
from tests.hardware import topic_backend_checks as checks  # noqa: E402
from tests.hardware.topic_backend_checks import wait_for  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_master(workdir: Path) -> subprocess.Popen:
    """rosmaster on a free loopback port; sets this process's ROS_* environment (inherited by every child)."""
    port = free_port()
    os.environ.update({"ROS_MASTER_URI": f"http://127.0.0.1:{port}", "ROS_IP": "127.0.0.1",
                       "ROS_HOSTNAME": "127.0.0.1", "ROS_HOME": str(workdir / "ros_home"),
                       "ROS_LOG_DIR": str(workdir / "ros_log")})
    master = subprocess.Popen(["rosmaster", "--core", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    import rosgraph

    deadline = time.time() + 15
    while True:
        try:
            rosgraph.Master("/scenario").getPid()
            return master
        except Exception:  # noqa: BLE001 - not up yet
            if time.time() > deadline or master.poll() is not None:
                master.kill()
                raise AssertionError(f"rosmaster did not come up on port {port}: {master.stderr.read()[-2000:]}")
            time.sleep(0.05)


def wire_cases() -> dict[str, tuple[Any, Any]]:
    """Each type the backend carries, as (hardware.messages dataclass, the same message built with rospy's class)."""
    stamp = Time(sec=1_700_000_123, nanosec=456_789_012)
    rstamp = rospy.Time(1_700_000_123, 456_789_012)
    return {
        "joint_state": (
            JointState(header=Header(stamp=stamp, frame_id="base"), name=["pusher_x", "pusher_y", "j3"],
                       position=[0.1, -0.2, 3.0], velocity=[0.0, 0.5, -0.25]),
            sensor_msgs.JointState(header=std_msgs.Header(stamp=rstamp, frame_id="base"),
                                   name=["pusher_x", "pusher_y", "j3"], position=[0.1, -0.2, 3.0],
                                   velocity=[0.0, 0.5, -0.25], effort=[])),
        "joint_trajectory": (
            JointTrajectory(header=Header(stamp=stamp, frame_id="base"), joint_names=["a", "bb", "ccc"], points=[
                JointTrajectoryPoint(positions=[0.0, 0.1, 0.2], time_from_start=Duration(0, 0)),
                JointTrajectoryPoint(positions=[0.3, 0.4, 0.5], velocities=[1.0, 1.0, 1.0],
                                     time_from_start=Duration(0, 100_000_000))]),
            trajectory_msgs.JointTrajectory(
                header=std_msgs.Header(stamp=rstamp, frame_id="base"), joint_names=["a", "bb", "ccc"], points=[
                    trajectory_msgs.JointTrajectoryPoint(positions=[0.0, 0.1, 0.2], time_from_start=rospy.Duration(0, 0)),
                    trajectory_msgs.JointTrajectoryPoint(positions=[0.3, 0.4, 0.5], velocities=[1.0, 1.0, 1.0],
                                                         time_from_start=rospy.Duration(0, 100_000_000))])),
        "float64_multiarray": (
            Float64MultiArray(layout=MultiArrayLayout(dim=[MultiArrayDimension("object_pose", 4, 4)]),
                              data=[0.1, -0.2, 1.0, 0.0]),
            std_msgs.Float64MultiArray(layout=std_msgs.MultiArrayLayout(
                dim=[std_msgs.MultiArrayDimension(label="object_pose", size=4, stride=4)], data_offset=0),
                data=[0.1, -0.2, 1.0, 0.0])),
        "bool": (Bool(data=True), std_msgs.Bool(data=True)),
        "image": (
            Image(header=Header(stamp=stamp, frame_id="cam"), height=2, width=3, encoding="rgb8", step=9,
                  data=bytes(range(18))),
            sensor_msgs.Image(header=std_msgs.Header(stamp=rstamp, frame_id="cam"), height=2, width=3,
                              encoding="rgb8", is_bigendian=0, step=9, data=bytes(range(18)))),
        "compressed_image": (
            CompressedImage(header=Header(stamp=stamp, frame_id="cam"), format="png", data=b"\x89PNG\r\n"),
            sensor_msgs.CompressedImage(header=std_msgs.Header(stamp=rstamp, frame_id="cam"), format="png",
                                        data=b"\x89PNG\r\n")),
    }


def _with_seq(msg: Any, seq: int) -> Any:
    """``msg`` with its header's seq set (rospy numbers the headers it publishes)."""
    if hasattr(msg, "header"):
        msg.header = Ros1Header(seq=seq, stamp=msg.header.stamp, frame_id=msg.header.frame_id)
    return msg


def step_wire() -> dict[str, Any]:
    """rospy -> raw bytes vs hardware.messages.ros1, and the backend's Publisher -> rospy's generated classes."""
    from hardware.ros1.transport import ensure_node

    ensure_node("ros1_scenario")
    out: dict[str, Any] = {}
    for name, (ours, theirs) in wire_cases().items():
        raw: list[Any] = []
        real: list[Any] = []
        pub = rospy.Publisher(f"/wire_check/{name}", type(theirs), queue_size=10)
        sub = rospy.Subscriber(f"/wire_check/{name}", rospy.AnyMsg, raw.append)
        wait_for(lambda: pub.get_num_connections() > 0, 10.0, f"{name}: rospy publisher and AnyMsg never connected")
        pub.publish(theirs)
        wait_for(lambda: bool(raw), 5.0, f"{name}: nothing arrived as AnyMsg")
        data = bytes(raw[0]._buff)
        seq = int.from_bytes(data[:4], "little") if hasattr(ours, "header") else 0
        expected = ros1.serialize(_with_seq(ours, seq))
        out[name] = {"count": len(raw), "equal": data == expected, "wire_len": len(data), "ros1_len": len(expected),
                     "type": raw[0]._connection_header["type"],
                     "reads_back": ros1.deserialize(data, type(ours)) == _with_seq(ours, seq)}
        # the other way: our Publisher, rospy's generated class deserializing
        ours_pub = Publisher(f"/wire_check/{name}_ours", type(ours))
        real_sub = rospy.Subscriber(f"/wire_check/{name}_ours", type(theirs), real.append)
        wait_for(lambda: ours_pub.subscriber_count() > 0, 10.0, f"{name}: our publisher never connected")
        ours_pub.publish(ours)
        wait_for(lambda: bool(real), 5.0, f"{name}: rospy's {type(theirs).__name__} subscriber got nothing")
        received = real[0]
        if hasattr(received, "header"):
            theirs.header.seq = received.header.seq
        out[name]["rospy_reads_ours"] = received == theirs
        for endpoint in (pub, sub, real_sub):
            endpoint.unregister()
        ours_pub.close()
    return out


def start_node(workdir: Path, report: str = "node.json", robot: str = "pusht_sim") -> subprocess.Popen:
    return checks.start_sim_node("hardware.ros1.sim_node", workdir, report, robot)


def make_driver(robot: Any = "pusht_sim") -> Ros1ArmDriver:
    return Ros1ArmDriver(load_robot(robot), state_timeout_s=10.0)


def open_estop_publisher(topic: str) -> tuple[Publisher, Any]:
    """``open_publisher`` for step_estop_topic: a std_msgs/Bool publisher on this process's rospy node."""
    publisher = Publisher(topic, Bool)
    return publisher, publisher.close


def step_fault(node: subprocess.Popen, checkpoint: str, kill: str, master: subprocess.Popen) -> dict[str, Any]:
    """A deploy-loop run on ``node`` with ``kill`` ("node" or "master") SIGKILLed 0.8 s into it."""
    driver = make_driver()
    try:
        driver.connect()
        out = run_loop_and_kill(driver, checkpoint, node if kill == "node" else master, kill_after_s=0.8,
                                max_ticks=25 if kill == "node" else 20)
    finally:
        closed = time.time()
        driver.close()
    out["close_s"] = time.time() - closed
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    master = None
    held: dict[str, Any] = {}
    try:
        if not checks.run_step(results, "master", lambda: start_master(args.workdir)):
            return
        master = results.pop("master")
        results["master"] = os.environ["ROS_MASTER_URI"]
        checks.run_step(results, "wire", step_wire)
        checks.run_main_steps(results, held, args.checkpoint, "ros1", lambda: start_node(args.workdir),
                              make_driver)
        checks.finish_main_steps(results, args.workdir, held)
        checks.run_step(results, "forward_position", lambda: checks.step_forward_position(
            args.workdir, lambda path: start_node(args.workdir, "node_forward.json", str(path)), make_driver,
            {"state_topic": "/forward/joint_states", "extra_topics": {"object_pose": "/forward/object_pose"},
             "success_topic": "/forward/task_success"}))
        for kill in ("node", "master"):
            name = f"fault_{kill}"
            if not checks.run_step(results, name, lambda kill=kill: start_node(args.workdir, f"node_{name}.json")):
                continue
            node = results.pop(name)
            try:
                if kill == "node":  # the e-stop run leaves the node running (held) for the fault run
                    checks.run_step(results, "estop_topic", lambda: checks.step_estop_topic(
                        args.workdir, args.checkpoint, make_driver, open_estop_publisher))
                checks.run_step(results, name, lambda kill=kill, node=node: step_fault(node, args.checkpoint, kill,
                                                                                       master))
            finally:
                node.kill()
                node.wait(timeout=10)
    finally:
        if held.get("driver") is not None:
            held["driver"].close()
        if held.get("node") is not None:
            held["node"].kill()
        if master is not None and master.poll() is None:
            master.terminate()
            master.wait(timeout=10)
        print("RESULT " + json.dumps(results), flush=True)
        os._exit(0)  # rospy's threads (the node) would otherwise keep the process alive


if __name__ == "__main__":
    main()
