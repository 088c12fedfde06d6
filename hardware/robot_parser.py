"""Validation of a robot description, field by field, into a RobotConfig (hardware/robot.py defines the fields).

Every error is a RobotConfigError naming the config's source, the field's path and what to write instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hardware.robot import (
    CARTESIAN_AXES,
    CONTROLLER_TYPES,
    OBSERVATION_FIELDS,
    POSITION_LIMIT_MODES,
    SIM_SCENES,
    ControllerConfig,
    JointConfig,
    KinematicsConfig,
    ObservationSource,
    RobotConfig,
    RobotConfigError,
    WatchdogConfig,
)

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


class RobotConfigParser:
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

    def interval(self, pair: Any, where: str, how: str) -> tuple[float, float]:
        """A [lower, upper] pair of finite numbers with lower < upper; ``how`` says how to write it."""
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise self.fail(where, f"expected [lower, upper], got {pair!r}", how)
        lo, hi = self.number(pair[0], f"{where}[0]"), self.number(pair[1], f"{where}[1]")
        if lo >= hi:
            raise self.fail(where, f"lower {lo} is not below upper {hi}", "write [lower, upper] with lower < upper")
        return lo, hi

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
            bounds[name] = self.interval(pair, where, "write two numbers, lower first")
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
            bounds[axis] = self.interval(pair, where, "write two numbers in metres, lower first")
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
