"""A bag that holds recorded commands: the replay's commands are compared with them (RMSE per
action, lag by cross-correlation). The recorded commands come from a first replay of the real
400 Hz IMU bag; a second copy has them delayed by 10 samples (25 ms)."""

import numpy as np
import pytest
from bagfiles import read_topic, rewrite_bag, set_stamp, stamp

from lnn_control.bags.pipeline import REPLAY_TOPIC, REPLAY_TOPIC_TAKEN, replay_to_folder

NAMES = ["collective_thrust", "roll_rate", "pitch_rate", "yaw_rate"]


def test_replaying_a_replays_output_reproduces_its_commands(tmp_path, imu400_replay, params):
    recorded_bag = imu400_replay.output_bag
    outcome = replay_to_folder(recorded_bag, params, tmp_path / "again", progress=False)
    recorded = outcome.report["recorded"]
    assert recorded["topic"] == REPLAY_TOPIC
    assert recorded["count"] == recorded["compared"] == recorded["exact_stamps"] == 3520
    assert recorded["rmse"] == dict.fromkeys(NAMES, 0.0)
    assert recorded["max_abs"] == dict.fromkeys(NAMES, 0.0)
    assert recorded["lag_s"] == 0.0
    np.testing.assert_array_equal(outcome.run.steps.commands, imu400_replay.arrays["commands"])
    (warning,) = outcome.report["warnings"]
    assert f"already has {REPLAY_TOPIC}" in warning and REPLAY_TOPIC_TAKEN in warning
    written = read_topic(outcome.folder / f"{recorded_bag.stem}_replay", REPLAY_TOPIC_TAKEN)
    assert [stamp(m) for _, m in written] == imu400_replay.arrays["step_stamps_ns"].tolist()
    markdown = (outcome.folder / "report.md").read_text()
    assert "## Against the recorded commands" in markdown


def test_lag_of_delayed_recorded_commands_is_found_by_cross_correlation(tmp_path, imu400_replay,
                                                                       params):
    delay = 25_000_000  # 10 periods of the 400 Hz IMU

    def delayed(topic, index, msg):
        return set_stamp(msg, stamp(msg) + delay) if topic == REPLAY_TOPIC else None

    bag = rewrite_bag(imu400_replay.output_bag, tmp_path / "delayed", delayed)
    recorded = replay_to_folder(bag, params, tmp_path / "out", progress=False).report["recorded"]
    assert recorded["grid_s"] == pytest.approx(0.0025, abs=1e-6)
    assert recorded["lag_s"] == pytest.approx(0.025, abs=0.0025)
    assert recorded["exact_stamps"] < 3520 and recorded["compared"] == 3520
    assert all(value > 0 for value in recorded["rmse"].values())
