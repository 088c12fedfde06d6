"""A ResNet-18-style image trunk with GroupNorm and a spatial-softmax keypoint head (no torchvision).

BatchNorm is replaced by GroupNorm because policies train with small, highly correlated batches and
EMA weights, where running batch statistics hurt (Diffusion Policy, Sec. 3.3). Global average pooling
is replaced by spatial softmax: each keypoint channel becomes the expected (x, y) location of its
activation, which keeps the geometry that manipulation needs (Levine et al., 2016; robomimic).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=max(1, channels // 16), num_channels=channels)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection; a 1x1 projection when shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = _group_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _group_norm(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), _group_norm(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class SpatialSoftmax(nn.Module):
    """(N, C, H, W) feature map -> (N, 2K) expected image coordinates in [-1, 1] of K learned keypoint maps."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.keypoints = nn.Conv2d(in_channels, num_keypoints, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.keypoints(x)
        n, k, h, w = maps.shape
        attention = torch.softmax(maps.reshape(n, k, h * w), dim=-1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device), torch.linspace(-1, 1, w, device=x.device), indexing="ij")
        grid = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1).to(attention.dtype)  # (H*W, 2)
        return (attention @ grid).reshape(n, 2 * k)


class ResNetTrunk(nn.Module):
    """(N, 3, H, W) images in [0, 1] -> (N, out_dim) features.

    ``channels`` are the widths of the four stages (ResNet-18: 64, 128, 256, 512; narrower trunks
    train much faster on a CPU). Each stage holds two BasicBlocks; stages 2-4 halve the resolution.
    """

    def __init__(self, out_dim: int = 64, channels: tuple[int, ...] = (64, 128, 256, 512), num_keypoints: int = 32) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"ResNetTrunk needs four stage widths, got {channels}")
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels[0], kernel_size=7, stride=2, padding=3, bias=False),
            _group_norm(channels[0]),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        stages, width = [], channels[0]
        for i, out in enumerate(channels):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(width, out, stride), BasicBlock(out, out, 1)))
            width = out
        self.stages = nn.Sequential(*stages)
        self.pool = SpatialSoftmax(width, num_keypoints)
        self.project = nn.Linear(2 * num_keypoints, out_dim)
        self.out_dim = out_dim

    @staticmethod
    def feature_map_size(size: int) -> int:
        """Side of the final feature map for an input side ``size`` (five stride-2 reductions)."""
        for _ in range(5):
            size = (size - 1) // 2 + 1
        return size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.pool(self.stages(self.stem(images))))
