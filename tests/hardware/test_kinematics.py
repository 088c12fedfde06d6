import numpy as np
import pytest

from hardware.kinematics import SerialChain, tool_points_looped
from hardware.robot import load_robot

# Universal Robots' published UR5e DH table (m, rad)
UR5E = {"a": [0.0, -0.425, -0.3922, 0.0, 0.0, 0.0], "d": [0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996],
        "alpha": [np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0]}


def test_ur5e_at_zero_has_the_flange_at_the_known_position():
    # All joints 0: the shoulder frame is Rot_x(90) at height d1; a2 and a3 run along -x; d4 goes along the rotated z
    # (-y), d5 along the twice-rotated z (-z), d6 along -y again: (a2 + a3, -(d4 + d6), d1 - d5).
    chain = SerialChain(**UR5E)
    np.testing.assert_allclose(chain.tool_points(np.zeros(6)), [-0.8172, -0.2329, 0.0628], atol=1e-12)


def test_the_shipped_ur5e_config_gives_the_same_chain():
    robot = load_robot("ur5e_ros2")
    chain = SerialChain.from_config(robot.kinematics)
    np.testing.assert_allclose(chain.tool_points(np.zeros((1, 6))), [[-0.8172, -0.2329, 0.0628]], atol=1e-6)
    home = np.array([0.0, -np.pi / 2, np.pi / 2, -np.pi / 2, -np.pi / 2, 0.0])  # UR's usual home pose
    lower, upper = robot.cartesian_workspace_arrays()
    point = chain.tool_points(home)
    assert np.all((lower < point) & (point < upper))  # the example box holds the home pose


@pytest.mark.parametrize("q", [(0.0, 0.0), (0.3, -0.7), (np.pi / 2, np.pi / 2), (-2.5, 1.9)])
def test_a_planar_two_link_chain_matches_the_closed_form(q):
    l1, l2, tool = 0.7, 0.4, 0.1
    chain = SerialChain(a=[l1, l2], d=[0.0, 0.0], alpha=[0.0, 0.0], base=(0.5, -0.2, 0.3), tool=(tool, 0.0, 0.0))
    q1, q2 = q
    expected = [0.5 + l1 * np.cos(q1) + (l2 + tool) * np.cos(q1 + q2),
                -0.2 + l1 * np.sin(q1) + (l2 + tool) * np.sin(q1 + q2), 0.3]
    np.testing.assert_allclose(chain.tool_points(np.array(q)), expected, atol=1e-12)


def test_theta_offset_adds_to_the_joint_angle():
    shifted = SerialChain(a=[1.0, 1.0], d=[0.0, 0.0], alpha=[0.0, 0.0], theta_offset=[0.25, -0.5])
    plain = SerialChain(a=[1.0, 1.0], d=[0.0, 0.0], alpha=[0.0, 0.0])
    q = np.array([[0.1, 0.2], [-1.0, 0.4]])
    np.testing.assert_allclose(shifted.tool_points(q), plain.tool_points(q + [0.25, -0.5]), atol=1e-12)


def test_vectorized_equals_looped():
    chain = SerialChain(**UR5E, theta_offset=[0.1, -0.2, 0.0, 0.3, 0.0, -0.1], base=(0.1, 0.2, 0.3),
                        tool=(0.01, -0.02, 0.15))
    q = np.random.default_rng(0).uniform(-np.pi, np.pi, size=(64, 6))
    points = chain.tool_points(q)
    assert points.shape == (64, 3)
    np.testing.assert_allclose(points, tool_points_looped(chain, q), atol=1e-12)
    np.testing.assert_allclose(chain.tool_points(q[5]), points[5], atol=1e-15)  # (J,) -> (3,)


def test_shapes_are_checked():
    chain = SerialChain(**UR5E)
    with pytest.raises(ValueError, match=r"expected \(N, 6\) joint positions, got shape \(4, 5\)"):
        chain.tool_points(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="one value per joint"):
        SerialChain(a=[0.0, 1.0], d=[0.0], alpha=[0.0, 0.0])
