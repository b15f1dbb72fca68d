"""The ``secmsg`` console script.

``simulate`` is the command run most often, and in scripts and CI one
message at a time, so its start-up is what users wait for. Typer builds the
whole command tree and a validator per parameter before running anything;
that alone costs several times what deciding one message does. So a plain
``simulate`` command line (``simulate`` with its own options and the global
``--db``/``-q``, before or after it, each spelt as ``--help`` shows) is parsed here and run
without loading Typer or the other commands. Anything else, or anything
here's parser is unsure of (``--help``, an unknown option, a value Typer
would refuse), goes to the Typer application, which owns every usage error;
both end in the same :func:`secmsg_cli.cli.simulation.run` and the same
error boundary.

Two speed tricks live here, each in one place that says what it buys (the
cold-start figure of ``bench/run.py``): the lean parser (:func:`parse_simulate`)
and the exit without teardown (:func:`_exit_without_teardown`).
"""

from __future__ import annotations

import sys
from typing import Any

from secmsg_cli.cli.simulation import MAX_JOBS, SimulateArgs

__all__ = ["main", "parse_simulate"]

# --- speed trick 1: the lean simulate path ---------------------------------------
# What it buys: a one-message `secmsg simulate` without Typer starts ~2.8x
# faster (bench store, quick scale, Nov 2026: 65 ms instead of 181 ms, i.e. 1.4x
# `python -c "import typer"` instead of 4.0x; the cold-start goal is <= 1.6x).
# What it costs: it mirrors the Typer declaration of cli/simulate.py by hand;
# tests/cli/test_entry.py fails when the two differ in any option, its
# parameter, whether it takes a value, or the values checked here.

# simulate's options: long name -> (field of SimulateArgs, takes a value)
_GLOBAL = {"--db": ("db", True), "--quiet": ("quiet", False), "-q": ("quiet", False)}
_OPTIONS = {
    "--mail-from": ("mail_from", True),
    "--rcpt": ("rcpt", True),
    "--source-ip": ("source_ip", True),
    "--at": ("at", True),
    "--via": ("via", True),
    "--definition": ("definition", True),
    "--explain": ("explain", False),
    "--max-size": ("max_size", True),
    "--max-depth": ("max_depth", True),
    "--max-parts": ("max_parts", True),
    "--max-text": ("max_text", True),
    "--max-recipients": ("max_recipients", True),
    "--jobs": ("jobs", True),
    "-j": ("jobs", True),
    "--coverage": ("coverage", False),
    "--min-coverage": ("min_coverage", True),
    "--against": ("against", True),
    "--detailed-exitcode": ("detailed_exitcode", False),
    "--output": ("output", True),
    "-o": ("output", True),
}
_OUTPUTS = ("table", "json", "jsonl", "csv")


def _value(field: str, text: str) -> object:
    """The option's value as Typer would give it, or None when Typer might
    see it differently (it then parses the whole line and reports)."""
    if field == "jobs":
        ok = text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_JOBS
        return int(text) if ok else None
    if field == "min_coverage":
        whole, dot, frac = text.partition(".")
        if not (
            whole.isascii() and whole.isdigit() and (not dot or (frac.isascii() and frac.isdigit()))
        ):
            return None
        number = float(text)
        return number if 0 <= number <= 100 else None
    if field == "output":
        if text.lower() not in _OUTPUTS:
            return None
        from secmsg_cli.cli._output import Output

        return Output(text.lower())
    return text


def _take(
    args: list[str], i: int, table: dict[str, tuple[str, bool]], values: dict[str, Any]
) -> int | None:
    """Read the option at ``args[i]`` into ``values``; the next index, or
    None when it is not one this parser is sure of."""
    token = args[i]
    name, eq, attached = token.partition("=") if token.startswith("--") else (token, "", "")
    if not eq and not token.startswith("--") and len(token) > 2 and token[:2] in table:
        name, attached, eq = token[:2], token[2:], "="  # -ojson, -j2
    spec = table.get(name)
    if spec is None:
        return None
    field, takes_value = spec
    if not takes_value:
        if eq:
            return None
        values[field] = True
        return i + 1
    if eq:
        text = attached
        nxt = i + 1
    else:
        if i + 1 >= len(args) or (args[i + 1].startswith("-") and args[i + 1] != "-"):
            return None
        text = args[i + 1]
        nxt = i + 2
    value = _value(field, text)
    if value is None:
        return None
    if field == "rcpt":
        values.setdefault("rcpt", []).append(value)
    else:
        values[field] = value  # given twice, the last one counts (as in Click)
    return nxt


def parse_simulate(args: list[str]) -> SimulateArgs | None:
    """:class:`SimulateArgs` for a plain ``simulate`` command line, else None."""
    values: dict[str, Any] = {}
    i = 0
    while i < len(args) and args[i] != "simulate":
        nxt = _take(args, i, _GLOBAL, values)
        if nxt is None:
            return None
        i = nxt
    if i >= len(args):
        return None
    i += 1
    paths: list[str] = []
    while i < len(args):
        token = args[i]
        if token == "--":
            paths.extend(args[i + 1 :])
            break
        if token.startswith("-") and token != "-":
            # (the global options may follow the command too)
            nxt = _take(args, i, _OPTIONS, values)
            if nxt is None:
                nxt = _take(args, i, _GLOBAL, values)
            if nxt is None:
                return None
            i = nxt
        else:
            paths.append(token)
            i += 1
    if not paths:
        return None
    if "rcpt" in values:
        values["rcpt"] = tuple(values["rcpt"])
    return SimulateArgs(paths=tuple(paths), **values)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None:  # the console script itself: results that cannot be written are an error
        from secmsg_cli.cli._stdout import install

        install()
    parsed = parse_simulate(args)
    if parsed is None:
        from secmsg_cli.cli.app import app

        app(args=args, prog_name="secmsg")
        return
    from secmsg_cli.cli._boundary import exit_code_for
    from secmsg_cli.cli._stdout import finish
    from secmsg_cli.cli.simulation import run

    try:
        code = run(parsed)
    except SystemExit as exc:  # Rich's console after a closed pipe
        if not (exc.code is None or isinstance(exc.code, int)):
            raise
        code = exc.code or 0
    except BaseException as exc:  # noqa: BLE001 - the boundary decides what to report
        code = exit_code_for(exc)
    code = finish(code)
    # The console script itself (not a caller in this process), and no worker
    # processes were involved (their clean-up is multiprocessing's, at exit):
    if argv is None and "multiprocessing" not in sys.modules:
        _exit_without_teardown(code)
    sys.exit(code)


# --- speed trick 2: leaving without tearing the interpreter down ---------------------
# What it buys: ~8 ms (~11%) of a one-message `secmsg simulate` (bench store,
# quick scale, Nov 2026: 65 ms instead of 73 ms): freeing the snapshot and every
# module object by object, when nothing is left to do (the results are flushed,
# the store is closed). Only for the console script's lean path, and never
# after worker processes (their clean-up is multiprocessing's, at exit).


def _exit_without_teardown(code: int) -> None:
    """End the process now with ``code``, stderr flushed (``os._exit``)."""
    import os

    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)
