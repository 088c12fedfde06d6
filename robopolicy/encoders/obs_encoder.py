"""ObsEncoder: the one observation encoder shared by every policy family."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from einops import rearrange
from torch import nn

from robopolicy.core.config import dataclass_from_dict
from robopolicy.core.shape_meta import ShapeMeta
from robopolicy.encoders.crop import center_crop, random_crop
from robopolicy.encoders.resnet import ResNetTrunk


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of the camera branch (low-dim keys pass through unchanged).

    rgb_feature_dim: features per camera per step; crop_ratio: side of the crop relative to the image
    (random position in training, centered at evaluation; 1.0 disables cropping); channels: the four
    ResNet stage widths; share_rgb_trunk: one trunk for all cameras instead of one each.
    """

    rgb_feature_dim: int = 64
    crop_ratio: float = 0.9
    channels: tuple[int, ...] = (64, 128, 256, 512)
    num_keypoints: int = 32
    share_rgb_trunk: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EncoderConfig:
        return dataclass_from_dict(cls, data, "encoder")


class ObsEncoder(nn.Module):
    """Normalized observations {key: (B, To, ...)} -> per-step features (B, To, D).

    Low-dim keys (B, To, Dk) are concatenated in ShapeMeta order. Each camera (B, To, H, W, 3) float in
    [0, 1] is cropped, passed through a ResNet trunk and contributes ``rgb_feature_dim`` features.
    ``flat=True`` returns (B, To*D) for families that condition on one vector (FiLM, MLP heads).
    """

    def __init__(self, shape_meta: ShapeMeta, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.shape_meta = shape_meta
        self.config = config or EncoderConfig()
        self.low_dim_keys = shape_meta.low_dim_keys
        self.rgb_keys = shape_meta.rgb_keys
        self.crop_sizes: dict[str, tuple[int, int]] = {}
        for key in self.rgb_keys:
            h, w, _ = shape_meta.obs[key].shape
            crop = (max(1, round(h * self.config.crop_ratio)), max(1, round(w * self.config.crop_ratio)))
            if min(ResNetTrunk.feature_map_size(c) for c in crop) < 2:
                raise ValueError(
                    f"camera {key!r}: a {crop[0]}x{crop[1]} crop leaves a 1x1 feature map after the ResNet trunk, "
                    "where spatial-softmax keypoints carry no information; use images of at least 40x40 or a larger crop_ratio"
                )
            self.crop_sizes[key] = crop
        trunk_names = ["shared"] if self.config.share_rgb_trunk and self.rgb_keys else self.rgb_keys
        self.trunks = nn.ModuleDict(
            {
                name: ResNetTrunk(self.config.rgb_feature_dim, self.config.channels, self.config.num_keypoints)
                for name in trunk_names
            }
        )
        self.feature_dim = shape_meta.low_dim_size + len(self.rgb_keys) * self.config.rgb_feature_dim

    def forward(self, obs: Mapping[str, torch.Tensor], flat: bool = False) -> torch.Tensor:
        parts = [obs[k].float() for k in self.low_dim_keys]
        for key in self.rgb_keys:
            images = obs[key]
            b, t = images.shape[:2]
            images = rearrange(images, "b t h w c -> (b t) h w c")
            if self.training:
                images = random_crop(images, self.crop_sizes[key])
            else:
                images = center_crop(images, self.crop_sizes[key])
            trunk = self.trunks["shared" if self.config.share_rgb_trunk else key]
            features = trunk(rearrange(images.float(), "n h w c -> n c h w").contiguous())
            parts.append(rearrange(features, "(b t) d -> b t d", b=b, t=t))
        tokens = torch.cat(parts, dim=-1)
        return rearrange(tokens, "b t d -> b (t d)") if flat else tokens
