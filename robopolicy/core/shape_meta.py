"""ShapeMeta: the observation keys a policy consumes and the action it produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ObsType = Literal["low_dim", "rgb"]
OBS_TYPES: tuple[str, ...] = ("low_dim", "rgb")


@dataclass(frozen=True)
class ObsSpec:
    """One observation key. ``shape`` excludes batch and time: (D,) for low_dim, (H, W, C) for rgb (uint8 HWC)."""

    shape: tuple[int, ...]
    type: ObsType = "low_dim"

    def __post_init__(self) -> None:
        if self.type not in OBS_TYPES:
            raise ValueError(f"observation type must be one of {OBS_TYPES}, got {self.type!r}")
        if self.type == "rgb" and (len(self.shape) != 3 or self.shape[-1] != 3):
            raise ValueError(f"rgb observations are (H, W, 3) uint8 images, got shape {self.shape}")
        if self.type == "low_dim" and len(self.shape) != 1:
            raise ValueError(f"low_dim observations are flat vectors (D,), got shape {self.shape}")


@dataclass(frozen=True)
class ShapeMeta:
    """Observation keys (in a fixed order) with their specs, and the action dimension Da."""

    obs: dict[str, ObsSpec]
    action_dim: int
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.obs:
            raise ValueError("ShapeMeta needs at least one observation key")
        if self.action_dim < 1:
            raise ValueError(f"action_dim must be positive, got {self.action_dim}")
        object.__setattr__(self, "_order", tuple(self.obs))

    @property
    def low_dim_keys(self) -> list[str]:
        return [k for k in self._order if self.obs[k].type == "low_dim"]

    @property
    def rgb_keys(self) -> list[str]:
        return [k for k in self._order if self.obs[k].type == "rgb"]

    @property
    def low_dim_size(self) -> int:
        """Total width of the concatenated low-dim keys."""
        return sum(self.obs[k].shape[0] for k in self.low_dim_keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "obs": {k: {"shape": list(v.shape), "type": v.type} for k, v in self.obs.items()},
            "action_dim": self.action_dim,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShapeMeta:
        obs = {str(k): ObsSpec(tuple(int(s) for s in v["shape"]), str(v.get("type", "low_dim"))) for k, v in data["obs"].items()}
        return cls(obs=obs, action_dim=int(data["action_dim"]))
