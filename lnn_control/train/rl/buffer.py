"""The rollout buffer: each env's whole rollout is one sequence, minibatches are random envs.

sb3-contrib's ``RecurrentRolloutBuffer`` cuts every env's rollout at each episode start into
sequences, pads them all to the longest and slices minibatches of contiguous envs. With hundreds of
envs and 10 s episodes that cost about a tenth of a run's time in padding alone (``py-spy`` of
``config/rl/quad_hover_scratch.yaml``: ``pad`` 9 % of all samples), and the padded rows are unrolled
through the core as well. The liquid policy needs no cut: the first step of an episode carries the
reset flag, which zeroes the state inside the unroll, exactly where the runtime zeroes it. So
:class:`EnvSequenceBuffer` keeps each env's ``n_steps`` periods as one sequence, starts it from the
state stored before its first period, and draws minibatches of whole envs in a random order. Every
transition is evaluated with the same state and inputs as in sb3's buffer (tested), without padding.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Optional

import numpy as np
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples, RNNStates

__all__ = ["EnvSequenceBuffer"]


class EnvSequenceBuffer(RecurrentRolloutBuffer):
    """``RecurrentRolloutBuffer`` whose minibatches are whole env rollouts (module docstring).

    A minibatch of ``batch_size`` transitions holds ``max(1, batch_size // n_steps)`` envs; its
    samples come env-major ``(envs * n_steps, ...)`` with the states ``(layers, envs, S)`` before each
    env's first period and a mask of ones (nothing is padded).
    """

    def get(self, batch_size: Optional[int] = None) -> Generator[RecurrentRolloutBufferSamples, None, None]:
        assert self.full, "Rollout buffer must be full before sampling from it"
        steps, envs = self.buffer_size, self.n_envs
        if not self.generator_ready:
            # (n_steps, layers, n_envs, S) -> (n_steps, n_envs, layers, S); then every array env-major
            for name in ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf"):
                self.__dict__[name] = self.__dict__[name].swapaxes(1, 2)
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns",
                         "hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf",
                         "episode_starts"):
                self.__dict__[name] = self.swap_and_flatten(self.__dict__[name])
            self.generator_ready = True
        per_batch = max(1, (batch_size or steps * envs) // steps)
        order = np.random.permutation(envs)
        for start in range(0, envs, per_batch):
            chosen = order[start : start + per_batch]
            rows = (chosen[:, None] * steps + np.arange(steps)).ravel()
            first = chosen * steps

            def states(hidden: np.ndarray, cell: np.ndarray) -> tuple:
                # (envs, layers, S) -> (layers, envs, S)
                return (self.to_torch(hidden[first].swapaxes(0, 1)).contiguous(),
                        self.to_torch(cell[first].swapaxes(0, 1)).contiguous())

            yield RecurrentRolloutBufferSamples(
                observations=self.to_torch(self.observations[rows]),
                actions=self.to_torch(self.actions[rows]),
                old_values=self.to_torch(self.values[rows].flatten()),
                old_log_prob=self.to_torch(self.log_probs[rows].flatten()),
                advantages=self.to_torch(self.advantages[rows].flatten()),
                returns=self.to_torch(self.returns[rows].flatten()),
                lstm_states=RNNStates(states(self.hidden_states_pi, self.cell_states_pi),
                                      states(self.hidden_states_vf, self.cell_states_vf)),
                episode_starts=self.to_torch(self.episode_starts[rows].flatten()),
                mask=self.to_torch(np.ones(len(rows), np.float32)),
            )
