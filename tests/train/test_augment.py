"""Image augmentation of behaviour cloning's batches: each operation against its closed form, off
means identity, and behaviour cloning hands the policy the dataset's batches unchanged unless the
key is on (then only the frames change, reproducibly, and validation never)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TARGET, make_policy, policy_config, record, short_env, tiny_config

import lnn_control.train.bc as bc
from lnn_control.cli import main
from lnn_control.errors import ConfigError
from lnn_control.train.augment import augment_batch, augment_frames, jitter_colour, shift_frames
from lnn_control.train.config import AugmentationConfig, BudgetConfig, OptimConfig, TrainConfig
from lnn_control.train.dataset import Batch, StepDataset
from lnn_control.train.featurize import featurize_episode
from lnn_control.train.state import TrainingState

#: every operation at zero size
NOTHING = AugmentationConfig(shift=0, brightness=0.0, colour=0.0, contrast=0.0, noise_std=0.0)


def frames(count: int = 5, size: int = 12, seed: int = 0) -> torch.Tensor:
    """Random frames ``(count, size, size, 3)`` uint8."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("dy, dx", [(0, 0), (2, 3), (-1, 4), (3, -2)])
def test_a_shift_moves_every_pixel_by_exactly_its_offset_and_repeats_the_edges(dy: int, dx: int) -> None:
    images = frames(1)
    shifted = shift_frames(images, torch.tensor([dy]), torch.tensor([dx]))[0].numpy()
    size = images.shape[1]
    rows = np.clip(np.arange(size) - dy, 0, size - 1)
    cols = np.clip(np.arange(size) - dx, 0, size - 1)
    np.testing.assert_array_equal(shifted, images[0].numpy()[rows][:, cols])
    inner = images[0].numpy()[max(0, -dy) : size - max(0, dy), max(0, -dx) : size - max(0, dx)]
    np.testing.assert_array_equal(shifted[max(0, dy) : size + min(0, dy), max(0, dx) : size + min(0, dx)], inner)


def test_each_frame_gets_its_own_shift() -> None:
    images = frames(3)
    shifted = shift_frames(images, torch.tensor([0, 1, -1]), torch.tensor([0, 0, 2]))
    torch.testing.assert_close(shifted[0], images[0])
    torch.testing.assert_close(shifted[1, 1:], images[1, :-1])
    torch.testing.assert_close(shifted[2, :-1, 2:], images[2, 1:, :-2])


def test_colour_jitter_scales_channels_then_contrast_about_the_mean() -> None:
    images = frames(2).to(torch.float32)
    gain = torch.tensor([[1.0, 1.0, 1.0], [0.5, 1.0, 2.0]])
    same = jitter_colour(images, torch.ones(2, 3), torch.ones(2))
    torch.testing.assert_close(same, images)
    scaled = jitter_colour(images, gain, torch.ones(2))
    torch.testing.assert_close(scaled[1], images[1] * gain[1])
    flat = jitter_colour(images, gain, torch.zeros(2))  # no contrast: every value the frame's mean
    torch.testing.assert_close(flat[1], torch.full_like(flat[1], float((images[1] * gain[1]).mean())))
    doubled = jitter_colour(images, torch.ones(2, 3), torch.full((2,), 2.0))
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(doubled, 2.0 * images - mean)


def test_zero_sizes_are_the_identity_and_any_draw_stays_uint8_in_range() -> None:
    images = frames(6)
    same = augment_frames(images, NOTHING, torch.Generator().manual_seed(1))
    assert torch.equal(same, images)
    strong = AugmentationConfig(shift=3, brightness=0.9, colour=0.9, contrast=0.9, noise_std=80.0)
    out = augment_frames(images, strong, torch.Generator().manual_seed(1))
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert int(out.min()) == 0 and int(out.max()) == 255  # saturates: clipped, not wrapped around


def test_pixel_noise_alone_has_its_standard_deviation() -> None:
    grey = torch.full((8, 32, 32, 3), 128, dtype=torch.uint8)
    noise = AugmentationConfig(shift=0, brightness=0.0, colour=0.0, contrast=0.0, noise_std=5.0)
    out = augment_frames(grey, noise, torch.Generator().manual_seed(0)).to(torch.float64) - 128.0
    assert abs(float(out.mean())) < 0.1 and float(out.std()) == pytest.approx(5.0, rel=0.03)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"shift": -1}, r"augmentation: shift must be >= 0"),
        ({"brightness": 1.0}, r"augmentation: brightness must be in \[0, 1\)"),
        ({"noise_std": -1.0}, r"augmentation: noise_std must be in \[0, 255\]"),
        ({"enable": True}, r"unknown key 'augmentation.enable'"),
    ],
)
def test_bad_augmentation_keys_are_refused_naming_them(section: dict, message: str) -> None:
    from lnn_control.config import config_from_dict

    with pytest.raises(ConfigError, match=message):
        config_from_dict(TrainConfig, {"env": {"id": "QuadTarget-v0"}, "model": "x.yaml", "augmentation": section})


