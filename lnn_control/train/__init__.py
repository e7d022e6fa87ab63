"""Training liquid policies in simulation: demonstrations, behaviour cloning, DAgger, RL, evaluation.

One module per concept, in the order data flows through them:

================================  ==============================================================
module                            what it holds
================================  ==============================================================
:mod:`.config`                    :class:`TrainConfig` (``config/train/*.yaml``), validated on load
:mod:`.demonstrations`            the on-disk episode format (NPZ + schema) and recording episodes
                                  driven by an expert, a learner or a mixture (DAgger's beta)
:mod:`.featurize`                 recorded events -> network steps through the policy's
                                  :class:`~lnn_control.policy.aligner.EventAligner` (what the
                                  robot sees), with the expert's label of every step
:mod:`.dataset`                   featurized episodes, input statistics, TBPTT lanes and chunks
:mod:`.sequence`                  the training forward pass (each camera frame encoded once)
:mod:`.augment`                   image augmentation of training batches: shifts, colour jitter,
                                  pixel noise (opt-in: an ``augmentation`` section)
:mod:`.bc`                        behaviour cloning: TBPTT, validation, early stopping
:mod:`.rollouts`                  seeded episodes in worker processes (demos, DAgger, evaluation)
:mod:`.evaluation`                the evaluation harness: success with a Wilson interval, tracking
                                  error, failures by cause, over the four scenarios
:mod:`.state`                     resumable training state: atomic checkpoints, never pickle
:mod:`.pipeline`                  the run: demos -> BC -> DAgger rounds -> evaluation -> report
:mod:`.report`                    the Markdown + PNG report
:mod:`.train_cli`                 ``lnn-control train``
:mod:`.evaluate_cli`              ``lnn-control evaluate``
:mod:`.compare`                   ``lnn-control compare``: cores trained the same way, one table
:mod:`.rl`                        PPO (sb3-contrib RecurrentPPO) with the liquid core as its
                                  recurrent module, from scratch or from a BC checkpoint
:mod:`.rl_cli`                    ``lnn-control rl``
================================  ==============================================================

Nothing here is imported by ``import lnn_control``; torch, MuJoCo and Gymnasium load on use.
"""
