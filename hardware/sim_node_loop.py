"""The simulated arm as a node behind ROS topics, transport-independent: the in-process MuJoCo arm
(hardware/sim_driver.py) publishing its state and following commands, for hardware/dds/sim_node.py (Cyclone DDS)
and hardware/ros1/sim_node.py (rospy).

    out  robot.state_topic          sensor_msgs/JointState       every 1/rate s, stamped with the simulation's time
    out  robot.extra_topics[name]   std_msgs/Float64MultiArray   each extra the simulator provides (object_pose)
    out  robot.success_topic        std_msgs/Bool                the task's success, with every state
    out  robot.cameras[key]         sensor_msgs/Image            the overhead camera (rgb8, image_size square), with
                                                                 every state and stamped like it (a png
                                                                 CompressedImage on a topic ending in /compressed)
    in   robot.controller.topic     trajectory_msgs/JointTrajectory (joint_trajectory) or std_msgs/Float64MultiArray
                                    (forward_position), followed as hardware/trajectory_follower.py describes

A backend subclasses TopicSimArmNode and supplies the transport (``_open_transport``, ``_publisher``, ``_subscribe``,
``_wait_for_commands``, ``_close_transport``, ``_is_open``); ``run_node`` is the shared command line.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
import json
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hardware.camera_frames import camera_message_type, rgb_to_message
from hardware.clock import WallClock
from hardware.messages import (
    Bool,
    Float64MultiArray,
    Header,
    JointState,
    JointTrajectory,
    Message,
    Time,
    numpy_to_float64_multiarray,
)
from hardware.robot import RobotConfig, load_robot
from hardware.sim_driver import CAMERA, SimArmDriver
from hardware.sim_scenes import SCENES

DEFAULT_SEED = 1_000_000  # conf/deploy.yaml's sim.seed: the first evaluation seed, disjoint from demonstrations


class TopicSimArmNode(ABC):
    """The simulated arm behind ROS topics, over a transport the subclass provides.

    seed / initial_state: the episode, as SimArmDriver takes them. rate_hz: how often states (and extras, success,
    camera frames) are published; default the robot's control rate. image_size: the camera frames' height and
    width in pixels (rendered offscreen, MUJOCO_GL=egl by default). Call ``open``, then ``spin`` (or ``spin_once``
    in a loop of your own), then ``close``; or use it as a context manager around ``spin``.
    """

    def __init__(self, robot: RobotConfig, *, seed: int = DEFAULT_SEED, initial_state: np.ndarray | None = None,
                 rate_hz: float | None = None, image_size: int = 96) -> None:
        self.robot = robot
        self.rate_hz = float(rate_hz if rate_hz is not None else robot.control_rate_hz)
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        provided = SCENES[robot.sim_scene].extras
        unknown = sorted(set(robot.extra_topics) - set(provided))
        if unknown:
            raise ValueError(f"robot '{robot.name}' maps extra sources {unknown} to topics, but the simulated arm provides "
                             f"only {list(provided)}")
        self.clock = WallClock()
        self.arm = SimArmDriver(robot, clock=self.clock, seed=seed, initial_state=initial_state, image_size=image_size)
        self.seed = seed
        self.rejected: list[str] = []  # why each rejected command was refused
        self.states_published = 0
        self._state_pub: Any = None
        self._extra_pubs: dict[str, Any] = {}
        self._camera_pubs: dict[str, Any] = {}  # camera key -> its image publisher
        self._success_pub: Any = None
        self._command_sub: Any = None
        self._next_publish = 0.0

    # ------------------------------------------------------------------------------------- the transport
    @abstractmethod
    def _open_transport(self) -> None:
        """Join the middleware (DDS participant, rospy node)."""

    @abstractmethod
    def _is_open(self) -> bool:
        """Whether the transport is open."""

    @abstractmethod
    def _publisher(self, topic: str, msg_type: type[Message]) -> Any:
        """A publisher of ``msg_type`` on the ROS topic ``topic``."""

    @abstractmethod
    def _subscribe_commands(self, topic: str, msg_type: type[Message]) -> Any:
        """A subscription to the arm's command topic whose ``take()`` returns the commands that arrived."""

    @abstractmethod
    def _wait_for_commands(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``, which may be negative) for a command; True if one arrived."""

    @abstractmethod
    def _close_transport(self) -> None:
        """Leave the middleware; sends nothing."""

    def _take_commands(self) -> list | None:
        """The commands that arrived, oldest first; None when the take itself failed (already reported)."""
        return self._command_sub.take()

    # ------------------------------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Reset the simulated arm, open the transport, advertise the topics and publish the first state."""
        self.arm.connect()
        robot = self.robot
        self._open_transport()
        try:
            self._state_pub = self._publisher(robot.state_topic, JointState)
            self._extra_pubs = {name: self._publisher(topic, Float64MultiArray)
                                for name, topic in robot.extra_topics.items()}
            self._camera_pubs = {key: self._publisher(topic, camera_message_type(topic))
                                 for key, topic in robot.cameras.items()}
            if robot.success_topic is not None:
                self._success_pub = self._publisher(robot.success_topic, Bool)
            command_type = JointTrajectory if robot.controller.type == "joint_trajectory" else Float64MultiArray
            self._command_sub = self._subscribe_commands(robot.controller.topic, command_type)
        except BaseException:
            self.close()
            raise
        self._next_publish = self.clock.now()
        self.publish_state()

    def close(self) -> None:
        """Close the transport and release the simulation."""
        self._close_transport()
        self.arm.close()

    def __enter__(self) -> TopicSimArmNode:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- work
    def publish_state(self) -> None:
        """Step the physics to now and publish the joint state, the extras, the camera frames (stamped with the
        state's stamp) and task success."""
        state = self.arm.read_state()
        self._state_pub.publish(JointState(header=Header(stamp=Time.from_seconds(state.stamp)),
                                           name=self.robot.joint_names, position=state.positions,
                                           velocity=state.velocities))
        for name, pub in self._extra_pubs.items():
            pub.publish(numpy_to_float64_multiarray(state.extras[name], label=name))
        for key, pub in self._camera_pubs.items():
            pub.publish(rgb_to_message(state.images[key], pub.msg_type, state.stamp, frame_id=CAMERA))
        if self._success_pub is not None:
            self._success_pub.publish(Bool(data=self.arm.task_success()))
        self.states_published += 1

    def handle_commands(self) -> int:
        """Follow every command that has arrived, oldest first; returns how many were taken."""
        commands = self._take_commands()
        if commands is None:
            return 0
        for msg in commands:
            try:
                if isinstance(msg, JointTrajectory):
                    self.arm.follow_trajectory(msg)
                else:
                    self.arm.follow_setpoint(msg)
            except ValueError as exc:  # the controller rejects it and keeps doing what it did
                self.rejected.append(str(exc))
                print(f"sim_node: rejected a command on {self._command_sub.name}: {exc}", file=sys.stderr, flush=True)
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
        if self._wait_for_commands(self._next_publish - self.clock.now()):
            self.handle_commands()

    def spin(self, duration_s: float | None = None, stop: threading.Event | None = None) -> None:
        """Run until ``duration_s`` seconds have passed or ``stop`` is set (both optional: forever)."""
        end = None if duration_s is None else self.clock.now() + duration_s
        while not (stop is not None and stop.is_set()) and (end is None or self.clock.now() < end):
            self.spin_once()

    def report(self) -> dict[str, Any]:
        """What the node did, as plain JSON-able values: the commands it received (kind, time, points or values,
        whether ignored), the rejected ones, the final joint positions, the task score now and the highest score
        any published state had (``max_score``)."""
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
            "final_positions": self.arm.read_state().positions.tolist() if self._is_open() else None,
            "score": self.arm.score(), "success": bool(self.arm.task_success()),
            "max_score": self.arm.max_score,  # the highest score over the published states (and this report)
        }


