"""The liquid core: LTC and CfC cells with NCP wiring that integrate over real elapsed time.

torch and numpy only. Cells step ``(x, h, dt) -> (y, h_new)``; sequence modules run
``(B, T, F)`` inputs with a time step per sample and step. Numerically as ncps 1.0.1 (see
:func:`from_ncps`), TorchScript-able; a cell's step as a module of its own is
:class:`~lnn_control.liquid.cell_step.CellStep` (its exported forms, ONNX and AOTInductor:
:mod:`lnn_control.policy.engines`).
"""

from lnn_control.liquid.base import LiquidCell
from lnn_control.liquid.cfc import CfCCell, WiredCfCCell
from lnn_control.liquid.ltc import LTCCell
from lnn_control.liquid.mixed import MixedMemoryCell
from lnn_control.liquid.sequence import CfC, LTC, LiquidSequence
from lnn_control.liquid.wiring import NCP, AutoNCP, FullyConnected, Random, Wiring, wiring_from_config

__all__ = [
    "NCP",
    "AutoNCP",
    "CfC",
    "CfCCell",
    "FullyConnected",
    "LTC",
    "LTCCell",
    "LiquidCell",
    "LiquidSequence",
    "MixedMemoryCell",
    "Random",
    "WiredCfCCell",
    "Wiring",
    "wiring_from_config",
]
