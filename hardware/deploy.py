"""The job behind scripts/deploy.py: checkpoint + robot config + backend -> a safe control loop run.

Takes the plain config Hydra composed (conf/deploy.yaml), so the script stays one call.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardware.clock import Clock, ManualClock, WallClock
from hardware.command_log import CommandLog
from hardware.control_loop import ControlLoop, LoopResult
from hardware.driver import ArmDriver
from hardware.estop_triggers import EStopTriggerConfig, estop_triggers
from hardware.robot import RobotConfig
from hardware.safety import EStop
from hardware.sim_driver import SimArmDriver
from robopolicy.core import PolicyRunner, load_policy
from robopolicy.core.checkpoint import CONFIG_FILE
from robopolicy.envs import control_rate_hz


def _sim(robot: RobotConfig, clock: Clock, options: Mapping[str, Any]) -> ArmDriver:
    return SimArmDriver(robot, clock=clock, seed=int(options.get("seed", 0)),
                        image_size=int(options.get("image_size", 96)))


DDS_OPTIONS = ("network", "domain_id", "state_timeout_s")


def _dds(robot: RobotConfig, clock: Clock, options: Mapping[str, Any]) -> ArmDriver:
    """ROS 2 topics over Cyclone DDS (hardware/dds/driver.py); options are conf/deploy.yaml's `dds` section."""
    unknown = sorted(set(options) - set(DDS_OPTIONS))
    if unknown:
        raise ValueError(f"unknown dds option(s) {unknown}; the dds section takes {', '.join(DDS_OPTIONS)}")
    try:
        from hardware.dds.driver import DdsArmDriver
    except ImportError as exc:
        raise ImportError(f"backend=dds needs the cyclonedds package ({exc}); install it with "
                          "`pip install cyclonedds==11.0.1` (in the dev and ros extras)") from exc
    return DdsArmDriver(robot, network=options.get("network"), domain_id=int(options.get("domain_id", 0)),
                        state_timeout_s=float(options.get("state_timeout_s", 5.0)), clock=clock)


ROS1_OPTIONS = ("master_uri", "state_timeout_s")


def _ros1(robot: RobotConfig, clock: Clock, options: Mapping[str, Any]) -> ArmDriver:
    """ROS 1 topics through rospy and a ROS master (hardware/ros1/driver.py); options are conf/deploy.yaml's `ros1`
    section. rospy is imported only here, so the other backends work without it."""
    unknown = sorted(set(options) - set(ROS1_OPTIONS))
    if unknown:
        raise ValueError(f"unknown ros1 option(s) {unknown}; the ros1 section takes {', '.join(ROS1_OPTIONS)}")
    from hardware.ros1 import import_rospy

    import_rospy()  # ImportError saying how to install rospy
    from hardware.ros1.driver import Ros1ArmDriver

    return Ros1ArmDriver(robot, master_uri=options.get("master_uri"),
                         state_timeout_s=float(options.get("state_timeout_s", 5.0)), clock=clock)


ROS2_OPTIONS = ("domain_id", "node_name", "state_timeout_s")


def _ros2(robot: RobotConfig, clock: Clock, options: Mapping[str, Any]) -> ArmDriver:
    """ROS 2 topics through rclpy (hardware/ros2/driver.py); options are conf/deploy.yaml's `ros2` section. rclpy is
    imported only here, so the other backends work without a ROS 2 install."""
    unknown = sorted(set(options) - set(ROS2_OPTIONS))
    if unknown:
        raise ValueError(f"unknown ros2 option(s) {unknown}; the ros2 section takes {', '.join(ROS2_OPTIONS)}")
    from hardware.ros2 import import_ros2

    import_ros2()  # ImportError saying how to install robopolicy into a ROS 2 environment
    from hardware.ros2.driver import Ros2ArmDriver

    domain_id = options.get("domain_id")
    return Ros2ArmDriver(robot, domain_id=None if domain_id is None else int(domain_id),
                         node_name=str(options.get("node_name") or "robopolicy_arm_driver"),
                         state_timeout_s=float(options.get("state_timeout_s", 5.0)), clock=clock)


# Backend name -> driver factory(robot, clock, backend options: the config section named like the backend).
BACKENDS: dict[str, Callable[[RobotConfig, Clock, Mapping[str, Any]], ArmDriver]] = {
    "sim": _sim, "dds": _dds, "ros1": _ros1, "ros2": _ros2}


