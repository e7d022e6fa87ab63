"""The vectorised QuadHover's ``messages`` option: it changes nothing the env returns but adds the
messages; every message of every period comes back, each once, in order, its newest being the
observation; and the single env orders its events the way the batched merge
(lnn_control.train.rl.batched_steps) assumes: by stamp, ties in the env's stream order.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv
from lnn_control.sim.errors import SimulationError

STREAMS = ("imu", "odom", "goal")


def trace_run(**options: Any) -> dict[str, np.ndarray]:
    """Everything 4 envs of ``timing_ood`` return over 100 random steps with 40-step episodes
    (crashes and time limits: autoresets), as arrays by name."""
    env = QuadHoverVectorEnv(num_envs=4, scenario="timing_ood", nthread=1, max_episode_steps=40, **options)
    observation, info = env.reset(seed=7)
    rng = np.random.default_rng(7)
    trace: dict[str, list[np.ndarray]] = {}

    def add(name: str, value: Any) -> None:
        trace.setdefault(name, []).append(np.asarray(value))

    for name in STREAMS:
        add(f"reset_{name}", observation[name])
        add(f"reset_stamp_{name}", info["stamp_ns"][name])
    for _ in range(100):
        observation, reward, terminated, truncated, info = env.step(rng.uniform(-1.0, 1.0, (4, 4)))
        for name in STREAMS:
            add(f"obs_{name}", observation[name])
            add(f"stamp_{name}", info["stamp_ns"][name])
            final = info.get("final_obs", observation)  # present only when an env ended
            add(f"final_obs_{name}", final[name])
        for key, value in (("reward", reward), ("terminated", terminated), ("truncated", truncated),
                           ("is_success", info["is_success"]), ("distance", info["distance"]),
                           ("ended", info.get("_final_obs", np.zeros(4, bool)))):
            add(key, value)
    env.close()
    return {name: np.stack(values) for name, values in trace.items()}


def test_the_messages_option_changes_nothing_else() -> None:
    plain, with_messages = trace_run(), trace_run(messages=True)
    assert sorted(plain) == sorted(with_messages)
    for name, values in plain.items():
        np.testing.assert_array_equal(with_messages[name], values, err_msg=name)
        assert with_messages[name].dtype == values.dtype, name
    env = QuadHoverVectorEnv(num_envs=2, nthread=1)
    _, info = env.reset(seed=0)
    assert "messages" not in info
    _, _, _, _, info = env.step(np.zeros((2, 4)))
    assert "messages" not in info


def test_every_message_comes_once_in_order_and_the_newest_is_the_observation() -> None:
    envs = 16
    env = QuadHoverVectorEnv(num_envs=envs, scenario="timing_ood", nthread=1, messages=True)
    observation, info = env.reset(seed=5)
    streams = {stream.name: stream for stream in env._streams}
    assert list(info["messages"]["streams"]) == list(env.streams)  # the env's stream order
    delivered: dict[str, list[list[int]]] = {name: [[0] for _ in range(envs)] for name in STREAMS}
    for name, stream in info["messages"]["streams"].items():
        np.testing.assert_array_equal(stream["count"], 1)
        np.testing.assert_array_equal(stream["stamp_ns"][:, 0], 0)
        np.testing.assert_array_equal(stream["values"][:, 0].astype(np.float32), observation[name])
    hover = np.tile(env.controller.hover_action, (envs, 1))
    for _ in range(120):  # hovering: no episode ends
        observation, _, terminated, truncated, info = env.step(hover)
        assert not (terminated | truncated).any()
        now = info["messages"]["now_ns"]
        np.testing.assert_array_equal(now, env._now)
        for name, stream in info["messages"]["streams"].items():
            count, stamps, arrivals = stream["count"], stream["stamp_ns"], stream["arrival_ns"]
            assert count.max() <= streams[name].max_messages == stamps.shape[1]
            got = np.flatnonzero(count > 0)
            newest = stream["values"][got, count[got] - 1].astype(np.float32)
            np.testing.assert_array_equal(newest, observation[name][got])
            np.testing.assert_array_equal(stamps[got, count[got] - 1], info["stamp_ns"][name][got])
            for i in range(envs):
                real = slice(0, count[i])
                assert np.all(np.diff(stamps[i, real]) > 0)
                np.testing.assert_array_equal(arrivals[i, real], stamps[i, real] + streams[name].latency[i])
                assert np.all((arrivals[i, real] > now[i] - env._control_ns) & (arrivals[i, real] <= now[i]))
                assert not stream["values"][i, count[i]:].any() and not stamps[i, count[i]:].any()
                delivered[name][i] += stamps[i, real].tolist()
    for name, stream in streams.items():  # each scheduled, kept message that has arrived: once
        for i in range(envs):
            kept = stream.stamps[i][stream.kept[i]]
            np.testing.assert_array_equal(delivered[name][i], kept[kept + stream.latency[i] <= env._now[i]])


def test_a_period_with_more_messages_than_the_bound_is_an_error() -> None:
    env = QuadHoverVectorEnv(num_envs=2, nthread=1, messages=True)
    env.reset(seed=0)
    next(s for s in env._streams if s.name == "imu").max_messages = 1
    with pytest.raises(SimulationError, match="imu: 2 messages arrived in one control period"):
        for _ in range(3):
            env.step(np.zeros((2, 4)))


def test_the_single_env_orders_its_events_by_stamp_ties_in_its_stream_order() -> None:
    """What the batched merge reproduces: ``info["sensor_events"]`` sorted by stamp, equal stamps in
    the env's stream order (the reset's messages, all stamped 0, show the ties)."""
    streams = ("odom", "goal", "imu")  # not the default order: the env's own order breaks ties
    env = gym.make("lnn_control/QuadHover-v0", scenario="timing_ood", streams=streams)
    _, info = env.reset(seed=3)
    assert [(e.stream, e.stamp_ns) for e in info["sensor_events"]] == [(name, 0) for name in streams]
    hover = env.unwrapped.controller.hover_action
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(hover)
        keys = [(e.stamp_ns, streams.index(e.stream)) for e in info["sensor_events"]]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        if terminated or truncated:
            env.reset()

