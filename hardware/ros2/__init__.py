"""ROS 2 through rclpy: the arm's topics as a ROS 2 node of its own (docs/hardware.md, "ROS 2 with rclpy").

    convert.py      hardware.messages dataclasses <-> the ROS 2 Python message classes, field by field
    transport.py    one rclpy context + node + executor thread per driver; subscriptions and publishers that carry
                    hardware.messages, with the QoS the DDS backend uses
    driver.py       Ros2ArmDriver: joint states, extras and camera frames in, JointTrajectory /
                    Float64MultiArray commands out

This module and the three above import without rclpy: rclpy and the message packages are imported inside functions,
the first time a driver is built. rclpy is not on PyPI; it comes with a ROS 2 install (``ROS2_INSTALL`` says how to
put robopolicy next to it). Only the field use of this backend needs it: it is tested here against a fake rclpy.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# What an ImportError says when rclpy or a message package is missing.
ROS2_INSTALL = (
    "rclpy is not on PyPI: it comes with a ROS 2 install (Humble, Jazzy, ...). Install robopolicy into that "
    "install's Python: `source /opt/ros/<distro>/setup.bash`, then `python3 -m venv --system-site-packages "
    ".venv-ros2 && . .venv-ros2/bin/activate && pip install -e . \"numpy>=1.24,<2\"` (the venv must see the "
    "distro's rclpy, so --system-site-packages; same python3 as the distro's; keep numpy below 2, which the distro's "
    "compiled message packages were built against), and run scripts/deploy.py from a shell where setup.bash was "
    "sourced (docs/hardware.md, \"ROS 2 with rclpy\")")

# The ROS 2 Python modules the backend uses.
ROS2_MODULES = ("rclpy", "rclpy.context", "rclpy.node", "rclpy.executors", "rclpy.qos", "sensor_msgs.msg",
                "trajectory_msgs.msg", "std_msgs.msg", "builtin_interfaces.msg")


def import_ros2() -> dict[str, ModuleType]:
    """The ROS 2 Python modules the backend uses, by name; ImportError saying how to install robopolicy into a ROS 2
    environment when one of them is missing."""
    modules = {}
    for name in ROS2_MODULES:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(f"the ROS 2 backend (backend=ros2) needs {name} ({exc}). {ROS2_INSTALL}") from exc
    return modules


def rclpy_available() -> bool:
    """Whether rclpy and the sensor_msgs, trajectory_msgs, std_msgs and builtin_interfaces packages import."""
    try:
        import_ros2()
    except ImportError:
        return False
    return True
