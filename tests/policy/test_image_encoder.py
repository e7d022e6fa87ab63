"""The CNN image encoder's keypoint head: soft-argmax positions against a closed form, and a
policy with it saved and loaded without pickle."""

import dataclasses
from pathlib import Path

import torch
from policies import camera_frames, config

from lnn_control.perception.image import ImageEncoder, soft_argmax
from lnn_control.policy import LiquidPolicy
from lnn_control.policy.checkpoint import load_checkpoint, save_checkpoint


def test_soft_argmax_is_the_position_of_a_dominant_peak() -> None:
    """A map that is -inf but for one cell: the expectation is that cell's centre on the
    [-1, 1] grid (left/top -1, right/bottom +1); a flat map averages to the middle."""
    maps = torch.full((1, 3, 8, 8), -1e4)
    peaks = [(2, 7), (0, 0), (5, 3)]  # (row, column) per channel
    for channel, (row, column) in enumerate(peaks):
        maps[0, channel, row, column] = 0.0
    grid = torch.linspace(-1.0, 1.0, 8)
    expected = [grid[c] for _, c in peaks] + [grid[r] for r, _ in peaks]
    torch.testing.assert_close(soft_argmax(maps)[0], torch.stack(expected))
    torch.testing.assert_close(soft_argmax(torch.zeros(2, 4, 8, 6)), torch.zeros(2, 8))


def test_keypoint_head_moves_with_the_image() -> None:
    """Shifting a single bright spot to the right moves the soft-argmax of a channel that
    responds to brightness to the right (the convolutions are shift-equivariant)."""
    torch.manual_seed(0)
    encoder = ImageEncoder(1, 8, head="keypoints")
    with torch.no_grad():
        for layer in encoder.convs:
            if isinstance(layer, torch.nn.Conv2d):  # every channel: a positive blur
                layer.weight.fill_(0.05)
                layer.bias.zero_()
    images = torch.full((2, 64, 64, 1), 128, dtype=torch.uint8)  # grey: 0 after scaling, as the padding
    images[0, 30:34, 10:14] = 255
    images[1, 30:34, 50:54] = 255
    x = (images.permute(0, 3, 1, 2).float() / 255.0 - 0.5) * 4.0
    xs = soft_argmax(encoder.convs(x))[:, :48]
    assert torch.all(xs[1] > xs[0])


def test_policy_with_a_keypoint_head_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    base = config("camera_imu_cfc")
    streams = [dataclasses.replace(s, head="keypoints") if s.kind == "image" else s
               for s in base.streams]
    torch.manual_seed(0)
    policy = LiquidPolicy(dataclasses.replace(base, streams=streams)).eval()
    loaded = load_checkpoint(save_checkpoint(policy, tmp_path / "ckpt"))
    frames = torch.from_numpy(camera_frames(3))
    camera = next(s.name for s in streams if s.kind == "image")
    assert [s.head for s in loaded.config.streams if s.kind == "image"] == ["keypoints"]
    torch.testing.assert_close(loaded.encode(camera, frames), policy.encode(camera, frames))
