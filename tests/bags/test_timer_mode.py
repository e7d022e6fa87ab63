"""A policy in control mode ``timer``: the replay asks for a command every timer period of the
parameter file (``timer_rate_hz``), on the stamps' time base, as the node's timer would."""

import numpy as np
from bagfiles import imu_policy, imu_value, read_topic, save_policy, stamp, write_params

from lnn_control.bags.pipeline import replay_to_folder
from lnn_control.policy import PolicyRuntime, load_checkpoint

PERIOD = 10_000_000  # timer_rate_hz 100


def test_timer_mode_steps_every_timer_period(tmp_path, imu400_bag):
    checkpoint, step = save_policy(imu_policy(mode="timer", stream=None), tmp_path)
    params = write_params(tmp_path / "params.yaml", checkpoint, step, timer_rate_hz=100.0)
    outcome = replay_to_folder(imu400_bag, params, tmp_path / "out", progress=False)

    events = sorted(read_topic(imu400_bag, "/imu/data"), key=lambda item: stamp(item[1]))
    first, last = stamp(events[0][1]), stamp(events[-1][1])
    ticks = np.arange(first + PERIOD, last, PERIOD)
    steps = outcome.run.steps
    np.testing.assert_array_equal(steps.stamps_ns, ticks)
    np.testing.assert_array_equal(steps.receive_ns, ticks)

    runtime = PolicyRuntime(load_checkpoint(checkpoint), "onnx", step)
    commands, tick = [], 0
    for _, msg in events:
        while tick < len(ticks) and ticks[tick] < stamp(msg):
            commands.append(runtime.command(int(ticks[tick])))
            tick += 1
        runtime.on_event("imu", stamp(msg), imu_value(msg))
    np.testing.assert_array_equal(steps.commands, np.array(commands))
    assert outcome.report["commands"]["count"] == len(ticks) == outcome.report["runtime"]["steps"]
