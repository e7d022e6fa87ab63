"""Damped least-squares inverse kinematics for the arm, on privileged joint state.

Each control step takes one damped least-squares step (Wampler 1986; Buss, "Introduction to
Inverse Kinematics with Jacobian Transpose, Pseudoinverse and Damped Least Squares Methods", 2004)
from the measured joints towards the target, ``dq = J^T (J J^T + lambda^2 I)^-1 e``, and commands
``q + dq`` as joint targets. The task error ``e`` stacks the end effector's position error and the
rotation that points the tool straight down (rotation about the tool axis is left free). The
servos and repeated steps close the loop, so the end effector converges on the target.

The joint targets are commanded in rad (the arm's :meth:`JointTargets.spec`), as a policy does;
they go through the servo range's normalisation (:meth:`JointTargets.action`, which clips them to
the range) and back (:func:`~lnn_control.sim.actions.to_command`), so the env receives exactly the
action this expert has always moved with.
"""

from __future__ import annotations

import mujoco
import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.actions import to_command
from lnn_control.sim.arm import JointTargets
from lnn_control.sim.mjcf import load_scene

__all__ = ["DampedLeastSquaresIK"]


class DampedLeastSquaresIK:
    """Arm expert: reads ``ground_truth`` (joint_state ``(12,)``) and ``goal`` (``(3,)`` m).

    :param damping: ``lambda`` of the damped least squares (m, rad).
    :param max_step: largest joint change per command, rad.
    :param max_reach: position errors are clipped to this length per command, m.
    :param tool_down_weight: weight of pointing the tool down against reaching the position.
    """

    #: the tool axis in the end-effector site's frame, and where it should point
    TOOL_AXIS = 1
    DOWN = np.array([0.0, 0.0, -1.0])

    def __init__(
        self,
        damping: float = 0.05,
        max_step: float = 0.2,
        max_reach: float = 0.15,
        tool_down_weight: float = 0.3,
    ) -> None:
        self.model = load_scene("arm")
        self._data = mujoco.MjData(self.model)
        self._site = self.model.site("ee").id
        self._targets = JointTargets(self.model)
        #: what it commands: joint targets, rad
        self.actions: ActionSpec = self._targets.spec()
        self.damping = damping
        self.max_step = max_step
        self.max_reach = max_reach
        self.tool_down_weight = tool_down_weight
        self._jacobian = np.zeros((6, self.model.nv))
        self.reset()

    def reset(self) -> None:
        self._joints: np.ndarray | None = None
        self._goal: np.ndarray | None = None

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "ground_truth":
            self._joints = np.asarray(value[: self.model.nq], dtype=float)
        elif stream == "goal":
            self._goal = np.asarray(value, dtype=float)

    def command(self, stamp_ns: int) -> np.ndarray:
        """``(6,)`` float32 joint targets, rad; the middle of the servo ranges until the state is
        known, the measured joints until the goal is."""
        if self._joints is None:
            return to_command(self.actions, np.zeros(self.model.nu, dtype=np.float32))
        if self._goal is None:
            return self._command(self._joints)
        data = self._data
        data.qpos[:] = self._joints
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_comPos(self.model, data)
        mujoco.mj_jacSite(self.model, data, self._jacobian[:3], self._jacobian[3:], self._site)

        position_error = self._goal - data.site_xpos[self._site]
        length = float(np.linalg.norm(position_error))
        if length > self.max_reach:
            position_error *= self.max_reach / length
        axis = data.site_xmat[self._site].reshape(3, 3)[:, self.TOOL_AXIS]
        # rotation taking the tool axis onto "down"; its component about the axis is left free
        free = np.eye(3) - np.outer(axis, axis)
        error = np.concatenate([position_error, self.tool_down_weight * np.cross(axis, self.DOWN)])
        jacobian = np.vstack([self._jacobian[:3], self.tool_down_weight * free @ self._jacobian[3:]])
        gram = jacobian @ jacobian.T + self.damping**2 * np.eye(6)
        step = jacobian.T @ np.linalg.solve(gram, error)
        step = np.clip(step, -self.max_step, self.max_step)
        return self._command(self._joints + step)

    def _command(self, targets: np.ndarray) -> np.ndarray:
        """``(6,)`` float32 command for joint ``targets`` ``(6,)`` rad, clipped to the servo ranges."""
        return to_command(self.actions, self._targets.action(targets).astype(np.float32))