def check_backend(backend: str) -> None:
    """Raise ValueError with the list of valid backends unless ``backend`` is one."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)} (docs/hardware.md)")


def make_driver(backend: str, robot: RobotConfig, clock: Clock, options: Mapping[str, Any] | None = None) -> ArmDriver:
    """The driver for ``backend`` (see check_backend), not yet connected."""
    check_backend(backend)
    return BACKENDS[backend](robot, clock, options or {})


def make_clock(backend: str, realtime: bool) -> Clock:
    """Wall-clock time on hardware; for the simulator, lockstep simulated time unless ``realtime``."""
    return ManualClock() if backend == "sim" and not realtime else WallClock()


DEFAULT_LOG_NAME = "deploy_log.jsonl"


def resolve_log_path(log_path: str | Path | None) -> Path | None:
    """Where the command log goes: None (null in the config) disables it; a relative path is taken inside Hydra's
    run directory when Hydra is running, else the current directory."""
    if log_path is None:
        return None
    path = Path(log_path)
    if path.is_absolute():
        return path
    base = Path.cwd()
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            base = Path(HydraConfig.get().runtime.output_dir)
    except ImportError:  # pragma: no cover - hydra is a dependency, but the job runs without it too
        pass
    return base / path


@contextlib.contextmanager
def _connected(driver: ArmDriver, dry_run: bool) -> Iterator[ArmDriver]:
    """The driver connected for the run; on the way out it is told to hold and closed - except in a dry run, where
    nothing is sent to the arm, so it is only closed."""
    if not dry_run:
        with driver:
            yield driver
        return
    driver.connect()
    try:
        yield driver
    finally:
        driver.close()


@dataclass
class DeployResult:
    """The loop's result plus what the run was: robot, backend, checkpoint, and the task score where known."""

    loop: LoopResult
    robot: str
    backend: str
    checkpoint: str
    score: float | None = None
    max_score: float | None = None  # the highest task score the simulator saw during the run (sim backend)
    log_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.loop.ok

    def summary(self) -> str:
        head = f"deploy {self.checkpoint} on {self.robot} ({self.backend} backend)"
        if self.score is not None:
            head += f"; task score {self.score:.3f}"
        tail = f"\n  command log: {self.log_path}" if self.log_path else ""
        return f"{head}\n{self.loop.summary()}{tail}"


def check_control_rate(robot: RobotConfig, checkpoint: str | Path, allow_mismatch: bool = False) -> None:
    """Refuse a robot whose control rate differs from the rate of the env the checkpoint was trained in.

    A policy's chunk is a sequence of actions one training tick apart; played at another rate the arm moves faster
    or slower than anything in the demonstrations. Skipped when the checkpoint has no env_args or its env does not
    say its rate (robopolicy.envs.control_rate_hz), and when ``allow_mismatch`` is set.
    """
    config = yaml.safe_load((Path(checkpoint) / CONFIG_FILE).read_text()) or {}
    env_args = config.get("env_args")
    trained = control_rate_hz(env_args) if env_args else None
    if allow_mismatch or trained is None or math.isclose(trained, robot.control_rate_hz, rel_tol=1e-6):
        return
    raise ValueError(
        f"checkpoint {checkpoint} was trained on {env_args.get('env_name')} at {trained:g} Hz, but robot "
        f"'{robot.name}' ticks at control_rate_hz {robot.control_rate_hz:g} Hz: each chunk would play "
        f"{robot.control_rate_hz / trained:.2g}x as fast as the demonstrations. Set robot.control_rate_hz={trained:g} "
        "(or the rate in its YAML), or pass allow_rate_mismatch=true if that is what you want")


def deploy(cfg: Mapping[str, Any]) -> DeployResult:
    """Load the checkpoint, build the robot config, driver and clock, and run the control loop once.

    Optional keys (conf/deploy.yaml): dry_run (send nothing to the arm, print what would be sent), log_path (the
    JSON-lines command log, relative to the run directory; absent or null: no log), status_every_s (a status line
    this often on the loop clock; absent or null: quiet), estop (what presses the e-stop besides the robot's
    estop_topic: {signals: [SIGUSR1], keyboard: auto}, hardware/estop_triggers.py). The e-stop triggers are live
    from loading the checkpoint until the arm has been told to stop and the driver closed; a press before the loop
    starts makes its first tick send the e-stop.
    """
    backend = str(cfg["backend"])
    check_backend(backend)  # before loading anything
    robot = RobotConfig.from_dict(cfg["robot"], source=f"robot config '{cfg['robot'].get('name', '?')}'")
    triggers = EStopTriggerConfig.from_dict(cfg.get("estop"))
    dry_run = cfg.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ValueError(f"dry_run must be true or false, got {dry_run!r} (scripts/deploy.py ... dry_run=true)")
    check_control_rate(robot, cfg["checkpoint"], bool(cfg.get("allow_rate_mismatch", False)))
    status_every_s = cfg.get("status_every_s")
    log_path = resolve_log_path(cfg.get("log_path"))
    estop = EStop()
    with contextlib.ExitStack() as stack:
        stack.enter_context(estop_triggers(estop, triggers))
        policy = load_policy(cfg["checkpoint"], weights=cfg.get("weights", "ema"), device=cfg.get("device", "cpu"),
                             action_horizon=cfg.get("action_horizon"))
        if cfg.get("inference"):
            policy.configure_inference(**cfg["inference"])
        runner = PolicyRunner(policy, replan_every=cfg.get("replan_every"))
        sim = dict(cfg.get("sim") or {})
        clock = make_clock(backend, bool(sim.get("realtime", False)))
        driver = make_driver(backend, robot, clock, dict(cfg.get(backend) or {}))
        log = stack.enter_context(CommandLog(log_path)) if log_path is not None else None
        loop = ControlLoop(driver, runner, robot, clock=clock, max_ticks=cfg.get("max_ticks"),
                           max_seconds=cfg.get("max_seconds"), stop_on_success=bool(cfg.get("stop_on_success", True)),
                           estop=estop, dry_run=dry_run, log=log,
                           status_every_s=None if status_every_s is None else float(status_every_s))
        with _connected(driver, dry_run):
            result = loop.run()
            score = driver.score() if isinstance(driver, SimArmDriver) else None
            max_score = driver.max_score if isinstance(driver, SimArmDriver) else None
    return DeployResult(loop=result, robot=robot.name, backend=backend, checkpoint=str(cfg["checkpoint"]), score=score,
                        max_score=max_score, log_path=None if log_path is None else str(log_path))
