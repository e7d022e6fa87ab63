"""An RL run's resume point, ``RUN/checkpoint/``: rewritten whole every ``checkpoint_every`` PPO
updates (written beside and renamed into place, so a killed run leaves the previous one or the new
one, never half of one). Never pickle:

- ``weights.safetensors``: the actor-critic's parameters (liquid policy, log std, critic), Adam's
  moment tensors, torch's RNG state and the reward normaliser's running mean and variance;
- ``rl.json``: control steps and PPO updates so far, Adam's plain state, the normaliser's count,
  the learning curve so far, the training time spent and where the run was resumed before.

What it does not hold is the envs' physics mid-episode: a resumed run's envs start new episodes
(their first seed derived from the control steps so far), so a resumed run continues the
uninterrupted one's training, not its exact sequence of episodes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lnn_control.errors import LnnControlError
from lnn_control.files import replaced_whole
from lnn_control.train.rl.algorithm import LiquidPPO
from lnn_control.train.state import ResumeError, load_optimizer_tensors, optimizer_tensors

__all__ = ["CHECKPOINT", "load_rl_checkpoint", "save_rl_checkpoint"]

#: the resume point's folder in a run folder
CHECKPOINT = "checkpoint"
TENSORS, STATE = "weights.safetensors", "rl.json"


def save_rl_checkpoint(folder: Path, model: LiquidPPO, curve: list[dict[str, Any]], training_time_s: float,
                       resumed_at: list[int]) -> Path:
    """Write the resume point of ``model`` (after a PPO update) to ``folder`` atomically.

    :param curve: the learning curve's rows so far (``learning_curve.json``'s).
    :param training_time_s: training wall time so far, s, over this run and the ones it resumed.
    :param resumed_at: control steps at which the run was resumed so far.
    """
    from safetensors.torch import save_file

    tensors, optimizer = optimizer_tensors(model.policy.optimizer)
    tensors.update({f"policy.{key}": value.detach().contiguous() for key, value in model.policy.state_dict().items()})
    tensors["torch_rng"] = torch.get_rng_state()
    document: dict[str, Any] = {"num_timesteps": int(model.num_timesteps), "iterations": model.iterations,
                                "n_updates": int(model._n_updates), "optimizer": optimizer, "curve": curve,
                                "training_time_s": training_time_s, "resumed_at": resumed_at}
    normaliser = _normaliser(model)
    if normaliser is not None:
        tensors["ret_rms.mean"] = torch.as_tensor(np.asarray(normaliser.ret_rms.mean, np.float64))
        tensors["ret_rms.var"] = torch.as_tensor(np.asarray(normaliser.ret_rms.var, np.float64))
        document["ret_rms_count"] = float(normaliser.ret_rms.count)
    with replaced_whole(folder) as staging:
        save_file(tensors, str(staging / TENSORS))
        (staging / STATE).write_text(json.dumps(document) + "\n")
    return folder


def load_rl_checkpoint(folder: Path, model: LiquidPPO) -> dict[str, Any]:
    """Restore ``model`` (built from the run's config, before ``learn``) from ``folder``: weights,
    optimizer, torch's RNG, the reward normaliser, the control steps and updates so far.

    :return: ``rl.json``'s document (``curve``, ``training_time_s``, ``resumed_at``, ``num_timesteps``).
    """
    from safetensors.torch import load_file

    try:
        document = json.loads((folder / STATE).read_text())
        tensors = load_file(str(folder / TENSORS))
        weights = {key[len("policy."):]: value for key, value in tensors.items() if key.startswith("policy.")}
        model.policy.load_state_dict(weights)
        load_optimizer_tensors(model.policy.optimizer, document["optimizer"], tensors)
    except (OSError, ValueError, KeyError, RuntimeError, LnnControlError) as error:
        raise ResumeError(f"cannot resume from {folder}: {error}; start the run again in a new folder") from None
    torch.set_rng_state(tensors["torch_rng"])
    model.num_timesteps = int(document["num_timesteps"])
    model.iterations = int(document["iterations"])
    model._n_updates = int(document["n_updates"])
    normaliser = _normaliser(model)
    if normaliser is not None and "ret_rms_count" in document:
        normaliser.ret_rms.mean = tensors["ret_rms.mean"].numpy().astype(np.float64)
        normaliser.ret_rms.var = tensors["ret_rms.var"].numpy().astype(np.float64)
        normaliser.ret_rms.count = float(document["ret_rms_count"])
    return document


def _normaliser(model: LiquidPPO) -> Any:
    """The run's reward normaliser (sb3's ``VecNormalize``), or None."""
    from stable_baselines3.common.vec_env import VecNormalize

    env = model.get_env()
    return env if isinstance(env, VecNormalize) else None
