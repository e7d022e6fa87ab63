"""An output path that cannot be written (under a file, a folder where a file must go, a file
where a folder must go, a broken link) fails before the command does any work: one line naming
the path, what is in the way and the option to change, exit code 2, no traceback, and no user
file touched."""

from __future__ import annotations

import argparse
import ast
import os
import pwd
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from lnn_control.cli import OUTPUT_OPTIONS, build_parser, check_outputs
from lnn_control.config import load_config
from lnn_control.errors import OutputPathError
from lnn_control.files import output_path_problem
from lnn_control.policy import LiquidPolicy, PolicyConfig, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
LNN_CONTROL = Path(sys.executable).with_name("lnn-control")
BAG = ROOT.parent / "shared" / "data" / "bags" / "imu_400hz_dropouts.bag"
CONTENT = "a user's notes, not to be lost\n"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IMU-only CfC/NCP policy of config/models/imu_cfc.yaml (random weights, seed 0)."""
    torch.manual_seed(0)
    policy = LiquidPolicy(load_config(PolicyConfig, ROOT / "config" / "models" / "imu_cfc.yaml"))
    return save_checkpoint(policy, tmp_path_factory.mktemp("checkpoint") / "imu_cfc")


def user_file(folder: Path) -> Path:
    path = folder / "notes.txt"
    path.write_text(CONTENT)
    return path


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``lnn-control`` with ``argv``, in ``cwd``."""
    return subprocess.run([str(LNN_CONTROL), *argv], cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_refused(result: subprocess.CompletedProcess[str], command: str, message: str, cwd: Path,
                   before: set[Path]) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"lnn-control {command}: error: {message}"]
    assert set(cwd.rglob("*")) == before, "the refused command created something"
    assert (cwd / "notes.txt").read_text() == CONTENT


@pytest.mark.parametrize("verb", ["replay", "evaluate", "export", "sim view"])
def test_an_output_under_a_file_is_refused_before_any_work(verb: str, checkpoint: Path, tmp_path: Path) -> None:
    if not BAG.is_file():
        pytest.fail(f"the recorded bag {BAG} is missing (see ../shared/data/bags/README.md)")
    user_file(tmp_path)
    argv, option, target = {
        "replay": ([str(BAG), "--model", str(checkpoint), "--params", str(ROOT / "config/ros/imu_policy.yaml"),
                    "--out", "notes.txt/replay", "--quiet"], "--out", "notes.txt/replay"),
        "evaluate": (["--model", str(checkpoint), "--env", "QuadHover-v0", "--episodes", "1", "--workers", "0",
                      "--json", "notes.txt/eval/x.json", "--quiet"], "--json", "notes.txt/eval/x.json"),
        "export": ([str(checkpoint), "--onnx", "notes.txt/step.onnx"], "--onnx", "notes.txt/step.onnx"),
        "sim view": (["--env", "QuadHover-v0", "--expert", "--out", "notes.txt/view.png"], "--out",
                     "notes.txt/view.png"),
    }[verb]
    before = set(tmp_path.rglob("*"))
    result = run([*verb.split(), *argv], tmp_path)
    assert_refused(result, verb.split()[0],
                   f"cannot write {target}: notes.txt is a file, not a folder; choose another {option} path",
                   tmp_path, before)


def test_a_json_path_that_is_a_folder_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    user_file(tmp_path)
    (tmp_path / "results").mkdir()
    before = set(tmp_path.rglob("*"))
    result = run(["evaluate", "--model", str(checkpoint), "--env", "QuadHover-v0", "--episodes", "1",
                  "--workers", "0", "--json", "results", "--quiet"], tmp_path)
    assert_refused(result, "evaluate",
                   "cannot write results: results is a folder, not a file; choose another --json path",
                   tmp_path, before)


