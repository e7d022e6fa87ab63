"""The 400 Hz hardware IMU bag: the timing analysis finds its 2.5 ms period and exactly its 81
gaps of one missing sample (../shared/data/bags/README.md), and the runtime steps over them."""

import numpy as np
import pytest
from bagfiles import read_topic, stamp


def test_400hz_period_and_its_81_single_sample_gaps(imu400_replay, imu400_bag):
    report = imu400_replay.report
    counts = {topic: info["count"] for topic, info in report["bag"]["topics"].items()}
    assert counts == {"/imu/data": 3520, "/imu/time_ref": 3699, "/imu/status": 3698,
                      "/davis_left/ext_trigger": 10}
    timing = report["streams"]["imu"]["timing"]
    assert timing["count"] == 3520
    assert timing["period_s"]["p50"] == pytest.approx(0.0025, abs=1e-6)
    assert timing["nominal_rate_hz"] == pytest.approx(400.0, abs=0.2)
    gaps = timing["gaps"]
    assert gaps["count"] == 81 and gaps["missing"] == 81
    lengths = [gap["length_s"] for gap in gaps["first"]]
    assert len(lengths) == 20 and all(0.0049 < length < 0.0051 for length in lengths)
    assert 0.0049 < gaps["longest_s"] < 0.0051
    # mean rate: 3520 samples over the span of 3520 + 81 periods of 2.5 ms
    assert timing["rate_hz"] == pytest.approx(3519 / (3600 * 0.0025), rel=1e-3)
    assert timing["out_of_order"] == 0 and timing["duplicates"] == 0
    assert timing["lag_s"]["median"] == 0.0 and timing["lag_s"]["max"] == 0.0  # receive = stamp
    assert timing["jitter_s"] < 1e-4 < timing["period_s"]["std"]  # gaps excluded from jitter

    # the gaps are where the recording itself has them
    stamps = np.sort([stamp(m) for _, m in read_topic(imu400_bag, "/imu/data")])
    periods = np.diff(stamps)
    first = stamps[:-1][periods > 1.5 * np.median(periods)][:20]
    assert [gap["at_ns"] for gap in gaps["first"]] == first.tolist()
    runtime = report["runtime"]
    assert runtime["steps"] == 3520 and runtime["long_gaps"] == 0 and runtime["gap_resets"] == 0
    assert report["rejections"] == {}
    markdown = (imu400_replay.folder / "report.md").read_text()
    assert "| imu | /imu/data | 3520 |" in markdown and "81 (81 missing" in markdown
    for plot in ("timing_imu.png", "commands.png", "neurons.png"):
        assert (imu400_replay.folder / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({plot})" in markdown
