"""Every ``lnn-control`` command the README gives runs as written: it parses with the real
parser, every file it reads is in the repository or is made by a command before it in the
README (a checkpoint under ``out/``), every ``--env`` and ``--scenario`` resolves, and every
output path can be written. Nothing is run: training takes minutes to hours.

Commands are the lines of the README's code blocks that start with ``lnn-control`` (``\\``
continues a line) and the inline ``lnn-control ...`` spans written out in full (the results
table's, say). Spans with placeholders (``CKPT``, ``[--params FILE]``, ``(a | b)``,
``config/rl/*.yaml``) are synopses, and a bare ``lnn-control VERB`` names a verb: neither is
run as such.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from lnn_control.cli import OUTPUT_OPTIONS, build_parser, check_outputs
from lnn_control.errors import LnnControlError
from lnn_control.sim.ids import env_id
from lnn_control.sim.scenarios import load_scenario

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: where the README's commands write what they produce (a fresh clone has none of it)
PRODUCED = "out/"
#: options naming a file or folder that a command reads
INPUTS = ("bag", "checkpoint", "config", "model", "params", "sim_params", "train_config")
#: inline spans that mention an option in prose rather than give a command to run
MENTIONS = ("lnn-control replay --arrival-order",)
#: a placeholder (an upper-case word such as CKPT, DIR, NAME) or synopsis syntax
SYNOPSIS = re.compile(r"\b[A-Z][A-Z_]+\b|[\[\]()|*]")


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    #: from a code block (always a command), or an inline span (a command if written out in full)
    block: bool

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)[1:]


def readme_commands() -> list[Command]:
    """The README's commands in document order (see the module docstring)."""
    text = README.read_text()
    commands: list[Command] = []
    in_block = False
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_block = not in_block
        elif in_block and line.strip().startswith("lnn-control "):
            start, joined = index, line.strip()
            while joined.endswith("\\"):
                index += 1
                joined = joined[:-1].rstrip() + " " + lines[index].strip()
            commands.append(Command(start + 1, joined, True))
        elif not in_block:
            for span in re.findall(r"`(lnn-control [^`]+)`", line):
                commands.append(Command(index + 1, span, False))
        index += 1
    # inline spans broken over two lines of prose
    for match in re.finditer(r"`(lnn-control [^`]*\n[^`]*)`", text):
        commands.append(Command(text.count("\n", 0, match.start()) + 1, " ".join(match[1].split()), False))
    return sorted((c for c in commands if runnable(c)), key=lambda c: c.line)


def runnable(command: Command) -> bool:
    """A code block's line, or an inline span that is not a synopsis, a bare verb or a mention."""
    if command.block:
        return True
    return not (SYNOPSIS.search(command.text) or len(command.argv) < 2 or command.text in MENTIONS)


COMMANDS = readme_commands()


def parse(command: Command) -> argparse.Namespace:
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return build_parser().parse_args(command.argv)
    except SystemExit:
        pytest.fail(f"README.md:{command.line}: `{command.text}` does not parse: {errors.getvalue().strip()}")


def outputs_of(args: argparse.Namespace) -> list[str]:
    kinds = {**OUTPUT_OPTIONS, **getattr(args, "outputs", {})}
    return [str(getattr(args, name)) for name in kinds if getattr(args, name, None) is not None]


def test_the_readme_gives_the_commands_of_every_section() -> None:
    verbs = {c.argv[0] for c in COMMANDS}
    assert verbs >= {"sim", "record", "train", "evaluate", "compare", "rl", "replay", "bench"}, verbs


@pytest.mark.parametrize("command", COMMANDS, ids=[f"line{c.line}" for c in COMMANDS])
def test_a_readme_command_runs_as_written(command: Command, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the checkout
    args = parse(command)
    where = f"README.md:{command.line}: `{command.text}`"
    made_before = [p for c in COMMANDS if c.line < command.line for p in outputs_of(parse(c))]
    outputs = set(outputs_of(args))
    for name, value in vars(args).items():
        if not isinstance(value, (str, Path)) or str(value) in outputs:
            continue
        value = str(value)
        if name == "env":
            try:
                env_id(value)
            except LnnControlError as error:
                pytest.fail(f"{where}: --env {value}: {error}")
        elif name == "scenario":
            if value != "all" or args.command != "evaluate":
                load_scenario(value)
        elif name in INPUTS:
            if value.startswith(PRODUCED):
                assert any(value == made or value.startswith(made.rstrip("/") + "/") for made in made_before), (
                    f"{where}: {value} is made by no command above it in the README")
            else:
                assert (ROOT / value).exists(), f"{where}: {value} is not in the repository"
        else:
            assert "/" not in value and not value.endswith((".yaml", ".json", ".bag")), (
                f"{where}: {name}={value!r} looks like a path: add its option to INPUTS or OUTPUT_OPTIONS")
    check_outputs(args)
