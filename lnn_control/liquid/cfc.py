"""Closed-form continuous-time (CfC) cells (Hasani et al., Nature Machine Intelligence 2022).

A CfC neuron's new state is a closed-form approximation of an LTC neuron's after ``dt``:
``h' = tanh(f1) (1 - s) + tanh(f2) s`` with the time gate ``s = sigmoid(ta dt + tb)``, where
``f1, f2, ta, tb`` are affine in ``[x, h]`` (mode ``"default"``); ``"no_gate"`` drops the
``(1 - s)``; ``"pure"`` is the direct solution ``A - A exp(-dt (|w_tau| + |f1|)) f1``.

:class:`CfCCell` is ncps's ``CfCCell`` (optional backbone MLP, optional sparsity mask);
:class:`WiredCfCCell` stacks one masked CfC layer per layer of a wiring, as ncps's
``WiredCfCCell``, and can honour the wiring's synapses inside a layer (ncps issue 53).
Parameter names and initialisation follow ncps 1.0.1, so ncps weights load as they are.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lnn_control.errors import ConfigError
from lnn_control.liquid.base import LiquidCell
from lnn_control.liquid.cfc_scan import LayerWeights, cfc_scan
from lnn_control.liquid.wiring import Wiring

__all__ = ["CfCCell", "LeCunTanh", "WiredCfCCell"]

MODES = ("default", "no_gate", "pure")


class LeCunTanh(nn.Module):
    """LeCun's scaled tanh, ``1.7159 tanh(0.666 x)`` (ncps's default backbone activation)."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "lecun_tanh": LeCunTanh,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


