"""A fake rclpy and ROS 2 message packages, for testing hardware/ros2 where ROS 2 is not installed.

It models only the rclpy surface Ros2ArmDriver uses, with rclpy's signatures (Humble/Jazzy): ``rclpy.init`` /
``rclpy.shutdown`` on a ``rclpy.context.Context``, ``rclpy.node.Node`` (create_subscription(msg_type, topic,
callback, qos_profile), create_publisher(msg_type, topic, qos_profile), destroy_node), Publisher.publish (TypeError
for the wrong class) and get_subscription_count, ``rclpy.executors.SingleThreadedExecutor`` (add_node, spin,
shutdown), ``rclpy.qos`` (QoSProfile and the policy enums) and ``rclpy.signals.SignalHandlerOptions``. The message
classes check their fields as rosidl's generated setters do (unknown constructor arguments, float64[] only from
array.array('d') or a sequence of floats - never a numpy array -, uint8[] from array.array('B') or a sequence of
ints in 0..255, int ranges, bool, nested types).

``FakeRos2`` is the "network": ``deliver(topic, msg)`` queues a message for every live subscription on the topic and
its executor thread runs the callbacks (as rclpy's would), ``settle()`` waits until they ran, ``published`` is what
the driver's publishers sent, ``remote_subscribers[topic]`` how many subscribers a publisher on it sees.
"""

from __future__ import annotations

import array
import enum
import queue
import sys
import threading
import types
from collections.abc import Sequence

# --- messages ---------------------------------------------------------------------------------------------------------
_INT_RANGES = {"uint8": (0, 255), "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1)}


class _Msg:
    """A rosidl-generated message class: ``_fields`` maps each field to its ROS 2 type (a string, or a class for a
    nested message; ``[cls]`` for a sequence of them)."""

    _fields: dict = {}

    def __init__(self, **kwargs) -> None:
        assert all(key in self._fields for key in kwargs), \
            f"Invalid arguments passed to constructor: {', '.join(sorted(set(kwargs) - set(self._fields)))}"
        for name, kind in self._fields.items():
            if name in kwargs:
                setattr(self, name, kwargs[name])
            elif isinstance(kind, type):
                setattr(self, name, kind())
            elif isinstance(kind, list):
                setattr(self, name, [])
            else:
                setattr(self, name, {"string": "", "boolean": False, "uint8": 0, "int32": 0, "uint32": 0,
                                     "sequence<double>": array.array("d"), "sequence<uint8>": array.array("B"),
                                     "sequence<string>": []}.get(kind, []))

    def __setattr__(self, name: str, value) -> None:
        kind = self._fields[name]  # KeyError for an unknown field, as the generated __slots__ would refuse it
        if kind == "sequence<double>":
            if isinstance(value, array.array):
                assert value.typecode == "d", "The 'typecode' of the 'array.array' must be 'd'"
            else:
                assert isinstance(value, Sequence) and not isinstance(value, str) and \
                    all(isinstance(v, float) for v in value), \
                    f"The '{name}' field must be a set or sequence and each value of type 'float'"
                value = array.array("d", value)
        elif kind == "sequence<uint8>":  # rosidl: array.array('B') as it is, else every value checked
            if isinstance(value, array.array):
                assert value.typecode == "B", "The 'typecode' of the 'array.array' must be 'B'"
            else:
                assert isinstance(value, Sequence) and not isinstance(value, str) and \
                    all(isinstance(v, int) and 0 <= v < 256 for v in value), \
                    f"The '{name}' field must be a set or sequence and each value of type 'int' in [0, 255]"
                value = array.array("B", value)
        elif kind == "sequence<string>":
            assert isinstance(value, Sequence) and all(isinstance(v, str) for v in value), \
                f"The '{name}' field must be a set or sequence and each value of type 'str'"
            value = list(value)
        elif kind == "string":
            assert isinstance(value, str), f"The '{name}' field must be of type 'str'"
        elif kind == "boolean":
            assert isinstance(value, bool), f"The '{name}' field must be of type 'bool'"
        elif isinstance(kind, str) and kind in _INT_RANGES:
            lo, hi = _INT_RANGES[kind]
            assert isinstance(value, int) and lo <= value <= hi, f"The '{name}' field must be an {kind}"
        elif isinstance(kind, list):
            assert isinstance(value, Sequence) and all(isinstance(v, kind[0]) for v in value), \
                f"The '{name}' field must be a set or sequence and each value of type '{kind[0].__name__}'"
            value = list(value)
        else:
            assert isinstance(value, kind), f"The '{name}' field must be a sub message of type '{kind.__name__}'"
        object.__setattr__(self, name, value)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._fields)})"


def _msg(name: str, fields: dict) -> type:
    return type(name, (_Msg,), {"_fields": fields})


Time = _msg("Time", {"sec": "int32", "nanosec": "uint32"})
Duration = _msg("Duration", {"sec": "int32", "nanosec": "uint32"})
Header = _msg("Header", {"stamp": Time, "frame_id": "string"})
JointState = _msg("JointState", {"header": Header, "name": "sequence<string>", "position": "sequence<double>",
                                 "velocity": "sequence<double>", "effort": "sequence<double>"})
