"""The ``native`` engine: an exported step as native code, the ONNX graph written out as
straight-line C, compiled with the system C compiler and called through ctypes.

Why: a step of a small NCP is a few thousand multiply-adds, yet onnxruntime takes ~20 us for it,
nearly all of it dispatching its ~60 nodes, and several times that on a core that has just woken
from sleep (its code and buffers are no longer in cache). The generated function does only the
arithmetic: about a microsecond, and a footprint of a few tens of kB.

How, for batch size 1 (every shape fixed):

- one run of onnx's reference evaluator on zero inputs gives every value's shape and dtype;
- nodes whose inputs are all constant (weights, shape arithmetic) are folded to their values;
- data-movement nodes (``Slice``, ``Split``, ``Concat``, ``Transpose``, ``Gather``,
  ``Reshape``, ...) become index tables, found by running the node on index arrays in place of
  its data; ``ScatterND`` (``index_put``, with or without accumulation) a copy and an indexed
  update;
- elementwise nodes (with ONNX broadcasting), ``Gemm`` and 2-D ``MatMul`` become loops.

Any other operator, or a non-float value computed at run time, is refused with a
:class:`~lnn_control.errors.ConfigError` that names it. Outputs match onnxruntime within
float32 rounding (the sums run in another order; ``tanhf``/``expf`` are the C library's).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.engines.export import (
    INPUT_NAMES,
    OUTPUT_NAMES,
    check_policy_onnx,
    export_policy_onnx,
)
from lnn_control.policy.model import PolicyStep

__all__ = ["NativeStep", "generate_c", "native_engine"]

#: elementwise operators as C expressions of their inputs (ONNX broadcasting)
ELEMENTWISE = {
    "Add": "{0} + {1}",
    "Sub": "{0} - {1}",
    "Mul": "{0} * {1}",
    "Div": "{0} / {1}",
    "Neg": "-{0}",
    "Abs": "fabsf({0})",
    "Exp": "expf({0})",
    "Log": "logf({0})",
    "Sqrt": "sqrtf({0})",
    "Reciprocal": "1.0f / {0}",
    "Tanh": "tanhf({0})",
    "Sigmoid": "1.0f / (1.0f + expf(-{0}))",
    "Relu": "fmaxf({0}, 0.0f)",
    "Max": "fmaxf({0}, {1})",  # two inputs (the variadic form is refused below)
    "Min": "fminf({0}, {1})",
    "Less": "{0} < {1}",
    "Greater": "{0} > {1}",
    "Where": "{0} ? {1} : {2}",
}
#: data-movement operators -> which of their inputs are data (the others are parameters)
MOVEMENT = {
    "Slice": (0,), "Split": (0,), "Transpose": (0,), "Reshape": (0,), "Squeeze": (0,),
    "Unsqueeze": (0,), "Flatten": (0,), "Expand": (0,), "Identity": (0,), "Gather": (0,),
    "Concat": None,  # None: every input
}
#: ScatterND's reductions as C assignments
SCATTER = {"none": "=", "add": "+=", "mul": "*="}
C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.bool_): "unsigned char"}
FUNCTION = "lnn_step"
#: the stateful step: 1 if every output is finite (then h_new becomes h), else 0 (h is kept)
ADVANCE = f"""
static int all_finite(const float *values, int count) {{
    for (int i = 0; i < count; i++) if (!isfinite(values[i])) return 0;
    return 1;
}}

