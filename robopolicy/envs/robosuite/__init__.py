"""robosuite tasks (Lift, PickPlaceCan, NutAssemblySquare) built from robomimic env_args.

robosuite is optional: importing this package does not import it; ``make_robosuite_env`` does, and says how to
install it when it is missing.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from robopolicy.envs.robosuite.config import INSTALL_HINT


def make_robosuite_env(env_name: str, **env_kwargs: Any) -> gym.Env:
    """``robosuite.make(env_name, **env_kwargs)`` wrapped as a gymnasium env (see adapter.RobosuiteEnv)."""
    try:
        import robosuite  # noqa: F401
    except ImportError as err:
        raise ImportError(f"cannot build robosuite env {env_name!r}: {INSTALL_HINT} ({err})") from err
    from robopolicy.envs.robosuite.adapter import RobosuiteEnv

    return RobosuiteEnv(env_name, **env_kwargs)


__all__ = ["INSTALL_HINT", "make_robosuite_env"]
