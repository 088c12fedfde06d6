"""Ros1ArmDriver: an arm behind ROS 1 topics, through rospy and a ROS master.

Topics, hold / estop, stamps and extras are as hardware/topic_driver.py describes (the same topic names the DDS
backend uses; on a joint_trajectory controller the command topic is e.g. <controller>/command of ros_control's
joint_trajectory_controller). Messages are (de)serialized by hardware.messages.ros1; rospy moves the bytes
(hardware/ros1/transport.py).

The master is never guessed: ROS_MASTER_URI must be set (or ``master_uri`` given). rospy allows one node per process,
so every Ros1ArmDriver in a process shares one node; close() unregisters the driver's topics, and the node lives
until the process exits. Camera frames arrive as sensor_msgs/Image (or CompressedImage), decoded like the rest.
"""

from __future__ import annotations

import os
import time

from hardware.clock import Clock
from hardware.messages import Message
from hardware.robot import RobotConfig
from hardware.ros1.transport import Publisher, Subscription, ensure_node
from hardware.ros1.transport import master_uri as required_master_uri
from hardware.topic_driver import SentCommand, TopicArmDriver

__all__ = ["Ros1ArmDriver", "SentCommand"]


class Ros1ArmDriver(TopicArmDriver):
    """The arm described by ``robot`` behind ROS 1 topics on the master at ROS_MASTER_URI.

    master_uri: sets ROS_MASTER_URI for this process when given; otherwise the environment's is used, and a missing
    one is refused (Ros1MasterError) at construction. state_timeout_s: how long connect() waits for the master, the
    first joint state, every extra and a subscriber on the command topic. clock: the loop's clock; must be the wall
    clock (stamps are ROS time). node_name: the rospy node's base name, used only if this process has no node yet.
    """

    backend = "the ROS 1 backend"
    state_publisher = "joint_state_controller"
    controller_state = "running"
    ros_version = "ROS 1"
    sim_node_module = "hardware.ros1.sim_node"
    same_network = "against the same master"

    def __init__(self, robot: RobotConfig, *, master_uri: str | None = None, clock: Clock | None = None,
                 state_timeout_s: float = 5.0, node_name: str = "robopolicy_arm_driver") -> None:
        if master_uri:
            os.environ["ROS_MASTER_URI"] = master_uri
        self.master_uri = required_master_uri()  # refuses an unset master before anything else
        self.node_name = node_name
        self._connected = False
        super().__init__(robot, clock=clock, state_timeout_s=state_timeout_s)

    # ------------------------------------------------------------------------------------- the transport
    def _open(self) -> None:
        ensure_node(self.node_name, self.state_timeout_s)
        self._connected = True

    def _is_open(self) -> bool:
        return self._connected

    def _subscribe(self, topic: str, msg_type: type[Message], *, keep: int = 1) -> Subscription:
        return Subscription(topic, msg_type, keep=keep)

    def _publisher(self, topic: str, msg_type: type[Message]) -> Publisher:
        return Publisher(topic, msg_type)

    def _wait(self, timeout_s: float) -> None:
        time.sleep(timeout_s)

    def _close(self) -> None:
        """Unregister this driver's topics (the process's rospy node stays up: rospy cannot restart one); publishing
        is synchronous, so every command sent has been written already."""
        for endpoint in (self._state_sub, self._success_sub, self._estop_sub, self._command_pub,
                         *self._extra_subs.values(), *self._camera_subs.values()):
            if endpoint is not None:
                endpoint.close()
        self._connected = False

    def _where(self) -> str:
        return f" (ROS master {self.master_uri})"
