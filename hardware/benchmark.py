"""Benchmark suite ``deploy``: one checkpoint closed-loop on the simulated arm, in-process and through the middleware.

    python scripts/benchmark.py suite=deploy deploy_checkpoint=<dir> [deploy_episodes=20] [deploy_max_seconds=30]
        [deploy_inference='{sampler: ddim, num_inference_steps: 10}'] [deploy_backends=[sim,dds,ros1]]

For each backend and each episode seed s in 1000000 .. 1000000 + episodes - 1 (robopolicy's evaluation seeds,
``EVAL_SEED_START``) the checkpoint runs through ``hardware.deploy.deploy`` on the wall clock, stopping on the task's
success or after ``deploy_max_seconds``:

    sim    the in-process MuJoCo arm with ``sim.realtime=true`` (wall-clock time, as over the middleware)
    dds    ``python -m hardware.dds.sim_node --seed s`` started per episode, DDS on the loopback configuration
    ros1   ``python -m hardware.ros1.sim_node --seed s`` started per episode, a rosmaster on 127.0.0.1

dds and ros1 run in one subprocess per backend inside a network namespace of its own (``unshare -n``, only loopback
up): this module re-executes itself there (``python -m hardware.benchmark --settings ... --out ...``), so no DDS or
ROS traffic can leave the machine. With ``deploy_reference`` the same seeds are also evaluated by robopolicy's own
evaluator (``robopolicy.workflows.evaluate_checkpoint``, simulated time: the world waits for the policy) - the
"directly in simulation" reference the middleware runs are compared with.

Per episode: how the run ended, ticks, task success (the run ended on the arm's success report), the final and the
highest task score (the simulator's; over the middleware from the sim node's report), tick period p50 / p99, every
inference time, and from the command log (``hardware.command_log.command_timing``) every command's state stamp ->
sent latency and state stamp -> first point due.

This module lives in hardware/ (it imports robopolicy; robopolicy never imports hardware); scripts/benchmark.py
registers it into the suite table. The aggregation and the markdown table are in hardware/benchmark_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hardware.benchmark_report import MIDDLEWARE, summarize
from hardware.command_log import command_timing, read_log
from hardware.robot import ROBOT_CONF_DIR
from robopolicy.envs.factory import EVAL_SEED_START

ROOT = Path(__file__).resolve().parents[1]
SEED_START = EVAL_SEED_START  # the evaluator's first seed, disjoint from the demonstrations'
BACKENDS = ("sim", "dds", "ros1")


@dataclass
class Settings:
    """What the suite runs (conf/benchmark.yaml's deploy_* keys)."""

    checkpoint: str
    episodes: int = 20
    max_seconds: float = 30.0
    inference: dict[str, Any] = field(default_factory=dict)
    backends: list[str] = field(default_factory=lambda: list(BACKENDS))
    robot: str = "pusht_sim"
    node_rate_hz: float = 50.0
    reference: bool = True

    @property
    def seeds(self) -> list[int]:
        return list(range(SEED_START, SEED_START + self.episodes))

    @classmethod
    def from_args(cls, args: Any) -> Settings:
        checkpoint = getattr(args, "deploy_checkpoint", None)
        if not checkpoint:
            raise ValueError("suite=deploy needs a checkpoint: python scripts/benchmark.py suite=deploy "
                             "deploy_checkpoint=<checkpoint dir>")
        path = Path(checkpoint)
        if not path.is_absolute():
            path = (Path.cwd() / path).resolve()
        if not path.is_dir():
            raise ValueError(f"deploy_checkpoint {path} is not a directory")
        backends = list(getattr(args, "deploy_backends", None) or BACKENDS)
        unknown = [b for b in backends if b not in BACKENDS]
        if unknown:
            raise ValueError(f"deploy_backends {unknown} unknown; choose from {list(BACKENDS)}")
        episodes = int(getattr(args, "deploy_episodes", 20))
        if episodes < 1:
            raise ValueError(f"deploy_episodes must be at least 1, got {episodes}")
        return cls(checkpoint=str(path), episodes=episodes,
                   max_seconds=float(getattr(args, "deploy_max_seconds", 30.0)),
                   inference=dict(getattr(args, "deploy_inference", None) or {}), backends=backends,
                   robot=str(getattr(args, "deploy_robot", "pusht_sim")),
                   node_rate_hz=float(getattr(args, "deploy_node_rate_hz", 50.0)),
                   reference=bool(getattr(args, "deploy_reference", True)))


# ----------------------------------------------------------------------------------------------- availability
def unshare_problem() -> str | None:
    """Why `unshare -n` with loopback up cannot run here (None when it can)."""
    try:
        proc = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare -n` cannot run here ({exc})"
    if proc.returncode != 0:
        return f"`unshare -n sh -c 'ip link set lo up'` is not permitted here: {proc.stderr.strip()}"
    return None


def backend_problem(backend: str) -> str | None:
    """Why ``backend`` cannot be measured here (None when it can); checked without importing rospy or joining DDS."""
    if backend == "sim":
        return None
    if backend == "dds":
        import importlib.util

        if importlib.util.find_spec("cyclonedds") is None:
            return "cyclonedds is not installed (pip install cyclonedds==11.0.1)"
    if backend == "ros1":
        from hardware.ros1 import ros1_python_paths

        folders = [*sys.path, *ros1_python_paths()]
        if not any(os.path.isdir(os.path.join(p, "rospy")) for p in folders if p):
            return "rospy is not installed (apt-get install python3-rospy python3-rosmaster ...; docs/hardware.md)"
        if shutil.which("rosmaster") is None:
            return "rosmaster is not installed (apt-get install python3-rosmaster)"
    problem = unshare_problem()
    return None if problem is None else f"the {backend} backend runs only inside its own network namespace, and {problem}"


# ------------------------------------------------------------------------------------------------- episodes
def robot_dict(name: str) -> dict[str, Any]:
    path = Path(name) if name.endswith((".yaml", ".yml")) else ROBOT_CONF_DIR / f"{name}.yaml"
    return yaml.safe_load(path.read_text())


def deploy_config(settings: Settings, backend: str, seed: int, log_path: Path) -> dict[str, Any]:
    """conf/deploy.yaml's keys for one episode: wall-clock time everywhere, quiet, no signal or keyboard e-stop."""
    return {
        "checkpoint": settings.checkpoint, "robot": robot_dict(settings.robot), "backend": backend, "weights": "ema",
        "device": "cpu", "max_seconds": settings.max_seconds, "max_ticks": None, "stop_on_success": True,
        "replan_every": None, "inference": dict(settings.inference), "dry_run": False, "log_path": str(log_path),
        "status_every_s": None, "estop": {"signals": [], "keyboard": False},
        "sim": {"seed": seed, "realtime": True, "image_size": 96},
        "dds": {"network": "loopback", "domain_id": 0, "state_timeout_s": 15.0},
        "ros1": {"master_uri": None, "state_timeout_s": 15.0},
    }


def start_node(backend: str, settings: Settings, seed: int, workdir: Path) -> subprocess.Popen:
    """``python -m hardware.<backend>.sim_node --seed <seed>``, returned once it says it is ready."""
    args = [sys.executable, "-m", f"hardware.{backend}.sim_node", "--robot", settings.robot, "--seed", str(seed),
            "--rate", str(settings.node_rate_hz), "--report", str(workdir / f"node-{backend}-{seed}.json")]
    if backend == "ros1":
        args += ["--timeout", "15"]
    stderr = (workdir / f"node-{backend}-{seed}.err").open("w")
    node = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    stderr.close()
    line = node.stdout.readline()
    if "ready" not in line:
        node.kill()
        node.wait()
        raise RuntimeError(f"the {backend} sim node did not start: {line!r} "
                           f"{(workdir / f'node-{backend}-{seed}.err').read_text()[-2000:]}")
    return node


def stop_node(node: subprocess.Popen, report: Path) -> dict[str, Any] | None:
    """SIGTERM the node, wait for it, and return its JSON report (None if it wrote none)."""
    node.terminate()
    try:
        node.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        node.kill()
        node.communicate()
    return json.loads(report.read_text()) if report.exists() else None


def _ms(values: list[float]) -> list[float]:
    return [round(1000.0 * v, 3) for v in values]


def run_episode(settings: Settings, backend: str, seed: int, workdir: Path) -> dict[str, Any]:
    """One episode through deploy(); a row of plain values (an "error" row when it could not run)."""
    from hardware.deploy import deploy

    log = workdir / f"log-{backend}-{seed}.jsonl"
    report_path = workdir / f"node-{backend}-{seed}.json"
    row: dict[str, Any] = {"seed": seed}
    node = None
    try:
        if backend in MIDDLEWARE:
            node = start_node(backend, settings, seed, workdir)
        result = deploy(deploy_config(settings, backend, seed, log))
    except Exception as exc:  # noqa: BLE001 - one broken episode is a row, not the end of the suite
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
        return row
    finally:
        report = stop_node(node, report_path) if node is not None else None
    loop = result.loop
    timing = command_timing(read_log(log)) if log.exists() else {"stamp_to_send_s": [], "stamp_to_start_s": []}
    score, max_score = result.score, result.max_score
    if report is not None:
        score, max_score = report.get("score"), report.get("max_score")
    row.update(
        status=loop.status, ok=result.ok, fault_check=loop.fault_check, fault=loop.fault, ticks=loop.ticks,
        seconds=round(loop.seconds, 3),
        success=loop.status == "success", score=score, max_score=max_score,
        loop_rate_hz=loop.loop_rate_hz,
        tick_p50_ms=None if loop.tick_period_p50_s is None else 1000.0 * loop.tick_period_p50_s,
        tick_p99_ms=None if loop.tick_period_p99_s is None else 1000.0 * loop.tick_period_p99_s,
        overruns=loop.overruns, chunks=loop.chunks, trajectories=loop.trajectories_sent,
        points_dropped=loop.points_dropped, rejected=None if report is None else len(report.get("rejected", [])),
        inference_ms=_ms(loop.inference_s), stamp_to_send_ms=_ms(timing["stamp_to_send_s"]),
        stamp_to_start_ms=_ms(timing["stamp_to_start_s"]),
    )
    return row


def run_episodes(settings: Settings, backend: str, workdir: Path) -> list[dict[str, Any]]:
    rows = []
    for i, seed in enumerate(settings.seeds):
        row = run_episode(settings, backend, seed, workdir)
        rows.append(row)
        what = row.get("error") or (f"{row['status']} after {row['ticks']} ticks, max score "
                                     f"{row['max_score'] if row['max_score'] is None else round(row['max_score'], 3)}")
        print(f"[deploy suite] {backend} seed {seed} ({i + 1}/{settings.episodes}): {what}", flush=True)
    return rows


# ------------------------------------------------------------------------------ the middleware, in a namespace
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_rosmaster(workdir: Path) -> subprocess.Popen:
    """rosmaster on a free loopback port; sets this process's ROS_* environment (inherited by every child)."""
    from hardware.ros1 import import_rospy

    import_rospy()
    port = free_port()
    os.environ.update({"ROS_MASTER_URI": f"http://127.0.0.1:{port}", "ROS_IP": "127.0.0.1",
                       "ROS_HOSTNAME": "127.0.0.1", "ROS_HOME": str(workdir / "ros_home"),
                       "ROS_LOG_DIR": str(workdir / "ros_log")})
    master = subprocess.Popen(["rosmaster", "--core", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    import rosgraph

    deadline = time.time() + 20
    while True:
        try:
            rosgraph.Master("/deploy_benchmark").getPid()
            return master
        except Exception:  # noqa: BLE001 - not up yet
            if time.time() > deadline or master.poll() is not None:
                master.kill()
                master.wait()
                raise RuntimeError(f"rosmaster did not come up on 127.0.0.1:{port}")
            time.sleep(0.05)


def run_in_namespace(settings: Settings, backend: str) -> dict[str, Any]:
    """Run ``backend``'s episodes in a subprocess inside its own network namespace; its rows (or why not)."""
    with tempfile.TemporaryDirectory(prefix=f"deploy-bench-{backend}-") as tmp:
        tmp_path = Path(tmp)
        settings_path, out = tmp_path / "settings.json", tmp_path / "result.json"
        settings_path.write_text(json.dumps({**asdict(settings), "backends": [backend]}))
        script = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "hardware.benchmark", "--settings",
                                                    str(settings_path), "--out", str(out), "--workdir", tmp))
        timeout = settings.episodes * (settings.max_seconds + 60) + 120
        try:
            proc = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {script}"], cwd=ROOT,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"the {backend} run did not finish in {timeout:.0f} s", "episodes": []}
        if not out.exists():
            return {"error": f"the {backend} run exited {proc.returncode} without results", "episodes": []}
        return json.loads(out.read_text())


def _namespace_main(argv: list[str] | None = None) -> int:
    """Inside the namespace: the episodes of the one backend in --settings, written to --out as JSON."""
    parser = argparse.ArgumentParser(prog="python -m hardware.benchmark")
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = Settings(**json.loads(args.settings.read_text()))
    (backend,) = settings.backends
    result: dict[str, Any] = {"episodes": []}
    master = None
    try:
        if backend == "ros1":
            master = start_rosmaster(args.workdir)
        result["episodes"] = run_episodes(settings, backend, args.workdir)
    except Exception as exc:  # noqa: BLE001
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if master is not None:
            master.terminate()
            try:
                master.wait(timeout=10)
            except subprocess.TimeoutExpired:
                master.kill()
    args.out.write_text(json.dumps(result))
    return 0


# ------------------------------------------------------------------------------------------------ reference
def evaluator_reference(settings: Settings) -> dict[str, Any]:
    """robopolicy's evaluator on the same seeds, in simulated time (scripts/eval.py's semantics)."""
    from robopolicy.workflows import evaluate_checkpoint

    try:
        with tempfile.TemporaryDirectory(prefix="deploy-bench-eval-") as tmp:
            result = evaluate_checkpoint(settings.checkpoint, num_episodes=settings.episodes,
                                         num_envs=settings.episodes, video_episodes=0, output_dir=tmp,
                                         inference=settings.inference or None)
    except Exception as exc:  # noqa: BLE001 - e.g. a checkpoint without env_args
        return {"error": f"{type(exc).__name__}: {exc}"}
    if result.seed_start != SEED_START:
        return {"error": f"the evaluator started at seed {result.seed_start}, not {SEED_START}"}
    return {"episodes": result.num_episodes, "success_rate": result.success_rate, "mean_max_score": result.mean_score,
            "episode_success": result.episode_success, "episode_max_score": result.episode_max_score,
            "episode_length": result.episode_length, "latency_ms_median": result.latency_ms_median,
            "batch_size": result.batch_size}


# --------------------------------------------------------------------------------------------------- suite
def deploy_suite(args: Any) -> dict[str, Any]:
    """scripts/benchmark.py suite=deploy: the results dict (see the module docstring)."""
    settings = Settings.from_args(args)
    results: dict[str, Any] = {
        "checkpoint": settings.checkpoint, "robot": settings.robot, "episodes": settings.episodes,
        "seeds": [settings.seeds[0], settings.seeds[-1]], "max_seconds": settings.max_seconds,
        "inference": settings.inference, "node_rate_hz": settings.node_rate_hz, "reference": None, "backends": {},
    }
    if settings.reference:
        print(f"[deploy suite] evaluator reference: {settings.episodes} episodes", flush=True)
        results["reference"] = evaluator_reference(settings)
    for backend in settings.backends:
        started = time.time()
        problem = backend_problem(backend)
        if problem is not None:
            results["backends"][backend] = {"skipped": problem, "episodes": []}
            print(f"[deploy suite] {backend} skipped: {problem}", flush=True)
            continue
        if backend == "sim":
            with tempfile.TemporaryDirectory(prefix="deploy-bench-sim-") as tmp:
                entry = {"episodes": run_episodes(settings, backend, Path(tmp))}
        else:
            entry = run_in_namespace(settings, backend)
        entry["wall_s"] = round(time.time() - started, 1)
        results["backends"][backend] = entry
    for backend, entry in results["backends"].items():
        entry["summary"] = summarize(entry.get("episodes", []))
    return results


if __name__ == "__main__":
    sys.exit(_namespace_main())
