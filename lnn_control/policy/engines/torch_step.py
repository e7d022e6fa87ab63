"""The ``torch`` engine: the policy's step in eager PyTorch, the reference the others match."""

from __future__ import annotations

import numpy as np
import torch

from lnn_control.policy.engines import StepFunction
from lnn_control.policy.model import PolicyStep

__all__ = ["torch_step_function"]


def torch_step_function(step: PolicyStep) -> StepFunction:
    """``step`` as a :data:`~lnn_control.policy.engines.StepFunction` in eager PyTorch
    (inference mode; the core's parameters prepared once, here)."""
    with torch.inference_mode():
        prep = step.policy.core.prepare()

    def run_torch(inputs: np.ndarray, h: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            action, h_new = step.run(torch.from_numpy(inputs), torch.from_numpy(h),
                                     torch.full((1, 1), dt), prep)
        return action[0].numpy(), h_new.numpy()

    return run_torch
