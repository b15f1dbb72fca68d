"""The examples in docs/ are run, so the documentation cannot drift from what
secmsg does.

In a page, a fenced block whose info string carries ``file=NAME`` (for example
```` ```toml file=secmsg.toml ````) is written to NAME, and a ```` ```console run ````
block is run: each ``$ secmsg ...`` line is a command, the lines under it are
what it prints (standard output, then standard error), a line ``...`` stands for
any number of lines, and ``# exit N`` at the end of the command says that it
exits with N (0 when absent). A page's blocks run in order, in a directory of
their own that holds ``fixtures/`` (the repository's demo) and the store
``secmsg.db``, at 80 columns.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^(`{3,})(\S*)[ \t]*(.*)$")
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass
class Command:
    line: int
    argv: list[str]
    exit_code: int
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    kind: str  # "file" or "run"
    name: str = ""
    text: str = ""
    commands: list[Command] = field(default_factory=list)


def blocks(page: Path) -> list[Block]:
    out: list[Block] = []
    lines = page.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, _lang, info = m.groups()
        start = i + 1
        end = start
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        body = lines[start:end]
        words = info.split()
        target = next((w[5:] for w in words if w.startswith("file=")), None)
        if target:
            out.append(Block(start, "file", target, "\n".join(body) + "\n"))
        elif "run" in words:
            out.append(Block(start, "run", commands=_commands(body, start)))
        i = end + 1
    return out


def _commands(body: list[str], first: int) -> list[Command]:
    commands: list[Command] = []
    for n, text in enumerate(body, start=first + 1):
        if text.startswith("$ "):
            command = text[2:]
            m = EXIT.search(command)
            code = int(m.group(1)) if m else 0
            command = command[: m.start()] if m else command
            commands.append(Command(n, shlex.split(command), code))
        elif commands:
            commands[-1].expected.append(text.rstrip())
        else:
            raise AssertionError(f"line {n}: output before any '$ ' command")
    return commands


def matches(expected: list[str], got: list[str]) -> bool:
    """Line by line; ``...`` matches any number of lines (also none)."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


def test_every_page_is_tested_and_has_examples():
    assert PAGES, "docs/ has no pages"
    runnable = [p.name for p in PAGES if any(b.kind == "run" for b in blocks(p))]
    assert len(runnable) >= 4, runnable


def _run(argv: list[str]):
    """One command in process, named as the console script names it."""
    from typer.testing import CliRunner

    from secmsg_cli.cli.app import app

    return CliRunner().invoke(app, argv, prog_name="secmsg", catch_exceptions=False)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_examples_of_a_page_do_what_it_says(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECMSG_DB", str(tmp_path / "secmsg.db"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("SECMSG_ACTOR", "admin")
    (tmp_path / "fixtures").symlink_to(FIXTURES, target_is_directory=True)
    failures = []
    for block in blocks(page):
        if block.kind == "file":
            path = tmp_path / block.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, "utf-8")
            continue
        for cmd in block.commands:
            assert cmd.argv and cmd.argv[0] == "secmsg", (
                f"{page.name}:{cmd.line}: only secmsg commands can be run"
            )
            r = _run(cmd.argv[1:])
            got = [line.rstrip() for line in (r.stdout + r.stderr).splitlines()]
            expected = list(cmd.expected)
            while expected and not expected[-1]:
                expected.pop()
            while got and not got[-1]:
                got.pop()
            if r.exit_code != cmd.exit_code or not matches(expected, got):
                failures.append(
                    f"{page.name}:{cmd.line}: $ {shlex.join(cmd.argv)}\n"
                    f"exit {r.exit_code} (expected {cmd.exit_code}); it printed:\n" + "\n".join(got)
                )
    assert not failures, "\n\n".join(failures)


def test_the_cli_reference_is_the_app():
    from secmsg_cli.cli._reference import cli_reference

    assert (DOCS / "cli.md").read_text("utf-8") == cli_reference(), (
        "docs/cli.md differs from the app: run python -m secmsg_cli.cli._reference"
    )


def test_the_lint_codes_table_is_the_rules():
    from secmsg_cli.cli._reference import with_lint_codes
    from secmsg_cli.lint import RULES

    page = (DOCS / "output.md").read_text("utf-8")
    assert page == with_lint_codes(page), "run python -m secmsg_cli.cli._reference"
    assert all(f"| {r.code} | {r.name} | {r.severity} |" in page for r in RULES)


def test_every_page_is_linked_from_the_readme_and_cites_no_internal_document():
    readme = (ROOT / "README.md").read_text("utf-8")
    for page in PAGES:
        assert f"docs/{page.name}" in readme, page.name
        text = page.read_text("utf-8")
        assert "SPEC" not in text, page.name
        for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[a-z0-9-]+)?\)", text):
            assert (DOCS / target).is_file(), (page.name, target)
    assert "SPEC" not in readme


def _update(page: Path) -> None:
    """Write what each command prints into the page (commands whose expected
    output uses ``...`` are left as written): ``python -m tests.test_docs
    docs/PAGE.md``, then read the diff before committing it."""
    import os
    import tempfile

    lines = page.read_text("utf-8").splitlines()
    replace: dict[int, tuple[int, list[str]]] = {}  # command line -> (end, new lines)
    with tempfile.TemporaryDirectory() as tmp:
        here = os.getcwd()
        os.chdir(tmp)
        os.environ.update(SECMSG_DB=f"{tmp}/secmsg.db", COLUMNS="80", SECMSG_ACTOR="admin")
        os.environ.pop("SECMSG_DEBUG", None)
        Path(tmp, "fixtures").symlink_to(FIXTURES, target_is_directory=True)
        try:
            for block in blocks(page):
                if block.kind == "file":
                    Path(tmp, block.name).parent.mkdir(parents=True, exist_ok=True)
                    Path(tmp, block.name).write_text(block.text, "utf-8")
                    continue
                for cmd in block.commands:
                    r = _run(cmd.argv[1:])
                    if "..." in cmd.expected:
                        continue
                    got = [x.rstrip() for x in (r.stdout + r.stderr).splitlines()]
                    head = f"$ {shlex.join(cmd.argv)}"
                    head += f"  # exit {r.exit_code}" if r.exit_code else ""
                    replace[cmd.line] = (cmd.line + len(cmd.expected), [head, *got])
        finally:
            os.chdir(here)
    out: list[str] = []
    n = 1
    while n <= len(lines):
        if n in replace:
            end, new = replace[n]
            out += new
            n = end + 1
            continue
        out.append(lines[n - 1])
        n += 1
    page.write_text("\n".join(out) + "\n", "utf-8")


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        _update(Path(name).resolve())
