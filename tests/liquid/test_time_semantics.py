"""Time semantics tested on the equations: closed forms, an independent ODE solver, bounds."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from lnn_control.liquid import (
    CfC,
    CfCCell,
    LTC,
    LTCCell,
    AutoNCP,
    FullyConnected,
    LiquidSequence,
    MixedMemoryCell,
    WiredCfCCell,
)

INPUTS = 4


def ltc_cell(unfolds=6, implicit=True, seed=0):
    torch.manual_seed(seed)
    return LTCCell(AutoNCP(10, 3, seed=seed), INPUTS, ode_unfolds=unfolds,
                   implicit_param_constraints=implicit).double()


def test_one_step_equals_k_steps_of_dt_over_k_with_as_many_sub_steps():
    """A step of dt with 6k sub-steps is exactly k steps of dt/k with 6 sub-steps each."""
    coarse = ltc_cell(6)
    for k in (2, 5):
        fine = ltc_cell(6 * k)
        fine.load_state_dict(coarse.state_dict())
        x = torch.randn(3, INPUTS, dtype=torch.float64)
        h = torch.randn(3, 10, dtype=torch.float64) * 0.5
        dt = torch.tensor([[0.3], [1.0], [2.5]], dtype=torch.float64)
        _, one = fine(x, h, dt)
        many = h
        for _ in range(k):
            _, many = coarse(x, many, dt / k)
        torch.testing.assert_close(one, many, atol=1e-12, rtol=0)


def leaky_cell(unfolds):
    """An LTC cell with every synapse weight zero: a bank of leaky integrators."""
    cell = ltc_cell(unfolds, implicit=False)
    with torch.no_grad():
        cell.w.zero_()
        cell.sensory_w.zero_()
    return cell


@torch.no_grad()
@pytest.mark.parametrize("unit", [0.005, 0.25])
def test_a_time_unit_is_dt_counted_in_that_unit(unit):
    """An LTC whose unit is ``unit`` seconds, stepped by ``dt`` seconds, is the same LTC with unit 1
    stepped by ``dt / unit`` (ncps's one unit per step at ``dt = unit``), state and output."""
    seconds = ltc_cell(6)
    scaled = LTCCell(AutoNCP(10, 3, seed=0), INPUTS, ode_unfolds=6, implicit_param_constraints=True,
                     time_unit_s=unit).double()
    scaled.load_state_dict(seconds.state_dict())
    x = torch.randn(3, INPUTS, dtype=torch.float64)
    h = torch.randn(3, 10, dtype=torch.float64) * 0.5
    dt = torch.tensor([[0.001], [0.005], [0.02]], dtype=torch.float64)
    y_scaled, h_scaled = scaled(x, h, dt)
    y_units, h_units = seconds(x, h, dt / unit)
    torch.testing.assert_close(h_scaled, h_units, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y_scaled, y_units, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(h_scaled, seconds(x, h, dt)[1])  # the unit does change the step


def test_leaky_integrator_follows_the_discrete_closed_form_exactly():
    """Semi-implicit Euler on cm v' = gl (vl - v) (with ncps's eps in the denominator):
    v_n = v* + (v0 - v*) r^n, r = cm / (cm + h (gl + eps)), v* = gl vl / (gl + eps)."""
    cell = leaky_cell(6)
    v0 = torch.randn(2, 10, dtype=torch.float64)
    dt = torch.tensor([[0.7], [3.0]], dtype=torch.float64)
    _, v = cell(torch.randn(2, INPUTS, dtype=torch.float64), v0, dt)
    gl, vl, cm, eps = cell.gleak, cell.vleak, cell.cm, cell.epsilon
    h = dt / 6
    fixed = gl * vl / (gl + eps)
    expected = fixed + (v0 - fixed) * (cm / (cm + h * (gl + eps))) ** 6
    torch.testing.assert_close(v, expected, atol=1e-12, rtol=0)


@torch.no_grad()
def test_leaky_integrator_converges_to_the_exponential_at_first_order():
    """v(t) = vl + (v0 - vl) exp(-gl t / cm); the error halves when the step count doubles."""
    cell = leaky_cell(1)
    v0 = torch.randn(1, 10, dtype=torch.float64)
    t_end = 2.0
    gl, vl, cm = cell.gleak, cell.vleak, cell.cm
    exact = vl + (v0 - vl) * torch.exp(-gl * t_end / cm)
    errors = []
    for k in (50, 100, 200, 400):
        v = v0
        for _ in range(k):
            _, v = cell(torch.zeros(1, INPUTS, dtype=torch.float64), v, t_end / k)
        errors.append(float((v - exact).abs().max()))
    ratios = [a / b for a, b in zip(errors, errors[1:])]
    assert all(1.9 < r < 2.1 for r in ratios), (errors, ratios)


def ltc_ode(cell, x):
    """dv/dt of the LTC equations written out in numpy, from the cell's parameters (implicit
    softplus constraints), for a constant input ``x (I,)``. Independent of the solver code."""
    p = {k: v.detach().numpy() for k, v in cell.named_parameters()}
    pos = lambda a: np.log1p(np.exp(a))  # noqa: E731 - softplus
    sigmoid = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    mask = cell.sparsity_mask.numpy()
    smask = cell.sensory_sparsity_mask.numpy()
    xs = x * p["input_w"] + p["input_b"]
    sens = pos(p["sensory_w"]) * smask * sigmoid(p["sensory_sigma"] * (xs[:, None] - p["sensory_mu"]))
    gl, cm, w = pos(p["gleak"]), pos(p["cm"]), pos(p["w"]) * mask

    def rhs(_t, v):
        syn = w * sigmoid(p["sigma"] * (v[:, None] - p["mu"]))  # [src, dest]
        current = gl * (p["vleak"] - v) + (syn * (p["erev"] - v[None, :])).sum(0)
        current += (sens * (p["sensory_erev"] - v[None, :])).sum(0)
        return current / cm

    return rhs


def test_k_steps_of_dt_over_k_converge_to_the_ode_solution():
    """One step of dt differs from the true solution by the solver's first-order error; k steps
    of dt/k converge to it as k grows, so they approach the one step within that error."""
    cell = ltc_cell(6, implicit=True, seed=3)
    x = np.random.default_rng(0).normal(size=INPUTS)
    v0 = np.random.default_rng(1).normal(size=10) * 0.3
    dt = 1.5
    reference = solve_ivp(ltc_ode(cell, x), (0.0, dt), v0, rtol=1e-11, atol=1e-12,
                          method="DOP853").y[:, -1]
    xt = torch.tensor(x).unsqueeze(0)

    @torch.no_grad()
    def run(k):
        v = torch.tensor(v0).unsqueeze(0)
        for _ in range(k):
            _, v = cell(xt, v, dt / k)
        return v[0].numpy()

    one = run(1)
    errors = {k: float(np.abs(run(k) - reference).max()) for k in (1, 4, 16, 64, 256)}
    ks = sorted(errors)
    assert all(errors[a] > errors[b] for a, b in zip(ks, ks[1:])), errors
    assert 3.5 < errors[64] / errors[256] < 4.5, errors  # first order: 4x the steps, 1/4 error
    gap = float(np.abs(one - run(256)).max())
    assert abs(gap - errors[1]) <= errors[256] * 1.01, (gap, errors)


def test_zero_time_step_leaves_ltc_state_unchanged():
    cell = ltc_cell(6)
    h = torch.randn(4, 10, dtype=torch.float64)
    _, same = cell(torch.randn(4, INPUTS, dtype=torch.float64), h, 0.0)
    torch.testing.assert_close(same, h, atol=1e-15, rtol=0)


# -- bounded over 10,000 steps of random input ---------------------------------------------

STEPS = 10_000
DT_MIN = 0.05


def run_long(sequence):
    torch.manual_seed(5)
    x = torch.randn(3, STEPS, sequence.input_size) * 5.0
    dt = torch.rand(3, STEPS) * 2.0 + DT_MIN
    with torch.no_grad():
        prep = sequence.cell.prepare()
        from lnn_control.liquid.base import sequence_dt

        states = sequence.cell.scan(
            sequence.cell.input_terms(x, prep), x.new_zeros(3, sequence.state_size),
            sequence_dt(dt, x), None, prep,
        )
    assert torch.isfinite(states).all()
    return states


@pytest.mark.parametrize("implicit", [True, False])
def test_ltc_states_stay_within_the_reversal_potentials(implicit):
    """Each sub-step is a convex combination of v, vleak and the reversal potentials."""
    torch.manual_seed(0)
    sequence = LTC(INPUTS, AutoNCP(12, 3), implicit_param_constraints=implicit)
    cell = sequence.cell
    with torch.no_grad():
        cell.erev.mul_(3.0)  # spread the reversal potentials beyond +-1
        cell.apply_weight_constraints()
    states = run_long(sequence)
    bound = [p.detach() for p in (cell.vleak, cell.erev, cell.sensory_erev)] + [torch.zeros(1)]
    low = min(float(b.min()) for b in bound)
    high = max(float(b.max()) for b in bound)
    assert low - 1e-5 <= float(states.min()) and float(states.max()) <= high + 1e-5


@pytest.mark.parametrize("wired", [False, True])
@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
def test_cfc_states_stay_within_their_closed_form_bounds(mode, wired):
    """default: a convex mix of tanh values (|h| <= 1); no_gate: tanh + gate * tanh (|h| <= 2);
    pure: |h - A| = |A| e^(-dt |g|) |g| <= |A| / (e dt)."""
    torch.manual_seed(0)
    units = AutoNCP(12, 3) if wired else 12
    sequence = CfC(INPUTS, units, mode=mode)
    states = run_long(sequence)
    if mode == "pure":
        cells = sequence.cell.layers if wired else [sequence.cell]
        amplitude = torch.cat([c.A.detach().flatten() for c in cells])  # state layout order
        assert ((states - amplitude).abs() <= amplitude.abs() / (math.e * DT_MIN) + 1e-5).all()
    else:
        assert float(states.abs().max()) <= (1.0 if mode == "default" else 2.0) + 1e-6


def test_mixed_memory_states_stay_bounded():
    torch.manual_seed(0)
    sequence = LiquidSequence(MixedMemoryCell(LTCCell(AutoNCP(10, 3), INPUTS,
                                                      implicit_param_constraints=True)))
    states = run_long(sequence)
    assert float(states[..., 10:].abs().max()) < 1e3  # the LSTM memory stays finite and sane


def test_wired_cfc_honours_recurrent_command_synapses_when_asked():
    """Mode pure has no dense time gates, so d h'_i / d h_j is nonzero exactly where the mask
    lets neuron j feed neuron i: every pair (ncps) or the wiring's synapses plus self."""
    wiring = AutoNCP(16, 3, sparsity_level=0.6, seed=2)
    for honour in (False, True):
        torch.manual_seed(0)
        cell = WiredCfCCell(INPUTS, AutoNCP(16, 3, sparsity_level=0.6, seed=2), "pure",
                            wiring_recurrence=honour).double()
        wiring.build(INPUTS)
        command = wiring.get_neurons_of_layer(1)
        position = {neuron: i for i, neuron in enumerate(cell.neuron_ids)}
        cols = [position[n] for n in command]
        x = torch.randn(1, INPUTS, dtype=torch.float64)
        h = torch.randn(1, cell.state_size, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(lambda s: cell(x, s, 0.5)[1], h)[0, :, 0, :]
        block = jac[cols][:, cols].abs() > 0  # [dest, src] among command neurons
        synapses = np.abs(wiring.adjacency_matrix[np.ix_(command, command)]).T > 0
        expected = np.ones_like(synapses) if not honour else synapses | np.eye(len(command), dtype=bool)
        np.testing.assert_array_equal(block.numpy(), expected)
        assert synapses.sum() > 0 and not synapses.all()


def test_dense_cells_run_long_too():
    """Unwired CfC with a backbone and a fully connected LTC (dense masks) stay finite."""
    torch.manual_seed(0)
    run_long(LiquidSequence(CfCCell(INPUTS, 8, backbone_layers=2, backbone_units=8)))
    run_long(LTC(INPUTS, FullyConnected(6)))
