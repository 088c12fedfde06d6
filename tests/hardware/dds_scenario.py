"""The DDS backend end to end, run by tests/hardware/test_dds.py inside a network namespace of its own:

    unshare -n sh -c 'ip link set lo up && exec python tests/hardware/dds_scenario.py --checkpoint DIR --workdir DIR'

Every DDS participant lives in this process or its children, all inside that namespace (only loopback exists
there). The pytest process itself never creates one. Steps, each recorded under its name (or as {"error": ...}):

    wire       messages published through hardware/dds/participant.py and taken as raw bytes off a DataReader,
               compared with hardware.messages.cdr.serialize (images included); a JointState round trip
    node       python -m hardware.dds.sim_node started (subprocess), its first states read by a DdsArmDriver
    deploy     python scripts/deploy.py ... backend=dds against that node, then whether the arm stays put
    driver     a trajectory followed, hold, and e-stop (nothing more sent) through DdsArmDriver
    report     the node's own JSON report (what it received), after SIGTERM
    forward_position  a second node and driver on DDS domain 1 with a forward_position controller: a setpoint
               followed, hold as a setpoint
    estop_topic  a ControlLoop run on DDS domain 2 (its own node) whose robot config has an estop_topic: False
               published on it mid-run, then True (tests/hardware/topic_backend_checks.py step_estop_topic)
    fault_node  a ControlLoop run (tests/hardware/middleware_faults.py) on the same node, SIGKILLed mid-run: joint
               states stop

The last line printed is "RESULT <json>".
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hardware.dds.driver import DdsArmDriver  # noqa: E402
from hardware.dds.network import loopback_config  # noqa: E402
from hardware.dds.participant import RELIABLE, DdsParticipant  # noqa: E402
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
    Time,
    cdr,
)
from hardware.robot import load_robot  # noqa: E402
from tests.hardware.middleware_faults import run_loop_and_kill  # noqa: E402
from tests.hardware import topic_backend_checks as checks  # noqa: E402
from tests.hardware.topic_backend_checks import wait_for  # noqa: E402


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
        # written as raw hardware.messages.cdr bytes (hardware/dds/participant.py): 2x3 rgb8, 18 bytes of data
        "image": Image(header=header, height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18))),
        "compressed_image": CompressedImage(header=header, format="png", data=b"\x89PNG\r\n"),
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


def start_node(workdir: Path, robot: str = "pusht_sim", domain_id: int = 0, report: str = "node.json"
               ) -> subprocess.Popen:
    return checks.start_sim_node("hardware.dds.sim_node", workdir, report, robot,
                          ("--network", "loopback", "--domain-id", str(domain_id)))


def make_driver(robot: Any = "pusht_sim", domain_id: int = 0) -> DdsArmDriver:
    return DdsArmDriver(load_robot(robot), network="loopback", domain_id=domain_id, state_timeout_s=10.0)


def open_estop_publisher(domain_id: int) -> Any:
    """``open_publisher`` for step_estop_topic: a std_msgs/Bool publisher of a participant of its own."""
    def open_publisher(topic: str) -> tuple[Any, Any]:
        participant = DdsParticipant(loopback_config(), domain_id, network_name="loopback")
        return participant.publisher(topic, Bool, RELIABLE), participant.close
    return open_publisher


def step_fault_node(node: subprocess.Popen, checkpoint: str) -> dict[str, Any]:
    """A deploy-loop run on ``node`` (domain 2), which is SIGKILLed 0.8 s into it."""
    driver = make_driver(domain_id=2)
    try:
        driver.connect()
        return run_loop_and_kill(driver, checkpoint, node, kill_after_s=0.8, max_ticks=25)
    finally:
        driver.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    checks.run_step(results, "wire", step_wire)
    held: dict[str, Any] = {}
    try:
        checks.run_main_steps(results, held, args.checkpoint, "dds", lambda: start_node(args.workdir),
                              make_driver)
    finally:
        checks.finish_main_steps(results, args.workdir, held)
    checks.run_step(results, "forward_position", lambda: checks.step_forward_position(
        args.workdir, lambda path: start_node(args.workdir, str(path), domain_id=1, report="node_forward.json"),
        lambda path: make_driver(path, domain_id=1)))
    # one node on domain 2 for both: the e-stop run leaves it running (held), the fault run kills it
    if checks.run_step(results, "fault_node", lambda: start_node(args.workdir, domain_id=2, report="node_fault.json")):
        node = results.pop("fault_node")
        try:
            checks.run_step(results, "estop_topic", lambda: checks.step_estop_topic(
                args.workdir, args.checkpoint, lambda path: make_driver(path, domain_id=2), open_estop_publisher(2)))
            checks.run_step(results, "fault_node", lambda: step_fault_node(node, args.checkpoint))
        finally:
            node.kill()
            node.wait(timeout=10)
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
