"""Commands bit for bit as recorded from an earlier main: the restructuring guard.

``fixtures/golden_commands.npz`` holds, for each shipped model (IMU, camera + IMU, arm; the IMU
one in both control modes) and step engine, a recorded event sequence with every kind of bad
input the runtime knows (NaN, Inf, beyond float32, wrong shape, not numeric, unknown stream,
image of the wrong size, dtype or encoding, bgr8, duplicate, late, clock jump, long gap, reset
gap, restart, reset) and the command the runtime gave after each event. It was written by
``python tests/policy/test_golden_commands.py --record`` on main before the runtime, engines and
messages were restructured (commit 612ca4d); this test replays the events through today's runtime
and asserts the same commands to the bit, and the same outcome per event.
"""

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from policies import GRAVITY_IMU, policy

from lnn_control.policy import PolicyRuntime

FIXTURE = Path(__file__).parent / "fixtures" / "golden_commands.npz"
MS = 1_000_000
#: (case name, model config, control overrides, engine)
CASES = [
    ("imu_torch", "imu_cfc", {}, "torch"),
    ("imu_native", "imu_cfc", {}, "native"),
    ("imu_timer_torch", "imu_cfc", {"mode": "timer", "stream": None}, "torch"),
    ("camera_imu_torch", "camera_imu_cfc", {}, "torch"),
    ("camera_imu_native", "camera_imu_cfc", {}, "native"),
    ("arm_torch", "arm_reach_cnn_cfc", {}, "torch"),
    ("arm_native", "arm_reach_cnn_cfc", {}, "native"),
]

#: one recorded item: ("event", stream, stamp_ns, value, encoding), ("tick", stamp_ns),
#: ("restart",) or ("reset",)
Item = tuple[Any, ...]


def _image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A smooth frame of random colours with a random bright square (it compresses well),
    ``(size, size, 3)`` uint8."""
    ramp = np.linspace(0, 200, size)
    image = ramp[:, None, None] * rng.uniform(0.2, 1.0, 3) + ramp[None, :, None] * 0.2
    row, col = rng.integers(0, size - 8, 2)
    image[row:row + 8, col:col + 8] = rng.uniform(0, 255, 3)
    return image.astype(np.uint8)


def _value(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "imu":
        return (GRAVITY_IMU + rng.normal(0.0, 0.5, 6)).astype(np.float32)
    if kind == "joints":
        return rng.normal(0.0, 0.6, 12).astype(np.float64)
    return _image(rng)


def _sequence(streams: dict[str, str], stepping: str, timer: bool, seed: int) -> Iterator[Item]:
    """The events of one case: every stream's value kind (``imu``, ``joints``, ``image``) by
    name, the stepping stream (mode stream) or ticks (mode timer)."""
    rng = np.random.default_rng(seed)
    others = [name for name in streams if name != stepping]
    t = 1_000 * MS

    def good(name: str, at: int) -> Item:
        return ("event", name, at, _value(streams[name], rng), None)

    def beat(count: int, period: int = 5 * MS, jitter: bool = True) -> Iterator[Item]:
        nonlocal t
        for k in range(count):
            t += period + (int(rng.integers(-MS, MS)) if jitter else 0)
            if k % 4 == 0:
                for name in others:
                    yield good(name, t - 2 * MS)
            yield good(stepping, t)
            if timer:
                yield ("tick", t + MS)

    # before every stream reported: waiting, the safe command
    yield good(stepping, t)
    yield from beat(6)
    step = streams[stepping]
    size = {"imu": 6, "joints": 12}.get(step, 0)
    bad_vectors: list[np.ndarray] = [
        np.full(size, np.nan, np.float32), np.full(size, np.inf, np.float32),
        np.full(size, 1e39, np.float64), np.zeros(size + 1, np.float32),
        np.array(["x"] * size), np.full(size, 50.0, np.float32),  # big but finite: clamped
    ]
    if size:
        for bad in bad_vectors:
            t += 5 * MS
            yield ("event", stepping, t, bad, None)
            yield from beat(2)
    yield ("event", "no_such_stream", t + MS, np.zeros(3, np.float32), None)
    for name in others:
        if streams[name] == "image":
            image = _image(rng)
            for value, encoding in [
                (image, "bgr8"), (image, "mono8"), (image[:32], None),
                (image.astype(np.float32), None), (image[:, :, 0], None),
            ]:
                t += 5 * MS
                yield ("event", name, t, value, encoding)
                yield from beat(1)
        else:
            t += 5 * MS
            yield ("event", name, t, np.full(6, np.nan, np.float32), None)
            yield from beat(1)
    # duplicate and late stamps, then a clock jump backwards (beyond max_backward_s)
    yield good(stepping, t)
    yield good(stepping, t - 2 * MS)
    yield from beat(3)
    t -= 900 * MS
    yield from beat(4)
    # a long gap (sub-steps) and a gap beyond reset_gap_s
    t += 60 * MS
    yield from beat(3)
    t += 700 * MS
    yield from beat(3)
    yield ("restart",)
    yield from beat(4)
    yield ("reset",)
    yield from beat(5, jitter=False)


def case_items(model: str, control: dict[str, Any]) -> list[Item]:
    config = policy(model, **control).config
    kinds = {spec.name: ("image" if spec.kind == "image" else
                         "joints" if spec.kind == "joint_state" else "imu")
             for spec in config.streams}
    stepping = config.control.stream or "imu"
    return list(_sequence(kinds, stepping, config.control.mode == "timer", seed=len(model)))


def run(runtime: PolicyRuntime, items: list[Item]) -> tuple[np.ndarray, list[str]]:
    """The command ``(len(items), A)`` float32 after each item, and each item's outcome."""
    commands, outcomes = [], []
    last = 0
    for item in items:
        if item[0] == "event":
            _, stream, stamp, value, encoding = item
            outcomes.append(runtime.on_event(stream, stamp, value, encoding).outcome.value)
            last = stamp
        elif item[0] == "tick":
            last = item[1]
            outcomes.append("tick")
        else:
            getattr(runtime, item[0])()
            outcomes.append(item[0])
        commands.append(runtime.command(last))
    return np.stack(commands), outcomes


