"""Checkpoints round-trip exactly; damaged or hostile ones fail clearly and execute nothing."""

import numpy as np
import pytest
import torch
import yaml
from policies import camera_frames, imu_values, policy

from lnn_control.policy import CheckpointError, PolicyRuntime, load_checkpoint, save_checkpoint

MS = 1_000_000


def run(policy_, events):
    runtime = PolicyRuntime(policy_)
    return [(runtime.on_event(s, t, v), runtime.command(t)) for t, s, v in events]


@pytest.mark.parametrize("name", ["imu_cfc", "imu_ltc", "camera_imu_cfc"])
def test_round_trip_gives_identical_commands(tmp_path, name):
    original = policy(name, seed=3)
    with torch.no_grad():  # non-default statistics must survive the trip too
        original.encoders["imu"].set_statistics(torch.full((6,), 0.5), torch.full((6,), 2.0))
    save_checkpoint(original, tmp_path / "ckpt", metadata={"env": "test"})
    loaded = load_checkpoint(tmp_path / "ckpt")
    events = [(k * 5 * MS, "imu", v) for k, v in enumerate(imu_values(40))]
    if "camera" in name:
        events += [(k * 33 * MS, "camera", f) for k, f in enumerate(camera_frames(6))]
        events.sort(key=lambda e: e[0])
    for (outcome_a, a), (outcome_b, b) in zip(run(original, events), run(loaded, events)):
        assert outcome_a == outcome_b
        np.testing.assert_array_equal(a, b)
    assert yaml.safe_load((tmp_path / "ckpt" / "policy.yaml").read_text())["metadata"] == {"env": "test"}


def test_a_training_only_auxiliary_head_is_kept_by_the_checkpoint(tmp_path):
    """QuadTarget's CNN has an auxiliary head (training only): saved and loaded with the rest, so a
    checkpoint resumes training with it; the runtime's step does not use it."""
    original = policy("quad_target_cnn_cfc", seed=3)
    assert set(original.auxiliary) == {"camera"}
    loaded = load_checkpoint(save_checkpoint(original, tmp_path / "ckpt"))
    for key, value in original.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    step = loaded.step_module()
    x, h, dt = torch.randn(2, step.input_size), torch.randn(2, step.state_size), torch.full((2, 1), 0.005)
    with torch.no_grad():
        before = step(x, h, dt)
        loaded.auxiliary["camera"].weight.fill_(7.0)
        after = step(x, h, dt)
    for a, b in zip(before, after):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.fixture
def saved(tmp_path):
    return save_checkpoint(policy("imu_cfc"), tmp_path / "ckpt")


def edit_yaml(folder, change):
    document = yaml.safe_load((folder / "policy.yaml").read_text())
    change(document)
    (folder / "policy.yaml").write_text(yaml.safe_dump(document))


def test_changed_weights_are_detected(saved):
    weights = saved / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the last tensor's values
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        load_checkpoint(saved)


def test_truncated_weights_are_detected(saved):
    weights = saved / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="changed, truncated"):
        load_checkpoint(saved)


def test_truncated_yaml_is_detected(saved):
    text = (saved / "policy.yaml").read_text()
    (saved / "policy.yaml").write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(saved)


def test_python_object_tags_are_never_executed(saved, tmp_path):
    marker = tmp_path / "executed"
    text = (saved / "policy.yaml").read_text()
    hostile = f"!!python/object/apply:os.system ['touch {marker}']\n"
    (saved / "policy.yaml").write_text(text.replace("metadata: {}", f"metadata: {hostile}"))
    with pytest.raises(CheckpointError, match="Python object tags, which are never loaded"):
        load_checkpoint(saved)
    assert not marker.exists()


def test_unknown_format_version_is_named(saved):
    edit_yaml(saved, lambda d: d.update(format_version=7))
    with pytest.raises(CheckpointError, match="format version 7.*reads version 1.*upgrade"):
        load_checkpoint(saved)


@pytest.mark.parametrize("key", ["config", "tensors", "weights_sha256", "format_version"])
def test_missing_key_is_named(saved, key):
    edit_yaml(saved, lambda d: d.pop(key))
    with pytest.raises(CheckpointError, match=f"missing the key '{key}'"):
        load_checkpoint(saved)