def test_a_run_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    user_file(tmp_path)
    before = set(tmp_path.rglob("*"))
    result = run(["train", "--config", str(ROOT / "config/train/quad_hover.yaml"), "--out", "notes.txt"],
                 tmp_path)
    assert_refused(result, "train",
                   "cannot write notes.txt: notes.txt is a file, not a folder; choose another --out path",
                   tmp_path, before)


def leaf_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every runnable command of the real parser (``sim view``, ``bench ros``, ``train``, ...)."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers:
            found.append((" ".join(path), parser))
        for action in subparsers:
            for name, sub in action.choices.items():
                walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


OUTPUTS = [(name, action.dest) for name, parser in leaf_commands() for action in parser._actions
           if action.dest in OUTPUT_OPTIONS]


def test_every_command_that_writes_is_covered() -> None:
    covered = {name for name, _ in OUTPUTS}
    assert covered >= {"replay", "evaluate", "export", "sim view", "sim eval", "record", "train", "rl",
                       "compare", "demo", "bench liquid", "bench replay", "bench runtime", "bench ros",
                       "bench sim"}


@pytest.mark.parametrize("command, dest", OUTPUTS, ids=[f"{c}--{d}" for c, d in OUTPUTS])
def test_every_output_option_is_checked_before_the_command_runs(command: str, dest: str, tmp_path: Path) -> None:
    """What :func:`lnn_control.cli.main` checks for each command, with the command's own defaults."""
    blocker = user_file(tmp_path)
    parser = dict(leaf_commands())[command]
    args = argparse.Namespace(**{a.dest: a.default for a in parser._actions},
                              outputs=parser.get_default("outputs") or {})
    setattr(args, dest, str(blocker / "result"))
    with pytest.raises(OutputPathError, match=f"notes.txt is a file, not a folder; choose another --{dest} path"):
        check_outputs(args)
    setattr(args, dest, str(tmp_path / "new" / "result"))
    check_outputs(args)  # a path whose folders do not exist yet is fine: the command makes them
    assert blocker.read_text() == CONTENT and not (tmp_path / "new").exists()


def test_the_problems_found_for_files_and_folders(tmp_path: Path) -> None:
    user_file(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    assert output_path_problem(tmp_path / "folder" / "a" / "b.json", "file") is None
    assert output_path_problem(tmp_path / "notes.txt", "file") is None  # replaced, as its command says
    assert output_path_problem(tmp_path / "folder", "folder") is None
    assert output_path_problem(tmp_path / "notes.txt" / "a" / "b", "folder") == f"{tmp_path / 'notes.txt'} is a file, not a folder"
    assert output_path_problem(tmp_path / "notes.txt", "folder") == f"{tmp_path / 'notes.txt'} is a file, not a folder"
    assert output_path_problem(tmp_path / "folder", "file") == f"{tmp_path / 'folder'} is a folder, not a file"
    assert output_path_problem(tmp_path / "gone" / "x.json", "file") == (
        f"{tmp_path / 'gone'} is a link to {tmp_path / 'nowhere'}, which does not exist")


def test_a_read_only_folder_is_refused() -> None:
    """Checked as a user who may not write there: root may write anywhere, so as root the check
    runs in a forked process that has become the unprivileged user ``nobody``."""
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:  # /tmp: every user may reach it
        Path(folder).chmod(0o755)
        locked = Path(folder) / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        assert as_unprivileged_user(lambda: output_path_problem(locked / "run", "folder")) == (
            f"the folder {locked} is not writable by this user")


def as_unprivileged_user(check):
    """``check()``'s result (a string or None), computed as ``nobody`` if this process is root."""
    if os.geteuid() != 0:
        return check()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: drop root, check, report, exit without running pytest's teardown
        os.close(reading)
        nobody = pwd.getpwnam("nobody")
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
        os.write(writing, repr(check()).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as stream:
        answer = stream.read()
    assert os.waitpid(child, 0)[1] == 0
    return ast.literal_eval(answer)
