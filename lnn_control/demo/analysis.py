"""What a recorded closed-loop flight shows: per-episode success and tracking error (from the
ground truth and the goal), and the IMU-to-command latency (from the recorder's receive times).

**Tracking error** is the distance from the ground-truth position to the goal in force at that
moment. **IMU-to-command latency** of a command is the wall-clock time at which the recorder
received it minus the time at which it received the IMU message the command was computed from
(the one whose ``header.stamp`` the command carries): DDS delivery to the policy node, the
network step and the publish, as a robot's flight controller would see it. IMU messages with no
command of their stamp are counted (none is expected: every IMU message steps the network).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lnn_control.bags.reader import open_bag
from lnn_control.policy.deployment import OutputTopic
from lnn_control.policy.messages.commands import CommandMessages
from lnn_control.policy.messages.sensors import stamp_ns
from lnn_control.sim.parameters import SimParameters
from lnn_control.units import NS

__all__ = ["EpisodeTrack", "Flight", "analyse_flight"]


@dataclass
class EpisodeTrack:
    """One episode: its summary from ``/sim/episode`` and its ground truth.

    :param summary: sim_node's summary (``success``, ``final_distance_m``, ``end_stamp_ns``, ...).
    :param time_s: ``(N,)`` seconds since the episode's first ground-truth message.
    :param position: ``(N, 3)`` ground-truth position, m.
    :param goal: ``(N, 3)`` the goal in force at each of those times, m.
    """

    summary: dict[str, Any]
    time_s: np.ndarray
    position: np.ndarray
    goal: np.ndarray

    @property
    def distance(self) -> np.ndarray:
        """``(N,)`` distance to the goal, m."""
        return np.linalg.norm(self.position - self.goal, axis=1)

    def metrics(self, radius_m: float, hold_s: float) -> dict[str, Any]:
        """Success, final distance, RMS distance over the last ``hold_s`` and over the whole
        episode, and the time to first come within ``radius_m``."""
        distance = self.distance
        last = self.time_s >= self.time_s[-1] - hold_s
        inside = np.flatnonzero(distance < radius_m)
        return {"success": bool(self.summary["success"]), "terminated": bool(self.summary["terminated"]),
                "start_distance_m": float(distance[0]), "final_distance_m": float(distance[-1]),
                "rms_distance_last_s_m": float(np.sqrt(np.mean(distance[last] ** 2))),
                "rms_distance_m": float(np.sqrt(np.mean(distance**2))),
                "time_to_radius_s": float(self.time_s[inside[0]]) if inside.size else None,
                "duration_s": float(self.time_s[-1])}


@dataclass
class Flight:
    """A recorded closed-loop run, analysed.

    :param episodes: the episodes, in order.
    :param latency_ms: ``(C,)`` IMU-to-command latency of every command computed from an IMU
        message, ms; ``latency_at_s`` ``(C,)`` when (s since the first IMU message).
    :param imu_messages: IMU messages recorded; ``unanswered``: those with no command.
    :param other_commands: commands with no IMU message of their stamp (the safe command the node
        sends before its streams are up).
    """

    episodes: list[EpisodeTrack]
    latency_ms: np.ndarray
    latency_at_s: np.ndarray
    imu_messages: int
    unanswered: int
    other_commands: int

    def latency_summary(self) -> dict[str, Any]:
        """Median, p95, p99 and max latency (ms), with the counts."""
        values = self.latency_ms
        stats = {name: float(np.percentile(values, q)) if values.size else None
                 for name, q in (("median_ms", 50), ("p95_ms", 95), ("p99_ms", 99), ("max_ms", 100))}
        return {**stats, "commands": int(values.size), "imu_messages": self.imu_messages,
                "imu_without_command": self.unanswered, "other_commands": self.other_commands}


def analyse_flight(bag_path: Path, sim: SimParameters, output: OutputTopic, imu_stream: str = "imu") -> Flight:
    """Read the closed-loop bag written by :func:`lnn_control.demo.closed_loop.fly`."""
    truth_topic, goal_topic = sim.streams["ground_truth"].topic, sim.streams["goal"].topic
    imu_topic = sim.streams[imu_stream].topic
    truth: list[tuple[int, np.ndarray]] = []
    goals: list[tuple[int, np.ndarray]] = []
    summaries: list[dict[str, Any]] = []
    imu_received: dict[int, int] = {}
    commands: list[tuple[int, int]] = []  # (stamp, receive)
    with open_bag(bag_path) as bag:
        for message in bag.messages():
            msg = bag.reader.deserialize(message.data, message.msgtype)
            if message.topic == truth_topic:
                p = msg.pose.pose.position
                truth.append((stamp_ns(msg.header.stamp), np.array([p.x, p.y, p.z])))
            elif message.topic == goal_topic:
                p = msg.pose.position
                goals.append((stamp_ns(msg.header.stamp), np.array([p.x, p.y, p.z])))
            elif message.topic == imu_topic:
                imu_received[stamp_ns(msg.header.stamp)] = message.receive_ns
            elif message.topic == output.topic:
                stamp, _ = CommandMessages(output.type, joint_names=output.joint_names,
                                           twist_fields=output.twist_fields).read(msg)
                commands.append((stamp if stamp is not None else -1, message.receive_ns))
            elif message.msgtype == "std_msgs/msg/String":
                summaries.append(json.loads(msg.data))
    answered = [(receive - imu_received[stamp], imu_received[stamp])
                for stamp, receive in commands if stamp in imu_received]
    first_imu = min(imu_received.values(), default=0)
    answered_stamps = {stamp for stamp, _ in commands}
    return Flight(
        episodes=_episodes(sorted(summaries, key=lambda s: s["episode"]), truth, goals),
        latency_ms=np.array([lag for lag, _ in answered], dtype=np.float64) * 1e-6,
        latency_at_s=(np.array([at for _, at in answered], dtype=np.float64) - first_imu) * NS,
        imu_messages=len(imu_received),
        unanswered=sum(1 for stamp in imu_received if stamp not in answered_stamps),
        other_commands=len(commands) - len(answered),
    )


def _episodes(summaries: list[dict[str, Any]], truth: list[tuple[int, np.ndarray]],
              goals: list[tuple[int, np.ndarray]]) -> list[EpisodeTrack]:
    """Split the ground truth at each episode's end stamp; hold the goal in force."""
    truth.sort(key=lambda item: item[0])
    goals.sort(key=lambda item: item[0])
    stamps = np.array([s for s, _ in truth], dtype=np.int64)
    positions = np.array([p for _, p in truth]).reshape(-1, 3)
    goal_stamps = np.array([s for s, _ in goals], dtype=np.int64)
    goal_values = np.array([g for _, g in goals]).reshape(-1, 3)
    tracks, start = [], np.iinfo(np.int64).min
    for summary in summaries:
        inside = (stamps > start) & (stamps <= summary["end_stamp_ns"])
        start = summary["end_stamp_ns"]
        held = np.searchsorted(goal_stamps, stamps[inside], side="right") - 1
        if not inside.any() or (held < 0).any():
            continue  # the recorder missed the episode's start: nothing to measure it by
        t = stamps[inside]
        tracks.append(EpisodeTrack(summary, (t - t[0]) * NS, positions[inside], goal_values[held]))
    return tracks
