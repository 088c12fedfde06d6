"""A JSON-lines record of every command the control loop sends (or, in a dry run, would send), for replay.

One object per line. A command::

    {"tick": 4, "kind": "trajectory", "wall": 1764100000.12, "clock": 0.4, "obs_stamp": 0.4, "start_stamp": 0.5,
     "dt": 0.1, "joints": ["pusher_x", "pusher_y"], "positions": [[...], ...], "dropped": 0, "clamped": 0,
     "dry_run": false}

``kind`` is "trajectory" (``positions`` is a list of points, point k due at ``start_stamp + k * dt``) or "setpoint"
(``positions`` is one point; ``start_stamp`` is null). ``wall`` is wall-clock time (time.time), ``clock`` the loop's
clock. ``clamped``: joint values moved onto a position limit (robot ``position_limits: clamp``). A run that ends on a
fault or an e-stop gets one last line of kind "fault" or "estop" with the fault record (check, reason, joint or
axis, step, value, limit). Each line is flushed when written, so a crash keeps everything before it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np


def _plain(value: Any) -> Any:
    """A JSON-safe value: arrays become lists, non-finite floats become strings ("nan", "inf")."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


class CommandLog:
    """Writes one JSON object per line to ``path`` (created with its folder; an existing file is replaced)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise OSError(f"cannot write the deploy command log at {self.path} ({exc}); set log_path to a writable "
                          "file, or log_path=null to run without a log") from exc
        self.lines = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (``wall`` is added when missing) and flush it."""
        if self._file is None:
            raise ValueError(f"the command log {self.path} is closed")
        record = {"wall": time.time(), **record}
        self._file.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")
        self._file.flush()
        self.lines += 1

    def close(self) -> None:
        """Close the file (again is fine)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CommandLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a command log, in order (for replay and tests)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


COMMAND_KINDS = ("trajectory", "setpoint")


def command_timing(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """End-to-end latencies (seconds, on the loop clock) of the commands in a log (``read_log``); dry-run lines and
    fault / e-stop lines are left out.

    stamp_to_send_s: per command, from the stamp of the state it was computed from to the moment the driver had
    accepted it (``clock - obs_stamp``; ``clock`` is read after the send). stamp_to_start_s: per trajectory, from
    that stamp to its first point's due time (``start_stamp - obs_stamp``: one tick when no point was dropped).
    With the in-process sim in simulated time both are the simulated values (the world waits for the policy).
    """
    sent = [r for r in records if r.get("kind") in COMMAND_KINDS and not r.get("dry_run")]
    return {
        "stamp_to_send_s": [float(r["clock"]) - float(r["obs_stamp"]) for r in sent],
        "stamp_to_start_s": [float(r["start_stamp"]) - float(r["obs_stamp"]) for r in sent
                             if r.get("start_stamp") is not None],
    }