JointTrajectoryPoint = _msg("JointTrajectoryPoint", {
    "positions": "sequence<double>", "velocities": "sequence<double>", "accelerations": "sequence<double>",
    "effort": "sequence<double>", "time_from_start": Duration})
JointTrajectory = _msg("JointTrajectory", {"header": Header, "joint_names": "sequence<string>",
                                           "points": [JointTrajectoryPoint]})
MultiArrayDimension = _msg("MultiArrayDimension", {"label": "string", "size": "uint32", "stride": "uint32"})
MultiArrayLayout = _msg("MultiArrayLayout", {"dim": [MultiArrayDimension], "data_offset": "uint32"})
Float64MultiArray = _msg("Float64MultiArray", {"layout": MultiArrayLayout, "data": "sequence<double>"})
Bool = _msg("Bool", {"data": "boolean"})
Image = _msg("Image", {"header": Header, "height": "uint32", "width": "uint32", "encoding": "string",
                       "is_bigendian": "uint8", "step": "uint32", "data": "sequence<uint8>"})
CompressedImage = _msg("CompressedImage", {"header": Header, "format": "string", "data": "sequence<uint8>"})


# --- rclpy ------------------------------------------------------------------------------------------------------------
class ReliabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2


class DurabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2


class HistoryPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2


class SignalHandlerOptions(enum.Enum):
    NO = 0
    SIGINT = 1
    SIGTERM = 2
    ALL = 3


class QoSProfile:
    def __init__(self, **kwargs) -> None:
        assert "history" in kwargs or "depth" in kwargs, "QoSProfile needs a history or a depth"
        self.history = kwargs.pop("history", HistoryPolicy.KEEP_LAST)
        self.depth = kwargs.pop("depth", 0)
        self.reliability = kwargs.pop("reliability", ReliabilityPolicy.RELIABLE)
        self.durability = kwargs.pop("durability", DurabilityPolicy.VOLATILE)
        assert not kwargs, f"QoSProfile does not model {sorted(kwargs)}"


class Context:
    def __init__(self) -> None:
        self._ok = False
        self.domain_id = None

    def init(self, args=None, *, initialize_logging: bool = True, domain_id: int | None = None) -> None:
        if self._ok:
            raise RuntimeError("Context.init() must only be called once")
        self._ok, self.domain_id = True, domain_id

    def ok(self) -> bool:
        return self._ok

    def shutdown(self) -> None:
        if not self._ok:
            raise RuntimeError("Context must be initialized before it can be shutdown")
        self._ok = False

    def try_shutdown(self) -> None:
        self._ok = False


class FakeSubscription:
    def __init__(self, node, msg_type, topic, callback, qos_profile) -> None:
        self.node, self.msg_type, self.topic_name, self.callback, self.qos_profile = \
            node, msg_type, topic, callback, qos_profile
        self.destroyed = False


class FakePublisher:
    def __init__(self, node, msg_type, topic, qos_profile) -> None:
        self.node, self.msg_type, self.topic_name, self.qos_profile = node, msg_type, topic, qos_profile
        self.destroyed = False

    def publish(self, msg) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"Expected {self.msg_type}, got {type(msg)}")
        assert not self.destroyed and self.node.context.ok()
        self.node.world.published.append((self.topic_name, msg))

    def get_subscription_count(self) -> int:
        return self.node.world.remote_subscribers.get(self.topic_name, 0)


class Node:
    def __init__(self, node_name: str, *, context: Context | None = None, **_ignored) -> None:
        if context is None or not context.ok():
            raise RuntimeError("rclpy.init() has not been called")  # rclpy's NotInitializedException
        self.world: FakeRos2 = FakeRos2.current
        self.name, self.context = node_name, context
        self.subscriptions: list[FakeSubscription] = []
        self.publishers: list[FakePublisher] = []
        self.destroyed = False
        self.world.nodes.append(self)

    def get_name(self) -> str:
        return self.name

    def create_subscription(self, msg_type, topic, callback, qos_profile, *, callback_group=None,
                            event_callbacks=None, qos_overriding_options=None, raw=False) -> FakeSubscription:
        sub = FakeSubscription(self, msg_type, topic, callback, qos_profile)
        self.subscriptions.append(sub)
        return sub

    def create_publisher(self, msg_type, topic, qos_profile, *, callback_group=None, event_callbacks=None,
                         qos_overriding_options=None, publisher_class=None) -> FakePublisher:
        pub = FakePublisher(self, msg_type, topic, qos_profile)
        self.publishers.append(pub)
        return pub

    def destroy_subscription(self, sub: FakeSubscription) -> bool:
        sub.destroyed = True
        return True

    def destroy_publisher(self, pub: FakePublisher) -> bool:
        pub.destroyed = True
        return True

    def destroy_node(self) -> None:
        for endpoint in (*self.subscriptions, *self.publishers):
            endpoint.destroyed = True
        self.destroyed = True


