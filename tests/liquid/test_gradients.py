"""Gradients checked against finite differences (``torch.autograd.gradcheck``, float64).

For the sequence modules this checks the hand-written backward passes of the fused LTC and CfC
kernels, with a different time step for every sample and step and episode resets.
"""

import pytest
import torch
from torch.func import functional_call

from lnn_control.liquid import (
    CfC,
    CfCCell,
    LTC,
    LTCCell,
    AutoNCP,
    LiquidSequence,
    MixedMemoryCell,
    WiredCfCCell,
)

INPUTS, BATCH, STEPS = 3, 2, 4

CELLS = {
    "ltc-implicit": lambda: LTCCell(AutoNCP(7, 2, seed=1), INPUTS, implicit_param_constraints=True),
    "ltc-explicit": lambda: LTCCell(AutoNCP(7, 2, seed=1), INPUTS, ode_unfolds=3),
    "cfc-backbone": lambda: CfCCell(INPUTS, 4, backbone_units=5),
    "cfc-pure": lambda: CfCCell(INPUTS, 4, "pure", backbone_layers=0),
    "cfc-no-gate": lambda: CfCCell(INPUTS, 4, "no_gate", backbone_layers=0),
    "wired-cfc": lambda: WiredCfCCell(INPUTS, AutoNCP(7, 2, seed=1)),
    "wired-cfc-recurrence": lambda: WiredCfCCell(INPUTS, AutoNCP(7, 2, seed=1), "no_gate", True),
    "mixed-ltc": lambda: MixedMemoryCell(LTCCell(AutoNCP(7, 2, seed=1), INPUTS)),
}

SEQUENCES = {
    "LTC": lambda: LTC(INPUTS, AutoNCP(7, 2, seed=1)),
    "LTC-explicit": lambda: LTC(INPUTS, AutoNCP(7, 2, seed=1), implicit_param_constraints=False),
    "CfC-wired-default": lambda: CfC(INPUTS, AutoNCP(7, 2, seed=1)),
    "CfC-wired-pure": lambda: CfC(INPUTS, AutoNCP(7, 2, seed=1), mode="pure"),
    "CfC-dense-no-gate": lambda: CfC(INPUTS, 4, mode="no_gate", backbone_layers=0),
    "CfC-backbone-mixed": lambda: CfC(INPUTS, 4, backbone_units=5, mixed_memory=True),
}


def check(module, inputs):
    """gradcheck with respect to the tensor inputs and every parameter at once."""
    module = module.double()
    names = [name for name, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in module.named_parameters()]
    count = len(inputs)

    def function(*args):
        return functional_call(module, dict(zip(names, args[count:])), args[:count])

    assert torch.autograd.gradcheck(function, (*inputs, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
def test_cell_gradients(name):
    torch.manual_seed(0)
    cell = CELLS[name]()
    x = torch.randn(BATCH, INPUTS, dtype=torch.float64, requires_grad=True)
    h = (torch.randn(BATCH, cell.state_size, dtype=torch.float64) * 0.3).requires_grad_()
    dt = torch.rand(BATCH, 1, dtype=torch.float64) + 0.1
    check(cell, (x, h, dt))


@pytest.mark.parametrize("name", SEQUENCES)
def test_sequence_gradients_through_the_fused_kernels(name):
    torch.manual_seed(0)
    sequence = SEQUENCES[name]()
    x = torch.randn(BATCH, STEPS, INPUTS, dtype=torch.float64, requires_grad=True)
    h0 = (torch.randn(BATCH, sequence.state_size, dtype=torch.float64) * 0.3).requires_grad_()
    dt = torch.rand(BATCH, STEPS, dtype=torch.float64) + 0.1
    reset = torch.tensor([[False, False, True, False], [False, True, False, False]])
    check(sequence, (x, h0, dt, reset))


def test_fused_and_step_by_step_gradients_agree():
    """The fused kernels' gradients equal autograd through the plain step loop."""
    for make in (SEQUENCES["LTC"], SEQUENCES["CfC-wired-default"]):
        torch.manual_seed(0)
        sequence: LiquidSequence = make().double()
        x = torch.randn(BATCH, 6, INPUTS, dtype=torch.float64)
        dt = torch.rand(BATCH, 6, 1, dtype=torch.float64)
        cell = sequence.cell
        grads = []
        for scan in (cell.scan, cell._scan_steps):
            sequence.zero_grad()
            prep = cell.prepare()
            states = scan(cell.input_terms(x, prep), x.new_zeros(BATCH, cell.state_size), dt,
                          None, prep)
            (cell.output(states, prep) ** 2).sum().backward()
            grads.append([p.grad.clone() for p in sequence.parameters()])
        for fused, looped in zip(*grads):
            torch.testing.assert_close(fused, looped, atol=1e-12, rtol=1e-9)