def test_augmentation_is_off_unless_a_config_turns_it_on() -> None:
    from lnn_control.config import config_from_dict

    base = {"env": {"id": "QuadTarget-v0"}, "model": "x.yaml"}
    assert config_from_dict(TrainConfig, base).augmentation is None
    assert config_from_dict(TrainConfig, {**base, "augmentation": None}).augmentation is None
    assert config_from_dict(TrainConfig, {**base, "augmentation": {}}).augmentation == AugmentationConfig()


@pytest.fixture(scope="module")
def camera_data() -> StepDataset:
    """Two short QuadTarget episodes for its CNN policy (camera, IMU, attitude; auxiliary labels)."""
    from lnn_control.sim.experts.target_search import target_view

    config = policy_config("quad_target_cnn_cfc")
    episodes = [record(short_env(TARGET, 12), seed) for seed in (0, 1)]
    return StepDataset(config, [featurize_episode(config, e, target_view) for e in episodes])


def fitted_batches(
    data: StepDataset, monkeypatch: pytest.MonkeyPatch, augmentation: AugmentationConfig | None, seed: int = 0
) -> list[tuple[Batch, Batch, bool]]:
    """One epoch of two updates of ``fit`` on ``data`` (also its validation data): for every batch
    the policy ran on, in order, ``(what data.batch gave, what the policy was given, training?)``."""
    given: list[Batch] = []
    pairs: list[tuple[Batch, Batch, bool]] = []
    dataset_batch, run_batch = data.batch, bc.run_batch

    def batch_spy(index: torch.Tensor) -> Batch:
        given.append(dataset_batch(index))
        return given[-1]

    def run_spy(policy, batch, h0=None):  # type: ignore[no-untyped-def]
        pairs.append((given[-1], batch, policy.training))
        return run_batch(policy, batch, h0)

    monkeypatch.setattr(data, "batch", batch_spy)
    monkeypatch.setattr(bc, "run_batch", run_spy)
    policy = make_policy(policy_config("quad_target_cnn_cfc"))
    optim = OptimConfig(chunk_steps=max(data.lengths) // 2 + 1, lanes=2)
    budget = BudgetConfig(max_epochs=1, patience=0)
    bc.fit(policy, torch.optim.Adam(policy.parameters()), data, data, optim, budget,
           TrainingState(), seed, 1e-3, augmentation=augmentation)
    monkeypatch.undo()
    return pairs


def test_with_the_key_off_the_policy_gets_the_dataset_batches_unchanged(
    camera_data: StepDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = fitted_batches(camera_data, monkeypatch, None)
    assert sum(training for _, _, training in pairs) == 2 and len(pairs) > 2
    assert all(used is given for given, used, _ in pairs)


def test_with_the_key_on_only_the_training_frames_change_and_reproducibly(
    camera_data: StepDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = AugmentationConfig()
    first = fitted_batches(camera_data, monkeypatch, on)
    again = fitted_batches(camera_data, monkeypatch, on)
    other_seed = fitted_batches(camera_data, monkeypatch, on, seed=1)
    for (given, used, training), (_, repeated, _), (_, reseeded, _) in zip(first, again, other_seed):
        if not training:  # validation: as recorded
            assert used is given
            continue
        assert used.frame_index is given.frame_index and used.labels is given.labels
        assert used.vectors is given.vectors and used.reset is given.reset
        assert not torch.equal(used.frames["camera"], given.frames["camera"])
        assert torch.equal(used.frames["camera"], repeated.frames["camera"])  # the same seed, the same draws
        assert not torch.equal(used.frames["camera"], reseeded.frames["camera"])  # seeded by the run's seed


def test_augment_batch_leaves_its_input_alone(camera_data: StepDataset) -> None:
    batch = camera_data.batch(camera_data.lanes([0, 1], 2)[:, :20])
    before = batch.frames["camera"].clone()
    out = augment_batch(batch, AugmentationConfig(), (0, 0, 0, 0))
    assert torch.equal(batch.frames["camera"], before) and not torch.equal(out.frames["camera"], before)
    again = augment_batch(batch, AugmentationConfig(), (0, 0, 0, 0))
    assert torch.equal(out.frames["camera"], again.frames["camera"])


def test_a_training_run_augments_each_update_seeded_by_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lnn-control train`` with an ``augmentation`` section in a training scenario: every update of
    behaviour cloning and of the DAgger round augments, seeded by (seed, phase, epoch, chunk)."""
    seeds: list[tuple[int, ...]] = []
    augment = bc.augment_batch

    def counting(batch: Batch, config: AugmentationConfig, seed: tuple[int, ...]) -> Batch:
        seeds.append(tuple(seed))
        return augment(batch, config, seed)

    monkeypatch.setattr(bc, "augment_batch", counting)
    config = tiny_config("quad_target", tmp_path, env={"scenario": "train_randomised"},
                         augmentation={},
                         evaluation={"episodes": 0})
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert seeds == [(0, 0, 0, 0), (0, 0, 0, 1), (0, 1, 0, 0), (0, 1, 0, 1)]
