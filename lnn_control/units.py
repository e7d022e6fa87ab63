"""Time units, defined once for every layer (imports nothing).

Stamps are integer nanoseconds; durations in the API are seconds (float). Convert with:

- ``stamp_ns * NS`` -> seconds (float);  ``seconds / NS`` -> nanoseconds (float);
- ``round(seconds * NS_PER_S)`` -> whole nanoseconds (int);  ``NS_PER_S / rate_hz`` -> a period, ns.

The two are not interchangeable in the last bit (``x * 1e-9`` and ``x / 1_000_000_000`` may
differ), so each computation keeps the one it was written with.
"""

from __future__ import annotations

__all__ = ["NS", "NS_PER_S"]

#: nanoseconds in one second (int, exact)
NS_PER_S = 1_000_000_000
#: one nanosecond in seconds (float): ``stamp_ns * NS`` is seconds
NS = 1e-9
