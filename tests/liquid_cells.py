"""One small instance of every liquid cell kind, shared by the tests that run them all (the
TorchScript tests in tests/liquid, the ONNX and AOTInductor tests in tests/policy/engines)."""

import torch

from lnn_control.liquid import (
    AutoNCP,
    CfCCell,
    FullyConnected,
    LTCCell,
    MixedMemoryCell,
    WiredCfCCell,
)

INPUTS = 5
#: outputs of a scripted, exported or compiled step against eager ones
TOL = {"atol": 1e-5, "rtol": 0.0}

CELLS = {
    "ltc": lambda: LTCCell(AutoNCP(12, 3), INPUTS),
    "ltc-linear-none": lambda: LTCCell(FullyConnected(6, 2), INPUTS, "linear", "none", 3),
    "cfc-backbone": lambda: CfCCell(INPUTS, 8, backbone_layers=2, backbone_units=6),
    "cfc-pure": lambda: CfCCell(INPUTS, 8, "pure"),
    "cfc-no-gate": lambda: CfCCell(INPUTS, 8, "no_gate", backbone_layers=0),
    "wired-cfc": lambda: WiredCfCCell(INPUTS, AutoNCP(12, 3)),
    "wired-cfc-recurrence": lambda: WiredCfCCell(INPUTS, AutoNCP(12, 3), "pure", True),
    "mixed-ltc": lambda: MixedMemoryCell(LTCCell(AutoNCP(12, 3), INPUTS)),
    "mixed-cfc": lambda: MixedMemoryCell(WiredCfCCell(INPUTS, AutoNCP(12, 3))),
}


def step_inputs(cell, batch):
    """Random ``x (batch, INPUTS)``, ``h (batch, S)`` and ``dt (batch, 1)`` in [0.01, 0.51) s."""
    return (torch.randn(batch, INPUTS), torch.randn(batch, cell.state_size) * 0.3,
            torch.rand(batch, 1) * 0.5 + 0.01)
