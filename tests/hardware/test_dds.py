"""The DDS backend (hardware/dds/): IDL bytes vs hardware.messages.cdr, configuration and refusals in-process, and
the backend end to end over real DDS in tests/hardware/dds_scenario.py.

This process never creates a DDS participant: everything that joins a DDS domain runs in one subprocess inside a
network namespace of its own (`unshare -n`, only loopback up), which starts the simulated arm node, a DdsArmDriver
and scripts/deploy.py, and prints its measurements as JSON for the tests below to check.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hardware.dds.network import DdsNetworkError, loopback_config, resolve_network
from tests.hardware.stubs import META, SPEC, pusht_robot

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("dds_scenario.py")


def _unshare_problem() -> str | None:
    """Why `unshare -n` with loopback up cannot run here (None when it can)."""
    try:
        proc = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare -n` cannot run here ({exc})"
    if proc.returncode != 0:
        return f"`unshare -n sh -c 'ip link set lo up'` is not permitted here: {proc.stderr.strip()}"
    return None


HAVE_CYCLONEDDS = importlib.util.find_spec("cyclonedds") is not None
UNSHARE_PROBLEM = _unshare_problem()
needs_cyclonedds = pytest.mark.skipif(not HAVE_CYCLONEDDS,
                                      reason="cyclonedds is not installed (pip install cyclonedds==11.0.1)")
needs_namespace = pytest.mark.skipif(not HAVE_CYCLONEDDS or UNSHARE_PROBLEM is not None,
                                     reason="cyclonedds is not installed (pip install cyclonedds==11.0.1)"
                                     if not HAVE_CYCLONEDDS else f"DDS runs only inside its own network namespace, "
                                     f"and {UNSHARE_PROBLEM}")


# --- in-process: no participant -------------------------------------------------------------------------------------
def test_the_loopback_configuration_keeps_dds_on_loopback():
    root = ET.fromstring(loopback_config())
    ns = {"c": "https://cdds.io/config"}
    interface = root.find("c:Domain/c:General/c:Interfaces/c:NetworkInterface", ns)
    assert interface.get("name") == "lo" and interface.get("multicast") == "false"
    assert root.find("c:Domain/c:General/c:AllowMulticast", ns).text == "false"
    assert root.find("c:Domain/c:General/c:DontRoute", ns).text == "true"
    assert root.find("c:Domain/c:Discovery/c:ParticipantIndex", ns).text == "auto"
    assert [p.get("address") for p in root.findall("c:Domain/c:Discovery/c:Peers/c:Peer", ns)] == ["127.0.0.1"]


def test_a_network_must_be_given_explicitly(tmp_path):
    for missing in (None, "", "  "):
        with pytest.raises(DdsNetworkError, match=r"explicit network configuration.*multicast.*dds.network=loopback"):
            resolve_network(missing)
    with pytest.raises(DdsNetworkError, match=r"'lan' is neither 'loopback' nor an existing Cyclone DDS XML file"):
        resolve_network("lan")
    with pytest.raises(DdsNetworkError, match="not a <CycloneDDS> XML"):
        resolve_network("<Domain/>")
    robot_net = tmp_path / "robot.xml"
    robot_net.write_text(loopback_config())
    assert resolve_network(str(robot_net)) == f"file://{robot_net}"
    assert resolve_network(f"file://{robot_net}") == f"file://{robot_net}"
    assert resolve_network(loopback_config()) == resolve_network("loopback") == loopback_config()


@needs_cyclonedds
def test_ros2_topic_names_map_to_dds_as_rmw_cyclonedds_does():
    from hardware.dds.participant import dds_topic_name

    assert dds_topic_name("/joint_states") == "rt/joint_states"
    assert dds_topic_name("pusher_controller/joint_trajectory") == "rt/pusher_controller/joint_trajectory"
    for bad in ("/joint states", "/9lives", "/a//b", "/trailing/", ""):
        with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
            dds_topic_name(bad)


@needs_cyclonedds
def test_idl_types_carry_ros2s_dds_type_names():
    from hardware.dds import idl

    assert idl.JointState.__idl_typename__ == "sensor_msgs::msg::dds_::JointState_"
    assert idl.JointTrajectory.__idl_typename__ == "trajectory_msgs::msg::dds_::JointTrajectory_"
    assert idl.JointTrajectoryPoint.__idl_typename__ == "trajectory_msgs::msg::dds_::JointTrajectoryPoint_"
    assert idl.Float64MultiArray.__idl_typename__ == "std_msgs::msg::dds_::Float64MultiArray_"
    assert idl.Header.__idl_typename__ == "std_msgs::msg::dds_::Header_"
    assert idl.Time.__idl_typename__ == "builtin_interfaces::msg::dds_::Time_"
    assert idl.Bool.__idl_typename__ == "std_msgs::msg::dds_::Bool_"


def _idl_cases() -> list[str]:
    from tests.hardware.test_messages import CASES

    return [name for name in CASES if "image" not in name]  # cameras are not carried by the DDS backend


@needs_cyclonedds
@pytest.mark.parametrize("case", _idl_cases())
def test_cyclonedds_serializes_every_type_to_the_bytes_of_hardware_messages_cdr(case):
    from hardware.dds.convert import from_idl, to_idl
    from hardware.messages import cdr
    from tests.hardware.test_messages import CASES

    msg = CASES[case](False)
    obj = to_idl(msg)
    expected = cdr.serialize(msg)
    assert obj.serialize() == expected
    assert from_idl(type(obj).deserialize(expected)) == msg


@needs_cyclonedds
def test_a_ros1_header_loses_its_seq_on_the_way_to_ros2():
    from hardware.dds.convert import from_idl, to_idl
    from hardware.messages import Header, Ros1Header, Time

    header = Ros1Header(seq=9, stamp=Time(3, 4), frame_id="x")
    assert from_idl(to_idl(header)) == Header(stamp=Time(3, 4), frame_id="x")


@needs_cyclonedds
def test_the_driver_refuses_what_it_cannot_serve_before_touching_the_network():
    from hardware.dds.driver import DdsArmDriver

    with pytest.raises(DdsNetworkError, match="explicit network configuration"):
        DdsArmDriver(pusht_robot(), network=None)
    with pytest.raises(ValueError, match="does not carry camera images"):
        DdsArmDriver(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}), network="loopback")
    with pytest.raises(ValueError, match=r"extra source\(s\) \['object_pose'\], but `extra_topics` names no topic"):
        DdsArmDriver(pusht_robot(extra_topics={}), network="loopback")
    with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
        DdsArmDriver(pusht_robot(state_topic="/joint states"), network="loopback")
    driver = DdsArmDriver(pusht_robot(), network="loopback")
    with pytest.raises(RuntimeError, match="call connect"):
        driver.read_state()


@needs_cyclonedds
def test_the_sim_node_refuses_cameras_and_extras_it_does_not_have():
    from hardware.dds.sim_node import SimArmNode

    with pytest.raises(DdsNetworkError):
        SimArmNode(pusht_robot(), network=None)
    with pytest.raises(ValueError, match="publishes no images"):
        SimArmNode(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}), network="loopback")
    with pytest.raises(ValueError, match=r"extra sources \['block_velocity'\] to topics"):
        SimArmNode(pusht_robot(extra_topics={"object_pose": "/object_pose", "block_velocity": "/bv"}),
                   network="loopback")


@needs_cyclonedds
def test_the_deploy_job_knows_the_dds_backend_and_checks_its_options():
    from hardware.clock import WallClock
    from hardware.dds.driver import DdsArmDriver
    from hardware.deploy import make_driver

    driver = make_driver("dds", pusht_robot(), WallClock(), {"network": "loopback", "domain_id": 7})
    assert isinstance(driver, DdsArmDriver) and driver.domain_id == 7
    with pytest.raises(ValueError, match=r"unknown dds option\(s\) \['domain'\]"):
        make_driver("dds", pusht_robot(), WallClock(), {"network": "loopback", "domain": 7})
    with pytest.raises(DdsNetworkError):
        make_driver("dds", pusht_robot(), WallClock(), {"network": None})


# --- over DDS, in a network namespace -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def still_checkpoint(tmp_path_factory):
    """An untrained, tiny diffusion policy whose actions all lie within 0.06 mm of where the simulated pusher starts
    for the scenario's seed. On the wall clock a chunk's first point may get only a sliver of a tick (latency decides),
    so the policy must barely move for every safety check to pass whatever the timing."""
    from robopolicy.core import Normalizer, build_policy, save_checkpoint
    from tests.hardware.test_deploy import start_position

    rng = np.random.default_rng(0)
    data = {"agent_pos": rng.uniform(-0.2, 0.2, (64, 2)), "object": rng.uniform(-1, 1, (64, 4)),
            "action": start_position(1_000_000) + rng.uniform(-6e-5, 6e-5, (64, 2))}
    config = {"name": "diffusion", "backbone": "mlp", "mlp_hidden": 32, "mlp_depth": 2, "step_embed_dim": 16,
              "sampler": "ddim", "num_inference_steps": 4}
    policy = build_policy({"policy": config, "shape_meta": META.to_dict(), "chunk_spec": SPEC.to_dict()},
                          Normalizer.fit(META, data))
    return save_checkpoint(tmp_path_factory.mktemp("dds") / "ckpt", policy)


@pytest.fixture(scope="module")
def scenario(still_checkpoint, tmp_path_factory) -> dict:
    """Run tests/hardware/dds_scenario.py once in its own network namespace; its JSON results."""
    workdir = tmp_path_factory.mktemp("dds_scenario")
    script = " ".join(shlex.quote(a) for a in (sys.executable, str(SCENARIO), "--checkpoint", str(still_checkpoint),
                                                "--workdir", str(workdir)))
    proc = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {script}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"the DDS scenario failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def step(scenario: dict, name: str) -> dict:
    """One step's results, failing with its traceback if it raised."""
    assert name in scenario, f"the scenario never reached '{name}': {sorted(scenario)}"
    result = scenario[name]
    if isinstance(result, dict) and "error" in result:
        pytest.fail(f"scenario step '{name}' raised:\n{result['error']}")
    return result


