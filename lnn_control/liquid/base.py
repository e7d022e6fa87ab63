"""The contract every liquid cell keeps, and the time-step conventions they share.

A cell advances a state ``h`` of ``state_size`` numbers by an elapsed time ``dt`` (seconds, or
whatever time unit the model was trained in) given an input ``x`` of ``input_size`` features:
``forward(x, h, dt) -> (y, h_new)`` with ``y`` of ``output_size`` features.

Internally a step is split so that sequences can be run fast:

- :meth:`LiquidCell.prepare` turns parameters into the tensors a step uses (constraints applied,
  masks folded in); once per call, not once per step;
- :meth:`LiquidCell.input_terms` does all the work that depends on the input only, for any number
  of leading dimensions, so a sequence does it for all time steps in one batched operation;
- :meth:`LiquidCell.step` does the recurrent part, :meth:`LiquidCell.output` maps states to outputs;
- :meth:`LiquidCell.scan` runs the recurrence over a whole sequence. The default loops over
  :meth:`step`; LTC and CfC cells replace it by a fused kernel with a hand-written backward pass.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from lnn_control.errors import ShapeError

__all__ = ["LiquidCell", "sequence_dt", "step_dt"]


class LiquidCell(nn.Module):
    """Base class of the liquid cells; see the module docstring for the contract.

    Subclasses set the int attributes ``input_size``, ``state_size`` and ``output_size`` and
    implement :meth:`prepare`, :meth:`input_terms`, :meth:`step` and :meth:`output`.
    """

    def forward(
        self, x: Tensor, h: Optional[Tensor] = None, dt: Union[float, Tensor] = 1.0
    ) -> Tuple[Tensor, Tensor]:
        """Advance the state by one step.

        :param x: input ``(B, input_size)``.
        :param h: state ``(B, state_size)``; ``None`` starts from zeros.
        :param dt: elapsed time since the previous step: a float, or a tensor of shape ``()``,
            ``(B,)`` or ``(B, 1)`` giving every sample its own time step.
        :return: ``(y, h_new)``: output ``(B, output_size)`` and new state ``(B, state_size)``.
        """
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ShapeError(
                f"input x must have shape (batch, {self.input_size}), got {list(x.shape)}"
            )
        if h is None:
            h = x.new_zeros(x.shape[0], self.state_size)
        elif h.shape != (x.shape[0], self.state_size):
            raise ShapeError(
                f"state h must have shape ({x.shape[0]}, {self.state_size}) to match x, "
                f"got {list(h.shape)}"
            )
        prep = self.prepare()
        h_new = self.step(self.input_terms(x, prep), h, step_dt(dt, x), prep)
        return self.output(h_new, prep), h_new

    def prepare(self) -> Dict[str, Tensor]:
        """Tensors derived from the parameters that every step uses."""
        raise NotImplementedError

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Input-only part of a step: ``x (..., input_size) -> (..., K)``."""
        raise NotImplementedError

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Recurrent part of a step: ``terms (B, K)``, ``h (B, S)``, ``dt (B, 1)`` -> ``(B, S)``."""
        raise NotImplementedError

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Outputs of states ``(..., state_size) -> (..., output_size)``."""
        raise NotImplementedError

    def scan(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        """Run the recurrence over a sequence.

        :param terms: input terms ``(B, T, K)`` from :meth:`input_terms`.
        :param h0: initial state ``(B, S)``.
        :param dt: time steps ``(B, T, 1)``.
        :param keep: ``(B, T, 1)``, 0 where the state is zeroed before the step (episode start)
            and 1 elsewhere; ``None`` for no resets.
        :return: the state after every step, ``(B, T, S)``.
        """
        return self._scan_steps(terms, h0, dt, keep, prep)

    def _scan_steps(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        h = h0
        states = []
        for t in range(terms.shape[1]):
            if keep is not None:
                h = h * keep[:, t]
            h = self.step(terms[:, t], h, dt[:, t], prep)
            states.append(h)
        return torch.stack(states, 1)


def step_dt(dt: Union[float, Tensor], x: Tensor) -> Tensor:
    """A cell's time step as a ``(B, 1)`` tensor of ``x``'s dtype and device.

    :param dt: float, or tensor of shape ``()``, ``(B,)`` or ``(B, 1)``.
    :param x: the step's input ``(B, F)``; gives the batch size, dtype and device.
    """
    batch = x.shape[0]
    if isinstance(dt, float):
        return torch.full((batch, 1), dt, dtype=x.dtype, device=x.device)
    if dt.dim() == 0 or (dt.dim() == 1 and dt.shape[0] == batch) or dt.shape == (batch, 1):
        return dt.to(x.dtype).reshape(-1, 1).expand(batch, 1)
    raise ShapeError(
        f"dt must be a float or a tensor of shape (), ({batch},) or ({batch}, 1) for a batch of "
        f"{batch}, got shape {list(dt.shape)}"
    )


def sequence_dt(dt: Optional[Union[float, Tensor]], x: Tensor) -> Tensor:
    """A sequence's time steps as a ``(B, T, 1)`` tensor of ``x``'s dtype and device.

    :param dt: ``None`` (every step lasts 1.0), a float, or a tensor of shape ``()``, ``(B, T)``
        or ``(B, T, 1)``: a different time step for every sample and step.
    :param x: the sequence ``(B, T, F)``.
    """
    batch, steps = x.shape[0], x.shape[1]
    if dt is None:
        return torch.ones(batch, steps, 1, dtype=x.dtype, device=x.device)
    if isinstance(dt, float):
        return torch.full((batch, steps, 1), dt, dtype=x.dtype, device=x.device)
    if dt.dim() == 0 or dt.shape == (batch, steps) or dt.shape == (batch, steps, 1):
        return dt.to(x.dtype).reshape(-1, 1).expand(batch * steps, 1).reshape(batch, steps, 1)
    raise ShapeError(
        f"dt must be None, a float, or a tensor of shape (), ({batch}, {steps}) or "
        f"({batch}, {steps}, 1) for x of shape {list(x.shape)}, got shape {list(dt.shape)}"
    )
