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

Every mistake is reported with the file, the field and what to write instead (RobotConfigError; the checks are in
hardware/robot_parser.py).
Units are the joints' own: radians for revolute joints, metres for prismatic ones, per second (squared).
"""

from __future__ import annotations

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
        from hardware.robot_parser import RobotConfigParser  # the parser builds this class: imported on use

        return RobotConfigParser(source).robot(data)


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
