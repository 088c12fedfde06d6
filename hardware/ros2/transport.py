"""One ROS 2 node per driver through rclpy: its own rclpy Context (init and shutdown owned here), a Node on it, and a
SingleThreadedExecutor spinning that node on a background thread; subscriptions and publishers that carry
hardware.messages (converted by hardware/ros2/convert.py).

Why a thread: the control loop reads the newest state in read_state() without ever waiting, so callbacks must run
while the loop is busy elsewhere; ``spin_once`` inside ``_wait`` would deliver messages only while connect() waits.
Callbacks only convert and queue, under a lock; the loop's thread takes from the queues.

Why its own Context: the driver does not depend on (or shut down) whatever else in the process uses rclpy's default
context, and ``rclpy.init`` is called without rclpy's signal handlers where the distro allows it (Humble and later),
so Ctrl-C and SIGUSR1 stay the deploy job's (Ctrl-C must still be able to send the hold).

QoS as the DDS backend (hardware/dds/participant.py): commands reliable, volatile, keep-last 10 (ROS 2's default
profile); inputs best effort, volatile, keep-last ``keep`` (1: the newest only; the e-stop topic keeps 64).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from hardware.messages import Message
from hardware.ros2 import import_ros2
from hardware.ros2.convert import from_ros, ros_class, to_ros
from hardware.ros2.names import ros2_topic_name

COMMAND_DEPTH = 10  # ROS 2's default profile: reliable, volatile, keep last 10

def command_qos() -> Any:
    """Reliable, volatile, keep the last 10: what commands go out with (ROS 2's default profile)."""
    qos = import_ros2()["rclpy.qos"]
    return qos.QoSProfile(history=qos.HistoryPolicy.KEEP_LAST, depth=COMMAND_DEPTH,
                          reliability=qos.ReliabilityPolicy.RELIABLE, durability=qos.DurabilityPolicy.VOLATILE)


def input_qos(keep: int = 1) -> Any:
    """Best effort, volatile, keep the last ``keep``: matches reliable and sensor-data publishers alike."""
    qos = import_ros2()["rclpy.qos"]
    return qos.QoSProfile(history=qos.HistoryPolicy.KEEP_LAST, depth=keep,
                          reliability=qos.ReliabilityPolicy.BEST_EFFORT, durability=qos.DurabilityPolicy.VOLATILE)


class Subscription:
    """Receives hardware.messages of one type from one ROS 2 topic; ``take`` hands out what arrived since (the
    newest ``keep``, oldest first)."""

    def __init__(self, node: Ros2Node, topic: str, msg_type: type[Message], keep: int) -> None:
        self.name = ros2_topic_name(topic)
        self.msg_type = msg_type
        self._node = node
        self._queue: deque[Any] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._sub = node.node.create_subscription(ros_class(msg_type), self.name, self._received, input_qos(keep))

    def _received(self, msg: Any) -> None:  # on the executor's thread
        with self._lock:
            self._queue.append(msg)
        self._node.arrived.set()

    def take(self) -> list[Message]:
        with self._lock:
            raw, self._queue = list(self._queue), deque(maxlen=self._queue.maxlen)
        return [from_ros(m, self.msg_type) for m in raw]


class Publisher:
    """Publishes hardware.messages of one type on one ROS 2 topic (reliable, keep-last 10)."""

    def __init__(self, node: Ros2Node, topic: str, msg_type: type[Message]) -> None:
        self.name = ros2_topic_name(topic)
        self.msg_type = msg_type
        self._node = node
        self._pub = node.node.create_publisher(ros_class(msg_type), self.name, command_qos())

    def publish(self, msg: Message) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"{self.name} carries {self.msg_type.__name__}, got a {type(msg).__name__}")
        self._pub.publish(to_ros(msg))

    def subscriber_count(self) -> int:
        return self._pub.get_subscription_count()


class Ros2Node:
    """An rclpy Context initialised on ``domain_id`` (None: ROS_DOMAIN_ID, as rclpy reads it), a node named
    ``node_name`` on it, and an executor spinning it on a daemon thread. ``close`` undoes all of it."""

    def __init__(self, node_name: str, domain_id: int | None = None) -> None:
        ros = import_ros2()
        rclpy = ros["rclpy"]
        self.arrived = threading.Event()
        self.context = ros["rclpy.context"].Context()
        init_kwargs: dict[str, Any] = {"context": self.context}
        if domain_id is not None:
            init_kwargs["domain_id"] = domain_id
        try:
            from rclpy.signals import SignalHandlerOptions  # Humble and later
        except ImportError:
            pass
        else:
            init_kwargs["signal_handler_options"] = SignalHandlerOptions.NO
        rclpy.init(**init_kwargs)
        self.node = self.executor = self._thread = None
        try:
            self.node = ros["rclpy.node"].Node(node_name, context=self.context)
            self.executor = ros["rclpy.executors"].SingleThreadedExecutor(context=self.context)
            self.executor.add_node(self.node)
            self._thread = threading.Thread(target=self._spin, name=f"rclpy:{node_name}", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context shut down under it (close, or rclpy's own shutdown)
            if self.context.ok():
                raise

    def wait(self, timeout_s: float) -> None:
        """Block until a message arrives on any subscription, at most ``timeout_s``."""
        self.arrived.wait(timeout_s)
        self.arrived.clear()

    def close(self) -> None:
        """Stop the executor (and its thread), destroy the node, shut the context down. Idempotent."""
        if self.executor is not None:
            self.executor.shutdown(timeout_sec=1.0)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self.node is not None:
            self.node.destroy_node()
        if self.context is not None and self.context.ok():
            import_ros2()["rclpy"].shutdown(context=self.context)
        self.node = self.executor = self._thread = self.context = None