def test_config_that_does_not_fit_the_weights_names_the_tensor(saved):
    edit_yaml(saved, lambda d: d["config"]["streams"][0].update(features=8))
    with pytest.raises(CheckpointError, match=r"tensor 'encoders\.imu\.linear\.weight' has shape "
                                              r"\[16, 6\] but the config needs \[8, 6\]"):
        load_checkpoint(saved)


def test_invalid_config_in_a_checkpoint_names_the_key(saved):
    edit_yaml(saved, lambda d: d["config"]["streams"][0].update(kind="sonar"))
    with pytest.raises(CheckpointError, match=r"config\.streams\[0\]\.kind must be one of"):
        load_checkpoint(saved)


def test_existing_checkpoint_is_not_overwritten(saved):
    before = (saved / "weights.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="already exists"):
        save_checkpoint(policy("imu_cfc", seed=9), saved)
    assert (saved / "weights.safetensors").read_bytes() == before
    save_checkpoint(policy("imu_cfc", seed=9), saved, overwrite=True)
    assert (saved / "weights.safetensors").read_bytes() != before


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint: policy.yaml not found"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_is_readable_by_others_as_umask_allows(tmp_path):
    """A robot's node often runs as another user than the one who trained: the files get the
    permissions a plain open() gives, not the private ones of a temporary file."""
    import os

    previous = os.umask(0o022)
    try:
        folder = save_checkpoint(policy("imu_cfc"), tmp_path / "ckpt")
    finally:
        os.umask(previous)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o644}


def test_relative_joint_commands_survive_the_round_trip(tmp_path):
    """ArmReach's commands are changes from the measured joints: the loaded policy computes the
    same commands (relative_to and max_change come back with the config)."""
    original = policy("arm_reach_cnn_cfc", seed=3)
    loaded = load_checkpoint(save_checkpoint(original, tmp_path / "ckpt"))
    assert loaded.config.actions == original.config.actions and loaded.relative_to == "joints"
    joints = torch.cat([torch.rand(1, 5, 6) * 6 - 3, torch.randn(1, 5, 6)], -1)
    frames = torch.from_numpy(camera_frames(5)).unsqueeze(0)
    values = {"camera": frames, "side_camera": frames.flip(1), "joints": joints}
    ages, dt = torch.rand(1, 5, 2), torch.full((1, 5), 0.01)
    with torch.no_grad():
        torch.testing.assert_close(loaded.forward_sequence(values, ages, dt)[0],
                                   original.forward_sequence(values, ages, dt)[0], rtol=0, atol=0)


def test_policy_yaml_holds_exactly_the_known_top_level_keys(saved):
    """What write_checkpoint_files writes is what read_checkpoint_config accepts, no more."""
    from lnn_control.policy.checkpoint import KEYS

    document = yaml.safe_load((saved / "policy.yaml").read_text())
    assert tuple(document) == KEYS


def test_unknown_top_level_key_is_refused_with_the_known_ones(saved):
    edit_yaml(saved, lambda d: d.update(notes="trained on the good floor"))
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(saved)
    message = str(raised.value)
    assert "unknown top-level key 'notes'" in message
    assert ("holds only ['format', 'format_version', 'config', 'tensors', 'weights_sha256', "
            "'metadata']") in message
    assert "move free-form data under 'metadata'" in message


@pytest.mark.parametrize(("change", "said"), [
    (lambda actions: actions.pop("safe"), "is missing"),
    (lambda actions: actions.update(safe=None), "is null"),  # what an unset safe was saved as
])
def test_an_old_checkpoint_without_a_safe_command_fails_with_what_to_add(saved, change, said):
    """Before actions.safe was required, an unset one was saved as ``safe: null`` and the
    runtime sent the limits' midpoint; such a checkpoint must now fail and say how to fix it."""
    edit_yaml(saved, lambda d: change(d["config"]["actions"]))
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(saved)
    message = str(raised.value)
    assert f"policy.yaml: config.actions.safe {said}: give the command that is safe to send" in message
    assert "it must lie within [low, high]" in message
    assert "set it under config.actions in its policy.yaml (the weights need no change" in message
    # the fix it names works: the weights' checksum does not cover policy.yaml
    edit_yaml(saved, lambda d: d["config"]["actions"].update(safe=[0.0, 0.0, 0.0, 0.0]))
    assert load_checkpoint(saved).config.actions.safe_command == [0.0, 0.0, 0.0, 0.0]
