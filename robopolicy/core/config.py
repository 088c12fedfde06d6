"""Plain-data configs: build a dataclass from a mapping, refusing unknown keys with the list of valid ones."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], data: Mapping[str, Any] | None, what: str) -> T:
    """``cls(**data)`` with a clear error on unknown keys; list values become tuples where the field is a tuple."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}; valid options: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if isinstance(value, list) and typing.get_origin(hints[key]) is tuple:
            data[key] = tuple(value)
    return cls(**data)


def dataclass_to_dict(obj: Any) -> dict[str, Any]:
    """The inverse, with tuples as lists so the result is YAML/JSON-friendly."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(obj).items()}
