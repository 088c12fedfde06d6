import time

import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from hardware.messages import (
    Bool,
    CompressedImage,
    Duration,
    Float64MultiArray,
    Header,
    Image,
    JointState,
    JointTrajectory,
    JointTrajectoryPoint,
    Message,
    MultiArrayDimension,
    MultiArrayLayout,
    Ros1Header,
    Time,
    cdr,
    float64_multiarray_to_numpy,
    image_to_numpy,
    joint_state_to_numpy,
    numpy_to_float64_multiarray,
    numpy_to_image,
    numpy_to_joint_trajectory,
    ros1,
)

ROS1_STORE = get_typestore(Stores.ROS1_NOETIC)
ROS2_STORE = get_typestore(Stores.ROS2_HUMBLE)

# (our module, rosbags store, rosbags serializer, whether headers carry seq)
FORMATS = {
    "ros1": (ros1, ROS1_STORE, ROS1_STORE.serialize_ros1, True),
    "ros2": (cdr, ROS2_STORE, ROS2_STORE.serialize_cdr, False),
}


def to_rosbags(value, store):
    """Our message as the equivalent rosbags object, field by field from rosbags' own definition of the type."""
    if isinstance(value, Message):
        fields = store.fielddefs[value.ros_type][1]
        kwargs = {name: to_rosbags(getattr(value, name, 0), store) for name, _ in fields}  # 0: seq of a plain Header
        return store.types[value.ros_type](**kwargs)
    if isinstance(value, list):
        return [to_rosbags(v, store) for v in value]
    if isinstance(value, bytes):
        return np.frombuffer(value, dtype=np.uint8)
    return value


def header(with_seq: bool, frame_id: str = "base_link") -> Header:
    stamp = Time(sec=1_700_000_123, nanosec=456_789_012)
    return Ros1Header(seq=42, stamp=stamp, frame_id=frame_id) if with_seq else Header(stamp=stamp, frame_id=frame_id)


def _padded_image(seq: bool) -> Image:
    rng = np.random.default_rng(0)
    return Image(header=header(seq, "cam"), height=5, width=3, encoding="rgb8", step=11,  # 9 pixel bytes + 2 padding
                 data=rng.integers(0, 256, 5 * 11, dtype=np.uint8))


