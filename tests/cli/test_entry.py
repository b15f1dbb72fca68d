"""The lean entry point (cli/entry.py, issue 7 cold start): a plain
``simulate`` command line runs without Typer, and does exactly what the Typer
command does; anything else goes to Typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secmsg_cli.cli import entry, simulation
from secmsg_cli.cli._output import Output
from secmsg_cli.cli._values import PLAIN_ISO, parse_at
from secmsg_cli.cli.simulation import SimulateArgs
from tests.conftest import FIXTURES

AT = "2026-11-27T10:00:00+00:00"
MSG = str(FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml")
MESSAGES = str(FIXTURES / "messages")


def _typer_args(cli, monkeypatch, argv: list[str]) -> SimulateArgs | None:
    """The SimulateArgs the Typer command passes to run() for ``argv``
    (None when Typer refuses the line)."""
    seen: list[SimulateArgs] = []

    def capture(args: SimulateArgs) -> int:
        seen.append(args)
        return 0

    monkeypatch.setattr(simulation, "run", capture)
    r = cli(*argv)
    monkeypatch.undo()
    return seen[0] if seen and r.exit_code == 0 else None


def test_the_option_table_is_the_typer_declaration():
    import typer.main

    from secmsg_cli.cli.app import app

    command = typer.main.get_command(app)
    sim = command.commands["simulate"]
    declared = {
        opt
        for p in sim.params
        if p.param_type_name == "option" and p.expose_value
        for opt in p.opts
    }
    assert declared - {"--help", "-h"} == set(entry._OPTIONS)
    # the global options, which may follow the command too
    hidden = {opt for p in sim.params if p.hidden for opt in (*p.opts, *p.secondary_opts)}
    assert hidden == set(entry._GLOBAL)
    fields = (
        {f for f, _ in entry._OPTIONS.values()} | {f for f, _ in entry._GLOBAL.values()} | {"paths"}
    )
    assert fields == set(SimulateArgs.__dataclass_fields__)
    root = {opt for p in command.params for opt in p.opts}
    assert set(entry._GLOBAL) <= root


def test_the_lean_parser_accepts_exactly_what_the_typer_command_declares():
    # The lean parser mirrors the Typer declaration by hand (so that it can run
    # without Typer): every option, its parameter, whether it takes a value, and
    # the values it checks itself, against what Typer builds from cli/simulate.py.
    import typer.main

    from secmsg_cli.cli.app import app

    command = typer.main.get_command(app)
    sim = command.commands["simulate"]
    options = [p for p in sim.params if p.param_type_name == "option" and p.expose_value]

    def table(params):
        return {
            opt: (p.name, not p.is_flag) for p in params for opt in (*p.opts, *p.secondary_opts)
        }

    assert table(options) == entry._OPTIONS
    fields = set(SimulateArgs.__dataclass_fields__)
    assert table(p for p in command.params if p.name in fields) == entry._GLOBAL
    assert {p.name for p in sim.params if p.expose_value} | {"db", "quiet"} == fields
    hidden = [p for p in sim.params if p.hidden]  # the global options after the command
    assert {o: (f.removeprefix("global_"), v) for o, (f, v) in table(hidden).items()} == (
        entry._GLOBAL
    )
    # the values it reads itself; every other option's value is text, passed on as given
    from secmsg_cli.cli.simulate import simulate

    hints = typing.get_type_hints(simulate)
    by_name = {p.name: p for p in options}
    assert (hints["jobs"], by_name["jobs"].min, by_name["jobs"].max) == (
        int | None,
        1,
        simulation.MAX_JOBS,
    )
    assert (hints["min_coverage"], by_name["min_coverage"].min, by_name["min_coverage"].max) == (
        float | None,
        0,
        100,
    )
    assert hints["output"] is Output and tuple(o.value for o in Output) == entry._OUTPUTS
    assert hints["rcpt"] == list[str] | None
    text = {p.name for p in options if not p.is_flag} - {"jobs", "min_coverage", "output", "rcpt"}
    assert {name: hints[name] for name in text if hints[name] not in (str, str | None)} == {}
    assert [p.name for p in sim.params if p.multiple] == ["rcpt"]  # the one it collects
    [paths] = [p for p in sim.params if p.param_type_name == "argument"]
    assert (paths.name, paths.nargs, paths.required) == ("paths", -1, True)


LINES = [
    ["simulate", MSG],
    ["-q", "simulate", MSG, "-o", "json"],
    ["--db", "x.db", "--quiet", "simulate", "--at", AT, MSG, "-ojsonl"],
    ["--db=x.db", "simulate", MSG, "--output=JSON", "--explain"],
    [
        "simulate",
        MSG,
        MESSAGES,
        "--rcpt",
        "a@b.example",
        "--rcpt=c@d.example",
        "--mail-from",
        "x@y.example",
    ],
    [
        "simulate",
        "-",
        "--source-ip",
        "203.0.113.5",
        "--via",
        "outlook",
        "--definition",
        "Legal/Privileged",
    ],
    ["simulate", MESSAGES, "-j", "3", "--coverage", "--min-coverage", "50"],
    ["simulate", MESSAGES, "-j2", "--min-coverage=12.5", "--max-size", "1MB"],
    ["simulate", MESSAGES, "--against", "other.toml", "--detailed-exitcode", "--jobs=1"],
    ["simulate", "--at", AT, "--at", "2026-01-01", MSG, "-o", "table", "-o", "jsonl"],
    ["simulate", "--", "-odd-name.eml", "--at"],
    ["simulate", MSG, "-o", "csv"],
    ["simulate", MSG, "--at", ""],
    ["simulate", MSG, "--db", "x.db", "-q"],
    ["--db", "a.db", "simulate", "--quiet", MSG, "--db=b.db"],
]


@pytest.mark.parametrize("argv", LINES, ids=lambda a: " ".join(a)[:60])
def test_a_plain_line_is_read_as_typer_reads_it(cli, monkeypatch, argv):
    fast = entry.parse_simulate(argv)
    assert fast is not None
    assert fast == _typer_args(cli, monkeypatch, argv)


REFUSED_OR_UNSURE = [
    [],
    ["--version"],
    ["simulate"],  # no path: Typer says so
    ["simulate", "--help"],
    ["-h", "simulate", MSG],
    ["simulate", MSG, "--jobs", "0"],
    ["simulate", MSG, "--jobs", "257"],
    ["simulate", MSG, "--jobs", "1" * 5000],  # past int()'s digit limit: Typer reports it
    ["simulate", MSG, "-j", "x"],
    ["simulate", MSG, "--min-coverage", "101"],
    ["simulate", MSG, "--min-coverage", "1e2"],
    ["simulate", MSG, "-o", "yaml"],
    ["simulate", MSG, "--unknown"],
    ["simulate", MSG, "--explain=yes"],
    ["simulate", MSG, "--at"],
    ["simulate", MSG, "--at", "--explain"],
    ["simulate", MSG, "-qx"],
    ["-q", "-x", "simulate", MSG],
    ["--db"],
    ["domain", "list"],
    ["policy", "list", "simulate"],
]


@pytest.mark.parametrize("argv", REFUSED_OR_UNSURE, ids=lambda a: " ".join(a)[:60] or "(none)")
def test_anything_else_goes_to_typer(argv):
    assert entry.parse_simulate(argv) is None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "simulate",
                MSG,
                "-",
                "--",
                "-q",
                "--quiet",
                "--db",
                "x.db",
                "-o",
                "json",
                "JSONL",
                "-ojson",
                "--output=table",
                "--explain",
                "--explain=1",
                "-j",
                "2",
                "-j0",
                "--jobs=4",
                "--at",
                AT,
                "--rcpt",
                "a@b.example",
                "--min-coverage",
                "50",
                "--coverage",
                "-x",
                "--against",
                "o.toml",
                "--detailed-exitcode",
                "--max-size",
                "5MB",
                "--help",
            ]
        ),
        max_size=10,
    )
)
def test_whatever_the_line_the_fast_parser_agrees_with_typer_or_steps_aside(argv):
    # (A property over random lines: when the fast parser accepts a line,
    # Typer accepts it too, with the same values.)
    fast = entry.parse_simulate(argv)
    if fast is None:
        return
    from typer.testing import CliRunner

    from secmsg_cli.cli.app import app

    seen: list[SimulateArgs] = []
    real = simulation.run
    simulation.run = lambda a: seen.append(a) or 0
    try:
        r = CliRunner().invoke(app, argv, catch_exceptions=False)
    finally:
        simulation.run = real
    assert r.exit_code == 0, (argv, r.stdout, r.stderr)
    assert seen == [fast], argv


def _main(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        entry.main(argv)
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_the_lean_path_prints_what_the_typer_path_prints(demo, capsys):
    for argv in (
        ["simulate", MSG, "--at", AT, "-o", "json", "--explain"],
        ["simulate", MESSAGES, "--at", AT, "-o", "jsonl", "--coverage"],
        ["simulate", MESSAGES, "--at", AT, "--jobs", "1"],
        ["simulate", MESSAGES, "--at", AT, "-o", "csv", "--db", str(FIXTURES / "none.db")],
        ["simulate", MESSAGES, "--at", AT, "-o", "csv", "-q"],
    ):
        code, out, err = _main(argv, capsys)
        typer_run = demo(*argv)
        assert (code, out, err) == (typer_run.exit_code, typer_run.stdout, typer_run.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "missing.eml", "-o", "json"],
        ["simulate", MSG, "--at", "yesterday"],
        ["simulate", MSG, "-o", "csv", "--against", "other.toml"],
        ["simulate", MSG, "--via", "pigeon"],
        ["simulate", MSG, "--definition", "No/Such"],
        ["simulate", MSG, "--max-size", "lots"],
        ["simulate", MSG, "--detailed-exitcode"],
        ["simulate", MSG, "--jobs", "0"],  # Typer's usage error, through main()
        ["simulate", MSG, "--jobs", "1" * 5000],
    ],
    ids=lambda a: " ".join(a[2:]),
)
def test_errors_are_the_same_one_line(demo, capsys, argv):
    code, out, err = _main(argv, capsys)
    typer_run = demo(*argv)  # (CliRunner names the program "root")
    assert (code, out, err) == (
        typer_run.exit_code,
        typer_run.stdout,
        typer_run.stderr.replace("'root ", "'secmsg "),
    )
    assert code != 0
    assert (
        '"error"' in out if "json" in argv else (err.startswith("error: ") and err.count("\n") == 1)
    )


def test_simulate_does_not_load_typer(demo, tmp_path, _isolated_store):
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('hashlib loaded: %s; typer loaded: %s\\n'"
        " % ('hashlib' in sys.modules, 'typer' in sys.modules)))\n"
        "from secmsg_cli.cli.entry import main\n"
        "main(sys.argv[1:])\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "--db",
            str(_isolated_store),
            "simulate",
            MSG,
            "--at",
            AT,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    # neither Typer nor hashlib (OpenSSL, 2.7 ms) is paid for by a plain simulate
    assert run.stderr.endswith("hashlib loaded: False; typer loaded: False\n")
    other = subprocess.run(
        [sys.executable, "-c", probe, "--db", str(_isolated_store), "domain", "list"],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0 and other.stderr.endswith("typer loaded: True\n"), other.stderr


@settings(max_examples=300, deadline=None)
@given(st.from_regex(PLAIN_ISO, fullmatch=True))
def test_plain_iso_times_read_as_dateutil_reads_them(text):

    from dateutil.parser import isoparse

    from secmsg_cli.errors import InvalidInput

    try:
        expected = isoparse(text)
    except (ValueError, OverflowError):
        with pytest.raises(InvalidInput):
            parse_at(text, UTC)
        return
    got = parse_at(text, UTC)
    if expected.tzinfo is None:
        expected = expected.replace(tzinfo=UTC)
    assert got == expected and got.utcoffset() == expected.utcoffset()


def test_output_values_are_the_enum():
    assert entry.parse_simulate(["simulate", MSG, "-o", "Json"]).output is Output.json


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", MSG, "--at", AT],  # the lean path
        ["simulate", MSG, "--rcpt", "-odd@example.com"],
    ],  # Typer's
    ids=["lean", "typer"],
)
def test_ctrl_c_exits_130_quietly_on_both_paths(demo, capsys, monkeypatch, argv):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulation, "run", interrupted)
    assert (entry.parse_simulate(argv) is None) == (argv[-1] == "-odd@example.com")
    code, out, err = _main(argv, capsys)
    assert (code, out, err) == (130, "", "")


def test_the_console_script_writes_everything_before_it_ends(demo, _isolated_store, tmp_path):
    # (It leaves without tearing the interpreter down: what it wrote must
    # all be there, and its exit code as usual.)
    base = [sys.executable, "-m", "secmsg_cli", "--db", str(_isolated_store), "simulate"]
    one = subprocess.run([*base, MSG, "--at", AT, "-o", "json"], capture_output=True, text=True)
    assert one.returncode == 0 and one.stderr == ""
    assert json.loads(one.stdout)["recipients"]
    many = subprocess.run(
        [*base, MESSAGES, "--at", AT, "-o", "jsonl", "--jobs", "1"], capture_output=True, text=True
    )
    assert many.returncode == 1  # one fixture message cannot be decided
    assert len(many.stdout.splitlines()) == 12 and all(
        json.loads(ln) for ln in many.stdout.splitlines()
    )
    # (after the line naming the fixtures' README.md, which is not a message)
    assert many.stderr.splitlines()[-1].startswith("12 message(s):")
    missing = subprocess.run([*base, str(tmp_path / "none.eml")], capture_output=True, text=True)
    assert (
        missing.returncode == 1
        and missing.stderr.startswith("error: ")
        and missing.stderr.count("\n") == 1
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("output", ["jsonl", "table"])
def test_with_a_progress_display_on_the_terminal_the_results_still_go_to_stdout(
    demo, _isolated_store, output
):
    # stderr a terminal (the spinner shows), stdout redirected: every result
    # must land in the redirected stdout, none on the terminal.
    import os
    import pty
    import threading

    controller, terminal = pty.openpty()
    shown: list[bytes] = []

    def drain() -> None:  # what the terminal shows (so that writing to it never blocks)
        try:
            while chunk := os.read(controller, 4096):
                shown.append(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "secmsg_cli",
                "--db",
                str(_isolated_store),
                "simulate",
                MESSAGES,
                "--at",
                AT,
                "-o",
                output,
                "--jobs",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
        )
    finally:
        os.close(terminal)
        reader.join(timeout=5)
        os.close(controller)
    assert b"schema_version" not in b"".join(shown)
    assert run.returncode == 1  # one fixture message cannot be decided
    if output == "jsonl":
        assert len(run.stdout.splitlines()) == 12 and all(
            json.loads(ln) for ln in run.stdout.splitlines()
        )
    else:
        assert (
            "01-confidential-subject-to-counsel.eml" in run.stdout
            and "deciding policy" in run.stdout
        )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(demo, _isolated_store):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "secmsg_cli",
                "--db",
                str(_isolated_store),
                "simulate",
                MSG,
                "--at",
                AT,
                "-o",
                "json",
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    assert run.returncode == 1
    assert run.stderr == "error: cannot write the output: No space left on device\n"


def test_one_message_is_parsed_once(demo, capsys, monkeypatch):
    from secmsg_cli.engine import message

    calls = []
    real = message.parse_message
    monkeypatch.setattr(message, "parse_message", lambda *a, **k: calls.append(1) or real(*a, **k))
    code, out, _ = _main(["simulate", MSG, "--at", AT, "-o", "json"], capsys)
    assert code == 0 and json.loads(out)["recipients"] and len(calls) == 1
