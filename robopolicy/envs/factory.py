"""Rebuild an environment from robomimic-style ``env_args`` (as stored in a dataset's ``data`` attrs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

# Initial-state seeds: demonstrations are collected from seed 0 up, evaluations start here, so the two never meet.
EVAL_SEED_START = 1_000_000
# Inference settings (a step count, a gain) are chosen on episodes from here, never on the evaluation seeds above.
VALIDATION_SEED_START = 2_000_000
SEED_STARTS = {"evaluation": EVAL_SEED_START, "validation": VALIDATION_SEED_START}

# robomimic's EnvType values: 1 robosuite, 2 gym, 3 iGibson. Our own MuJoCo tasks are gymnasium envs.
ENV_TYPE_ROBOSUITE = 1
ENV_TYPE_GYM = 2


def make_env(env_args: Mapping[str, Any], **overrides: Any) -> gym.Env:
    """``env_args`` = {"env_name", "type", "env_kwargs"}; ``overrides`` update env_kwargs (e.g. image_obs=True)."""
    missing = {"env_name", "type"} - set(env_args)
    if missing:
        raise ValueError(f"env_args lacks {sorted(missing)}; expected keys env_name, type, env_kwargs")
    kwargs = {**dict(env_args.get("env_kwargs") or {}), **overrides}
    env_type = int(env_args["type"])
    if env_type == ENV_TYPE_GYM:
        import robopolicy.envs  # noqa: F401  (registers our env ids)

        return gym.make(env_args["env_name"], disable_env_checker=True, **kwargs).unwrapped
    if env_type == ENV_TYPE_ROBOSUITE:
        # robosuite is optional; this import does not need it, building the env does (and says how to install it).
        from robopolicy.envs.robosuite import make_robosuite_env

        return make_robosuite_env(env_args["env_name"], **kwargs)
    raise ValueError(
        f"env type {env_type} ({env_args['env_name']}) is not supported; known types: "
        f"{ENV_TYPE_ROBOSUITE} (robosuite), {ENV_TYPE_GYM} (gymnasium)"
    )


def control_rate_hz(env_args: Mapping[str, Any]) -> float | None:
    """The rate (Hz) at which the env of ``env_args`` takes actions, read without building it; None if it does not say.

    gymnasium envs: their class's ``metadata["render_fps"]`` (ours render one frame per control step); robosuite
    envs: ``env_kwargs["control_freq"]``, as robomimic stores it.
    """
    env_type = int(env_args.get("type", 0))
    if env_type == ENV_TYPE_ROBOSUITE:
        rate = (env_args.get("env_kwargs") or {}).get("control_freq")
        return None if rate is None else float(rate)
    if env_type == ENV_TYPE_GYM:
        import robopolicy.envs  # noqa: F401  (registers our env ids)

        try:
            entry_point = gym.spec(env_args["env_name"]).entry_point
        except gym.error.Error:
            return None
        env_class = gym.envs.registration.load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
        rate = getattr(env_class, "metadata", {}).get("render_fps")
        return None if rate is None else float(rate)
    return None
