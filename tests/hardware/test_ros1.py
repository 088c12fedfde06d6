"""The ROS 1 backend (hardware/ros1/): refusals in-process, and the backend end to end with a real rosmaster in
tests/hardware/ros1_scenario.py.

This process never creates a rospy node (rospy allows one per process, and a node here would talk to whatever
ROS_MASTER_URI says): everything that talks ROS 1 runs in one subprocess inside a network namespace of its own
(`unshare -n`, only loopback up), which starts rosmaster, the simulated arm node, a Ros1ArmDriver and
scripts/deploy.py, and prints its measurements as JSON for the tests below to check.

Tested against rospy 1.15 from Debian bookworm (python3-rospy, python3-rosmaster and the sensor_msgs,
trajectory_msgs and std_msgs Python packages), found through hardware.ros1.import_rospy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardware.ros1 import rospy_available
from tests.hardware.stubs import pusht_robot
from tests.hardware.test_dds import UNSHARE_PROBLEM, still_checkpoint  # noqa: F401  (a module fixture)
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
SCENARIO = Path(__file__).with_name("ros1_scenario.py")
CAMERA_SCENARIO = Path(__file__).with_name("camera_scenario.py")

_SYS_PATH = list(sys.path)
HAVE_ROSPY = rospy_available()  # may append the system's dist-packages to sys.path: undone right below
sys.path[:] = _SYS_PATH
HAVE_ROSMASTER = shutil.which("rosmaster") is not None
INSTALL = ("apt-get install -y --no-install-recommends python3-rospy python3-rosmaster python3-sensor-msgs "
           "python3-trajectory-msgs python3-std-msgs")
needs_rospy = pytest.mark.skipif(not HAVE_ROSPY, reason=f"rospy is not installed ({INSTALL})")
needs_namespace = pytest.mark.skipif(
    not (HAVE_ROSPY and HAVE_ROSMASTER) or UNSHARE_PROBLEM is not None,
    reason=f"rospy or rosmaster is not installed ({INSTALL})" if not (HAVE_ROSPY and HAVE_ROSMASTER)
    else f"ROS 1 runs only inside its own network namespace, and {UNSHARE_PROBLEM}")


@pytest.fixture(autouse=True)
def _keep_sys_path():
    """Importing rospy appends the system's dist-packages to sys.path; take it off again after each test, so the
    rest of the suite imports only what the virtual environment has."""
    saved = list(sys.path)
    yield
    sys.path[:] = saved


# --- in-process: no node ---------------------------------------------------------------------------------------------
def test_importing_the_package_and_the_deploy_job_does_not_need_rospy():
    code = ("import sys, hardware.ros1, hardware.deploy; "
            "assert 'rospy' not in sys.modules, 'rospy imported eagerly'; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


@needs_rospy
def test_the_driver_refuses_an_unset_master_and_what_it_cannot_serve(monkeypatch):
    from hardware.ros1.driver import Ros1ArmDriver
    from hardware.ros1.transport import Ros1MasterError

    monkeypatch.delenv("ROS_MASTER_URI", raising=False)
    with pytest.raises(Ros1MasterError, match="ROS_MASTER_URI is not set"):
        Ros1ArmDriver(pusht_robot())
    monkeypatch.setenv("ROS_MASTER_URI", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"extra source\(s\) \['object_pose'\], but `extra_topics` names no topic"):
        Ros1ArmDriver(pusht_robot(extra_topics={}))
    driver = Ros1ArmDriver(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}))
    with pytest.raises(RuntimeError, match="call connect"):
        driver.read_state()


@needs_rospy
def test_connect_names_the_master_that_does_not_answer(monkeypatch):
    from hardware.ros1.driver import Ros1ArmDriver
    from hardware.ros1.transport import Ros1MasterError

    monkeypatch.setenv("ROS_MASTER_URI", "http://127.0.0.1:1")  # nothing listens on port 1: no node is created
    driver = Ros1ArmDriver(pusht_robot(), state_timeout_s=0.3)
    with pytest.raises(Ros1MasterError, match=r"no ROS master answers at ROS_MASTER_URI=http://127.0.0.1:1"):
        driver.connect()


@needs_rospy
def test_the_sim_node_refuses_an_unset_master_extra_cameras_and_unknown_extras(monkeypatch):
    from hardware.ros1.sim_node import SimArmNode
    from hardware.ros1.transport import Ros1MasterError

    monkeypatch.delenv("ROS_MASTER_URI", raising=False)
    with pytest.raises(Ros1MasterError, match="ROS_MASTER_URI is not set"):
        SimArmNode(pusht_robot())
    monkeypatch.setenv("ROS_MASTER_URI", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="the simulated scene has one camera"):
        SimArmNode(pusht_robot(cameras={"a_image": "/a/image_raw", "b_image": "/b/image_raw"}))
    SimArmNode(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}))
    with pytest.raises(ValueError, match=r"extra sources \['block_velocity'\] to topics"):
        SimArmNode(pusht_robot(extra_topics={"object_pose": "/object_pose", "block_velocity": "/bv"}))


@needs_rospy
def test_raw_messages_announce_the_real_ros1_types():
    from hardware.messages import Bool, CompressedImage, Float64MultiArray, Image, JointState, JointTrajectory, Time
    from hardware.ros1.transport import raw_class, rospy_class

    for msg_type in (JointState, JointTrajectory, Float64MultiArray, Bool, Image, CompressedImage):
        raw, real = raw_class(msg_type), rospy_class(msg_type)
        assert (raw._type, raw._md5sum, raw._full_text) == (real._type, real._md5sum, real._full_text)
    assert raw_class(JointState)._type == "sensor_msgs/JointState"
    with pytest.raises(TypeError, match="does not carry Time"):
        raw_class(Time)


@needs_rospy
def test_the_deploy_job_knows_the_ros1_backend_and_checks_its_options(monkeypatch):
    from hardware.clock import WallClock
    from hardware.deploy import make_driver
    from hardware.ros1.driver import Ros1ArmDriver

    monkeypatch.delenv("ROS_MASTER_URI", raising=False)
    driver = make_driver("ros1", pusht_robot(), WallClock(), {"master_uri": "http://127.0.0.1:1", "state_timeout_s": 2})
    assert isinstance(driver, Ros1ArmDriver) and driver.master_uri == "http://127.0.0.1:1"
    with pytest.raises(ValueError, match=r"unknown ros1 option\(s\) \['master'\]"):
        make_driver("ros1", pusht_robot(), WallClock(), {"master": "http://127.0.0.1:1"})


# --- over ROS 1, with a real rosmaster, in a network namespace -------------------------------------------------------
@pytest.fixture(scope="module")
def scenario(still_checkpoint, tmp_path_factory) -> dict:  # noqa: F811
    """Run tests/hardware/ros1_scenario.py once in its own network namespace; its JSON results."""
    return run_scenario(SCENARIO, still_checkpoint, tmp_path_factory.mktemp("ros1_scenario"), "ROS 1")


@pytest.mark.slow
@needs_namespace
def test_bytes_on_the_wire_are_hardware_messages_ros1(scenario):
    wire = step(scenario, "wire")
    types = {"joint_state": "sensor_msgs/JointState", "joint_trajectory": "trajectory_msgs/JointTrajectory",
             "float64_multiarray": "std_msgs/Float64MultiArray", "bool": "std_msgs/Bool",
             "image": "sensor_msgs/Image", "compressed_image": "sensor_msgs/CompressedImage"}
    for name, ros_type in types.items():
        result = wire[name]
        assert result["count"] == 1 and result["equal"] and result["reads_back"], (name, result)
        assert result["type"] == ros_type and result["rospy_reads_ours"], (name, result)


@pytest.mark.slow
@needs_namespace
def test_the_sim_node_publishes_the_seeds_state_to_the_driver(scenario):
    assert_the_seeds_state_reached_the_driver(scenario)


@pytest.mark.slow
@needs_namespace
def test_deploy_script_runs_a_policy_over_ros1_and_leaves_the_arm_holding(scenario):
    assert_deploy_ran_and_left_the_arm_holding(scenario, "ros1")


@pytest.mark.slow
@needs_namespace
def test_a_trajectory_sent_over_ros1_is_followed_to_its_last_point(scenario):
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
def test_true_on_the_estop_topic_over_ros1_ends_the_run_with_the_estop_and_false_does_nothing(scenario):
    assert_estop_topic_ends_the_run_and_nothing_is_sent_after(step(scenario, "estop_topic"))


@pytest.mark.slow
@needs_namespace
def test_ros1_sim_node_killed_mid_run_faults_on_stale_state_holds_once_and_sends_nothing_after(scenario):
    assert_stale_state_fault_then_one_hold(step(scenario, "fault_node"))


@pytest.mark.slow
@needs_namespace
def test_rosmaster_killed_mid_run_does_not_fault_peer_links_keep_state_flowing_and_the_run_ends_with_one_hold(
        scenario):
    """rospy's publisher->subscriber TCPROS links do not go through the master: with rosmaster gone the node's
    joint states keep arriving, so the run is not stale, goes on to max_ticks and ends with one hold."""
    fault = step(scenario, "fault_master")
    assert fault["killed_at"] is not None and fault["killed_at"] < fault["ended"], fault
    assert fault["status"] == "max_ticks" and fault["ticks"] == fault["max_ticks"], fault
    assert fault["fault_check"] is None and fault["held"] and fault["stop_error"] is None, fault
    assert fault["reads_after_kill"] >= 5, fault  # ticks ran on fresh state after the master died
    kinds = [name for name, _ in fault["sent"]]
    assert kinds.count("hold") == 1 and kinds[-1] == "hold" and "estop" not in kinds, kinds
    assert any(t > fault["killed_at"] for name, t in fault["sent"] if name == "send_trajectory"), fault
    assert fault["driver_sent"] == len(kinds), fault


# --- cameras over ROS 1, in a network namespace ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def camera_scenario(tmp_path_factory) -> dict:
    """Run tests/hardware/camera_scenario.py for ROS 1 (its own rosmaster) once in its own network namespace."""
    return run_scenario(CAMERA_SCENARIO, None, tmp_path_factory.mktemp("ros1_camera"), "ROS 1 camera",
                        ("--backend", "ros1"))


@needs_namespace
def test_camera_frames_over_ros1_reach_the_driver_pixel_for_pixel_with_their_stamps(camera_scenario):
    assert_camera_frames_reached_the_driver(camera_scenario)


@needs_namespace
def test_a_camera_that_never_publishes_over_ros1_is_named_when_connect_times_out(camera_scenario):
    assert_a_silent_camera_is_named_at_connect(camera_scenario)


@needs_namespace
def test_a_stopped_camera_over_ros1_faults_on_stale_state_and_holds_once(camera_scenario):
    assert_a_stopped_camera_faults_stale_then_one_hold(camera_scenario)