class SingleThreadedExecutor:
    def __init__(self, *, context: Context | None = None) -> None:
        self.context = context
        self.nodes: list[Node] = []
        self.spin_threads: list[threading.Thread] = []
        self._shutdown = False
        self._queue: queue.Queue = queue.Queue()
        FakeRos2.current.executors.append(self)

    def add_node(self, node: Node) -> bool:
        self.nodes.append(node)
        return True

    def spin(self) -> None:
        """Run callbacks for delivered messages until shutdown() or the context shuts down."""
        self.spin_threads.append(threading.current_thread())
        while self.context.ok() and not self._shutdown:
            try:
                sub, msg = self._queue.get(timeout=0.01)
            except queue.Empty:
                continue
            try:
                if not sub.destroyed:
                    sub.callback(msg)
            finally:
                self._queue.task_done()

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        self._shutdown = True
        return True


def init(*, args=None, context: Context | None = None, domain_id: int | None = None,
         signal_handler_options: SignalHandlerOptions | None = None) -> None:
    world = FakeRos2.current
    if context is None:
        raise AssertionError("the fake models only an explicit context: the driver must not init the default one")
    context.init(args, domain_id=domain_id)
    world.inits.append({"context": context, "domain_id": domain_id, "signal_handler_options": signal_handler_options})


def shutdown(*, context: Context | None = None, uninstall_handlers: bool | None = None) -> None:
    if context is None:
        raise AssertionError("the fake models only an explicit context: the driver must not shut the default one")
    context.shutdown()
    FakeRos2.current.shutdowns.append(context)


# --- the "network" and sys.modules ----------------------------------------------------------------------------------
class FakeRos2:
    """What the fake rclpy nodes of one test share; see the module docstring."""

    current: FakeRos2

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.executors: list[SingleThreadedExecutor] = []
        self.inits: list[dict] = []
        self.shutdowns: list[Context] = []
        self.published: list[tuple[str, _Msg]] = []
        self.remote_subscribers: dict[str, int] = {}

    def subscriptions(self, topic: str | None = None) -> list[FakeSubscription]:
        """The live subscriptions of every node (on ``topic``)."""
        return [s for n in self.nodes for s in n.subscriptions
                if not s.destroyed and (topic is None or s.topic_name == topic)]

    def deliver(self, topic: str, msg: _Msg) -> int:
        """Queue ``msg`` for every live subscription of its type on ``topic``, on the executor of the subscription's
        node; how many will get it."""
        count = 0
        for ex in self.executors:
            for node in ex.nodes:
                for sub in node.subscriptions:
                    if not sub.destroyed and sub.topic_name == topic and isinstance(msg, sub.msg_type):
                        ex._queue.put((sub, msg))
                        count += 1
        return count

    def settle(self) -> None:
        """Wait until every delivered message's callback ran."""
        for ex in self.executors:
            ex._queue.join()

    def modules(self) -> dict[str, types.ModuleType]:
        def module(name: str, **attrs) -> types.ModuleType:
            mod = types.ModuleType(name)
            mod.__dict__.update(attrs)
            return mod

        fakes = {
            "rclpy.context": module("rclpy.context", Context=Context),
            "rclpy.node": module("rclpy.node", Node=Node),
            "rclpy.executors": module("rclpy.executors", SingleThreadedExecutor=SingleThreadedExecutor),
            "rclpy.qos": module("rclpy.qos", QoSProfile=QoSProfile, ReliabilityPolicy=ReliabilityPolicy,
                                DurabilityPolicy=DurabilityPolicy, HistoryPolicy=HistoryPolicy),
            "rclpy.signals": module("rclpy.signals", SignalHandlerOptions=SignalHandlerOptions),
            "builtin_interfaces.msg": module("builtin_interfaces.msg", Time=Time, Duration=Duration),
            "std_msgs.msg": module("std_msgs.msg", Header=Header, Bool=Bool, Float64MultiArray=Float64MultiArray,
                                   MultiArrayLayout=MultiArrayLayout, MultiArrayDimension=MultiArrayDimension),
            "sensor_msgs.msg": module("sensor_msgs.msg", JointState=JointState, Image=Image,
                                      CompressedImage=CompressedImage),
            "trajectory_msgs.msg": module("trajectory_msgs.msg", JointTrajectory=JointTrajectory,
                                          JointTrajectoryPoint=JointTrajectoryPoint),
        }
        rclpy = module("rclpy", init=init, shutdown=shutdown, __path__=[])
        for sub in ("context", "node", "executors", "qos", "signals"):
            setattr(rclpy, sub, fakes[f"rclpy.{sub}"])
        fakes["rclpy"] = rclpy
        for package in ("builtin_interfaces", "std_msgs", "sensor_msgs", "trajectory_msgs"):
            fakes[package] = module(package, msg=fakes[f"{package}.msg"], __path__=[])
        return fakes


def install(monkeypatch) -> FakeRos2:
    """Put a fresh fake rclpy and message packages into sys.modules for one test (undone by ``monkeypatch``)."""
    world = FakeRos2()
    FakeRos2.current = world
    for name, mod in world.modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    return world
