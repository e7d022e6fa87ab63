"""The algorithm: sb3-contrib's RecurrentPPO, with a critic warm-up for fine-tuning, per-group
step sizes and its rollout buffer replaced by :class:`~lnn_control.train.rl.buffer.EnvSequenceBuffer`
(whole env rollouts as sequences: no padding).

**Fine-tuning** (``init``: a checkpoint) starts the actor at exactly the checkpoint's weights,
with a small step size, a small initial standard deviation and ``critic_warmup_iterations`` PPO
iterations in which only the critic learns (the usual guard against PPO wrecking a good policy
with a random critic's advantages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

from lnn_control.train.rl.buffer import EnvSequenceBuffer

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

    from lnn_control.policy.config import PolicyConfig
    from lnn_control.train.rl.config import PPOConfig

__all__ = ["LiquidPPO", "make_ppo", "silent_logger"]


class LiquidPPO(RecurrentPPO):
    """RecurrentPPO with a critic warm-up (the first ``critic_warmup_iterations`` updates leave
    the actor frozen) and per-group step sizes (actor, critic) set by the policy: constant, or
    with ``anneal`` falling linearly to zero over the run (CleanRL's ``anneal_lr``: large steps
    while the policy is far from good, fine ones at the end, where holding a goal to a few
    centimetres is decided).

    :param critic_warmup_iterations: updates during which only the critic learns.
    :param anneal: scale every step size by the fraction of the run still to go.
    """

    def __init__(self, *args: Any, critic_warmup_iterations: int = 0, anneal: bool = False, **kwargs: Any) -> None:
        self.critic_warmup_iterations = int(critic_warmup_iterations)
        self.anneal = bool(anneal)
        self.iterations = 0
        super().__init__(*args, **kwargs)
        #: each param group's step size as configured
        self.base_learning_rates = [group["lr"] for group in self.policy.optimizer.param_groups]

    def collect_outside_learn(self) -> BaseCallback:
        """Make ready to call ``collect_rollouts`` and ``train`` directly, without ``learn``, as
        the benchmark and tests do: resets the envs, sets a logger that writes nothing; returns
        the (do-nothing) callback ``collect_rollouts`` takes."""
        from stable_baselines3.common.callbacks import CallbackList

        self.set_logger(silent_logger())
        self._setup_learn(10**9, None)
        callback = CallbackList([])
        callback.init_callback(self)
        return callback

    def _setup_model(self) -> None:
        super()._setup_model()
        self.rollout_buffer = EnvSequenceBuffer(
            self.n_steps, self.observation_space, self.action_space, self.rollout_buffer.hidden_state_shape,
            self.device, gamma=self.gamma, gae_lambda=self.gae_lambda, n_envs=self.n_envs)

    def train(self) -> None:
        frozen = self.iterations < self.critic_warmup_iterations
        self.iterations += 1
        parameters = self.policy.actor_parameters()
        for parameter in parameters:
            parameter.requires_grad_(not frozen)
        try:
            super().train()
        finally:
            for parameter in parameters:
                parameter.requires_grad_(True)
        self.logger.record("train/actor_frozen", float(frozen))

    def _update_learning_rate(self, optimizers: Any) -> None:
        scale = self._current_progress_remaining if self.anneal else 1.0
        for name, group, base in zip(("actor", "critic"), self.policy.optimizer.param_groups,
                                     self.base_learning_rates):
            group["lr"] = base * scale
            self.logger.record(f"train/learning_rate_{name}", group["lr"])


def make_ppo(ppo: PPOConfig, venv: VecEnv, policy_config: PolicyConfig, seed: int,
             tensorboard_log: Optional[str] = None) -> LiquidPPO:
    """The :class:`LiquidPPO` of an RL config's ``ppo`` section over ``venv`` (a privileged
    critic reads the columns a :class:`~lnn_control.train.rl.collection.BatchedStepsVecEnv` appends).

    :param tensorboard_log: the folder ``learn`` writes its TensorBoard logs to (None: it logs nothing).
    """
    from lnn_control.train.rl.policy import LiquidActorCriticPolicy

    model = LiquidPPO(
        LiquidActorCriticPolicy, venv, learning_rate=ppo.critic_learning_rate, n_steps=ppo.n_steps,
        batch_size=ppo.batch_size, n_epochs=ppo.n_epochs, gamma=ppo.gamma, gae_lambda=ppo.gae_lambda,
        clip_range=ppo.clip_range, ent_coef=ppo.ent_coef, vf_coef=ppo.vf_coef,
        max_grad_norm=ppo.max_grad_norm, target_kl=ppo.target_kl, use_sde=ppo.use_sde,
        sde_sample_freq=ppo.sde_sample_freq, seed=seed, device="cpu", tensorboard_log=tensorboard_log,
        critic_warmup_iterations=ppo.critic_warmup_iterations, anneal=ppo.anneal,
        policy_kwargs={"policy_config": policy_config, "actor_learning_rate": ppo.learning_rate,
                       "log_std_init": ppo.log_std_init, "critic_units": tuple(ppo.critic_units),
                       "privileged": getattr(venv.unwrapped, "privileged_size", 0)},
    )
    if tensorboard_log is None:
        model.set_logger(silent_logger())
    return model


def silent_logger() -> Logger:
    """A logger that writes nothing anywhere. (SB3's own default for "no logging" still creates an
    empty ``SB3-<date>`` folder in the system's temporary directory on every ``learn``.)"""
    return Logger(folder=None, output_formats=[])
