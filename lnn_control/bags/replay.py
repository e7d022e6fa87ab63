"""Replay a bag through the policy runtime: the messages of the policy's topics, in stamp order.

Topics map to the checkpoint's streams with the parameter file the ROS 2 policy node uses
(:class:`~lnn_control.policy.deployment.Deployment`), so a bag replays the way the node would
have run on it. Each message becomes a stream value with
:func:`~lnn_control.policy.messages.sensors.stream_reader` and goes to
:meth:`PolicyRuntime.on_event <lnn_control.policy.runtime.PolicyRuntime.on_event>` in the order of
its stamp (stable for equal stamps: then the bag's order), or by option in the order the messages
were received (the bag's log time): that is the order a live node processed them in, so with
streams of different latencies only arrival order reproduces the live commands (a late message
stamped before a step was not yet there when the step ran). The stamp is the message's
``header.stamp``, or by option the bag's receive time; messages without a header always use the
receive time. In control mode ``timer`` the runtime is also asked for a command every timer period
(``timer_rate_hz`` of the parameter file, else the checkpoint's ``nominal_dt_s``) on the same time
base, as the node's timer would.

A *step* is a network step of the runtime (the event's or tick's result is ``stepped``): its stamp
is ``runtime.last_step_ns`` (the sensor stamp the command was computed from), its receive time the
triggering message's (or the timer tick's) and it records the command and the network state.

One pass over the bag: the messages of the policy's topics are read and converted first (their
values are held in memory, an image as its pixels), then sorted by stamp and fed.

Two warnings say when a replay cannot mean what it seems to: an IMU stream whose linear
acceleration looks like g instead of m/s^2 (:class:`~lnn_control.policy.gravity_check.GravityCheck`
on its first messages; ``streams.<name>.scale`` of the parameter file converts it), and a stepping
stream whose median period differs from the policy's ``control.nominal_dt_s`` by more than a
factor of 2 (:func:`~lnn_control.bags.timing.rate_mismatch`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Optional

import numpy as np
from rich.progress import Progress

from lnn_control.bags.errors import MessageTypeError, TopicNotFoundError
from lnn_control.bags.progress import EVERY, ticker
from lnn_control.bags.reader import Bag
from lnn_control.bags.recorded import RecordedCommands, read_recorded_command
from lnn_control.bags.timing import MeasuredTiming, measure_timing, rate_mismatch
from lnn_control.errors import ShapeError
from lnn_control.policy.config import PolicyConfig
from lnn_control.policy.deployment import Deployment, OutputTopic
from lnn_control.policy.gravity_check import GravityCheck
from lnn_control.policy.messages.sensors import MESSAGE_TYPES, stamp_ns, stream_reader
from lnn_control.policy.runtime import PolicyRuntime

__all__ = ["ReplayRun", "StreamBinding", "Steps", "bind_streams", "replay"]

#: messages kept as examples of each rejection reason
SAMPLES = 5
TimeBase = Literal["header", "receive"]


@dataclass(frozen=True)
class StreamBinding:
    """A policy stream and the bag topic it reads."""

    stream: str
    kind: str
    topic: str
    msgtype: str
    joint_names: tuple[str, ...] = ()
    #: image streams: (height, width) expected; other sizes are refused before decoding
    image_size: Optional[tuple[int, int]] = None
    #: imu streams: the factor to m/s^2 of the linear acceleration (``streams.<name>.scale``)
    accel_scale: float = 1.0


@dataclass
class Steps:
    """The runtime's network steps during a replay, in order.

    :param stamps_ns: ``(N,)`` int64 stamp of each step (``runtime.last_step_ns``), ns since epoch.
    :param receive_ns: ``(N,)`` int64 receive time of the message (or timer tick) that caused it.
    :param commands: ``(N, A)`` float32 commands, within the action limits.
    :param states: ``(N, S)`` float32 network state after the step (labels:
        ``LiquidPolicy.neuron_types()``).
    """

    stamps_ns: np.ndarray
    receive_ns: np.ndarray
    commands: np.ndarray
    states: np.ndarray


@dataclass
class StreamRecord:
    """One stream's messages in the bag's order, for the timing analysis (whose ``lag_s`` is
    ``None`` for messages without a header).

    :param stamps_ns: ``(N,)`` int64 ``header.stamp`` (receive time for messages without one).
    :param receive_ns: ``(N,)`` int64 receive times.
    """

    binding: StreamBinding
    stamps_ns: np.ndarray
    receive_ns: np.ndarray
    timing: MeasuredTiming


@dataclass
class ReplayRun:
    """Everything a replay produced (see the module docstring for the definitions)."""

    time_base: TimeBase
    streams: list[StreamRecord]
    steps: Steps
    #: runtime counters after the replay (``RuntimeStats`` as plain data)
    stats: dict[str, Any]
    #: reason -> {"count", "samples": [{"stream", "topic", "stamp_ns", "receive_ns", "message"}]};
    #: reasons: the runtime's rejection kinds, ``late``, ``duplicate``, and ``conversion`` (the
    #: message could not become a stream value)
    rejections: dict[str, dict[str, Any]]
    recorded: Optional[RecordedCommands]
    #: messages given to the runtime
    events: int
    warnings: list[str] = field(default_factory=list)


def bind_streams(bag: Bag, deployment: Deployment, config: PolicyConfig) -> list[StreamBinding]:
    """Check that every stream's topic is in ``bag`` with the type the parameter file names.

    :raises TopicNotFoundError: a topic is missing (the message lists the bag's topics).
    :raises MessageTypeError: a topic's type is not the one of ``streams.<name>.type``.
    """
    deployment.check(config)
    topics = bag.topics
    bindings = []
    for spec in config.streams:
        mapped = deployment.streams[spec.name]
        fitting = [t.describe() for t in topics.values() if t.msgtype in MESSAGE_TYPES[spec.kind]]
        hint = (f"topics of the bag a {spec.kind} stream can read: {fitting}" if fitting else
                f"the bag has no topic a {spec.kind} stream can read "
                f"({list(MESSAGE_TYPES[spec.kind])})")
        topic = topics.get(mapped.topic)
        if topic is None:
            raise TopicNotFoundError(
                f"stream {spec.name!r}: topic {mapped.topic} (streams.{spec.name}.topic of the "
                f"parameter file) is not in {bag.path}; the bag has:\n{bag.describe_topics()}\n"
                f"Set streams.{spec.name}.topic to one of them; {hint}"
            )
        if topic.msgtype != mapped.type:
            raise MessageTypeError(
                f"stream {spec.name!r} ({spec.kind}): topic {mapped.topic} in {bag.path} holds "
                f"{topic.msgtype}, but streams.{spec.name}.type of the parameter file is "
                f"{mapped.type}; point streams.{spec.name}.topic at a topic of that type; {hint}"
            )
        size = (spec.value_shape[0], spec.value_shape[1]) if spec.kind == "image" else None
        bindings.append(StreamBinding(spec.name, spec.kind, mapped.topic, topic.msgtype,
                                      tuple(mapped.joint_names), size, mapped.scale))
    return bindings


def replay(
    bag: Bag,
    bindings: list[StreamBinding],
    runtime: PolicyRuntime,
    output: Optional[OutputTopic] = None,
    receive_time: bool = False,
    timer_rate_hz: float = 0.0,
    progress: Optional[Progress] = None,
    arrival_order: bool = False,
) -> ReplayRun:
    """Run ``runtime`` (fresh or reset) over the bag's messages of ``bindings``.

    :param output: the parameter file's output: its topic, if in the bag with type
        ``output.type``, is read back as :class:`RecordedCommands`.
    :param receive_time: feed the bag's receive times instead of ``header.stamp``.
    :param arrival_order: feed in receive-time order (as a live node did) instead of stamp order.
    :param timer_rate_hz: control mode ``timer``: the command rate (0: 1 / ``nominal_dt_s``).
    :param progress: shows reading and replaying when given.
    """
    warnings: list[str] = []
    command_topic = _recorded_topic(bag, output, warnings)
    actions = len(runtime.policy.config.actions.names)
    events = _read(bag, bindings, output, command_topic, actions, receive_time, progress)
    warnings += events.warnings + events.sensor_warnings
    feed = _Feed(runtime, bindings, events.conversion, events.receive if arrival_order else None)
    control = runtime.control
    if control.mode == "timer":
        period = 1.0 / timer_rate_hz if timer_rate_hz > 0 else control.nominal_dt_s
        feed.timed(events, round(period * 1e9), progress)
    else:
        feed.events(events, progress)
    recorded = None
    if command_topic is not None and output is not None and not events.warnings:
        recorded = RecordedCommands(command_topic, output.type,
                                    np.asarray(events.recorded_stamps, dtype=np.int64),
                                    np.asarray(events.recorded_values, dtype=np.float64)
                                    .reshape(len(events.recorded_stamps), actions))
    streams = []
    for index, binding in enumerate(bindings):
        stamps = np.asarray(events.timing_stamps[index], dtype=np.int64)
        receive = np.asarray(events.timing_receive[index], dtype=np.int64)
        lagged = None if index in events.headerless else receive
        streams.append(StreamRecord(binding, stamps, receive, measure_timing(stamps, lagged)))
        if control.mode == "stream" and binding.stream == control.stream:
            mismatch = rate_mismatch(binding.stream, binding.topic, streams[-1].timing,
                                     control.nominal_dt_s)
            warnings += [mismatch] if mismatch else []
    return ReplayRun(
        time_base="receive" if receive_time else "header",
        streams=streams,
        steps=feed.steps(runtime.state.size, actions),
        stats=asdict(runtime.stats),
        rejections=feed.rejections,
        recorded=recorded,
        events=len(events.stamps),
        warnings=warnings,
    )


def _recorded_topic(bag: Bag, output: Optional[OutputTopic], warnings: list[str]) -> Optional[str]:
    """The output topic if the bag recorded it with the output type; a warning if another type."""
    if output is None or output.topic not in bag.topics:
        return None
    msgtype = bag.topics[output.topic].msgtype
    if msgtype != output.type:
        warnings.append(f"the bag's {output.topic} holds {msgtype}, not output.type "
                        f"{output.type}: the recorded commands are not compared")
        return None
    return output.topic


@dataclass
class _Events:
    """The stream messages of a bag as runtime events (in the bag's order), and what else the
    reading pass collected."""

    stamps: list[int] = field(default_factory=list)
    receive: list[int] = field(default_factory=list)
    binding: list[int] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    encodings: list[Optional[str]] = field(default_factory=list)
    timing_stamps: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    timing_receive: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: streams whose messages have no header (their stamps are receive times: no lag)
    headerless: set[int] = field(default_factory=set)
    recorded_stamps: list[int] = field(default_factory=list)
    recorded_values: list[np.ndarray] = field(default_factory=list)
    conversion: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: why the recorded commands cannot be compared (then no more are collected)
    warnings: list[str] = field(default_factory=list)
    #: what the sensors' values suggest is wrong (an IMU in g: :class:`GravityCheck`)
    sensor_warnings: list[str] = field(default_factory=list)


def _read(
    bag: Bag,
    bindings: list[StreamBinding],
    output: Optional[OutputTopic],
    command_topic: Optional[str],
    actions: int,
    receive_time: bool,
    progress: Optional[Progress],
) -> _Events:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for index, binding in enumerate(bindings):
        by_topic[binding.topic].append(index)
    readers = [stream_reader(b.kind, b.msgtype, b.joint_names, b.image_size,
                             accel_scale=b.accel_scale) for b in bindings]
    gravity = {index: GravityCheck(b.stream, b.accel_scale)
               for index, b in enumerate(bindings) if b.kind == "imu"}
    topics = set(by_topic) | ({command_topic} if command_topic else set())
    done = ticker(progress, "reading", sum(bag.topics[t].count for t in topics))
    events = _Events()
    count = 0
    for count, message in enumerate(bag.messages(topics), 1):
        if count % EVERY == 0:
            done(count)
        msg = bag.deserialize(message)
        header = getattr(msg, "header", None)
        header_ns = stamp_ns(header.stamp) if header is not None else None
        if message.topic == command_topic and output is not None and not events.warnings:
            _collect_command(events, message.msgtype, msg, message.receive_ns, output, actions)
        sensor_ns = message.receive_ns if header_ns is None else header_ns
        stamp = message.receive_ns if receive_time else sensor_ns
        for index in by_topic.get(message.topic, ()):
            binding = bindings[index]
            events.timing_stamps[index].append(sensor_ns)
            events.timing_receive[index].append(message.receive_ns)
            if header_ns is None:
                events.headerless.add(index)
            try:
                _, value, encoding = readers[index](msg)
            except ShapeError as error:
                _note(events.conversion, "conversion", binding, stamp, message.receive_ns,
                      str(error))
                continue
            events.stamps.append(stamp)
            events.receive.append(message.receive_ns)
            events.binding.append(index)
            events.values.append(value)
            events.encodings.append(encoding)
            check = gravity.get(index)
            if check is not None and not check.decided:
                _warn(events.sensor_warnings, check.observe(value))
    for check in gravity.values():  # a short bag: decide on what it held
        _warn(events.sensor_warnings, check.finish())
    done(count)
    return events


def _warn(warnings: list[str], warning: Optional[str]) -> None:
    if warning is not None:
        warnings.append(warning)


def _collect_command(
    events: _Events, msgtype: str, msg: Any, receive_ns: int, output: OutputTopic, actions: int
) -> None:
    """Add a recorded command to ``events``, or a warning if it does not fit the policy."""
    try:
        command_ns, values = read_recorded_command(msgtype, msg, output)
    except MessageTypeError as error:
        events.warnings.append(f"the recorded commands on {output.topic} are not compared: {error}")
        return
    if values.shape != (actions,):
        events.warnings.append(f"the recorded commands on {output.topic} hold {values.size} "
                               f"values, not the policy's {actions} actions: they are not compared")
        return
    events.recorded_stamps.append(receive_ns if command_ns is None else command_ns)
    events.recorded_values.append(values)


def _note(
    rejections: dict[str, dict[str, Any]], reason: str, binding: StreamBinding, stamp: int,
    receive: int, message: str,
) -> None:
    """Count a dropped message under ``reason``, keeping the first :data:`SAMPLES` as examples."""
    entry = rejections.setdefault(reason, {"count": 0, "samples": []})
    entry["count"] += 1
    if len(entry["samples"]) < SAMPLES:
        entry["samples"].append({"stream": binding.stream, "topic": binding.topic,
                                 "stamp_ns": int(stamp), "receive_ns": int(receive),
                                 "message": message})


class _Feed:
    """Feeds events to the runtime (in stamp or arrival order) and records its steps and what it
    dropped."""

    def __init__(
        self,
        runtime: PolicyRuntime,
        bindings: list[StreamBinding],
        rejections: dict[str, dict[str, Any]],
        order_by: Optional[list[int]] = None,
    ) -> None:
        """:param order_by: feed in the order of these times (one per event) instead of the
        events' stamps (e.g. their receive times)."""
        self.order_by = order_by
        self.runtime = runtime
        self.bindings = bindings
        #: reason -> count and samples; starts with the reading pass's conversion failures
        self.rejections = rejections
        self._stamps: list[int] = []
        self._receive: list[int] = []
        self._commands: list[np.ndarray] = []
        self._states: list[np.ndarray] = []

    def events(self, events: _Events, progress: Optional[Progress]) -> None:
        """Mode ``stream``: every event in stamp order."""
        done = ticker(progress, "replaying", len(events.stamps))
        order = self._order(events)
        for count, i in enumerate(order, 1):
            if count % EVERY == 0:
                done(count)
            self._send(events, i)
        done(len(order))

    def timed(self, events: _Events, period_ns: int, progress: Optional[Progress]) -> None:
        """Mode ``timer``: events in stamp order, and a command request every ``period_ns`` from
        the first event's stamp on (a tick at an event's stamp comes after the event)."""
        done = ticker(progress, "replaying", len(events.stamps))
        order = self._order(events)
        tick = events.stamps[order[0]] + period_ns if order else 0
        for count, i in enumerate(order, 1):
            if count % EVERY == 0:
                done(count)
            while tick < events.stamps[i]:
                if self.runtime.tick(tick).stepped:
                    self._record(tick)
                tick += period_ns
            self._send(events, i)
        done(len(order))

    def _order(self, events: _Events) -> list[int]:
        """Event indices in stamp order, or in ``order_by`` order (stable: then the bag's)."""
        key = events.stamps if self.order_by is None else self.order_by
        return np.argsort(np.asarray(key, dtype=np.int64), kind="stable").tolist()

    def _send(self, events: _Events, i: int) -> None:
        binding = self.bindings[events.binding[i]]
        stamp, receive = events.stamps[i], events.receive[i]
        result = self.runtime.on_event(binding.stream, stamp, events.values[i],
                                       events.encodings[i])
        if not result.accepted:  # by the rejection's kind, or late / duplicate
            kind = result.rejection.kind if result.rejection else result.outcome.value
            _note(self.rejections, kind, binding, stamp, receive, result.reason)
        elif result.stepped:
            self._record(receive)

    def _record(self, receive_ns: int) -> None:
        """Record the step the runtime has just taken."""
        runtime = self.runtime
        stamp = runtime.last_step_ns
        assert stamp is not None
        self._stamps.append(stamp)
        self._receive.append(receive_ns)
        self._commands.append(runtime.command(stamp))
        self._states.append(runtime.state)

    def steps(self, state_size: int, actions: int) -> Steps:
        return Steps(
            stamps_ns=np.asarray(self._stamps, dtype=np.int64),
            receive_ns=np.asarray(self._receive, dtype=np.int64),
            commands=np.asarray(self._commands, dtype=np.float32).reshape(-1, actions),
            states=np.asarray(self._states, dtype=np.float32).reshape(-1, state_size),
        )
