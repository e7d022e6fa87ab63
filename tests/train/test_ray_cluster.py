"""``lnn-control compare --address``: the same trials on a Ray cluster of two nodes on loopback.

The cluster is real: ``ray start --head`` and a second ``ray start --address`` node, one CPU each,
on a loopback address, with token authentication and usage statistics off. Its results equal
the same comparison run on the local Ray, and a trial whose worker is killed is retried and
finishes. Every process the test started (the ``ray start`` daemons and their workers share the
session the test gave them) is killed at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers import tiny_config
from safetensors.numpy import load_file

from lnn_control.train.trials import LOOPBACK

RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_of(pid: int) -> int:
    stat = (Path("/proc") / str(pid) / "stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[3])


def _kill_session(session: int) -> None:
    """SIGKILL every process of ``session`` (Ray's daemons keep the session of their ``ray start``)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if _session_of(int(entry.name)) == session:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass  # it ended meanwhile


def _ray_start(args: list[str], env: dict[str, str]) -> int:
    """``ray start ARGS`` in a session of its own, which its daemons keep; returns the session."""
    process = subprocess.Popen([RAY, "start", *args], env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return process.pid


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A two-node Ray cluster on loopback: its head's address and the environment to reach it."""
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"{LOOPBACK}:{_free_port()}"
    node = [f"--node-ip-address={LOOPBACK}", "--num-cpus=1", "--disable-usage-stats"]
    sessions: list[int] = []
    # a short temporary folder of its own: Ray's socket paths must stay under 108 characters
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    try:
        sessions.append(_ray_start(
            ["--head", f"--port={address.split(':')[1]}", f"--ray-client-server-port={_free_port()}",
             f"--dashboard-agent-listen-port={_free_port()}", "--include-dashboard=false",
             f"--temp-dir={temp}", *node], env))
        sessions.append(_ray_start([f"--address={address}", f"--dashboard-agent-listen-port={_free_port()}",
                                    *node], env))
        nodes = subprocess.run(
            [sys.executable, "-c", "import ray, sys; ray.init(address=sys.argv[1], _node_ip_address=sys.argv[2]); "
             "print(*[n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']])", address, LOOPBACK],
            env=env, capture_output=True, text=True, timeout=120)
        # two nodes, both registered on loopback: no trial's traffic leaves the machine
        assert nodes.stdout.split("\n")[-2].split() == [LOOPBACK, LOOPBACK], nodes.stdout + nodes.stderr
        yield address, env
    finally:
        for session in sessions:
            _kill_session(session)
        shutil.rmtree(temp, ignore_errors=True)


def _comparison(tmp_path: Path, **sections) -> Path:
    """A comparison of one core, two network seeds, over a tiny QuadHover training config."""
    train = tiny_config("quad_hover", tmp_path, dagger={"rounds": 0}, evaluation={"episodes": 2}, **sections)
    config = tmp_path / "compare.yaml"
    config.write_text(yaml.safe_dump({"train": train.name, "seeds": [0, 1], "cores": {"cfc_ncp": {}}}))
    return config


def _compare(config: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lnn_control.cli", "compare", "--config", str(config),
                             "--out", str(out), "--quiet", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _figures(out: Path) -> dict:
    """Per run: its updates, its success per scenario, and its final weights."""
    document = json.loads((out / "comparison.json").read_text())
    return {seed: (run["updates"], {s: r["success_rate"] for s, r in run["scenarios"].items()},
                   {k: v.tolist() for k, v in load_file(out / "cfc_ncp" / f"seed{seed}" / "policy" / "weights.safetensors").items()})
            for seed, run in document["cores"]["cfc_ncp"]["seeds"].items()}


def test_a_comparison_on_a_two_node_cluster_equals_the_local_one(cluster, tmp_path: Path) -> None:
    address, env = cluster
    config = _comparison(tmp_path)
    local = _compare(config, tmp_path / "local", env)
    assert local.wait(timeout=600) == 0, local.stdout.read()
    remote = _compare(config, tmp_path / "remote", env, "--address", address)
    assert remote.wait(timeout=600) == 0, remote.stdout.read()
    assert _figures(tmp_path / "remote") == _figures(tmp_path / "local")


def test_a_trial_whose_worker_is_killed_is_retried_and_finishes(cluster, tmp_path: Path) -> None:
    address, env = cluster
    config = _comparison(tmp_path, bc={"max_epochs": 100, "max_updates": 400, "patience": 0},
                         checkpoint={"every_updates": 50})
    out = tmp_path / "out"
    compare = _compare(config, out, env, "--address", address)
    try:
        run = out / "cfc_ncp" / "seed0"
        deadline = time.monotonic() + 300
        while not (run / "checkpoints").is_dir() or not any((run / "checkpoints").iterdir()):
            assert compare.poll() is None and time.monotonic() < deadline, "no checkpoint before the end"
            time.sleep(0.2)
        # the Ray worker process running the trial, mid-training
        os.kill(json.loads((run / "trial.json").read_text())["pid"], signal.SIGKILL)
        assert compare.wait(timeout=600) == 0, compare.stdout.read()
    finally:
        compare.kill()
    document = json.loads((out / "comparison.json").read_text())
    runs = document["cores"]["cfc_ncp"]["seeds"]
    assert runs["0"]["attempts"] == 2 and runs["1"]["attempts"] == 1
    assert runs["0"]["updates"] == runs["1"]["updates"]  # the retry resumed and finished its budget
