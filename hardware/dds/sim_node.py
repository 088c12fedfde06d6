"""The simulated arm as a DDS node: the in-process MuJoCo arm (hardware/sim_driver.py) behind ROS 2 topics.

    python -m hardware.dds.sim_node --robot pusht_sim [--seed 1000000] [--rate 10] [--image-size 96]
                                    [--network loopback] [--domain-id 0] [--duration SECONDS] [--report node.json]

It stands in for the arm's ROS 2 side (ros2_control with a joint_state_broadcaster and one position controller),
stepping the physics in real (wall-clock) time; its topics are listed in hardware/sim_node_loop.py.

Commands are applied the moment they arrive (the node waits on them between states), a newer trajectory replaces
the rest of the current one, and the controller's command timeout holds the arm. A command the controller would
reject is reported on stderr and counted, as a controller logs it. A robot config with a camera gets the overhead
camera's frames on its topic (sensor_msgs/Image, written as raw CDR: hardware/dds/participant.py).
``--report`` writes what the node received and the final score as JSON when it stops (Ctrl+C, SIGTERM, --duration).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from hardware.dds.network import LOOPBACK, describe_network, resolve_network
from hardware.dds.participant import RELIABLE, DdsParticipant, Publisher, Subscription
from hardware.messages import Message
from hardware.robot import RobotConfig
from hardware.sim_node_loop import DEFAULT_SEED, TopicSimArmNode, run_node

__all__ = ["DEFAULT_SEED", "SimArmNode", "main"]


class SimArmNode(TopicSimArmNode):
    """The simulated arm on DDS domain ``domain_id``, its network ``network`` (required: "loopback" or the robot
    network's Cyclone DDS XML, see hardware/dds/network.py).

    seed / initial_state: the episode, as SimArmDriver takes them. rate_hz: how often states (and extras, success,
    camera frames) are published; default the robot's control rate. image_size: the camera frames' side in pixels.
    Call ``open``, then ``spin`` (or ``spin_once`` in a loop of
    your own), then ``close``; or use it as a context manager around ``spin``.
    """

    def __init__(self, robot: RobotConfig, *, network: str | None, domain_id: int = 0, seed: int = DEFAULT_SEED,
                 initial_state: np.ndarray | None = None, rate_hz: float | None = None, image_size: int = 96) -> None:
        self.network = network
        self._config = resolve_network(network)
        self.domain_id = int(domain_id)
        self._participant: DdsParticipant | None = None
        super().__init__(robot, seed=seed, initial_state=initial_state, rate_hz=rate_hz, image_size=image_size)

    # ------------------------------------------------------------------------------------- the transport
    def _open_transport(self) -> None:
        """Join the DDS domain."""
        self._participant = DdsParticipant(self._config, self.domain_id, network_name=describe_network(self.network))

    def _is_open(self) -> bool:
        return self._participant is not None

    def _publisher(self, topic: str, msg_type: type[Message]) -> Publisher:
        return self._participant.publisher(topic, msg_type, RELIABLE)

    def _subscribe_commands(self, topic: str, msg_type: type[Message]) -> Subscription:
        # Reliable and keeping ten, like a controller's subscription: no command is dropped for a slow spin.
        return self._participant.subscription(topic, msg_type, RELIABLE)

    def _wait_for_commands(self, timeout_s: float) -> bool:
        return self._participant.wait(timeout_s)

    def _close_transport(self) -> None:
        """Leave the DDS domain."""
        if self._participant is not None:
            self._participant.close()
            self._participant = None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", default=LOOPBACK,
                        help="'loopback' (default: this machine only) or a Cyclone DDS XML file for a robot network")
    parser.add_argument("--domain-id", type=int, default=0, help="DDS domain (ROS_DOMAIN_ID), default 0")


def main(argv: list[str] | None = None) -> int:
    """Command line: run the simulated arm node until Ctrl+C / SIGTERM / --duration."""
    return run_node(
        argv, prog="python -m hardware.dds.sim_node", doc=__doc__, add_arguments=_add_arguments,
        make_node=lambda robot, args: SimArmNode(robot, network=args.network, domain_id=args.domain_id,
                                                 seed=args.seed, rate_hz=args.rate, image_size=args.image_size),
        open_node=lambda node, args: node.open(),
        where=lambda node, args: f"on DDS domain {args.domain_id} ({describe_network(args.network)})")


if __name__ == "__main__":
    sys.exit(main())
