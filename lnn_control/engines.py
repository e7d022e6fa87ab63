"""The names of the policy step engines, in a module light enough for every command line to
import (the engines themselves are built by :func:`lnn_control.policy.step_engines.make_engine`).

``torch`` (eager PyTorch, the reference), ``onnx`` (onnxruntime), ``compiled`` (AOTInductor;
needs a C++ compiler once) and ``native`` (the exported step as generated C; needs ``cc``).
"""

from typing import Literal, get_args

__all__ = ["ENGINES", "EngineKind"]

EngineKind = Literal["torch", "onnx", "compiled", "native"]
ENGINES: tuple[str, ...] = get_args(EngineKind)
