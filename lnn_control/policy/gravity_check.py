"""Does an IMU stream's linear acceleration look like m/s^2? A check on its first messages.

REP 145 says ``sensor_msgs/Imu`` carries linear acceleration in m/s^2, but some drivers publish it
in g. A policy trained on m/s^2 then reads every acceleration 9.81 times too small, with no error
anywhere: the values are finite and plausible-looking. An accelerometer measures the specific
force, whose norm is g whenever the robot is not accelerating (at rest, in hover, at cruise):
9.81 in m/s^2, 1 in g. :class:`GravityCheck` averages that norm over a stream's first messages
and decides once; a mean between :data:`G_UNITS` (0.5 and 2) means g. With a ``scale`` already set
(``streams.<name>.scale`` of the parameter file), a mean near 9.81^2 means the driver published
m/s^2 and the values were scaled twice.

It costs a few float operations per message and nothing once decided (Python floats, no numpy:
it sits on the latency-critical IMU path of the policy node).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

from lnn_control.errors import ConfigError

__all__ = ["G_UNITS", "GRAVITY_CHECK_MESSAGES", "STANDARD_GRAVITY", "GravityCheck"]

#: standard gravity, m/s^2 (one g)
STANDARD_GRAVITY = 9.80665
#: a mean acceleration norm in this range looks like g, not m/s^2
G_UNITS = (0.5, 2.0)
#: messages averaged before deciding (0.25 s of a 200 Hz IMU)
GRAVITY_CHECK_MESSAGES = 50


class GravityCheck:
    """Decides once, from an IMU stream's first messages, whether its linear acceleration looks
    like g (or like m/s^2 scaled twice) instead of m/s^2, and says so once.

    Feed it every value the stream's reader gives (:meth:`observe`); the call that completes
    ``messages`` finite values returns the warning, if any; every other call returns ``None``.
    :meth:`finish` decides early on what it has seen (the end of a short bag).

    :param stream: the stream's name (``streams.<name>`` of the parameter file).
    :param scale: the ``streams.<name>.scale`` already applied to the values.
    :param messages: finite values averaged before deciding.
    """

    def __init__(self, stream: str, scale: float = 1.0, messages: int = GRAVITY_CHECK_MESSAGES) -> None:
        if messages < 1:
            raise ConfigError(f"GravityCheck needs messages >= 1, got {messages}")
        if not 0.0 < scale < math.inf:
            raise ConfigError(f"GravityCheck needs a finite scale > 0, got {scale}")
        self.stream = stream
        self.scale = scale
        self.messages = messages
        #: the check has decided (it then ignores further values)
        self.decided = False
        #: the mean norm of the linear acceleration it decided on, m/s^2 (after ``scale``)
        self.mean_norm: Optional[float] = None
        #: the warning it gave, or ``None``
        self.warning: Optional[str] = None
        self._sum = 0.0
        self._count = 0

    def observe(self, value: Sequence[float]) -> Optional[str]:
        """Take one IMU value.

        :param value: ``[wx, wy, wz, ax, ay, az]``: body rates rad/s, linear acceleration m/s^2
            (as the stream reader gives it, ``scale`` applied). Non-finite values are skipped
            (the runtime rejects them).
        :return: the warning text at the call that decides, if the units look wrong; else ``None``.
        """
        if self.decided:
            return None
        ax, ay, az = value[3], value[4], value[5]
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        if not norm < math.inf:  # NaN or inf
            return None
        self._sum += norm
        self._count += 1
        if self._count < self.messages:
            return None
        return self.finish()

    def finish(self) -> Optional[str]:
        """Decide now on the values seen so far (none: nothing to say).

        :return: the warning text if this call decided and the units look wrong; else ``None``.
        """
        if self.decided or self._count == 0:
            return None
        self.decided = True
        mean = self.mean_norm = self._sum / self._count
        scaled = f" (after streams.{self.stream}.scale {self.scale:g})" if self.scale != 1.0 else ""
        seen = (f"stream {self.stream!r}: the IMU's linear acceleration has a mean norm of "
                f"{mean:.3g} over its first {self._count} messages{scaled}")
        if G_UNITS[0] <= mean <= G_UNITS[1]:
            self.warning = (
                f"{seen}, near 1 where gravity alone gives {STANDARD_GRAVITY:.2f} m/s^2: it looks "
                f"like g, not m/s^2 (REP 145), and the policy would read every acceleration "
                f"{STANDARD_GRAVITY:.2f} times too small. If the driver publishes g, set "
                f"streams.{self.stream}.scale: {self.scale * STANDARD_GRAVITY:.6g} in the "
                f"parameter file"
            )
        elif self.scale != 1.0 and G_UNITS[0] <= mean / STANDARD_GRAVITY**2 <= G_UNITS[1]:
            fixed = self.scale / STANDARD_GRAVITY
            fix = (f"remove streams.{self.stream}.scale" if abs(fixed - 1.0) < 1e-3
                   else f"set streams.{self.stream}.scale: {fixed:.6g}")
            self.warning = (
                f"{seen}, near {STANDARD_GRAVITY:.2f}^2: the driver already publishes m/s^2 and "
                f"the scale converts it a second time, so the policy would read every "
                f"acceleration {STANDARD_GRAVITY:.2f} times too large. {fix[0].upper()}{fix[1:]} "
                f"in the parameter file"
            )
        return self.warning
