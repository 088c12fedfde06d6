"""Behaviour cloning by mean-squared-error regression: the deterministic reference every table carries."""

from robopolicy.policies.bc.configuration import BCConfig
from robopolicy.policies.bc.modeling import BCPolicy

__all__ = ["BCConfig", "BCPolicy"]
