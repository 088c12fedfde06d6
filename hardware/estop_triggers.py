"""What presses the deploy's e-stop button (hardware/safety.py EStop) besides the robot's e-stop topic: signals and
the keyboard. conf/deploy.yaml's ``estop`` section configures both; ``estop_triggers`` wires them for one run.

- Signals (``estop.signals``, default ``[SIGUSR1]``): each one presses the e-stop, naming the signal
  (``kill -USR1 <pid>``). Handlers are installed only from the main thread (Python allows no other) and the
  previous handlers are put back when the run ends, however it ends. SIGINT is refused: Ctrl-C keeps its meaning,
  a KeyboardInterrupt that ends the run as "interrupted" with the arm told to hold.
- Keyboard (``estop.keyboard``, default ``auto``: on only when stdin is a terminal; ``true`` forces it on for any
  readable stdin, ``false`` turns it off): a daemon thread reads stdin lines, and a line ``e`` or ``estop`` (any case,
  surrounding blanks ignored) presses the e-stop. It reads the file descriptor directly (no lock of sys.stdin's
  buffer that interpreter shutdown could trip over), is never joined, and stops reading when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hardware.safety import EStop

ESTOP_OPTIONS = ("signals", "keyboard")
ESTOP_WORDS = ("e", "estop")
DEFAULT_SIGNALS = ("SIGUSR1",)
_UNCATCHABLE = ("SIGKILL", "SIGSTOP")


@dataclass(frozen=True)
class EStopTriggerConfig:
    """conf/deploy.yaml's ``estop`` section, validated: the signals that press the e-stop and the keyboard mode
    ("auto", True or False)."""

    signals: tuple[signal.Signals, ...] = ()
    keyboard: bool | str = "auto"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EStopTriggerConfig:
        """Parse the section (None or absent keys: the defaults); ValueError names the key and what it takes."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(ESTOP_OPTIONS))
        if unknown:
            raise ValueError(f"unknown estop option(s) {unknown}; the estop section takes {', '.join(ESTOP_OPTIONS)}")
        names = data.get("signals", list(DEFAULT_SIGNALS))
        if names is None:
            names = []
        if not isinstance(names, (list, tuple)):
            raise ValueError(f"estop.signals must be a list of signal names such as [SIGUSR1], got {names!r}")
        signals = []
        for name in names:
            full = str(name).upper()
            full = full if full.startswith("SIG") else "SIG" + full
            if full == "SIGINT":
                raise ValueError("estop.signals: SIGINT is Ctrl-C, which stops the run with hold (status "
                                 "'interrupted'); use another signal, e.g. SIGUSR1")
            if full in _UNCATCHABLE or full not in signal.Signals.__members__:
                raise ValueError(f"estop.signals: {name!r} is not a signal a handler can catch; use e.g. SIGUSR1")
            signals.append(signal.Signals[full])
        keyboard = data.get("keyboard", "auto")
        if keyboard not in (True, False, "auto"):
            raise ValueError(f"estop.keyboard must be auto, true or false, got {keyboard!r}")
        return cls(signals=tuple(dict.fromkeys(signals)), keyboard=keyboard)


@contextlib.contextmanager
def estop_signals(estop: EStop, signals: tuple[signal.Signals, ...],
                  echo: Callable[[str], None] = print) -> Iterator[list[signal.Signals]]:
    """While inside, each of ``signals`` presses ``estop`` with a reason naming it; the previous handlers come back on
    the way out (also on an exception). Yields the signals actually installed: none outside the main thread, and
    none whose current handler was not set from Python (it could not be put back)."""
    if signals and threading.current_thread() is not threading.main_thread():
        echo("[deploy] e-stop signals not installed: deploy is not running in the main thread")
        signals = ()
    previous: dict[signal.Signals, Any] = {}

    def press(signum: int, _frame: Any) -> None:
        estop.press(f"signal {signal.Signals(signum).name} received")

    try:
        for sig in signals:
            handler = signal.getsignal(sig)
            if handler is None:
                echo(f"[deploy] e-stop on {sig.name} not installed: its handler was not set from Python")
                continue
            signal.signal(sig, press)
            previous[sig] = handler
        yield list(previous)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class KeyboardEStop:
    """Presses ``estop`` when a line ``e`` or ``estop`` (any case, blanks stripped) is read from file descriptor
    ``fd``; other lines are ignored. ``start`` runs the reader on a daemon thread; ``stop`` asks it to stop at its
    next poll (every ``poll_s``) and never waits for it."""

    def __init__(self, estop: EStop, fd: int, *, poll_s: float = 0.2, echo: Callable[[str], None] = print) -> None:
        self.estop, self.fd, self.poll_s, self.echo = estop, fd, poll_s, echo
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    def handle_line(self, line: str) -> bool:
        """Press the e-stop if ``line`` asks for it; True if it did."""
        word = line.strip().lower()
        if word not in ESTOP_WORDS:
            return False
        self.estop.press(f"keyboard: operator typed {line.strip()!r}")
        self.echo("[deploy] e-stop pressed from the keyboard")
        return True

    def start(self) -> None:
        """Tell the operator how to e-stop, and start reading on a daemon thread."""
        self.echo("[deploy] e-stop: type e (or estop) and Enter; Ctrl-C stops the run with hold")
        self.thread = threading.Thread(target=self._read, name="keyboard-estop", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop reading at the next poll; does not wait (the thread is a daemon)."""
        self._stop.set()

    def _read(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], self.poll_s)
                if self._stop.is_set():
                    return
                if not ready:
                    continue
                data = os.read(self.fd, 1024)
            except (OSError, ValueError):  # the descriptor went away: nothing more to read
                return
            if not data:  # end of input
                if pending:
                    self.handle_line(pending.decode(errors="replace"))
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.handle_line(line.decode(errors="replace"))


def stdin_fd() -> int | None:
    """sys.stdin's file descriptor, or None when it has none (closed, replaced by a test runner)."""
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (AttributeError, OSError, ValueError):
        return None


def keyboard_fd(mode: bool | str, fd: int | None) -> int | None:
    """The descriptor the keyboard reader should read for ``estop.keyboard`` = ``mode``, or None for no reader:
    auto reads only a terminal; true any descriptor (ValueError without one); false none."""
    if mode is False:
        return None
    if mode == "auto":
        return fd if fd is not None and os.isatty(fd) else None
    if fd is None:
        raise ValueError("estop.keyboard: true, but stdin has no file descriptor to read")
    return fd


@contextlib.contextmanager
def estop_triggers(estop: EStop, config: EStopTriggerConfig, *, fd: int | None = None,
                   echo: Callable[[str], None] = print) -> Iterator[None]:
    """While inside, the configured signals and (per config.keyboard, reading ``fd``, default stdin) the keyboard
    press ``estop``; everything is undone on the way out (handlers restored, the reader told to stop)."""
    read_fd = keyboard_fd(config.keyboard, stdin_fd() if fd is None else fd)
    with estop_signals(estop, config.signals, echo) as installed:
        if installed:
            echo(f"[deploy] e-stop: kill -{installed[0].name.removeprefix('SIG')} {os.getpid()}")
        reader = KeyboardEStop(estop, read_fd, echo=echo) if read_fd is not None else None
        if reader is not None:
            reader.start()
        try:
            yield
        finally:
            if reader is not None:
                reader.stop()
