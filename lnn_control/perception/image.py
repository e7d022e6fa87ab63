"""CNN encoder for camera images, in plain torch (there is no CPU build of torchvision here).

A strided convolution stack in the spirit of the NCP lane-keeping network (Lechner et al., Nature
Machine Intelligence 2020) and the liquid-drone paper (Chahine et al., Science Robotics 2023):
three 5x5/3x3 stride-2 convolutions and one 3x3 stride-1, ELU, then an adaptive average pool to a
4x4 grid (so 64x64 to 128x128 inputs give the same feature size), a linear layer and tanh.

With ``head="keypoints"`` the linear layer also reads a spatial soft-argmax of the last feature
maps (Levine et al., "End-to-end training of deep visuomotor policies", JMLR 2016): for each
channel, the expected image position ``(x, y)`` in ``[-1, 1]`` under a softmax over its map. Where
something is in the image (a target's bearing) then reaches the core as a number that varies
smoothly with it, instead of through which 16-pixel cell of the pooled grid it falls in.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ImageEncoder"]


class ImageEncoder(nn.Module):
    """``uint8 (..., H, W, C) -> (..., features)``.

    Pixels are scaled to ``[-2, 2]`` (``(p / 255 - 0.5) / 0.25``); channel order is the stream's
    (the runtime converts bgr8 to rgb8 before encoding when the stream declares rgb8).

    :param channels: 3 for rgb8/bgr8, 1 for mono8.
    :param features: output size.
    :param widths: channels of the four convolutions.
    :param head: ``pool`` (the 4x4 pooled maps) or ``keypoints`` (those and each channel's
        soft-argmax position).
    """

    def __init__(
        self,
        channels: int,
        features: int = 32,
        widths: tuple[int, int, int, int] = (16, 24, 32, 48),
        head: Literal["pool", "keypoints"] = "pool",
    ) -> None:
        super().__init__()
        a, b, c, d = widths
        self.convs = nn.Sequential(
            nn.Conv2d(channels, a, 5, stride=2, padding=2),
            nn.ELU(),
            nn.Conv2d(a, b, 5, stride=2, padding=2),
            nn.ELU(),
            nn.Conv2d(b, c, 3, stride=2, padding=1),
            nn.ELU(),
            nn.Conv2d(c, d, 3, stride=1, padding=1),
            nn.ELU(),
        )
        self.keypoints = head == "keypoints"
        self.head = nn.Linear(d * 16 + (2 * d if self.keypoints else 0), features)
        self.output_size = features

    def forward(self, images: Tensor) -> Tensor:
        lead = images.shape[:-3]
        x = images.reshape((-1,) + tuple(images.shape[-3:])).permute(0, 3, 1, 2)
        x = (x.to(torch.float32) * (1.0 / 255.0) - 0.5) * 4.0
        maps = self.convs(x)
        x = F.adaptive_avg_pool2d(maps, 4).flatten(1)
        if self.keypoints:
            x = torch.cat([x, soft_argmax(maps)], dim=1)
        return torch.tanh(self.head(x)).reshape(lead + (self.output_size,))


def soft_argmax(maps: Tensor) -> Tensor:
    """Each channel's expected position under a softmax over its map.

    :param maps: ``(B, C, H, W)`` feature maps.
    :return: ``(B, 2 C)``: every channel's ``x`` (left -1 to right +1), then every channel's ``y``
        (top -1 to bottom +1).
    """
    height, width = maps.shape[-2:]
    weights = torch.softmax(maps.flatten(2), dim=-1).unflatten(2, (height, width))  # (B, C, H, W)
    xs = torch.linspace(-1.0, 1.0, width, device=maps.device)
    ys = torch.linspace(-1.0, 1.0, height, device=maps.device)
    return torch.cat([weights.sum(2) @ xs, weights.sum(3) @ ys], dim=1)
