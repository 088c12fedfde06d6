"""The DDS backend (hardware/dds/): IDL bytes vs hardware.messages.cdr, configuration and refusals in-process, and
the backend end to end over real DDS in tests/hardware/dds_scenario.py.

This process never creates a DDS participant: everything that joins a DDS domain runs in one subprocess inside a
network namespace of its own (`unshare -n`, only loopback up), which starts the simulated arm node, a DdsArmDriver
and scripts/deploy.py, and prints its measurements as JSON for the tests below to check.
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from hardware.benchmark import unshare_problem
from hardware.dds.network import DdsNetworkError, loopback_config, resolve_network
from tests.hardware.stubs import META, SPEC, pusht_robot
from tests.hardware.topic_backend_checks import (
    assert_a_silent_camera_is_named_at_connect,
    assert_a_stopped_camera_faults_stale_then_one_hold,
    assert_camera_frames_reached_the_driver,
    assert_deploy_ran_and_left_the_arm_holding,
    assert_estop_then_nothing_sent,
    assert_estop_topic_ends_the_run_and_nothing_is_sent_after,
    assert_forward_position_setpoints_and_hold,
    assert_hold_stayed,
    assert_stale_state_fault_then_one_hold,
    assert_the_seeds_state_reached_the_driver,
    assert_trajectory_followed,
    run_scenario,
    step,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("dds_scenario.py")
CAMERA_SCENARIO = Path(__file__).with_name("camera_scenario.py")


HAVE_CYCLONEDDS = importlib.util.find_spec("cyclonedds") is not None
UNSHARE_PROBLEM = unshare_problem()
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
    assert idl.Image.__idl_typename__ == "sensor_msgs::msg::dds_::Image_"
    assert idl.CompressedImage.__idl_typename__ == "sensor_msgs::msg::dds_::CompressedImage_"


def _idl_cases() -> list[str]:
    from tests.hardware.test_messages import CASES

    return list(CASES)


@needs_cyclonedds
@pytest.mark.parametrize("case", _idl_cases())
def test_cyclonedds_serializes_every_type_to_the_bytes_of_hardware_messages_cdr(case):
    """For images this is what makes the raw-CDR path wire-compatible: the ROS 2 type declared in idl.py, through
    cyclonedds' own serializer, gives exactly the hardware.messages.cdr bytes the participant writes instead."""
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
    with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
        DdsArmDriver(pusht_robot(cameras={"overhead_image": "/overhead camera"}), network="loopback")
    with pytest.raises(ValueError, match=r"extra source\(s\) \['object_pose'\], but `extra_topics` names no topic"):
        DdsArmDriver(pusht_robot(extra_topics={}), network="loopback")
    with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
        DdsArmDriver(pusht_robot(state_topic="/joint states"), network="loopback")
    driver = DdsArmDriver(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}), network="loopback")
    with pytest.raises(RuntimeError, match="call connect"):
        driver.read_state()


@needs_cyclonedds
def test_the_sim_node_refuses_extras_and_cameras_it_does_not_have():
    from hardware.dds.sim_node import SimArmNode

    with pytest.raises(DdsNetworkError):
        SimArmNode(pusht_robot(), network=None)
    with pytest.raises(ValueError, match="the simulated scene has one camera"):
        SimArmNode(pusht_robot(cameras={"a_image": "/a/image_raw", "b_image": "/b/image_raw"}), network="loopback")
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
    from tests.hardware.stubs import start_position

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
    return run_scenario(SCENARIO, still_checkpoint, tmp_path_factory.mktemp("dds_scenario"), "DDS")


@pytest.mark.slow
@needs_namespace
def test_bytes_on_the_wire_are_hardware_messages_cdr(scenario):
    wire = step(scenario, "wire")
    for name in ("joint_state", "joint_trajectory", "float64_multiarray", "bool", "image", "compressed_image"):
        assert wire[name]["count"] == 1 and wire[name]["equal"] and wire[name]["reads_back"], (name, wire[name])
    assert wire["round_trip_equal"]


@pytest.mark.slow
@needs_namespace
def test_the_sim_node_publishes_the_seeds_initial_state_to_the_driver(scenario):
    assert_the_seeds_state_reached_the_driver(scenario)


@pytest.mark.slow
@needs_namespace
def test_deploy_script_runs_a_policy_over_dds_and_leaves_the_arm_holding(scenario):
    assert_deploy_ran_and_left_the_arm_holding(scenario, "dds")


@pytest.mark.slow
@needs_namespace
def test_a_trajectory_sent_over_dds_is_followed_to_its_last_point(scenario):
    assert_trajectory_followed(scenario)


@pytest.mark.slow
@needs_namespace
def test_hold_keeps_the_arm_where_it_was_instead_of_finishing_the_trajectory(scenario):
    assert_hold_stayed(scenario)


@pytest.mark.slow
@needs_namespace
def test_estop_holds_and_nothing_is_sent_after_it(scenario):
    assert_estop_then_nothing_sent(scenario)


@pytest.mark.slow
@needs_namespace
def test_a_forward_position_controller_gets_setpoints_and_a_setpoint_hold(scenario):
    assert_forward_position_setpoints_and_hold(scenario)


@pytest.mark.slow
@needs_namespace
def test_true_on_the_estop_topic_over_dds_ends_the_run_with_the_estop_and_false_does_nothing(scenario):
    assert_estop_topic_ends_the_run_and_nothing_is_sent_after(step(scenario, "estop_topic"))


@pytest.mark.slow
@needs_namespace
def test_dds_sim_node_killed_mid_run_faults_on_stale_state_holds_once_and_sends_nothing_after(scenario):
    fault = step(scenario, "fault_node")
    assert_stale_state_fault_then_one_hold(fault)


# --- cameras over DDS, in a network namespace -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def camera_scenario(tmp_path_factory) -> dict:
    """Run tests/hardware/camera_scenario.py for DDS once in its own network namespace; its JSON results."""
    return run_scenario(CAMERA_SCENARIO, None, tmp_path_factory.mktemp("dds_camera"), "DDS camera",
                        ("--backend", "dds"))


@needs_namespace
def test_camera_frames_over_dds_reach_the_driver_pixel_for_pixel_with_their_stamps(camera_scenario):
    assert_camera_frames_reached_the_driver(camera_scenario)


@needs_namespace
def test_a_camera_that_never_publishes_over_dds_is_named_when_connect_times_out(camera_scenario):
    assert_a_silent_camera_is_named_at_connect(camera_scenario)


@needs_namespace
def test_a_stopped_camera_over_dds_faults_on_stale_state_and_holds_once(camera_scenario):
    assert_a_stopped_camera_faults_stale_then_one_hold(camera_scenario)
