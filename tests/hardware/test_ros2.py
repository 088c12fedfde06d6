"""The ROS 2 backend through rclpy (hardware/ros2/), tested without ROS 2: without rclpy it refuses with the install
steps and nothing else breaks; with the fake rclpy of tests/hardware/fake_rclpy.py (the rclpy API surface the driver
uses, with rclpy's signatures, and message classes that check fields as rosidl's do) the driver's connect, state,
commands, hold, e-stop, extras, success and close are checked as the DDS and ROS 1 scenarios check them over their
middleware. Nothing here talks to a real ROS 2 node.
"""

from __future__ import annotations

import array
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hardware.clock import WallClock
from hardware.deploy import make_driver
from tests.hardware import fake_rclpy
from tests.hardware.stubs import pusht_dict, pusht_robot

ROOT = Path(__file__).resolve().parents[2]
COMMAND_TOPIC = "/pusher_controller/joint_trajectory"


def _no_ros2(monkeypatch) -> None:
    """Make rclpy and the message packages unimportable, even where ROS 2 is installed."""
    for name in ("rclpy", "sensor_msgs", "trajectory_msgs", "std_msgs", "builtin_interfaces"):
        monkeypatch.setitem(sys.modules, name, None)


# --- without rclpy ----------------------------------------------------------------------------------------------------
def test_importing_the_package_and_the_deploy_job_does_not_need_rclpy():
    code = ("import sys, hardware.ros2, hardware.ros2.driver, hardware.ros2.convert, hardware.deploy; "
            "assert not {'rclpy', 'sensor_msgs', 'std_msgs'} & set(sys.modules), 'ROS 2 imported eagerly'; "
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


def test_backend_ros2_without_rclpy_says_how_to_install_robopolicy_into_ros2(monkeypatch):
    from hardware.ros2 import rclpy_available
    from hardware.ros2.driver import Ros2ArmDriver

    _no_ros2(monkeypatch)
    assert not rclpy_available()
    for build in (lambda: make_driver("ros2", pusht_robot(), WallClock()), lambda: Ros2ArmDriver(pusht_robot())):
        with pytest.raises(ImportError, match=r"needs rclpy.*source /opt/ros/<distro>/setup\.bash.*"
                                              r"--system-site-packages.*pip install -e \..*numpy"):
            build()
    # the options are checked first, and the other backends are untouched
    with pytest.raises(ValueError, match=r"unknown ros2 option\(s\) \['domain'\]"):
        make_driver("ros2", pusht_robot(), WallClock(), {"domain": 3})
    assert type(make_driver("sim", pusht_robot(), WallClock())).__name__ == "SimArmDriver"
    with pytest.raises(ValueError, match=r"valid backends: sim, dds, ros1, ros2"):
        make_driver("ros3", pusht_robot(), WallClock())


# --- with the fake rclpy ----------------------------------------------------------------------------------------------
@pytest.fixture
def ros2(monkeypatch) -> fake_rclpy.FakeRos2:
    return fake_rclpy.install(monkeypatch)


def joint_state(stamp: tuple[int, int], names=("pusher_y", "gripper", "pusher_x"), position=(0.02, 9.0, -0.01),
                velocity=(0.5, 0.0, -0.25)):
    return fake_rclpy.JointState(header=fake_rclpy.Header(stamp=fake_rclpy.Time(sec=stamp[0], nanosec=stamp[1]),
                                                          frame_id="base"),
                                 name=list(names), position=array.array("d", position),
                                 velocity=array.array("d", velocity))


def multiarray(values):
    dim = fake_rclpy.MultiArrayDimension(label="", size=len(values), stride=len(values))
    return fake_rclpy.Float64MultiArray(layout=fake_rclpy.MultiArrayLayout(dim=[dim], data_offset=0),
                                        data=array.array("d", values))


POSE = (0.05, 0.01, 1.0, 0.0)


def arm_is_up(ros2: fake_rclpy.FakeRos2, stamp=None) -> None:
    """What the arm's side provides: a controller subscribed to the command topic, a joint state, an extra."""
    stamp = stamp or (int(time.time()), 250_000_000)
    ros2.remote_subscribers[COMMAND_TOPIC] = 1
    ros2.deliver("/joint_states", joint_state(stamp))
    ros2.deliver("/object_pose", multiarray(POSE))


def connected(ros2, robot=None, **options):
    """A Ros2ArmDriver through make_driver, connected once the fake arm is up (delivered from another thread while
    connect() waits)."""
    driver = make_driver("ros2", robot or pusht_robot(), WallClock(), {"state_timeout_s": 3.0, **options})

    def arm() -> None:
        while not ros2.subscriptions("/object_pose"):
            time.sleep(0.005)
        arm_is_up(ros2)

    thread = threading.Thread(target=arm, daemon=True)
    thread.start()
    driver.connect()
    thread.join(timeout=5)
    return driver


def test_connect_opens_its_own_context_node_and_executor_thread_with_the_dds_backends_qos(ros2):
    driver = connected(ros2, domain_id=7, node_name="arm_driver")
    try:
        (init,) = ros2.inits
        assert init["domain_id"] == 7 and init["signal_handler_options"] is fake_rclpy.SignalHandlerOptions.NO
        (node,) = ros2.nodes
        assert node.name == "arm_driver" and node.context is init["context"] and node.context.ok()
        (executor,) = ros2.executors
        assert executor.nodes == [node] and executor.context is node.context
        assert executor.spin_threads and executor.spin_threads[0] is not threading.current_thread()
        subs = {s.topic_name: s for s in node.subscriptions}
        assert set(subs) == {"/joint_states", "/object_pose", "/task_success", "/estop"}
        assert subs["/joint_states"].msg_type is fake_rclpy.JointState
        assert subs["/object_pose"].msg_type is fake_rclpy.Float64MultiArray
        assert subs["/task_success"].msg_type is subs["/estop"].msg_type is fake_rclpy.Bool
        for topic, sub in subs.items():  # inputs: best effort, volatile, newest only (the e-stop keeps 64)
            qos = sub.qos_profile
            assert (qos.reliability, qos.durability, qos.history) == (
                fake_rclpy.ReliabilityPolicy.BEST_EFFORT, fake_rclpy.DurabilityPolicy.VOLATILE,
                fake_rclpy.HistoryPolicy.KEEP_LAST), topic
            assert qos.depth == (64 if topic == "/estop" else 1), topic
        (pub,) = node.publishers
        assert pub.topic_name == COMMAND_TOPIC and pub.msg_type is fake_rclpy.JointTrajectory
        qos = pub.qos_profile  # commands: ROS 2's default profile
        assert (qos.reliability, qos.durability, qos.history, qos.depth) == (
            fake_rclpy.ReliabilityPolicy.RELIABLE, fake_rclpy.DurabilityPolicy.VOLATILE,
            fake_rclpy.HistoryPolicy.KEEP_LAST, 10)
    finally:
        driver.close()


def test_connect_waits_for_a_state_an_extra_and_a_command_subscriber_and_names_what_is_missing(ros2, monkeypatch):
    monkeypatch.delenv("ROS_DOMAIN_ID", raising=False)
    driver = make_driver("ros2", pusht_robot(), WallClock(), {"state_timeout_s": 0.2})
    ros2.remote_subscribers[COMMAND_TOPIC] = 1
    with pytest.raises(TimeoutError, match=r"within 0.2 s on ROS 2 domain 0 \(ROS_DOMAIN_ID unset\).*"
                       r"no sensor_msgs/JointState on /joint_states; no std_msgs/Float64MultiArray for extra "
                       r"'object_pose' on /object_pose\. Is the arm's ROS 2 driver"):
        driver.connect()
    # a failed connect closes: node destroyed, executor stopped, context shut down
    (node,) = ros2.nodes
    assert node.destroyed and not node.context.ok() and ros2.shutdowns == [node.context]
    assert ros2.executors[0].spin_threads[0].is_alive() is False


def test_read_state_converts_the_newest_joint_state_with_its_stamp_and_the_extra(ros2):
    driver = connected(ros2)
    try:
        ros2.deliver("/joint_states", joint_state((1_700_000_000, 500_000_000), position=(0.03, 1.0, -0.04)))
        ros2.deliver("/object_pose", multiarray((0.1, 0.2, 0.0, 1.0)))
        ros2.settle()
        state = driver.read_state()
        assert state.stamp == 1_700_000_000.5
        np.testing.assert_array_equal(state.positions, [-0.04, 0.03])  # robot order: pusher_x, pusher_y
        np.testing.assert_array_equal(state.velocities, [-0.25, 0.5])
        np.testing.assert_array_equal(state.extras["object_pose"], [0.1, 0.2, 0.0, 1.0])
        assert state.positions.dtype == np.float64
        # a zero stamp is refused as on the other backends
        ros2.deliver("/joint_states", joint_state((0, 0)))
        ros2.settle()
        with pytest.raises(ValueError, match="zero header stamp; the ROS 2 backend"):
            driver.read_state()
    finally:
        driver.close()


def test_send_trajectory_publishes_a_joint_trajectory_field_for_field(ros2):
    from hardware.messages import numpy_to_joint_trajectory

    driver = connected(ros2)
    try:
        positions = np.array([[0.01, 0.02], [0.015, 0.025], [0.02, 0.03]])
        driver.send_trajectory(positions, 0.1, 1_700_000_000.25)
        (topic, msg), = ros2.published
        expected = numpy_to_joint_trajectory(positions, 0.1, ["pusher_x", "pusher_y"], 1_700_000_000.25)
        assert topic == COMMAND_TOPIC and isinstance(msg, fake_rclpy.JointTrajectory)
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (expected.header.stamp.sec,
                                                                      expected.header.stamp.nanosec)
        assert msg.header.stamp.sec == 1_700_000_000 and abs(msg.header.stamp.nanosec - 250_000_000) < 1000
        assert msg.header.frame_id == "" and msg.joint_names == ["pusher_x", "pusher_y"]
        assert len(msg.points) == 3
        for point, ours, row in zip(msg.points, expected.points, positions):
            assert isinstance(point.positions, array.array) and point.positions.typecode == "d"
            assert point.positions.tobytes() == row.tobytes()  # the same float64 values, bit for bit
            assert (point.time_from_start.sec, point.time_from_start.nanosec) == (
                ours.time_from_start.sec, ours.time_from_start.nanosec)
            assert len(point.velocities) == len(point.accelerations) == len(point.effort) == 0
        assert [(p.time_from_start.sec, p.time_from_start.nanosec) for p in msg.points] == [
            (0, 0), (0, 100_000_000), (0, 200_000_000)]
        assert driver.sent[-1].kind == "trajectory"
    finally:
        driver.close()


def test_hold_publishes_one_point_at_the_measured_position(ros2):
    driver = connected(ros2)
    try:
        driver.hold()
        (_, msg), = ros2.published
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 0)  # "start on receipt"
        (point,) = msg.points
        assert list(point.positions) == [-0.01, 0.02]  # pusher_x, pusher_y as measured
        assert (point.time_from_start.sec, point.time_from_start.nanosec) == (0, 100_000_000)  # one tick (10 Hz)
    finally:
        driver.close()


