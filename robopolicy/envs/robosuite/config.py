"""Translate robomimic ``env_kwargs`` for a robosuite task into ``robosuite.make`` arguments plus adapter options.

robomimic stores the keyword arguments it passed to ``robosuite.make``. On top of those the adapter understands
a few keys of its own, named as Push-T names them, which are removed before ``robosuite.make`` sees them:
``image_obs`` (add the ``agentview`` camera), ``image_size`` (its side in pixels), ``render_size`` (video frames)
and ``max_steps`` (episode length; robosuite's ``horizon`` is used when ``max_steps`` is absent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = 'robosuite tasks need the optional dependencies: pip install -e ".[robosuite]"'
DEFAULT_MAX_STEPS = 400  # robomimic's rollout horizon for Lift, Can and Square
DEFAULT_CAMERA = "agentview"


@dataclass(frozen=True)
class AdapterOptions:
    """What the gymnasium wrapper needs beyond robosuite's own arguments."""

    max_steps: int = DEFAULT_MAX_STEPS
    render_size: int = 256
    render_camera: str = DEFAULT_CAMERA


def split_env_kwargs(env_kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], AdapterOptions]:
    """robomimic env_kwargs (+ our keys) -> (kwargs for ``robosuite.make``, adapter options).

    Rendering is always headless (``has_renderer`` False); the offscreen renderer is created only when a
    camera observation is asked for, either through ``image_obs=True`` or robomimic's own
    ``use_camera_obs``/``camera_names``. Episode ends are the adapter's job, so robosuite never stops itself
    (``ignore_done``), and resets keep the compiled model (``hard_reset`` False) unless asked otherwise.
    """
    kwargs = dict(env_kwargs)
    image_obs = bool(kwargs.pop("image_obs", False))
    image_size = int(kwargs.pop("image_size", kwargs.get("camera_heights", 84)))
    max_steps = int(kwargs.pop("max_steps", kwargs.get("horizon", DEFAULT_MAX_STEPS)))
    render_size = int(kwargs.pop("render_size", 256))

    kwargs["robots"] = list(_as_list(kwargs.get("robots", ["Panda"])))
    if kwargs.get("controller_configs") is not None:
        kwargs["controller_configs"] = convert_controller_config(kwargs["controller_configs"], kwargs["robots"][0])

    if image_obs:
        kwargs["use_camera_obs"] = True
        kwargs["camera_names"] = list(_as_list(kwargs.get("camera_names") or [DEFAULT_CAMERA]))
        kwargs["camera_heights"] = kwargs["camera_widths"] = image_size
    elif not kwargs.get("use_camera_obs", False):
        kwargs["use_camera_obs"] = False
    kwargs["has_renderer"] = False
    kwargs["has_offscreen_renderer"] = bool(kwargs["use_camera_obs"])
    kwargs["ignore_done"] = True
    kwargs.setdefault("hard_reset", False)
    # robosuite draws parts of the model itself (Lift's cube size) from its construction seed; a fixed one gives
    # every env built from the same env_args the same model. Episodes are randomized by reset(seed=...).
    kwargs.setdefault("seed", 0)
    return kwargs, AdapterOptions(max_steps=max_steps, render_size=render_size)


def convert_controller_config(config: Mapping[str, Any], robot: str) -> dict[str, Any]:
    """An old (robosuite <= 1.4, e.g. {"type": "OSC_POSE", ...}) arm controller config -> robosuite 1.5's composite
    config for a single-arm ``robot``; a config already in the composite format comes back unchanged."""
    from robosuite.controllers.composite.composite_controller_factory import refactor_composite_controller_config

    return refactor_composite_controller_config(dict(config), robot, ["right"])


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)
