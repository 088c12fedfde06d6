"""Diffusion Policy (Chi et al., RSS 2023)."""

from robopolicy.policies.diffusion.configuration import DiffusionConfig
from robopolicy.policies.diffusion.modeling import DiffusionPolicy

__all__ = ["DiffusionConfig", "DiffusionPolicy"]
