"""TorchScript, ONNX (onnxruntime) and AOTInductor outputs equal eager outputs within 1e-5."""

import io
import warnings

import numpy as np
import pytest
import torch

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.liquid import (
    CfC,
    CfCCell,
    LTC,
    LTCCell,
    AutoNCP,
    FullyConnected,
    LiquidSequence,
    MixedMemoryCell,
    WiredCfCCell,
)
from lnn_control.liquid.export import CompiledStep, OnnxStep, compile_step, export_onnx

INPUTS = 5
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


def step_inputs(cell, batch):
    return (torch.randn(batch, INPUTS), torch.randn(batch, cell.state_size) * 0.3,
            torch.rand(batch, 1) * 0.5 + 0.01)


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


@pytest.mark.parametrize("name", CELLS)
def test_onnx_step_matches_eager_in_onnxruntime(name, tmp_path):
    torch.manual_seed(2)
    cell = CELLS[name]().eval()
    step = OnnxStep(export_onnx(cell, tmp_path / "step.onnx"))
    for batch in (1, 4):  # the batch size is dynamic
        x, h, dt = step_inputs(cell, batch)
        with torch.no_grad():
            y, h_new = cell(x, h, dt)
        got = step(x.numpy(), h.numpy(), dt.numpy())
        np.testing.assert_allclose(got[0], y.numpy(), **TOL)
        np.testing.assert_allclose(got[1], h_new.numpy(), **TOL)


@pytest.mark.parametrize("name", ["ltc", "wired-cfc"])
def test_compiled_step_matches_eager(name, tmp_path):
    torch.manual_seed(3)
    cell = CELLS[name]().eval()
    compiled = compile_step(cell, tmp_path / "step.pt2")
    again = CompiledStep(tmp_path / "step.pt2")  # loading needs no compiler
    x, h, dt = step_inputs(cell, 1)
    with torch.no_grad():
        y, h_new = cell(x, h, dt)
    for runner in (compiled, again):
        got = runner(x, h, dt)
        torch.testing.assert_close(got[0], y, **TOL)
        torch.testing.assert_close(got[1], h_new, **TOL)
    with pytest.raises(ShapeError, match="compile again for another batch size"):
        compiled(*step_inputs(cell, 2))


def test_export_paths_are_checked(tmp_path):
    cell = CELLS["ltc"]()
    with pytest.raises(ConfigError, match="must end in .onnx"):
        export_onnx(cell, tmp_path / "step.bin")
    with pytest.raises(ConfigError, match="must end in .pt2"):
        compile_step(cell, tmp_path / "step.onnx")
