"""The LTC recurrence over a whole sequence as one autograd node, with a hand-written backward.

Autograd through a Python loop of ``T * ode_unfolds`` sub-steps records about ten small nodes per
sub-step, and for 19-neuron networks the per-node overhead, not arithmetic, is the cost. Here the
forward pass runs the same sub-step (see :mod:`lnn_control.liquid.ltc`) with no autograd graph,
keeping what the backward pass needs in preallocated buffers; the backward pass walks the sub-steps
in reverse computing only the state gradient, and reduces every parameter gradient at the end in a
handful of large operations. Both loops run as TorchScript functions (see :mod:`.kernels`).
Checked against autograd by ``torch.autograd.gradcheck`` in the tests.

Sub-step (edge list: synapse ``e`` from neuron ``src[e]`` to ``dst[e]``)::

    s_e  = sigmoid(smu_e + sigma_e * v[src_e])
    num  = num_in + cm * v + scatter_dst(s * w_num)
    den  = den_in + scatter_dst(s * w_den)
    v'   = num / den
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lnn_control.liquid.kernels import scripted

__all__ = ["ltc_scan"]


def ltc_scan(
    v0: Tensor,
    num_in: Tensor,
    den_in: Tensor,
    cm: Tensor,
    w_num: Tensor,
    w_den: Tensor,
    sigma: Tensor,
    smu: Tensor,
    src: Tensor,
    dst: Tensor,
    keep: Optional[Tensor],
    unfolds: int,
) -> Tensor:
    """Run ``T`` LTC steps of ``unfolds`` sub-steps each; differentiable in every float input.

    Time-major shapes (``T`` steps, batch ``B``, ``N`` neurons, ``E`` synapses), all per sub-step
    quantities already multiplied by the sub-step length ``h = dt / unfolds``:

    :param v0: initial state ``(B, N)``.
    :param num_in: ``h * (gleak vleak + sensory numerator)`` for each step, ``(T, B, N)``.
    :param den_in: ``cm + h * (gleak + eps + sensory denominator)``, ``(T, B, N)``.
    :param cm: membrane capacitance ``(N,)``.
    :param w_num: ``h * w * erev`` per synapse and step, ``(T, B, E)``.
    :param w_den: ``h * w`` per synapse and step, ``(T, B, E)``.
    :param sigma: synapse slopes ``(E,)``; ``smu``: ``-sigma * mu``, ``(E,)``.
    :param src: presynaptic neuron of each synapse ``(E,)`` (long); ``dst``: postsynaptic.
    :param keep: ``(T, B, 1)``: the state is multiplied by it before each step (0 resets);
        ``None`` for no resets.
    :param unfolds: sub-steps per step.
    :return: the state after each step, ``(T, B, N)``.
    """
    return _LTCScan.apply(
        v0, num_in, den_in, cm, w_num, w_den, sigma, smu, src, dst, keep, unfolds
    )


def _forward_loop(
    v0: Tensor,
    num_in: Tensor,
    den_in: Tensor,
    cm: Tensor,
    w_num: Tensor,
    w_den: Tensor,
    sigma: Tensor,
    smu: Tensor,
    src: Tensor,
    dst: Tensor,
    keep: Optional[Tensor],
    unfolds: int,
    v_in: Tensor,
    pre: Tensor,
    act: Tensor,
    den: Tensor,
) -> None:
    """Fill the buffers, flat over (step, sub-step) with ``j = t * unfolds + k``:
    ``v_in[t * (unfolds + 1) + k]`` the state entering sub-step ``k`` of step ``t``
    (``k = unfolds``: the step's result), ``pre[j]`` presynaptic potentials, ``act[j]`` synapse
    activations, ``den[j]`` denominators."""
    num_t, den_t = num_in.unbind(0), den_in.unbind(0)
    w_num_t, w_den_t = w_num.unbind(0), w_den.unbind(0)
    keep_t = keep.unbind(0) if keep is not None else num_t
    v = v0
    for t in range(len(num_t)):
        if keep is not None:
            v = v * keep_t[t]
        base = t * (unfolds + 1)
        v_in[base].copy_(v)
        for k in range(unfolds):
            j = t * unfolds + k
            presyn = torch.index_select(v, 1, src, out=pre[j])
            s = torch.sigmoid(torch.addcmul(smu, presyn, sigma), out=act[j])
            num = torch.addcmul(num_t[t], cm, v).index_add_(1, dst, s * w_num_t[t])
            d = torch.index_add(den_t[t], 1, dst, s * w_den_t[t], out=den[j])
            v = torch.div(num, d, out=v_in[base + k + 1])


def _backward_loop(
    grad_states: Tensor,
    cm: Tensor,
    w_num: Tensor,
    w_den: Tensor,
    sigma: Tensor,
    src: Tensor,
    dst: Tensor,
    keep: Optional[Tensor],
    unfolds: int,
    v_in: Tensor,
    den: Tensor,
    slope: Tensor,
    g_num: Tensor,
    g_den_neg: Tensor,
    g_num_e: Tensor,
    g_den_e: Tensor,
    g_pre: Tensor,
) -> Tensor:
    """Walk the sub-steps in reverse; fill the per-sub-step gradient buffers (same indexing as
    :func:`_forward_loop`) and return the gradient of the initial state."""
    grad_t = grad_states.unbind(0)
    w_num_t, w_den_t = w_num.unbind(0), w_den.unbind(0)
    keep_t = keep.unbind(0) if keep is not None else grad_t
    g_v = torch.zeros_like(grad_t[0])
    for t in range(len(grad_t) - 1, -1, -1):
        g_v = g_v + grad_t[t]
        for k in range(unfolds - 1, -1, -1):
            j = t * unfolds + k
            gn = torch.div(g_v, den[j], out=g_num[j])
            gd = torch.mul(gn, v_in[t * (unfolds + 1) + k + 1], out=g_den_neg[j])
            gne = torch.index_select(gn, 1, dst, out=g_num_e[j])
            gde = torch.index_select(gd, 1, dst, out=g_den_e[j])
            g_act = torch.addcmul(gne * w_num_t[t], gde, w_den_t[t], value=-1.0)
            gz = torch.mul(g_act, slope[j], out=g_pre[j])
            g_v = (gn * cm).index_add_(1, src, gz * sigma)
        if keep is not None:
            g_v = g_v * keep_t[t]
    return g_v


class _LTCScan(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        v0: Tensor,
        num_in: Tensor,
        den_in: Tensor,
        cm: Tensor,
        w_num: Tensor,
        w_den: Tensor,
        sigma: Tensor,
        smu: Tensor,
        src: Tensor,
        dst: Tensor,
        keep: Optional[Tensor],
        unfolds: int,
    ) -> Tensor:
        steps, batch, n = num_in.shape
        edges = sigma.shape[0]
        v_in = num_in.new_empty(steps, unfolds + 1, batch, n)
        pre = num_in.new_empty(steps, unfolds, batch, edges)
        act = num_in.new_empty(steps, unfolds, batch, edges)
        den = num_in.new_empty(steps, unfolds, batch, n)
        scripted(_forward_loop)(
            v0, num_in, den_in, cm, w_num, w_den, sigma, smu, src, dst, keep, unfolds,
            v_in.flatten(0, 1), pre.flatten(0, 1), act.flatten(0, 1), den.flatten(0, 1),
        )
        ctx.save_for_backward(v_in, pre, act, den, cm, w_num, w_den, sigma, src, dst, keep)
        ctx.unfolds = unfolds
        return v_in[:, unfolds].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_states: Tensor) -> tuple[Optional[Tensor], ...]:
        v_in, pre, act, den, cm, w_num, w_den, sigma, src, dst, keep = ctx.saved_tensors
        unfolds: int = ctx.unfolds
        g_num = torch.empty_like(den)  # dL/d num, per sub-step
        g_den_neg = torch.empty_like(den)  # -dL/d den = g_num * v_out
        g_num_e = torch.empty_like(act)  # g_num at each synapse's target
        g_den_e = torch.empty_like(act)  # g_den_neg at each synapse's target
        g_pre = torch.empty_like(act)  # dL/d (smu + sigma * v_pre)
        g_v0 = scripted(_backward_loop)(
            grad_states.contiguous(), cm, w_num, w_den, sigma, src, dst, keep, unfolds,
            *(b.flatten(0, 1) for b in (v_in, den, act * (1.0 - act))),
            *(b.flatten(0, 1) for b in (g_num, g_den_neg, g_num_e, g_den_e, g_pre)),
        )
        return (
            g_v0,
            g_num.sum(1),
            -g_den_neg.sum(1),
            (g_num * v_in[:, :unfolds]).sum((0, 1, 2)),
            (g_num_e * act).sum(1),
            -(g_den_e * act).sum(1),
            (g_pre * pre).sum((0, 1, 2)),
            g_pre.sum((0, 1, 2)),
            None,
            None,
            None,
            None,
        )
