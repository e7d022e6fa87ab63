"""``lnn-control launch`` over real DDS (loopback, a domain of this test process's own): a node
that cannot start fails the whole launch, with its error, and no node is left running. A
``policy_node`` told to autostart exits when it cannot configure, rather than wait unconfigured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from roshelpers import ROOT, policy_node

from lnn_control.ros.processes import local_environment, wait_for


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not reaped, does not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def test_a_policy_node_that_cannot_configure_stops_the_launch(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_checkpoint"
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        launch = subprocess.Popen(
            [sys.executable, "-m", "lnn_control.cli", "launch", "sim", "--checkpoint", str(missing)],
            cwd=ROOT, env=local_environment(), stdout=stdout, stderr=stderr, text=True)
    pids: dict[str, int] = {}
    try:
        code = launch.wait(timeout=120)  # before the fix it ran on, unconfigured, until Ctrl-C
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+) \(pid (\d+)\)", out.read_text())}
        printed = out.read_text() + err.read_text()
        assert set(pids) == {"sim_node", "policy_node"}, printed
        assert code == 2, printed
        assert "Traceback" not in printed
        last = err.read_text().strip().splitlines()[-1]
        assert last.startswith("lnn-control launch: error: policy_node exited with status 2: cannot configure: "
                               f"{missing} is not a checkpoint"), printed
        assert last.endswith("; stopped sim_node"), printed
        assert not [name for name, pid in pids.items() if running(pid)], "a node outlived the launch"
    finally:
        if launch.poll() is None:
            launch.send_signal(signal.SIGINT)  # it stops its nodes
            launch.wait(timeout=60)
        pids = pids or {name: int(pid) for name, pid in re.findall(r"(\w+) \(pid (\d+)\)", out.read_text())}
        for pid in pids.values():
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_policy_node_that_cannot_autostart_exits_with_its_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_checkpoint"
    node = policy_node(ROOT / "config" / "ros" / "imu_policy.yaml", tmp_path / "policy_node.log",
                       checkpoint=missing, autostart="true")
    wait_for(lambda: not node.alive(), 60, "policy_node to exit")
    assert node.stop() == 2
    log = node.output()
    assert f"cannot configure: {missing} is not a checkpoint" in log
    assert log.strip().splitlines()[-1].startswith(f"policy_node: autostart: cannot configure: {missing} "
                                                   "is not a checkpoint")
    assert "Traceback" not in log

