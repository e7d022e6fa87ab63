"""The policy's recurrent core: a liquid cell, or a baseline with the same cell contract.

Every core is a :class:`~lnn_control.liquid.base.LiquidCell` (``forward(x, h, dt)``,
``prepare`` / ``input_terms`` / ``step`` / ``output`` / ``scan``), so the policy, the runtime,
export and training treat them alike. The baselines (LSTM, GRU, frame-stacked MLP) cannot
integrate time, so for a like-with-like comparison they get the time step as one more input.
"""

from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor, nn

from lnn_control.liquid import (
    CfCCell,
    FullyConnected,
    LiquidCell,
    LTCCell,
    MixedMemoryCell,
    WiredCfCCell,
    wiring_from_config,
)
from lnn_control.policy.config import CoreConfig

__all__ = ["GRUCore", "LSTMCore", "MLPCore", "make_core"]


def make_core(config: CoreConfig, input_size: int, actions: int) -> LiquidCell:
    """The core ``config`` describes, reading ``input_size`` features.

    A wired core's motor neurons are the actions; a dense LTC's first ``actions`` neurons are its
    motor neurons; the other cores output ``units`` features that the policy maps to actions.
    """
    cell: LiquidCell
    if config.type == "cfc":
        if config.wiring is not None:
            cell = WiredCfCCell(input_size, wiring_from_config(config.wiring), config.mode,
                                config.wiring_recurrence)
        else:
            cell = CfCCell(input_size, config.units, config.mode,
                           backbone_units=config.backbone_units,
                           backbone_layers=config.backbone_layers)
    elif config.type == "ltc":
        wiring = (wiring_from_config(config.wiring) if config.wiring is not None
                  else FullyConnected(config.units, actions))
        cell = LTCCell(wiring, input_size, ode_unfolds=config.ode_unfolds,
                       implicit_param_constraints=config.implicit_param_constraints,
                       time_unit_s=config.time_unit_s)
    elif config.type == "lstm":
        return LSTMCore(input_size, config.units)
    elif config.type == "gru":
        return GRUCore(input_size, config.units)
    else:
        return MLPCore(input_size, config.units, config.frames)
    return MixedMemoryCell(cell) if config.mixed_memory else cell


class _TimedInput(LiquidCell):
    """Shared part of the baselines: an input map of ``[x, dt]`` to ``gates`` features."""

    def __init__(self, input_size: int, state_size: int, output_size: int, gates: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.state_size = state_size
        self.output_size = output_size
        self.input_map = nn.Linear(input_size, gates)
        self.dt_weight = nn.Parameter(torch.zeros(gates))

    def prepare(self) -> Dict[str, Tensor]:
        return {}

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return self.input_map(x)

    def timed(self, terms: Tensor, dt: Tensor) -> Tensor:
        """The input terms plus the time step's contribution: ``(B, gates)``."""
        return torch.addcmul(terms, dt, self.dt_weight)


class LSTMCore(_TimedInput):
    """LSTM baseline: state ``[h, c]`` ``(B, 2 units)``, output ``h``.

    :param input_size: input features (the time step is appended as one more).
    :param units: hidden units.
    """

    def __init__(self, input_size: int, units: int) -> None:
        super().__init__(input_size, 2 * units, units, 4 * units)
        self.units = units
        self.recurrent_map = nn.Linear(units, 4 * units, bias=False)

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        out, memory = h[:, : self.units], h[:, self.units :]
        gates = self.timed(terms, dt) + self.recurrent_map(out)
        value, in_gate, forget_gate, out_gate = gates.chunk(4, 1)
        memory = torch.sigmoid(forget_gate) * memory + torch.sigmoid(in_gate) * torch.tanh(value)
        out = torch.sigmoid(out_gate) * torch.tanh(memory)
        return torch.cat([out, memory], 1)

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return states[..., : self.units]


class GRUCore(_TimedInput):
    """GRU baseline: state and output ``h`` ``(B, units)``.

    :param input_size: input features (the time step is appended as one more).
    :param units: hidden units.
    """

    def __init__(self, input_size: int, units: int) -> None:
        super().__init__(input_size, units, units, 3 * units)
        self.recurrent_map = nn.Linear(units, 3 * units)

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        x_r, x_z, x_n = self.timed(terms, dt).chunk(3, 1)
        h_r, h_z, h_n = self.recurrent_map(h).chunk(3, 1)
        reset = torch.sigmoid(x_r + h_r)
        update = torch.sigmoid(x_z + h_z)
        candidate = torch.tanh(x_n + reset * h_n)
        return torch.lerp(candidate, h, update)

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return states


class MLPCore(LiquidCell):
    """Frame-stacked MLP baseline: the state holds the last ``frames`` inputs (each with its time
    step), and a two-layer tanh MLP reads the stack. ``(B, frames * (input_size + 1))`` state.

    :param input_size: input features per frame.
    :param units: hidden width and output size.
    :param frames: number of stacked frames.
    """

    def __init__(self, input_size: int, units: int, frames: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.frame_size = input_size + 1
        self.state_size = frames * self.frame_size
        self.output_size = units
        self.hidden = nn.Linear(self.state_size, units)
        self.out = nn.Linear(units, units)

    def prepare(self) -> Dict[str, Tensor]:
        return {}

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return x

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return torch.cat([h[:, self.frame_size :], terms, dt], 1)

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return torch.tanh(self.out(torch.tanh(self.hidden(states))))
