"""Reinforcement learning of a liquid policy: sb3-contrib's RecurrentPPO with the policy's own
recurrent core, from scratch or as fine-tuning of a behaviour-cloned policy. The policy is trained
as it is deployed: every control period's sensor messages go through the runtime's aligner.

Read top to bottom:

- :mod:`~lnn_control.train.rl.config`: the run's and PPO's settings (``config/rl/*.yaml``);
- :mod:`~lnn_control.train.rl.observation`: a control period's network steps, the observation;
- :mod:`~lnn_control.train.rl.batched_steps`: the same observations for many envs at once;
- :mod:`~lnn_control.train.rl.policy`: the actor-critic with the liquid policy as its recurrence;
- :mod:`~lnn_control.train.rl.algorithm`: PPO, with a critic warm-up for fine-tuning;
- :mod:`~lnn_control.train.rl.run`: one run into a folder (train, evaluate before and after);
- :mod:`~lnn_control.train.rl.report`: the learning curve and the Markdown report.
"""
