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
from lnn_control.policy import LiquidPolicy, PolicyConfig
from lnn_control.policy.engines.export import export_policy_onnx
from lnn_control.policy.engines.native_step import NativeStep
from lnn_control.policy.engines.onnx_step import OnnxStep

MODELS = Path(__file__).resolve().parents[3] / "config" / "models"

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
    """30 steps with varied dt, the native engine keeping its own state and the others fed
    theirs: commands and states agree to float32 rounding."""
    torch.manual_seed(3)
    config = config_from_dict(PolicyConfig, merge(copy.deepcopy(read_yaml(MODELS / "quad_hover_cfc.yaml")),
                                                  CORES[core]))
    policy = LiquidPolicy(config).eval()
    path = export_policy_onnx(policy, tmp_path / "step.onnx")
    native, reference, step = NativeStep(path, tmp_path), OnnxStep(path), policy.step_module()
    rng = np.random.default_rng(0)
    h_reference = h_torch = np.zeros((1, step.state_size), np.float32)
    moved = 0.0
    for dt in rng.uniform(0.002, 0.03, 30):
        x = rng.normal(0.0, 1.0, (1, step.input_size)).astype(np.float32)
        native.write(0, x[0].tolist())
        y_native, h_native = native.advance(float(dt)), native.state
        y_reference, h_reference = reference(x, h_reference, np.full((1, 1), dt, np.float32))
        with torch.inference_mode():
            y_torch, h_torch_t = step(torch.from_numpy(x), torch.from_numpy(h_torch), torch.full((1, 1), float(dt)))
        h_torch = h_torch_t.numpy()
        np.testing.assert_allclose(y_native, y_reference[0], atol=1e-5, rtol=0)
        np.testing.assert_allclose(h_native, h_reference[0], atol=1e-5, rtol=0)
        np.testing.assert_allclose(y_native, y_torch[0].numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(h_native, h_torch[0], atol=1e-5, rtol=0)
        moved = max(moved, float(np.abs(h_native).max()))
    assert moved > 1e-2  # the state really evolved: the comparison is not between zeros


def _graph_with(op: str) -> onnx.ModelProto:
    """A step-shaped graph (x, h, dt -> y, h_new) with ``y = op(x)`` and ``h_new = h + x``."""
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, s]) for n, s in (("x", 2), ("h", 2), ("dt", 1))]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2]) for n in ("y", "h_new")]
    nodes = [helper.make_node(op, ["x"], ["y"]), helper.make_node("Add", ["h", "x"], ["h_new"])]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, outputs),
                             opset_imports=[helper.make_opsetid("", 18)])


def test_an_unsupported_operator_is_refused_by_name(tmp_path):
    onnx.save(_graph_with("Cos"), tmp_path / "step.onnx")
    with pytest.raises(ConfigError, match="operator 'Cos'.*use the onnx engine"):
        NativeStep(tmp_path / "step.onnx", tmp_path)


def test_a_small_graph_is_computed_exactly_and_keeps_its_state(tmp_path):
    onnx.save(_graph_with("Tanh"), tmp_path / "step.onnx")
    native = NativeStep(tmp_path / "step.onnx", tmp_path)
    native.write(0, [0.5, -2.0])
    np.testing.assert_allclose(native.advance(0.01), np.tanh([0.5, -2.0]), rtol=1e-6)
    native.write(1, [3.0])
    np.testing.assert_allclose(native.advance(0.01), np.tanh([0.5, 3.0]), rtol=1e-6)
    np.testing.assert_array_equal(native.state, [1.0, 1.0])  # h = x1 + x2
    native.zero_state()
    assert not native.state.any()
    native.clear()
    assert native.advance(0.01) == [0.0, 0.0] and not native.state.any()


def test_a_non_finite_output_leaves_the_state_as_it_was(tmp_path):
    onnx.save(_graph_with("Log"), tmp_path / "step.onnx")
    native = NativeStep(tmp_path / "step.onnx", tmp_path)
    native.write(0, [1.0, 2.0])
    np.testing.assert_allclose(native.advance(0.01), np.log([1.0, 2.0]), rtol=1e-6)
    native.write(0, [-1.0, 2.0])  # log(-1): NaN
    assert native.advance(0.01) is None
    np.testing.assert_array_equal(native.state, [1.0, 2.0])
    native.write(0, [1.0, float("inf")])  # log(inf) = inf; h_new too
    assert native.advance(0.01) is None
    np.testing.assert_array_equal(native.state, [1.0, 2.0])


def test_without_a_c_compiler_the_error_says_what_to_install(tmp_path, monkeypatch):
    onnx.save(_graph_with("Tanh"), tmp_path / "step.onnx")
    monkeypatch.setenv("CC", "no-such-compiler")
    with pytest.raises(ConfigError, match="needs a C compiler.*onnx engine"):
        NativeStep(tmp_path / "step.onnx", tmp_path)
