"""Same weights, same numbers as ncps 1.0.1 (the reference implementation), within 1e-5.

Batch 1 is compared with ncps's sequence modules; batch > 1 with a different time step for every
sample and step is compared with ncps's cells called step by step (its sequence wrappers cannot
do that: its issues 81-83). Gradients of our fused backward pass are compared with autograd
through ncps.
"""

import copy

import ncps.torch
import ncps.wirings
import pytest
import torch

from lnn_control.liquid.ncps_compat import from_ncps

TOL = {"atol": 1e-5, "rtol": 0.0}
INPUTS, STEPS, BATCH = 5, 25, 6

WIRINGS = {
    "AutoNCP(19,4)": lambda: ncps.wirings.AutoNCP(19, 4),
    "AutoNCP(12,3,0.7,seed5)": lambda: ncps.wirings.AutoNCP(12, 3, 0.7, seed=5),
    "NCP(5,4,2)": lambda: ncps.wirings.NCP(5, 4, 2, 3, 2, 3, 2, seed=7),
    "FullyConnected(8,3)": lambda: ncps.wirings.FullyConnected(8, 3),
}

LTC_CASES = [
    pytest.param(w, implicit, mixed, "affine", "affine", 6, id=f"{w}-implicit{implicit}-mixed{mixed}")
    for w in WIRINGS
    for implicit in (True, False)
    for mixed in (False, True)
] + [
    pytest.param("AutoNCP(19,4)", True, False, "linear", "none", 6, id="linear-in-no-out"),
    pytest.param("NCP(5,4,2)", False, False, "none", "linear", 2, id="no-in-linear-out-2unfolds"),
]

CFC_CASES = [
    pytest.param(dict(units=w), mode, mixed, id=f"wired-{w}-{mode}-mixed{mixed}")
    for w in ("AutoNCP(12,3,0.7,seed5)", "NCP(5,4,2)", "FullyConnected(8,3)")
    for mode in ("default", "no_gate", "pure")
    for mixed in (False, True)
] + [
    pytest.param(dict(units=9, **backbone), mode, mixed, id=f"dense-{name}-{mode}-mixed{mixed}")
    for name, backbone in {
        "backbone1x16": dict(backbone_units=16, backbone_layers=1),
        "nobackbone": dict(backbone_layers=0),
        "backbone2x8silu": dict(backbone_units=8, backbone_layers=2, activation="silu"),
        "proj3": dict(backbone_units=16, backbone_layers=1, proj_size=3),
    }.items()
    for mode in ("default", "no_gate", "pure")
    for mixed in (False, True)
]


def make_ltc(wiring, implicit, mixed, input_mapping, output_mapping, unfolds):
    return ncps.torch.LTC(
        INPUTS, WIRINGS[wiring](), mixed_memory=mixed, input_mapping=input_mapping,
        output_mapping=output_mapping, ode_unfolds=unfolds, implicit_param_constraints=implicit,
    )


def make_cfc(kwargs, mode, mixed):
    kwargs = dict(kwargs)
    units = kwargs.pop("units")
    units = WIRINGS[units]() if isinstance(units, str) else units
    return ncps.torch.CfC(INPUTS, units, mode=mode, mixed_memory=mixed, **kwargs)


def random_inputs(batch):
    x = torch.randn(batch, STEPS, INPUTS)
    dt = torch.rand(batch, STEPS) * 1.5 + 0.01
    return x, dt


def initial_state(reference, batch):
    h = torch.randn(batch, reference.state_size) * 0.3
    c = torch.randn(batch, reference.state_size) * 0.3 if reference.use_mixed else None
    return h, c


def reference_step_by_step(reference, x, dt, h, c):
    """ncps's cell (and its mixed-memory LSTM) called one step at a time, time (B, 1) per step."""
    outputs = []
    for t in range(x.shape[1]):
        if c is not None:
            h, c = reference.lstm(x[:, t], (h, c))
        y, h = reference.rnn_cell(x[:, t], h, dt[:, t : t + 1])
        outputs.append(reference.fc(y) if hasattr(reference, "fc") else y)
    return torch.stack(outputs, 1), h, c


def ours_state(h, c):
    return h if c is None else torch.cat([h, c], 1)


def check_batch1_against_sequence(reference):
    ours = from_ncps(reference)
    x, dt = random_inputs(1)
    h, c = initial_state(reference, 1)
    with torch.no_grad():
        y_ref, state_ref = reference(x, (h, c) if c is not None else h, dt)
        y, state = ours(x, ours_state(h, c), dt)
    torch.testing.assert_close(y, y_ref, **TOL)
    expected = torch.cat(state_ref, 1) if c is not None else state_ref
    torch.testing.assert_close(state, expected, **TOL)


