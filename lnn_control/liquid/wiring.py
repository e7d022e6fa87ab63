"""Wirings: which neuron of a liquid network feeds which, with what polarity. numpy only.

A wiring of ``units`` neurons holds two integer matrices with entries in {-1, 0, +1}:

- ``adjacency_matrix`` ``(units, units)``: ``[src, dest]`` is the synapse from neuron ``src`` to
  neuron ``dest`` (+1 excitatory, -1 inhibitory, 0 none);
- ``sensory_adjacency_matrix`` ``(input_dim, units)``: ``[feature, dest]`` likewise from each input
  feature (sensory neuron), known once :meth:`Wiring.build` has been given the input size.

The first ``output_dim`` neurons are the motor neurons, whose states are the network's outputs.

The construction algorithms and random number streams are those of ncps 1.0.1, so the same
arguments and seed give the same matrices as ``ncps.wirings``. Unlike ncps, every wiring round-trips
through :meth:`Wiring.get_config` / :func:`wiring_from_config` (plain JSON/YAML data).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from lnn_control.errors import ConfigError

__all__ = ["NCP", "AutoNCP", "FullyConnected", "Random", "Wiring", "wiring_from_config"]


class Wiring:
    """A wiring given by explicit matrices; base class of the generated wirings.

    :param units: number of neurons (the state size of the cell).
    :param output_dim: number of motor neurons (``0 < output_dim <= units``); ``None`` means all.
    """

    type_name: ClassVar[str] = "Wiring"

    def __init__(self, units: int, output_dim: int | None = None) -> None:
        if int(units) < 1:
            raise ConfigError(f"a wiring needs at least 1 unit, got units={units}")
        self.units = int(units)
        self.adjacency_matrix = np.zeros((self.units, self.units), dtype=np.int32)
        self.sensory_adjacency_matrix: np.ndarray | None = None
        self.input_dim: int | None = None
        self.output_dim = self.units
        self.set_output_dim(self.units if output_dim is None else output_dim)

    # -- structure -------------------------------------------------------------------------------
    def set_output_dim(self, output_dim: int) -> None:
        """Declare the first ``output_dim`` neurons as motor neurons."""
        if not 1 <= int(output_dim) <= self.units:
            raise ConfigError(
                f"output_dim must be between 1 and units={self.units}, got {output_dim}"
            )
        self.output_dim = int(output_dim)

    @property
    def num_layers(self) -> int:
        """Number of neuron layers (1 for unstructured wirings, 3 for NCP)."""
        return 1

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        """Neuron ids of layer ``layer_id`` (layers ordered from the inputs to the outputs)."""
        if layer_id != 0:
            raise ConfigError(f"{type(self).__name__} has one layer; asked for layer {layer_id}")
        return list(range(self.units))

    def get_type_of_neuron(self, neuron_id: int) -> str:
        """``"motor"``, ``"command"`` or ``"inter"`` for neuron ``neuron_id``."""
        return "motor" if neuron_id < self.output_dim else "inter"

    def is_built(self) -> bool:
        """Whether the input size, hence the sensory synapses, are known."""
        return self.input_dim is not None

    def build(self, input_dim: int) -> None:
        """Fix the input size and draw the sensory synapses; a no-op if already built alike."""
        if self.input_dim is not None:
            if self.input_dim != int(input_dim):
                raise ConfigError(
                    f"this wiring was built for {self.input_dim} input features but is now used "
                    f"with {input_dim}; build a new wiring (same seed) for the new input size"
                )
            return
        if int(input_dim) < 1:
            raise ConfigError(f"input_dim must be at least 1, got {input_dim}")
        self.input_dim = int(input_dim)
        self.sensory_adjacency_matrix = np.zeros((self.input_dim, self.units), dtype=np.int32)
        self._build_sensory()

    def _build_sensory(self) -> None:
        """Draw the sensory synapses (subclasses); the base wiring keeps them as given."""

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Set the synapse from neuron ``src`` to neuron ``dest`` to ``polarity`` (-1 or +1)."""
        self._check_neuron(dest, "feeding into")
        self._check_neuron(src, "originating in")
        self._check_polarity(polarity)
        self.adjacency_matrix[src, dest] = polarity

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Set the synapse from input feature ``src`` to neuron ``dest`` to ``polarity``."""
        if self.sensory_adjacency_matrix is None or self.input_dim is None:
            raise ConfigError("sensory synapses need the input size: call build(input_dim) first")
        if not 0 <= src < self.input_dim:
            raise ConfigError(
                f"cannot add a sensory synapse from feature {src}: the input has "
                f"{self.input_dim} features"
            )
        self._check_neuron(dest, "feeding into")
        self._check_polarity(polarity)
        self.sensory_adjacency_matrix[src, dest] = polarity

    def _check_neuron(self, neuron: int, role: str) -> None:
        if not 0 <= neuron < self.units:
            raise ConfigError(
                f"cannot add a synapse {role} neuron {neuron}: the wiring has {self.units} units"
            )

    @staticmethod
    def _check_polarity(polarity: int) -> None:
        if polarity not in (-1, 1):
            raise ConfigError(f"synapse polarity must be -1 or +1, got {polarity}")

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return int(np.abs(self.adjacency_matrix).sum())

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from input features to neurons (0 before build)."""
        if self.sensory_adjacency_matrix is None:
            return 0
        return int(np.abs(self.sensory_adjacency_matrix).sum())

    # -- serialisation ---------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-safe) from which :func:`wiring_from_config` rebuilds this wiring."""
        return {
            "type": self.type_name,
            "units": self.units,
            "output_dim": self.output_dim,
            "input_dim": self.input_dim,
            **_matrices(self),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        """Rebuild a wiring from :meth:`get_config` output (the ``type`` key may be omitted)."""
        config = _expect_type(config, cls.type_name)
        wiring = Wiring(config["units"], config["output_dim"])
        wiring.adjacency_matrix = _polarity_matrix(
            config["adjacency_matrix"], (wiring.units, wiring.units), "adjacency_matrix"
        )
        if config.get("input_dim") is not None:
            wiring.input_dim = int(config["input_dim"])
            wiring.sensory_adjacency_matrix = _polarity_matrix(
                config["sensory_adjacency_matrix"],
                (wiring.input_dim, wiring.units),
                "sensory_adjacency_matrix",
            )
        return wiring

    def _finish_from_config(self, config: dict[str, Any]) -> Wiring:
        """Build for the config's input size; explicit matrices in the config replace drawn ones."""
        if config.get("input_dim") is not None:
            self.build(int(config["input_dim"]))
        if config.get("adjacency_matrix") is not None:
            self.adjacency_matrix = _polarity_matrix(
                config["adjacency_matrix"], (self.units, self.units), "adjacency_matrix"
            )
        if config.get("sensory_adjacency_matrix") is not None and self.input_dim is not None:
            self.sensory_adjacency_matrix = _polarity_matrix(
                config["sensory_adjacency_matrix"],
                (self.input_dim, self.units),
                "sensory_adjacency_matrix",
            )
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(units={self.units}, output_dim={self.output_dim}, "
            f"input_dim={self.input_dim}, synapses={self.synapse_count}, "
            f"sensory_synapses={self.sensory_synapse_count})"
        )


class FullyConnected(Wiring):
    """Every neuron feeds every neuron, every input feeds every neuron; polarity -1 with p=1/3.

    :param units: number of neurons.
    :param output_dim: number of motor neurons (default: all).
    :param erev_init_seed: seed of the polarity draws (ncps's default 1111).
    :param self_connections: whether a neuron synapses onto itself.
    """

    type_name = "FullyConnected"

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        erev_init_seed: int = 1111,
        self_connections: bool = True,
    ) -> None:
        super().__init__(units, output_dim)
        self.self_connections = bool(self_connections)
        self.erev_init_seed = int(erev_init_seed)
        self._rng = np.random.default_rng(self.erev_init_seed)
        for src in range(self.units):
            for dest in range(self.units):
                if src == dest and not self.self_connections:
                    continue
                self.add_synapse(src, dest, int(self._rng.choice([-1, 1, 1])))

    def _build_sensory(self) -> None:
        assert self.input_dim is not None
        for src in range(self.input_dim):
            for dest in range(self.units):
                self.add_sensory_synapse(src, dest, int(self._rng.choice([-1, 1, 1])))

    def get_config(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "units": self.units,
            "output_dim": self.output_dim,
            "erev_init_seed": self.erev_init_seed,
            "self_connections": self.self_connections,
            "input_dim": self.input_dim,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        config = _expect_type(config, cls.type_name)
        wiring = cls(
            config["units"],
            config.get("output_dim"),
            config.get("erev_init_seed", 1111),
            config.get("self_connections", True),
        )
        return wiring._finish_from_config(config)


class Random(Wiring):
    """A random fraction ``1 - sparsity_level`` of all possible synapses, polarity -1 with p=1/3.

    :param units: number of neurons.
    :param output_dim: number of motor neurons (default: all).
    :param sparsity_level: fraction of absent synapses, in ``[0, 1)``.
    :param random_seed: seed of the draws (ncps's default 1111).
    """

    type_name = "Random"

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        sparsity_level: float = 0.0,
        random_seed: int = 1111,
    ) -> None:
        super().__init__(units, output_dim)
        if not 0.0 <= sparsity_level < 1.0:
            raise ConfigError(f"sparsity_level must be in [0, 1), got {sparsity_level}")
        self.sparsity_level = float(sparsity_level)
        self.random_seed = int(random_seed)
        self._rng = np.random.default_rng(self.random_seed)
        count = int(np.round(self.units * self.units * (1 - self.sparsity_level)))
        pairs = [(src, dest) for src in range(self.units) for dest in range(self.units)]
        for src, dest in self._rng.choice(pairs, size=count, replace=False):
            self.add_synapse(int(src), int(dest), int(self._rng.choice([-1, 1, 1])))

    def _build_sensory(self) -> None:
        assert self.input_dim is not None
        count = int(np.round(self.input_dim * self.units * (1 - self.sparsity_level)))
        pairs = [(src, dest) for src in range(self.input_dim) for dest in range(self.units)]
        for src, dest in self._rng.choice(pairs, size=count, replace=False):
            # ncps 1.0.1 draws the polarity twice and keeps the second; drawing both keeps the
            # random stream, hence the wiring for a given seed, identical to ncps's.
            self._rng.choice([-1, 1, 1])
            self.add_sensory_synapse(int(src), int(dest), int(self._rng.choice([-1, 1, 1])))

    def get_config(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "units": self.units,
            "output_dim": self.output_dim,
            "sparsity_level": self.sparsity_level,
            "random_seed": self.random_seed,
            "input_dim": self.input_dim,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        config = _expect_type(config, cls.type_name)
        wiring = cls(
            config["units"],
            config.get("output_dim"),
            config.get("sparsity_level", 0.0),
            config.get("random_seed", 1111),
        )
        return wiring._finish_from_config(config)


class NCP(Wiring):
    """A Neural Circuit Policy: sensory -> inter -> command (recurrent) -> motor layers.

    Neuron ids: motor ``[0, m)``, command ``[m, m + c)``, inter ``[m + c, units)``.

    :param inter_neurons: number of inter neurons (first hidden layer).
    :param command_neurons: number of command neurons (recurrent layer).
    :param motor_neurons: number of motor neurons (outputs).
    :param sensory_fanout: synapses from each input feature to distinct inter neurons.
    :param inter_fanout: synapses from each inter neuron to distinct command neurons.
    :param recurrent_command_synapses: number of command -> command synapse draws.
    :param motor_fanin: synapses into each motor neuron from distinct command neurons.
    :param seed: seed of the draws (ncps's default 22222). A wiring whose seed is unknown (one
        converted from ncps's ``NCP``) has ``seed = None``; its config then holds its matrices.
    """

    type_name = "NCP"

    def __init__(
        self,
        inter_neurons: int,
        command_neurons: int,
        motor_neurons: int,
        sensory_fanout: int,
        inter_fanout: int,
        recurrent_command_synapses: int,
        motor_fanin: int,
        seed: int = 22222,
    ) -> None:
        for name, value in (
            ("inter_neurons", inter_neurons),
            ("command_neurons", command_neurons),
            ("motor_neurons", motor_neurons),
        ):
            if int(value) < 1:
                raise ConfigError(f"NCP needs {name} >= 1, got {value}")
        super().__init__(inter_neurons + command_neurons + motor_neurons, motor_neurons)
        self.num_inter_neurons = int(inter_neurons)
        self.num_command_neurons = int(command_neurons)
        self.num_motor_neurons = int(motor_neurons)
        self.sensory_fanout = int(sensory_fanout)
        self.inter_fanout = int(inter_fanout)
        self.recurrent_command_synapses = int(recurrent_command_synapses)
        self.motor_fanin = int(motor_fanin)
        self.seed = int(seed)
        self._rng = np.random.RandomState(self.seed)

        m, c = self.num_motor_neurons, self.num_command_neurons
        self.motor_neurons = list(range(0, m))
        self.command_neurons = list(range(m, m + c))
        self.inter_neurons = list(range(m + c, self.units))

        if not 1 <= self.motor_fanin <= c:
            raise ConfigError(
                f"NCP motor_fanin is {motor_fanin} but it must be between 1 and the number of "
                f"command neurons ({c})"
            )
        if not 1 <= self.sensory_fanout <= self.num_inter_neurons:
            raise ConfigError(
                f"NCP sensory_fanout is {sensory_fanout} but it must be between 1 and the number "
                f"of inter neurons ({self.num_inter_neurons})"
            )
        if not 1 <= self.inter_fanout <= c:
            raise ConfigError(
                f"NCP inter_fanout is {inter_fanout} but it must be between 1 and the number of "
                f"command neurons ({c})"
            )
        if self.recurrent_command_synapses < 0:
            raise ConfigError(
                f"NCP recurrent_command_synapses must be >= 0, got {recurrent_command_synapses}"
            )

    @property
    def num_layers(self) -> int:
        return 3

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        layers = (self.inter_neurons, self.command_neurons, self.motor_neurons)
        if not 0 <= layer_id < len(layers):
            raise ConfigError(f"NCP has layers 0 (inter), 1 (command), 2 (motor); got {layer_id}")
        return list(layers[layer_id])

    def get_type_of_neuron(self, neuron_id: int) -> str:
        if neuron_id < self.num_motor_neurons:
            return "motor"
        if neuron_id < self.num_motor_neurons + self.num_command_neurons:
            return "command"
        return "inter"

    def _build_sensory(self) -> None:
        # The inter/command/motor synapses are drawn here too, after the sensory ones, because
        # that is the order of ncps's random stream (it draws everything in build()).
        self._build_sensory_to_inter_layer()
        self._build_inter_to_command_layer()
        self._build_recurrent_command_layer()
        self._build_command_to_motor_layer()

    def _build_sensory_to_inter_layer(self) -> None:
        assert self.input_dim is not None
        sensory = list(range(self.input_dim))
        unreachable = list(self.inter_neurons)
        for src in sensory:
            for dest in self._rng.choice(self.inter_neurons, size=self.sensory_fanout, replace=False):
                if dest in unreachable:
                    unreachable.remove(dest)
                self.add_sensory_synapse(src, int(dest), int(self._rng.choice([-1, 1])))
        fanin = int(np.clip(int(self.input_dim * self.sensory_fanout / self.num_inter_neurons),
                            1, self.input_dim))
        for dest in unreachable:
            for src in self._rng.choice(sensory, size=fanin, replace=False):
                self.add_sensory_synapse(int(src), dest, int(self._rng.choice([-1, 1])))

    def _build_inter_to_command_layer(self) -> None:
        unreachable = list(self.command_neurons)
        for src in self.inter_neurons:
            for dest in self._rng.choice(self.command_neurons, size=self.inter_fanout, replace=False):
                if dest in unreachable:
                    unreachable.remove(dest)
                self.add_synapse(src, int(dest), int(self._rng.choice([-1, 1])))
        fanin = int(np.clip(
            int(self.num_inter_neurons * self.inter_fanout / self.num_command_neurons),
            1, self.num_command_neurons,
        ))
        for dest in unreachable:
            for src in self._rng.choice(self.inter_neurons, size=fanin, replace=False):
                self.add_synapse(int(src), dest, int(self._rng.choice([-1, 1])))

    def _build_recurrent_command_layer(self) -> None:
        for _ in range(self.recurrent_command_synapses):
            src = int(self._rng.choice(self.command_neurons))
            dest = int(self._rng.choice(self.command_neurons))
            self.add_synapse(src, dest, int(self._rng.choice([-1, 1])))

    def _build_command_to_motor_layer(self) -> None:
        unreachable = list(self.command_neurons)
        for dest in self.motor_neurons:
            for src in self._rng.choice(self.command_neurons, size=self.motor_fanin, replace=False):
                if src in unreachable:
                    unreachable.remove(src)
                self.add_synapse(int(src), dest, int(self._rng.choice([-1, 1])))
        fanout = int(np.clip(
            int(self.num_motor_neurons * self.motor_fanin / self.num_command_neurons),
            1, self.num_motor_neurons,
        ))
        for src in unreachable:
            for dest in self._rng.choice(self.motor_neurons, size=fanout, replace=False):
                self.add_synapse(src, int(dest), int(self._rng.choice([-1, 1])))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "type": self.type_name,
            "inter_neurons": self.num_inter_neurons,
            "command_neurons": self.num_command_neurons,
            "motor_neurons": self.num_motor_neurons,
            "sensory_fanout": self.sensory_fanout,
            "inter_fanout": self.inter_fanout,
            "recurrent_command_synapses": self.recurrent_command_synapses,
            "motor_fanin": self.motor_fanin,
            "seed": self.seed,
            "input_dim": self.input_dim,
        }
        if self.seed is None:
            config.update(_matrices(self))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        config = _expect_type(config, cls.type_name)
        seed = config.get("seed", 22222)
        wiring = cls(
            config["inter_neurons"],
            config["command_neurons"],
            config["motor_neurons"],
            config["sensory_fanout"],
            config["inter_fanout"],
            config["recurrent_command_synapses"],
            config["motor_fanin"],
            22222 if seed is None else seed,
        )
        if seed is None:
            if config.get("adjacency_matrix") is None:
                raise ConfigError("an NCP config with seed null must hold its adjacency_matrix")
            wiring.seed = None
        return wiring._finish_from_config(config)


