"""``emit()``: the one output helper of every list and show command (SPEC §10).

Tables (Rich) are for people on a terminal; JSON, JSONL and CSV are written
plainly to stdout, never through a wrapping console.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any


class Output(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    """A value as a table cell for people: control characters escaped (a
    name, a banner, a match line or a message's subject may carry escape
    sequences meant for the terminal)."""
    from secmsg_cli.cli._values import printable

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
        return json.dumps(value, ensure_ascii=False)
    return value


def console(stderr: bool = False):
    """A Rich console for people; when not on a terminal (logs, pagers) it
    uses a wide fixed width (or $COLUMNS) instead of wrapping at 80."""
    import os

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
    rows: list[Mapping[str, Any]] = [data] if single else list(data)  # type: ignore[list-item]
    if output is Output.json:
        sys.stdout.write(to_json(data if single else rows) + "\n")
        return
    if output is Output.jsonl:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    spec = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    keys = [c.split(":", 1)[0] for c in spec]
    headers = [c.split(":", 1)[1] if ":" in c else c for c in spec]
    if output is Output.csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_csv_cell(row.get(k)) for k in keys])
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


def say(message: str, *, quiet: bool = False) -> None:
    """A confirmation for people (stdout, suppressed by ``-q``); control
    characters escaped, as in every line for people."""
    from secmsg_cli.cli._values import printable

    if not quiet:
        sys.stdout.write(printable(message) + "\n")


def warn(message: str) -> None:
    from secmsg_cli.cli._values import printable

    sys.stderr.write(f"warning: {printable(message)}\n")
