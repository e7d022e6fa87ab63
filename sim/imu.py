"""IMU measurement noise: white noise, bias random walk and turn-on bias, per sample.

MuJoCo's gyro and accelerometer sensors are exact (MJCF ``noise=`` is stored but not applied), so
the noise is added here, with the continuous-time model of IEEE Std 952 as Kalibr documents it:
a sample at rate ``f`` carries white noise of standard deviation ``density * sqrt(f)``, plus a bias
that starts at a random turn-on value and then walks, ``b(t + dt) = b(t) + walk * sqrt(dt) * N(0, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lnn_control.errors import ConfigError

__all__ = ["ImuNoise", "ImuNoiseProcess"]


@dataclass(frozen=True)
class ImuNoise:
    """Continuous-time noise parameters of a 6-axis IMU (gyro then accelerometer).

    The defaults are of the order of a small MEMS IMU such as the Bosch BMI088 on the Crazyflie 2.1
    (data sheet: gyro about 0.014 deg/s/sqrt(Hz), accelerometer about 175 ug/sqrt(Hz); turn-on
    offsets up to about 1 deg/s and 20 mg, of which a third is taken as the standard deviation).

    :param gyro_noise_density: gyro white noise, rad/s/sqrt(Hz).
    :param accel_noise_density: accelerometer white noise, m/s^2/sqrt(Hz).
    :param gyro_bias_walk: gyro bias random walk, rad/s^2/sqrt(Hz).
    :param accel_bias_walk: accelerometer bias random walk, m/s^3/sqrt(Hz).
    :param gyro_bias_std: standard deviation of the gyro's turn-on bias, rad/s.
    :param accel_bias_std: standard deviation of the accelerometer's turn-on bias, m/s^2.
    """

    gyro_noise_density: float = 2.4e-4
    accel_noise_density: float = 1.7e-3
    gyro_bias_walk: float = 4.0e-5
    accel_bias_walk: float = 6.0e-4
    gyro_bias_std: float = 6.0e-3
    accel_bias_std: float = 6.0e-2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not (np.isfinite(value) and value >= 0):
                raise ConfigError(f"{field.name} must be a finite number >= 0, got {value!r}")


class ImuNoiseProcess:
    """Draws the additive noise of one IMU (or a batch of IMUs) at given sample stamps.

    :param noise: the noise parameters.
    :param rate_hz: the IMU's output rate, Hz (sets the white noise's per-sample standard deviation);
        a number, or a ``batch_shape`` array (one rate per IMU).
    :param rng: the episode's random generator.
    :param batch_shape: leading shape for a batch of independent IMUs, ``()`` for one.
    """

    def __init__(
        self,
        noise: ImuNoise,
        rate_hz: float | np.ndarray,
        rng: np.random.Generator,
        batch_shape: tuple[int, ...] = (),
    ) -> None:
        self._rng = rng
        self._white_std = np.repeat(
            [noise.gyro_noise_density, noise.accel_noise_density], 3
        ) * np.sqrt(np.asarray(rate_hz, dtype=float))[..., None]
        self._walk = np.repeat([noise.gyro_bias_walk, noise.accel_bias_walk], 3)
        turn_on = np.repeat([noise.gyro_bias_std, noise.accel_bias_std], 3)
        self.bias = rng.standard_normal((*batch_shape, 6)) * turn_on
        self._last_ns = np.zeros(batch_shape, dtype=np.int64)

    def sample(self, stamps_ns: np.ndarray) -> np.ndarray:
        """Noise at ``stamps_ns`` (``(*batch_shape, n)`` int64 ns, increasing, after earlier calls').

        :return: ``(*batch_shape, n, 6)`` float64: gyro noise rad/s, then accelerometer m/s^2.
        """
        previous = np.concatenate([self._last_ns[..., None], stamps_ns[..., :-1]], axis=-1)
        dt_s = (stamps_ns - previous) * 1e-9
        shape = (*stamps_ns.shape, 6)
        steps = self._rng.standard_normal(shape) * self._walk * np.sqrt(dt_s)[..., None]
        bias = self.bias[..., None, :] + np.cumsum(steps, axis=-2)
        self.bias = bias[..., -1, :]
        self._last_ns = stamps_ns[..., -1].copy()
        return bias + self._rng.standard_normal(shape) * self._white_std[..., None, :]
