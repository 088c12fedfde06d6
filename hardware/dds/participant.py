"""One DDS participant speaking ROS 2's conventions: a domain opened with an explicit network configuration, ROS 2
topic names mapped to DDS ("rt" + topic), ROS 2's default QoS, and readers/writers of hardware.messages.

A process opens each DDS domain once, with one configuration (Cyclone refuses a second dds_create_domain for the
same id); participants share it and the last one to close deletes it. Entities are deleted when ``close`` is
called, not whenever the garbage collector gets to them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

from cyclonedds._clayer import ddspy_take, ddspy_write
from cyclonedds.core import DDSException, Entity, InstanceState, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from hardware.dds.convert import RAW_CDR_TYPES, from_idl, idl_type, to_idl
from hardware.messages import Message, cdr
from hardware.ros2.names import ros2_topic_name

M = TypeVar("M", bound=Message)

# ROS 2's default profile (rmw_qos_profile_default): reliable, volatile, keep the last 10. Commands go out with it,
# as a ROS 2 node's publishers would; a joint_trajectory_controller's subscription is reliable too.
RELIABLE = Qos(Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)), Policy.Durability.Volatile,
               Policy.History.KeepLast(10))
# For state-like topics where only the newest sample matters: best effort readers match reliable and best-effort
# (sensor data) publishers alike, and keeping one sample makes "take" return the newest.
LATEST = Qos(Policy.Reliability.BestEffort, Policy.Durability.Volatile, Policy.History.KeepLast(1))


def latest(keep: int = 1) -> Qos:
    """LATEST keeping the newest ``keep`` samples between takes (for a topic where no message may be missed, such as
    an e-stop, while still matching best-effort publishers)."""
    return LATEST if keep == 1 else Qos(Policy.Reliability.BestEffort, Policy.Durability.Volatile,
                                        Policy.History.KeepLast(keep))


def dds_topic_name(ros_topic: str) -> str:
    """The DDS topic of a ROS 2 topic, as rmw_cyclonedds names it: "rt" + the fully qualified name
    ("/joint_states" -> "rt/joint_states"; a relative name is taken as in the root namespace)."""
    return "rt" + ros2_topic_name(ros_topic)


@dataclass
class _OpenDomain:
    domain: Domain
    config: str
    users: int


_DOMAINS: dict[int, _OpenDomain] = {}
_DOMAINS_LOCK = threading.Lock()


def _delete_now(entity: Entity) -> None:
    """Delete a DDS entity now (what cyclonedds otherwise does when the Python object is garbage collected)."""
    entity.__del__()
    if isinstance(entity, WaitSet):
        entity.attached.clear()  # so that its own __del__, at garbage collection, has nothing left to detach


def _acquire_domain(domain_id: int, config: str, network_name: str) -> None:
    with _DOMAINS_LOCK:
        open_domain = _DOMAINS.get(domain_id)
        if open_domain is not None:
            if open_domain.config != config:
                raise RuntimeError(f"DDS domain {domain_id} is already open in this process with another network "
                                   f"configuration; use the same network ({network_name}) for every participant of a "
                                   "process, or another domain id")
            open_domain.users += 1
            return
        try:
            domain = Domain(domain_id, config)
        except DDSException as exc:
            raise RuntimeError(f"Cyclone DDS refused the network configuration {network_name} for domain {domain_id} "
                               f"({exc}); check the XML against https://cyclonedds.io/docs (a wrong interface name is "
                               "the usual cause)") from exc
        _DOMAINS[domain_id] = _OpenDomain(domain, config, 1)


def _release_domain(domain_id: int) -> None:
    with _DOMAINS_LOCK:
        open_domain = _DOMAINS.get(domain_id)
        if open_domain is None:
            return
        open_domain.users -= 1
        if open_domain.users == 0:
            del _DOMAINS[domain_id]
            _delete_now(open_domain.domain)


def _padded(data: bytes) -> bytes:
    """CDR bytes padded with zeros to a multiple of 4, as cyclonedds' own writer hands them to the C layer."""
    return data + bytes(-len(data) % 4)


class Publisher(Generic[M]):
    """Writes hardware.messages of one type to one ROS 2 topic. Images (RAW_CDR_TYPES) are written as the bytes
    of hardware.messages.cdr straight to the C layer, skipping cyclonedds' per-element Python serializer: the same
    bytes it would produce (checked in tests/hardware/test_dds.py), for a 640x480 RGB frame under 1 ms instead of ~26."""

    def __init__(self, participant: DdsParticipant, ros_topic: str, msg_type: type[M], qos: Qos) -> None:
        self.ros_topic, self.dds_topic, self.msg_type = ros_topic, dds_topic_name(ros_topic), msg_type
        self.name = self.dds_topic  # the topic as the driver's messages name it
        topic = participant._topic(self.dds_topic, msg_type)
        self._writer = participant._own(DataWriter(participant._dp, topic, qos=qos))
        self._raw = msg_type in RAW_CDR_TYPES

    def publish(self, msg: M) -> None:
        """Send one message (TypeError if it is not this publisher's type)."""
        if not isinstance(msg, self.msg_type):
            raise TypeError(f"{self.dds_topic} carries {self.msg_type.__name__}, got a {type(msg).__name__}")
        if not self._raw:
            self._writer.write(to_idl(msg))
            return
        ret = ddspy_write(self._writer._ref, _padded(cdr.serialize(msg)))
        if ret < 0:
            raise DDSException(ret, f"writing a {self.msg_type.__name__} on {self.dds_topic}")

    def wait_for_acks(self, timeout_s: float) -> bool:
        """Block until every matched reliable subscriber acknowledged what was published, at most ``timeout_s``."""
        try:
            return self._writer.wait_for_acks(duration(seconds=timeout_s))
        except AttributeError:  # cyclonedds 11.0.1 looks up its timeout code on the builtin Exception when timing out
            return False

    def subscriber_count(self) -> int:
        """How many matched subscriptions (same topic name, type and compatible QoS) this publisher reaches."""
        return self._writer.get_publication_matched_status().current_count


