"""The CfC recurrence over a whole sequence as one autograd node, with a hand-written backward.

Serves a CfC cell without backbone (one layer) and a wired CfC cell (one layer per NCP layer,
each fed by the layer before it at the same step). Per layer with input ``u``, own state ``h``,
time step ``dt`` and pre-activations ``g = u Wu + h Wh + b`` split into ``[f1, f2, ta, tb]``::

    default: h' = tanh(f1) (1 - s) + tanh(f2) s,     s = sigmoid(ta dt + tb)
    no_gate: h' = tanh(f1) + tanh(f2) s
    pure:    h' = A - A exp(-dt (|w_tau| + |g|)) g    (g = f1 only)

The forward pass keeps activations in preallocated buffers without an autograd graph; the backward
pass walks steps and layers in reverse for the state gradient only, and computes every weight
gradient at the end as one matrix product over all steps (as cuDNN's RNN kernels do). Both loops
run as TorchScript functions (see :mod:`.kernels`). No gradient flows to ``dt``: time steps are
data. Checked by ``torch.autograd.gradcheck`` in the tests.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lnn_control.liquid.kernels import scripted

__all__ = ["LayerWeights", "cfc_scan"]

#: per layer: (wu_t (I, G) or None for the first layer, bias (G,) or None for the first layer,
#: wh_t (H, G), |w_tau| (1, H) or None, A (1, H) or None) -- the last two for mode "pure" only.
LayerWeights = tuple[Optional[Tensor], Optional[Tensor], Tensor, Optional[Tensor], Optional[Tensor]]


def cfc_scan(
    h0: Tensor,
    x_terms: Tensor,
    dt: Tensor,
    keep: Optional[Tensor],
    mode: str,
    sizes: Sequence[int],
    weights: Sequence[LayerWeights],
) -> Tensor:
    """Run ``T`` CfC steps through ``len(sizes)`` layers; differentiable in states and weights.

    :param h0: initial state ``(B, S)``, the layers' states side by side (``S = sum(sizes)``).
    :param x_terms: first layer's input part of ``g`` (``x Wu + b``) for every step, ``(T, B, G0)``.
    :param dt: time steps ``(T, B, 1)``.
    :param keep: ``(T, B, 1)``: the state is multiplied by it before each step; ``None`` for none.
    :param mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
    :param sizes: neurons per layer.
    :param weights: one :data:`LayerWeights` per layer.
    :return: the state after each step, ``(T, B, S)``.
    """
    flat = [tensor for layer in weights for tensor in layer]
    return _CfCScan.apply(h0, x_terms, dt, keep, mode, tuple(sizes), *flat)


def _forward_loop(
    h0: List[Tensor],
    x_terms: Tensor,
    dt: Tensor,
    keep: Optional[Tensor],
    mode: str,
    sizes: List[int],
    wu_t: List[Optional[Tensor]],
    bias: List[Optional[Tensor]],
    wh_t: List[Tensor],
    w_tau: List[Optional[Tensor]],
    amp: List[Optional[Tensor]],
) -> List[List[Tensor]]:
    """Per layer ``i``, lists over steps of: the state entering the step (``4 i``), the state
    leaving it (``4 i + 1``), and ``tanh([f1, f2])`` and the gate ``s`` (``4 i + 2``, ``4 i + 3``)
    or, in mode ``"pure"``, the pre-activation ``g`` and ``exp(-dt (|w_tau| + |g|))``."""
    x_t, dt_t = x_terms.unbind(0), dt.unbind(0)
    keep_t = keep.unbind(0) if keep is not None else dt_t
    record: List[List[Tensor]] = [[] for _ in range(4 * len(sizes))]
    state = h0
    for t in range(len(x_t)):
        u = x_t[t]
        new_state: List[Tensor] = []
        for i in range(len(sizes)):
            n = sizes[i]
            own = state[i] * keep_t[t] if keep is not None else state[i]
            layer_wu, layer_bias = wu_t[i], bias[i]
            if layer_wu is None or layer_bias is None:
                g = torch.addmm(u, own, wh_t[i])
            else:
                g = torch.addmm(layer_bias, u, layer_wu).addmm_(own, wh_t[i])
            tau, a = w_tau[i], amp[i]
            if tau is not None and a is not None:
                first = g
                second = torch.exp((tau + g.abs()) * -dt_t[t])
                out = torch.addcmul(a, a * second, g, value=-1.0)
            else:
                pre_f, pre_a, pre_b = g.split([2 * n, n, n], 1)
                first = torch.tanh(pre_f)
                f1, f2 = first.chunk(2, 1)
                second = torch.sigmoid(torch.addcmul(pre_b, pre_a, dt_t[t]))
                if mode == "default":
                    out = torch.lerp(f1, f2, second)
                else:
                    out = torch.addcmul(f1, second, f2)
            record[4 * i].append(own)
            record[4 * i + 1].append(out)
            record[4 * i + 2].append(first)
            record[4 * i + 3].append(second)
            new_state.append(out)
            u = out
        state = new_state
    return record


def _backward_loop(
    grad_out: List[Tensor],
    keep: Optional[Tensor],
    wu: List[Optional[Tensor]],
    wh: List[Tensor],
    coef: List[Tensor],
) -> List[List[Tensor]]:
    """Walk steps and layers in reverse. ``grad_out[i]``: layer ``i``'s output gradient
    ``(T, B, H)``; ``coef[i]``: ``(T, B, k, H)`` with the pre-activations' gradient
    ``gg = (dL/dh' * coef).flatten()`` (``k`` = 4 gates, or 1 in mode ``"pure"``).
    Returns per layer the pre-activation gradients (steps in reverse order) then the initial
    state's gradient; then per layer the new states' gradients (reverse order)."""
    count = len(wh)
    grad_t = [g.unbind(0) for g in grad_out]
    coef_t = [c.unbind(0) for c in coef]
    keep_t = keep.unbind(0) if keep is not None else grad_t[0]
    g_pre: List[List[Tensor]] = [[] for _ in range(count)]
    g_state: List[List[Tensor]] = [[] for _ in range(count)]
    g_next = [torch.zeros_like(grad_t[i][0]) for i in range(count)]
    for t in range(len(grad_t[0]) - 1, -1, -1):
        g_h = [grad_t[i][t] + g_next[i] for i in range(count)]
        for i in range(count - 1, -1, -1):
            gh = g_h[i]
            gg = (gh.unsqueeze(1) * coef_t[i][t]).flatten(1)
            g_state[i].append(gh)
            g_pre[i].append(gg)
            g_in = torch.mm(gg, wh[i])
            g_next[i] = g_in * keep_t[t] if keep is not None else g_in
            layer_wu = wu[i]
            if layer_wu is not None:
                g_h[i - 1] = torch.addmm(g_h[i - 1], gg, layer_wu)
    return [g_pre[i] + [g_next[i]] for i in range(count)] + g_state


def _gate_coefficients(mode: str, first: Tensor, second: Tensor, dt: Tensor, amp: Optional[Tensor]) -> Tensor:
    """``d g / d h'`` factors ``(T, B, k, H)`` of one layer from its forward record.

    Gated modes (``k = 4``, blocks ``[f1, f2, ta, tb]``): with ``F = tanh(f)``, gate ``s``,
    ``h' = F1 (1 - s) + F2 s`` (``"default"``) or ``F1 + F2 s`` (``"no_gate"``), and
    ``s = sigmoid(ta dt + tb)``. Mode ``"pure"`` (``k = 1``): ``h' = A - A e g`` with
    ``e = exp(-dt (|w_tau| + |g|))``, so ``dh'/dg = A e (dt |g| - 1)``.
    """
    if amp is not None:
        return ((dt * first.abs() - 1.0) * second * amp).unsqueeze(2)
    f1, f2 = first.chunk(2, -1)
    s = second
    ds = s * (1.0 - s)
    if mode == "default":
        c1, c_s = 1.0 - s, (f2 - f1) * ds
    else:
        c1, c_s = torch.ones_like(s), f2 * ds
    return torch.stack([c1 * (1.0 - f1 * f1), s * (1.0 - f2 * f2), c_s * dt, c_s], 2)


class _CfCScan(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        h0: Tensor,
        x_terms: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        mode: str,
        sizes: tuple[int, ...],
        *flat: Optional[Tensor],
    ) -> Tensor:
        wu_t, bias, wh_t, w_tau, amp = (list(flat[k::5]) for k in range(5))
        record = scripted(_forward_loop)(
            list(h0.split(sizes, 1)), x_terms, dt, keep, mode, list(sizes),
            wu_t, bias, wh_t, w_tau, amp,
        )
        stacked = [torch.stack(r) for r in record]  # per layer: entering, leaving, first, second
        ctx.mode, ctx.sizes = mode, sizes
        ctx.save_for_backward(dt, keep, *stacked, *flat)
        return torch.cat(stacked[1::4], 2)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Optional[Tensor], ...]:
        mode: str = ctx.mode
        sizes: tuple[int, ...] = ctx.sizes
        count = len(sizes)
        dt, keep, *rest = ctx.saved_tensors
        records = [rest[4 * i : 4 * i + 4] for i in range(count)]
        wu_t, bias, wh_t, w_tau, amp = (list(rest[4 * count + k :: 5]) for k in range(5))
        coef = [
            _gate_coefficients(mode, first, second, dt, amp[i])
            for i, (_, _, first, second) in enumerate(records)
        ]
        result = scripted(_backward_loop)(
            list(grad_out.split(sizes, 2)), keep,
            [None if w is None else w.t() for w in wu_t], [w.t() for w in wh_t], coef,
        )
        steps, batch = dt.shape[:2]
        grads: list[Optional[Tensor]] = [torch.cat([r[-1] for r in result[:count]], 1)]
        layer_grads: list[Optional[Tensor]] = []
        for i, (entering, _, first, second) in enumerate(records):
            g_pre = torch.stack(result[i][-2::-1])  # (T, B, G), back in time order
            if i == 0:
                grads += [g_pre, None, None, None, None]
            flat_g = g_pre.reshape(steps * batch, -1)
            below = records[i - 1][1].reshape(steps * batch, -1) if i > 0 else None
            g_tau = g_amp = None
            a = amp[i]
            if a is not None:
                g_new = torch.stack(result[count + i][::-1])  # dL/dh' per step
                g_tau = (g_new * a * first * second * dt).sum((0, 1)).unsqueeze(0)
                g_amp = (g_new * (1.0 - second * first)).sum((0, 1)).unsqueeze(0)
            layer_grads += [
                None if below is None else below.t() @ flat_g,
                None if below is None else flat_g.sum(0),
                entering.reshape(steps * batch, -1).t() @ flat_g,
                g_tau,
                g_amp,
            ]
        return tuple(grads + layer_grads)