def check_batch_against_cells(reference):
    ours = from_ncps(reference)
    x, dt = random_inputs(BATCH)
    h, c = initial_state(reference, BATCH)
    with torch.no_grad():
        y_ref, h_ref, c_ref = reference_step_by_step(reference, x, dt, h, c)
        y, state = ours(x, ours_state(h, c), dt)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(state, ours_state(h_ref, c_ref), **TOL)


def check_gradients(reference):
    """d loss / d every parameter: our fused backward vs autograd through ncps (batch 1)."""
    torch.manual_seed(3)
    ours = from_ncps(reference)
    x, dt = random_inputs(1)
    y_ref, _ = reference(x, None, dt)
    y, _ = ours(x, None, dt)
    (y_ref**2).sum().backward()
    (y**2).sum().backward()
    # A copy of ncps's module whose weights are its gradients, converted by from_ncps, names
    # every gradient the way ours does.
    grads = copy.deepcopy(reference)
    with torch.no_grad():
        for p, g in zip(grads.parameters(), reference.parameters()):
            if g.grad is not None:
                p.copy_(g.grad)
    expected = dict(from_ncps(grads).named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize(("wiring", "implicit", "mixed", "input_map", "output_map", "unfolds"),
                         LTC_CASES)
def test_ltc_matches_ncps(wiring, implicit, mixed, input_map, output_map, unfolds):
    torch.manual_seed(0)
    reference = make_ltc(wiring, implicit, mixed, input_map, output_map, unfolds)
    check_batch1_against_sequence(reference)
    check_batch_against_cells(reference)


@pytest.mark.parametrize(("kwargs", "mode", "mixed"), CFC_CASES)
def test_cfc_matches_ncps(kwargs, mode, mixed):
    torch.manual_seed(1)
    reference = make_cfc(kwargs, mode, mixed)
    check_batch1_against_sequence(reference)
    check_batch_against_cells(reference)


@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize("wiring", ["AutoNCP(19,4)", "FullyConnected(8,3)"])
def test_ltc_gradients_match_ncps(wiring, implicit):
    torch.manual_seed(2)
    check_gradients(make_ltc(wiring, implicit, False, "affine", "affine", 6))


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("units", ["AutoNCP(12,3,0.7,seed5)", 9])
def test_cfc_gradients_match_ncps(units, mode):
    torch.manual_seed(2)
    kwargs = {"units": units} if isinstance(units, str) else {"units": units, "backbone_layers": 0}
    check_gradients(make_cfc(kwargs, mode, False))


def test_cells_convert_directly():
    torch.manual_seed(4)
    wiring = ncps.wirings.AutoNCP(10, 3)
    for reference in (
        ncps.torch.LTCCell(wiring, INPUTS),
        ncps.torch.WiredCfCCell(INPUTS, ncps.wirings.AutoNCP(10, 3), "no_gate"),
        ncps.torch.CfCCell(INPUTS, 7, "pure", backbone_layers=2, backbone_units=6),
    ):
        ours = from_ncps(reference)
        size = getattr(reference, "state_size", None) or reference.hidden_size  # ncps CfCCell
        x, h = torch.randn(BATCH, INPUTS), torch.randn(BATCH, size) * 0.3
        dt = torch.rand(BATCH, 1)
        with torch.no_grad():
            expected = reference(x, h, dt)
            got = ours(x, h, dt)
        torch.testing.assert_close(got[0], expected[0], **TOL)
        torch.testing.assert_close(got[1], expected[1], **TOL)


def test_same_seed_same_initial_weights_as_ncps():
    """Parameters are created in ncps's order with ncps's initialisers."""
    from lnn_control.liquid import AutoNCP, CfCCell, LTCCell

    for make_ours, make_theirs in (
        (lambda: LTCCell(AutoNCP(10, 3), INPUTS),
         lambda: ncps.torch.LTCCell(ncps.wirings.AutoNCP(10, 3), INPUTS)),
        (lambda: CfCCell(INPUTS, 8, backbone_units=12),
         lambda: ncps.torch.CfCCell(INPUTS, 8, backbone_units=12)),
    ):
        torch.manual_seed(7)
        ours = make_ours().state_dict()
        torch.manual_seed(7)
        theirs = make_theirs().state_dict()
        assert ours.keys() == theirs.keys()
        for key in ours:
            torch.testing.assert_close(ours[key], theirs[key], atol=0, rtol=0, msg=key)


def test_unsupported_module_is_refused():
    from lnn_control.errors import ConfigError

    with pytest.raises(ConfigError, match="from_ncps converts"):
        from_ncps(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="batch-first"):
        from_ncps(ncps.torch.CfC(INPUTS, 4, batch_first=False))
