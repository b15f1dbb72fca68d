"""``emit()``: the one output helper of every list and show command (SPEC §10).

Tables (Rich) are for people on a terminal; JSON, JSONL and CSV are written
plainly to stdout, never through a wrapping console. Every text a person
sees (table cells, ``say`` and ``warn`` lines) goes through
:func:`~secmsg_cli.cli._values.printable`: values may come from a message or
a configuration file, and their control characters must not reach the
terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from secmsg_cli.cli._values import printable

if TYPE_CHECKING:
    from rich.console import Console


class Output(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def to_json(data: Any, *, fast: bool = True) -> str:
    """Indented JSON (``-o json``): orjson's output, which is byte for byte
    that of ``json.dumps(indent=2, ensure_ascii=False)`` (a property test
    checks) in a tenth of the time; the standard library's for what orjson
    refuses (text with lone surrogates, integers past 64 bits). ``fast=False``
    (one small document, where importing orjson costs more than it saves):
    the standard library's."""
    if not fast:
        return json.dumps(data, indent=2, ensure_ascii=False)
    try:
        import orjson

        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
    except (ImportError, TypeError):
        return json.dumps(data, indent=2, ensure_ascii=False)


def to_json_line(data: Any) -> str:
    """One line of JSON (``-o jsonl``), as ``json.dumps`` writes it."""
    return json.dumps(data, ensure_ascii=False)


def _cell(value: Any) -> str:
    """A value as a table cell for people: control characters escaped (a
    name, a banner, a match line or a message's subject may carry escape
    sequences meant for the terminal)."""
    return printable(_text(value))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, Mapping)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return csv_text(value)
    return value


def csv_rows(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]], keys: Sequence[str] | None = None
) -> str:
    """CSV lines (each ending in a newline) for ``rows``: mappings, their
    ``keys`` in order, or (without ``keys``) sequences of cells, e.g. the
    header. Every cell as :func:`_csv_cell` makes it safe."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        cells = [row.get(k) for k in keys] if keys is not None else row  # type: ignore[union-attr]
        writer.writerow([_csv_cell(c) for c in cells])
    return buffer.getvalue()


def csv_text(text: str) -> str:
    """Text for a CSV cell, which people open in a spreadsheet or print on a
    terminal: control and invisible characters escaped as in tables (line
    breaks and tabs kept), and a cell that a spreadsheet would run as a
    formula (``=``, ``+``, ``@``, ``-`` before a non-digit) prefixed with ``'``
    (the OWASP rule against CSV injection)."""
    text = printable(text)
    if text[:1] in ("=", "+", "@", "\t") or (
        text[:1] == "-" and text[1:2] not in ("", " ") and not text[1].isdigit()
    ):
        return "'" + text
    return text


def console(stderr: bool = False) -> Console:
    """A Rich console for people; when not on a terminal (logs, pagers) it
    uses a wide fixed width (or $COLUMNS) instead of wrapping at 80."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = 160
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def emit(
    data: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    output: Output | str = Output.table,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Write a listing (a sequence of rows) or one object (a mapping).

    ``columns`` chooses and orders the table/CSV columns (JSON keeps every
    field); a column ``"name:Header"`` shows ``name`` under ``Header``.
    """
    output = Output(output)
    single = isinstance(data, Mapping)
    rows: list[Mapping[str, Any]] = [data] if isinstance(data, Mapping) else list(data)
    if output is Output.json:
        sys.stdout.write(to_json(data if single else rows) + "\n")
        return
    if output is Output.jsonl:
        for row in rows:
            sys.stdout.write(to_json_line(row) + "\n")
        return
    spec = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    keys = [c.split(":", 1)[0] for c in spec]
    headers = [c.split(":", 1)[1] if ":" in c else c for c in spec]
    if output is Output.csv:
        sys.stdout.write(csv_rows([keys]) + csv_rows(rows, keys))
        return
    from rich.table import Table
    from rich.text import Text

    out = console()
    if single:
        table = Table(show_header=False, title=title, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in data.items():  # type: ignore[union-attr]
            table.add_row(Text(_cell(key)), Text(_cell(value)))
        out.print(table)
        return
    if not rows:
        sys.stderr.write(empty + "\n")
        return
    table = Table(title=title, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(Text(_cell(row.get(k))) for k in keys))
    out.print(table)


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to the file ``path`` whole or not at all (SPEC §10-§11):
    into a new file beside it, flushed to disk, then renamed over it; a
    failed write (full disk, ``ulimit -f``) leaves ``path`` as it was and no
    temporary file. A file it replaces keeps its mode; through a symbolic
    link, the link's target is replaced."""
    import stat
    import tempfile

    from secmsg_cli.errors import OutputError

    target = os.path.realpath(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=os.path.dirname(target)
        )
        with os.fdopen(fd, "wb") as fh:
            try:
                mode = stat.S_IMODE(os.stat(target).st_mode)
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise OutputError(f"cannot write {os.fspath(path)}: {exc.strerror or exc}") from None


def say(message: str, *, quiet: bool = False) -> None:
    """A confirmation for people (stdout, suppressed by ``-q``); control
    characters escaped, as in every line for people."""
    if not quiet:
        sys.stdout.write(printable(message) + "\n")


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {printable(message)}\n")
