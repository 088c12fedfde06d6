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

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hardware.ros1 import rospy_available
from tests.hardware.stubs import pusht_robot
from tests.hardware.test_dds import (  # noqa: F401  (still_checkpoint: a module fixture)
    UNSHARE_PROBLEM,
    assert_stale_state_fault_then_one_hold,
    still_checkpoint,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("ros1_scenario.py")

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
    with pytest.raises(ValueError, match="does not carry camera images"):
        Ros1ArmDriver(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}))
    with pytest.raises(ValueError, match=r"extra source\(s\) \['object_pose'\], but `extra_topics` names no topic"):
        Ros1ArmDriver(pusht_robot(extra_topics={}))
    driver = Ros1ArmDriver(pusht_robot())
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
def test_the_sim_node_refuses_an_unset_master_cameras_and_unknown_extras(monkeypatch):
    from hardware.ros1.sim_node import SimArmNode
    from hardware.ros1.transport import Ros1MasterError

    monkeypatch.delenv("ROS_MASTER_URI", raising=False)
    with pytest.raises(Ros1MasterError, match="ROS_MASTER_URI is not set"):
        SimArmNode(pusht_robot())
    monkeypatch.setenv("ROS_MASTER_URI", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="publishes no images"):
        SimArmNode(pusht_robot(cameras={"overhead_image": "/overhead_camera/image_raw"}))
    with pytest.raises(ValueError, match=r"extra sources \['block_velocity'\] to topics"):
        SimArmNode(pusht_robot(extra_topics={"object_pose": "/object_pose", "block_velocity": "/bv"}))


@needs_rospy
def test_raw_messages_announce_the_real_ros1_types():
    from hardware.messages import Bool, Float64MultiArray, JointState, JointTrajectory, Time
    from hardware.ros1.transport import raw_class, rospy_class

    for msg_type in (JointState, JointTrajectory, Float64MultiArray, Bool):
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
    workdir = tmp_path_factory.mktemp("ros1_scenario")
    script = " ".join(shlex.quote(a) for a in (sys.executable, str(SCENARIO), "--checkpoint", str(still_checkpoint),
                                                "--workdir", str(workdir)))
    proc = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {script}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"the ROS 1 scenario failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
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
def test_bytes_on_the_wire_are_hardware_messages_ros1(scenario):
    wire = step(scenario, "wire")
    types = {"joint_state": "sensor_msgs/JointState", "joint_trajectory": "trajectory_msgs/JointTrajectory",
             "float64_multiarray": "std_msgs/Float64MultiArray", "bool": "std_msgs/Bool"}
    for name, ros_type in types.items():
        result = wire[name]
        assert result["count"] == 1 and result["equal"] and result["reads_back"], (name, result)
        assert result["type"] == ros_type and result["rospy_reads_ours"], (name, result)


@pytest.mark.slow
@needs_namespace
def test_the_sim_node_publishes_the_seeds_state_to_the_driver(scenario):
    node = step(scenario, "node")
    expected = node["expected"]
    np.testing.assert_allclose(node["positions"], expected["pusher"], atol=2e-4)  # after the deploy's dithering
    np.testing.assert_allclose(node["object_pose"], expected["object_pose"], atol=1e-6)
    assert node["velocities"] is not None and len(node["velocities"]) == 2
    assert 0.0 <= node["age_s"] < 0.25 and node["task_success"] is False


@pytest.mark.slow
@needs_namespace
def test_deploy_script_runs_a_policy_over_ros1_and_leaves_the_arm_holding(scenario):
    deploy = step(scenario, "deploy")
    assert deploy["returncode"] == 0, deploy["stdout"] + deploy["stderr"]
    assert "on pusht_sim (ros1 backend)" in deploy["stdout"]
    assert "max_ticks after 8 ticks" in deploy["stdout"] and "2 chunks, 2 trajectories" in deploy["stdout"]
    assert "arm told to hold" in deploy["stdout"] and "FAULT" not in deploy["stdout"]
    received = [c for c in step(scenario, "report")["commands"] if deploy["began"] <= c["time"] <= deploy["ended"]]
    # two chunks, then the loop's hold and the context manager's: one point each, where the arm was
    assert [c["kind"] for c in received] == ["trajectory"] * 4
    assert [len(c["points"]) for c in received[2:]] == [1, 1]
    assert step(scenario, "still")["moved"] < 1e-4


@pytest.mark.slow
@needs_namespace
def test_a_trajectory_sent_over_ros1_is_followed_to_its_last_point(scenario):
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
