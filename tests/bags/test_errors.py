"""Acceptance 3: every mistake a user can make gets a message naming the problem and the fix, and
nothing is written over: the input bag and an existing output keep their bytes and mtimes, and
no output (or half-written temporary folder) is left behind."""

import json
import shutil

import pytest
from bagfiles import snapshot, write_params
from rosbags.highlevel import AnyReader

from lnn_control.bags.errors import (BagNotFoundError, BagReadError, MessageTypeError,
                                     OutputExistsError, TopicNotFoundError)
from lnn_control.bags.pipeline import replay_to_folder
from lnn_control.cli import main
from lnn_control.errors import ConfigError


def replay_fails(error, bag, params, out, match):
    """Replay, expect ``error`` matching ``match``; check that nothing below the bag's and the
    output's folders changed and that no output appeared."""
    watched = [bag.parent, out.parent]
    before = snapshot(*watched)
    listing = sorted(p.name for p in out.parent.iterdir())
    with pytest.raises(error, match=match) as raised:
        replay_to_folder(bag, params, out, progress=False)
    assert snapshot(*watched) == before
    assert sorted(p.name for p in out.parent.iterdir()) == listing
    return str(raised.value)


def test_missing_bag(tmp_path, params, capsys):
    bag = tmp_path / "no_such.bag"
    message = replay_fails(BagNotFoundError, bag, params, tmp_path / "out", "does not exist")
    assert str(bag) in message and "ROS 1 .bag file, a ROS 2 bag folder" in message
    assert main(["replay", str(bag), "--params", str(params), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_truncated_ros1_bag(tmp_path, husky_bag, params):
    bag = tmp_path / "input" / "truncated.bag"
    bag.parent.mkdir()
    bag.write_bytes(husky_bag.read_bytes()[: husky_bag.stat().st_size // 2])
    message = replay_fails(BagReadError, bag, params, tmp_path / "out", "truncated or corrupt")
    assert "rosbag reindex" in message


def test_truncated_mcap_bag(tmp_path, husky_ros2, params):
    bag = tmp_path / "input" / "truncated.mcap"
    bag.parent.mkdir()
    data = next(husky_ros2["mcap"].glob("*.mcap")).read_bytes()
    bag.write_bytes(data[: int(len(data) * 0.9)])
    replay_fails(BagReadError, bag, params, tmp_path / "out", "truncated or corrupt")


def test_corrupt_ros1_bag(tmp_path, husky_bag, params):
    data = bytearray(husky_bag.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5000] = b"\x55" * 5000  # inside a compressed chunk
    bag = tmp_path / "input" / "corrupt.bag"
    bag.parent.mkdir()
    bag.write_bytes(bytes(data))
    replay_fails(BagReadError, bag, params, tmp_path / "out", "truncated or corrupt")


def test_corrupt_mcap_that_loses_messages_silently_in_rosbags(tmp_path, husky_ros2, params):
    data = bytearray(next(husky_ros2["mcap"].glob("*.mcap")).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5000] = b"\x55" * 5000  # rosbags then skips the rest of a chunk
    bag = tmp_path / "input" / "corrupt.mcap"
    bag.parent.mkdir()
    bag.write_bytes(bytes(data))
    message = replay_fails(BagReadError, bag, params, tmp_path / "out", "truncated or corrupt")
    assert "declares 11865 messages on /imu/data but" in message


def test_file_that_is_not_a_bag(tmp_path, params):
    bag = tmp_path / "input" / "notes.db3"
    bag.parent.mkdir()
    bag.write_text("these are not the messages you are looking for\n" * 50)
    replay_fails(BagReadError, bag, params, tmp_path / "out", "not a bag")


def test_missing_topic_lists_the_bags_topics(tmp_path, husky_bag, policy_files):
    params = write_params(tmp_path / "params.yaml", *policy_files, streams__imu__topic="/imu/raw")
    message = replay_fails(TopicNotFoundError, husky_bag, params, tmp_path / "out", "/imu/raw")
    for listed in ("/imu/data (sensor_msgs/msg/Imu, 11865 messages)",
                   "/husky_velocity_controller/odom (nav_msgs/msg/Odometry, 3952 messages)",
                   "/fix (sensor_msgs/msg/NavSatFix, 989 messages)"):
        assert listed in message
    assert "Set streams.imu.topic to one of them" in message


def test_topic_of_a_type_that_does_not_fit_the_stream(tmp_path, husky_bag, policy_files):
    params = write_params(tmp_path / "params.yaml", *policy_files,
                          streams__imu__topic="/husky_velocity_controller/odom")
    message = replay_fails(MessageTypeError, husky_bag, params, tmp_path / "out",
                           "holds nav_msgs/msg/Odometry")
    assert "streams.imu.type of the parameter file is sensor_msgs/msg/Imu" in message
    assert "/imu/data (sensor_msgs/msg/Imu, 11865 messages)" in message  # where to point it


def test_parameter_type_that_no_stream_of_that_kind_reads(tmp_path, husky_bag, policy_files):
    params = write_params(tmp_path / "params.yaml", *policy_files,
                          streams__imu__type="nav_msgs/msg/Odometry")
    replay_fails(ConfigError, husky_bag, params, tmp_path / "out", "cannot carry a imu stream")


def test_existing_output_is_never_overwritten(tmp_path, imu400_bag, params, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "report.json").write_text('{"earlier": "results"}\n')
    message = replay_fails(OutputExistsError, imu400_bag, params, out, "already exists")
    assert "report.json" in message and "Choose a new --out folder" in message
    assert main(["replay", str(imu400_bag), "--params", str(params), "--out", str(out)]) == 2
    assert "nothing was overwritten" in capsys.readouterr().err


def test_metadata_disagreeing_with_storage_falls_back_and_says_so(tmp_path, husky_ros2, params,
                                                                 capsys):
    bag = tmp_path / "input" / "husky_qos_edited"
    shutil.copytree(husky_ros2["sqlite3"], bag)
    metadata = bag / "metadata.yaml"
    qos = ("\n      - {history: keep_last, depth: 10, reliability: best_effort,"
           " durability: volatile,"
           " deadline: {sec: 0, nsec: 0}, lifespan: {sec: 0, nsec: 0}, liveliness: automatic,"
           " liveliness_lease_duration: {sec: 0, nsec: 0}, avoid_ros_namespace_conventions: false}")
    text = metadata.read_text()
    assert "offered_qos_profiles: []" in text
    metadata.write_text(text.replace("offered_qos_profiles: []", "offered_qos_profiles:" + qos))
    with AnyReader([bag]) as reader:  # the known rosbags behaviour this guards against
        assert sum(1 for _ in reader.messages()) == 0
    before = snapshot(bag)
    out = tmp_path / "out"
    assert main(["replay", str(bag), "--params", str(params), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert snapshot(bag) == before
    report = json.loads((out / "report.json").read_text())
    warning, rate = report["warnings"]  # rate: the 30 Hz IMU against a 200 Hz policy
    assert "metadata.yaml disagrees with its storage file" in warning and "read directly" in warning
    assert rate.startswith("stream 'imu' (/imu/data) steps the network at 30 Hz")
    assert "QoS profiles" in warning
    assert f"warning: {warning}" in printed
    assert report["bag"]["read_from"].endswith(".db3")
    assert report["streams"]["imu"]["timing"]["count"] == 11865
    assert report["output_bag"]["input_messages"] == 11865 + 3952 + 989
