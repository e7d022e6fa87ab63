"""Recorded events -> the network's steps and their labels, through the policy's own aligner.

Training sees what the robot sees: the recorded sensor events go, in delivery order, through an
:class:`~lnn_control.policy.aligner.EventAligner` built from the policy's config, the object
whose rules the :class:`~lnn_control.policy.runtime.PolicyRuntime` applies on the robot (when the
network steps, over what ``dt``, sub-steps in long gaps, resets, late and duplicate messages,
the ages of held streams). At every step it yields, the held raw value of every stream is
recorded (images as raw uint8 frames, so the CNN trains end to end), with the step's ``dt``, the
ages and whether the state starts from zero there.

**Label alignment.** A step caused by an event delivered at control instant ``t_k`` (timer mode:
the tick at ``t_k``) is labelled with the expert's command at ``t_k``: the runtime's
``command(t_k)`` returns the newest step's command and the env applies it from ``t_k`` to
``t_(k+1)``, so the expert's command at ``t_k`` is what should be in force when this step's
command takes effect. With a 200 Hz IMU stepping a policy of a 100 Hz env, two steps share a
label; only the second is applied, but the first is supervised too, so every state the network
passes through is trained (and at other IMU rates, in ``timing_ood``, each step still aims at the
command in force). Steps from the events before the first instant's command (``t_0 = 0``) take
the expert's command at ``t_0``.

**Auxiliary labels.** A policy with an auxiliary head on an image stream is also fitted to a
function of the privileged state (``(ground_truth, goal) -> (M,)``, see
:data:`lnn_control.sim.experts.AUXILIARY_LABELS`), evaluated at every control instant on the
privileged events recorded with the episode and aligned to the steps like the commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from lnn_control.errors import ConfigError
from lnn_control.policy.aligner import EventAligner, Held, StepInput
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.events import EventResult, SensorEvent
from lnn_control.train.demonstrations import Episode

__all__ = ["AuxiliaryLabels", "EpisodeSteps", "StepRecorder", "featurize_episode", "privileged_labels"]


@dataclass
class EpisodeSteps:
    """The network steps of one episode (``T`` steps).

    :param stamp_ns: ``(T,)`` the instant each step ends at, ns.
    :param dt: ``(T,)`` float32 the time each step integrates over, s.
    :param ages: ``(T, len(aged_streams))`` float32 ages scaled to [0, 1].
    :param reset: ``(T,)`` bool: the state is zero before this step (the first step, a gap
        reset, a clock jump).
    :param labels: ``(T, A)`` float32 the expert's command, physical units.
    :param instant: ``(T,)`` int32 the control instant ``k`` each step is labelled from.
    :param vectors: per vector-kind stream, its held value at each step ``(T, size)`` float32.
    :param frames: per image stream, the distinct frames held ``(F, H, W, C)`` uint8.
    :param frame_index: per image stream, the frame held at each step ``(T,)`` int32.
    :param metadata: the episode's metadata.
    :param auxiliary: ``(T, M)`` float32 auxiliary labels (NaN: none), or None.
    """

    stamp_ns: np.ndarray
    dt: np.ndarray
    ages: np.ndarray
    reset: np.ndarray
    labels: np.ndarray
    instant: np.ndarray
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    frames: dict[str, np.ndarray] = field(default_factory=dict)
    frame_index: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    auxiliary: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.dt)


class StepRecorder:
    """Collects the rows of :class:`EpisodeSteps` as the aligner yields steps, one control period
    at a time (:meth:`feed`); the RL env wrapper reads the rows each period appends.

    :param config: the policy's config.
    :param aligner: the aligner built from ``config`` (its rules decide the steps).
    """

    def __init__(self, config: PolicyConfig, aligner: EventAligner) -> None:
        self.aligner = aligner
        self.vector_names = [s.name for s in config.streams if s.kind != "image"]
        self.image_names = [s.name for s in config.streams if s.kind == "image"]
        self.rows: dict[str, list[Any]] = {key: [] for key in ("stamp", "dt", "ages", "reset", "instant")}
        self.vectors: dict[str, list[Held]] = {name: [] for name in self.vector_names}  # float32 arrays
        self.frames: dict[str, list[np.ndarray]] = {name: [] for name in self.image_names}
        self.frame_index: dict[str, list[int]] = {name: [] for name in self.image_names}
        self.fresh = True  # the next step starts from a zero state

    def __len__(self) -> int:
        """Steps recorded so far."""
        return len(self.rows["dt"])

    def feed(self, events: Iterable[SensorEvent], instant: int, control_stamp_ns: int) -> None:
        """Apply one control period: its sensor events in delivery order, then (timer mode) the
        tick at the control instant ``control_stamp_ns`` (ns); records the steps they cause.
        Events of streams the policy does not read are skipped (the runtime would reject them)."""
        aligner = self.aligner
        for event in events:
            if event.stream not in aligner.specs:
                continue
            self.add(*aligner.on_event(event.stream, event.stamp_ns, event.value), instant)
        if aligner.control.mode == "timer":
            self.add(*aligner.tick(control_stamp_ns), instant)

    def add(self, result: EventResult, steps: list[StepInput], instant: int) -> None:
        """Record the steps an event or tick caused (``result`` is the aligner's: ``cleared``, a
        clock jump, makes the next step start from zero state, as the runtime does)."""
        if result.cleared:
            self.fresh = True
        held = self.aligner.held
        for step in steps:
            for name in self.vector_names:
                self.vectors[name].append(held[name])
            for name in self.image_names:
                frames = self.frames[name]
                if not frames or frames[-1] is not held[name]:  # a new frame is held
                    frames.append(held[name])
                self.frame_index[name].append(len(frames) - 1)
            rows = self.rows
            rows["stamp"].append(step.stamp_ns)
            rows["dt"].append(step.dt_s)
            rows["ages"].append(step.ages)
            rows["reset"].append(step.reset or self.fresh)
            rows["instant"].append(instant)
            self.fresh = False


#: auxiliary labels of a privileged state: ``(ground_truth (13,), goal) -> (M,)``
AuxiliaryLabels = Callable[[np.ndarray, np.ndarray], np.ndarray]


def privileged_labels(episode: Episode, labels: AuxiliaryLabels) -> np.ndarray:
    """``labels`` at every control instant ``(K+1, M)`` float32, on the newest ``ground_truth``
    and ``goal`` events delivered by then."""
    held: dict[str, np.ndarray] = {}
    rows = []
    for batch in episode.privileged.by_instant(episode.instants):
        for event in batch:
            held[event.stream] = event.value
        rows.append(labels(held["ground_truth"], held["goal"]))
    return np.asarray(rows, dtype=np.float32)


def featurize_episode(
    config: PolicyConfig, episode: Episode, auxiliary: Optional[AuxiliaryLabels] = None
) -> EpisodeSteps:
    """The steps the policy described by ``config`` takes on ``episode``'s sensor events.

    Events of streams the policy does not read are skipped (the runtime would reject them).

    :param auxiliary: the auxiliary-label function (see the module docstring), or None.
    """
    recorder = StepRecorder(config, EventAligner(config))
    for k, batch in enumerate(episode.sensor_batches()):
        recorder.feed(batch, k, int(episode.control_stamp_ns[k]))
    rows = recorder.rows
    count, aged, actions = len(rows["dt"]), len(config.aged_streams), episode.expert_command.shape[1]
    instant = np.asarray(rows["instant"], dtype=np.int32)
    labels = None if auxiliary is None else privileged_labels(episode, auxiliary)
    heads = sum(spec.auxiliary for spec in config.streams)
    if labels is not None and labels.shape[1] != heads:
        raise ConfigError(
            f"the env's auxiliary labels have {labels.shape[1]} values but the policy's auxiliary "
            f"heads have {heads} outputs: set the image streams' auxiliary sizes to add up to "
            f"{labels.shape[1]}"
        )
    return EpisodeSteps(
        stamp_ns=np.asarray(rows["stamp"], dtype=np.int64),
        dt=np.asarray(rows["dt"], dtype=np.float32),
        ages=np.asarray(rows["ages"], dtype=np.float32).reshape(count, aged),
        reset=np.asarray(rows["reset"], dtype=bool),
        labels=episode.expert_command[instant].astype(np.float32).reshape(count, actions),
        instant=instant,
        vectors={
            name: np.frombuffer(b"".join(values), dtype=np.float32).reshape((count,) + config.stream(name).value_shape).copy()
            for name, values in recorder.vectors.items()
        },
        frames={
            name: (np.stack(frames) if frames else np.zeros((0,) + config.stream(name).value_shape, np.uint8))
            for name, frames in recorder.frames.items()
        },
        frame_index={name: np.asarray(index, dtype=np.int32) for name, index in recorder.frame_index.items()},
        metadata=dict(episode.metadata),
        auxiliary=None if labels is None else labels[instant],
    )
