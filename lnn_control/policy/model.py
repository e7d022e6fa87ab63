"""The liquid policy: named input streams -> encoders -> recurrent core -> actuator commands.

The network input at a step is, in the streams' declared order, each stream's encoding of its
latest value (vectors: standardise + linear + tanh; images: CNN), then the age of every stream but
the stepping one (seconds since its last message / ``max_age_s``, clipped to [0, 1]). The core's
outputs (an NCP's motor neurons) map to each action's ``[low, high]`` through
``mid + half_range * tanh(.)``, so a command is always inside the limits; with
``actions.relative_to`` they are changes instead, ``position + max_change * tanh(.)`` from the
named joint-state stream's newest positions, clipped to ``[low, high]``.

Two forms of the same computation:

- :meth:`LiquidPolicy.forward_sequence` runs ``(B, T, ...)`` sequences (training, evaluation);
- :class:`PolicyStep` is one step ``(inputs, h, dt) -> (action, h_new)`` on a flat ``inputs``
  vector holding the raw values of the vector streams, the image embeddings and the ages; it is
  what the runtime calls and what is exported to ONNX or compiled.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
from torch import Tensor, nn

from lnn_control.errors import ShapeError
from lnn_control.liquid import LTCCell, MixedMemoryCell, WiredCfCCell
from lnn_control.liquid.base import LiquidCell, sequence_dt
from lnn_control.perception import ImageEncoder, VectorEncoder
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.cores import make_core
from lnn_control.policy.stream_inputs import input_size, stream_input

__all__ = ["LiquidPolicy", "PolicyStep"]


class LiquidPolicy(nn.Module):
    """Encoders, core and action mapping of a :class:`PolicyConfig`.

    :param config: the validated configuration.
    """

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        encoders: dict[str, nn.Module] = {}
        for spec in config.streams:
            if spec.kind == "image":
                encoders[spec.name] = ImageEncoder(spec.value_shape[-1], spec.features, head=spec.head)
            else:
                encoders[spec.name] = VectorEncoder(input_size(spec), spec.features)
        self.encoders = nn.ModuleDict(encoders)
        #: per image stream with ``auxiliary`` outputs: the training-only head on its features
        self.auxiliary = nn.ModuleDict({
            spec.name: nn.Linear(int(encoders[spec.name].output_size), spec.auxiliary)
            for spec in config.streams if spec.auxiliary
        })
        self.stream_names = [spec.name for spec in config.streams]
        self.specs = {spec.name: spec for spec in config.streams}
        self.image_streams = {spec.name for spec in config.streams if spec.kind == "image"}
        self.aged_streams = config.aged_streams
        features = sum(int(encoder.output_size) for encoder in encoders.values())
        self.input_size = features + len(self.aged_streams)
        actions = len(config.actions.names)
        self.core: LiquidCell = make_core(config.core, self.input_size, actions)
        self.readout = (
            nn.Linear(self.core.output_size, actions) if self.core.output_size != actions else None
        )
        low = torch.tensor(config.actions.low, dtype=torch.float32)
        high = torch.tensor(config.actions.high, dtype=torch.float32)
        self.register_buffer("action_mid", (low + high) / 2)
        self.register_buffer("action_half_range", (high - low) / 2)
        #: the joint_state stream the commands are changes from (None: absolute commands)
        self.relative_to = config.actions.relative_to
        change = config.actions.max_change
        # not persistent: derived from the config, so checkpoints are unchanged by them
        self.register_buffer("action_low", low, persistent=False)
        self.register_buffer("action_high", high, persistent=False)
        #: the largest command (absolute) or change (relative) from its centre, per action
        self.register_buffer("command_scale", (high - low) / 2 if change is None
                             else torch.tensor(change, dtype=torch.float32), persistent=False)

    @property
    def state_size(self) -> int:
        """Length of the core's state vector."""
        return self.core.state_size

    def encode(self, stream: str, value: Tensor) -> Tensor:
        """One stream's features from what its encoder reads (an image stream's frames; a vector
        stream's :meth:`encoder_input`): ``(..., *shape) -> (..., features)``."""
        return self.encoders[stream](value)

    def encoder_input(self, stream: str, values: Mapping[str, Tensor]) -> Tensor:
        """What a vector stream's encoder reads, ``(..., size)``, from the streams' held values
        ``(..., value size)`` (:func:`~lnn_control.policy.stream_inputs.stream_input`)."""
        return stream_input(self.specs[stream], values)

    def relative_base(self, values: Mapping[str, Tensor]) -> Optional[Tensor]:
        """The :attr:`relative_to` stream's values ``(..., 2 * joints)`` in ``values``, or None."""
        return None if self.relative_to is None else values[self.relative_to]

    def actions(self, core_out: Tensor, base: Optional[Tensor] = None) -> Tensor:
        """Core outputs ``(..., core outputs)`` -> commands ``(..., actions)`` within the limits.

        :param base: with :attr:`relative_to`, that joint-state stream's newest values
            ``(..., 2 * joints)`` (positions first), which the commands are changes from.
        """
        readout = self.readout
        y = torch.tanh(core_out if readout is None else readout(core_out))
        if self.relative_to is None:
            return torch.addcmul(self.action_mid, self.action_half_range, y)
        if base is None:
            raise ShapeError(f"relative actions need the {self.relative_to!r} stream's positions")
        command = torch.addcmul(base[..., : y.shape[-1]], self.command_scale, y)
        return torch.minimum(torch.maximum(command, self.action_low), self.action_high)

    def forward_sequence(
        self,
        values: Dict[str, Tensor],
        ages: Tensor,
        dt: Tensor,
        reset: Optional[Tensor] = None,
        h0: Optional[Tensor] = None,
    ) -> tuple[Tensor, Tensor]:
        """Run the policy over sequences of held inputs.

        :param values: per stream, its latest value at every step ``(B, T, *value_shape)``.
        :param ages: ``(B, T, len(aged_streams))``, ages already scaled to [0, 1].
        :param dt: time step of every sample and step, seconds ``(B, T)``.
        :param reset: optional ``(B, T)`` bool, true where an episode starts.
        :param h0: initial core state ``(B, state_size)``; zeros if ``None``.
        :return: commands ``(B, T, actions)`` and core states after every step ``(B, T, S)``.
        """
        missing = [name for name in self.stream_names if name not in values]
        if missing:
            raise ShapeError(f"values lack the streams {missing}")
        features = [self.encode(name, values[name] if name in self.image_streams else self.encoder_input(name, values))
                    for name in self.stream_names]
        x = torch.cat(features + [ages], -1)
        batch = x.shape[0]
        keep = None if reset is None else (reset == 0).to(x.dtype).unsqueeze(-1)
        state = x.new_zeros(batch, self.state_size) if h0 is None else h0
        core = self.core
        prep = core.prepare()
        states = core.scan(core.input_terms(x, prep), state, sequence_dt(dt, x).detach(), keep, prep)
        return self.actions(core.output(states, prep), self.relative_base(values)), states

    def neuron_types(self) -> list[str]:
        """The kind of each entry of the core's state: ``inter`` / ``command`` / ``motor`` for a
        wired liquid core (an NCP), ``inter`` / ``motor`` for a dense LTC, ``hidden`` for other
        cores, and ``memory`` for a mixed-memory LSTM's cell state."""
        core = self.core
        mixed = isinstance(core, MixedMemoryCell)
        cell = core.cell if isinstance(core, MixedMemoryCell) else core
        if isinstance(cell, WiredCfCCell):
            types = [cell.wiring.get_type_of_neuron(i) for i in cell.neuron_ids]
        elif isinstance(cell, LTCCell):
            types = [cell.wiring.get_type_of_neuron(i) for i in range(cell.state_size)]
        else:
            return ["hidden"] * core.state_size
        return types + ["memory"] * len(types) if mixed else types

    def step_module(self) -> PolicyStep:
        """This policy's single step as a module (shares the weights)."""
        return PolicyStep(self)


