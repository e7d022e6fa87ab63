"""BatchedStepBlocks gives, env by env and period by period, bit for bit the blocks that
NetworkStepsEnv's per-env path (StepRecorder + EventAligner, fed the env's messages as
SensorEvents in the single env's order) gives: on the vectorised QuadHover with random actions
(crashes, time limits, same-step autoresets) in nominal and timing_ood, and on made-up messages
that break every rule the aligner has (duplicates, late and non-finite messages, clock jumps,
long gaps and reset gaps, ties between streams, timer mode, streams the policy does not read)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import pytest
from helpers import policy_config

from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.events import SensorEvent
from lnn_control.sim.envs.quad_hover_vector import QuadHoverVectorEnv
from lnn_control.train.rl.batched_steps import BatchedStepBlocks, PeriodBlocks
from lnn_control.train.rl.observation import NetworkStepsEnv

MS = 1_000_000
#: the aligner's counters of the rules the tests must see applied
RULES = ("duplicates", "late", "clock_resets", "long_gaps", "gap_resets", "rejected")


class ReplayEnv(gym.Env):
    """A single env that hands out the events it is given (one env's messages of the batch), so
    :class:`NetworkStepsEnv` builds its blocks exactly as it does on a real env."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    def __init__(self) -> None:
        self.events: list[SensorEvent] = []
        self.now_ns = 0

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(1), {"sensor_events": self.events}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return np.zeros(1), 0.0, False, False, {"sensor_events": self.events}


class PerEnvBlocks:
    """The reference: one NetworkStepsEnv per env of the batch, fed its messages."""

    def __init__(self, config: PolicyConfig, max_substeps: int, num_envs: int) -> None:
        self.envs = [NetworkStepsEnv(ReplayEnv(), config, max_substeps) for _ in range(num_envs)]
        self._retired: Counter[str] = Counter()  # the counters of the aligners replaced at resets

    def _give(self, i: int, messages: Mapping[str, Any]) -> NetworkStepsEnv:
        """Env ``i``'s messages as the single env hands them out: its streams' messages
        concatenated in the env's stream order, sorted by stamp (a stable sort), as
        ``SensorEnv.step`` does."""
        events = [SensorEvent(name, int(stream["stamp_ns"][i, j]), stream["values"][i, j])
                  for name, stream in messages["streams"].items() for j in range(int(stream["count"][i]))]
        events.sort(key=lambda event: event.stamp_ns)
        env = self.envs[i]
        env.env.events, env.env.now_ns = events, int(messages["now_ns"][i])
        return env

    def _reset(self, i: int, messages: Mapping[str, Any]) -> np.ndarray:
        self._retired.update(self._counts(self.envs[i]))
        return self._give(i, messages).reset()[0]

    def reset(self, infos: Mapping[str, Any]) -> np.ndarray:
        return np.stack([self._reset(i, infos["messages"]) for i in range(len(self.envs))])

    def step(self, infos: Mapping[str, Any]) -> PeriodBlocks:
        ended = infos.get("_final_info", np.zeros(len(self.envs), bool))
        finals, blocks = [], []
        for i in range(len(self.envs)):
            period = infos["final_info"]["messages"] if ended[i] else infos["messages"]
            finals.append(self._give(i, period).step(None)[0])
            blocks.append(self._reset(i, infos["messages"]) if ended[i] else finals[-1])
        return PeriodBlocks(np.stack(blocks), np.stack(finals), ended)

    @staticmethod
    def _counts(env: NetworkStepsEnv) -> Counter[str]:
        stats = env._recorder.aligner.stats
        return Counter({key: sum(stats.rejected.values()) if key == "rejected" else getattr(stats, key)
                        for key in RULES})

    def counts(self) -> Counter[str]:
        """How often each rule of :data:`RULES` applied so far, over every env and episode."""
        total = Counter(self._retired)
        for env in self.envs:
            total.update(self._counts(env))
        return total


def assert_same(batched: PeriodBlocks, reference: PeriodBlocks, period: int) -> None:
    np.testing.assert_array_equal(batched.ended, reference.ended)
    for name in ("blocks", "final"):
        got, want = getattr(batched, name), getattr(reference, name)
        for i in range(len(want)):
            np.testing.assert_array_equal(got[i], want[i], err_msg=f"{name} of env {i} in period {period}")
        assert got.dtype == np.float32


# -- on the vectorised QuadHover --------------------------------------------------------------------
@pytest.mark.parametrize("scenario, max_substeps", [("nominal", 4), ("timing_ood", 16)])
def test_batched_blocks_equal_the_per_env_blocks_on_the_vector_env(scenario: str, max_substeps: int) -> None:
    envs, periods = 24, 400
    config = policy_config("quad_hover_cfc")
    env = QuadHoverVectorEnv(num_envs=envs, scenario=scenario, nthread=1, max_episode_steps=150, messages=True)
    batched, reference = BatchedStepBlocks(config, max_substeps, envs), PerEnvBlocks(config, max_substeps, envs)
    _, infos = env.reset(seed=11)
    np.testing.assert_array_equal(batched.reset(infos), reference.reset(infos))
    rng = np.random.default_rng(11)
    thrust = np.linspace(-0.5, 0.1, envs)  # hover is -0.11: the low ones fall, the others climb
    crashes = ends = steps = 0
    for period in range(periods):
        actions = rng.uniform(-1.0, 1.0, (envs, 4))
        actions[:, 0] = 0.5 * actions[:, 0] + thrust
        _, _, terminated, truncated, infos = env.step(actions)
        out = batched.step(infos)
        assert_same(out, reference.step(infos), period)
        crashes, ends = crashes + terminated.sum(), ends + (terminated | truncated).sum()
        steps += out.blocks[..., batched.layout.valid].sum()
    assert crashes >= 10 and ends > crashes  # episodes crashed and ran out of time: autoresets
    assert steps > envs * periods * 1.5  # the 200 Hz IMU steps the network about twice per period
    if scenario == "timing_ood":
        assert reference.counts()["long_gaps"] > 0  # dropped IMU messages: gaps in sub-steps


def test_a_period_beyond_max_substeps_is_an_error_in_both() -> None:
    config = policy_config("quad_hover_cfc")
    env = QuadHoverVectorEnv(num_envs=2, nthread=1, messages=True)
    batched, reference = BatchedStepBlocks(config, 1, 2), PerEnvBlocks(config, 1, 2)
    _, infos = env.reset(seed=0)
    np.testing.assert_array_equal(batched.reset(infos), reference.reset(infos))
    _, _, _, _, infos = env.step(np.zeros((2, 4)))
    assert_same(batched.step(infos), reference.step(infos), 1)  # one IMU message: one step
    _, _, _, _, infos = env.step(np.zeros((2, 4)))  # two: two steps
    with pytest.raises(LnnControlError, match="max_substeps=1"):
        reference.step(infos)
    with pytest.raises(LnnControlError, match=r"control period 2 of env \d .* max_substeps=1: raise max_substeps"):
        batched.step(infos)


def test_an_env_without_messages_or_a_stream_the_policy_reads_is_an_error() -> None:
    blocks = BatchedStepBlocks(policy_config("quad_hover_cfc"), 4, 2)
    _, infos = QuadHoverVectorEnv(num_envs=2, nthread=1).reset(seed=0)
    with pytest.raises(ConfigError, match="make it with messages=True"):
        blocks.reset(infos)
    _, infos = QuadHoverVectorEnv(num_envs=2, streams=("imu", "odom"), nthread=1, messages=True).reset(seed=0)
    with pytest.raises(ConfigError, match=r"reads the streams \['goal'\].*make the env with those streams"):
        blocks.reset(infos)


# -- on made-up messages that break every rule ---------------------------------------------------
#: the env's streams (name, size): ``attitude`` is one the policies below do not read
SIZES = {"odom": 13, "attitude": 3, "imu": 6, "goal": 3}


def made_up_periods(seed: int, envs: int, periods: int, most: int = 4) -> Iterator[dict[str, Any]]:
    """The infos of a batched env whose messages break every rule: stamps on a 1 ms grid (ties
    between streams), repeated (duplicates), older than the last by 1 ms to 2 s (late messages
    and clock jumps), values with NaN or beyond float32 (rejected), periods after long and very
    long silences, control instants that repeat or jump back; episodes end at random, their reset
    messages stamped 0. The first item is the reset's infos."""
    rng = np.random.default_rng(seed)
    clock = np.zeros(envs, np.int64)
    last = {name: np.zeros(envs, np.int64) for name in SIZES}

    def streams(count: dict[str, np.ndarray]) -> dict[str, Any]:
        out = {}
        for name, size in SIZES.items():
            stamps = np.zeros((envs, most), np.int64)
            values = rng.normal(0.0, 1.0, (envs, most, size))
            for i in range(envs):
                for j in range(count[name][i]):
                    draw = rng.random()
                    if draw < 0.08:
                        stamp = last[name][i]  # a duplicate
                    elif draw < 0.2:  # late, or a clock jump beyond max_backward_s
                        stamp = last[name][i] - _milliseconds_up_to(rng, 2000) * MS
                    else:
                        stamp = clock[i] + int(rng.integers(-5, 10)) * MS
                    stamps[i, j] = last[name][i] = stamp
                    if rng.random() < 0.03:
                        values[i, j, rng.integers(size)] = rng.choice([np.nan, np.inf, -np.inf, 1e39])
            values[np.arange(most) >= count[name][:, None]] = 0.0
            stamps[np.arange(most) >= count[name][:, None]] = 0
            out[name] = {"values": values, "stamp_ns": stamps, "arrival_ns": stamps.copy(), "count": count[name]}
        return out

    ones = {name: np.ones(envs, np.int64) for name in SIZES}
    reset = {"now_ns": clock.copy(), "streams": streams(ones)}
    yield {"messages": reset}
    for _ in range(periods):
        silence = rng.random(envs)
        clock += np.where(silence < 0.03, rng.integers(30, 1500, envs) * MS, 10 * MS)  # long, very long gaps
        clock -= np.where(silence > 0.985, 10 * MS, 0)  # the same control instant again
        clock -= np.where(silence > 0.99, [_milliseconds_up_to(rng, 2000) * MS for _ in range(envs)], 0)
        period = {"now_ns": clock.copy(),
                  "streams": streams({name: rng.integers(0, most + 1, envs) for name in SIZES})}
        ended = rng.random(envs) < 0.03
        if not ended.any():
            yield {"messages": period}
            continue
        clock[ended] = 0
        for stamps in last.values():
            stamps[ended] = 0
        fresh = streams({name: ended.astype(np.int64) for name in SIZES})
        messages = {"now_ns": np.where(ended, 0, period["now_ns"]),
                    "streams": {name: {key: np.where(ended.reshape((-1,) + (1,) * (array.ndim - 1)),
                                                     fresh[name][key], array)
                                       for key, array in stream.items()}
                                for name, stream in period["streams"].items()}}
        yield {"messages": messages, "final_info": {"messages": period}, "_final_info": ended}


def _milliseconds_up_to(rng: np.random.Generator, most: int) -> int:
    """A whole number of milliseconds from 1 to ``most``, log-uniform (so as often near every
    threshold of the rules)."""
    return int(np.exp(rng.uniform(0.0, np.log(most))))


def reordered(config: PolicyConfig, *names: str) -> PolicyConfig:
    """``config`` with its streams in the order ``names``."""
    return dataclasses.replace(config, streams=[config.stream(name) for name in names])


CONFIGS = {
    "stream": lambda: policy_config("quad_hover_cfc"),
    "stream_tight": lambda: policy_config("quad_hover_cfc", nominal_dt_s=0.004, max_step_s=0.004,
                                          reset_gap_s=0.03, max_backward_s=0.02, max_age_s=0.012),
    "stream_reordered": lambda: reordered(policy_config("quad_hover_cfc", stream="odom"), "goal", "odom", "imu"),
    "timer": lambda: policy_config("quad_hover_cfc", mode="timer", stream=None, max_backward_s=0.3),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batched_blocks_equal_the_per_env_blocks_on_messages_that_break_every_rule(name: str) -> None:
    envs, periods, max_substeps = 16, 250, 48
    config = CONFIGS[name]()
    batched = BatchedStepBlocks(config, max_substeps, envs)
    reference = PerEnvBlocks(config, max_substeps, envs)
    made_up = made_up_periods(1, envs, periods)
    infos = next(made_up)
    np.testing.assert_array_equal(batched.reset(infos), reference.reset(infos))
    for period, infos in enumerate(made_up, start=1):
        assert_same(batched.step(infos), reference.step(infos), period)
    counts = reference.counts()
    assert all(counts[rule] > 0 for rule in RULES), counts  # every rule applied


def scripted(periods: list[tuple[int, list[tuple[str, int]]]]) -> list[dict[str, Any]]:
    """The infos of one env whose periods are ``(now_ns, [(stream, stamp_ns), ...])``, the first
    being the reset; values random."""
    rng = np.random.default_rng(0)
    out = []
    for now, events in periods:
        streams = {}
        for name, size in SIZES.items():
            stamps = [stamp for stream, stamp in events if stream == name]
            values = np.zeros((1, 4, size))
            values[0, : len(stamps)] = rng.normal(0.0, 1.0, (len(stamps), size))
            padded = np.zeros((1, 4), np.int64)
            padded[0, : len(stamps)] = stamps
            streams[name] = {"values": values, "stamp_ns": padded, "arrival_ns": padded.copy(),
                             "count": np.array([len(stamps)])}
        out.append({"messages": {"now_ns": np.array([now]), "streams": streams}})
    return out


START = [(0, [("odom", 0), ("imu", 0), ("goal", 0)])]
#: (policy config, periods, how often rules apply) on the edges of the rules, where ``<`` and
#: ``<=`` or rounding differ
EDGES = {
    # gaps of 140 ms (7 sub-steps of 20 ms: 7.000000000000001 before the aligner's 1e-9) and of
    # exactly reset_gap_s (sub-steps, no reset); odom 500 ms older than its last (late, not a
    # jump), then 500 ms + 1 ns older (a jump)
    "stream": ("stream", START + [(10 * MS, [("imu", 5 * MS)]), (150 * MS, [("imu", 145 * MS)]),
                                  (650 * MS, [("imu", 645 * MS), ("odom", 640 * MS)]),
                                  (660 * MS, [("odom", 140 * MS), ("imu", 650 * MS)]),
                                  (670 * MS, [("odom", 140 * MS - 1), ("imu", 655 * MS), ("odom", 656 * MS),
                                              ("goal", 600 * MS), ("imu", 660 * MS), ("imu", 665 * MS)])],
               {"long_gaps": 2, "gap_resets": 0, "late": 1, "clock_resets": 1}),
    # ticks at the same instant as the last (no step), exactly max_backward_s earlier (no step,
    # no jump), then 1 ns more (a jump)
    "timer": ("timer", START + [(10 * MS, []), (10 * MS, [("imu", 9 * MS)]), (20 * MS, []),
                                (20 * MS - 300 * MS, [("odom", 15 * MS)]), (20 * MS - 300 * MS - 1, []),
                                (30 * MS, [("imu", 25 * MS), ("odom", 25 * MS), ("goal", 25 * MS)]),
                                (40 * MS, [])],
              {"long_gaps": 0, "late": 0, "clock_resets": 1}),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_batched_blocks_equal_the_per_env_blocks_on_the_edges_of_the_rules(name: str) -> None:
    config_name, periods, expected = EDGES[name]
    config = CONFIGS[config_name]()
    batched, reference = BatchedStepBlocks(config, 32, 1), PerEnvBlocks(config, 32, 1)
    first, *rest = scripted(periods)
    np.testing.assert_array_equal(batched.reset(first), reference.reset(first))
    for period, infos in enumerate(rest, start=1):
        assert_same(batched.step(infos), reference.step(infos), period)
    counts = reference.counts()
    assert {rule: counts[rule] for rule in expected} == expected
