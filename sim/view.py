"""``lnn-control sim view``: one episode as a picture a person can check at a glance.

The PNG has a strip of third-person frames (``render()``), a strip of the policy camera's frames
(the ``camera`` stream, as a policy receives them) and three plots: distance to the goal, the
moved point's coordinates against the goal's, and the path seen from above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lnn_control.policy.config import ActionSpec
from lnn_control.policy.events import Controller
from lnn_control.sim.rollout import EpisodeResult, run_episode

__all__ = ["RandomActions", "Recording", "record_episode", "save_view"]


class RandomActions:
    """A controller that ignores its inputs and commands uniform samples within the env's
    actuator limits (seeded).

    :param spec: the env's ``action_spec()``: the physical limits ``[low, high]``.
    :param seed: seed of the samples.
    """

    def __init__(self, spec: ActionSpec, seed: int) -> None:
        self._space = gym.spaces.Box(np.float32(spec.low), np.float32(spec.high), dtype=np.float32)
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        self._space.seed(self._seed)

    def on_event(self, stream: str, stamp_ns: int, value: np.ndarray) -> None:
        """Inputs are ignored."""

    def command(self, stamp_ns: int) -> np.ndarray:
        return self._space.sample()


@dataclass
class Recording:
    """What one episode looked like.

    :param times: ``(T,)`` s of each record (reset, then every step).
    :param moved: ``(T, 3)`` the moved point (body or end effector), m.
    :param goal: ``(T, 3)`` the goal, m.
    :param distance: ``(T,)`` distance to the goal, m.
    :param views: ``(time s, frame)`` third-person frames at the chosen times.
    :param camera: ``(stamp s, frame)`` every policy-camera frame handed out.
    """

    times: list[float] = field(default_factory=list)
    moved: list[np.ndarray] = field(default_factory=list)
    goal: list[np.ndarray] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    views: list[tuple[float, np.ndarray]] = field(default_factory=list)
    camera: list[tuple[float, np.ndarray]] = field(default_factory=list)


def record_episode(
    env_id: str, controller: Controller, scenario: str, seed: int, frames: int, privileged: bool
) -> tuple[Recording, EpisodeResult]:
    """Run one episode of ``controller`` and record it (the env also streams its camera)."""
    import lnn_control.sim.envs  # noqa: F401  (registers the envs)
    from lnn_control.sim.envs.base import SensorEnv

    spec = gym.spec(env_id)
    entry = gym.envs.registration.load_env_creator(spec.entry_point)  # type: ignore[arg-type]
    streams = tuple(dict.fromkeys((*entry.DEFAULT_STREAMS, "camera")))
    env = gym.make(env_id, scenario=scenario, streams=streams, render_mode="rgb_array")
    steps = spec.max_episode_steps or 500
    view_steps = set(np.linspace(0, steps, frames).round().astype(int).tolist())
    recording = Recording()
    step = 0

    def on_step(env: gym.Env, observation: dict[str, np.ndarray], info: dict[str, Any]) -> None:
        nonlocal step
        unwrapped: SensorEnv = env.unwrapped  # type: ignore[assignment]
        moved, goal = unwrapped.task_positions()
        now = unwrapped.now_ns * 1e-9
        recording.times.append(now)
        recording.moved.append(moved)
        recording.goal.append(goal)
        recording.distance.append(float(np.linalg.norm(moved - goal)))
        recording.camera += [(e.stamp_ns * 1e-9, e.value) for e in info["sensor_events"] if e.stream == "camera"]
        if step in view_steps:
            recording.views.append((now, env.render()))  # type: ignore[arg-type]
        step += 1

    try:
        result = run_episode(env, controller, seed, privileged=privileged, on_step=on_step)
        if len(recording.views) < frames:  # ended early: show the end
            recording.views.append((recording.times[-1], env.render()))  # type: ignore[arg-type]
    finally:
        env.close()
    return recording, result


def save_view(recording: Recording, result: EpisodeResult, title: str, out: str | Path) -> Path:
    """Draw ``recording`` into a PNG at ``out`` (parents created); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = recording.views
    count = len(views)
    picked = _nearest(recording.camera, [t for t, _ in views])
    figure = plt.figure(figsize=(max(2.0 * count, 12.0), 8.6), layout="constrained")
    strips, plots = figure.subfigures(2, 1, height_ratios=[2.0, 1.5])
    cells = strips.subplots(2, count, squeeze=False)
    rows = [
        [(f"t = {time:.2f} s", frame) for time, frame in views],
        [(f"camera @ {stamp:.2f} s", frame) for stamp, frame in picked],
    ]
    for axes, row in zip(cells, rows):
        for axis, (label, frame) in zip(axes, row):
            axis.imshow(frame, interpolation="nearest")
            axis.set_title(label, fontsize=9)
        for axis in axes:
            axis.axis("off")
    strips.suptitle("third-person view (top); the policy's camera stream as delivered (bottom)", fontsize=9)

    times = np.array(recording.times)
    moved, goal = np.array(recording.moved), np.array(recording.goal)
    distance, coordinates, path = plots.subplots(1, 3)
    distance.plot(times, recording.distance, color="k")
    distance.set_yscale("log")
    distance.set_xlabel("time (s)")
    distance.set_ylabel("distance to goal (m)")
    for index, (axis_name, colour) in enumerate(zip("xyz", ("tab:red", "tab:green", "tab:blue"))):
        coordinates.plot(times, moved[:, index], color=colour, label=axis_name)
        coordinates.plot(times, goal[:, index], color=colour, linestyle="--", linewidth=1)
    coordinates.set_xlabel("time (s)")
    coordinates.set_ylabel("position (m); dashed: goal")
    coordinates.legend(fontsize=8, loc="best")
    path.plot(moved[:, 0], moved[:, 1], color="k", linewidth=1)
    path.scatter(moved[0, 0], moved[0, 1], marker="o", color="tab:blue", label="start", zorder=3)
    path.scatter(goal[-1, 0], goal[-1, 1], marker="*", s=120, color="tab:red", label="goal", zorder=3)
    path.set_aspect("equal", adjustable="datalim")
    path.set_xlabel("x (m)")
    path.set_ylabel("y (m)")
    path.set_title("path from above", fontsize=9)
    path.legend(fontsize=8, loc="best")
    outcome = "success" if result.success else ("crashed" if result.terminated else "no success")
    figure.suptitle(
        f"{title}: {outcome}, final distance {result.final_distance:.3f} m, {result.steps} steps",
        fontsize=11,
    )
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=80)
    plt.close(figure)
    return target


def _nearest(frames: list[tuple[float, np.ndarray]], times: list[float]) -> list[tuple[float, np.ndarray]]:
    """For each of ``times``, the frame stamped nearest to it."""
    if not frames:
        return []
    stamps = np.array([stamp for stamp, _ in frames])
    return [frames[int(np.argmin(np.abs(stamps - t)))] for t in times]