def test_estop_holds_latches_and_nothing_is_published_after_it(ros2):
    driver = connected(ros2)
    try:
        driver.estop()
        assert len(ros2.published) == 1 and list(ros2.published[0][1].points[0].positions) == [-0.01, 0.02]
        driver.send_trajectory(np.array([[0.0, 0.0]]), 0.1, time.time())
        driver.hold()
        driver.estop()
        assert len(ros2.published) == 1 and driver.ignored_commands == 3 and driver.estopped
    finally:
        driver.close()


def test_success_and_estop_topics_are_read_and_the_estop_latches(ros2):
    driver = connected(ros2)
    try:
        assert driver.task_success() is False and driver.estop_requested() is None
        ros2.deliver("/task_success", fake_rclpy.Bool(data=True))
        ros2.deliver("/estop", fake_rclpy.Bool(data=True))
        ros2.deliver("/estop", fake_rclpy.Bool(data=False))  # a True followed at once by a False still presses
        ros2.settle()
        assert driver.task_success() is True
        reason = driver.estop_requested()
        assert reason == "e-stop topic /estop: std_msgs/Bool True received"
        ros2.deliver("/estop", fake_rclpy.Bool(data=False))
        ros2.settle()
        assert driver.estop_requested() == reason
    finally:
        driver.close()


