"""The simulated arm as a ROS 1 node: the in-process MuJoCo arm (hardware/sim_driver.py) behind ROS 1 topics.

    ROS_MASTER_URI=http://127.0.0.1:11311 ROS_IP=127.0.0.1 \
    python -m hardware.ros1.sim_node --robot pusht_sim [--seed 1000000] [--rate 10] [--image-size 96]
                                     [--duration SECONDS] [--report node.json]

It stands in for the arm's ROS 1 side (ros_control with a joint_state_controller and one position controller),
stepping the physics in real (wall-clock) time; its topics are listed in hardware/sim_node_loop.py.

A ROS master must be running at ROS_MASTER_URI (required, never guessed). Commands arrive on rospy's threads and
are applied by the node's loop the moment it wakes for them; a newer trajectory replaces the rest of the current one,
and the controller's command timeout holds the arm. A command the controller would reject is reported on stderr and
counted. A robot config with a camera gets the overhead camera's frames on its topic (sensor_msgs/Image).
``--report`` writes what the node received and the final score as JSON when it stops (Ctrl+C, SIGTERM,
--duration). rospy allows one node per process: run it as its own process.
"""

from __future__ import annotations

import argparse
import sys
import threading

import numpy as np

from hardware.messages import Message
from hardware.robot import RobotConfig
from hardware.ros1.transport import Publisher, Subscription, ensure_node, master_uri
from hardware.sim_node_loop import DEFAULT_SEED, TopicSimArmNode, run_node

__all__ = ["DEFAULT_SEED", "SimArmNode", "main"]


class SimArmNode(TopicSimArmNode):
    """The simulated arm on the ROS master at ROS_MASTER_URI (which must be set).

    seed / initial_state: the episode, as SimArmDriver takes them. rate_hz: how often states (and extras, success,
    camera frames) are published; default the robot's control rate. image_size: the camera frames' side in pixels.
    Call ``open``, then ``spin`` (or ``spin_once`` in a loop of
    your own), then ``close``; or use it as a context manager around ``spin``.
    """

    def __init__(self, robot: RobotConfig, *, seed: int = DEFAULT_SEED, initial_state: np.ndarray | None = None,
                 rate_hz: float | None = None, image_size: int = 96, node_name: str = "robopolicy_sim_arm") -> None:
        self.master_uri = master_uri()  # refuses an unset ROS_MASTER_URI first
        self.node_name = node_name
        self._connected = False
        self._wake = threading.Event()  # set by rospy's receive thread when a command arrived
        self._open_timeout_s = 5.0
        super().__init__(robot, seed=seed, initial_state=initial_state, rate_hz=rate_hz, image_size=image_size)

    def open(self, timeout_s: float = 5.0) -> None:
        """Reset the simulated arm, start the rospy node (waiting up to ``timeout_s`` for the master), advertise
        the topics and publish the first state."""
        self._open_timeout_s = timeout_s
        super().open()

    # ------------------------------------------------------------------------------------- the transport
    def _open_transport(self) -> None:
        ensure_node(self.node_name, self._open_timeout_s)
        self._connected = True

    def _is_open(self) -> bool:
        return self._connected

    def _publisher(self, topic: str, msg_type: type[Message]) -> Publisher:
        return Publisher(topic, msg_type)

    def _subscribe_commands(self, topic: str, msg_type: type[Message]) -> Subscription:
        # keeping a hundred: no command is dropped for a slow loop
        return Subscription(topic, msg_type, keep=100, on_message=self._wake.set)

    def _take_commands(self) -> list | None:
        try:
            return self._command_sub.take()
        except ValueError as exc:  # a publisher of the wrong type, or bytes that do not decode
            self.rejected.append(str(exc))
            print(f"sim_node: rejected a command: {exc}", file=sys.stderr, flush=True)
            return None

    def _wait_for_commands(self, timeout_s: float) -> bool:
        if self._wake.wait(max(0.0, timeout_s)):
            self._wake.clear()
            return True
        return False

    def _close_transport(self) -> None:
        """Unregister the topics (the rospy node ends with the process)."""
        for endpoint in (self._state_pub, self._success_pub, self._command_sub, *self._extra_pubs.values(),
                         *self._camera_pubs.values()):
            if endpoint is not None:
                endpoint.close()
        self._state_pub = self._success_pub = self._command_sub = None
        self._extra_pubs = {}
        self._camera_pubs = {}
        self._connected = False


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the ROS master (default 5)")


def main(argv: list[str] | None = None) -> int:
    """Command line: run the simulated arm node until Ctrl+C / SIGTERM / --duration."""
    return run_node(
        argv, prog="python -m hardware.ros1.sim_node", doc=__doc__, add_arguments=_add_arguments,
        make_node=lambda robot, args: SimArmNode(robot, seed=args.seed, rate_hz=args.rate, image_size=args.image_size),
        open_node=lambda node, args: node.open(args.timeout),
        where=lambda node, args: f"on ROS master {node.master_uri}")


if __name__ == "__main__":
    sys.exit(main())
