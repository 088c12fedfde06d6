"""Clocks for the control loop: the wall clock on hardware, a manual clock for tests and lockstep simulation.

Every time in the hardware layer (state stamps, trajectory stamps, deadlines) is float seconds in one clock's time
base; drivers stamp their states with the same clock the loop reads, so ages and latencies are plain differences.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What the control loop needs from time: read it, and wait until a deadline."""

    def now(self) -> float:
        """Current time in seconds."""
        ...

    def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (at once if the deadline has passed)."""
        ...


class WallClock:
    """Seconds since the epoch (``time.time``), the time base ROS stamps use when not in simulated time."""

    def now(self) -> float:
        return time.time()

    def sleep_until(self, deadline: float) -> None:
        while (remaining := deadline - time.time()) > 0:
            time.sleep(remaining)


class ManualClock:
    """Time that moves only when told: ``advance(s)``, or ``sleep_until`` jumping straight to the deadline.

    With it a simulated arm runs in lockstep with the loop (the world waits while the policy thinks), and tests
    make inference "slow" or a state "stale" by advancing it, with no real waiting.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back; advance({seconds}) was asked")
        self._now += seconds

    def sleep_until(self, deadline: float) -> None:
        self._now = max(self._now, float(deadline))
