"""hardware.messages over rospy: one node per process, publishers and subscriptions that move ROS 1 wire bytes.

rospy only transports bytes here. Incoming messages arrive as ``rospy.AnyMsg`` (the raw bytes plus the publisher's
connection header) and are decoded by ``hardware.messages.ros1.deserialize`` after checking the header's type;
outgoing messages are encoded by ``hardware.messages.ros1.serialize`` and handed to rospy in a small message class
that carries the real type's name, md5sum and definition (taken from the installed sensor_msgs / trajectory_msgs /
std_msgs packages), so roscpp and rospy peers accept the connection. One serializer is shared with the ROS 2 and bag
paths, and the tests check its bytes against rospy's own.

rospy allows ONE node per process (``rospy.init_node`` once; it cannot be re-initialised after shutdown). ``ensure_node``
creates it on first use and every later driver or node object in the process shares it; closing a driver
unregisters its topics but leaves the node up until the process exits.
"""

from __future__ import annotations

import collections
import importlib
import os
import threading
import time
import warnings
from collections.abc import Callable
import xmlrpc.client
from typing import Any, Generic, TypeVar

from hardware.messages import (
    Bool,
    CompressedImage,
    Float64MultiArray,
    Image,
    JointState,
    JointTrajectory,
    Message,
    ros1,
)
from hardware.ros1 import import_rospy

rospy = import_rospy()
import genpy  # noqa: E402  (importable once rospy is)
import rosgraph  # noqa: E402

M = TypeVar("M", bound=Message)

# message dataclass -> its ROS 1 type name ("package/Name")
ROS1_TYPES: dict[type[Message], str] = {
    JointState: "sensor_msgs/JointState",
    JointTrajectory: "trajectory_msgs/JointTrajectory",
    Float64MultiArray: "std_msgs/Float64MultiArray",
    Bool: "std_msgs/Bool",
    Image: "sensor_msgs/Image",
    CompressedImage: "sensor_msgs/CompressedImage",
}


class Ros1MasterError(RuntimeError):
    """No usable ROS master: ROS_MASTER_URI unset, or nothing answers there."""


def ros1_type(msg_type: type[Message]) -> str:
    """The ROS 1 type name of ``msg_type``; TypeError (listing the supported ones) for any other."""
    try:
        return ROS1_TYPES[msg_type]
    except KeyError:
        raise TypeError(f"the ROS 1 backend does not carry {msg_type.__name__}; supported: "
                        f"{', '.join(t.__name__ for t in ROS1_TYPES)}") from None


def rospy_class(msg_type: type[Message]) -> type[genpy.Message]:
    """The generated rospy class of ``msg_type`` (e.g. sensor_msgs.msg.JointState) from the installed packages."""
    package, name = ros1_type(msg_type).split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"the ROS 1 message package {package} is not installed ({exc}); on Debian: apt-get install "
                          f"python3-{package.replace('_', '-')}") from exc


_RAW_CLASSES: dict[type[Message], type[genpy.Message]] = {}


def raw_class(msg_type: type[Message]) -> type[genpy.Message]:
    """A genpy message class for ``msg_type`` whose instances hold already-serialized bytes: rospy announces the real
    type (name, md5sum, definition) and writes the bytes as they are."""
    if msg_type not in _RAW_CLASSES:
        real = rospy_class(msg_type)

        def __init__(self: Any, buff: bytes = b"") -> None:
            self._buff = buff

        def serialize(self: Any, buff: Any) -> None:
            buff.write(self._buff)

        def deserialize(self: Any, data: bytes) -> Any:
            self._buff = bytes(data)
            return self

        _RAW_CLASSES[msg_type] = type(f"Raw{msg_type.__name__}", (genpy.Message,), {
            "__slots__": ["_buff"], "_slot_types": [], "_type": real._type, "_md5sum": real._md5sum,
            "_full_text": real._full_text, "_has_header": False,  # our bytes carry the header (seq as given)
            "__init__": __init__, "serialize": serialize, "deserialize": deserialize,
        })
    return _RAW_CLASSES[msg_type]


def master_uri() -> str:
    """ROS_MASTER_URI, which must be set explicitly; Ros1MasterError saying how otherwise."""
    uri = os.environ.get("ROS_MASTER_URI", "").strip()
    if not uri:
        raise Ros1MasterError(
            "ROS_MASTER_URI is not set; the ROS 1 backend does not guess where the master is. Set it to the robot's "
            "master (e.g. export ROS_MASTER_URI=http://robot-pc:11311 and ROS_IP=<this machine's address on the robot "
            "network>), or for this machine only: ROS_MASTER_URI=http://127.0.0.1:11311 ROS_IP=127.0.0.1 with "
            "`rosmaster --core -p 11311` running")
    return uri


