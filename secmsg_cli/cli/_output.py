"""``emit()``: the one output helper of every list and show command (docs/output.md).

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
import re
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

from secmsg_cli.cli._values import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


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


# A time as JSON carries it (ISO 8601, already in the account's time zone).
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")


def table_time(value: str) -> str:
    """An ISO time as a table shows it, the way the account reads times:
    ``2026-12-04T10:00:00+00:00`` -> ``2026-12-04 10:00`` (JSON and CSV keep
    the full form). Any other text is returned as it is."""
    m = _ISO_TIME.fullmatch(value)
    return f"{m.group(1)} {m.group(2)}" if m else value


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
    formula (``=``, ``+``, ``@``, or ``-`` but in a number such as ``-42``:
    ``-1+cmd|...`` is a formula too) prefixed with ``'`` (the OWASP rule
    against CSV injection)."""
    text = printable(text)
    if text[:1] in ("=", "+", "@", "\t") or (
        text[:1] == "-" and len(text) > 1 and not _NEGATIVE_NUMBER.fullmatch(text)
    ):
        return "'" + text
    return text


_NEGATIVE_NUMBER = re.compile(r"-\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


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
    drop: Sequence[str] | None = None,
    whole: Sequence[str] = (),
) -> None:
    """Write a listing (a sequence of rows) or one object (a mapping).

    ``columns`` chooses and orders the table/CSV columns (JSON keeps every
    field); a column ``"name:Header"`` shows ``name`` under ``Header``.
    ``drop``: the keys of the columns a narrow terminal may leave out, the
    least useful first, and of those that never wrap (see :func:`print_table`).
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
    # A listing shows times as the account reads them; one object (``show``)
    # keeps them whole.
    cells = [[Text(table_time(_cell(row.get(k)))) for k in keys] for row in rows]
    print_table(
        out,
        headers,
        cells,
        title=title,
        drop=None if drop is None else [headers[keys.index(k)] for k in drop if k in keys],
        whole=[headers[keys.index(k)] for k in whole if k in keys],
    )


# --- tables that read at any width --------------------------------------------

# What a table never breaks: a time as tables show it, else a run of non-space
# characters (an address, a path, a number, a word).
_UNIT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(?: [A-Z]{2,5}\b| [+-]\d{4}\b)?|\S+")


def _units(text: str) -> list[str]:
    return _UNIT.findall(text)


def _columns_fit(
    headers: Sequence[str],
    cells: Sequence[Sequence[str]],
    width: int,
    drop: Sequence[str],
    whole: Sequence[str] = (),
) -> tuple[list[int], list[int], list[bool]]:
    """Plan a table for ``width`` columns of terminal: (the columns kept, the
    width of each, whether it must not wrap).

    A column is at least as wide as its longest unit (so no address, path,
    time or word is ever split; the heading's words count too); a column whose
    every cell is one unit (addresses, times, numbers) never wraps. Columns
    that are empty in every row go first when the table does not fit, then
    those named in ``drop``, in order. What is left over goes to the columns
    still short of their longest line, shared by water-filling."""
    n = len(headers)
    least = [max((len(u) for u in _units(h)), default=1) for h in headers]
    solid = [h in whole for h in headers]
    most = [len(h) for h in headers]
    atomic = [True] * n
    empty = [True] * n
    for row in cells:
        for i, text in enumerate(row):
            units = [text.strip()] if solid[i] and text.strip() else _units(text)
            if not units:
                continue
            empty[i] = False
            least[i] = max(least[i], *(len(u) for u in units))
            most[i] = max(most[i], *(len(line) for line in text.split("\n")))
            if len(units) > 1 or units[0] != text.strip():
                atomic[i] = False
    for i in range(n):
        if atomic[i]:  # a heading over a column that never wraps does not wrap either
            least[i] = max(least[i], len(headers[i]))
    kept = list(range(n))

    def needed() -> int:  # the default box: a rule and a space either side of each cell
        return sum(least[i] for i in kept) + 3 * len(kept) + 1

    named = [headers.index(h) for h in drop if h in headers]
    # the empty columns first (those named in ``drop`` in its order), then the named ones
    order = [i for i in named if empty[i]] + [i for i in range(n) if empty[i] and i not in named]
    order += named
    for i in order:
        if needed() <= width or len(kept) == 1:
            break
        if i in kept:
            kept.remove(i)
    widths = {i: least[i] for i in kept}
    spare = width - needed()
    # Water-filling: a column that needs no more than an even share of what
    # is left gets its longest line (as few wrapped columns as can be); the
    # others share the rest evenly.
    short = [i for i in kept if most[i] > widths[i]]
    while spare > 0 and short:
        share = spare // len(short)
        done = [i for i in short if most[i] - widths[i] <= share]
        if not done:
            for k, i in enumerate(short):
                widths[i] += share + (1 if k < spare % len(short) else 0)
            break
        for i in done:
            spare -= most[i] - widths[i]
            widths[i] = most[i]
        short = [i for i in short if i not in done]
    return kept, [widths[i] for i in kept], [atomic[i] for i in kept]


def print_table(
    out: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[Text]],
    *,
    title: str | Text | None = None,
    drop: Sequence[str] | None = None,
    whole: Sequence[str] = (),
    why: str = "",
) -> None:
    """Print rows of cells as a table that reads at the console's width:
    never an address, a path or a time split over lines, every column headed.
    When the table does not fit, the columns with nothing in them are left
    out first, then those named (by heading) in ``drop`` (by default every
    column after the second, from the right), and a line under the table
    says which (and ``why`` they can be spared); if even then it does not
    fit, it is printed wider than the terminal rather than cut. The columns
    named in ``whole`` (paths, names with spaces) never wrap at all."""
    from rich.table import Table

    if drop is None:
        drop = list(reversed(headers[2:]))
    kept, widths, atomic = _columns_fit(
        headers, [[c.plain for c in row] for row in rows], out.width, drop, whole
    )
    left_out = [h for i, h in enumerate(headers) if i not in kept]
    caption = None
    if left_out:
        caption = f"left out at this width: {', '.join(left_out)}"
        caption += f" ({why})" if why else " (a wider terminal or -o json shows them)"
    table = Table(title=title, header_style="bold", caption=caption, caption_justify="left")
    for i, w, solid in zip(kept, widths, atomic, strict=True):
        table.add_column(headers[i], width=w, no_wrap=solid, overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    total = sum(widths) + 3 * len(widths) + 1
    if total <= out.width:
        out.print(table)
        return
    width = out.width
    out.width = total  # wider than the terminal rather than a split address
    try:
        out.print(table)
    finally:
        out.width = width


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to the file ``path`` whole or not at all (docs/output.md, CONTRIBUTING.md):
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