# Odd-length strings throughout so that CDR has to pad before the next aligned field.
CASES = {
    "time": lambda seq: Time(sec=1_700_000_123, nanosec=456_789_012),
    "duration": lambda seq: Duration(sec=3, nanosec=5),
    "header": lambda seq: header(seq),
    "header_empty_frame": lambda seq: header(seq, ""),
    "joint_state": lambda seq: JointState(
        header=header(seq), name=["shoulder_pan", "elbow", "wrist_3_joint"], position=[0.1, -1.2, 3.0],
        velocity=[0.0, 0.5, -0.25], effort=[],
    ),
    "joint_state_empty": lambda seq: JointState(header=header(seq, "")),
    "joint_state_effort_only": lambda seq: JointState(header=header(seq, "abc"), name=["j"], effort=[2.0]),
    "trajectory_point": lambda seq: JointTrajectoryPoint(
        positions=[1.0, 2.0, 3.0], accelerations=[0.1, 0.2, 0.3], time_from_start=Duration(sec=0, nanosec=100_000_000),
    ),
    "trajectory": lambda seq: JointTrajectory(
        header=header(seq, "world"), joint_names=["a", "bb", "ccc"],
        points=[
            JointTrajectoryPoint(positions=[0.0, 0.1, 0.2], velocities=[1.0, 1.0, 1.0], time_from_start=Duration()),
            JointTrajectoryPoint(positions=[0.3, 0.4, 0.5], effort=[9.0], time_from_start=Duration(0, 50_000_000)),
            JointTrajectoryPoint(time_from_start=Duration(sec=1, nanosec=7)),
        ],
    ),
    "trajectory_no_points": lambda seq: JointTrajectory(header=header(seq), joint_names=["x"]),
    "dimension": lambda seq: MultiArrayDimension(label="joint", size=7, stride=7),
    "layout": lambda seq: MultiArrayLayout(
        dim=[MultiArrayDimension("rows", 2, 6), MultiArrayDimension("c", 3, 3)], data_offset=1
    ),
    "float64_multiarray": lambda seq: Float64MultiArray(
        layout=MultiArrayLayout(dim=[MultiArrayDimension("joint", 3, 3)]), data=[1.5, -2.5, np.pi]
    ),
    "float64_multiarray_empty": lambda seq: Float64MultiArray(),
    "bool_true": lambda seq: Bool(data=True),
    "bool_false": lambda seq: Bool(),
    "image_padded_rows": _padded_image,
    "image_mono8": lambda seq: Image(header=header(seq), height=2, width=3, encoding="mono8", step=3,
                                     data=bytes(range(6))),
    "image_empty": lambda seq: Image(header=header(seq)),
    "compressed_image": lambda seq: CompressedImage(header=header(seq), format="jpeg", data=b"\xff\xd8\xff\xe0\x00"),
    "compressed_image_empty": lambda seq: CompressedImage(header=header(seq, "c"), format="png"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_bytes_match_rosbags_and_rosbags_bytes_read_back(case, fmt):
    module, store, rosbags_serialize, seq = FORMATS[fmt]
    msg = CASES[case](seq)
    expected = bytes(rosbags_serialize(to_rosbags(msg, store), msg.ros_type))
    assert module.serialize(msg) == expected
    assert module.deserialize(expected, type(msg)) == msg


def test_ros1_header_seq_is_read_and_plain_header_writes_zero():
    msg = JointState(header=header(True), name=["j"], position=[1.0])
    got = ros1.deserialize(ros1.serialize(msg), JointState)
    assert isinstance(got.header, Ros1Header)
    assert got.header.seq == 42
    plain = JointState(header=header(False), name=["j"], position=[1.0])
    assert ros1.deserialize(ros1.serialize(plain), JointState).header.seq == 0


def test_ros2_drops_seq_and_reads_plain_headers():
    with_seq = JointState(header=header(True), name=["j"], position=[1.0])
    without = JointState(header=header(False), name=["j"], position=[1.0])
    assert cdr.serialize(with_seq) == cdr.serialize(without)
    assert type(cdr.deserialize(cdr.serialize(with_seq), JointState).header) is Header


def test_deserialized_arrays_are_writable_float64():
    msg = cdr.deserialize(cdr.serialize(CASES["joint_state"](False)), JointState)
    assert msg.position.dtype == np.float64 and msg.position.flags.writeable
    msg.position[0] = 7.0  # must not fail on a read-only view into the bytes


def test_large_image_matches_rosbags_and_is_fast():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    for module, store, rosbags_serialize, seq in FORMATS.values():
        msg = numpy_to_image(pixels, "rgb8", stamp=1.5, frame_id="camera")
        data = module.serialize(msg)
        assert data == bytes(rosbags_serialize(to_rosbags(msg, store), msg.ros_type))
        best = float("inf")
        for _ in range(5):  # best of five: other work on the machine only ever adds time
            start = time.perf_counter()
            back = module.deserialize(module.serialize(msg), Image)
            best = min(best, time.perf_counter() - start)
        assert np.array_equal(image_to_numpy(back), pixels)
        assert best < 0.010, f"{module.__name__}: image round trip took {best * 1e3:.1f} ms"


@pytest.mark.parametrize("module", [ros1, cdr])
def test_truncated_and_oversized_bytes_are_refused(module):
    data = module.serialize(CASES["joint_state"](module is ros1))
    with pytest.raises(ValueError, match="truncated"):
        module.deserialize(data[:-1], JointState)
    with pytest.raises(ValueError, match="left over"):
        module.deserialize(data + bytes(8), JointState)
    with pytest.raises(ValueError, match="truncated"):
        module.deserialize(data, JointTrajectory)  # the wrong type reads a string count as a huge length


def test_cdr_accepts_trailing_padding_and_refuses_other_encapsulations():
    data = cdr.serialize(CASES["compressed_image"](False))
    assert cdr.deserialize(data + b"\x00\x00\x00", CompressedImage) == CASES["compressed_image"](False)
    with pytest.raises(ValueError, match="big-endian"):
        cdr.deserialize(b"\x00\x00\x00\x00" + data[4:], CompressedImage)
    with pytest.raises(ValueError, match="00 01 00 00"):
        cdr.deserialize(b"\x00\x07\x00\x00" + data[4:], CompressedImage)
    with pytest.raises(ValueError, match="encapsulation header"):
        cdr.deserialize(b"\x00", CompressedImage)


@pytest.mark.parametrize("module", [ros1, cdr])
def test_unknown_types_are_refused(module):
    with pytest.raises(TypeError, match="cannot serialize a str.*JointState"):
        module.serialize("hello")
    with pytest.raises(TypeError, match="cannot deserialize a dict"):
        module.deserialize(b"\x00\x01\x00\x00", dict)


def test_time_conversions_and_ranges():
    t = Time.from_seconds(12.25)
    assert (t.sec, t.nanosec) == (12, 250_000_000)
    assert Duration.from_nanoseconds(-1) == Duration(sec=-1, nanosec=999_999_999)
    assert Time(3, 5).to_nanoseconds() == 3_000_000_005
    assert Duration(1, 500_000_000).to_seconds() == 1.5
    with pytest.raises(ValueError, match="nanosec"):
        Time(sec=0, nanosec=1_000_000_000)
    with pytest.raises(ValueError, match="int32"):
        Duration(sec=2**31)


def test_message_fields_are_coerced_and_checked():
    msg = JointState(name=("a",), position=[1])
    assert msg.name == ["a"] and msg.position.dtype == np.float64
    with pytest.raises(ValueError, match="JointState.position must be a 1-D"):
        JointState(position=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="uint8"):
        Image(data=np.zeros(3, dtype=np.float32))
    assert JointState(position=[1.0]) != JointState(position=[2.0])
    assert JointState(position=[1.0]) == JointState(position=np.array([1.0]))


# --- numpy conversions ----------------------------------------------------------------------------------------------


def _state() -> JointState:
    return JointState(name=["gripper", "j2", "j0", "j1"], position=[0.04, 2.0, 0.0, 1.0],
                      velocity=[0.0, -2.0, 0.5, -1.0])


def test_joint_state_is_reordered_to_the_requested_joints():
    positions, velocities = joint_state_to_numpy(_state(), ["j0", "j1", "j2"])
    assert np.array_equal(positions, [0.0, 1.0, 2.0])
    assert np.array_equal(velocities, [0.5, -1.0, -2.0])
    state = JointState(name=["j0", "j1"], position=[3.0, 4.0])
    positions, velocities = joint_state_to_numpy(state, ["j1", "j0"])
    assert np.array_equal(positions, [4.0, 3.0]) and velocities is None


def test_joint_state_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"missing joints \['j3', 'j4'\].*'gripper', 'j2', 'j0', 'j1'"):
        joint_state_to_numpy(_state(), ["j0", "j3", "j4"])
    with pytest.raises(ValueError, match="2 names but 1 positions"):
        joint_state_to_numpy(JointState(name=["a", "b"], position=[1.0]), ["a"])
    with pytest.raises(ValueError, match="1 velocities"):
        joint_state_to_numpy(JointState(name=["a", "b"], position=[1.0, 2.0], velocity=[1.0]), ["a"])
    with pytest.raises(ValueError, match=r"\['a'\] more than once"):
        joint_state_to_numpy(JointState(name=["a", "a"], position=[1.0, 2.0]), ["a"])


def test_numpy_trajectory_becomes_timed_points():
    chunk = np.arange(12, dtype=np.float64).reshape(4, 3)
    msg = numpy_to_joint_trajectory(chunk, dt=0.1, joint_names=["a", "b", "c"], stamp=Time(10, 5), frame_id="w")
    assert msg.joint_names == ["a", "b", "c"] and msg.header == Header(stamp=Time(10, 5), frame_id="w")
    assert [p.time_from_start for p in msg.points] == [Duration(0, 0), Duration(0, 100_000_000),
                                                      Duration(0, 200_000_000), Duration(0, 300_000_000)]
    assert np.array_equal(np.stack([p.positions for p in msg.points]), chunk)
    assert all(len(p.velocities) == 0 for p in msg.points)
    chunk[0, 0] = 99.0  # the message owns its values
    assert msg.points[0].positions[0] == 0.0
    late = numpy_to_joint_trajectory(np.zeros((31, 1)), dt=1 / 30, joint_names=["a"], stamp=1.25)
    assert late.header.stamp == Time(1, 250_000_000)
    assert late.points[30].time_from_start == Duration(1, 0)  # no drift from a rounded dt


def test_numpy_trajectory_errors():
    with pytest.raises(ValueError, match=r"\(T, J\)"):
        numpy_to_joint_trajectory(np.zeros(3), 0.1, ["a", "b", "c"], 0.0)
    with pytest.raises(ValueError, match="3 columns but 2 joint names"):
        numpy_to_joint_trajectory(np.zeros((2, 3)), 0.1, ["a", "b"], 0.0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        numpy_to_joint_trajectory(np.zeros((2, 1)), 0.0, ["a"], 0.0)


@pytest.mark.parametrize("encoding,channels", [("rgb8", 3), ("bgr8", 3), ("mono8", 1), ("rgba8", 4), ("bgra8", 4)])
def test_image_round_trip_per_encoding(encoding, channels):
    pixels = np.random.default_rng(2).integers(0, 256, (4, 5, channels), dtype=np.uint8)
    msg = numpy_to_image(pixels, encoding, stamp=2.5, frame_id="cam")
    assert (msg.height, msg.width, msg.step, msg.encoding) == (4, 5, 5 * channels, encoding)
    assert msg.header.stamp == Time(2, 500_000_000)
    got = image_to_numpy(msg)
    assert got.shape == (4, 5, channels) and got.dtype == np.uint8 and got.flags.writeable
    assert np.array_equal(got, pixels)


def test_image_row_padding_is_dropped():
    msg = _padded_image(False)
    rows = np.frombuffer(msg.data, dtype=np.uint8).reshape(5, 11)
    assert np.array_equal(image_to_numpy(msg), rows[:, :9].reshape(5, 3, 3))
    mono = numpy_to_image(np.zeros((2, 3), np.uint8), "mono8", 0.0)  # (H, W) is accepted for mono8
    assert np.array_equal(image_to_numpy(mono), np.zeros((2, 3, 1)))


def test_image_errors_say_what_and_how_to_fix():
    good = numpy_to_image(np.zeros((2, 3, 3), np.uint8), "rgb8", 0.0)
    with pytest.raises(ValueError, match="unsupported image encoding '16UC1'.*rgb8.*camera driver"):
        image_to_numpy(Image(height=2, width=3, encoding="16UC1", step=6, data=bytes(12)))
    with pytest.raises(ValueError, match=r"6 bytes but height \* step = 2 \* 9 = 18"):
        image_to_numpy(Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(6)))
    with pytest.raises(ValueError, match=r"step 8 is less than width \* channels = 3 \* 3 = 9"):
        image_to_numpy(Image(height=2, width=3, encoding="rgb8", step=8, data=bytes(16)))
    with pytest.raises(ValueError, match="must be uint8.*astype"):
        numpy_to_image(np.zeros((2, 3, 3), np.float32), "rgb8", 0.0)
    with pytest.raises(ValueError, match=r"rgba8 needs pixels of shape \(H, W, 4\), got \(2, 3, 3\)"):
        numpy_to_image(np.zeros((2, 3, 3), np.uint8), "rgba8", 0.0)
    with pytest.raises(ValueError, match="unsupported image encoding 'jpeg'"):
        numpy_to_image(np.zeros((2, 3, 3), np.uint8), "jpeg", 0.0)
    assert image_to_numpy(good).shape == (2, 3, 3)


def test_float64_multiarray_round_trip_and_checks():
    msg = numpy_to_float64_multiarray(np.array([0.5, -1.0, 2.0]), label="joint")
    assert msg.layout == MultiArrayLayout(dim=[MultiArrayDimension("joint", 3, 3)], data_offset=0)
    assert np.array_equal(float64_multiarray_to_numpy(msg), [0.5, -1.0, 2.0])
    assert float64_multiarray_to_numpy(numpy_to_float64_multiarray(np.zeros(0))).shape == (0,)
    bare = Float64MultiArray(layout=MultiArrayLayout(data_offset=1), data=[9.0, 1.0, 2.0])  # no dim, one padding value
    assert np.array_equal(float64_multiarray_to_numpy(bare), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"must be 1-D, got shape \(2, 2\).*ravel"):
        numpy_to_float64_multiarray(np.zeros((2, 2)))
    two_d = Float64MultiArray(layout=MultiArrayLayout(dim=[MultiArrayDimension("r", 1, 2)] * 2), data=[1.0, 2.0])
    with pytest.raises(ValueError, match="has 2 dimensions"):
        float64_multiarray_to_numpy(two_d)
    wrong = Float64MultiArray(layout=MultiArrayLayout(dim=[MultiArrayDimension("j", 4, 4)]), data=[1.0, 2.0])
    with pytest.raises(ValueError, match="says 4 values but it holds 2"):
        float64_multiarray_to_numpy(wrong)