def run_node(argv: list[str] | None, *, prog: str, doc: str,
             add_arguments: Callable[[argparse.ArgumentParser], None],
             make_node: Callable[[RobotConfig, argparse.Namespace], TopicSimArmNode],
             open_node: Callable[[TopicSimArmNode, argparse.Namespace], None],
             where: Callable[[TopicSimArmNode, argparse.Namespace], str]) -> int:
    """The sim node's command line: run the node until Ctrl+C / SIGTERM / --duration. ``add_arguments`` adds the
    backend's options (after --rate), ``make_node`` / ``open_node`` build and open it, ``where`` says where it runs
    ("on DDS domain 0 (...)")."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--robot", default="pusht_sim", help="conf/robot/<name>.yaml or a YAML path (default pusht_sim)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the episode (PushTEnv.reset(seed))")
    parser.add_argument("--rate", type=float, default=None, help="state publish rate in Hz (default: control rate)")
    parser.add_argument("--image-size", type=int, default=96,
                        help="camera frames' height and width in pixels, for a robot config with cameras (default 96)")
    add_arguments(parser)
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--report", type=Path, default=None, help="write a JSON report here when stopping")
    args = parser.parse_args(argv)

    node = make_node(load_robot(args.robot), args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    open_node(node, args)
    robot = node.robot
    print(f"sim_node: {robot.name} (seed {args.seed}) {where(node, args)}: states on {robot.state_topic} "
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
