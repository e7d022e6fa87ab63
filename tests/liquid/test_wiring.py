"""Wirings: same matrices as ncps 1.0.1 for the same seed, NCP structure, config round trips."""

import json

import ncps.wirings
import numpy as np
import pytest
import yaml

from lnn_control.errors import ConfigError
from lnn_control.liquid import NCP, AutoNCP, FullyConnected, Random, Wiring, wiring_from_config

# (our class, ncps class, constructor args, input size)
CASES = [
    (AutoNCP, ncps.wirings.AutoNCP, (19, 4), 32),
    (AutoNCP, ncps.wirings.AutoNCP, (12, 3, 0.7, 5), 6),
    (AutoNCP, ncps.wirings.AutoNCP, (40, 8, 0.3, 123), 17),
    (NCP, ncps.wirings.NCP, (6, 5, 2, 3, 3, 4, 2, 9), 5),
    (NCP, ncps.wirings.NCP, (10, 8, 3, 4, 4, 6, 4, 1), 20),
    (FullyConnected, ncps.wirings.FullyConnected, (8, 3), 4),
    (FullyConnected, ncps.wirings.FullyConnected, (6, None, 7, False), 3),
    (Random, ncps.wirings.Random, (10, 2, 0.4, 5), 6),
    (Random, ncps.wirings.Random, (7, 7, 0.0, 11), 2),
]


@pytest.mark.parametrize(("ours", "theirs", "args", "inputs"), CASES)
def test_same_seed_gives_ncps_matrices(ours, theirs, args, inputs):
    a, b = ours(*args), theirs(*args)
    a.build(inputs)
    b.build(inputs)
    np.testing.assert_array_equal(a.adjacency_matrix, b.adjacency_matrix)
    np.testing.assert_array_equal(a.sensory_adjacency_matrix, b.sensory_adjacency_matrix)
    assert a.output_dim == b.output_dim
    assert [a.get_type_of_neuron(i) for i in range(a.units)] == [
        b.get_type_of_neuron(i) for i in range(b.units)
    ]


@pytest.mark.parametrize(("ours", "theirs", "args", "inputs"), CASES)
@pytest.mark.parametrize("built", [True, False])
def test_config_round_trips_through_json_and_yaml(ours, theirs, args, inputs, built):
    wiring = ours(*args)
    if built:
        wiring.build(inputs)
    for encode, decode in ((json.dumps, json.loads), (yaml.safe_dump, yaml.safe_load)):
        again = wiring_from_config(decode(encode(wiring.get_config())))
        assert type(again) is type(wiring)
        np.testing.assert_array_equal(again.adjacency_matrix, wiring.adjacency_matrix)
        assert again.input_dim == wiring.input_dim
        if built:
            np.testing.assert_array_equal(
                again.sensory_adjacency_matrix, wiring.sensory_adjacency_matrix
            )


def test_ncps_ncp_config_does_not_round_trip_but_ours_does():
    theirs = ncps.wirings.NCP(6, 5, 2, 3, 3, 4, 2)
    with pytest.raises(Exception):  # ncps issue: get_config gives neuron lists and seed None
        ncps.wirings.NCP.from_config(theirs.get_config()).build(5)
    ours = NCP(6, 5, 2, 3, 3, 4, 2)
    ours.build(5)
    again = NCP.from_config(ours.get_config())
    np.testing.assert_array_equal(again.adjacency_matrix, ours.adjacency_matrix)


def test_explicit_matrix_wiring_round_trips():
    wiring = Wiring(4, 2)
    wiring.build(3)
    wiring.add_synapse(0, 1, -1)
    wiring.add_synapse(3, 3, 1)
    wiring.add_sensory_synapse(2, 0, 1)
    again = wiring_from_config(wiring.get_config())
    np.testing.assert_array_equal(again.adjacency_matrix, wiring.adjacency_matrix)
    np.testing.assert_array_equal(again.sensory_adjacency_matrix, wiring.sensory_adjacency_matrix)


def test_ncp_synapses_follow_the_layers():
    """Sensory -> inter -> command (-> command) -> motor, and every neuron is reached."""
    wiring = AutoNCP(30, 6, sparsity_level=0.6, seed=3)
    wiring.build(10)
    inter, command, motor = (set(wiring.get_neurons_of_layer(i)) for i in range(3))
    assert motor == set(range(6)) and len(command) == 9 and len(inter) == 15  # 40% of 24 -> 9
    targets_of_sensory = set(np.nonzero(wiring.sensory_adjacency_matrix)[1])
    assert targets_of_sensory == inter
    for src, dest in zip(*np.nonzero(wiring.adjacency_matrix)):
        assert (src in inter and dest in command) or (src in command and dest in command | motor)
    assert set(np.nonzero(wiring.adjacency_matrix)[1]) >= command | motor
    assert set(np.unique(wiring.adjacency_matrix)) <= {-1, 0, 1}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AutoNCP(10, 8), "less than units - 2"),
        (lambda: AutoNCP(10, 2, sparsity_level=0.05), "sparsity_level"),
        (lambda: NCP(4, 3, 2, 5, 2, 2, 2), "sensory_fanout"),
        (lambda: Random(5, sparsity_level=1.0), "sparsity_level"),
        (lambda: Wiring(0), "at least 1 unit"),
        (lambda: wiring_from_config({"type": "Banana"}), "unknown wiring type"),
        (lambda: wiring_from_config({"type": "AutoNCP", "units": 8}), "missing the key"),
        (lambda: wiring_from_config({"units": 8}), "'type' key"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_rebuilding_for_another_input_size_is_refused():
    wiring = AutoNCP(12, 3)
    wiring.build(4)
    wiring.build(4)  # same size: a no-op
    with pytest.raises(ConfigError, match="built for 4 input features"):
        wiring.build(5)


def test_tampered_matrix_in_config_is_rejected():
    bad = {**Wiring(3).get_config(), "adjacency_matrix": [[2, 0, 0], [0, 0, 0], [0, 0, 0]]}
    with pytest.raises(ConfigError, match="-1, 0 and \\+1"):
        wiring_from_config(bad)
