"""``lnn-control replay`` from the command line, with the receive-time and sqlite3 options."""

import json

import numpy as np
from bagfiles import read_topic

from lnn_control.bags.pipeline import REPLAY_TOPIC
from lnn_control.cli import main


def test_replay_command_with_receive_time_and_sqlite3_output(tmp_path, imu400_bag, imu400_replay,
                                                            params, capsys):
    out = tmp_path / "replay"
    assert main(["replay", str(imu400_bag), "--params", str(params), "--out", str(out),
                 "--receive-time", "--storage", "sqlite3", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "imu (/imu/data): 3520 messages" in printed and "81 gaps" in printed
    assert f"wrote {out}/report.md" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["time_base"] == "receive time"
    bag = out / "imu_400hz_dropouts_replay"
    assert [p.suffix for p in bag.glob("*.db3")] == [".db3"]
    assert len(read_topic(bag, REPLAY_TOPIC)) == 3520
    # this recording's receive times equal its header stamps: the same commands either way
    with np.load(out / "replay.npz") as arrays:
        np.testing.assert_array_equal(arrays["commands"], imu400_replay.arrays["commands"])
