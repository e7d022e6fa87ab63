"""Image augmentation for behaviour cloning: small random shifts, colour jitter and pixel noise
of the camera frames of a training batch (as Chahine et al. 2023 trained their liquid drone
policies with), so that a policy learns the task rather than one floor, light or camera.

Only :func:`lnn_control.train.bc.fit` calls it, on training batches, when the training config has an
``augmentation`` section; validation, evaluation and the runtime always see the frames as
recorded. Frames are the batch's distinct frames (``(U, H, W, C)`` uint8, grey levels 0 to 255,
channels last, as :class:`~lnn_control.train.dataset.Batch` holds them); each gets its own draw,
so every step that holds a frame sees the same augmented frame. In order:

1. **shift** by ``(dy, dx)`` whole pixels, each uniform in ``[-shift, shift]``: the content moves
   down by ``dy`` and right by ``dx``; pixels moved in from outside repeat the edge
   (:func:`shift_frames`);
2. **colour**: each channel times ``b * g_c``, ``b`` (brightness) uniform in
   ``[1 - brightness, 1 + brightness]`` per frame and ``g_c`` uniform in ``[1 - colour, 1 + colour]``
   per frame and channel, then the contrast about the frame's mean grey level times ``k``
   uniform in ``[1 - contrast, 1 + contrast]`` (:func:`jitter_colour`);
3. **noise**: Gaussian, ``noise_std`` grey levels, per pixel and channel: each frame adds one of
   :data:`NOISE_FRAMES` noise frames drawn for the batch, picked at random (drawing one for each of
   a camera batch's ~500 frames was the largest part of the augmentation's time, about a third);
4. rounded and clipped to ``[0, 255]``, uint8 again.

Draws come from a generator seeded by ``(seed, phase, epoch, chunk)``: a run and its resumed
copy augment every batch alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from lnn_control.train.config import AugmentationConfig
from lnn_control.train.dataset import Batch

__all__ = ["NOISE_FRAMES", "augment_batch", "augment_frames", "jitter_colour", "shift_frames"]

#: distinct Gaussian noise frames drawn per batch (and image stream)
NOISE_FRAMES = 64


def shift_frames(frames: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Frames ``(U, H, W, C)`` shifted by whole pixels, edges repeated:
    ``out[u, y, x] = frames[u, clip(y - dy[u], 0, H - 1), clip(x - dx[u], 0, W - 1)]``.

    :param dy: ``(U,)`` long, pixels down. :param dx: ``(U,)`` long, pixels right.
    :return: ``(U, H, W, C)``, the dtype of ``frames``.
    """
    count, height, width, channels = frames.shape
    rows = (torch.arange(height) - dy[:, None]).clamp(0, height - 1)  # (U, H)
    cols = (torch.arange(width) - dx[:, None]).clamp(0, width - 1)  # (U, W)
    # two gathers along one axis each: faster than one three-index gather
    by_row = frames.reshape(count, height, width * channels)
    moved = torch.gather(by_row, 1, rows[:, :, None].expand(count, height, width * channels))
    moved = moved.reshape(count, height, width, channels)
    return torch.gather(moved, 2, cols[:, None, :, None].expand(count, height, width, channels))


def jitter_colour(frames: Tensor, gain: Tensor, contrast: Tensor) -> Tensor:
    """Frames ``(U, H, W, C)`` float, grey levels, with each channel times ``gain`` ``(U, C)``, then
    the deviation from each frame's mean over pixels and channels times ``contrast`` ``(U,)``.

    :return: ``(U, H, W, C)`` float, neither rounded nor clipped.
    """
    # one pass over the pixels: contrast * gain * p + (1 - contrast) * mean, with the scaled
    # frame's mean from the channel means
    mean = (frames.mean(dim=(1, 2)) * gain).mean(dim=1)  # (U,)
    scale = (contrast[:, None] * gain)[:, None, None, :]
    return torch.addcmul(((1.0 - contrast) * mean)[:, None, None, None], frames, scale)


def augment_frames(frames: Tensor, config: AugmentationConfig, generator: torch.Generator) -> Tensor:
    """Frames ``(U, H, W, C)`` uint8 augmented as the module docstring says, each with its own
    draw from ``generator``; ``(U, H, W, C)`` uint8 in ``[0, 255]``."""
    count, channels = frames.shape[0], frames.shape[3]

    def factor(spread: float, *shape: int) -> Tensor:
        return 1.0 + spread * (2.0 * torch.rand(shape, generator=generator) - 1.0)

    dy, dx = torch.randint(-config.shift, config.shift + 1, (2, count), generator=generator)
    gain = factor(config.brightness, count, 1) * factor(config.colour, count, channels)
    contrast = factor(config.contrast, count)
    jittered = jitter_colour(shift_frames(frames, dy, dx).to(torch.float32), gain, contrast)
    noise = torch.randn((min(NOISE_FRAMES, count), *frames.shape[1:]), generator=generator)
    picked = noise[torch.randint(len(noise), (count,), generator=generator)]
    # in place: ``jittered`` and ``picked`` are this call's own tensors
    return jittered.add_(picked.mul_(config.noise_std)).round_().clamp_(0.0, 255.0).to(torch.uint8)


def augment_batch(batch: Batch, config: AugmentationConfig, seed: Sequence[int]) -> Batch:
    """``batch`` with the frames of every image stream augmented (a new :class:`Batch`; ``batch``
    is left as it was); everything else, ``frame_index`` included, is shared unchanged.

    :param seed: the integers that seed the draws, ``(run seed, phase, epoch, chunk)`` in training.
    """
    state = int(np.random.SeedSequence(list(seed)).generate_state(1, np.uint64)[0])
    generator = torch.Generator().manual_seed(state)
    frames = {name: augment_frames(images, config, generator) for name, images in batch.frames.items()}
    return dataclasses.replace(batch, frames=frames)