class Subscription(Generic[M]):
    """Receives hardware.messages of one type from one ROS 2 topic; ``take`` hands out what arrived since. Images
    (RAW_CDR_TYPES) are taken as bytes and decoded by hardware.messages.cdr, not cyclonedds' Python deserializer."""

    def __init__(self, participant: DdsParticipant, ros_topic: str, msg_type: type[M], qos: Qos) -> None:
        self.ros_topic, self.dds_topic, self.msg_type = ros_topic, dds_topic_name(ros_topic), msg_type
        self.name = self.dds_topic  # the topic as the driver's messages name it
        self._idl_type = idl_type(msg_type)
        topic = participant._topic(self.dds_topic, msg_type)
        self._reader = participant._own(DataReader(participant._dp, topic, qos=qos))
        self._condition = participant._own(
            ReadCondition(self._reader, SampleState.Any | ViewState.Any | InstanceState.Any))
        participant._waitset.attach(self._condition)

    def take(self, max_samples: int = 64) -> list[M]:
        """The messages received since the last call, oldest first (none: an empty list). Notifications without
        data (a publisher went away) are dropped."""
        if self.msg_type in RAW_CDR_TYPES:
            return [cdr.deserialize(data, self.msg_type) for data in self.take_serialized(max_samples)]
        samples = self._reader.take(N=max_samples)
        return [from_idl(s) for s in samples if isinstance(s, self._idl_type)]  # type: ignore[misc]

    def take_serialized(self, max_samples: int = 64) -> list[bytes]:
        """Like ``take``, but the samples' bytes as they arrived (CDR with its encapsulation header, padded to a
        multiple of 4), not deserialized: what went over the wire (through cyclonedds' own C-layer take)."""
        mask = SampleState.Any | ViewState.Any | InstanceState.Any
        return [bytes(data) for data, info in ddspy_take(self._reader._ref, mask, max_samples) if info.valid_data]

    def publisher_count(self) -> int:
        """How many matched publishers this subscription hears from."""
        return self._reader.get_subscription_matched_status().current_count


class DdsParticipant:
    """A DDS participant on ``domain_id`` (ROS_DOMAIN_ID), its domain opened with ``config`` (hardware/dds/network.py
    resolve_network). Create publishers and subscriptions from it; ``close`` deletes them all."""

    def __init__(self, config: str, domain_id: int = 0, *, network_name: str = "the given network") -> None:
        if not 0 <= domain_id <= 232:
            raise ValueError(f"domain_id must be in 0..232 (ROS_DOMAIN_ID), got {domain_id}")
        self.domain_id = domain_id
        self._entities: list[Entity] = []
        self._topics: dict[str, Topic] = {}
        self._closed = False
        _acquire_domain(domain_id, config, network_name)
        try:
            self._dp = self._own(DomainParticipant(domain_id))
            self._waitset = self._own(WaitSet(self._dp))
        except DDSException as exc:
            self.close()
            raise RuntimeError(f"could not create a DDS participant on domain {domain_id} with {network_name} ({exc}); "
                               "is the configured interface up? (a fresh network namespace needs `ip link set lo "
                               "up`)") from exc

    def _own(self, entity: Entity) -> Entity:
        self._entities.append(entity)
        return entity

    def _topic(self, dds_topic: str, msg_type: type[Message]) -> Topic:
        topic = self._topics.get(dds_topic)
        if topic is None:
            topic = self._topics[dds_topic] = self._own(Topic(self._dp, dds_topic, idl_type(msg_type)))
        elif topic.data_type is not idl_type(msg_type):
            raise ValueError(f"topic {dds_topic} is already used with {topic.data_type.__name__} in this participant, "
                             f"not {msg_type.__name__}")
        return topic

    def publisher(self, ros_topic: str, msg_type: type[M], qos: Qos = RELIABLE) -> Publisher[M]:
        """A publisher of ``msg_type`` on the ROS 2 topic ``ros_topic`` (default QoS: ROS 2's default profile)."""
        return Publisher(self, ros_topic, msg_type, qos)

    def subscription(self, ros_topic: str, msg_type: type[M], qos: Qos = LATEST) -> Subscription[M]:
        """A subscription to ``msg_type`` on the ROS 2 topic ``ros_topic`` (default QoS: best effort, newest only)."""
        return Subscription(self, ros_topic, msg_type, qos)

    def wait(self, timeout_s: float) -> bool:
        """Block until any subscription of this participant has something to take, or ``timeout_s`` passes; True if
        something arrived."""
        if timeout_s <= 0:
            return False
        return self._waitset.wait(duration(seconds=timeout_s)) > 0

    def close(self) -> None:
        """Delete every entity this participant made, then the participant; release the domain. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for entity in reversed(self._entities):
            _delete_now(entity)
        self._entities.clear()
        self._topics.clear()
        _release_domain(self.domain_id)
