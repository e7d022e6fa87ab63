"""Load models built or trained with ncps 1.0.1: :func:`from_ncps` copies structure and weights.

Our cells keep ncps's parameter names, so the weights copy as they are; only the module nesting
differs (wired CfC layers, the sequence modules' mixed-memory LSTM and projection), and ncps's
sparsity masks, which are parameters there, are buffers here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from lnn_control.errors import ConfigError
from lnn_control.liquid.base import LiquidCell
from lnn_control.liquid.cfc import CfCCell, WiredCfCCell
from lnn_control.liquid.ltc import LTCCell
from lnn_control.liquid.mixed import MixedMemoryCell
from lnn_control.liquid.sequence import LiquidSequence
from lnn_control.liquid.wiring import NCP, AutoNCP, FullyConnected, Random, Wiring

__all__ = ["from_ncps", "wiring_from_ncps"]

#: class name of an ncps backbone activation -> our activation name
NCPS_ACTIVATIONS = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu",
                    "GELU": "gelu"}


def from_ncps(module: nn.Module) -> nn.Module:
    """Our equivalent of an ncps module, with its weights copied.

    Supported: ``ncps.torch`` ``LTCCell``, ``CfCCell``, ``WiredCfCCell``, ``LTC``, ``CfC``
    (wired or not, mixed memory, projection). Sequence modules become :class:`LiquidSequence`
    (``return_sequences`` kept; always batch first).

    :raises ConfigError: for a module that is not one of these, or a batch-second sequence.
    """
    import ncps.torch as ncps_torch

    if isinstance(module, ncps_torch.LTCCell):
        return _ltc_cell(module)
    if isinstance(module, ncps_torch.WiredCfCCell):
        return _wired_cfc_cell(module)
    if isinstance(module, ncps_torch.CfCCell):
        return _cfc_cell(module)
    if isinstance(module, (ncps_torch.LTC, ncps_torch.CfC)):
        return _sequence(module)
    raise ConfigError(
        f"from_ncps converts ncps.torch LTCCell, CfCCell, WiredCfCCell, LTC and CfC; "
        f"got {type(module).__name__}"
    )


def wiring_from_ncps(wiring: Any) -> Wiring:
    """Our wiring of the same kind and parameters, holding the ncps wiring's exact matrices.

    An ncps ``NCP`` does not remember its seed, so ours gets ``seed=None``: its config then
    carries the matrices themselves.
    """
    kind = type(wiring).__name__
    ours: Wiring
    if kind == "AutoNCP":
        ours = AutoNCP(wiring.units, wiring._output_size, wiring._sparsity_level, wiring._seed)
    elif kind == "NCP":
        ours = NCP(
            wiring._num_inter_neurons,
            wiring._num_command_neurons,
            wiring._num_motor_neurons,
            wiring._sensory_fanout,
            wiring._inter_fanout,
            wiring._recurrent_command_synapses,
            wiring._motor_fanin,
        )
        ours.seed = None
    elif kind == "FullyConnected":
        ours = FullyConnected(
            wiring.units, wiring.output_dim, wiring._erev_init_seed, wiring.self_connections
        )
    elif kind == "Random":
        ours = Random(wiring.units, wiring.output_dim, wiring.sparsity_level, wiring._random_seed)
    else:
        ours = Wiring(wiring.units, wiring.output_dim)
    if wiring.input_dim is not None:
        ours.build(wiring.input_dim)
        ours.sensory_adjacency_matrix = np.array(wiring.sensory_adjacency_matrix, dtype=np.int32)
    ours.adjacency_matrix = np.array(wiring.adjacency_matrix, dtype=np.int32)
    return ours


def _ltc_cell(cell: Any) -> LTCCell:
    ours = LTCCell(
        wiring_from_ncps(cell._wiring),
        input_mapping=_mapping(cell._input_mapping),
        output_mapping=_mapping(cell._output_mapping),
        ode_unfolds=cell._ode_unfolds,
        epsilon=cell._epsilon,
        implicit_param_constraints=cell._implicit_param_constraints,
    )
    ours.load_state_dict(cell.state_dict())
    return ours


def _cfc_cell(cell: Any) -> CfCCell:
    layers = cell.backbone_layers
    units, activation, dropout = 128, "lecun_tanh", 0.0
    if layers > 0:
        units = cell.backbone[0].out_features
        activation = NCPS_ACTIVATIONS[type(cell.backbone[1]).__name__]
        dropout = next((m.p for m in cell.backbone if isinstance(m, nn.Dropout)), 0.0)
    mask = None if cell.sparsity_mask is None else cell.sparsity_mask.detach().numpy().T
    ours = CfCCell(
        cell.input_size, cell.hidden_size, cell.mode, activation, units, layers, dropout, mask
    )
    ours.load_state_dict(cell.state_dict())
    return ours


def _wired_cfc_cell(cell: Any) -> WiredCfCCell:
    ours = WiredCfCCell(None, wiring_from_ncps(cell._wiring), cell._layers[0].mode)
    state = {}
    for key, value in cell.state_dict().items():
        layer, rest = key.split(".", 1)  # "layer_2.ff1.weight"
        state[f"layers.{layer.removeprefix('layer_')}.{rest}"] = value
    ours.load_state_dict(state)
    return ours


def _sequence(sequence: Any) -> LiquidSequence:
    if not sequence.batch_first:
        raise ConfigError("only batch-first ncps sequence modules convert (batch_first=True)")
    cell: LiquidCell = from_ncps(sequence.rnn_cell)  # type: ignore[assignment]
    if sequence.use_mixed:
        cell = MixedMemoryCell(cell)
        cell.lstm.load_state_dict(sequence.lstm.state_dict())
    proj = getattr(sequence, "fc", None)
    proj_size = proj.out_features if isinstance(proj, nn.Linear) else None
    ours = LiquidSequence(cell, proj_size, sequence.return_sequences)
    if proj_size is not None:
        ours.fc.load_state_dict(proj.state_dict())
    return ours


def _mapping(name: str) -> str:
    return name if name in ("affine", "linear") else "none"
