"""A cell's single step ``(x, h, dt) -> (y, h_new)`` as a module of its own: the form that is
scripted, exported and compiled (the exported forms: :mod:`lnn_control.policy.engines.export`).

Inputs are ``x (B, input_size)``, ``h (B, state_size)`` and ``dt (B, 1)`` float32 (seconds);
outputs ``y (B, output_size)`` and ``h_new (B, state_size)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from lnn_control.liquid.base import LiquidCell

__all__ = ["CellStep", "as_step_module"]


class CellStep(nn.Module):
    """A cell's single step with a tensor time step, the form that is exported.

    :param cell: any :class:`~lnn_control.liquid.base.LiquidCell`.
    """

    def __init__(self, cell: LiquidCell) -> None:
        super().__init__()
        self.cell = cell
        self.input_size = cell.input_size
        self.state_size = cell.state_size

    def forward(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, F)``, ``h (B, S)``, ``dt (B, 1)`` seconds -> ``(y (B, O), h_new (B, S))``."""
        return self.cell(x, h, dt)


def as_step_module(module: nn.Module) -> nn.Module:
    """A cell wrapped in :class:`CellStep`; any other module (a step module with ``input_size``
    and ``state_size`` attributes, such as a policy's
    :class:`~lnn_control.policy.model.PolicyStep`) as it is; in eval mode."""
    return (CellStep(module) if isinstance(module, LiquidCell) else module).eval()
