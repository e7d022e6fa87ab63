"""Mixed memory: an LSTM memory cell in front of a liquid cell (Lechner & Hasani, 2020).

At every step an LSTM updates its output ``h`` and cell ``c`` from the input, then the liquid cell
advances from that ``h``; the long-term memory ``c`` helps learn long dependencies. This is ncps's
``mixed_memory=True`` as a cell of its own, usable in any sequence module and exportable like the
others. The state is ``[h, c]`` side by side: ``(B, 2 * units)``.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lnn_control.liquid.base import LiquidCell

__all__ = ["MemoryLSTM", "MixedMemoryCell"]


class MemoryLSTM(nn.Module):
    """ncps's LSTM cell weights: ``input_map`` ``(4H, I)`` with bias, ``recurrent_map`` ``(4H, H)``.

    Gates are ``[input, input gate, forget gate, output gate]``; the forget gate has a +1 bias.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_map = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        for name, weight in self.named_parameters():
            if weight.dim() == 1:
                nn.init.uniform_(weight, -0.1, 0.1)
            elif name.startswith("input_map"):
                nn.init.xavier_uniform_(weight)
            else:
                nn.init.orthogonal_(weight)


class MixedMemoryCell(LiquidCell):
    """``[h, c] -> LSTM -> liquid cell``: a liquid cell with an LSTM memory in front.

    :param cell: the liquid cell (LTC, CfC, wired CfC); its input is also the LSTM's input.
    """

    def __init__(self, cell: LiquidCell) -> None:
        super().__init__()
        self.cell = cell
        self.units = cell.state_size
        self.input_size = cell.input_size
        self.state_size = 2 * cell.state_size
        self.output_size = cell.output_size
        self.lstm = MemoryLSTM(cell.input_size, cell.state_size)

    def prepare(self) -> Dict[str, Tensor]:
        prep = self.cell.prepare()
        prep["lstm.wh_t"] = self.lstm.recurrent_map.weight.t()
        return prep

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """The liquid cell's input terms followed by the LSTM's input part ``(..., 4 * units)``."""
        lstm_in = F.linear(x, self.lstm.input_map.weight, self.lstm.input_map.bias)
        return torch.cat([self.cell.input_terms(x, prep), lstm_in], -1)

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        units = self.units
        split = terms.shape[-1] - 4 * units
        out, memory = h[:, :units], h[:, units:]
        z = torch.addmm(terms[:, split:], out, prep["lstm.wh_t"])
        value, in_gate, forget_gate, out_gate = z.chunk(4, 1)
        memory = memory * torch.sigmoid(forget_gate + 1.0) + torch.tanh(value) * torch.sigmoid(
            in_gate
        )
        out = torch.tanh(memory) * torch.sigmoid(out_gate)
        out = self.cell.step(terms[:, :split], out, dt, prep)
        return torch.cat([out, memory], 1)

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        return self.cell.output(states[..., : self.units], prep)
