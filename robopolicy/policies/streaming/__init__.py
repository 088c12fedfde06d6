"""Streaming Diffusion Policy (Høeg, Du, Egeland, 2024)."""

from robopolicy.policies.streaming.configuration import StreamingConfig
from robopolicy.policies.streaming.modeling import StreamingDiffusionPolicy

__all__ = ["StreamingConfig", "StreamingDiffusionPolicy"]
