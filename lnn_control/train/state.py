"""Resumable training state: checkpoints every N updates and at the end of every phase. Never pickle.

A checkpoint is a folder under ``RUN/checkpoints``:

- ``policy.yaml`` + ``weights.safetensors``: the policy (as :func:`~lnn_control.policy.save_checkpoint` writes them),
  so any checkpoint can be evaluated or deployed as it is;
- ``trainer.safetensors``: Adam's moment tensors and step counts, the state carried between TBPTT
  chunks, the best weights of the phase so far and torch's RNG state;
- ``trainer.json``: where the run is (phase, epoch, chunk, update counts, early-stopping
  counters), Adam's hyper-parameters, the learning curves and the wall time spent.

Periodic checkpoints are ``update_NNNNNNN``; the one that ends phase ``r`` (0: behaviour cloning,
r: DAgger round r), holding the phase's best weights, is ``round_RR``. A checkpoint is written into
a hidden temporary folder and renamed into place, so a killed run leaves either the whole
checkpoint or none (the temporary folder is removed when the run resumes).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from lnn_control.errors import LnnControlError
from lnn_control.files import replaced_whole
from lnn_control.policy.checkpoint import write_checkpoint_files
from lnn_control.policy.model import LiquidPolicy

__all__ = [
    "ResumeError",
    "TrainingState",
    "checkpoint_name",
    "latest_checkpoint",
    "load_optimizer_tensors",
    "load_training_checkpoint",
    "optimizer_tensors",
    "remove_stale",
    "save_training_checkpoint",
]

STATE_FILE = "trainer.json"
TENSOR_FILE = "trainer.safetensors"


class ResumeError(LnnControlError):
    """A run cannot be resumed; the message says why."""


@dataclass
class TrainingState:
    """Where a run is; everything the loops need to continue exactly where they stopped.

    Counters are plain data (``trainer.json``); ``carry`` and ``best`` are tensors
    (``trainer.safetensors``).
    """

    #: updates so far, over all phases
    update: int = 0
    #: 0: behaviour cloning; r >= 1: DAgger round r
    phase: int = 0
    #: updates in this phase
    phase_update: int = 0
    #: the epoch in progress and the next chunk of it
    epoch: int = 0
    chunk: int = 0
    #: the phase's best validation loss (None until measured) and epochs since it improved
    best_loss: Optional[float] = None
    bad_epochs: int = 0
    #: the phase has ended (its best weights restored)
    phase_done: bool = False
    #: learning curves: [update, loss] per update; [update, phase, epoch, loss] per validation;
    #: one mapping per DAgger round (its rollouts' success)
    train_curve: list[list[float]] = field(default_factory=list)
    val_curve: list[list[float]] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    #: per phase, the data it trained on: [phase, training episodes, validation episodes, steps]
    data_sizes: list[list[int]] = field(default_factory=list)
    #: wall time spent per stage, s, summed over resumed runs
    elapsed_s: dict[str, float] = field(default_factory=dict)
    #: the platform of the run's start and of every resume on another one
    #: (:func:`lnn_control.train.pipeline.run_platform`); a rerun repeats bitwise on the same one
    platforms: list[dict[str, str]] = field(default_factory=list)
    #: the state carried from the last chunk ``(B, S)`` (None at an epoch's start)
    carry: Optional[Tensor] = None
    #: the phase's best weights so far
    best: Optional[dict[str, Tensor]] = None

    def start_phase(self, phase: int) -> None:
        """Begin phase ``phase``: counters of the phase back to zero."""
        self.phase, self.phase_update, self.epoch, self.chunk = phase, 0, 0, 0
        self.best_loss, self.bad_epochs, self.phase_done = None, 0, False
        self.carry, self.best = None, None

    def add_time(self, stage: str, seconds: float) -> None:
        self.elapsed_s[stage] = self.elapsed_s.get(stage, 0.0) + float(seconds)


def checkpoint_name(state: TrainingState) -> str:
    """``round_RR`` for the end of a phase, else ``update_NNNNNNN``."""
    return f"round_{state.phase:02d}" if state.phase_done else f"update_{state.update:07d}"


def save_training_checkpoint(
    root: Path, policy: LiquidPolicy, optimizer: torch.optim.Optimizer, state: TrainingState,
    metadata: Optional[dict[str, Any]] = None,
) -> Path:
    """Write the checkpoint of ``state`` under ``root`` atomically; returns its folder."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    target = root / checkpoint_name(state)
    with replaced_whole(target) as staging:  # one of the same name from before a resume: same contents
        write_checkpoint_files(policy, staging, {**(metadata or {}), "update": state.update, "phase": state.phase})
        tensors, optimizer_json = optimizer_tensors(optimizer)
        tensors["torch_rng"] = torch.get_rng_state()
        if state.carry is not None:
            tensors["carry"] = state.carry.detach().contiguous()
        for key, value in (state.best or {}).items():
            tensors[f"best.{key}"] = value.detach().contiguous()
        save_file(tensors, str(staging / TENSOR_FILE))
        document = {
            key: value for key, value in asdict(state).items() if key not in ("carry", "best")
        }
        document["optimizer"] = optimizer_json
        document["has_best"] = state.best is not None
        (staging / STATE_FILE).write_text(json.dumps(document, indent=1) + "\n")
    return target


def load_training_checkpoint(
    folder: Path, policy: LiquidPolicy, optimizer: torch.optim.Optimizer
) -> TrainingState:
    """Restore weights, optimizer and torch's RNG from ``folder``; the state to continue from."""
    from safetensors.torch import load_file

    from lnn_control.policy.checkpoint import load_checkpoint

    try:
        document = json.loads((folder / STATE_FILE).read_text())
        tensors = load_file(str(folder / TENSOR_FILE))
        saved = load_checkpoint(folder)
    except (OSError, ValueError, LnnControlError) as error:
        raise ResumeError(f"cannot resume from {folder}: {error}") from None
    policy.load_state_dict(saved.state_dict())
    load_optimizer_tensors(optimizer, document.pop("optimizer"), tensors)
    torch.set_rng_state(tensors["torch_rng"])
    has_best = document.pop("has_best")
    state = TrainingState(**document)
    state.carry = tensors.get("carry")
    if has_best:
        state.best = {key[5:]: value for key, value in tensors.items() if key.startswith("best.")}
    return state


def latest_checkpoint(root: Path) -> Optional[Path]:
    """The newest complete checkpoint under ``root`` (most updates; a phase's end after its
    periodic checkpoint at the same update), or None."""
    found = []
    for folder in root.glob("*") if root.is_dir() else ():
        if folder.name.startswith(".") or not (folder / STATE_FILE).is_file():
            continue
        document = json.loads((folder / STATE_FILE).read_text())
        found.append((document["update"], document["phase"], document["phase_done"], folder))
    return max(found, key=lambda item: item[:3])[3] if found else None


def remove_stale(root: Path) -> None:
    """Delete temporary folders and files a killed run left under ``root`` (recursively)."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob(".*"), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file():
            path.unlink(missing_ok=True)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Adam's state as named tensors, and its plain-data part."""
    saved = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous()
            else:
                plain.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": saved["param_groups"], "plain": plain}


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, document: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    """Restore ``optimizer`` from what :func:`optimizer_tensors` gave (``document``: its plain part)."""
    entries: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            entries.setdefault(int(index), {})[key] = value
    for index, values in document["plain"].items():
        entries.setdefault(int(index), {}).update(values)
    groups = document["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": entries, "param_groups": groups})
