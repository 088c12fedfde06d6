"""Name -> policy class. Families register themselves; configs and checkpoints refer to them by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from robopolicy.core.policy import Policy

_FAMILIES: dict[str, type[Policy]] = {}
_BUILTIN_PACKAGE = "robopolicy.policies"  # importing it registers every family shipped with robopolicy

P = TypeVar("P", bound=type[Policy])


def register_policy(name: str) -> Callable[[P], P]:
    """Class decorator: ``@register_policy("diffusion")`` makes ``policy=diffusion`` build this class."""

    def decorate(cls: P) -> P:
        if not (isinstance(cls, type) and issubclass(cls, Policy)):
            raise TypeError(f"@register_policy({name!r}) expects a Policy subclass, got {cls!r}")
        existing = _FAMILIES.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"policy family {name!r} is already registered by {existing.__module__}.{existing.__qualname__}")
        cls.family = name
        _FAMILIES[name] = cls
        return cls

    return decorate


def _load_builtin_families() -> None:
    importlib.import_module(_BUILTIN_PACKAGE)


def available_policies() -> list[str]:
    _load_builtin_families()
    return sorted(_FAMILIES)


def get_policy_class(name: str) -> type[Policy]:
    """Look a family up by name; an unknown name raises with the list of known ones."""
    if name not in _FAMILIES:
        _load_builtin_families()
    if name not in _FAMILIES:
        raise KeyError(f"unknown policy family {name!r}; available: {', '.join(sorted(_FAMILIES)) or '(none)'}")
    return _FAMILIES[name]
