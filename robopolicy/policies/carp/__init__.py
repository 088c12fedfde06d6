"""CARP: coarse-to-fine autoregressive policy (multi-scale action tokens predicted scale by scale)."""

from robopolicy.policies.carp.configuration import CARPConfig
from robopolicy.policies.carp.modeling import CARPPolicy

__all__ = ["CARPConfig", "CARPPolicy"]
