"""The README and the pages of ``docs/`` say what is true of this checkout.

Every ``lnn-control`` command they give runs as written: it parses with the real parser, every
file it reads is in the repository or is made by a command before it (a checkpoint under
``out/``), every ``--env`` and ``--scenario`` resolves, and every output path can be written.
Nothing is run: training takes minutes to hours. The README is the tour a reader follows first,
so a page of ``docs/`` may read what a README command made as well as what its own commands
above made.

Commands are the lines of the code blocks that start with ``lnn-control`` (``\\`` continues a
line) and the inline ``lnn-control ...`` spans written out in full (the results table's, say).
Spans with placeholders (``CKPT``, ``[--params FILE]``, ``(a | b)``, ``config/rl/*.yaml``) are
synopses, and a bare ``lnn-control VERB`` names a verb: neither is run as such.

Every relative link points to a file of the repository (and to a heading of it, for ``#anchor``),
every repository path written in code (``sim/envs/arm_reach.py``, ``config/ros/``) exists, every
module named in code (``lnn_control.liquid``) resolves, and every entry of a layout tree (a code
block starting with ``lnn_control/``) is a folder or file where the tree puts it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from lnn_control.sim.ids import env_id
from lnn_control.sim.scenarios import load_scenario

from lnn_control.cli import OUTPUT_OPTIONS, build_parser, check_outputs
from lnn_control.errors import LnnControlError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the README first (the tour), then every page it leads to
DOCUMENTS = (README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "config" / "README.md")
#: where the commands write what they produce (a fresh clone has none of it)
PRODUCED = "out/"
#: options naming a file or folder that a command reads
INPUTS = ("bag", "checkpoint", "config", "model", "params", "sim_params", "train_config")
#: inline spans that mention an option in prose rather than give a command to run
MENTIONS = ("lnn-control replay --arrival-order",)
#: a placeholder (an upper-case word such as CKPT, DIR, NAME) or synopsis syntax
SYNOPSIS = re.compile(r"\b[A-Z][A-Z_]+\b|[\[\]()|*]")
#: a repository path written in code: a top-level folder, then a path (globs allowed); env ids
#: such as ``lnn_control/QuadHover-v0`` are not paths
REPOSITORY_PATH = re.compile(r"(?:lnn_control|sim|bench|launch|config|tests|docs)/[\w.*/-]*")
ENV_ID = re.compile(r"-v\d+$")
#: a module of the package written in code, e.g. ``lnn_control.policy.engines.export``
MODULE = re.compile(r"lnn_control(?:\.\w+)+")
#: a markdown link ``[text](target)``
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass(frozen=True)
class Command:
    document: Path
    line: int
    text: str
    #: from a code block (always a command), or an inline span (a command if written out in full)
    block: bool

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)[1:]

    @property
    def where(self) -> str:
        return f"{relative(self.document)}:{self.line}: `{self.text}`"


def prose_and_code(text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The document's lines outside code blocks and inside them, as (line number, line)."""
    prose: list[tuple[int, str]] = []
    code: list[tuple[int, str]] = []
    in_block = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
        elif in_block:
            code.append((number, line))
        else:
            prose.append((number, line))
    return prose, code


def code_blocks(text: str) -> list[list[tuple[int, str]]]:
    """Each fenced code block's lines, as (line number, line)."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append((number, line))
    return blocks


def inline_spans(text: str) -> list[tuple[int, str]]:
    """The inline code spans of the prose (one may run over two lines), as (line number, span)."""
    prose = dict(prose_and_code(text)[0])
    joined = "\n".join(prose.get(number, "") for number in range(1, len(text.splitlines()) + 1))
    return [(joined.count("\n", 0, m.start()) + 1, " ".join(m[1].split())) for m in re.finditer(r"`([^`\n]+(?:\n[^`\n]+)?)`", joined)]


def commands_of(document: Path) -> list[Command]:
    """A document's commands in document order (see the module docstring)."""
    text = document.read_text()
    commands: list[Command] = []
    for block in code_blocks(text):
        index = 0
        while index < len(block):
            number, line = block[index]
            if line.strip().startswith("lnn-control "):
                joined = line.strip()
                while joined.endswith("\\"):
                    index += 1
                    joined = joined[:-1].rstrip() + " " + block[index][1].strip()
                commands.append(Command(document, number, joined, True))
            index += 1
    for number, span in inline_spans(text):
        if span.startswith("lnn-control "):
            commands.append(Command(document, number, span, False))
    return sorted((c for c in commands if runnable(c)), key=lambda c: c.line)


def runnable(command: Command) -> bool:
    """A code block's line, or an inline span that is not a synopsis, a bare verb or a mention."""
    if command.block:
        return True
    return not (SYNOPSIS.search(command.text) or len(command.argv) < 2 or command.text in MENTIONS)


COMMANDS = [command for document in DOCUMENTS for command in commands_of(document)]
README_COMMANDS = [command for command in COMMANDS if command.document == README]


