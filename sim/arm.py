"""The arm's action mapping, shared by the env and its expert: normalised action <-> joint targets,
and the joint targets' :class:`~lnn_control.policy.config.ActionSpec`."""

from __future__ import annotations

import math

import mujoco
import numpy as np

from lnn_control.policy.config import ActionSpec

__all__ = ["HOME", "JOINTS", "JointTargets"]

#: joint (and actuator) names, base to tool
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
#: home pose, rad: tool pointing down about 0.5 m in front of the base, 0.4 m up
HOME = np.array([0.0, -math.pi / 2, math.pi / 2, -math.pi / 2, -math.pi / 2, 0.0])


class JointTargets:
    """Maps a normalised action in [-1, 1] to joint position targets over each servo's ``ctrlrange``.

    :param model: the arm model (its actuators' ``ctrlrange``, rad).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        self.low = model.actuator_ctrlrange[:, 0].copy()
        self.span = model.actuator_ctrlrange[:, 1] - self.low

    def targets(self, action: np.ndarray) -> np.ndarray:
        """``(6,)`` joint targets, rad, for ``action`` ``(6,)`` in [-1, 1]."""
        return self.low + (action + 1.0) * 0.5 * self.span

    def action(self, targets: np.ndarray) -> np.ndarray:
        """``(6,)`` the action asking for joint ``targets`` (rad), clipped to [-1, 1]."""
        return np.clip(2.0 * (targets - self.low) / self.span - 1.0, -1.0, 1.0)

    def spec(self) -> ActionSpec:
        """The joint targets in physical units: ``<joint>_target`` rad over each servo's range;
        safe: the :data:`HOME` pose."""
        return ActionSpec(
            names=[f"{joint}_target" for joint in JOINTS],
            units=["rad"] * len(JOINTS),
            low=self.low.tolist(),
            high=(self.low + self.span).tolist(),
            safe=HOME.tolist(),
        )