class AutoNCP(NCP):
    """An NCP sized from the total number of neurons and outputs, as ncps's ``AutoNCP``.

    40% of the non-motor neurons are command neurons, the rest inter neurons; fan-outs scale with
    ``1 - sparsity_level``.

    :param units: total number of neurons.
    :param output_size: number of motor neurons; must be less than ``units - 2``.
    :param sparsity_level: in ``[0.1, 1.0]``; higher means fewer synapses.
    :param seed: seed of the draws (ncps's default 22222).
    """

    type_name = "AutoNCP"

    def __init__(
        self, units: int, output_size: int, sparsity_level: float = 0.5, seed: int = 22222
    ) -> None:
        if output_size >= units - 2:
            raise ConfigError(
                f"AutoNCP output_size must be less than units - 2 (got units={units}, "
                f"output_size={output_size}); use more units or fewer outputs"
            )
        if not 0.1 <= sparsity_level <= 1.0:
            raise ConfigError(f"AutoNCP sparsity_level must be in [0.1, 1.0], got {sparsity_level}")
        self.output_size = int(output_size)
        self.sparsity_level = float(sparsity_level)
        density = 1.0 - sparsity_level
        inter_and_command = units - output_size
        command = max(int(0.4 * inter_and_command), 1)
        inter = inter_and_command - command
        super().__init__(
            inter,
            command,
            output_size,
            sensory_fanout=max(int(inter * density), 1),
            inter_fanout=max(int(command * density), 1),
            recurrent_command_synapses=max(int(command * density * 2), 1),
            motor_fanin=max(int(command * density), 1),
            seed=seed,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "units": self.units,
            "output_size": self.output_size,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
            "input_dim": self.input_dim,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        config = _expect_type(config, cls.type_name)
        wiring = cls(
            config["units"],
            config["output_size"],
            config.get("sparsity_level", 0.5),
            config.get("seed", 22222),
        )
        return wiring._finish_from_config(config)


_WIRINGS: dict[str, type[Wiring]] = {
    cls.type_name: cls for cls in (Wiring, FullyConnected, Random, NCP, AutoNCP)
}


def wiring_from_config(config: dict[str, Any]) -> Wiring:
    """Rebuild any wiring from its :meth:`Wiring.get_config`, dispatching on ``config["type"]``."""
    if not isinstance(config, dict) or "type" not in config:
        raise ConfigError(
            "a wiring config must be a mapping with a 'type' key, one of "
            f"{sorted(_WIRINGS)}; got {config!r}"
        )
    kind = config["type"]
    if kind not in _WIRINGS:
        raise ConfigError(f"unknown wiring type {kind!r}; expected one of {sorted(_WIRINGS)}")
    try:
        return _WIRINGS[kind].from_config(config)
    except KeyError as missing:
        raise ConfigError(f"{kind} wiring config is missing the key {missing}") from None


def _expect_type(config: dict[str, Any], type_name: str) -> dict[str, Any]:
    kind = config.get("type", type_name)
    if kind != type_name:
        raise ConfigError(f"expected a {type_name} wiring config, got type {kind!r}")
    return config


def _matrices(wiring: Wiring) -> dict[str, Any]:
    sensory = wiring.sensory_adjacency_matrix
    return {
        "adjacency_matrix": wiring.adjacency_matrix.tolist(),
        "sensory_adjacency_matrix": None if sensory is None else sensory.tolist(),
    }


def _polarity_matrix(data: Any, shape: tuple[int, int], key: str) -> np.ndarray:
    matrix = np.asarray(data, dtype=np.int32)
    if matrix.shape != shape:
        raise ConfigError(f"wiring {key} has shape {matrix.shape}, expected {shape}")
    if not np.isin(matrix, (-1, 0, 1)).all():
        raise ConfigError(f"wiring {key} may only hold -1, 0 and +1")
    return matrix
