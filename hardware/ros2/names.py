"""ROS 2 topic names, shared by the rclpy backend and the DDS backend (which speaks ROS 2's wire format)."""

from __future__ import annotations

import re

_ROS_NAME = re.compile(r"^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")


def ros2_topic_name(topic: str) -> str:
    """The fully qualified ROS 2 name of ``topic`` ("joint_states" -> "/joint_states": a relative name is taken as in
    the root namespace); ValueError for a name ROS 2 would not accept."""
    if not _ROS_NAME.match(topic):
        raise ValueError(f"{topic!r} is not a valid ROS 2 topic name: use /-separated tokens of letters, digits "
                         "and underscores, each not starting with a digit (e.g. /joint_states)")
    return topic if topic.startswith("/") else "/" + topic
