"""What presses the e-stop besides a policy hook: the keyboard reader, signal handlers (hardware/estop_triggers.py),
and the topic drivers' e-stop topic latch (hardware/topic_driver.py, over a fake in-memory transport; the real DDS
and ROS 1 transports are exercised in dds_scenario.py / ros1_scenario.py)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from hardware.clock import WallClock
from hardware.estop_triggers import (
    EStopTriggerConfig,
    KeyboardEStop,
    estop_signals,
    estop_triggers,
    keyboard_fd,
)
from hardware.messages import Bool, Float64MultiArray, Header, JointState, Message, Time
from hardware.safety import EStop
from hardware.topic_driver import ESTOP_KEEP, TopicArmDriver
from tests.hardware.stubs import pusht_robot


def wait_until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            return False
        time.sleep(0.005)
    return True


# --- the keyboard ---------------------------------------------------------------------------------------------------
def test_a_line_e_or_estop_presses_and_other_lines_are_ignored():
    button = EStop()
    reader = KeyboardEStop(button, fd=-1, echo=lambda _: None)
    for line in ("x", "", "stop", "e-stop", "ee", "please estop"):
        assert not reader.handle_line(line) and not button.pressed
    assert reader.handle_line("  E \n") and button.pressed and button.reason == "keyboard: operator typed 'E'"
    other = EStop()
    assert KeyboardEStop(other, fd=-1, echo=lambda _: None).handle_line("EStop") and other.pressed


def test_the_reader_thread_presses_on_a_piped_e_and_stops_when_asked():
    button = EStop()
    read_end, write_end = os.pipe()
    lines: list[str] = []
    reader = KeyboardEStop(button, read_end, poll_s=0.02, echo=lines.append)
    try:
        reader.start()
        assert reader.thread.daemon and "type e (or estop) and Enter" in lines[0]
        os.write(write_end, b"x\n")
        time.sleep(0.1)
        assert not button.pressed  # "x" is no e-stop
        os.write(write_end, b"E\n")
        assert wait_until(lambda: button.pressed) and button.reason == "keyboard: operator typed 'E'"
        reader.stop()
        assert wait_until(lambda: not reader.thread.is_alive(), 2.0)  # it stops at its next poll; nobody joins it
    finally:
        reader.stop()
        os.close(write_end)
        os.close(read_end)


def test_the_keyboard_is_on_for_a_terminal_only_unless_forced():
    read_end, write_end = os.pipe()
    try:
        assert keyboard_fd("auto", read_end) is None  # a pipe is no terminal
        assert keyboard_fd(True, read_end) == read_end and keyboard_fd(False, read_end) is None
        assert keyboard_fd("auto", None) is None
        with pytest.raises(ValueError, match="stdin has no file descriptor"):
            keyboard_fd(True, None)
    finally:
        os.close(read_end)
        os.close(write_end)


# --- signals --------------------------------------------------------------------------------------------------------
def test_a_signal_presses_the_estop_and_the_previous_handler_comes_back():
    seen: list[int] = []

    def previous(signum, frame):
        seen.append(signum)

    old = signal.signal(signal.SIGUSR1, previous)
    try:
        button = EStop()
        with estop_signals(button, (signal.SIGUSR1,)) as installed:
            assert installed == [signal.SIGUSR1]
            os.kill(os.getpid(), signal.SIGUSR1)
            assert wait_until(lambda: button.pressed)
        assert button.reason == "signal SIGUSR1 received" and seen == []
        assert signal.getsignal(signal.SIGUSR1) is previous
        with pytest.raises(RuntimeError), estop_signals(EStop(), (signal.SIGUSR1,)):
            raise RuntimeError("the run failed")
        assert signal.getsignal(signal.SIGUSR1) is previous  # restored on an exception too
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_handlers_are_installed_only_from_the_main_thread():
    outcome: dict = {}

    def run() -> None:
        with estop_signals(EStop(), (signal.SIGUSR1,), echo=lambda line: outcome.setdefault("said", line)) as installed:
            outcome["installed"] = installed

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome["installed"] == [] and "not running in the main thread" in outcome["said"]


def test_the_triggers_config():
    assert EStopTriggerConfig.from_dict(None) == EStopTriggerConfig(signals=(signal.SIGUSR1,), keyboard="auto")
    config = EStopTriggerConfig.from_dict({"signals": ["usr2", "SIGTERM"], "keyboard": False})
    assert config.signals == (signal.SIGUSR2, signal.SIGTERM) and config.keyboard is False
    assert EStopTriggerConfig.from_dict({"signals": []}).signals == ()
    for bad, message in (({"signals": ["SIGINT"]}, "SIGINT is Ctrl-C"), ({"signals": ["SIGKILL"]}, "cannot catch"),
                         ({"signals": ["SIGNOPE"]}, "cannot catch"), ({"signals": "SIGUSR1"}, "must be a list"),
                         ({"keyboard": "yes"}, "auto, true or false"), ({"key": 1}, r"unknown estop option")):
        with pytest.raises(ValueError, match=message.replace("cannot catch", "not a signal a handler can catch")):
            EStopTriggerConfig.from_dict(bad)


def test_the_triggers_together_wire_signals_and_a_forced_keyboard_and_undo_both():
    before = signal.getsignal(signal.SIGUSR2)
    read_end, write_end = os.pipe()
    lines: list[str] = []
    button = EStop()
    try:
        config = EStopTriggerConfig(signals=(signal.SIGUSR2,), keyboard=True)
        with estop_triggers(button, config, fd=read_end, echo=lines.append):
            assert signal.getsignal(signal.SIGUSR2) is not before
            os.write(write_end, b"estop\n")
            assert wait_until(lambda: button.pressed)
        assert signal.getsignal(signal.SIGUSR2) is before and button.reason == "keyboard: operator typed 'estop'"
        assert any("kill -USR2" in line for line in lines) and any("type e (or estop)" in line for line in lines)
    finally:
        os.close(write_end)
        os.close(read_end)


# --- the topic drivers' e-stop topic ----------------------------------------------------------------------------------
class _Sub:
    def __init__(self, name: str, keep: int, queue: list) -> None:
        self.name, self.keep, self.queue = name, keep, queue

    def take(self) -> list:
        out, self.queue = self.queue[-self.keep:], []
        return out


class _Pub:
    def __init__(self, name: str, msg_type: type[Message]) -> None:
        self.name, self.msg_type, self.published = name, msg_type, []

    def publish(self, msg: Message) -> None:
        self.published.append(msg)

    def subscriber_count(self) -> int:
        return 1


class FakeTopicDriver(TopicArmDriver):
    """TopicArmDriver over in-memory topics: a joint state and an object pose are waiting at connect."""

    def __init__(self, robot) -> None:
        self.subs: dict[str, _Sub] = {}
        self._open_now = False
        super().__init__(robot, clock=WallClock())

    def _open(self) -> None:
        self._open_now = True

    def _is_open(self) -> bool:
        return self._open_now

    def _subscribe(self, topic: str, msg_type: type[Message], *, keep: int = 1) -> _Sub:
        state = JointState(header=Header(stamp=Time(sec=int(time.time()))), name=["pusher_x", "pusher_y"],
                           position=[0.0, 0.0])
        waiting = {JointState: [state], Float64MultiArray: [Float64MultiArray(data=[0.0, 0.0, 1.0, 0.0])]}
        sub = self.subs[topic] = _Sub(topic, keep, waiting.get(msg_type, []))
        return sub

    def _publisher(self, topic: str, msg_type: type[Message]) -> _Pub:
        return _Pub(topic, msg_type)

    def _wait(self, timeout_s: float) -> None:
        pass

    def _close(self) -> None:
        self._open_now = False

    def _where(self) -> str:
        return ""


def test_true_on_the_estop_topic_latches_false_does_nothing_and_no_topic_means_never():
    driver = FakeTopicDriver(pusht_robot(estop_topic="/estop"))
    driver.connect()
    estop_sub = driver.subs["/estop"]
    assert estop_sub.keep == ESTOP_KEEP  # every message since the last poll is looked at, not only the newest
    assert driver.estop_requested() is None
    estop_sub.queue += [Bool(data=False), Bool(data=False)]
    assert driver.estop_requested() is None
    estop_sub.queue += [Bool(data=True), Bool(data=False)]  # a True followed at once by a False still counts
    assert driver.estop_requested() == "e-stop topic /estop: std_msgs/Bool True received"
    estop_sub.queue += [Bool(data=False)]
    assert driver.estop_requested() == "e-stop topic /estop: std_msgs/Bool True received"  # latched
    driver.close()
    assert driver.estop_requested() is not None  # still latched after close
    plain = FakeTopicDriver(pusht_robot(estop_topic=None))
    plain.connect()
    assert "/estop" not in plain.subs and plain.estop_requested() is None
    plain.close()