def test_a_forward_position_controller_gets_float64_multiarray_setpoints_and_a_setpoint_hold(ros2):
    data = pusht_dict()
    data["controller"] = {"type": "forward_position", "topic": "/forward_position_controller/commands"}
    from hardware.robot import RobotConfig

    ros2.remote_subscribers["/forward_position_controller/commands"] = 1
    driver = connected(ros2, robot=RobotConfig.from_dict(data))
    try:
        assert ros2.nodes[0].publishers[0].msg_type is fake_rclpy.Float64MultiArray
        driver.send_setpoint(np.array([0.01, -0.02]))
        driver.hold()
        (_, setpoint), (_, hold) = ros2.published
        assert list(setpoint.data) == [0.01, -0.02] and list(hold.data) == [-0.01, 0.02]
        (dim,) = setpoint.layout.dim
        assert (dim.size, dim.stride, setpoint.layout.data_offset) == (2, 2, 0)
    finally:
        driver.close()


def test_close_stops_the_executor_destroys_the_node_and_shuts_the_context_down(ros2):
    driver = connected(ros2)
    (node,) = ros2.nodes
    (executor,) = ros2.executors
    driver.close()
    assert node.destroyed and all(s.destroyed for s in node.subscriptions + node.publishers)
    assert not executor.spin_threads[0].is_alive() and not node.context.ok() and ros2.shutdowns == [node.context]
    with pytest.raises(RuntimeError, match="call connect"):
        driver.read_state()
    with pytest.raises(RuntimeError, match="is closed"):
        driver.connect()
    driver.close()  # idempotent