class CfCCell(LiquidCell):
    """One CfC step ``(x, h, dt) -> (h_new, h_new)``: the output is the whole state.

    Shapes: ``x (B, input_size)``, ``h (B, hidden_size)``, ``dt`` float or ``(B,)``/``(B, 1)``.

    :param input_size: number of input features.
    :param hidden_size: number of neurons.
    :param mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
    :param backbone_activation: one of ``lecun_tanh``, ``tanh``, ``relu``, ``silu``, ``gelu``.
    :param backbone_units: width of the backbone MLP on ``[x, h]``.
    :param backbone_layers: depth of the backbone (0: the heads read ``[x, h]`` directly).
    :param backbone_dropout: dropout after backbone layers 2 and on (as ncps).
    :param sparsity_mask: ``(input_size + hidden_size, hidden_size)``, nonzero where input or
        neuron ``src`` may feed neuron ``dest`` through ``f1``/``f2`` (the time gates are dense).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        mode: str = "default",
        backbone_activation: str = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        sparsity_mask: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"unknown CfC mode {mode!r}; valid modes are {MODES}")
        if backbone_activation not in ACTIVATIONS:
            raise ConfigError(
                f"unknown backbone_activation {backbone_activation!r}; "
                f"valid ones are {sorted(ACTIVATIONS)}"
            )
        if input_size < 1 or hidden_size < 1 or backbone_layers < 0:
            raise ConfigError(
                f"CfCCell needs input_size >= 1, hidden_size >= 1 and backbone_layers >= 0, got "
                f"{input_size}, {hidden_size}, {backbone_layers}"
            )
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.state_size = self.output_size = self.hidden_size
        self.mode = mode
        self.backbone_layers = int(backbone_layers)
        #: prefix of this cell's entries in the prepared-tensor dict (set by a wired parent)
        self.key_prefix = ""
        mask = None
        if sparsity_mask is not None:
            expected = (input_size + hidden_size, hidden_size)
            if sparsity_mask.shape != expected:
                raise ConfigError(
                    f"sparsity_mask must have shape {expected}, got {sparsity_mask.shape}"
                )
            mask = torch.tensor(np.abs(sparsity_mask.T), dtype=torch.float32)
        self.register_buffer("sparsity_mask", mask)

        activation = ACTIVATIONS[backbone_activation]
        backbone = None
        head_in = input_size + hidden_size
        if self.backbone_layers > 0:
            layers: list[nn.Module] = [nn.Linear(head_in, backbone_units), activation()]
            for _ in range(1, self.backbone_layers):
                layers += [nn.Linear(backbone_units, backbone_units), activation()]
                if backbone_dropout > 0.0:
                    layers.append(nn.Dropout(backbone_dropout))
            backbone = nn.Sequential(*layers)
            head_in = backbone_units
        self.backbone = backbone
        # Mode "pure" has w_tau and A, the others ff2 and the time gates; the absent ones are
        # None so that TorchScript drops the code that reads them.
        pure = mode == "pure"
        self.ff1 = nn.Linear(head_in, hidden_size)
        self.w_tau = nn.Parameter(torch.zeros(1, hidden_size)) if pure else None
        self.A = nn.Parameter(torch.ones(1, hidden_size)) if pure else None
        self.ff2 = None if pure else nn.Linear(head_in, hidden_size)
        self.time_a = None if pure else nn.Linear(head_in, hidden_size)
        self.time_b = None if pure else nn.Linear(head_in, hidden_size)
        for weight in self.parameters():  # ncps's init: Xavier on every trainable matrix
            if weight.dim() == 2 and weight.requires_grad:
                nn.init.xavier_uniform_(weight)

    def _heads(self) -> tuple[Tensor, Tensor]:
        """Head weights ``(G, head_in)`` and bias ``(G,)``: ``[f1]`` (pure) or ``[f1, f2, ta, tb]``."""
        mask = self.sparsity_mask
        w1 = self.ff1.weight if mask is None else self.ff1.weight * mask
        if self.ff2 is None or self.time_a is None or self.time_b is None:
            return w1, self.ff1.bias
        w2 = self.ff2.weight if mask is None else self.ff2.weight * mask
        weight = torch.cat([w1, w2, self.time_a.weight, self.time_b.weight], 0)
        bias = torch.cat([self.ff1.bias, self.ff2.bias, self.time_a.bias, self.time_b.bias], 0)
        return weight, bias

    def prepare(self) -> Dict[str, Tensor]:
        """``wu (G, I)``, ``wh_t (H, G)``, ``bias (G,)`` of the first layer reading ``[x, h]``
        (the heads without backbone, else the backbone's first layer), plus ``heads_w``/``heads_b``
        with a backbone and ``w_tau`` (as ``|w_tau|``) and ``A`` in mode ``"pure"``."""
        p = self.key_prefix
        weight, bias = self._heads()
        prep: Dict[str, Tensor] = {}
        backbone = self.backbone
        if backbone is not None:
            prep[p + "heads_w"], prep[p + "heads_b"] = weight, bias
            first = backbone[0]
            weight, bias = first.weight, first.bias
        prep[p + "wu"] = weight[:, : self.input_size]
        prep[p + "wh_t"] = weight[:, self.input_size :].t()
        prep[p + "bias"] = bias
        w_tau, amp = self.w_tau, self.A
        if w_tau is not None and amp is not None:
            prep[p + "w_tau"] = w_tau.abs()
            prep[p + "A"] = amp
        return prep

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Input part of the first layer on ``[x, h]``: ``x (..., I) -> (..., G)``."""
        p = self.key_prefix
        return F.linear(x, prep[p + "wu"], prep[p + "bias"])

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """``terms (B, G)``, ``h (B, H)``, ``dt (B, 1)`` -> new state ``(B, H)``."""
        p = self.key_prefix
        g = torch.addmm(terms, h, prep[p + "wh_t"])
        backbone = self.backbone
        if backbone is not None:
            for i, layer in enumerate(backbone):
                if i > 0:  # layer 0's product is ``g`` above
                    g = layer(g)
            g = F.linear(g, prep[p + "heads_w"], prep[p + "heads_b"])
        n = self.hidden_size
        if self.mode == "pure":
            amp = prep[p + "A"]
            return amp - amp * torch.exp(-dt * (prep[p + "w_tau"] + g.abs())) * g
        f = torch.tanh(g[:, : 2 * n])
        gate = torch.sigmoid(torch.addcmul(g[:, 3 * n :], g[:, 2 * n : 3 * n], dt))
        if self.mode == "default":
            return torch.lerp(f[:, :n], f[:, n:], gate)
        return torch.addcmul(f[:, :n], gate, f[:, n:])

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """The whole state is the output."""
        return states

    def layer_weights(self, prep: Dict[str, Tensor], first: bool) -> LayerWeights:
        """This cell as one layer of :func:`cfc_scan` (no backbone)."""
        p = self.key_prefix
        wu_t = None if first else prep[p + "wu"].t()
        bias = None if first else prep[p + "bias"]
        pure = self.mode == "pure"
        return (
            wu_t,
            bias,
            prep[p + "wh_t"],
            prep[p + "w_tau"] if pure else None,
            prep[p + "A"] if pure else None,
        )

    def scan(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        """As :meth:`LiquidCell.scan`; fused kernel when there is no backbone (outside TorchScript)."""
        if torch.jit.is_scripting() or self.backbone is not None:
            return self._scan_steps(terms, h0, dt, keep, prep)
        return self._scan_fused(terms, h0, dt, keep, prep)

    @torch.jit.unused
    def _scan_fused(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        return _fused_scan(self.mode, [self], terms, h0, dt, keep, prep)

    def extra_repr(self) -> str:
        masked = self.sparsity_mask is not None
        return (
            f"{self.input_size}, {self.hidden_size}, mode={self.mode!r}, "
            f"backbone_layers={self.backbone_layers}, masked={masked}"
        )


class WiredCfCCell(LiquidCell):
    """A CfC cell whose neurons and synapses follow a wiring, one CfC layer per wiring layer.

    The state holds the layers side by side in layer order (for an NCP: inter, command, motor);
    :attr:`neuron_ids` maps state positions to the wiring's neuron ids. The output is the last
    layer (the motor neurons). Layer ``l`` reads layer ``l - 1`` (or the input) through the
    wiring's synapses and its own neurons through its recurrent block.

    :param input_size: number of input features (builds the wiring if not built).
    :param wiring: the connectivity.
    :param mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
    :param wiring_recurrence: ``False`` (default, as ncps): every neuron reads every neuron of its
        layer. ``True``: a neuron reads itself and the neurons of its layer that synapse onto it
        in the wiring, so an NCP's recurrent command synapses are honoured (ncps issue 53).
    """

    def __init__(
        self,
        input_size: Optional[int],
        wiring: Wiring,
        mode: str = "default",
        wiring_recurrence: bool = False,
    ) -> None:
        super().__init__()
        if input_size is not None:
            wiring.build(input_size)
        if not wiring.is_built() or wiring.sensory_adjacency_matrix is None:
            raise ConfigError(
                "the wiring does not know its input size: pass input_size or call "
                "wiring.build(input_dim) first"
            )
        self.wiring = wiring
        self.mode = mode
        self.wiring_recurrence = bool(wiring_recurrence)
        self.input_size = int(wiring.input_dim)  # type: ignore[arg-type]
        self.state_size = wiring.units
        neuron_layers = [wiring.get_neurons_of_layer(i) for i in range(wiring.num_layers)]
        self.layer_sizes = [len(layer) for layer in neuron_layers]
        self.output_size = self.layer_sizes[-1]
        #: wiring neuron id of each state position
        self.neuron_ids = [neuron for layer in neuron_layers for neuron in layer]
        cells = []
        in_features = self.input_size
        for i, neurons in enumerate(neuron_layers):
            if i == 0:
                feed = wiring.sensory_adjacency_matrix[:, neurons]
            else:
                feed = wiring.adjacency_matrix[np.ix_(neuron_layers[i - 1], neurons)]
            if self.wiring_recurrence:
                own = np.abs(wiring.adjacency_matrix[np.ix_(neurons, neurons)])
                own = np.maximum(own, np.eye(len(neurons), dtype=own.dtype))
            else:
                own = np.ones((len(neurons), len(neurons)))
            cell = CfCCell(
                in_features, len(neurons), mode, backbone_layers=0,
                sparsity_mask=np.concatenate([feed, own], axis=0),
            )
            cell.key_prefix = f"layer{i}."
            cells.append(cell)
            in_features = len(neurons)
        self.layers = nn.ModuleList(cells)

    def prepare(self) -> Dict[str, Tensor]:
        prep: Dict[str, Tensor] = {}
        for layer in self.layers:
            prep.update(layer.prepare())
        return prep

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """The first layer's input part: ``x (..., I) -> (..., G0)``."""
        return self.layers[0].input_terms(x, prep)

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        states = torch.split(h, self.layer_sizes, 1)
        new_states: list[Tensor] = []
        u = terms
        for i, layer in enumerate(self.layers):
            if i > 0:
                u = layer.input_terms(new_states[-1], prep)
            new_states.append(layer.step(u, states[i], dt, prep))
        return torch.cat(new_states, 1)

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """The last layer's states: ``(..., S) -> (..., motor neurons)``."""
        return states[..., self.state_size - self.output_size :]

    def scan(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        """As :meth:`LiquidCell.scan`, through the fused kernel outside TorchScript."""
        if torch.jit.is_scripting():
            return self._scan_steps(terms, h0, dt, keep, prep)
        return self._scan_fused(terms, h0, dt, keep, prep)

    @torch.jit.unused
    def _scan_fused(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        return _fused_scan(self.mode, list(self.layers), terms, h0, dt, keep, prep)

    def extra_repr(self) -> str:
        return f"{self.wiring!r}, mode={self.mode!r}, wiring_recurrence={self.wiring_recurrence}"


def _fused_scan(
    mode: str,
    layers: list[CfCCell],
    terms: Tensor,
    h0: Tensor,
    dt: Tensor,
    keep: Optional[Tensor],
    prep: Dict[str, Tensor],
) -> Tensor:
    """:func:`cfc_scan` for layers without backbone, batch-major in and out."""
    states = cfc_scan(
        h0,
        terms.transpose(0, 1).contiguous(),
        dt.transpose(0, 1).contiguous(),
        None if keep is None else keep.transpose(0, 1).contiguous(),
        mode,
        [layer.hidden_size for layer in layers],
        [layer.layer_weights(prep, first=i == 0) for i, layer in enumerate(layers)],
    )
    return states.transpose(0, 1)
