"""Every cell and sequence module passes ``torch.jit.script`` as it is; the scripted outputs
equal eager outputs within 1e-5."""

import io
import warnings

import pytest
import torch
from liquid_cells import CELLS, INPUTS, TOL, step_inputs

from lnn_control.liquid import LTC, AutoNCP, CfC, LiquidSequence

SEQUENCES = {
    "LTC": lambda: LTC(INPUTS, AutoNCP(12, 3)),
    "LTC-mixed": lambda: LTC(INPUTS, AutoNCP(12, 3), mixed_memory=True),
    "CfC-wired": lambda: CfC(INPUTS, AutoNCP(12, 3), mode="no_gate"),
    "CfC-dense-proj": lambda: CfC(INPUTS, 8, proj_size=2, backbone_layers=2),
    "CfC-mixed": lambda: CfC(INPUTS, 8, mixed_memory=True, mode="pure"),
}


@pytest.fixture(autouse=True)
def _torch_jit_is_deprecated():
    """torch.jit is deprecated in torch 2.13 but still the TorchScript path the issue asks for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
        yield


def script(module):
    return torch.jit.script(module)


@pytest.mark.parametrize("name", CELLS)
def test_scripted_cell_matches_eager(name):
    torch.manual_seed(0)
    cell = CELLS[name]().eval()
    scripted = script(cell)
    x, h, dt = step_inputs(cell, 3)
    with torch.no_grad():
        for time_step in (dt, 0.2):
            expected, got = cell(x, h, time_step), scripted(x, h, time_step)
            torch.testing.assert_close(got[0], expected[0], **TOL)
            torch.testing.assert_close(got[1], expected[1], **TOL)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, h, dt)[1], cell(x, h, dt)[1], **TOL)


@pytest.mark.parametrize("name", SEQUENCES)
def test_scripted_sequence_matches_eager(name):
    """The scripted module runs the step loop; eager runs the fused kernels."""
    torch.manual_seed(1)
    sequence: LiquidSequence = SEQUENCES[name]().eval()
    scripted = script(sequence)
    x = torch.randn(3, 20, INPUTS)
    dt = torch.rand(3, 20) * 0.5
    reset = torch.rand(3, 20) > 0.8
    with torch.no_grad():
        expected, got = sequence(x, None, dt, reset), scripted(x, None, dt, reset)
    torch.testing.assert_close(got[0], expected[0], **TOL)
    torch.testing.assert_close(got[1], expected[1], **TOL)