class PolicyStep(nn.Module):
    """One policy step: ``(x (B, D), h (B, S), dt (B, 1) s) -> (action (B, A), h_new)``.

    ``x`` holds, in the streams' order, the raw value of every vector-kind stream or the
    embedding of every image stream (computed by :meth:`LiquidPolicy.encode` when the frame
    arrived), then the scaled ages. :attr:`layout` gives each stream's slice.

    :param policy: the policy (weights shared).
    """

    def __init__(self, policy: LiquidPolicy) -> None:
        super().__init__()
        self.policy = policy
        #: stream name -> (start, stop) in ``inputs``; images hold their embedding
        self.layout: dict[str, tuple[int, int]] = {}
        start = 0
        for spec in policy.config.streams:
            width = (policy.encoders[spec.name].output_size if spec.kind == "image"
                     else spec.value_shape[0])
            self.layout[spec.name] = (start, start + int(width))
            start += int(width)
        self.ages_start = start
        self.input_size = start + len(policy.aged_streams)
        self.state_size = policy.state_size
        self.output_size = len(policy.config.actions.names)
        #: where the :attr:`LiquidPolicy.relative_to` stream's values are in ``inputs``
        self._base = None if policy.relative_to is None else self.layout[policy.relative_to]

    def forward(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        return self.run(x, h, dt, self.policy.core.prepare())

    def run(
        self, x: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """:meth:`forward` with the core's prepared tensors given (computed once for inference).
        ``x`` holds the raw vector-stream values, image embeddings and ages (see :attr:`layout`)."""
        policy = self.policy
        held = {name: x[:, start:stop] for name, (start, stop) in self.layout.items()}
        parts = [held[name] if name in policy.image_streams else policy.encode(name, policy.encoder_input(name, held))
                 for name in self.layout]
        parts.append(x[:, self.ages_start :])
        features = torch.cat(parts, 1)
        core = policy.core
        h_new = core.step(core.input_terms(features, prep), h, dt, prep)
        base = None if self._base is None else x[:, self._base[0] : self._base[1]]
        return policy.actions(core.output(h_new, prep), base), h_new
