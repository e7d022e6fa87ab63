"""ONNX (onnxruntime) and AOTInductor outputs of every cell's step equal eager outputs within 1e-5."""

import numpy as np
import pytest
import torch
from liquid_cells import CELLS, TOL, step_inputs

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.policy.engines.compiled_step import CompiledStep, compile_step
from lnn_control.policy.engines.export import export_onnx
from lnn_control.policy.engines.onnx_step import OnnxStep


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
