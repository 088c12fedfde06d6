"""The shared observation encoder."""

from robopolicy.encoders.obs_encoder import EncoderConfig, ObsEncoder

__all__ = ["EncoderConfig", "ObsEncoder"]