def test_conversion_round_trips_every_carried_type_and_drops_a_ros1_seq(ros2):
    from hardware.messages import Header, Ros1Header, Time
    from hardware.ros2.convert import from_ros, to_ros
    from tests.hardware.test_messages import CASES

    for name, case in CASES.items():
        msg = case(False)
        obj = to_ros(msg)
        assert type(obj).__name__ == type(msg).__name__
        assert from_ros(obj, type(msg)) == msg, name
    assert from_ros(to_ros(Ros1Header(seq=9, stamp=Time(3, 4), frame_id="x")), Header) == \
        Header(stamp=Time(3, 4), frame_id="x")


def test_the_driver_refuses_what_it_cannot_serve_before_touching_ros(ros2):
    from hardware.ros2.driver import Ros2ArmDriver

    with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
        Ros2ArmDriver(pusht_robot(cameras={"overhead_image": "/overhead camera"}))
    with pytest.raises(ValueError, match="not a valid ROS 2 topic name"):
        Ros2ArmDriver(pusht_robot(state_topic="/joint states"))
    with pytest.raises(ValueError, match=r"domain_id must be in 0\.\.232"):
        Ros2ArmDriver(pusht_robot(), domain_id=300)
    Ros2ArmDriver(pusht_robot())
    assert ros2.inits == [] and ros2.nodes == []


# --- cameras ----------------------------------------------------------------------------------------------------------
CAMERAS = {"overhead_image": "/overhead_camera/image_raw", "wrist_image": "/wrist_camera/image_raw/compressed"}


def fake_header(stamp_s: float):
    sec, nanosec = divmod(round(stamp_s * 1e9), 1_000_000_000)
    return fake_rclpy.Header(stamp=fake_rclpy.Time(sec=sec, nanosec=nanosec), frame_id="cam")


def image(pixels: np.ndarray, stamp_s: float, encoding: str = "rgb8"):
    """A sensor_msgs/Image as a camera driver publishes it: ``pixels`` (H, W, C) in ``encoding``'s channel order."""
    height, width, channels = pixels.shape
    return fake_rclpy.Image(header=fake_header(stamp_s), height=height, width=width, encoding=encoding,
                            is_bigendian=0, step=width * channels, data=array.array("B", pixels.tobytes()))


def png(pixels: np.ndarray, stamp_s: float):
    """A sensor_msgs/CompressedImage holding ``pixels`` (H, W, 3) RGB as png."""
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return fake_rclpy.CompressedImage(header=fake_header(stamp_s), format="png",
                                      data=array.array("B", buffer.getvalue()))


