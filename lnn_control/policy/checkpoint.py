"""Policy checkpoints: a folder with ``policy.yaml`` and ``weights.safetensors``. Never pickle.

``policy.yaml`` holds the format name and version, the full :class:`PolicyConfig`, every tensor's
shape, the SHA-256 of the weights file and free-form metadata (training run, env, ...). Loading
reads YAML with ``safe_load`` and tensors with safetensors, so a checkpoint cannot run code; an
unknown format version, a missing or unknown key (``config.actions.safe`` included), a changed
weights file or a shape mismatch fails with a message saying which and what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional

import yaml

from lnn_control.config import config_from_dict, config_to_dict
from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.files import replaced_whole
from lnn_control.policy.config import SAFE_MISSING, PolicyConfig
from lnn_control.policy.model import LiquidPolicy

__all__ = [
    "CheckpointError", "FORMAT", "FORMAT_VERSION", "load_checkpoint", "save_checkpoint", "write_checkpoint_files",
]

FORMAT = "lnn_control.policy"
FORMAT_VERSION = 1
CONFIG_FILE = "policy.yaml"
WEIGHTS_FILE = "weights.safetensors"
#: the top-level keys of ``policy.yaml`` (what :func:`write_checkpoint_files` writes), required
#: ones first; ``metadata`` may be left out
REQUIRED_KEYS = ("format", "format_version", "config", "tensors", "weights_sha256")
KEYS = (*REQUIRED_KEYS, "metadata")


class CheckpointError(LnnControlError):
    """A checkpoint cannot be written or read; the message says why."""


def save_checkpoint(
    policy: LiquidPolicy,
    directory: str | os.PathLike[str],
    metadata: Optional[dict[str, Any]] = None,
    overwrite: bool = False,
) -> Path:
    """Write ``policy`` to the folder ``directory`` (created).

    Both files are written to a temporary folder first and moved in at the end, so a failure
    never leaves a half-written checkpoint.

    :param metadata: extra plain data stored in ``policy.yaml``.
    :param overwrite: replace an existing checkpoint there; without it an existing one is kept
        and :class:`CheckpointError` raised.
    :return: the folder.
    """
    target = Path(directory)
    if target.exists() and not overwrite:
        raise CheckpointError(
            f"{target} already exists; choose another folder or pass overwrite=True to replace it"
        )
    with replaced_whole(target) as staging:
        write_checkpoint_files(policy, staging, metadata)
    return target


def write_checkpoint_files(policy: LiquidPolicy, folder: Path, metadata: Optional[dict[str, Any]] = None) -> None:
    """Write a checkpoint's two files into the existing folder ``folder`` (a staging folder: use
    :func:`save_checkpoint` to write one whole)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in policy.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": FORMAT})
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config_to_dict(policy.config),
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "weights_sha256": _sha256(folder / WEIGHTS_FILE),
        "metadata": metadata or {},
    }
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(document, sort_keys=False))


def load_checkpoint(directory: str | os.PathLike[str]) -> LiquidPolicy:
    """The policy stored in the folder ``directory`` (or its ``policy.yaml``), in eval mode."""
    document, folder = read_checkpoint_config(directory)
    try:
        policy = LiquidPolicy(config_from_dict(PolicyConfig, document["config"], "config"))
    except ConfigError as error:
        raise CheckpointError(f"{folder / CONFIG_FILE}: {error}") from None
    tensors = _read_weights(folder / WEIGHTS_FILE, document)
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{folder}: weights do not fit the config: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )
    for key, value in expected.items():
        if tuple(tensors[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{folder}: tensor {key!r} has shape {list(tensors[key].shape)} but the config "
                f"needs {list(value.shape)}"
            )
    policy.load_state_dict(tensors)
    return policy.eval()


def read_checkpoint_config(directory: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """``policy.yaml``'s checked contents and the checkpoint folder."""
    path = Path(directory)
    folder = path.parent if path.name == CONFIG_FILE else path
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(
            f"{folder} is not a checkpoint: {CONFIG_FILE} not found (a checkpoint is a folder "
            f"holding {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    try:
        document = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as error:
        raise CheckpointError(
            f"{config_path} is not plain YAML (it may be truncated, or hold Python object tags, "
            f"which are never loaded): {error}"
        ) from None
    if not isinstance(document, dict):
        raise CheckpointError(f"{config_path} must hold a mapping, got {type(document).__name__}")
    for key in REQUIRED_KEYS:
        if key not in document:
            raise CheckpointError(f"{config_path} is missing the key {key!r}")
    if document["format"] != FORMAT:
        raise CheckpointError(f"{config_path} is a {document['format']!r} file, not {FORMAT!r}")
    version = document["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path} has format version {version}; this lnn_control reads version "
            f"{FORMAT_VERSION}" + (" (upgrade lnn_control)" if isinstance(version, int)
                                   and version > FORMAT_VERSION else "")
        )
    unknown = [str(key) for key in document if key not in KEYS]
    if unknown:
        raise CheckpointError(
            f"{config_path} has the unknown top-level key {unknown[0]!r}; a checkpoint's "
            f"{CONFIG_FILE} holds only {list(KEYS)}. Remove it, or move free-form data under "
            "'metadata'"
        )
    _check_safe_command(document["config"], config_path)
    return document, folder


def _check_safe_command(config: Any, config_path: Path) -> None:
    """Refuse a checkpoint without ``config.actions.safe`` (written before it was required) with
    what to do; other mistakes in ``config`` are left to loading the :class:`PolicyConfig`."""
    actions = config.get("actions") if isinstance(config, dict) else None
    if isinstance(actions, dict) and actions.get("safe") is None:
        said = "is null" if "safe" in actions else "is missing"
        raise CheckpointError(
            f"{config_path}: config.actions.safe {said}: {SAFE_MISSING}. This checkpoint was "
            f"written before actions.safe was required: set it under config.actions in its "
            f"{CONFIG_FILE} (the weights need no change: the checksum covers {WEIGHTS_FILE} only)"
        )


def _read_weights(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path} not found: the checkpoint has no weights")
    if _sha256(path) != document["weights_sha256"]:
        raise CheckpointError(
            f"{path} does not match the checksum in {CONFIG_FILE}: it was changed, truncated or "
            "comes from another checkpoint"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file: {error}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
