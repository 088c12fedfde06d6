import numpy as np
import pytest

from hardware.messages import numpy_to_joint_trajectory
from hardware.trajectory_follower import TrajectoryFollower

JOINTS = ["a", "b"]


def follower(timeout=0.5) -> TrajectoryFollower:
    return TrajectoryFollower(JOINTS, np.zeros(2), command_timeout_s=timeout)


def test_moves_linearly_from_the_state_at_receipt_to_the_first_point_then_between_points():
    f = follower()
    msg = numpy_to_joint_trajectory(np.array([[1.0, 0.0], [1.0, 2.0]]), 0.1, JOINTS, stamp=10.1)
    f.receive_trajectory(msg, now=10.0, measured=np.zeros(2))
    np.testing.assert_allclose(f.target(10.05, np.zeros(2)), [0.5, 0.0])
    np.testing.assert_allclose(f.target(10.1, np.zeros(2)), [1.0, 0.0])
    np.testing.assert_allclose(f.target(10.15, np.zeros(2)), [1.0, 1.0])
    np.testing.assert_allclose(f.target(10.3, np.zeros(2)), [1.0, 2.0])  # stays on the last point
    assert f.mode == "trajectory"


def test_joint_order_of_the_message_is_respected():
    f = follower()
    msg = numpy_to_joint_trajectory(np.array([[1.0, 2.0]]), 0.1, ["b", "a"], stamp=0.0)  # zero stamp: on receipt
    f.receive_trajectory(msg, now=5.0, measured=np.zeros(2))
    np.testing.assert_allclose(f.target(5.0, np.zeros(2)), [2.0, 1.0])


def test_a_newer_trajectory_replaces_the_rest_of_the_old_one_from_the_measured_state():
    f = follower()
    f.receive_trajectory(numpy_to_joint_trajectory(np.array([[1.0, 0.0], [2.0, 0.0]]), 1.0, JOINTS, 1.0), 0.0,
                         np.zeros(2))
    f.receive_trajectory(numpy_to_joint_trajectory(np.array([[0.0, 1.0]]), 1.0, JOINTS, 2.0), 1.0,
                         np.array([0.9, 0.0]))
    np.testing.assert_allclose(f.target(1.5, np.zeros(2)), [0.45, 0.5])
    np.testing.assert_allclose(f.target(2.4, np.zeros(2)), [0.0, 1.0])  # the old [2, 0] never comes


def test_command_timeout_holds_the_measured_position():
    f = follower(timeout=0.2)
    f.receive_setpoint(np.array([1.0, 1.0]), now=0.0)
    np.testing.assert_allclose(f.target(0.2, np.zeros(2)), [1.0, 1.0])
    np.testing.assert_allclose(f.target(0.21, np.array([0.7, 0.6])), [0.7, 0.6])
    assert (f.mode, f.timeouts) == ("hold", 1)
    f.receive_trajectory(numpy_to_joint_trajectory(np.array([[1.0, 1.0]]), 0.1, JOINTS, 1.0), 0.9, np.zeros(2))
    np.testing.assert_allclose(f.target(1.2, np.zeros(2)), [1.0, 1.0])  # within timeout of the last point
    np.testing.assert_allclose(f.target(1.25, np.array([0.3, 0.3])), [0.3, 0.3])
    assert f.timeouts == 2


def test_hold_keeps_the_measured_position():
    f = follower()
    f.receive_setpoint(np.array([1.0, 1.0]), now=0.0)
    f.hold(np.array([0.2, 0.3]))
    np.testing.assert_allclose(f.target(0.1, np.zeros(2)), [0.2, 0.3])


@pytest.mark.parametrize(
    ("names", "positions", "stamp", "expected"),
    [
        (["a"], [[1.0]], 0.0, "do not match the controller's"),
        (JOINTS, [[1.0, np.nan]], 0.0, "non-finite"),
        (JOINTS, [[1.0, 1.0]], 1.0, "entirely in the past"),
    ],
)
def test_messages_a_controller_would_reject_raise(names, positions, stamp, expected):
    msg = numpy_to_joint_trajectory(np.array(positions), 0.1, names, stamp)
    with pytest.raises(ValueError, match=expected):
        follower().receive_trajectory(msg, now=5.0, measured=np.zeros(2))
