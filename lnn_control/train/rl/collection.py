"""Many QuadHover flights at once as one stable-baselines3 ``VecEnv`` of network-step blocks.

:class:`BatchedStepsVecEnv` steps a :class:`~lnn_control.sim.envs.quad_hover_vector.QuadHoverVectorEnv`
(physics of every env in one ``mujoco.batch`` call, ``messages=True``) and turns each period's
messages into the policy's network steps with
:class:`~lnn_control.train.rl.batched_steps.BatchedStepBlocks`: the observation of env ``i`` is
bit for bit the block :class:`~lnn_control.train.rl.observation.NetworkStepsEnv` gives for a single
env fed the same messages, so the policy sees exactly what the runtime feeds it on a robot, while
the liquid core is stepped for all envs in one batched call (sb3's rollout collection).

The sb3 conventions it keeps: an env that ends is reset in the same step; its last block is
``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]`` says a time limit ended
it, and ``infos[i]["episode"]`` (``r``: return, ``l``: length) and ``infos[i]["is_success"]``
describe the episode (what sb3's ``Monitor`` adds for a single env).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from lnn_control.errors import ConfigError
from lnn_control.policy.config import PolicyConfig
from lnn_control.train.rl.batched_steps import BatchedStepBlocks
from lnn_control.train.rl.observation import StepLayout

__all__ = ["BatchedStepsVecEnv"]


class BatchedStepsVecEnv(VecEnv):
    """``num_envs`` QuadHover episodes as an sb3 ``VecEnv`` whose observations are network-step
    blocks ``(max_substeps, width)`` float32 (module docstring).

    :param config: the policy's config (its streams must be QuadHover's non-camera streams).
    :param max_substeps: rows of a block (network steps one control period may take).
    :param num_envs: envs stepped together.
    :param scenario: the vector env's scenario (no mid-episode changes: no ``adaptation``).
    :param nthread: MuJoCo threads (0: every CPU).
    :param max_episode_steps: control periods before an episode is truncated (None: the env's 500).
    :param privileged: append the env's privileged state at the period's end to every row of a
        block (:class:`~lnn_control.train.rl.observation.StepLayout`'s ``privileged`` columns, for
        the critic).
    """

    def __init__(self, config: PolicyConfig, max_substeps: int, num_envs: int, scenario: str = "nominal",
                 nthread: int = 0, privileged: bool = False, max_episode_steps: Optional[int] = None) -> None:
        from lnn_control.sim.envs.quad_hover_vector import PRIVILEGED_SIZE, QuadHoverVectorEnv

        streams = tuple(spec.name for spec in config.streams)
        images = [spec.name for spec in config.streams if spec.kind == "image"]
        if images:
            raise ConfigError(f"the batched QuadHover env has no camera; this policy reads {images}")
        length = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
        self.env = QuadHoverVectorEnv(num_envs, scenario, streams=streams, nthread=nthread, messages=True, **length)
        self.blocks = BatchedStepBlocks(config, max_substeps, num_envs)
        #: columns of privileged state appended to every row (0: none)
        self.privileged_size = PRIVILEGED_SIZE if privileged else 0
        self.layout = StepLayout(config, self.privileged_size)
        observation_space = gym.spaces.Box(-np.inf, np.inf, (int(max_substeps), self.layout.width), np.float32)
        super().__init__(num_envs, observation_space, self.env.single_action_space)
        self._seed: Optional[int] = None
        self._actions = np.zeros((num_envs,) + self.env.single_action_space.shape, np.float32)
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, np.int64)

    def seed(self, seed: Optional[int] = None) -> Sequence[None | int]:
        """The next :meth:`reset` draws every env from one generator seeded ``seed``."""
        self._seed = seed
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        _, info = self.env.reset(seed=self._seed)
        self._seed = None
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return self._with_privileged(self.blocks.reset(info), info)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        _, reward, terminated, truncated, info = self.env.step(self._actions)
        period = self.blocks.step(info)
        self._returns += reward
        self._lengths += 1
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        final = self._with_privileged(period.final, info.get("final_info", info))
        for i in np.flatnonzero(done):
            infos[i] = {
                "terminal_observation": final[i],
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "episode": {"r": float(self._returns[i]), "l": int(self._lengths[i])},
                "is_success": bool(info["final_info"]["is_success"][i]),
            }
        self._returns[done] = 0.0
        self._lengths[done] = 0
        return self._with_privileged(period.blocks, info), reward.astype(np.float32), done, infos

    def _with_privileged(self, blocks: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """``blocks`` ``(N, K, W)`` with the privileged state of ``info`` on every row, if asked."""
        if not self.privileged_size:
            return blocks
        privileged = np.broadcast_to(info["privileged"][:, None, :], blocks.shape[:2] + info["privileged"].shape[1:])
        return np.concatenate([blocks, privileged], axis=2)

    def close(self) -> None:
        self.env.close()

    # -- the rest of sb3's VecEnv interface: one env in this process, nothing to forward ----------
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        return [getattr(self, method_name)(*method_args, **method_kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        return list(range(self.num_envs)) if indices is None else ([indices] if isinstance(indices, int) else list(indices))
