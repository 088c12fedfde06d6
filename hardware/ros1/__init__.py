"""ROS 1 through rospy: the arm's topics on a ROS 1 master, and the simulated arm as a ROS 1 node (docs/hardware.md,
"The ROS 1 backend").

    transport.py    one rospy node per process; publishers and subscribers that carry hardware.messages, serialized
                    by hardware.messages.ros1 (rospy only moves the bytes: AnyMsg in, a raw message class out)
    driver.py       Ros1ArmDriver: joint states, extras and camera frames in, JointTrajectory /
                    Float64MultiArray commands out
    sim_node.py     the in-process MuJoCo arm as a ROS 1 node (python -m hardware.ros1.sim_node)

This module imports without rospy; the others need it. rospy is not on PyPI: it comes from the system (Debian
bookworm: `apt-get install python3-rospy python3-rosmaster python3-sensor-msgs python3-trajectory-msgs
python3-std-msgs`) or a ROS Noetic install. ``import_rospy`` finds it there without letting the system's
dist-packages shadow the virtual environment's numpy or torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

# Where Debian and Ubuntu install rospy and the message packages; override with ROBOPOLICY_ROS1_PYTHONPATH
# (os.pathsep-separated), e.g. /opt/ros/noetic/lib/python3/dist-packages.
SYSTEM_DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def ros1_python_paths() -> list[str]:
    """The folders searched for rospy when the interpreter cannot import it by itself."""
    extra = os.environ.get("ROBOPOLICY_ROS1_PYTHONPATH")
    return [p for p in extra.split(os.pathsep) if p] if extra else [SYSTEM_DIST_PACKAGES]


def import_rospy() -> ModuleType:
    """rospy, importing it from the system's ROS 1 Python folders when the interpreter's own path lacks it.

    Those folders are appended to sys.path (after the virtual environment's site-packages), so numpy, torch and
    PyYAML stay the environment's. ImportError says how to install rospy when it is nowhere.
    """
    try:
        return importlib.import_module("rospy")
    except ImportError:
        pass
    for path in ros1_python_paths():
        if os.path.isdir(path) and path not in sys.path:
            sys.path.append(path)
    try:
        return importlib.import_module("rospy")
    except ImportError as exc:
        raise ImportError(
            f"the ROS 1 backend needs rospy ({exc}); it is not on PyPI. On Debian bookworm: `apt-get install -y "
            "--no-install-recommends python3-rospy python3-rosmaster python3-sensor-msgs python3-trajectory-msgs "
            f"python3-std-msgs` (installs into {SYSTEM_DIST_PACKAGES}); for another location (e.g. ROS Noetic) set "
            "ROBOPOLICY_ROS1_PYTHONPATH to its dist-packages folder") from exc


def rospy_available() -> bool:
    """Whether rospy and the sensor_msgs, trajectory_msgs and std_msgs Python packages can be imported."""
    try:
        import_rospy()
        for module in ("sensor_msgs.msg", "trajectory_msgs.msg", "std_msgs.msg"):
            importlib.import_module(module)
    except ImportError:
        return False
    return True