int lnn_advance(void) {{
    {FUNCTION}();
    if (!all_finite(out_0, sizeof(out_0) / sizeof(float)) || !all_finite(out_1, sizeof(out_1) / sizeof(float))) return 0;
    memcpy(in_1, out_1, sizeof(in_1));
    return 1;
}}
"""


def generate_c(model: Any, inputs: list[str], outputs: list[str]) -> str:
    """C source of ``void lnn_step(void)`` computing ``model`` (an ``onnx.ModelProto``) at
    batch size 1 from the global arrays ``float in_0[], in_1[], ...`` into ``out_0[], ...``
    (a call without arguments: ctypes converts none).

    :param inputs: the graph's input names (float32), in the order of ``in_k``.
    :param outputs: the output names, in the order of ``out_k``.
    """
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    shapes = {i.name: [d.dim_value if d.HasField("dim_value") else 1 for d in i.type.tensor_type.shape.dim]
              for i in graph.input}
    feeds = {name: np.zeros(shapes[name], dtype=np.float32) for name in inputs}
    with np.errstate(all="ignore"):  # only the shapes matter: log(0) is fine here
        values: dict[str, np.ndarray] = dict(ReferenceEvaluator(model).run(None, feeds, intermediate=True))
    constant = {init.name for init in graph.initializer}
    values.update({init.name: numpy_helper.to_array(init) for init in graph.initializer})
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    code = _Emitter(values, constant, opset)
    for position, name in enumerate(inputs):
        code.names[name] = f"in_{position}"
    for node in graph.node:
        if node.op_type in ("Shape", "Size") or all(not i or i in constant for i in node.input):
            constant.update(node.output)  # folded: its values are those of the run above
        else:
            code.node(node)
    body = [f"    memcpy(out_{k}, {code.ref(name)}, sizeof(out_{k}));" for k, name in enumerate(outputs)]
    buffers = ([f"float in_{k}[{feeds[name].size}];" for k, name in enumerate(inputs)]
               + [f"float out_{k}[{values[name].size}];" for k, name in enumerate(outputs)])
    return "\n".join([
        "#include <math.h>", "#include <string.h>", "", *buffers, *code.declarations, "",
        f"void {FUNCTION}(void) {{", *code.body, *body, "}", "",
    ])


class _Emitter:
    """Turns nodes into C declarations (buffers, constants, index tables) and statements."""

    def __init__(self, values: dict[str, np.ndarray], constant: set[str], opset: int) -> None:
        self.values, self.constant, self.opset = values, constant, opset
        self.names: dict[str, str] = {}
        self.declarations: list[str] = []
        self.body: list[str] = []

    def ref(self, name: str) -> str:
        """The C name of a value, declaring a constant's array on first use."""
        if name not in self.names:
            array = np.asarray(self.values[name])
            if name not in self.constant:
                raise ConfigError(f"native engine: value {name!r} is used before it is computed")
            c_name = self.names[name] = f"c_{len(self.names)}"
            self.declarations.append(f"static const {self._c_type(name, array)} {c_name}[{max(array.size, 1)}] = "
                                     f"{{{', '.join(_literal(v) for v in array.ravel())}}};")
        return self.names[name]

    def _buffer(self, name: str) -> str:
        array = np.asarray(self.values[name])
        c_name = self.names[name] = f"t_{len(self.names)}"
        self.declarations.append(f"static {self._c_type(name, array)} {c_name}[{max(array.size, 1)}];")
        return c_name

    @staticmethod
    def _c_type(name: str, array: np.ndarray) -> str:
        if array.dtype not in C_TYPES:
            raise ConfigError(f"native engine: value {name!r} is {array.dtype} at run time; only "
                              "float32 and bool are supported: use the onnx engine")
        return C_TYPES[array.dtype]

    def _table(self, indices: np.ndarray) -> str:
        """An index expression for output element ``i``: ``i``, ``0`` or a table lookup."""
        if indices.size and (indices == np.arange(indices.size)).all():
            return "i"
        if (indices == 0).all():
            return "0"
        name = f"x_{len(self.declarations)}"
        self.declarations.append(f"static const int {name}[{indices.size}] = {{{', '.join(map(str, indices))}}};")
        return f"{name}[i]"

    def node(self, node: Any) -> None:
        op = node.op_type
        if op in ELEMENTWISE:
            self._elementwise(node)
        elif op in MOVEMENT:
            self._movement(node)
        elif op in ("Gemm", "MatMul"):
            self._gemm(node)
        elif op == "ScatterND":
            self._scatter(node)
        else:
            raise ConfigError(f"native engine: operator {op!r} (node {node.name!r}) is not supported; "
                              "use the onnx engine")

    def _elementwise(self, node: Any) -> None:
        if node.op_type in ("Max", "Min") and len(node.input) != 2:
            raise ConfigError(f"native engine: {node.op_type} node {node.name!r} has {len(node.input)} "
                              "inputs, only 2 are supported; use the onnx engine")
        out = node.output[0]
        shape = np.shape(self.values[out])
        size = int(np.prod(shape))
        operands = []
        for name in node.input:
            array = np.asarray(self.values[name])
            index = np.broadcast_to(np.arange(array.size).reshape(array.shape), shape).ravel()
            operands.append(f"{self.ref(name)}[{self._table(index)}]")
        target = self._buffer(out)
        self.body.append(f"    for (int i = 0; i < {size}; i++) {target}[i] = "
                         f"{ELEMENTWISE[node.op_type].format(*operands)};")

    def _movement(self, node: Any) -> None:
        """Run the node on index arrays (input ``j``'s elements numbered after input
        ``j - 1``'s): each output element names the input element it is a copy of."""
        from onnx.reference import ReferenceEvaluator

        data = MOVEMENT[node.op_type]
        data = range(len(node.input)) if data is None else data
        feeds, sources, offset = {}, [], 0
        for j, name in enumerate(node.input):
            if not name:
                continue
            value = np.asarray(self.values[name])
            if j in data:
                feeds[name] = (np.arange(value.size, dtype=np.float64) + offset).reshape(value.shape)
                sources.append((offset, name))
                offset += value.size
            elif name in self.constant:
                feeds[name] = value
            else:
                raise ConfigError(f"native engine: {node.op_type} node {node.name!r} has a parameter "
                                  f"computed at run time ({name!r}); use the onnx engine")
        results = ReferenceEvaluator(node, opsets={"": self.opset}).run(None, feeds)
        for out, codes in zip(node.output, results):
            codes = np.asarray(codes).astype(np.int64).ravel()
            if codes.min(initial=0) < 0 or codes.max(initial=0) >= offset:
                raise ConfigError(f"native engine: {node.op_type} node {node.name!r} does not only move "
                                  "values; use the onnx engine")
            target = self._buffer(out)
            for start, name in sources:
                where = np.nonzero((codes >= start) & (codes < start + np.asarray(self.values[name]).size))[0]
                if where.size == 0:
                    continue
                source = self.ref(name)
                positions = self._table(where)
                self.body.append(f"    for (int i = 0; i < {where.size}; i++) "
                                 f"{target}[{positions}] = {source}[{self._table(codes[where] - start)}];")

    def _scatter(self, node: Any) -> None:
        """``out = data; out[indices] (op)= updates`` with constant ``indices``."""
        data, indices, updates = node.input
        if indices not in self.constant:
            raise ConfigError(f"native engine: ScatterND node {node.name!r} has indices computed at run "
                              "time; use the onnx engine")
        reduction = next((a.s.decode() for a in node.attribute if a.name == "reduction"), "none")
        if reduction not in SCATTER:
            raise ConfigError(f"native engine: ScatterND reduction {reduction!r} is not supported; "
                              "use the onnx engine")
        shape = np.shape(self.values[data])
        index = np.asarray(self.values[indices]).astype(np.int64)
        depth = index.shape[-1]
        index = index.reshape(-1, depth) % np.asarray(shape[:depth])  # negative indices count from the end
        width = int(np.prod(shape[depth:]))
        positions = (np.ravel_multi_index(index.T, shape[:depth])[:, None] * width + np.arange(width)).ravel()
        target = self._buffer(node.output[0])
        self.body.append(f"    memcpy({target}, {self.ref(data)}, sizeof({target}));")
        self.body.append(f"    for (int i = 0; i < {positions.size}; i++) {target}[{self._table(positions)}] "
                         f"{SCATTER[reduction]} {self.ref(updates)}[i];")

    def _gemm(self, node: Any) -> None:
        attributes = {a.name: (a.f if a.type == a.FLOAT else a.i) for a in node.attribute}
        a_name, b_name = node.input[0], node.input[1]
        a_shape, b_shape = np.shape(self.values[a_name]), np.shape(self.values[b_name])
        if len(a_shape) != 2 or len(b_shape) != 2:
            raise ConfigError(f"native engine: {node.op_type} node {node.name!r} is not 2-D; use the onnx engine")
        trans_a, trans_b = attributes.get("transA", 0), attributes.get("transB", 0)
        rows, inner = (a_shape[1], a_shape[0]) if trans_a else a_shape
        columns = b_shape[0] if trans_b else b_shape[1]
        a_at = f"{self.ref(a_name)}[{'k * %d + m' % rows if trans_a else 'm * %d + k' % inner}]"
        b_at = f"{self.ref(b_name)}[{'n * %d + k' % inner if trans_b else 'k * %d + n' % columns}]"
        alpha, beta = attributes.get("alpha", 1.0), attributes.get("beta", 1.0)
        bias = "0.0f"
        if len(node.input) > 2 and node.input[2]:
            c = np.asarray(self.values[node.input[2]])
            index = np.broadcast_to(np.arange(c.size).reshape(c.shape), (rows, columns)).ravel()
            bias = f"{_literal(beta)} * {self.ref(node.input[2])}[{self._table(index)}]"
        target = self._buffer(node.output[0])
        lines = [f"    for (int m = 0; m < {rows}; m++) for (int n = 0; n < {columns}; n++) {{",
                 f"        int i = m * {columns} + n; float sum = 0.0f;",
                 f"        for (int k = 0; k < {inner}; k++) sum += {a_at} * {b_at};",
                 f"        {target}[i] = {_literal(alpha)} * sum + {bias};", "    }"]
        self.body.extend(lines)


