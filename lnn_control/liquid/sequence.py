"""Sequence modules: run a liquid cell over ``(B, T, F)`` with a time step per sample and step.

``LTC`` and ``CfC`` take the same arguments as ncps's sequence modules (batch first only), but
``dt`` may differ for every sample and step (ncps's wrappers fail or are silently wrong for batch
> 1, its issues 81-83), and an optional reset mask zeroes the state where an episode starts, so
sequences of several episodes can be batched. Training is fast because the recurrence runs as
one fused autograd node (see :mod:`lnn_control.liquid.ltc_scan` and ``cfc_scan``).
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

from torch import Tensor, nn

from lnn_control.errors import ConfigError, ShapeError
from lnn_control.liquid.base import LiquidCell, sequence_dt
from lnn_control.liquid.cfc import CfCCell, WiredCfCCell
from lnn_control.liquid.ltc import LTCCell
from lnn_control.liquid.mixed import MixedMemoryCell
from lnn_control.liquid.wiring import FullyConnected, Wiring

__all__ = ["CfC", "LTC", "LiquidSequence"]


class LiquidSequence(nn.Module):
    """Any :class:`~lnn_control.liquid.base.LiquidCell` run over a sequence.

    :param cell: the cell (wrap it in :class:`MixedMemoryCell` for mixed memory).
    :param proj_size: if given, a linear layer maps the cell's outputs to this many features.
    :param return_sequences: return the output of every step (else of the last step only).
    """

    def __init__(
        self, cell: LiquidCell, proj_size: Optional[int] = None, return_sequences: bool = True
    ) -> None:
        super().__init__()
        self.cell = cell
        self.input_size = cell.input_size
        self.state_size = cell.state_size
        self.output_size = cell.output_size if proj_size is None else int(proj_size)
        self.return_sequences = bool(return_sequences)
        self.fc = nn.Identity() if proj_size is None else nn.Linear(cell.output_size, proj_size)

    def forward(
        self,
        x: Tensor,
        h0: Optional[Tensor] = None,
        dt: Optional[Union[float, Tensor]] = None,
        reset: Optional[Tensor] = None,
    ) -> Tuple[Tensor, Tensor]:
        """Run the sequence.

        :param x: inputs ``(B, T, input_size)``.
        :param h0: initial state ``(B, state_size)``; ``None`` for zeros. With mixed memory the
            state is ``[h, c]`` side by side.
        :param dt: time step of every sample and step in seconds: ``None`` (1.0), a float, or a
            tensor ``(B, T)``; step ``t`` advances the state by ``dt[:, t]``. Time steps are
            data: no gradient flows to them.
        :param reset: optional ``(B, T)`` bool: where true the state is zeroed before step ``t``
            (an episode starts there).
        :return: ``(y, h_T)``: outputs ``(B, T, output_size)`` (``(B, output_size)`` if not
            ``return_sequences``) and the final state ``(B, state_size)``.
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ShapeError(
                f"input x must have shape (batch, time, {self.input_size}), got {list(x.shape)}"
            )
        batch, steps = x.shape[0], x.shape[1]
        if h0 is None:
            h0 = x.new_zeros(batch, self.state_size)
        elif h0.shape != (batch, self.state_size):
            raise ShapeError(
                f"initial state h0 must have shape ({batch}, {self.state_size}), "
                f"got {list(h0.shape)}"
            )
        keep: Optional[Tensor] = None
        if reset is not None:
            if reset.shape != (batch, steps):
                raise ShapeError(
                    f"reset must have shape ({batch}, {steps}) like x's first two dimensions, "
                    f"got {list(reset.shape)}"
                )
            keep = (reset == 0).to(x.dtype).unsqueeze(-1)
        cell = self.cell
        prep = cell.prepare()
        dts = sequence_dt(dt, x).detach()
        states = cell.scan(cell.input_terms(x, prep), h0, dts, keep, prep)
        y = self.fc(cell.output(states, prep))
        if not self.return_sequences:
            y = y[:, -1]
        return y, states[:, -1]


class LTC(LiquidSequence):
    """An LTC network over sequences, arguments as ncps's ``LTC`` (batch first).

    :param input_size: number of input features.
    :param units: a wiring, or a number of fully connected neurons (all of them outputs).
    :param return_sequences: return every step's output (else the last only).
    :param mixed_memory: put an LSTM memory in front of the cell (state ``[h, c]``).
    :param input_mapping: see :class:`LTCCell`; likewise ``output_mapping``, ``ode_unfolds``,
        ``epsilon``.
    :param implicit_param_constraints: softplus on the positive parameters (default true, as
        ncps's ``LTC``; note that ncps's ``LTCCell`` defaults to false).
    """

    def __init__(
        self,
        input_size: int,
        units: Union[int, Wiring],
        return_sequences: bool = True,
        mixed_memory: bool = False,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = True,
    ) -> None:
        wiring = units if isinstance(units, Wiring) else FullyConnected(int(units))
        cell: LiquidCell = LTCCell(
            wiring,
            input_size,
            input_mapping=input_mapping,
            output_mapping=output_mapping,
            ode_unfolds=ode_unfolds,
            epsilon=epsilon,
            implicit_param_constraints=implicit_param_constraints,
        )
        if mixed_memory:
            cell = MixedMemoryCell(cell)
        super().__init__(cell, None, return_sequences)


class CfC(LiquidSequence):
    """A CfC network over sequences, arguments as ncps's ``CfC`` (batch first).

    :param input_size: number of input features.
    :param units: a wiring (a :class:`WiredCfCCell`, no backbone) or a number of neurons.
    :param proj_size: optional linear projection of the outputs to this many features.
    :param return_sequences: return every step's output (else the last only).
    :param mixed_memory: put an LSTM memory in front of the cell (state ``[h, c]``).
    :param mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
    :param activation: backbone activation (unwired only).
    :param backbone_units: backbone width (unwired only; default 128).
    :param backbone_layers: backbone depth (unwired only; default 1).
    :param backbone_dropout: backbone dropout (unwired only; default 0).
    :param wiring_recurrence: wired only: honour the wiring's synapses within a layer
        (see :class:`WiredCfCCell`); default false as ncps.
    """

    def __init__(
        self,
        input_size: int,
        units: Union[int, Wiring],
        proj_size: Optional[int] = None,
        return_sequences: bool = True,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: Optional[int] = None,
        backbone_layers: Optional[int] = None,
        backbone_dropout: Optional[float] = None,
        wiring_recurrence: bool = False,
    ) -> None:
        cell: LiquidCell
        if isinstance(units, Wiring):
            given = {
                "backbone_units": backbone_units,
                "backbone_layers": backbone_layers,
                "backbone_dropout": backbone_dropout,
            }
            for name, value in given.items():
                if value is not None:
                    raise ConfigError(
                        f"{name} applies to an unwired CfC only; a wired CfC has no backbone "
                        "(pass a number of units instead of a wiring to use one)"
                    )
            cell = WiredCfCCell(input_size, units, mode, wiring_recurrence)
        else:
            if wiring_recurrence:
                raise ConfigError("wiring_recurrence needs a wiring, not a number of units")
            cell = CfCCell(
                input_size,
                int(units),
                mode,
                activation,
                128 if backbone_units is None else backbone_units,
                1 if backbone_layers is None else backbone_layers,
                0.0 if backbone_dropout is None else backbone_dropout,
            )
        if mixed_memory:
            cell = MixedMemoryCell(cell)
        super().__init__(cell, proj_size, return_sequences)
