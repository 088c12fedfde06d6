"""Between the policy's keys and the arm's joints: observations from an ArmState, actions to joint positions.

Shapes: J joints (the robot config's order), Da action dims, T chunk points.
"""

from __future__ import annotations

import numpy as np

from hardware.driver import ArmState
from hardware.robot import RobotConfig
from robopolicy.core import ShapeMeta


def check_policy_fits_robot(robot: RobotConfig, shape_meta: ShapeMeta) -> None:
    """Raise ValueError, saying what to change, unless the robot config provides every observation the policy reads
    (with the right width) and its action map has one joint per action dimension."""
    problems = []
    for key, spec in shape_meta.obs.items():
        if spec.type == "rgb":
            if key not in robot.cameras:
                problems.append(f"the policy reads camera '{key}' but `cameras` does not list it")
            continue
        source = robot.observations.get(key)
        if source is None:
            problems.append(f"the policy reads '{key}' {spec.shape} but `observations` does not map it")
        elif source.extra is None and len(source.joints) != spec.shape[0]:
            problems.append(f"'{key}' is {spec.shape[0]} wide for the policy but maps {len(source.joints)} joints "
                            f"{list(source.joints)}")
    if shape_meta.action_dim != len(robot.action):
        problems.append(f"the policy's action has {shape_meta.action_dim} dims but `action` maps "
                        f"{len(robot.action)} joints {list(robot.action)}")
    if problems:
        raise ValueError(f"the policy does not fit robot '{robot.name}' ({robot.source}): " + "; ".join(problems))


def observation_from_state(state: ArmState, robot: RobotConfig, shape_meta: ShapeMeta) -> dict[str, np.ndarray]:
    """The policy's observation {key: (D,) float64 | (H, W, 3) uint8} for one tick, read from ``state``.

    Raises ValueError when the state lacks a source the robot config maps, or a value has the wrong shape.
    """
    obs = {}
    for key, spec in shape_meta.obs.items():
        if spec.type == "rgb":
            if key not in state.images:
                raise ValueError(f"no camera frame for '{key}' (topic {robot.cameras.get(key)}) in the arm state")
            value = np.asarray(state.images[key])
        else:
            source = robot.observations[key]
            if source.extra is not None:
                if source.extra not in state.extras:
                    raise ValueError(f"'{key}' comes from extra source '{source.extra}', which the driver does not "
                                     f"provide (it provides {sorted(state.extras)})")
                value = np.asarray(state.extras[source.extra], dtype=np.float64)
            else:
                values = state.positions if source.field == "position" else state.velocities
                if values is None:
                    raise ValueError(f"'{key}' reads joint velocities but the arm's joint states carry none")
                value = np.asarray(values, dtype=np.float64)[[robot.joint_index(j) for j in source.joints]]
        if value.shape != tuple(spec.shape):
            raise ValueError(f"observation '{key}' has shape {value.shape}, the policy expects {tuple(spec.shape)}")
        obs[key] = value
    return obs


def actions_to_joints(actions: np.ndarray, robot: RobotConfig) -> np.ndarray:
    """Policy actions (..., Da) -> joint positions (..., J) in the robot config's joint order."""
    actions = np.asarray(actions, dtype=np.float64)
    if actions.shape[-1] != len(robot.action):
        raise ValueError(f"actions have {actions.shape[-1]} dims; the action map has {len(robot.action)}")
    return actions[..., robot.action_to_joint_index()]
