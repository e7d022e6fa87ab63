"""The rollout buffer of whole env rollouts: unrolling its minibatches gives back, transition by
transition, the log-probabilities and values the policy computed step by step while collecting,
the same as sb3-contrib's padded buffer gives, with every transition in exactly one minibatch."""

from __future__ import annotations

import copy

import numpy as np
import torch
from helpers import MODELS
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer

from lnn_control.config import load_config
from lnn_control.policy.config import PolicyConfig
from lnn_control.train.rl.algorithm import make_ppo
from lnn_control.train.rl.buffer import EnvSequenceBuffer
from lnn_control.train.rl.collection import BatchedStepsVecEnv
from lnn_control.train.rl.config import PPOConfig

ENVS, STEPS = 6, 40


def _collected() -> tuple:
    """A LiquidPPO after two rollouts of 6 envs x 40 periods whose episodes last 15 periods, with
    a privileged critic: the buffer holds the second, whose sequences start mid-episode (from a
    state that is not zero) and hold episode starts."""
    config = load_config(PolicyConfig, MODELS / "quad_hover_cfc.yaml")
    venv = BatchedStepsVecEnv(config, 4, ENVS, nthread=1, privileged=True, max_episode_steps=15)
    ppo = PPOConfig(n_steps=STEPS, batch_size=2 * STEPS, log_std_init=-1.0)
    torch.manual_seed(0)
    model = make_ppo(ppo, venv, config, seed=3)
    venv.seed(5)
    callback = model.collect_outside_learn()
    for _ in range(2):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=STEPS)
    venv.close()
    return model, model.rollout_buffer


def _evaluated(model, buffer, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over every minibatch: the stored log-probabilities, and the log-probabilities and values the
    policy gives now (unpadded transitions only)."""
    stored, log_probs, values = [], [], []
    with torch.no_grad():
        for batch in buffer.get(batch_size):
            mask = batch.mask > 1e-8
            value, log_prob, _ = model.policy.evaluate_actions(batch.observations, batch.actions,
                                                               batch.lstm_states, batch.episode_starts)
            stored.append(batch.old_log_prob[mask].numpy())
            log_probs.append(log_prob[mask].numpy())
            values.append(value.flatten()[mask].numpy())
    return np.concatenate(stored), np.concatenate(log_probs), np.concatenate(values)


def test_whole_env_sequences_reproduce_the_collection_and_sb3s_buffer() -> None:
    model, buffer = _collected()
    assert isinstance(buffer, EnvSequenceBuffer)
    assert buffer.episode_starts.sum() > ENVS  # episodes started inside the rollouts
    assert np.abs(buffer.hidden_states_pi[0]).max() > 0  # sequences start mid-flight, not from zero
    reference = RecurrentRolloutBuffer.__new__(RecurrentRolloutBuffer)
    reference.__dict__ = copy.deepcopy(buffer.__dict__)
    collected_log_probs = buffer.log_probs.T.flatten().copy()  # env-major, as both buffers sample
    collected_values = buffer.values.T.flatten().copy()

    np.random.seed(0)
    stored, log_probs, values = _evaluated(model, buffer, 2 * STEPS)
    assert len(stored) == ENVS * STEPS
    assert sorted(stored.tolist()) == sorted(collected_log_probs.tolist())  # each transition once
    by_collection = {float(s): i for i, s in enumerate(collected_log_probs)}
    at = np.array([by_collection[float(s)] for s in stored])
    # unrolling a whole rollout gives what stepping the envs gave, transition by transition
    np.testing.assert_allclose(log_probs, collected_log_probs[at], atol=1e-4, rtol=0)
    np.testing.assert_allclose(values, collected_values[at], atol=1e-4, rtol=0)

    np.random.seed(0)
    reference_stored, reference_log_probs, reference_values = _evaluated(model, reference, 2 * STEPS)
    mine = np.argsort(stored)
    theirs = np.argsort(reference_stored)
    np.testing.assert_array_equal(stored[mine], reference_stored[theirs])
    np.testing.assert_allclose(log_probs[mine], reference_log_probs[theirs], atol=1e-5, rtol=0)
    np.testing.assert_allclose(values[mine], reference_values[theirs], atol=1e-5, rtol=0)


def test_minibatches_are_whole_envs_in_a_random_order() -> None:
    _, buffer = _collected()
    np.random.seed(1)
    batches = list(buffer.get(2 * STEPS + 7))  # rounds down to whole envs
    assert [len(b.actions) for b in batches] == [2 * STEPS] * (ENVS // 2)
    assert all(b.lstm_states.pi[0].shape == (1, 2, buffer.hidden_state_shape[-1]) for b in batches)
    assert all(bool(b.mask.all()) for b in batches)
    firsts = [float(b.old_log_prob[0]) for b in batches] + [float(b.old_log_prob[STEPS]) for b in batches]
    env_firsts = buffer.log_probs.reshape(ENVS, STEPS)[:, 0].tolist()
    assert sorted(firsts) == sorted(env_firsts)  # each batch starts env sequences at their first period
    orders = set()
    for seed in range(5):
        np.random.seed(seed)
        orders.add(tuple(float(b.old_log_prob[0]) for b in buffer.get(STEPS)))
    assert len(orders) > 1 and all(sorted(order) == sorted(env_firsts) for order in orders)
