"""The simulated arm node of a topic backend (DDS or ROS 1) that also remembers every camera frame it published, run
by tests/hardware/camera_scenario.py as its own process:

    python tests/hardware/camera_node.py --backend dds|ros1 --robot CONFIG.yaml --workdir DIR [--rate 50]

It prints "ready" once its topics are up. SIGUSR1 stops its camera frames (joint states and the rest go on: a
stalled camera); SIGTERM stops it, and it writes the frames it published to DIR/node_frames.npz: ``stamps_ns`` (N,)
int64 header stamps and ``frames`` (N, H, W, 3) uint8, the newest KEEP.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hardware.messages import Image, image_to_numpy  # noqa: E402
from hardware.robot import load_robot  # noqa: E402

KEEP = 400  # frames kept: 8 s at 50 Hz


class FrameRecorder:
    """A camera publisher that keeps each frame it sends ({stamp ns: (H, W, 3) uint8}) and sends none while
    ``paused`` is set."""

    def __init__(self, publisher: Any, frames: collections.OrderedDict, paused: threading.Event) -> None:
        self.publisher, self.frames, self.paused = publisher, frames, paused
        self.name, self.msg_type = publisher.name, publisher.msg_type

    def publish(self, msg: Image) -> None:
        if self.paused.is_set():
            return
        self.frames[msg.header.stamp.to_nanoseconds()] = image_to_numpy(msg)
        while len(self.frames) > KEEP:
            self.frames.popitem(last=False)
        self.publisher.publish(msg)

    def __getattr__(self, name: str) -> Any:  # close, subscriber_count, ...
        return getattr(self.publisher, name)


def recording_node(base: type) -> type:
    """``base`` (a backend's SimArmNode) whose Image publishers are FrameRecorders."""

    class RecordingNode(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.frames: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
            self.paused = threading.Event()
            super().__init__(*args, **kwargs)

        def _publisher(self, topic: str, msg_type: type) -> Any:
            publisher = super()._publisher(topic, msg_type)
            return FrameRecorder(publisher, self.frames, self.paused) if msg_type is Image else publisher

    return RecordingNode


def make_node(backend: str, robot_path: str, rate_hz: float) -> Any:
    robot = load_robot(robot_path)
    if backend == "dds":
        from hardware.dds.sim_node import SimArmNode

        return recording_node(SimArmNode)(robot, network="loopback", rate_hz=rate_hz, image_size=96)
    from hardware.ros1.sim_node import SimArmNode

    return recording_node(SimArmNode)(robot, rate_hz=rate_hz, image_size=96)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("dds", "ros1"), required=True)
    parser.add_argument("--robot", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    node = make_node(args.backend, args.robot, args.rate)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: node.paused.set())
    node.open()
    print("ready", flush=True)
    try:
        node.spin(stop=stop)
    finally:
        node.close()
        stamps = np.array(list(node.frames), dtype=np.int64)
        frames = np.stack(list(node.frames.values())) if node.frames else np.zeros((0, 96, 96, 3), np.uint8)
        np.savez(args.workdir / "node_frames.npz", stamps_ns=stamps, frames=frames)
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
    os._exit(0)  # rospy's threads would otherwise keep the process alive
