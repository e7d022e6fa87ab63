"""The sensor timing model: measured rates, jitter, drops and latencies match the configuration
(within 5 %) over long runs; events come in time order; IMU noise has the configured statistics."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import lnn_control.sim.envs  # noqa: F401  (registers the envs)
from lnn_control.errors import ConfigError
from lnn_control.sim.envs.quad_hover import QuadHoverEnv
from lnn_control.sim.imu import ImuNoise, ImuNoiseProcess
from lnn_control.sim.scenarios import QuadrotorRandomisation, Scenario, TimingRandomisation
from lnn_control.sim.timing import StreamTiming, sample_stamps
from lnn_control.units import NS_PER_S

#: a quadrotor that starts level and still, so the hover action holds it for any duration
STILL = QuadrotorRandomisation(start_offset=0.0, start_tilt=0.0, start_speed=0.0)


def _long_run(scenario: Scenario, seconds: float, streams: tuple[str, ...] = ("imu", "odom", "goal")):
    """Hover for ``seconds`` (no time limit); per stream: stamps, and (stamp, step start, step end)."""
    env = QuadHoverEnv(scenario=scenario, streams=streams)
    _, info = env.reset(seed=7)
    action = env.controller.hover_action
    stamps: dict[str, list[int]] = {name: [e.stamp_ns] for name in streams for e in info["sensor_events"] if e.stream == name}
    deliveries: list[tuple[str, int, int, int]] = []
    steps = round(seconds * env.CONTROL_HZ)
    for _ in range(steps):
        start = env.now_ns
        _, _, terminated, _, info = env.step(action)
        assert not terminated
        events = info["sensor_events"]
        assert [e.stamp_ns for e in events] == sorted(e.stamp_ns for e in events)  # time order
        for event in events:
            stamps[event.stream].append(event.stamp_ns)
            deliveries.append((event.stream, event.stamp_ns, start, env.now_ns))
    return env, {name: np.array(values) for name, values in stamps.items()}, deliveries


def test_timing_rejects_impossible_values() -> None:
    with pytest.raises(ConfigError, match="rate_hz"):
        StreamTiming(0.0)
    with pytest.raises(ConfigError, match="jitter"):
        StreamTiming(100.0, jitter=0.6)
    with pytest.raises(ConfigError, match="dropout"):
        StreamTiming(100.0, dropout=1.0)
    with pytest.raises(ConfigError, match="latency_s"):
        StreamTiming(100.0, latency_s=-0.01)


@pytest.mark.parametrize("jitter, dropout", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.05), (0.3, 0.05)])
def test_sampled_stamps_have_the_configured_statistics(jitter: float, dropout: float) -> None:
    rng = np.random.default_rng(3)
    timing = StreamTiming(200.0, jitter=jitter, dropout=dropout)
    stamps, kept = sample_stamps(rng, np.int64(0), 400_000, timing.period_ns, timing.jitter, timing.dropout)
    intervals = np.diff(np.concatenate([[0], stamps])) / timing.period_ns
    assert intervals.mean() == pytest.approx(1.0, rel=0.01)
    assert intervals.min() > 0
    assert intervals.std() == pytest.approx(jitter, rel=0.05, abs=1e-6)
    assert 1.0 - kept.mean() == pytest.approx(dropout, rel=0.05, abs=1e-9)


def test_env_streams_have_the_configured_rate_and_jitter() -> None:
    """600 s with 30 % jitter: each stream's mean interval and jitter as configured (within 5 %)."""
    scenario = Scenario(name="jitter", timing=TimingRandomisation(jitter=0.3, dropout=0.0), quadrotor=STILL)
    env, stamps, _ = _long_run(scenario, 600.0)
    for name, values in stamps.items():
        configured = env.stream_timing[name]
        intervals = np.diff(values) / NS_PER_S
        assert 1.0 / intervals.mean() == pytest.approx(configured.rate_hz, rel=0.05), name
        assert intervals.std() * configured.rate_hz == pytest.approx(0.3, rel=0.05), name
        assert len(values) == pytest.approx(600.0 * configured.rate_hz, rel=0.05), name


