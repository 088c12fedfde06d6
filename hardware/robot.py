"""Arm descriptions: the YAML under conf/robot/ as a validated RobotConfig.

A robot config says which joints the arm has and how far and fast each may move, how often the policy ticks, which
controller receives the commands (and on which topic), where joint states and camera frames come from, and how the
policy's observation and action keys map onto joints, cameras and other sources (and, for backends that talk over a
middleware, on which topics those other sources and the task's success arrive). Example (conf/robot/pusht_sim.yaml)::

    name: pusht_sim
    control_rate_hz: 10
    joints:                     # in the order commands are sent
      - {name: pusher_x, lower: -0.2375, upper: 0.2375, velocity: 0.5, acceleration: 5.0}
      - ...
    controller: {type: joint_trajectory, topic: /pusher_controller/joint_trajectory}
    state_topic: /joint_states
    cameras: {}                 # {policy obs key: image topic}
    observations:               # {policy obs key: [joints] | {joints: [...], field: velocity} | {extra: <source>}}
      agent_pos: [pusher_x, pusher_y]
      object: {extra: object_pose}
    action: [pusher_x, pusher_y]  # the joint each action dimension commands, in action order
    workspace: {pusher_x: [-0.23, 0.23], pusher_y: [-0.23, 0.23]}
    max_step: 0.05              # per tick, one number for every joint or {joint: number}
    watchdog: {max_state_age_s: 0.25, max_inference_s: 0.5}
    extra_topics: {object_pose: /object_pose}  # optional: the topic each extra source arrives on (DDS backend)
    success_topic: /task_success              # optional: std_msgs/Bool task success (the simulator publishes one)
    estop_topic: /estop                       # optional: std_msgs/Bool e-stop; True presses it (topic backends)
    position_limits: reject   # optional: reject (default) | clamp, what a target outside a joint's [lower, upper] does
    kinematics:               # optional: the arm's standard DH chain, one row per joint in `joints` order (revolute)
      dh: [{a: 0.0, d: 0.1625, alpha: 1.570796, theta_offset: 0.0}, ...]   # metres, radians; theta_offset optional
      base: [0, 0, 0]         # optional: where DH frame 0 sits in the workspace frame (m)
      tool: [0, 0, 0.15]      # optional: the tool point in the flange frame (m)
    cartesian_workspace: {x: [-0.8, -0.3], y: [-0.4, 0.4], z: [0.05, 0.6]}  # optional, needs kinematics: the tool
                              # point's box (m, base frame); an axis left out is unbounded
    sim_scene: pusht          # optional: the task the simulated arm runs (pusht, the default, or obstacle); real
                              # backends ignore it

Every mistake is reported with the file, the field and what to write instead (RobotConfigError).
Units are the joints' own: radians for revolute joints, metres for prismatic ones, per second (squared).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

CONTROLLER_TYPES = ("joint_trajectory", "forward_position")
POSITION_LIMIT_MODES = ("reject", "clamp")
OBSERVATION_FIELDS = ("position", "velocity")
ROBOT_CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "robot"

_TOP_KEYS = ("name", "control_rate_hz", "joints", "controller", "state_topic", "cameras", "observations", "action",
             "workspace", "max_step", "watchdog", "extra_topics", "success_topic", "estop_topic", "position_limits",
             "kinematics", "cartesian_workspace", "sim_scene")
_OPTIONAL_TOP_KEYS = {"cameras": {}, "workspace": {}, "extra_topics": {}, "success_topic": None, "estop_topic": None,
                      "position_limits": "reject", "kinematics": None, "cartesian_workspace": None, "sim_scene": "pusht"}
_JOINT_KEYS = ("name", "lower", "upper", "velocity", "acceleration")
_CONTROLLER_KEYS = ("type", "topic", "latency_s", "command_timeout_s")
_WATCHDOG_KEYS = ("max_state_age_s", "max_inference_s")
_KINEMATICS_KEYS = ("dh", "base", "tool")
_DH_KEYS = ("a", "d", "alpha", "theta_offset")
CARTESIAN_AXES = ("x", "y", "z")
SIM_SCENES = ("pusht", "obstacle")  # hardware/sim_scenes.py's SCENES, named here so parsing needs no MuJoCo


class RobotConfigError(ValueError):
    """A robot description is malformed; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class JointConfig:
    """One joint: position range [lower, upper], speed and acceleration limits (absolute values)."""

    name: str
    lower: float
    upper: float
    velocity: float
    acceleration: float


