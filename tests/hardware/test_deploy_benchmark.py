"""The `deploy` benchmark suite (hardware/benchmark.py): one short episode per backend on a tiny checkpoint, the
evaluator's reference on the same seed, the rows and the table. DDS and ROS 1 run in their own network namespace
(`unshare -n`) and are skipped, saying why, where that or their packages are missing."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from hardware.benchmark import SEED_START, backend_problem, deploy_suite
from hardware.benchmark_report import COLUMNS, deploy_table, summarize
from hardware.command_log import CommandLog, command_timing, read_log
from robopolicy.core import save_checkpoint
from tests.hardware.stubs import dithering_policy

EPISODE_S = 2.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A policy dithering within 1 mm of the pusher's start for SEED_START (tests/hardware/stubs.py), with env_args
    so that the evaluator can run it (20-step Push-T episodes)."""
    env_args = {"env_name": "robopolicy/PushT-v0", "type": 2, "env_kwargs": {"image_obs": False, "max_steps": 20}}
    return save_checkpoint(tmp_path_factory.mktemp("bench") / "ckpt", dithering_policy(SEED_START),
                           config={"env_args": env_args})


@pytest.fixture(scope="module")
def results(checkpoint):
    args = SimpleNamespace(suite="deploy", deploy_checkpoint=str(checkpoint), deploy_episodes=1,
                           deploy_max_seconds=EPISODE_S, deploy_inference={"num_inference_steps": 2},
                           deploy_backends=["sim", "dds", "ros1"], deploy_robot="pusht_sim", deploy_node_rate_hz=50.0,
                           deploy_reference=True)
    out = deploy_suite(args)
    json.dumps(out)  # what scripts/benchmark.py writes
    return out


def _backend(results, name):
    entry = results["backends"][name]
    if "skipped" in entry:
        pytest.skip(entry["skipped"])
    return entry


def _check_episode(row, backend):
    assert row["seed"] == SEED_START, row
    assert row["status"] == "max_seconds" and row["ok"], f"{backend}: {row}"
    assert 15 <= row["ticks"] <= 21 and row["success"] is False
    assert 0.0 <= row["score"] <= row["max_score"] <= 1.0
    assert row["tick_p50_ms"] == pytest.approx(100.0, abs=15.0) and row["tick_p99_ms"] >= row["tick_p50_ms"]
    assert len(row["inference_ms"]) == row["chunks"] >= 4 and all(v > 0 for v in row["inference_ms"])
    # one trajectory per chunk, each logged: stamp -> sent is positive and well within a tick
    assert len(row["stamp_to_send_ms"]) == row["trajectories"] == row["chunks"]
    assert all(0.0 < v < 100.0 for v in row["stamp_to_send_ms"]), row["stamp_to_send_ms"]
    # each first point is due a whole number of ticks after its observation: one tick when the chunk was out within
    # half a tick (nothing dropped); later only when it was late, by as many ticks as points were dropped
    ticks_ahead = [v / 100.0 for v in row["stamp_to_start_ms"]]
    assert all(k == pytest.approx(round(k), abs=1e-5) and round(k) >= 1 for k in ticks_ahead), ticks_ahead
    assert sum(round(k) - 1 for k in ticks_ahead) == row["points_dropped"]
    for send, k in zip(row["stamp_to_send_ms"], ticks_ahead):
        assert send >= 50.0 or round(k) == 1, (send, k)  # on time (under half a tick) -> nothing dropped


@pytest.mark.parametrize("backend", ["sim", "dds", "ros1"])
def test_each_backend_runs_the_seeded_episode_and_reports_its_timing(results, backend):
    entry = _backend(results, backend)
    assert "error" not in entry, entry["error"]
    (row,) = entry["episodes"]
    _check_episode(row, backend)
    if backend != "sim":
        assert row["rejected"] == 0  # the node's own report: every command accepted
    summary = entry["summary"]
    assert summary["episodes"] == summary["ran"] == 1 and summary["success_rate"] == 0.0
    assert summary["ends"] == {"max_seconds": 1} and summary["mean_max_score"] == row["max_score"]
    assert summary["stamp_to_send_p50_ms"] <= summary["stamp_to_send_p99_ms"]


def test_the_evaluator_reference_runs_the_same_seed(results):
    ref = results["reference"]
    assert "error" not in ref, ref
    assert ref["episodes"] == 1 and ref["success_rate"] == 0.0 and ref["episode_length"] == [20]
    assert 0.0 <= ref["mean_max_score"] <= 1.0
    assert results["seeds"] == [SEED_START, SEED_START]


def test_the_table_has_the_reference_row_a_row_per_backend_and_the_criterion(results):
    table = deploy_table(results)
    lines = table.splitlines()
    assert "| " + " | ".join(COLUMNS) + " |" in lines
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| run")]
    assert rows[0].startswith("| evaluator (`evaluate_checkpoint`, simulated time")
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| in-process sim, real time", "| DDS (loopback, own netns)",
                                                     "| ROS 1 (rosmaster on 127.0.0.1, own netns)"]
    for row in rows:
        assert row.count(" | ") == len(COLUMNS) - 1, row
    for backend in ("dds", "ros1"):
        if "skipped" in results["backends"][backend]:
            assert "skipped: " in table
        else:
            assert f"- {backend} vs the evaluator: |Δ success rate| 0.00 (within 0.1)" in table


def test_skipped_and_failed_backends_still_make_a_table():
    results = {"checkpoint": "ckpt", "robot": "pusht_sim", "episodes": 2, "seeds": [1, 2], "max_seconds": 2.0,
               "inference": {}, "node_rate_hz": 50.0, "reference": {"error": "ValueError: no env_args"},
               "backends": {"dds": {"skipped": "no unshare", "episodes": []},
                            "ros1": {"error": "rosmaster did not come up", "episodes": [
                                {"seed": 1, "status": "error", "error": "TimeoutError: no state"}]}}}
    results["backends"]["ros1"]["summary"] = summarize(results["backends"]["ros1"]["episodes"])
    table = deploy_table(results)
    assert "| evaluator | - | error: ValueError: no env_args | - |" in table
    assert "skipped: no unshare" in table and "error 1; error: rosmaster did not come up" in table
    for row in [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| run")]:
        assert row.count(" | ") == len(COLUMNS) - 1, row


def test_command_timing_reads_stamp_to_send_and_first_point_from_the_log(tmp_path):
    with CommandLog(tmp_path / "log.jsonl") as log:
        log.write({"tick": 0, "kind": "trajectory", "clock": 10.02, "obs_stamp": 10.0, "start_stamp": 10.1,
                   "dry_run": False})
        log.write({"tick": 1, "kind": "setpoint", "clock": 10.13, "obs_stamp": 10.1, "start_stamp": None,
                   "dry_run": False})
        log.write({"tick": 2, "kind": "trajectory", "clock": 9.0, "obs_stamp": 1.0, "start_stamp": 2.0,
                   "dry_run": True})
        log.write({"tick": 3, "kind": "fault", "clock": 10.3, "check": "nan"})
    timing = command_timing(read_log(tmp_path / "log.jsonl"))
    np.testing.assert_allclose(timing["stamp_to_send_s"], [0.02, 0.03], atol=1e-9)
    np.testing.assert_allclose(timing["stamp_to_start_s"], [0.1], atol=1e-9)


def test_backend_problem_needs_nothing_for_the_in_process_sim():
    assert backend_problem("sim") is None
