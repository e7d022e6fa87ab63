"""QuadTarget's expert: velocity set-points that find the target the way a camera policy must.

An expert that knows the goal from the first instant would turn towards it whichever way is
shorter, also when the target is outside the forward camera's view at the start (31 of
QuadTarget's 100 evaluation seeds). A policy that sees only the camera cannot copy that: nothing
in its input says which way to turn, so imitation learns the average of left and right. This
expert holds its position and yaws counter-clockwise, a fixed direction a learner can copy,
whenever the target is out of the camera's image to the side, until the target's centre is well
inside the view; from then on it flies to the stand-off goal and turns to face the target. Its
mode is thus (up to that hysteresis) what the image shows: a learner flown off course by its own
errors gets labels it can read from its camera, not ones that depend on where the expert has
looked before.

It commands QuadTarget's action, a velocity set-point (:mod:`lnn_control.sim.velocity`): a
proportional position loop ``v = k_p (aim - x)``, its length clipped to ``max_speed``, in the
heading frame, and a yaw rate ``k_psi wrap(psi_d - psi)`` (or :attr:`SEARCH_RATE` while searching),
in m/s and rad/s, clipped to the set-point's limits through the normalised action and back
(:func:`~lnn_control.sim.actions.to_action`, :func:`~lnn_control.sim.actions.to_command`), so the
env receives exactly the action this expert has always flown with.
"""

from __future__ import annotations

import math

import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.actions import to_action, to_command
from lnn_control.sim.envs.quad_target import QuadTargetEnv
from lnn_control.sim.experts.se3 import rotation_matrix
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.velocity import velocity_actions, yaw_of

__all__ = ["TargetSearch", "target_view"]


def _camera() -> tuple[np.ndarray, float]:
    """The image camera's position in the body frame ``(3,)`` m and half its field of view, rad,
    as the MJCF model defines them."""
    camera = load_scene(QuadTargetEnv.ROBOT).camera(QuadTargetEnv.IMAGE_CAMERA)
    return camera.pos.copy(), math.radians(float(camera.fovy[0])) / 2


#: the camera ``fpv`` looks along the body x axis (image right is body -y, image up is body z);
#: its offset from the body origin, m, and half its (square) field of view, both ways, rad
CAMERA_OFFSET, HALF_VIEW = _camera()


def target_position(goal: np.ndarray) -> np.ndarray:
    """The target's centre ``(3,)`` m, :attr:`QuadTargetEnv.STANDOFF` beyond the stand-off goal
    ``(4,)`` (position m, yaw rad facing the target) along its yaw."""
    yaw = float(goal[3])
    return goal[:3] + QuadTargetEnv.STANDOFF * np.array([math.cos(yaw), math.sin(yaw), 0.0])


def target_angles(ground_truth: np.ndarray, goal: np.ndarray) -> tuple[float, float, float]:
    """The target centre's angles from the camera axis, left and up, rad (behind: beyond pi/2),
    and its distance from the camera, m (odometry ``(13,)``, goal ``(4,)``)."""
    rotation = rotation_matrix(ground_truth[3:7])
    forward, left, up = rotation.T @ (target_position(goal) - ground_truth[:3]) - CAMERA_OFFSET
    return math.atan2(left, forward), math.atan2(up, forward), math.sqrt(forward**2 + left**2 + up**2)