@dataclass(frozen=True)
class ControllerConfig:
    """Where commands go.

    type: "joint_trajectory" (trajectory_msgs/JointTrajectory to a joint_trajectory_controller) or
    "forward_position" (std_msgs/Float64MultiArray setpoints to a forward position controller, one per tick).
    latency_s: delay between sending a command and the controller acting on it (transport, controller period);
    added to the measured observation-to-send latency when deciding which trajectory points are already past.
    command_timeout_s: the controller's command timeout (ROS 2 `cmd_timeout`): with no new command for this long
    (after a trajectory's last point, or after a setpoint) it holds where the arm is.
    """

    type: str
    topic: str
    latency_s: float = 0.0
    command_timeout_s: float = 0.5


@dataclass(frozen=True)
class ObservationSource:
    """Where one low-dim policy observation comes from: the listed joints' positions (or velocities), or an
    extra source the driver provides by name (e.g. the simulator's block pose)."""

    joints: tuple[str, ...] = ()
    field: str = "position"
    extra: str | None = None


@dataclass(frozen=True)
class WatchdogConfig:
    """max_state_age_s: the newest joint state may be at most this old when a tick uses it.
    max_inference_s: one control tick's policy call (a chunk prediction included) may take at most this long."""

    max_state_age_s: float
    max_inference_s: float


@dataclass(frozen=True)
class KinematicsConfig:
    """The arm's serial chain in standard (distal) Denavit-Hartenberg form, one entry per joint in the config's joint
    order, all joints revolute: T_i = Rot_z(q_i + theta_offset_i) Trans_z(d_i) Trans_x(a_i) Rot_x(alpha_i) (metres,
    radians). base: where DH frame 0 sits in the frame the Cartesian workspace is written in (xyz, a translation);
    tool: the checked tool point in the flange frame (xyz). hardware/kinematics.py computes it."""

    a: tuple[float, ...]
    d: tuple[float, ...]
    alpha: tuple[float, ...]
    theta_offset: tuple[float, ...]
    base: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tool: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class RobotConfig:
    """A validated arm description; build it with ``RobotConfig.from_dict`` or ``load_robot``."""

    name: str
    control_rate_hz: float
    joints: tuple[JointConfig, ...]
    controller: ControllerConfig
    state_topic: str
    cameras: dict[str, str]
    observations: dict[str, ObservationSource]
    action: tuple[str, ...]
    workspace: dict[str, tuple[float, float]]
    max_step: dict[str, float]
    watchdog: WatchdogConfig
    # {extra source name: topic} for backends that receive extras over a middleware (std_msgs/Float64MultiArray);
    # the in-process simulator ignores it. It may name more sources than the observations read.
    extra_topics: dict[str, str] = field(default_factory=dict)
    # std_msgs/Bool topic on which the task's success is published (the simulated arm does); None: nothing tells.
    success_topic: str | None = None
    # std_msgs/Bool topic whose True presses the deploy's e-stop (topic backends; False does nothing: the e-stop
    # latches); None: no such topic. The in-process simulator ignores it.
    estop_topic: str | None = None
    # what ChunkSafety does with a target outside a joint's [lower, upper]: "reject" (a SafetyFault, the default) or
    # "clamp" (move it onto the limit and count an intervention; every other check still faults). docs/hardware.md
    position_limits: str = "reject"
    # the arm's forward kinematics (standard DH), or None; needed by cartesian_workspace
    kinematics: KinematicsConfig | None = None
    # {axis ("x", "y", "z"): (lower, upper)} metres in the base frame: the box the tool point must stay in (ChunkSafety's
    # "cartesian_workspace" check); {} = none. An axis left out is unbounded.
    cartesian_workspace: dict[str, tuple[float, float]] = field(default_factory=dict)
    # the task scene the simulated arm runs (backend=sim and the sim nodes; hardware/sim_scenes.py)
    sim_scene: str = "pusht"
    source: str = field(default="<dict>", compare=False)

    # ------------------------------------------------------------------------------------------ derived
    @property
    def dt(self) -> float:
        """Seconds per control tick."""
        return 1.0 / self.control_rate_hz

    @property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def joint_index(self, name: str) -> int:
        """Position of joint ``name`` in ``joint_names``."""
        return self.joint_names.index(name)

    def joint_array(self, attribute: str) -> np.ndarray:
        """(J,) float64 array of one JointConfig attribute ("lower", "upper", "velocity", "acceleration")."""
        return np.array([getattr(j, attribute) for j in self.joints], dtype=np.float64)

    def max_step_array(self) -> np.ndarray:
        """(J,) largest allowed change of each joint's commanded position in one tick."""
        return np.array([self.max_step[n] for n in self.joint_names], dtype=np.float64)

    def workspace_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower (J,), upper (J,)) workspace bounds on commanded positions; -inf/+inf where a joint has none."""
        lower = np.full(self.num_joints, -np.inf)
        upper = np.full(self.num_joints, np.inf)
        for name, (lo, hi) in self.workspace.items():
            i = self.joint_index(name)
            lower[i], upper[i] = lo, hi
        return lower, upper

    def cartesian_workspace_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower (3,), upper (3,)) tool-point bounds in x, y, z; -inf/+inf on an axis without one."""
        lower = np.full(3, -np.inf)
        upper = np.full(3, np.inf)
        for axis, (lo, hi) in self.cartesian_workspace.items():
            i = CARTESIAN_AXES.index(axis)
            lower[i], upper[i] = lo, hi
        return lower, upper

    def action_to_joint_index(self) -> np.ndarray:
        """(J,) index array: ``joints_positions = action[..., index]`` reorders action dims into joint order."""
        return np.array([self.action.index(n) for n in self.joint_names], dtype=np.intp)

    # --------------------------------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> RobotConfig:
        """Validate a plain mapping (what YAML or Hydra gives) and build the config; raises RobotConfigError."""
        return _Parser(source).robot(data)


