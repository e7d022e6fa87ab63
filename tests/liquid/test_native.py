"""The native engine: the exported step as generated C matches onnxruntime (an independent
implementation of the same graph) and eager PyTorch, for every core the policies can have."""

import copy
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from lnn_control.config import config_from_dict, merge, read_yaml
from lnn_control.errors import ConfigError
from lnn_control.liquid.export import OnnxStep
from lnn_control.liquid.native import NativeStep
from lnn_control.policy import LiquidPolicy, PolicyConfig
from lnn_control.policy.export import export_policy_onnx

MODELS = Path(__file__).resolve().parents[2] / "config" / "models"

#: overrides of config/models/quad_hover_cfc.yaml (odometry + goal in, 4 commands out)
CORES = {
    "cfc_ncp": {},
    "cfc_ncp_pure": {"core": {"mode": "pure"}},
    "cfc_ncp_no_gate": {"core": {"mode": "no_gate"}},
    "cfc_ncp_mixed_memory": {"core": {"mixed_memory": True}},
    "cfc_dense_backbone": {"core": {"wiring": None, "units": 16, "backbone_units": 32, "backbone_layers": 1}},
    "ltc_ncp": {"core": {"type": "ltc"}},
    "ltc_dense": {"core": {"type": "ltc", "wiring": None, "units": 12}},
    "lstm": {"core": {"type": "lstm", "wiring": None, "units": 20}},
    "gru": {"core": {"type": "gru", "wiring": None, "units": 25}},
    "mlp": {"core": {"type": "mlp", "wiring": None, "units": 24, "frames": 4}},
}


@pytest.mark.parametrize("core", sorted(CORES))
def test_native_step_matches_onnxruntime_and_torch_over_a_sequence(tmp_path, core):
    """30 steps with varied dt, each engine fed its own state: commands and states agree to
    float32 rounding."""
    torch.manual_seed(3)
    config = config_from_dict(PolicyConfig, merge(copy.deepcopy(read_yaml(MODELS / "quad_hover_cfc.yaml")),
                                                  CORES[core]))
    policy = LiquidPolicy(config).eval()
    path = export_policy_onnx(policy, tmp_path / "step.onnx")
    native, reference, step = NativeStep(path, tmp_path), OnnxStep(path), policy.step_module()
    rng = np.random.default_rng(0)
    h_native = h_reference = h_torch = np.zeros((1, step.state_size), np.float32)
    moved = 0.0
    for dt in rng.uniform(0.002, 0.03, 30):
        x = rng.normal(0.0, 1.0, (1, step.input_size)).astype(np.float32)
        y_native, h_native = native(x, h_native, float(dt))
        y_reference, h_reference = reference(x, h_reference, np.full((1, 1), dt, np.float32))
        with torch.inference_mode():
            y_torch, h_torch_t = step(torch.from_numpy(x), torch.from_numpy(h_torch), torch.full((1, 1), float(dt)))
        h_torch = h_torch_t.numpy()
        np.testing.assert_allclose(y_native, y_reference, atol=1e-5, rtol=0)
        np.testing.assert_allclose(h_native, h_reference, atol=1e-5, rtol=0)
        np.testing.assert_allclose(y_native, y_torch.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(h_native, h_torch, atol=1e-5, rtol=0)
        moved = max(moved, float(np.abs(h_native).max()))
    assert moved > 1e-2  # the state really evolved: the comparison is not between zeros


def _graph_with(op: str) -> onnx.ModelProto:
    """A step-shaped graph (x, h, dt -> y, h_new) using ``op``."""
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, s]) for n, s in (("x", 3), ("h", 2), ("dt", 1))]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2]) for n in ("y", "h_new")]
    nodes = [helper.make_node(op, ["h"], ["y"]), helper.make_node("Identity", ["h"], ["h_new"])]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                             opset_imports=[helper.make_opsetid("", 18)])


def test_an_unsupported_operator_is_refused_by_name(tmp_path):
    onnx.save(_graph_with("Cos"), tmp_path / "step.onnx")
    with pytest.raises(ConfigError, match="operator 'Cos'.*use the onnx engine"):
        NativeStep(tmp_path / "step.onnx", tmp_path)


def test_a_small_graph_is_computed_exactly(tmp_path):
    onnx.save(_graph_with("Tanh"), tmp_path / "step.onnx")
    h = np.array([[0.5, -2.0]], np.float32)
    y, h_new = NativeStep(tmp_path / "step.onnx", tmp_path)(np.zeros((1, 3), np.float32), h, 0.01)
    np.testing.assert_allclose(y, np.tanh(h), rtol=1e-6)
    np.testing.assert_array_equal(h_new, h)


def test_without_a_c_compiler_the_error_says_what_to_install(tmp_path, monkeypatch):
    onnx.save(_graph_with("Tanh"), tmp_path / "step.onnx")
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(ConfigError, match="needs a C compiler.*onnx engine"):
        NativeStep(tmp_path / "step.onnx", tmp_path)
