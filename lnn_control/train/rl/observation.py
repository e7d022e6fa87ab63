"""What the network sees in RL: a control period's network steps, exactly as on the robot.

:class:`NetworkStepsEnv` feeds every control period's ``info["sensor_events"]`` through the
policy's :class:`~lnn_control.policy.aligner.EventAligner` (via
:class:`~lnn_control.train.featurize.StepRecorder`, the rules the
:class:`~lnn_control.policy.runtime.PolicyRuntime` applies on the robot) and returns the network
steps of that period as a padded block ``(K, D)`` (:class:`StepLayout`): per step the held raw
value of every vector stream, the features of every image stream's held frame, the ages, ``dt``
(s), the reset flag and a valid flag. QuadHover's 200 Hz IMU steps the network about twice per
100 Hz control period.

**Cameras.** RL takes a policy's image encoders as trained (a behaviour-cloned policy's CNN,
frozen): the wrapper encodes each new frame once with a frozen copy of the encoder, exactly as the
runtime's encoder does, and the block carries the features. A rollout then stores 32 floats a step
instead of a 64x64 image, and PPO moves the core, the vector encoders and the heads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from lnn_control.errors import ConfigError, LnnControlError
from lnn_control.policy.aligner import EventAligner
from lnn_control.policy.config import PolicyConfig
from lnn_control.train.featurize import StepRecorder
from lnn_control.train.rollouts import EnvSpec

__all__ = ["NetworkStepsEnv", "StepLayout", "make_training_env"]


class StepLayout:
    """Columns of one network step in :class:`NetworkStepsEnv`'s observation ``(K, width)``:
    each vector stream's held raw value (the policy's streams' order, its units) or image stream's
    encoded features of the held frame (``features`` columns, see :attr:`images`), the ages scaled
    to [0, 1], then ``dt`` (s), the reset flag, the valid flag (0 on padding rows) and, on every
    row, the period's safe flag: 1 when the network has not stepped since the episode started
    (or the state was cleared by a clock jump), so the runtime sends the configured safe command;
    then, for a privileged critic, the privileged state at the period's end on every row (the
    policy never reads it).

    :param config: the policy's config.
    :param privileged: columns of privileged state (0: none).
    """

    def __init__(self, config: PolicyConfig, privileged: int = 0) -> None:
        #: the image streams, whose columns hold their frozen encoder's features
        self.images = [s.name for s in config.streams if s.kind == "image"]
        if config.actions.relative_to is not None:
            raise ConfigError(f"RL trains absolute commands only; this policy's actions are changes from "
                              f"{config.actions.relative_to!r} (remove actions.relative_to and max_change)")
        self.streams: dict[str, slice] = {}
        start = 0
        for spec in config.streams:
            size = spec.features if spec.kind == "image" else spec.value_shape[0]
            self.streams[spec.name] = slice(start, start + size)
            start += size
        self.ages = slice(start, start + len(config.aged_streams))
        self.dt = self.ages.stop
        self.reset = self.dt + 1
        self.valid = self.dt + 2
        self.safe = self.dt + 3
        self.privileged = slice(self.dt + 4, self.dt + 4 + int(privileged))
        self.width = self.privileged.stop


class NetworkStepsEnv(gym.Wrapper):
    """An env whose observation is the policy's network steps of the last control period.

    At reset and after every step, the period's ``info["sensor_events"]`` go through the
    policy's aligner (:class:`StepRecorder`, as in training data and on the robot; timer mode
    ticks at the control instant) and the steps they cause fill the first rows of a
    ``(max_substeps, width)`` float32 block (:class:`StepLayout`); other rows are zero. Rewards,
    termination and info pass through.

    :param env: a lnn_control env delivering the policy's streams.
    :param config: the policy's config.
    :param max_substeps: rows of the block.
    :param encoders: the frozen encoder of every image stream (module docstring).
    """

    def __init__(self, env: gym.Env, config: PolicyConfig, max_substeps: int,
                 encoders: Optional[Mapping[str, nn.Module]] = None) -> None:
        super().__init__(env)
        self.config = config
        self.layout = StepLayout(config)
        self.encoders = dict(encoders or {})
        missing = sorted(set(self.layout.images) - set(self.encoders))
        if missing:
            raise ConfigError(f"RL needs a trained encoder for the image streams {missing}: fine-tune a "
                              f"behaviour-cloned policy (init: its checkpoint folder)")
        #: per image stream: the features of the episode's frames so far ``(features,)`` each
        self._features: dict[str, list[np.ndarray]] = {}
        self.max_substeps = int(max_substeps)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.max_substeps, self.layout.width), np.float32)
        self._recorder = StepRecorder(config, EventAligner(config))
        self._instant = 0

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict[str, Any]] = None) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        self._recorder = StepRecorder(self.config, EventAligner(self.config))
        self._instant = 0
        self._features = {name: [] for name in self.layout.images}
        return self._block(info), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        _, reward, terminated, truncated, info = self.env.step(action)
        self._instant += 1
        return self._block(info), float(reward), terminated, truncated, info

    def _block(self, info: dict[str, Any]) -> np.ndarray:
        recorder, layout = self._recorder, self.layout
        start = len(recorder)
        recorder.feed(info["sensor_events"], self._instant, int(self.env.unwrapped.now_ns))
        count = len(recorder) - start
        if count > self.max_substeps:
            raise LnnControlError(
                f"control period {self._instant} took {count} network steps but observations hold "
                f"max_substeps={self.max_substeps}: raise max_substeps in the RL config"
            )
        block = np.zeros((self.max_substeps, layout.width), dtype=np.float32)
        block[:, layout.safe] = float(recorder.fresh)  # no step since the state was last cleared
        if not count:
            return block
        rows = recorder.rows
        for name, columns in layout.streams.items():
            if name in layout.images:
                block[:count, columns] = self._encoded(name, recorder.frame_index[name][start:])
            else:
                block[:count, columns] = recorder.vectors[name][start:]
        block[:count, layout.ages] = rows["ages"][start:]
        block[:count, layout.dt] = rows["dt"][start:]
        block[:count, layout.reset] = rows["reset"][start:]
        block[:count, layout.valid] = 1.0
        return block

    def _encoded(self, name: str, indices: list[int]) -> np.ndarray:
        """The features ``(len(indices), features)`` of image stream ``name``'s frames
        ``indices``; every new frame is encoded once by the frozen encoder, as the runtime does."""
        done, frames = self._features[name], self._recorder.frames[name]
        with torch.inference_mode():
            for frame in frames[len(done):]:
                done.append(self.encoders[name](torch.from_numpy(frame)[None])[0].numpy())
        return np.stack([done[i] for i in indices])


def make_training_env(spec: EnvSpec, config: PolicyConfig, max_substeps: int,
                      encoders: Optional[Mapping[str, nn.Module]] = None) -> gym.Env:
    """A monitored :class:`NetworkStepsEnv` of ``spec`` (sb3's Monitor records its episodes)."""
    from stable_baselines3.common.monitor import Monitor

    return Monitor(NetworkStepsEnv(spec.make(), config, max_substeps, encoders))