@pytest.mark.slow
@needs_namespace
def test_bytes_on_the_wire_are_hardware_messages_cdr(scenario):
    wire = step(scenario, "wire")
    for name in ("joint_state", "joint_trajectory", "float64_multiarray", "bool"):
        assert wire[name]["count"] == 1 and wire[name]["equal"] and wire[name]["reads_back"], (name, wire[name])
    assert wire["round_trip_equal"]


@pytest.mark.slow
@needs_namespace
def test_the_sim_node_publishes_the_seeds_initial_state_to_the_driver(scenario):
    node = step(scenario, "node")
    expected = node["expected"]
    np.testing.assert_allclose(node["positions"], expected["pusher"], atol=2e-4)  # after the deploy's dithering
    np.testing.assert_allclose(node["object_pose"], expected["object_pose"], atol=1e-6)
    assert node["velocities"] is not None and len(node["velocities"]) == 2
    assert 0.0 <= node["age_s"] < 0.25 and node["task_success"] is False


@pytest.mark.slow
@needs_namespace
def test_deploy_script_runs_a_policy_over_dds_and_leaves_the_arm_holding(scenario):
    deploy = step(scenario, "deploy")
    assert deploy["returncode"] == 0, deploy["stdout"] + deploy["stderr"]
    assert "on pusht_sim (dds backend)" in deploy["stdout"]
    assert "max_ticks after 8 ticks" in deploy["stdout"] and "2 chunks, 2 trajectories" in deploy["stdout"]
    assert "arm told to hold" in deploy["stdout"] and "FAULT" not in deploy["stdout"]
    received = [c for c in step(scenario, "report")["commands"] if deploy["began"] <= c["time"] <= deploy["ended"]]
    # two chunks (past points dropped: 1 to 4 points each), then the loop's hold and the context manager's: one point
    # each, where the arm was
    assert [c["kind"] for c in received] == ["trajectory"] * 4
    assert [len(c["points"]) for c in received[2:]] == [1, 1]
    assert step(scenario, "still")["moved"] < 1e-4