def test_env_streams_drop_the_configured_fraction() -> None:
    """600 s without jitter: every gap in the 200 Hz IMU is a whole number of periods; the lost
    fraction is the configured 5 % (within 5 %: 120,000 messages make that a 4-sigma bound)."""
    scenario = Scenario(name="drops", timing=TimingRandomisation(jitter=0.0, dropout=0.05), quadrotor=STILL)
    env, stamps, _ = _long_run(scenario, 600.0, streams=("imu",))
    period_ns = env.stream_timing["imu"].period_ns
    periods = np.diff(stamps["imu"]) / period_ns
    np.testing.assert_allclose(periods, np.round(periods), atol=1e-6)  # no jitter: whole periods
    lost = np.round(periods).sum() - len(periods)
    assert lost / (lost + len(periods)) == pytest.approx(0.05, rel=0.05)


def test_timing_ood_rates_and_deliveries_match_each_episodes_draw() -> None:
    """timing_ood draws each stream's rate from x0.5..x2 per episode; over 300 s the delivered
    message rate is that rate times (1 - 5 % dropout), within 5 %."""
    scenario = Scenario(
        name="ood", timing=TimingRandomisation(rate_scale=(0.5, 2.0), latency_scale=(1.0, 2.0), jitter=0.3, dropout=0.05),
        quadrotor=STILL,
    )
    env, stamps, _ = _long_run(scenario, 300.0, streams=("imu", "odom"))
    for name, values in stamps.items():
        configured = env.stream_timing[name]
        nominal = QuadHoverEnv.STREAMS[name].timing.rate_hz
        assert 0.5 * nominal <= configured.rate_hz <= 2.0 * nominal
        delivered = (len(values) - 1) / 300.0
        assert delivered == pytest.approx(configured.rate_hz * 0.95, rel=0.05), name


def test_events_arrive_after_their_latency_in_the_step_that_contains_their_arrival() -> None:
    scenario = Scenario(name="latency", timing=TimingRandomisation(latency_scale=(1.0, 3.0), jitter=0.3), quadrotor=STILL)
    env, stamps, deliveries = _long_run(scenario, 20.0)
    for stream, stamp, start, end in deliveries:
        arrival = stamp + env.stream_timing[stream].latency_ns
        assert start < arrival <= end, (stream, stamp, start, end)
    for name, values in stamps.items():
        assert np.all(np.diff(values) > 0), name  # each stream strictly in stamp order


def test_camera_frames_are_rendered_only_at_the_cameras_rate() -> None:
    env = gym.make("lnn_control/QuadTarget-v0").unwrapped
    env.reset(seed=0)
    renderer = env._image_renderer
    calls = 0
    render = renderer.render

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        nonlocal calls
        calls += 1
        return render(*args, **kwargs)

    renderer.render = counting
    frames = 0
    for _ in range(300):  # 3 s
        _, _, _, _, info = env.step(env.controller.hover_action)
        frames += sum(e.stream == "camera" for e in info["sensor_events"])
    in_flight = len(env._timed[env.streams.index("camera")]._in_flight)
    assert calls == frames + in_flight  # one render per measured frame, none wasted
    assert frames == pytest.approx(3.0 * env.stream_timing["camera"].rate_hz, abs=2)
    env.close()


def test_imu_white_noise_bias_walk_and_turn_on_bias_have_the_configured_sizes() -> None:
    rate = 200.0
    stamps = np.arange(1, 200_001, dtype=np.int64) * round(NS_PER_S / rate)
    white = ImuNoise(gyro_noise_density=2e-3, accel_noise_density=3e-2, gyro_bias_walk=0.0,
                     accel_bias_walk=0.0, gyro_bias_std=0.0, accel_bias_std=0.0)
    noise = ImuNoiseProcess(white, rate, np.random.default_rng(1)).sample(stamps)
    expected = np.repeat([2e-3, 3e-2], 3) * math.sqrt(rate)
    np.testing.assert_allclose(noise.std(axis=0), expected, rtol=0.05)

    walk = ImuNoise(gyro_noise_density=0.0, accel_noise_density=0.0, gyro_bias_walk=1e-3,
                    accel_bias_walk=2e-2, gyro_bias_std=0.0, accel_bias_std=0.0)
    path = ImuNoiseProcess(walk, rate, np.random.default_rng(2)).sample(stamps)
    increments = np.diff(path, axis=0)
    np.testing.assert_allclose(increments.std(axis=0), np.repeat([1e-3, 2e-2], 3) / math.sqrt(rate), rtol=0.05)

    turn_on = ImuNoise(0.0, 0.0, 0.0, 0.0, gyro_bias_std=5e-3, accel_bias_std=5e-2)
    biases = ImuNoiseProcess(turn_on, rate, np.random.default_rng(3), (20_000,)).bias
    np.testing.assert_allclose(biases.std(axis=0), np.repeat([5e-3, 5e-2], 3), rtol=0.05)
