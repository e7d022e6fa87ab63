"""Compile the fused kernels' inner loops with TorchScript, once, on first use.

The loops of :mod:`.ltc_scan` and :mod:`.cfc_scan` issue thousands of tiny tensor operations per
sequence; the TorchScript interpreter calls them about twice as fast as Python does. The loops are
plain, TorchScript-compatible Python functions: if scripting is unavailable (``torch.jit`` is
deprecated in recent PyTorch) or fails, the same function runs as Python, only slower.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["scripted"]

_COMPILED: dict[Callable[..., Any], Callable[..., Any]] = {}


def scripted(function: Callable[..., Any]) -> Callable[..., Any]:
    """``torch.jit.script(function)``, cached; ``function`` itself if it cannot be scripted."""
    compiled = _COMPILED.get(function)
    if compiled is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                compiled = torch.jit.script(function)
        except Exception as error:  # any scripting failure: fall back to the same code in Python
            warnings.warn(
                f"TorchScript could not compile {function.__name__} ({error}); running it as "
                "Python, which is slower but gives the same results",
                RuntimeWarning,
                stacklevel=2,
            )
            compiled = function
        _COMPILED[function] = compiled
    return compiled
