"""EBT-Policy: energy-based transformer policy (actions by descending a learned energy)."""

from robopolicy.policies.ebt.configuration import EBTConfig
from robopolicy.policies.ebt.modeling import EBTPolicy

__all__ = ["EBTConfig", "EBTPolicy"]
