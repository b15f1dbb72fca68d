"""Every command, every argument and option that takes a value, given odd
values (issue 11 §8): an id too large for the store, a number of 5,000
digits, a Unicode digit, a byte that is not UTF-8 (a lone surrogate), escape
sequences with a bare CR, a 20,000-character value, a time out of range, a
NUL byte, nothing. Each
must end in a result or a one-line error: never an ``internal error``, never
a control character on stderr, never the whole huge value echoed back.

The command tree is read from the Typer application, so a new command or
option is covered without being listed here."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import DEMO, FIXTURES
from tests.conftest import click_command as _click_command

M01 = str(FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml")
ODD = {
    "26 digits": "12345678901234567890123456",
    "5000 digits": "9" * 5000,
    "superscript two": "²",
    "not UTF-8": "a\udcffb",
    "escapes": "\x1b]0;title\x07\x1b[2J\rx",
    "20000 chars": "x" * 20_000,
    "at out of range": "0001-01-01T00:00:00+14:00",
    "NUL": "a\x00b",
    "empty": "",
}
# A value that makes each required parameter valid, so that the odd one is reached.
USUAL = {
    "paths": [M01],
    "path": [M01],
    "file": [str(DEMO)],
    "config": [str(DEMO)],
    "cases": [str(FIXTURES / "cases.toml")],
}
SKIP = {"yes", "help"}  # flags only
# A command that runs until stopped is given a value that stops it just before it
# would start (after every other value is checked): a host it may not listen on.
UNTIL_STOPPED = {("portal", "serve"): ("host", ["--host", "192.0.2.10"])}


def _commands():
    def walk(command, path=()):
        if hasattr(command, "commands"):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path, command

    return list(walk(_click_command()))


def _cases():
    for path, command in _commands():
        for param in command.params:
            if (
                param.name in SKIP
                or getattr(param, "is_flag", False)
                or (param.param_type_name == "option" and getattr(param, "count", False))
            ):
                continue
            yield pytest.param(path, param.name, id=f"{' '.join(path)} {param.name}")


def _arguments(command, odd_name: str, value: str) -> list[str]:
    args: list[str] = []
    for param in command.params:
        if param.name == odd_name:
            args += [value] if param.param_type_name == "argument" else [param.opts[0], value]
        elif param.required:
            usual = USUAL.get(param.name, ["1"])
            args += usual if param.param_type_name == "argument" else [param.opts[0], usual[0]]
    if any(p.name == "yes" for p in command.params):
        args.append("--yes")
    return args


def _stopped(path: tuple[str, ...], odd_name: str) -> list[str]:
    name, args = UNTIL_STOPPED.get(path, (odd_name, []))
    return args if name != odd_name else []


@pytest.mark.slow  # every command with every odd value
@pytest.mark.parametrize(("path", "name"), list(_cases()))
def test_odd_values_end_in_a_result_or_one_line(
    cli, _isolated_store, demo_template, tmp_path, monkeypatch, path, name
):
    monkeypatch.chdir(tmp_path)  # anything a command writes lands here
    command = dict(_commands())[path]
    for label, value in ODD.items():
        shutil.copyfile(demo_template, _isolated_store)
        r = cli(*path, *_arguments(command, name, value), *_stopped(path, name))
        where = f"{' '.join(path)} {name}={label}: exit {r.exit_code}\n{r.stderr[:1000]}"
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr, where
        assert not any(ch in r.stderr for ch in "\x1b\x07\r\x00"), where
        assert len(r.stderr) < 4000, where  # a huge value is named, not echoed
