"""``lnn_control/ArmReach-v0``: bring a 6-DoF arm's end effector to a target seen by a camera."""

from __future__ import annotations

import functools
import math
from typing import Any

import mujoco
import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.sim.arm import HOME, JOINTS, JointTargets
from lnn_control.sim.envs.base import SensorEnv, held
from lnn_control.sim.mjcf import load_scene
from lnn_control.sim.scenarios import uniform
from lnn_control.sim.streams import EnvStream, Reader
from lnn_control.sim.timing import StreamTiming

__all__ = ["ArmReachEnv", "target_in_views"]


class ArmReachEnv(SensorEnv):
    """Move the end effector to a red target ball that only the workspace cameras see.

    **Robot.** A 6-DoF arm with UR5e proportions, masses and torque limits
    (``models/arm/arm6.xml`` cites them), position servos with gravity compensation (as UR's
    controller does); physics at 500 Hz, control at 25 Hz.

    **Action** ``Box(-1, 1, (6,), float32)``: joint position targets, ``a * pi`` rad for each joint
    (shoulder pan, shoulder lift, elbow, wrist 1, wrist 2, wrist 3), tracked by the servos.

    **Observation** ``Dict`` of the newest message of each selected stream (default ``camera``,
    ``side_camera`` and ``joints``); every message, stamped, is in ``info["sensor_events"]``:

    ==========  ===========  =======  =============================================  =====  ======  =======
    stream      kind         shape    contents and units                             rate   jitter  latency
    ==========  ===========  =======  =============================================  =====  ======  =======
    camera      image        (S,S,3)  fixed workspace camera rgb8, S = image_size     30     5 %     30 ms
    side_camera image        (S,S,3)  fixed side camera rgb8, S = image_size          30     5 %     30 ms
    joints      joint_state  (12,)    joint positions rad then velocities rad/s      100    2 %     2 ms
    wrist_imu   imu          (6,)     wrist gyro rad/s, specific force m/s^2, noisy  200    2 %     2 ms
                                      (opt-in)
    ==========  ===========  =======  =============================================  =====  ======  =======

    The workspace camera looks at the arm from the front, 0.8-1.3 m from the target: alone it
    cannot tell the target's depth along its line of sight (the 6 cm ball's apparent size changes
    by under 0.1 px per 2 cm); the side camera's view crosses it at about 80 degrees.

    **Privileged** (``info["privileged_events"]``): ``ground_truth`` (joint_state (12,), exact, every
    control instant), ``physics`` (vector (13,): link masses (6) kg, servo stiffness (6) N m/rad,
    payload at the end effector kg; every control instant) and ``goal`` (vector (3,): the target's
    position m, world frame, at reset).

    **Episode.** Start at the home pose plus up to ``start_joint_noise`` (0.3 rad) per joint;
    target uniform in x 0.3 to 0.65 m, y -0.3 to 0.3 m, z 0.08 to 0.4 m (the base is at the origin).
    100 steps (4 s); never terminated early.

    **Reward** per step: ``exp(-d / 0.1) - 0.01 |a - a_prev|^2``, ``d`` the distance from the
    end effector (tool tip, site ``ee``) to the target, m.

    **Success** (``info["is_success"]``): end effector within 0.02 m of the target for the last 0.5 s.
    """

    ROBOT = "arm"
    CONTROL_HZ = 25.0
    ACTION_SIZE = 6
    IMAGE_CAMERA = "workspace"
    SIDE_CAMERA = "side"
    RENDER_CAMERA = "overview"
    CHANGES = ("payload",)
    STREAMS = {
        "camera": EnvStream(
            "image", (64, 64, 3), "fixed workspace camera rgb8, image_size square",
            StreamTiming(30.0, jitter=0.05, latency_s=0.030),
        ),
        "side_camera": EnvStream(
            "image", (64, 64, 3), "fixed side camera rgb8, image_size square",
            StreamTiming(30.0, jitter=0.05, latency_s=0.030),
        ),
        "joints": EnvStream(
            "joint_state", (12,), "joint positions rad then velocities rad/s",
            StreamTiming(100.0, jitter=0.02, latency_s=0.002),
        ),
        "wrist_imu": EnvStream(
            "imu", (6,), "wrist gyro rad/s then specific force m/s^2, body frame, noisy",
            StreamTiming(200.0, jitter=0.02, latency_s=0.002),
        ),
        "ground_truth": EnvStream(
            "joint_state", (12,), "PRIVILEGED exact joint state at every control instant",
            privileged=True,
        ),
        "physics": EnvStream(
            "vector", (13,), "PRIVILEGED hidden physics: link masses (6) kg, servo stiffness (6) "
            "N m/rad, payload at the end effector kg", privileged=True,
        ),
        "goal": EnvStream("vector", (3,), "PRIVILEGED target position m", privileged=True),
    }
    DEFAULT_STREAMS = ("camera", "side_camera", "joints")
    #: success: within HOLD_RADIUS (m) of the target for the last HOLD_TIME (s)
    HOLD_RADIUS = 0.02
    HOLD_TIME = 0.5
    #: where targets are drawn, m: (low, high) corners of a box
    TARGET_BOX = ((0.3, -0.3, 0.08), (0.65, 0.3, 0.4))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        model = self.model
        self.joint_targets = JointTargets(model)
        self._nominal_mass = model.body_mass.copy()
        self._nominal_inertia = model.body_inertia.copy()
        self._nominal_gain = model.actuator_gainprm[:, 0].copy()
        self._nominal_bias = model.actuator_biasprm[:, :3].copy()
        self._ee = model.site("ee").id
        #: the moving links' body ids, base to tool (each carries one joint)
        self._links = np.flatnonzero(model.body_jntnum > 0)
        #: mass hanging from the end effector now, kg (see the adaptation scenario)
        self.payload = 0.0
        self.target = np.zeros(3)
        self._previous_action = self.joint_targets.action(HOME)
        self._held_s = 0.0

    @property
    def end_effector(self) -> np.ndarray:
        """``(3,)`` the end effector's position now, m (world frame)."""
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self._ee].copy()

    def action_spec(self) -> ActionSpec:
        """Joint position targets over each servo's range, rad; safe: the home pose."""
        return self.joint_targets.spec()

    def task_positions(self) -> tuple[np.ndarray, np.ndarray]:
        return self.end_effector, self.target.copy()

    # ------------------------------------------------------------------ SensorEnv hooks
    def _reader(self, name: str) -> Reader:
        if name == "camera":
            return self._camera_reader()
        if name == "side_camera":
            return self._camera_reader(self.SIDE_CAMERA)
        if name == "joints":
            return self._sensor_reader(
                *(f"q_{j}" for j in JOINTS), *(f"dq_{j}" for j in JOINTS)
            )
        if name == "wrist_imu":
            return self._sensor_reader("wrist_gyro", "wrist_accel")
        raise KeyError(name)

    def _ground_truth(self) -> np.ndarray:
        return np.concatenate((self.data.qpos, self.data.qvel))

    def _physics(self) -> np.ndarray:
        model = self.model
        return np.concatenate((model.body_mass[self._links], model.actuator_gainprm[:, 0], [self.payload]))

    def _randomise(self, rng: np.random.Generator) -> None:
        scenario, model = self.scenario.arm, self.model
        mass = uniform(rng, scenario.mass_scale)
        model.body_mass[:] = self._nominal_mass * mass
        model.body_inertia[:] = self._nominal_inertia * mass
        gain = uniform(rng, scenario.servo_gain_scale)
        model.actuator_gainprm[:, 0] = self._nominal_gain * gain
        model.actuator_biasprm[:, :3] = self._nominal_bias * gain
        mujoco.mj_setConst(model, self.data)

    def _reset_task(self, rng: np.random.Generator) -> None:
        self.payload = 0.0
        noise = self.scenario.arm.start_joint_noise
        self.data.qpos[:] = HOME + rng.uniform(-noise, noise, HOME.shape)
        self.data.ctrl[:] = self.data.qpos
        self.target[:] = rng.uniform(*self.TARGET_BOX)
        self.data.mocap_pos[0] = self.target
        self._previous_action = self.joint_targets.action(self.data.qpos)
        self._held_s = 0.0

    def _privileged_goal(self) -> np.ndarray:
        return self.target.copy()

    def _make_change(self, change: str, rng: np.random.Generator) -> None:
        self.payload = self.scenario.adaptation.arm_payload

    def _apply_action(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = self.joint_targets.targets(action)
        if self.payload:
            # its weight at the end effector: a force at the last link's centre of mass and the
            # moment of the force's offset from it
            data, body = self.data, self._links[-1]
            weight = self.payload * self.model.opt.gravity
            data.xfrc_applied[body, :3] = weight
            data.xfrc_applied[body, 3:] = np.cross(data.site_xpos[self._ee] - data.xipos[body], weight)

    def _evaluate(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        offset = self.end_effector - self.target
        distance = math.sqrt(offset @ offset)
        self._held_s = held(self._held_s, distance, self.HOLD_RADIUS, self.control_dt)
        change = action - self._previous_action
        self._previous_action = action
        reward = math.exp(-distance / 0.1) - 0.01 * float(change @ change)
        info = {"distance": distance, "is_success": self._held_s >= self.HOLD_TIME - 1e-9}
        return reward, False, info


@functools.lru_cache(maxsize=1)
def _image_cameras() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``camera`` and ``side_camera`` streams' cameras: positions ``(2, 3)`` m, orientations
    ``(2, 3, 3)`` (columns: image right, image up, backwards; world frame) and tan(fovy / 2) ``(2,)``."""
    model = load_scene(ArmReachEnv.ROBOT)
    ids = [model.camera(name).id for name in (ArmReachEnv.IMAGE_CAMERA, ArmReachEnv.SIDE_CAMERA)]
    return (model.cam_pos[ids].copy(), model.cam_mat0[ids].reshape(-1, 3, 3).copy(),
            np.tan(np.radians(model.cam_fovy[ids]) / 2))


def target_in_views(ground_truth: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Where the target's centre is in the two camera images, the auxiliary labels of ArmReach's
    CNNs: ``(4,)`` float32 ``[right, up]`` of the ``camera`` stream's image then of the
    ``side_camera`` stream's, from the image centre in half-widths (+-1 at the edges).

    :param ground_truth: the joint state ``(12,)`` (unused: the cameras are fixed).
    :param goal: the target's position ``(3,)`` m, world frame.
    """
    positions, orientations, tangents = _image_cameras()
    local = np.einsum("cji,cj->ci", orientations, np.asarray(goal, dtype=float) - positions)
    return (local[:, :2] / (-local[:, 2:] * tangents[:, None])).ravel().astype(np.float32)