def _literal(value: Any) -> str:
    """A C literal of a float or bool, exact (hexadecimal floats)."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    number = float(np.float32(value))
    if np.isnan(number):
        return "NAN"
    if np.isinf(number):
        return "INFINITY" if number > 0 else "-INFINITY"
    return f"{number.hex()}f"


class NativeStep:
    """An exported step (``x``, ``h``, ``dt`` -> ``y``, ``h_new``) compiled to native code, for
    batch size 1, as a stateful :class:`~lnn_control.policy.engines.StepEngine`: the inputs
    and the state stay in the library's arrays, and a step checks its outputs for NaN and Inf
    and moves ``h_new`` into ``h`` in C. Not re-entrant: one call at a time (the runtime holds a
    lock).

    :param onnx_path: the step exported by :func:`~lnn_control.policy.engines.export.export_onnx`.
    :param folder: where the C source and the shared library are written (may be deleted once
        this is built: the library stays loaded).
    :raises ConfigError: no C compiler (``$CC`` or ``cc``), or an operator the generator lacks.
    """

    def __init__(self, onnx_path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> None:
        import onnx

        compiler = shutil.which(os.environ.get("CC", "cc"))
        if compiler is None:
            raise ConfigError("the native engine needs a C compiler (`cc`, or set $CC): install one "
                              "(e.g. build-essential) or use the onnx engine")
        model = onnx.load(str(onnx_path))
        declared = {v.name: v for v in (*model.graph.input, *model.graph.output)}
        x_size, h_size, _ = (declared[n].type.tensor_type.shape.dim[1].dim_value for n in INPUT_NAMES)
        y_size = declared[OUTPUT_NAMES[0]].type.tensor_type.shape.dim[1].dim_value
        source = Path(folder) / "step.c"
        library = Path(folder) / "step.so"
        source.write_text(generate_c(model, INPUT_NAMES, OUTPUT_NAMES) + ADVANCE)
        build = subprocess.run([compiler, "-O2", "-fPIC", "-shared", "-o", str(library), str(source), "-lm"],
                               capture_output=True, text=True)
        if build.returncode != 0:
            raise ConfigError(f"the native engine's C code did not compile: {build.stderr.strip()[:2000]}")
        handle = ctypes.CDLL(str(library))
        self._advance = handle.lnn_advance
        self._advance.restype = ctypes.c_int
        self._advance.argtypes = []
        # the library's global arrays (ctypes arrays read and write Python floats directly)
        self._x = (ctypes.c_float * x_size).in_dll(handle, "in_0")
        self._h = (ctypes.c_float * h_size).in_dll(handle, "in_1")
        self._dt = (ctypes.c_float * 1).in_dll(handle, "in_2")
        self._y = (ctypes.c_float * y_size).in_dll(handle, "out_0")

    def clear(self) -> None:
        """Zero the inputs and the state."""
        ctypes.memset(self._x, 0, ctypes.sizeof(self._x))
        self.zero_state()

    def zero_state(self) -> None:
        """Zero the state."""
        ctypes.memset(self._h, 0, ctypes.sizeof(self._h))

    def write(self, start: int, values: Sequence[float]) -> None:
        """``x[start:start + len(values)] = values`` (rounded to float32)."""
        self._x[start:start + len(values)] = values

    def advance(self, dt: float) -> list[float] | None:
        """One step over ``dt`` seconds: ``y`` as Python floats, and ``h`` becomes ``h_new``;
        ``None``, ``h`` left as it was, if ``y`` or ``h_new`` holds NaN or Inf."""
        self._dt[0] = dt
        return self._y[:] if self._advance() else None

    @property
    def state(self) -> np.ndarray:
        """``h`` ``(S,)`` float32 (a copy)."""
        return np.array(self._h, dtype=np.float32)


def native_engine(step: PolicyStep, engine_file: str | os.PathLike[str] | None = None) -> NativeStep:
    """The ``native`` engine computing ``step``.

    :param engine_file: the step exported with ``lnn-control export`` (checked to come from the
        policy's weights); without it the step is exported to a temporary folder. The exported
        file is only read while the engine is built: nothing is left in /tmp.
    """
    with tempfile.TemporaryDirectory(prefix="lnn_control_engine_") as scratch:
        path = engine_file or export_policy_onnx(step.policy, Path(scratch) / "policy_step.onnx")
        check_policy_onnx(path, step.policy)
        return NativeStep(path, scratch)