def load_robot(name_or_path: str | Path) -> RobotConfig:
    """A robot config from a YAML file path, or by name from conf/robot/<name>.yaml."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = ROBOT_CONF_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in ROBOT_CONF_DIR.glob("*.yaml"))
        raise RobotConfigError(f"{path}: no such robot config; the ones in {ROBOT_CONF_DIR}: {', '.join(known)}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RobotConfigError(f"{path}: not valid YAML ({exc})") from exc
    return RobotConfig.from_dict(data, source=str(path))


class _Parser:
    """Field-by-field validation; every error names ``source`` and the field's path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str, fix: str) -> RobotConfigError:
        return RobotConfigError(f"{self.source}: {where}: {problem}. Fix: {fix}")

    # --- scalar checks ------------------------------------------------------------------------------------
    def mapping(self, value: Any, where: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> Mapping:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__} {value!r}",
                            f"write it as `key: value` entries ({', '.join(keys)})")
        unknown = sorted(str(k) for k in value if k not in keys)
        if unknown:
            raise self.fail(where, f"unknown key(s) {unknown}", f"use only {', '.join(keys)}")
        missing = [k for k in keys if k not in value and k not in optional]
        if missing:
            raise self.fail(where, f"missing {missing}", f"add {', '.join(missing)}")
        return value

    def number(self, value: Any, where: str, *, positive: bool = False, non_negative: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (PyYAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
            raise self.fail(where, f"expected a number, got {value!r}", f"write a plain number{hint}")
        value = float(value)
        if not math.isfinite(value):
            raise self.fail(where, f"{value} is not finite", "write a finite number: limits must be real bounds")
        if positive and value <= 0:
            raise self.fail(where, f"{value} must be > 0", "set the positive value from the arm's datasheet")
        if non_negative and value < 0:
            raise self.fail(where, f"{value} must be >= 0", "use 0 or a positive number of seconds")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}", "write the name as text")
        return value

    def joint_list(self, value: Any, where: str, known: list[str]) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)) or not value:
            raise self.fail(where, f"expected a non-empty list of joint names, got {value!r}",
                            f"list joints from `joints`: {known}")
        names = tuple(self.text(v, f"{where}[{i}]") for i, v in enumerate(value))
        unknown = [n for n in names if n not in known]
        if unknown:
            raise self.fail(where, f"unknown joint(s) {unknown}", f"use the names declared under `joints`: {known}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise self.fail(where, f"joint(s) {repeated} listed more than once", "list each joint once")
        return names

    # --- sections -----------------------------------------------------------------------------------------
    def robot(self, data: Any) -> RobotConfig:
        data = dict(self.mapping(data, "top level", _TOP_KEYS, optional=tuple(_OPTIONAL_TOP_KEYS)))
        for key, default in _OPTIONAL_TOP_KEYS.items():
            data.setdefault(key, default)
        joints = self.joints(data["joints"])
        names = [j.name for j in joints]
        cameras = self.cameras(data["cameras"])
        observations = self.observations(data["observations"], names, cameras)
        action = self.joint_list(data["action"], "action", names)
        if set(action) != set(names):
            raise self.fail("action", f"commands {list(action)} but the arm has joints {names} "
                            f"(missing: {[n for n in names if n not in action]})",
                            "map one action dimension to every joint (the policy commands the whole arm)")
        kinematics = self.kinematics(data["kinematics"], names)
        return RobotConfig(
            name=self.text(data["name"], "name"),
            control_rate_hz=self.number(data["control_rate_hz"], "control_rate_hz", positive=True),
            joints=joints,
            controller=self.controller(data["controller"]),
            state_topic=self.text(data["state_topic"], "state_topic"),
            cameras=cameras,
            observations=observations,
            action=action,
            workspace=self.workspace(data["workspace"], joints),
            max_step=self.max_step(data["max_step"], names),
            watchdog=self.watchdog(data["watchdog"]),
            extra_topics=self.extra_topics(data["extra_topics"]),
            success_topic=None if data["success_topic"] is None else self.text(data["success_topic"], "success_topic"),
            estop_topic=None if data["estop_topic"] is None else self.text(data["estop_topic"], "estop_topic"),
            position_limits=self.position_limits(data["position_limits"]),
            kinematics=kinematics,
            cartesian_workspace=self.cartesian_workspace(data["cartesian_workspace"], kinematics),
            sim_scene=self.sim_scene(data["sim_scene"]),
            source=self.source,
        )

    def joints(self, value: Any) -> tuple[JointConfig, ...]:
        if not isinstance(value, (list, tuple)) or not value:
            raise self.fail("joints", f"expected a non-empty list, got {value!r}",
                            "list the joints in command order: - {name: ..., lower: ..., upper: ..., velocity: ..., "
                            "acceleration: ...}")
        joints = []
        for i, entry in enumerate(value):
            where = f"joints[{i}]"
            entry = self.mapping(entry, where, _JOINT_KEYS)
            name = self.text(entry["name"], f"{where}.name")
            lower = self.number(entry["lower"], f"{where}.lower ({name})")
            upper = self.number(entry["upper"], f"{where}.upper ({name})")
            if lower >= upper:
                raise self.fail(f"{where} ({name})", f"lower {lower} is not below upper {upper}",
                                "set lower < upper (the joint's position range)")
            joints.append(JointConfig(
                name=name, lower=lower, upper=upper,
                velocity=self.number(entry["velocity"], f"{where}.velocity ({name})", positive=True),
                acceleration=self.number(entry["acceleration"], f"{where}.acceleration ({name})", positive=True),
            ))
        names = [j.name for j in joints]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise self.fail("joints", f"joint name(s) {repeated} appear more than once", "give every joint a unique name")
        return tuple(joints)

    def controller(self, value: Any) -> ControllerConfig:
        value = self.mapping(value, "controller", _CONTROLLER_KEYS, optional=("latency_s", "command_timeout_s"))
        kind = value["type"]
        if kind not in CONTROLLER_TYPES:
            raise self.fail("controller.type", f"{kind!r} is not a supported controller",
                            f"use one of {', '.join(CONTROLLER_TYPES)}")
        return ControllerConfig(
            type=kind,
            topic=self.text(value["topic"], "controller.topic"),
            latency_s=self.number(value.get("latency_s", 0.0), "controller.latency_s", non_negative=True),
            command_timeout_s=self.number(value.get("command_timeout_s", 0.5), "controller.command_timeout_s",
                                          positive=True),
        )

    def cameras(self, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail("cameras", f"expected a mapping, got {value!r}", "write {policy obs key: image topic}")
        return {self.text(k, "cameras key"): self.text(v, f"cameras.{k}") for k, v in value.items()}

    def observations(self, value: Any, joints: list[str], cameras: dict[str, str]) -> dict[str, ObservationSource]:
        if not isinstance(value, Mapping) or not value:
            raise self.fail("observations", f"expected a non-empty mapping, got {value!r}",
                            "map each low-dim policy observation key to a joint list or {extra: <source name>}")
        sources = {}
        for key, entry in value.items():
            where = f"observations.{key}"
            if key in cameras:
                raise self.fail(where, "the key is also a camera", "give cameras and low-dim observations distinct keys")
            if isinstance(entry, (list, tuple)):  # shorthand: a bare joint list reads those joints' positions
                entry = {"joints": entry}
            if not isinstance(entry, Mapping) or ("joints" in entry) == ("extra" in entry):
                raise self.fail(where, f"expected exactly one of `joints` or `extra`, got {entry!r}",
                                "write [j1, j2] (positions), {joints: [j1, j2], field: velocity} or {extra: <source>}")
            if "extra" in entry:
                self.mapping(entry, where, ("extra",))
                sources[key] = ObservationSource(extra=self.text(entry["extra"], f"{where}.extra"))
                continue
            self.mapping(entry, where, ("joints", "field"), optional=("field",))
            kind = entry.get("field", "position")
            if kind not in OBSERVATION_FIELDS:
                raise self.fail(f"{where}.field", f"{kind!r} is not a joint field", f"use {' or '.join(OBSERVATION_FIELDS)}")
            sources[key] = ObservationSource(joints=self.joint_list(entry["joints"], f"{where}.joints", joints), field=kind)
        return sources

    def extra_topics(self, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail("extra_topics", f"expected a mapping, got {value!r}",
                            "write {extra source name: topic}, e.g. {object_pose: /object_pose}")
        topics = {self.text(k, "extra_topics key"): self.text(v, f"extra_topics.{k}") for k, v in value.items()}
        shared = sorted({t for t in topics.values() if list(topics.values()).count(t) > 1})
        if shared:
            raise self.fail("extra_topics", f"topic(s) {shared} carry more than one extra source",
                            "give every extra source its own topic")
        return topics

    def workspace(self, value: Any, joints: tuple[JointConfig, ...]) -> dict[str, tuple[float, float]]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail("workspace", f"expected a mapping, got {value!r}", "write {joint: [lower, upper]}")
        by_name = {j.name: j for j in joints}
        bounds = {}
        for name, pair in value.items():
            where = f"workspace.{name}"
            if name not in by_name:
                raise self.fail(where, "not a joint", f"use the names declared under `joints`: {list(by_name)}")
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise self.fail(where, f"expected [lower, upper], got {pair!r}", "write two numbers, lower first")
            lo, hi = self.number(pair[0], f"{where}[0]"), self.number(pair[1], f"{where}[1]")
            if lo >= hi:
                raise self.fail(where, f"lower {lo} is not below upper {hi}", "write [lower, upper] with lower < upper")
            bounds[name] = (lo, hi)
        return bounds

    def vector3(self, value: Any, where: str) -> tuple[float, float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise self.fail(where, f"expected [x, y, z], got {value!r}", "write three numbers in metres")
        return tuple(self.number(v, f"{where}[{i}]") for i, v in enumerate(value))

    def kinematics(self, value: Any, joints: list[str]) -> KinematicsConfig | None:
        if value is None:
            return None
        value = self.mapping(value, "kinematics", _KINEMATICS_KEYS, optional=("base", "tool"))
        rows = value["dh"]
        if not isinstance(rows, (list, tuple)) or len(rows) != len(joints):
            count = f"{len(rows)} rows" if isinstance(rows, (list, tuple)) else repr(rows)
            raise self.fail("kinematics.dh", f"expected one row per joint ({len(joints)}: {joints}), got {count}",
                            "write one {a, d, alpha, theta_offset} row per joint, in the order of `joints` "
                            "(standard DH, metres and radians)")
        columns: dict[str, list[float]] = {k: [] for k in _DH_KEYS}
        for i, (row, name) in enumerate(zip(rows, joints)):
            where = f"kinematics.dh[{i}] ({name})"
            row = self.mapping(row, where, _DH_KEYS, optional=("theta_offset",))
            for key in _DH_KEYS:
                columns[key].append(self.number(row.get(key, 0.0), f"{where}.{key}"))
        return KinematicsConfig(
            a=tuple(columns["a"]), d=tuple(columns["d"]), alpha=tuple(columns["alpha"]),
            theta_offset=tuple(columns["theta_offset"]),
            base=self.vector3(value.get("base", (0.0, 0.0, 0.0)), "kinematics.base"),
            tool=self.vector3(value.get("tool", (0.0, 0.0, 0.0)), "kinematics.tool"),
        )

    def cartesian_workspace(self, value: Any, kinematics: KinematicsConfig | None) -> dict[str, tuple[float, float]]:
        if value is None:
            return {}
        if kinematics is None:
            raise self.fail("cartesian_workspace", "given without `kinematics`",
                            "add a `kinematics: {dh: [...]}` section (the arm's DH table) so the tool point can be "
                            "computed, or remove cartesian_workspace")
        if not isinstance(value, Mapping) or not value:
            raise self.fail("cartesian_workspace", f"expected a non-empty mapping, got {value!r}",
                            "write {x: [lower, upper], y: [lower, upper], z: [lower, upper]} in metres")
        bounds = {}
        for axis, pair in value.items():
            where = f"cartesian_workspace.{axis}"
            if axis not in CARTESIAN_AXES:
                raise self.fail(where, "not an axis", f"use {', '.join(CARTESIAN_AXES)}")
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise self.fail(where, f"expected [lower, upper], got {pair!r}", "write two numbers in metres, lower first")
            lo, hi = self.number(pair[0], f"{where}[0]"), self.number(pair[1], f"{where}[1]")
            if lo >= hi:
                raise self.fail(where, f"lower {lo} is not below upper {hi}", "write [lower, upper] with lower < upper")
            bounds[axis] = (lo, hi)
        return bounds

    def max_step(self, value: Any, joints: list[str]) -> dict[str, float]:
        if isinstance(value, Mapping):
            missing = [n for n in joints if n not in value]
            unknown = [str(k) for k in value if k not in joints]
            if missing or unknown:
                raise self.fail("max_step", f"missing joints {missing}, unknown joints {unknown}",
                                "give one number for every joint, or a single number for all")
            return {n: self.number(value[n], f"max_step.{n}", positive=True) for n in joints}
        step = self.number(value, "max_step", positive=True)
        return {n: step for n in joints}

    def position_limits(self, value: Any) -> str:
        """The position-limit mode: "reject" or "clamp"."""
        if value not in POSITION_LIMIT_MODES:
            raise self.fail("position_limits", f"{value!r} is not a mode",
                            "write `position_limits: reject` (a target outside a joint's limits is a fault, the "
                            "default) or `position_limits: clamp` (it is moved onto the limit and counted)")
        return value

    def sim_scene(self, value: Any) -> str:
        if value not in SIM_SCENES:
            raise self.fail("sim_scene", f"{value!r} is not a scene the simulated arm has",
                            f"write one of {list(SIM_SCENES)}, or leave the key out (pusht)")
        return value

    def watchdog(self, value: Any) -> WatchdogConfig:
        value = self.mapping(value, "watchdog", _WATCHDOG_KEYS)
        return WatchdogConfig(**{k: self.number(value[k], f"watchdog.{k}", positive=True) for k in _WATCHDOG_KEYS})