def test_connect_names_a_camera_that_never_published(ros2):
    driver = make_driver("ros2", pusht_robot(cameras=CAMERAS), WallClock(), {"state_timeout_s": 0.3})
    threading.Thread(target=lambda: (time.sleep(0.05), arm_is_up(ros2)), daemon=True).start()
    with pytest.raises(TimeoutError, match=r"no sensor_msgs/Image for camera 'overhead_image' on "
                       r"/overhead_camera/image_raw; no sensor_msgs/CompressedImage for camera 'wrist_image' on "
                       r"/wrist_camera/image_raw/compressed\. Is the arm's ROS 2 driver"):
        driver.connect()


def test_camera_frames_arrive_as_rgb_with_their_stamps_and_an_old_or_future_frame_faults(ros2):
    from hardware.safety import SafetyFault

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    wrist = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    driver = make_driver("ros2", pusht_robot(cameras=CAMERAS), WallClock(), {"state_timeout_s": 3.0})

    def camera_and_arm() -> None:
        while not ros2.subscriptions(CAMERAS["wrist_image"]):
            time.sleep(0.005)
        arm_is_up(ros2)
        ros2.deliver(CAMERAS["overhead_image"], image(rgb, time.time()))
        ros2.deliver(CAMERAS["wrist_image"], png(wrist, time.time()))

    thread = threading.Thread(target=camera_and_arm, daemon=True)
    thread.start()
    driver.connect()
    thread.join(timeout=5)
    try:
        subs = {s.topic_name: s for s in ros2.nodes[0].subscriptions}
        assert subs[CAMERAS["overhead_image"]].msg_type is fake_rclpy.Image
        assert subs[CAMERAS["wrist_image"]].msg_type is fake_rclpy.CompressedImage
        assert subs[CAMERAS["overhead_image"]].qos_profile.reliability is fake_rclpy.ReliabilityPolicy.BEST_EFFORT
        now = time.time()
        ros2.deliver("/joint_states", joint_state((int(now), 0)))
        ros2.deliver(CAMERAS["overhead_image"], image(rgb[..., ::-1].copy(), now - 0.05, encoding="bgr8"))
        ros2.settle()
        state = driver.read_state()
        assert set(state.images) == set(CAMERAS)
        overhead = state.images["overhead_image"]
        assert overhead.shape == (4, 5, 3) and overhead.dtype == np.uint8
        np.testing.assert_array_equal(overhead, rgb)  # bgr8 turned into RGB
        np.testing.assert_array_equal(state.images["wrist_image"], wrist)  # png decoded
        assert state.image_stamps["overhead_image"] == pytest.approx(now - 0.05, abs=1e-6)
        # a camera whose newest frame is older than max_state_age_s: stale, like an old joint state
        ros2.deliver(CAMERAS["overhead_image"], image(rgb, time.time() - 1.0))
        ros2.settle()
        with pytest.raises(SafetyFault, match=r"stale camera frame: the newest frame for 'overhead_image' on "
                           r"/overhead_camera/image_raw is 1\.\d+ s old") as info:
            driver.read_state()
        assert info.value.check == "stale_state" and info.value.limit == driver.robot.watchdog.max_state_age_s
        # one stamped in the future: the clocks disagree
        ros2.deliver(CAMERAS["overhead_image"], image(rgb, time.time() + 1.0))
        ros2.settle()
        # about 1 s ahead: less the time between the delivery above and the driver's clock reading
        with pytest.raises(SafetyFault, match=r"stamped (0\.9\d\d|1\.0\d\d) s in the future") as info:
            driver.read_state()
        assert info.value.check == "clock"
        # a zero stamp and a malformed frame are refused with the camera named
        ros2.deliver(CAMERAS["overhead_image"], image(rgb, 0.0))
        ros2.settle()
        with pytest.raises(ValueError, match="camera 'overhead_image' on /overhead_camera/image_raw has a zero "
                           "header stamp"):
            driver.read_state()
        bad = image(rgb, time.time())
        bad.step = 3
        ros2.deliver(CAMERAS["overhead_image"], bad)
        ros2.settle()
        with pytest.raises(ValueError, match="camera 'overhead_image'.*step 3 is less than width"):
            driver.read_state()
    finally:
        driver.close()