def target_view(ground_truth: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """What the camera should see of the target, the auxiliary labels of QuadTarget's CNN:
    ``(4,)`` float32 ``[in view (1/0), left angle / HALF_VIEW, up angle / HALF_VIEW, STANDOFF /
    distance]`` (angles of its centre from the camera axis, so +-1 at the image's edges; the
    last is its apparent size relative to that at the goal, 1 there, 0.2 at 3.5 m: a camera
    measures size, and 0.1 m nearer or further at the goal changes it by ~0.13); the last three
    are NaN (no label) while the centre is out of the image.

    :param ground_truth: odometry ``(13,)`` (position m, quaternion [qx, qy, qz, qw], ...).
    :param goal: QuadTarget's goal ``(4,)``.
    """
    across, along, distance = target_angles(ground_truth, goal)
    if max(abs(across), abs(along)) >= HALF_VIEW:
        return np.array([0.0, np.nan, np.nan, np.nan], dtype=np.float32)
    size = QuadTargetEnv.STANDOFF / distance
    return np.array([1.0, across / HALF_VIEW, along / HALF_VIEW, size], dtype=np.float32)


class TargetSearch:
    """Search, then fly to QuadTarget's stand-off goal, on privileged state.

    Reads ``ground_truth`` (odometry ``(13,)``) and ``goal`` (``(4,)`` stand-off position m and
    the yaw rad facing the target, which lies :attr:`QuadTargetEnv.STANDOFF` beyond it along
    that yaw). Given a goal without a yaw (``(3,)``, e.g. from a ``PoseStamped`` topic) it cannot
    place the target: it flies straight to the goal holding its first heading.

    :param position_gain: ``k_p``, 1/s.
    :param max_speed: the commanded velocity's largest length, m/s.
    :param yaw_gain: ``k_psi``, 1/s.
    """

    #: yaw rate while searching, rad/s (a full turn in 3.5 s)
    SEARCH_RATE = 1.8
    #: the target counts as found once its centre is within these angles of the camera's axis,
    #: horizontally and vertically, rad (the image spans +-40 deg both ways; a target well above
    #: or below the start is seen near the image's top or bottom edge and never nearer the middle)
    FOUND_WITHIN = (math.radians(28.0), math.radians(36.0))
    #: the target counts as lost once its centre is this far left or right of the camera axis
    #: (out of the image), rad; above or below the image it is not lost: the approach, which
    #: climbs or sinks to the target's height, brings it back, where a search on the spot never would
    LOST_BEYOND = HALF_VIEW

    def __init__(self, position_gain: float = 3.0, max_speed: float = 1.0, yaw_gain: float = 2.0) -> None:
        self.position_gain, self.max_speed, self.yaw_gain = position_gain, max_speed, yaw_gain
        #: what it commands: the velocity set-point, m/s and rad/s
        self.actions: ActionSpec = velocity_actions()
        self.reset()

    def reset(self) -> None:
        self._state: np.ndarray | None = None
        self._goal: np.ndarray | None = None
        self._yaw: float | None = None
        self._found = False
        self._hold: np.ndarray | None = None

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        if stream == "ground_truth":
            self._state = np.asarray(value, dtype=float)
        elif stream == "goal":
            self._goal = np.asarray(value, dtype=float)
            self._yaw = float(self._goal[3]) if len(self._goal) == 4 else None

    def command(self, stamp_ns: int) -> np.ndarray:
        """``(4,)`` float32 set-point (forward, left, up m/s, yaw rate rad/s) within :attr:`actions`;
        hold still until state and goal are known."""
        if self._state is None or self._goal is None:
            return self._clipped(np.zeros(4))
        position = self._state[:3]
        heading = yaw_of(rotation_matrix(self._state[3:7]))
        if self._yaw is None:
            self._yaw = heading
        if len(self._goal) == 4:
            across, along, _ = target_angles(self._state, self._goal)
            if self._found:
                self._found = abs(across) < self.LOST_BEYOND
            else:
                self._found = abs(across) < self.FOUND_WITHIN[0] and abs(along) < self.FOUND_WITHIN[1]
        if len(self._goal) == 4 and not self._found:
            if self._hold is None:
                self._hold = position.copy()
            aim, yaw_rate = self._hold, self.SEARCH_RATE
        else:
            self._hold = None
            aim = self._goal[:3]
            yaw_rate = self.yaw_gain * math.remainder(self._facing(position) - heading, 2.0 * math.pi)
        velocity = self.position_gain * (aim - position)
        speed = float(np.linalg.norm(velocity))
        if speed > self.max_speed:
            velocity *= self.max_speed / speed
        c, s = math.cos(heading), math.sin(heading)
        forward, left = c * velocity[0] + s * velocity[1], -s * velocity[0] + c * velocity[1]
        return self._clipped(np.array([forward, left, velocity[2], yaw_rate]))

    def _clipped(self, setpoint: np.ndarray) -> np.ndarray:
        """``(4,)`` float32 ``setpoint`` (m/s, rad/s) clipped to :attr:`actions`' limits."""
        return to_command(self.actions, to_action(self.actions, setpoint))

    def _facing(self, position: np.ndarray) -> float:
        """The heading that faces the target from ``position`` (with a (3,) goal: the first heading)."""
        assert self._goal is not None and self._yaw is not None
        if len(self._goal) != 4:
            return self._yaw
        dx, dy, _ = target_position(self._goal) - position
        return math.atan2(dy, dx)
