"""The simulated arm as a ROS 1 node: the in-process MuJoCo arm (hardware/sim_driver.py) behind ROS 1 topics.

    ROS_MASTER_URI=http://127.0.0.1:11311 ROS_IP=127.0.0.1 \
    python -m hardware.ros1.sim_node --robot pusht_sim [--seed 1000000] [--rate 10] [--duration SECONDS]
                                     [--report node.json]

It stands in for the arm's ROS 1 side (ros_control with a joint_state_controller and one position controller),
stepping the physics in real (wall-clock) time:

    out  robot.state_topic          sensor_msgs/JointState       every 1/rate s, stamped with the simulation's time
    out  robot.extra_topics[name]   std_msgs/Float64MultiArray   each extra the simulator provides (object_pose)
    out  robot.success_topic        std_msgs/Bool                the Push-T task's success, with every state
    in   robot.controller.topic     trajectory_msgs/JointTrajectory (joint_trajectory) or std_msgs/Float64MultiArray
                                    (forward_position), followed as hardware/trajectory_follower.py describes

A ROS master must be running at ROS_MASTER_URI (required, never guessed). Commands arrive on rospy's threads and
are applied by the node's loop the moment it wakes for them; a newer trajectory replaces the rest of the current one,
and the controller's command timeout holds the arm. A command the controller would reject is reported on stderr and
counted. No cameras. ``--report`` writes what the node received and the final score as JSON when it stops (Ctrl+C,
SIGTERM, --duration). rospy allows one node per process: run it as its own process.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from hardware.clock import WallClock
from hardware.messages import (
    Bool,
    Float64MultiArray,
    Header,
    JointState,
    JointTrajectory,
    Time,
    numpy_to_float64_multiarray,
)
from hardware.robot import RobotConfig, load_robot
from hardware.ros1.transport import Publisher, Subscription, ensure_node, master_uri
from hardware.sim_driver import EXTRAS, SimArmDriver

DEFAULT_SEED = 1_000_000  # conf/deploy.yaml's sim.seed: the first evaluation seed, disjoint from demonstrations


class SimArmNode:
    """The simulated arm on the ROS master at ROS_MASTER_URI (which must be set).

    seed / initial_state: the episode, as SimArmDriver takes them. rate_hz: how often states (and extras, success)
    are published; default the robot's control rate. Call ``open``, then ``spin`` (or ``spin_once`` in a loop of
    your own), then ``close``; or use it as a context manager around ``spin``.
    """

    def __init__(self, robot: RobotConfig, *, seed: int = DEFAULT_SEED, initial_state: np.ndarray | None = None,
                 rate_hz: float | None = None, node_name: str = "robopolicy_sim_arm") -> None:
        self.robot = robot
        self.master_uri = master_uri()  # refuses an unset ROS_MASTER_URI first
        self.rate_hz = float(rate_hz if rate_hz is not None else robot.control_rate_hz)
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        if robot.cameras:
            raise ValueError(f"robot '{robot.name}' lists cameras {sorted(robot.cameras)}; the ROS 1 sim node publishes "
                             "no images (the ROS 1 backend carries none yet): remove `cameras` for this backend")
        unknown = sorted(set(robot.extra_topics) - set(EXTRAS))
        if unknown:
            raise ValueError(f"robot '{robot.name}' maps extra sources {unknown} to topics, but the simulated arm provides "
                             f"only {list(EXTRAS)}")
        self.node_name = node_name
        self.clock = WallClock()
        self.arm = SimArmDriver(robot, clock=self.clock, seed=seed, initial_state=initial_state)
        self.seed = seed
        self.rejected: list[str] = []  # why each rejected command was refused
        self.states_published = 0
        self._open = False
        self._wake = threading.Event()  # set by rospy's receive thread when a command arrived
        self._state_pub: Publisher[JointState] | None = None
        self._extra_pubs: dict[str, Publisher[Float64MultiArray]] = {}
        self._success_pub: Publisher[Bool] | None = None
        self._command_sub: Subscription | None = None
        self._next_publish = 0.0

    # ------------------------------------------------------------------------------------------ lifecycle
    def open(self, timeout_s: float = 5.0) -> None:
        """Reset the simulated arm, start the rospy node (waiting up to ``timeout_s`` for the master), advertise
        the topics and publish the first state."""
        self.arm.connect()
        robot = self.robot
        ensure_node(self.node_name, timeout_s)
        self._open = True
        try:
            self._state_pub = Publisher(robot.state_topic, JointState)
            self._extra_pubs = {name: Publisher(topic, Float64MultiArray) for name, topic in robot.extra_topics.items()}
            if robot.success_topic is not None:
                self._success_pub = Publisher(robot.success_topic, Bool)
            command_type = JointTrajectory if robot.controller.type == "joint_trajectory" else Float64MultiArray
            # keeping a hundred: no command is dropped for a slow loop
            self._command_sub = Subscription(robot.controller.topic, command_type, keep=100, on_message=self._wake.set)
        except BaseException:
            self.close()
            raise
        self._next_publish = self.clock.now()
        self.publish_state()

    def close(self) -> None:
        """Unregister the topics and release the simulation (the rospy node ends with the process)."""
        for endpoint in (self._state_pub, self._success_pub, self._command_sub, *self._extra_pubs.values()):
            if endpoint is not None:
                endpoint.close()
        self._state_pub = self._success_pub = self._command_sub = None
        self._extra_pubs = {}
        self._open = False
        self.arm.close()

    def __enter__(self) -> SimArmNode:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- work
    def publish_state(self) -> None:
        """Step the physics to now and publish the joint state, the extras and task success."""
        state = self.arm.read_state()
        self._state_pub.publish(JointState(header=Header(stamp=Time.from_seconds(state.stamp)),
                                           name=self.robot.joint_names, position=state.positions,
                                           velocity=state.velocities))
        for name, pub in self._extra_pubs.items():
            pub.publish(numpy_to_float64_multiarray(state.extras[name], label=name))
        if self._success_pub is not None:
            self._success_pub.publish(Bool(data=self.arm.task_success()))
        self.states_published += 1

    def handle_commands(self) -> int:
        """Follow every command that has arrived, oldest first; returns how many were taken."""
        try:
            commands = self._command_sub.take()
        except ValueError as exc:  # a publisher of the wrong type, or bytes that do not decode
            self.rejected.append(str(exc))
            print(f"sim_node: rejected a command: {exc}", file=sys.stderr, flush=True)
            return 0
        for msg in commands:
            try:
                if isinstance(msg, JointTrajectory):
                    self.arm.follow_trajectory(msg)
                else:
                    self.arm.follow_setpoint(msg)
            except ValueError as exc:  # the controller rejects it and keeps doing what it did
                self.rejected.append(str(exc))
                print(f"sim_node: rejected a command on {self._command_sub.topic}: {exc}", file=sys.stderr, flush=True)
        return len(commands)

    def spin_once(self) -> None:
        """Publish the state if it is due, else wait for commands until it is (and follow them)."""
        now = self.clock.now()
        if now >= self._next_publish:
            self.publish_state()
            period = 1.0 / self.rate_hz
            self._next_publish += period
            if self._next_publish <= now:  # fell behind (a stalled process): skip the missed states, keep the phase
                self._next_publish = now + period - (now - self._next_publish) % period
        if self._wake.wait(max(0.0, self._next_publish - self.clock.now())):
            self._wake.clear()
            self.handle_commands()

    def spin(self, duration_s: float | None = None, stop: threading.Event | None = None) -> None:
        """Run until ``duration_s`` seconds have passed or ``stop`` is set (both optional: forever)."""
        end = None if duration_s is None else self.clock.now() + duration_s
        while not (stop is not None and stop.is_set()) and (end is None or self.clock.now() < end):
            self.spin_once()

    def report(self) -> dict[str, Any]:
        """What the node did, as plain JSON-able values: the commands it received (kind, time, points or values,
        whether ignored), the rejected ones, the final joint positions and the task score."""
        commands = []
        for command in self.arm.commands:
            entry: dict[str, Any] = {"kind": command.kind, "time": command.time, "ignored": command.ignored}
            if isinstance(command.message, JointTrajectory):
                entry["points"] = [p.positions.tolist() for p in command.message.points]
                entry["stamp"] = command.message.header.stamp.to_seconds()
            elif isinstance(command.message, Float64MultiArray):
                entry["values"] = command.message.data.tolist()
            commands.append(entry)
        return {
            "robot": self.robot.name, "seed": self.seed, "rate_hz": self.rate_hz,
            "states_published": self.states_published, "commands": commands, "rejected": list(self.rejected),
            "final_positions": self.arm.read_state().positions.tolist() if self._open else None,
            "score": self.arm.score(), "success": bool(self.arm.task_success()),
        }


def main(argv: list[str] | None = None) -> int:
    """Command line: run the simulated arm node until Ctrl+C / SIGTERM / --duration."""
    parser = argparse.ArgumentParser(prog="python -m hardware.ros1.sim_node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--robot", default="pusht_sim", help="conf/robot/<name>.yaml or a YAML path (default pusht_sim)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the episode (PushTEnv.reset(seed))")
    parser.add_argument("--rate", type=float, default=None, help="state publish rate in Hz (default: control rate)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the ROS master (default 5)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--report", type=Path, default=None, help="write a JSON report here when stopping")
    args = parser.parse_args(argv)

    node = SimArmNode(load_robot(args.robot), seed=args.seed, rate_hz=args.rate)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node.open(args.timeout)
    robot = node.robot
    print(f"sim_node: {robot.name} (seed {args.seed}) on ROS master {node.master_uri}: states on {robot.state_topic} "
          f"at {node.rate_hz:g} Hz, commands from {robot.controller.topic}; ready", flush=True)
    try:
        node.spin(args.duration, stop)
        report = node.report()
    finally:
        node.close()
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=1))
    print(f"sim_node: stopped after {report['states_published']} states, {len(report['commands'])} commands "
          f"({len(report['rejected'])} rejected); task score {report['score']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
