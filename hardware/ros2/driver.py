"""Ros2ArmDriver: an arm behind ROS 2 topics, through rclpy (a ROS 2 install; docs/hardware.md, "ROS 2 with rclpy").

Topics, hold / estop, stamps and extras are as hardware/topic_driver.py describes (the same topic names and QoS as
the DDS backend: commands reliable, volatile, keep-last 10; inputs best effort, newest only, the e-stop topic keeping
64). The node, its context and its executor thread are the driver's own (hardware/ros2/transport.py): connect()
starts them, close() shuts them down. Camera frames arrive as sensor_msgs/Image (or CompressedImage).

Building a Ros2ArmDriver imports rclpy and the message packages; without them it raises ImportError saying how to
install robopolicy into a ROS 2 environment. Importing this module needs neither.
"""

from __future__ import annotations

import os

from hardware.clock import Clock
from hardware.messages import Message
from hardware.robot import RobotConfig
from hardware.ros2 import import_ros2
from hardware.ros2.names import ros2_topic_name
from hardware.ros2.transport import Publisher, Ros2Node, Subscription
from hardware.topic_driver import SentCommand, TopicArmDriver

__all__ = ["Ros2ArmDriver", "SentCommand"]


class Ros2ArmDriver(TopicArmDriver):
    """The arm described by ``robot`` behind ROS 2 topics, as an rclpy node named ``node_name``.

    domain_id: the ROS 2 domain; None takes ROS_DOMAIN_ID from the environment (rclpy's own rule, default 0).
    state_timeout_s: how long connect() waits for the first joint state, every extra and a subscriber on the command
    topic. clock: the loop's clock; must be the wall clock (stamps are ROS time). Nothing touches the network until
    connect().
    """

    backend = "the ROS 2 backend"
    state_publisher = "joint_state_broadcaster"
    controller_state = "active"
    ros_version = "ROS 2"
    sim_node_module = "hardware.dds.sim_node"  # the DDS sim node speaks ROS 2's topics: a ROS 2 node hears it
    same_network = "on the same ROS 2 domain and network"

    def __init__(self, robot: RobotConfig, *, domain_id: int | None = None, node_name: str = "robopolicy_arm_driver",
                 clock: Clock | None = None, state_timeout_s: float = 5.0) -> None:
        import_ros2()  # ImportError saying how to install robopolicy into a ROS 2 environment, before anything else
        if domain_id is not None and not 0 <= int(domain_id) <= 232:
            raise ValueError(f"domain_id must be in 0..232 (ROS_DOMAIN_ID), got {domain_id}")
        self.domain_id = None if domain_id is None else int(domain_id)
        self.node_name = node_name
        self._node: Ros2Node | None = None
        super().__init__(robot, clock=clock, state_timeout_s=state_timeout_s)

    # ------------------------------------------------------------------------------------- the transport
    def _check_topic(self, topic: str) -> None:
        ros2_topic_name(topic)  # ValueError for a name ROS 2 would not accept

    def _open(self) -> None:
        self._node = Ros2Node(self.node_name, self.domain_id)

    def _is_open(self) -> bool:
        return self._node is not None

    def _subscribe(self, topic: str, msg_type: type[Message], *, keep: int = 1) -> Subscription:
        return Subscription(self._node, topic, msg_type, keep)

    def _publisher(self, topic: str, msg_type: type[Message]) -> Publisher:
        return Publisher(self._node, topic, msg_type)

    def _wait(self, timeout_s: float) -> None:
        self._node.wait(timeout_s)

    def _close(self) -> None:
        """Stop the executor thread, destroy the node (and with it this driver's subscriptions and publisher) and
        shut its context down. rclpy's publish() has handed each command to the middleware when it returns; a
        reliable command still in flight to a slow subscriber may be lost when the node goes, as with any ROS 2
        node that exits right after publishing."""
        if self._node is not None:
            self._node.close()
        self._node = None

    def _where(self) -> str:
        domain = os.environ.get("ROS_DOMAIN_ID", "0 (ROS_DOMAIN_ID unset)") if self.domain_id is None \
            else self.domain_id
        rmw = os.environ.get("RMW_IMPLEMENTATION", "the distro's default RMW")
        return f" on ROS 2 domain {domain} (rclpy, {rmw})"
