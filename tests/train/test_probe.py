"""Linear probes from a core state to hidden parameters (lnn_control.train.probe)."""

from __future__ import annotations

import numpy as np

from lnn_control.train.probe import PROBED, fit_probe


def test_a_probe_recovers_a_linear_function_of_the_state() -> None:
    rng = np.random.default_rng(0)
    states = rng.normal(0.0, [1.0, 3.0, 0.1, 2.0], (2000, 4)) + [5.0, 0.0, 1.0, -2.0]
    values = states @ np.array([0.5, -0.2, 4.0, 0.0]) + 0.027
    probe = fit_probe(states, values, ridge=1e-6)
    test = rng.normal(0.0, [1.0, 3.0, 0.1, 2.0], (100, 4)) + [5.0, 0.0, 1.0, -2.0]
    np.testing.assert_allclose(probe(test), test @ np.array([0.5, -0.2, 4.0, 0.0]) + 0.027, atol=1e-4)


def test_a_probe_of_noise_predicts_the_mean() -> None:
    rng = np.random.default_rng(1)
    probe = fit_probe(rng.normal(size=(5000, 8)), 3.0 + rng.normal(size=5000))
    assert abs(probe.bias - 3.0) < 0.05 and np.abs(probe.weights).max() < 0.05


def test_probed_indices_name_the_physics_values() -> None:
    import gymnasium as gym

    import lnn_control.sim.envs  # noqa: F401

    for env_id, names in PROBED.items():
        env = gym.make(env_id, scenario="adaptation_ood", streams=("joints",) if "Arm" in env_id else ("imu",))
        env.reset(seed=0)
        size = env.unwrapped.STREAMS["physics"].shape[0]
        assert all(0 <= index < size for index in names.values())
        if "mass_kg" in names:
            assert env.unwrapped.draw.mass == next(
                e.value for e in env.reset(seed=0)[1]["privileged_events"] if e.stream == "physics")[names["mass_kg"]]