def parse(command: Command) -> argparse.Namespace:
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return build_parser().parse_args(command.argv)
    except SystemExit:
        pytest.fail(f"{command.where} does not parse: {errors.getvalue().strip()}")


def outputs_of(args: argparse.Namespace) -> list[str]:
    kinds = {**OUTPUT_OPTIONS, **getattr(args, "outputs", {})}
    return [str(getattr(args, name)) for name in kinds if getattr(args, name, None) is not None]


def made_before(command: Command) -> list[str]:
    """What the commands a reader runs before this one make: those above it on its page and,
    on a page of docs/, every command of the README."""
    before = [c for c in COMMANDS if c.document == command.document and c.line < command.line]
    if command.document != README:
        before += README_COMMANDS
    return [path for c in before for path in outputs_of(parse(c))]


def test_the_readme_gives_the_commands_of_every_section() -> None:
    verbs = {c.argv[0] for c in README_COMMANDS}
    assert verbs >= {"sim", "record", "train", "evaluate", "compare", "rl", "replay", "bench"}, verbs


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{relative(c.document)}:{c.line}" for c in COMMANDS])
def test_a_command_runs_as_written(command: Command, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the paths are relative to the checkout
    args = parse(command)
    where = command.where
    made = made_before(command)
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
                assert any(value == m or value.startswith(m.rstrip("/") + "/") for m in made), (
                    f"{where}: {value} is made by no command before it")
            else:
                assert (ROOT / value).exists(), f"{where}: {value} is not in the repository"
        else:
            assert "/" not in value and not value.endswith((".yaml", ".json", ".bag")), (
                f"{where}: {name}={value!r} looks like a path: add its option to INPUTS or OUTPUT_OPTIONS")
    check_outputs(args)


def heading_anchors(document: Path) -> set[str]:
    """The ``#anchor`` of every heading, as GitHub makes them (a repeated one gets ``-1``, ...)."""
    prose, _ = prose_and_code(document.read_text())
    anchors: set[str] = set()
    for _, line in prose:
        if match := re.match(r"#{1,6}\s+(.*)", line):
            slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
            anchor, repeat = slug, 0
            while anchor in anchors:
                repeat += 1
                anchor = f"{slug}-{repeat}"
            anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_relative_link_resolves(document: Path) -> None:
    prose, _ = prose_and_code(document.read_text())
    for number, line in prose:
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            where = f"{relative(document)}:{number}: ({target})"
            assert resolved.exists(), f"{where}: {path} does not exist"
            if anchor and resolved.suffix == ".md":
                assert anchor in heading_anchors(resolved), f"{where}: {relative(resolved)} has no heading #{anchor}"


def code_words(document: Path) -> list[tuple[int, str]]:
    """The words of a document's inline code spans and of its code blocks but layout trees."""
    text = document.read_text()
    words = [(number, word) for number, span in inline_spans(text) for word in span.split()]
    for block in code_blocks(text):
        if not is_layout_tree(block):
            words += [(number, word) for number, line in block for word in line.split()]
    return [(number, word.strip(",;:()'\"")) for number, word in words]


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_repository_path_in_code_exists(document: Path) -> None:
    for number, word in code_words(document):
        if REPOSITORY_PATH.fullmatch(word) and not ENV_ID.search(word):
            assert any(ROOT.glob(word.rstrip("/"))), f"{relative(document)}:{number}: `{word}` is not in the repository"


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_module_in_code_resolves(document: Path) -> None:
    for number, word in code_words(document):
        for name in MODULE.findall(word):
            parent, _, attribute = name.rpartition(".")
            assert is_module(name) or (is_module(parent) and hasattr(importlib.import_module(parent), attribute)), (
                f"{relative(document)}:{number}: `{name}` is neither a module nor a name in one")


def is_module(name: str) -> bool:
    """Whether ``name`` is an importable module (its parent packages are imported to find out)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent is a module, not a package
        return False


def is_layout_tree(block: list[tuple[int, str]]) -> bool:
    return bool(block) and block[0][1].startswith("lnn_control/")


#: an entry of a layout tree: its indentation and a folder (``name/``) or file (``name.ext``)
TREE_ENTRY = re.compile(r"( *)([\w.-]+/|[\w-]+\.\w+)(?=\s|$)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative)
def test_every_entry_of_a_layout_tree_exists(document: Path) -> None:
    for block in filter(is_layout_tree, code_blocks(document.read_text())):
        parents: list[tuple[int, Path]] = []  # (indentation, folder) of the enclosing entries
        for number, line in block:
            match = TREE_ENTRY.match(line)
            if match is None:
                continue  # a description continued on the next line
            indent = len(match[1])
            while parents and parents[-1][0] >= indent:
                parents.pop()
            path = (parents[-1][1] if parents else ROOT) / match[2].rstrip("/")
            assert path.exists(), f"{relative(document)}:{number}: {relative(path)} does not exist"
            if match[2].endswith("/"):
                parents.append((indent, path))