def events_key(case: str) -> str:
    """The cases of one model and control mode share their events: the case name less its
    engine."""
    return case.rsplit("_", 1)[0]


def _arrays(name: str, items: list[Item]) -> dict[str, np.ndarray]:
    """The events as arrays (loadable without pickle) and their metadata as JSON."""
    meta, arrays = [], {}
    for k, item in enumerate(items):
        if item[0] == "event":
            meta.append(["event", item[1], int(item[2]), item[4]])
            arrays[f"{name}/value{k}"] = item[3]
        else:
            meta.append(list(item))
    arrays[f"{name}/items"] = np.array(json.dumps(meta))
    return arrays


def load_items(data: Any, name: str) -> list[Item]:
    items: list[Item] = []
    for k, entry in enumerate(json.loads(str(data[f"{name}/items"]))):
        if entry[0] == "event":
            items.append(("event", entry[1], entry[2], data[f"{name}/value{k}"], entry[3]))
        else:
            items.append(tuple(entry))
    return items


@pytest.fixture(scope="module")
def golden() -> Any:
    with np.load(FIXTURE, allow_pickle=False) as data:
        return dict(data)


@pytest.mark.parametrize("name, model, control, engine", CASES, ids=[c[0] for c in CASES])
def test_commands_bit_identical(golden: Any, name: str, model: str, control: dict,
                                engine: str) -> None:
    items = load_items(golden, events_key(name))
    commands, outcomes = run(PolicyRuntime(policy(model, **control), engine=engine), items)
    assert outcomes == json.loads(str(golden[f"{name}/outcomes"]))
    expected = golden[f"{name}/commands"]
    assert commands.dtype == expected.dtype == np.float32
    assert np.array_equal(commands.view(np.uint32), expected.view(np.uint32))


def test_the_sequence_exercises_every_rule(golden: Any) -> None:
    """The recorded outcomes hold every kind of event result (the guard covers each rule)."""
    seen = set()
    for name, *_ in CASES:
        seen.update(json.loads(str(golden[f"{name}/outcomes"])))
    assert {"stepped", "held", "waiting", "duplicate", "late", "rejected"} <= seen


def record() -> None:
    """Write the fixture from this checkout's runtime."""
    arrays: dict[str, np.ndarray] = {}
    for name, model, control, engine in CASES:
        items = case_items(model, control)
        commands, outcomes = run(PolicyRuntime(policy(model, **control), engine=engine), items)
        arrays.update(_arrays(events_key(name), items))
        arrays[f"{name}/commands"] = commands
        arrays[f"{name}/outcomes"] = np.array(json.dumps(outcomes))
        print(f"{name}: {len(items)} items, {len(set(map(tuple, commands.tolist())))} "
              f"distinct commands, outcomes {sorted(set(outcomes))}")
    FIXTURE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="(re)write the fixture")
    if parser.parse_args().record:
        record()
