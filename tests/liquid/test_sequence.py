"""Sequence modules: per-sample time steps at any batch size, episode resets, input checks."""

import ncps.torch
import ncps.wirings
import pytest
import torch

from lnn_control.errors import ShapeError
from lnn_control.liquid import CfC, LTC, AutoNCP
from lnn_control.liquid.ncps_compat import from_ncps

INPUTS = 4
MAKERS = {
    "LTC": lambda: LTC(INPUTS, AutoNCP(10, 3)),
    "CfC": lambda: CfC(INPUTS, AutoNCP(10, 3)),
    "CfC-mixed": lambda: CfC(INPUTS, 8, mixed_memory=True),
}


@pytest.mark.parametrize("name", MAKERS)
def test_reset_mask_equals_running_episodes_separately(name):
    """A batch row holding two episodes gives what the two episodes give on their own."""
    torch.manual_seed(0)
    sequence = MAKERS[name]()
    x = torch.randn(1, 12, INPUTS)
    dt = torch.rand(1, 12) + 0.05
    reset = torch.zeros(1, 12, dtype=torch.bool)
    reset[0, 7] = True
    h0 = torch.randn(1, sequence.state_size) * 0.2
    with torch.no_grad():
        joined, last = sequence(x, h0, dt, reset)
        first, _ = sequence(x[:, :7], h0, dt[:, :7])
        second, last_alone = sequence(x[:, 7:], None, dt[:, 7:])
    torch.testing.assert_close(joined, torch.cat([first, second], 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(last, last_alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", MAKERS)
def test_every_sample_gets_its_own_time_step(name):
    """Row b of a batch equals that row run alone with its own time steps."""
    torch.manual_seed(1)
    sequence = MAKERS[name]()
    x = torch.randn(5, 9, INPUTS)
    dt = torch.rand(5, 9) * 2
    with torch.no_grad():
        batched, _ = sequence(x, None, dt)
        for b in range(5):
            alone, _ = sequence(x[b : b + 1], None, dt[b : b + 1])
            torch.testing.assert_close(batched[b : b + 1], alone, atol=1e-6, rtol=0)


def test_ncps_wrappers_fail_or_are_wrong_at_batch_above_one_where_ours_is_right():
    """ncps issues 81-83: per-sample timespans break its sequence wrappers."""
    torch.manual_seed(2)
    units = 6
    reference = ncps.torch.CfC(INPUTS, units, backbone_layers=0)
    ours = from_ncps(reference)
    x = torch.randn(units, 5, INPUTS)  # batch == units: ncps broadcasts dt along the units
    dt = torch.rand(units, 5) + 0.1
    with torch.no_grad():
        wrong, _ = reference(x, None, dt)
        mine, _ = ours(x, None, dt)
        h = torch.zeros(units, units)
        truth = []
        for t in range(5):
            h, _ = reference.rnn_cell(x[:, t], h, dt[:, t : t + 1])
            truth.append(h)
    truth = torch.stack(truth, 1)
    torch.testing.assert_close(mine, truth, atol=1e-6, rtol=0)
    assert (wrong - truth).abs().max() > 1e-3  # silently wrong
    ltc = ncps.torch.LTC(INPUTS, ncps.wirings.AutoNCP(10, 3))
    with pytest.raises(RuntimeError):  # fails outright when batch != units
        ltc(torch.randn(3, 5, INPUTS), None, torch.rand(3, 5))


@pytest.mark.parametrize("name", MAKERS)
def test_time_step_forms_agree(name):
    torch.manual_seed(3)
    sequence = MAKERS[name]()
    x = torch.randn(2, 6, INPUTS)
    with torch.no_grad():
        reference, _ = sequence(x, None, torch.full((2, 6), 0.25))
        for dt in (0.25, torch.tensor(0.25), torch.full((2, 6, 1), 0.25)):
            torch.testing.assert_close(sequence(x, None, dt)[0], reference, atol=0, rtol=0)
        default, _ = sequence(x)
        torch.testing.assert_close(default, sequence(x, None, 1.0)[0], atol=0, rtol=0)


def test_return_sequences_false_gives_the_last_output():
    torch.manual_seed(4)
    full = LTC(INPUTS, AutoNCP(10, 3))
    last = LTC(INPUTS, AutoNCP(10, 3), return_sequences=False)
    last.load_state_dict(full.state_dict())
    x = torch.randn(2, 5, INPUTS)
    with torch.no_grad():
        torch.testing.assert_close(last(x)[0], full(x)[0][:, -1], atol=0, rtol=0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s(torch.randn(5, INPUTS)), r"shape \(batch, time, 4\)"),
        (lambda s: s(torch.randn(2, 5, 3)), r"shape \(batch, time, 4\)"),
        (lambda s: s(torch.randn(2, 5, INPUTS), torch.zeros(3, 10)), r"h0 must have shape \(2, 10\)"),
        (lambda s: s(torch.randn(2, 5, INPUTS), None, torch.ones(2, 4)), r"dt must be None"),
        (lambda s: s(torch.randn(2, 5, INPUTS), None, None, torch.zeros(2, 4)), r"reset must have"),
    ],
)
def test_bad_shapes_are_named(call, message):
    with pytest.raises(ShapeError, match=message):
        call(LTC(INPUTS, AutoNCP(10, 3)))


def test_cell_input_checks():
    cell = LTC(INPUTS, AutoNCP(10, 3)).cell
    with pytest.raises(ShapeError, match=r"shape \(batch, 4\)"):
        cell(torch.randn(2, 3))
    with pytest.raises(ShapeError, match=r"state h must have shape \(2, 10\)"):
        cell(torch.randn(2, INPUTS), torch.zeros(2, 9))
    with pytest.raises(ShapeError, match=r"dt must be a float"):
        cell(torch.randn(2, INPUTS), None, torch.ones(3))
