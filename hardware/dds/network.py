"""Which network DDS may use: an explicit Cyclone DDS configuration, never Cyclone's default.

Cyclone DDS with no configuration picks a network interface by itself and sends discovery multicast onto it, so a
participant started "just to try" announces itself, and then talks, to every DDS participant on the LAN. The DDS
backend and the simulated arm node therefore refuse to start unless told which network to use:

- ``loopback``: this machine only (``loopback_config``): the lo interface, multicast off everywhere, unicast
  discovery to the peer 127.0.0.1 only, and DontRoute so nothing is sent through a gateway. For a simulated arm
  node on the same machine, and for tests (which also run inside a network namespace of their own).
- a Cyclone DDS XML configuration for the robot's network: a file path (``/etc/robot/cyclonedds.xml``), a
  ``file://`` URI, or the XML itself (text starting with ``<``). It is used as given: choosing its interface,
  peers and multicast is the robot network owner's decision.

``python -m hardware.dds.network`` prints the loopback configuration as a CYCLONEDDS_URI assignment, for Cyclone's
own tools (``cyclonedds ps``, ``cyclonedds subscribe``) run next to a loopback node.
"""

from __future__ import annotations

import shlex
from pathlib import Path

LOOPBACK = "loopback"


class DdsNetworkError(ValueError):
    """No usable network configuration was given; the message says what to pass instead."""


def loopback_config(max_participants: int = 10) -> str:
    """The Cyclone DDS configuration XML (usable as CYCLONEDDS_URI, or as a Domain's config) that keeps every
    participant on this machine's loopback interface: no multicast, unicast discovery to 127.0.0.1 only.

    max_participants: how many participants on this machine can find each other (ParticipantIndex auto assigns
    each one a port; discovery probes that many ports on 127.0.0.1).
    """
    if not 1 <= max_participants <= 120:
        raise ValueError(f"max_participants must be in 1..120, got {max_participants}")
    return (
        '<CycloneDDS xmlns="https://cdds.io/config"><Domain Id="any">'
        "<General>"
        '<Interfaces><NetworkInterface name="lo" multicast="false"/></Interfaces>'
        "<AllowMulticast>false</AllowMulticast>"
        "<DontRoute>true</DontRoute>"
        "</General>"
        "<Discovery>"
        "<ParticipantIndex>auto</ParticipantIndex>"
        f"<MaxAutoParticipantIndex>{max_participants - 1}</MaxAutoParticipantIndex>"
        '<Peers><Peer address="127.0.0.1"/></Peers>'
        "</Discovery>"
        "</Domain></CycloneDDS>"
    )


def resolve_network(network: str | None) -> str:
    """The Cyclone DDS configuration (XML text or a file:// URI) for ``network``: "loopback", a path to an XML file,
    a file:// URI or inline XML. Raises DdsNetworkError when none is given or the file does not exist."""
    how = ("pass dds.network=loopback (a simulated arm node on this machine: python -m hardware.dds.sim_node), "
           "or dds.network=/path/to/cyclonedds.xml, a Cyclone DDS configuration that names the robot network's "
           "interface and peers")
    if network is None or not str(network).strip():
        raise DdsNetworkError("the DDS backend needs an explicit network configuration: without one Cyclone DDS "
                              f"would multicast discovery onto the LAN. Fix: {how}")
    network = str(network).strip()
    if network == LOOPBACK:
        return loopback_config()
    if network.startswith("<"):
        if "CycloneDDS" not in network:
            raise DdsNetworkError(f"inline network configuration {network[:60]!r}... is not a <CycloneDDS> XML "
                                  f"document. Fix: {how}")
        return network
    path = Path(network.removeprefix("file://")).expanduser()
    if not path.is_file():
        raise DdsNetworkError(f"network configuration {network!r} is neither 'loopback' nor an existing Cyclone DDS "
                              f"XML file. Fix: {how}")
    return f"file://{path.resolve()}"


def describe_network(network: str | None) -> str:
    """A short name for a network setting, for messages: 'loopback', the file, or 'inline XML'."""
    if network is None:
        return "no network configuration"
    network = str(network).strip()
    return "inline XML configuration" if network.startswith("<") else network


def main() -> None:
    """Print the loopback configuration as a shell assignment of CYCLONEDDS_URI."""
    print(f"CYCLONEDDS_URI={shlex.quote(loopback_config())}")


if __name__ == "__main__":
    main()
