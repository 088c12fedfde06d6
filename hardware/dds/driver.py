"""DdsArmDriver: an arm behind ROS 2 topics, reached through Cyclone DDS directly (no rclpy, no ROS 2 install).

Topics, hold / estop, stamps and extras are as hardware/topic_driver.py describes (ROS 2 names from the robot config;
on DDS each is "rt" + name, types under ROS 2's DDS names). Camera frames arrive as sensor_msgs/Image (or
CompressedImage), taken as raw CDR bytes rather than through cyclonedds' Python deserializer (hardware/dds/idl.py).
"""

from __future__ import annotations

from hardware.clock import Clock
from hardware.dds.network import describe_network, resolve_network
from hardware.dds.participant import RELIABLE, DdsParticipant, Publisher, Subscription, dds_topic_name, latest
from hardware.messages import Message
from hardware.robot import RobotConfig
from hardware.topic_driver import SentCommand, TopicArmDriver

__all__ = ["DdsArmDriver", "SentCommand"]


class DdsArmDriver(TopicArmDriver):
    """The arm described by ``robot`` behind ROS 2 topics on DDS domain ``domain_id`` (ROS_DOMAIN_ID).

    network: "loopback", or the robot network's Cyclone DDS XML (path, file:// URI or the XML itself); required,
    see hardware/dds/network.py. state_timeout_s: how long connect() waits for the first joint state, every extra,
    a frame from every camera and a subscriber on the command topic. clock: the loop's clock; must be the wall
    clock (stamps are ROS time). Nothing touches the network until connect().
    """

    backend = "the DDS backend"
    state_publisher = "joint_state_broadcaster"
    controller_state = "active"
    ros_version = "ROS 2"
    sim_node_module = "hardware.dds.sim_node"
    same_network = "on the same domain and network"

    def __init__(self, robot: RobotConfig, *, network: str | None, domain_id: int = 0, clock: Clock | None = None,
                 state_timeout_s: float = 5.0) -> None:
        self.network = network
        self._config = resolve_network(network)  # refuses a missing network before anything else
        self.domain_id = int(domain_id)
        self._participant: DdsParticipant | None = None
        super().__init__(robot, clock=clock, state_timeout_s=state_timeout_s)

    # ------------------------------------------------------------------------------------- the transport
    def _check_topic(self, topic: str) -> None:
        dds_topic_name(topic)  # ValueError for a name ROS 2 would not accept

    def _open(self) -> None:
        self._participant = DdsParticipant(self._config, self.domain_id, network_name=describe_network(self.network))

    def _is_open(self) -> bool:
        return self._participant is not None

    def _subscribe(self, topic: str, msg_type: type[Message], *, keep: int = 1) -> Subscription:
        return self._participant.subscription(topic, msg_type, latest(keep))

    def _publisher(self, topic: str, msg_type: type[Message]) -> Publisher:
        return self._participant.publisher(topic, msg_type, RELIABLE)

    def _wait(self, timeout_s: float) -> None:
        self._participant.wait(timeout_s)

    def _close(self) -> None:
        """Give the last commands a moment to be acknowledged, then leave the domain."""
        if self._command_pub is not None:
            self._command_pub.wait_for_acks(0.5)
        if self._participant is not None:
            self._participant.close()
        self._participant = None

    def _where(self) -> str:
        return f" on DDS domain {self.domain_id} ({describe_network(self.network)})"