def wait_for_master(timeout_s: float) -> None:
    """Block until the master at ROS_MASTER_URI answers (at most ``timeout_s``); Ros1MasterError otherwise."""
    uri = master_uri()
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            rosgraph.Master("/robopolicy_probe", master_uri=uri).getPid()
            return
        except (OSError, xmlrpc.client.Error, rosgraph.MasterException) as exc:
            last = exc
            time.sleep(0.05)
    raise Ros1MasterError(f"no ROS master answers at ROS_MASTER_URI={uri} after {timeout_s} s ({last}); start one "
                          "(`rosmaster --core -p <port>` or roscore) or fix ROS_MASTER_URI")


_NODE_LOCK = threading.Lock()


def ensure_node(name: str, timeout_s: float = 5.0) -> str:
    """This process's rospy node, created as ``name`` (made unique) on first call; returns the node's name.

    rospy allows one node per process: later calls return the existing node whatever ``name`` they pass. Signal
    handlers are left to the program (disable_signals), so Ctrl+C reaches it as KeyboardInterrupt / its own handler.
    """
    with _NODE_LOCK:
        if not rospy.core.is_initialized():
            wait_for_master(timeout_s)
            rospy.init_node(name, anonymous=True, disable_signals=True)
        if rospy.is_shutdown():
            raise RuntimeError("this process's rospy node has been shut down, and rospy cannot start another one in "
                               "the same process; start a new process")
        return rospy.get_name()


class Publisher(Generic[M]):
    """Publishes ``msg_type`` messages on ``topic``, serialized by hardware.messages.ros1 (synchronously: when
    ``publish`` returns, the bytes are written to every connected subscriber's socket)."""

    def __init__(self, topic: str, msg_type: type[M], *, latch: bool = False) -> None:
        self.topic = self.name = topic
        self.msg_type = msg_type
        self._raw = raw_class(msg_type)
        # queue_size=None: synchronous publishing, so "sent" means written (an e-stop hold is not left in a queue);
        # rospy warns about that choice with a SyntaxWarning, silenced here because it is deliberate
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*explicit keyword argument 'queue_size'", category=SyntaxWarning)
            self._pub = rospy.Publisher(topic, self._raw, queue_size=None, latch=latch)

    def publish(self, msg: M) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"{self.topic} carries {self.msg_type.__name__}, got {type(msg).__name__}")
        self._pub.publish(self._raw(ros1.serialize(msg)))

    def subscriber_count(self) -> int:
        return self._pub.get_num_connections()

    def close(self) -> None:
        self._pub.unregister()


class Subscription(Generic[M]):
    """Receives ``msg_type`` on ``topic`` as raw bytes and decodes them with hardware.messages.ros1; keeps the newest
    ``keep`` messages for ``take``. A publisher of another type, or bytes that do not decode, are recorded in
    ``errors`` (and raised by ``take``) instead of being dropped silently."""

    def __init__(self, topic: str, msg_type: type[M], *, keep: int = 1,
                 on_message: Callable[[], None] | None = None) -> None:
        self.topic = self.name = topic
        self.msg_type = msg_type
        self.ros_type = ros1_type(msg_type)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._messages: collections.deque[M] = collections.deque(maxlen=keep)
        self._on_message = on_message
        self.received = 0
        self._sub = rospy.Subscriber(topic, rospy.AnyMsg, self._callback, queue_size=max(keep, 10))

    def _callback(self, raw: Any) -> None:
        header = getattr(raw, "_connection_header", None) or {}
        sent_type = header.get("type", self.ros_type)
        try:
            if sent_type != self.ros_type:
                raise TypeError(f"{header.get('callerid', 'a publisher')} publishes {sent_type} on {self.topic}, "
                                f"which should carry {self.ros_type}")
            msg = ros1.deserialize(raw._buff, self.msg_type)
        except (TypeError, ValueError) as exc:
            with self._lock:
                if len(self.errors) < 100:
                    self.errors.append(str(exc))
            return
        with self._lock:
            self._messages.append(msg)
            self.received += 1
        if self._on_message is not None:
            self._on_message()

    def take(self) -> list[M]:
        """The messages kept since the last take, oldest first; raises the first receive error, if any."""
        with self._lock:
            if self.errors:
                first, self.errors = self.errors[0], []
                raise ValueError(f"on {self.topic}: {first}")
            messages = list(self._messages)
            self._messages.clear()
        return messages

    def publisher_count(self) -> int:
        return self._sub.get_num_connections()

    def close(self) -> None:
        self._sub.unregister()