@pytest.mark.slow
@needs_namespace
def test_a_trajectory_sent_over_dds_is_followed_to_its_last_point(scenario):
    trajectory = step(scenario, "driver")["trajectory"]
    np.testing.assert_allclose(trajectory["reached"], trajectory["target"], atol=1e-3)
    assert np.linalg.norm(np.subtract(trajectory["target"], trajectory["start"])) > 0.04


@pytest.mark.slow
@needs_namespace
def test_hold_keeps_the_arm_where_it_was_instead_of_finishing_the_trajectory(scenario):
    hold = step(scenario, "driver")["hold"]
    assert hold["points"] == 1
    np.testing.assert_allclose(hold["after"], hold["held_at"], atol=1e-3)
    assert np.linalg.norm(np.subtract(hold["after"], hold["start"])) > 0.005  # it did move before the hold
    assert np.linalg.norm(np.subtract(hold["after"], hold["trajectory_end"])) > 0.05


@pytest.mark.slow
@needs_namespace
def test_estop_holds_and_nothing_is_sent_after_it(scenario):
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


@pytest.mark.slow
@needs_namespace
def test_a_forward_position_controller_gets_setpoints_and_a_setpoint_hold(scenario):
    forward = step(scenario, "forward_position")
    np.testing.assert_allclose(forward["reached"], forward["setpoint"], atol=1e-3)
    assert forward["hold_kind"] == "Float64MultiArray"
    np.testing.assert_allclose(forward["hold_values"], forward["reached"], atol=1e-3)
    np.testing.assert_allclose(forward["after"], forward["hold_values"], atol=1e-3)
    assert forward["received"] == ["setpoint", "setpoint"] and forward["rejected"] == []
    assert forward["node_exit"]["returncode"] == 0


@pytest.mark.slow
@needs_namespace
def test_dds_sim_node_killed_mid_run_faults_on_stale_state_holds_once_and_sends_nothing_after(scenario):
    fault = step(scenario, "fault_node")
    assert_stale_state_fault_then_one_hold(fault)


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
