"""Reading messages and running them through the engine: the one runner of
``simulate``, ``deliver``, ``test`` and the corpus diff.

Inputs stream one at a time (files, ``-``, directories, mbox files), so memory
stays constant in the size of a batch. A large batch is spread over worker
processes (``jobs``), in order: results come back in input order.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from secmsg_cli.errors import InvalidInput

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from secmsg_cli.engine.decide import Context, MessageDecision
    from secmsg_cli.engine.message import Message
    from secmsg_cli.engine.snapshot import Snapshot

    # what deciding one input gives: (decision, None), or (None, why it could not be decided)
    Result = tuple[MessageDecision | None, str | None]
    Finish = Callable[["Item", tuple[Result, ...]], Any]

__all__ = [
    "DEFAULT_MAX_SIZE",
    "Item",
    "describe_skipped",
    "is_mbox",
    "is_single",
    "iter_inputs",
    "keep",
    "parse_size",
    "read_file",
    "run_all",
    "run_one",
]

DEFAULT_MAX_SIZE = 50 * 1024 * 1024
# A batch starts in this process; past this many messages the rest goes to
# worker processes (starting them costs more than deciding a few messages).
PARALLEL_AFTER = 200
# Messages sent to a worker at a time: large enough that the round trips
# cost little next to deciding, small enough to keep both workers busy.
CHUNK = 32


@dataclass
class Item:
    """One input message: its name and bytes, or why it could not be read;
    ``message``, once parsed (a caller that parsed it first, e.g. to learn
    its addresses, saves :func:`run_one` parsing it again)."""

    source: str
    data: bytes | None = None
    error: str | None = None
    message: Message | None = None


def parse_size(text: str, option: str = "--max-size") -> int:
    units = {
        "": 1,
        "b": 1,
        "k": 1024,
        "kb": 1024,
        "m": 1024**2,
        "mb": 1024**2,
        "g": 1024**3,
        "gb": 1024**3,
    }
    raw = text.strip().lower()
    num = raw.rstrip("kmgb")
    unit = raw[len(num) :]
    # ASCII digits only ('²' is a digit to isdigit(), not to int()), and few
    # enough of them for the size to be one a read can take (a 26-digit size
    # overflowed in read()).
    if (
        not (num.isascii() and num.isdigit())
        or len(num) > 13
        or unit not in units
        or int(num) == 0
        or int(num) * units[unit] > MAX_SIZE_LIMIT
    ):
        raise InvalidInput(
            f"invalid {option} {text!r}: expected a size such as 50MB, 512KB or 1048576 "
            "(at most 1024GB)"
        )
    return int(num) * units[unit]


MAX_SIZE_LIMIT = 1024**4  # no message file is larger


BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark, written first by some Windows editors


def read_file(path: Path, max_size: int) -> Item:
    """One message file, refused before it is read whole when over ``max_size``
    (a byte-order mark at its start is not part of the message)."""
    try:
        size = path.stat().st_size
        if size > max_size + len(BOM):
            return Item(
                str(path),
                error=f"cannot read message: {size} bytes exceeds the limit of {max_size} bytes (--max-size)",
            )
        with path.open("rb") as fh:
            data = fh.read(max_size + len(BOM) + 1).removeprefix(BOM)
    except OSError as exc:
        return Item(str(path), error=f"cannot read {path}: {exc.strerror or exc}")
    if len(data) > max_size:
        return Item(
            str(path),
            error=f"cannot read message: more than {max_size} bytes (--max-size)",
        )
    return Item(str(path), data)


def _not_a_file(path: Path) -> Item:
    if not path.exists():
        return Item(str(path), error=f"cannot read {path}: no such file (a link to nothing)")
    return Item(
        str(path),
        error=f"cannot read {path}: not a regular file (a directory, FIFO or device); skipped",
    )


# An mbox separator line: "From " and the sender, then a date as asctime()
# writes it ("From alice@example.com Thu Nov 26 09:14:07 2026", Thunderbird's
# "From - Thu Nov 26 ...", Gmail's "... +0000 2026"). A body line such as
# "From the desk of ..." is not one.
_SEPARATOR = re.compile(
    rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} +\d{1,2}:\d{2}"
)
# the longest line read at a time (a separator line is far shorter)
_LINE = 64 * 1024


def is_mbox(path: Path) -> bool:
    """Whether the file holds mail in mbox form, decided by its content: its
    first line (after a byte-order mark) is an mbox separator line, and

    - its name does not end in ``.eml`` (in any case), or
    - it does, and a later separator line follows an empty line: a second
      message. An .eml file often keeps its one envelope ``From `` line; it
      stays one message, whatever lines of its body start with "From ".

    Standard input, which has no name, follows the ``.eml`` rule.
    """
    try:
        with path.open("rb") as fh:
            return _holds_mbox(fh, one_is_enough=not path.name.lower().endswith(".eml"))
    except OSError:
        return False


def _holds_mbox(fh: BinaryIO, *, one_is_enough: bool) -> bool:
    """:func:`is_mbox` on an open file, read from its start."""
    first = fh.readline(_LINE).removeprefix(BOM)
    if not _SEPARATOR.match(first):
        return False
    if one_is_enough:
        return True
    after_empty = False
    while line := fh.readline(_LINE):
        if after_empty and _SEPARATOR.match(line):
            return True
        after_empty = line in (b"\n", b"\r\n")
    return False


def is_single(paths: list[str], max_size: int = DEFAULT_MAX_SIZE) -> bool:
    """One input that is one message (a file or stdin): commands print one
    object for it; directories and mbox files, like several inputs, a list.
    (For ``-``, standard input is read here, and kept for :func:`iter_inputs`.)"""
    if len(paths) != 1:
        return False
    if paths[0] == "-":
        data = _stdin(max_size)
        return not (len(data) <= max_size and _holds_mbox(io.BytesIO(data), one_is_enough=False))
    path = Path(paths[0])
    return not path.is_dir() and not (path.is_file() and is_mbox(path))


# Standard input, read once: by is_single (to tell one message from an mbox)
# or by iter_inputs, whichever comes first, for the stream it was read from.
_STDIN: dict[str, Any] = {}


def _stdin(max_size: int) -> bytes:
    """Standard input (at most ``max_size`` bytes and one more, a byte-order
    mark left out)."""
    stream = sys.stdin.buffer
    if _STDIN.get("stream") is not stream:
        _STDIN.update(stream=stream, data=stream.read(max_size + len(BOM) + 1).removeprefix(BOM))
    data: bytes = _STDIN["data"]
    return data


# What a directory run does not read, and why: (path, reason) pairs, reported
# by the caller (the commands name them on stderr).
Skipped = list[tuple[str, str]]
OnSkipped = Callable[[str, Skipped], None]


def iter_inputs(
    paths: list[str], max_size: int, on_skipped: OnSkipped | None = None
) -> Iterator[Item]:
    """Every message named by ``paths``, in order, one at a time. For each
    directory with files it does not read, ``on_skipped(directory, [(path,
    why), ...])`` is called before that directory's messages come."""
    for raw in paths:
        if raw == "-":
            data = _stdin(max_size)
            _STDIN.clear()  # (read once; not kept past the batch)
            if len(data) > max_size:
                yield Item(
                    "-", error=f"cannot read message: more than {max_size} bytes (--max-size)"
                )
            elif _holds_mbox(io.BytesIO(data), one_is_enough=False):
                yield from _iter_mbox_stream(io.BytesIO(data), "-", max_size)
            else:
                yield Item("-", data)
            continue
        path = Path(raw)
        if path.is_dir():
            yield from _iter_directory(raw, path, max_size, on_skipped)
        elif not path.exists():
            yield Item(raw, error=f"cannot read {raw}: no such file or directory")
        elif path.is_file() and is_mbox(path):
            yield from _iter_mbox(path, max_size)
        else:
            yield read_file(path, max_size)


def _iter_directory(
    raw: str, path: Path, max_size: int, on_skipped: OnSkipped | None
) -> Iterator[Item]:
    """Every message below a directory: each ``*.eml`` file (in any case of
    the extension) and each mbox file (by its content, whatever its name).
    Directory links are not followed, so a loop cannot trap the walk; an
    .eml that is not a regular file is named, not read (a FIFO would block
    the batch for ever); every other file is reported to ``on_skipped``."""
    readable: list[tuple[Path, bool]] = []  # (file, whether it is an mbox)
    skipped: Skipped = []
    for p in sorted(path.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        if p.name.lower().endswith(".eml"):
            readable.append((p, p.is_file() and is_mbox(p)))
        elif p.is_symlink() and p.is_dir():
            skipped.append((str(p), "a link to a directory, not followed"))
        elif not p.is_file():
            skipped.append((str(p), "not a regular file"))
        elif is_mbox(p):
            readable.append((p, True))
        else:
            skipped.append((str(p), "neither an .eml file nor an mbox"))
    if skipped and on_skipped is not None:
        on_skipped(raw, skipped)
    if not readable:
        yield Item(
            raw,
            error=f"{raw}: no messages in this directory (no .eml file, in any case, and no mbox file)",
        )
    for p, mbox in readable:
        if mbox:
            yield from _iter_mbox(p, max_size)
        elif not p.is_file():
            yield _not_a_file(p)
        else:
            yield read_file(p, max_size)


def describe_skipped(directory: str, skipped: Skipped, first: int = 5) -> str:
    """One line naming what a directory run did not read: the count, the
    first few files with why, and how many more."""
    shown = "; ".join(f"{name} ({why})" for name, why in skipped[:first])
    more = f"; and {len(skipped) - first} more" if len(skipped) > first else ""
    return f"{directory}: {len(skipped)} file(s) not read: {shown}{more}"


def _iter_mbox(path: Path, max_size: int) -> Iterator[Item]:
    """Every message of an mbox file, in order, as ``PATH#N``: split, as the
    mbox format is, at every line starting with "From " (the separator line
    itself is not part of the message, nor the empty line before it). A
    message over ``max_size`` is refused without being held whole."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield Item(str(path), error=f"cannot read mbox {path}: {exc.strerror or exc}")
        return
    with fh:
        yield from _iter_mbox_stream(fh, str(path), max_size)


def _iter_mbox_stream(fh: BinaryIO, path: str, max_size: int) -> Iterator[Item]:
    """:func:`_iter_mbox` on an open file (``path`` names it)."""
    count = 0
    parts: list[bytes] | None = None  # the message being read
    size = 0
    line_start = True
    first = True
    while True:
        try:
            chunk = fh.readline(_LINE)
        except OSError as exc:
            yield Item(
                f"{path}#{count + 1}",
                error=f"cannot read message {count + 1} of {path}: {exc.strerror or exc}",
            )
            return
        if first:
            chunk, first = chunk.removeprefix(BOM), False
        separator = line_start and chunk.startswith(b"From ")
        if parts is not None and (separator or not chunk):
            yield _mbox_item(path, count, parts, size, max_size)
            parts = None
        if not chunk:
            return
        line_start = chunk.endswith(b"\n")
        if separator:
            count, parts, size = count + 1, [], 0
            while not line_start:  # the rest of a long separator line
                rest = fh.readline(_LINE)
                line_start = not rest or rest.endswith(b"\n")
        elif parts is not None:
            size += len(chunk)
            if size <= max_size + 2:  # (+ the empty line before the next separator)
                parts.append(chunk)


def _mbox_item(path: str, number: int, parts: list[bytes], size: int, max_size: int) -> Item:
    source = f"{path}#{number}"
    if parts and parts[-1] in (b"\n", b"\r\n"):
        size -= len(parts.pop())  # the empty line before the next separator
    if size > max_size:
        return Item(source, error=f"cannot read message: more than {max_size} bytes (--max-size)")
    return Item(source, b"".join(parts))


def run_one(snapshot: Snapshot, item: Item, context: Context, max_size: int) -> Result:
    """(decision, None) or (None, error) for one input; never raises for bad input."""
    from secmsg_cli.engine.decide import DecisionError, decide
    from secmsg_cli.engine.message import MessageError, parse_message

    if item.error is not None:
        return None, item.error
    try:
        message = (
            item.message
            if item.message is not None
            else parse_message(item.data or b"", max_size=max_size, limits=context.limits)
        )
        return decide(snapshot, message, context), None
    except (MessageError, DecisionError) as exc:
        return None, str(exc)


# --- batches ------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(*state: Any) -> None:
    """In a new worker: Ctrl-C is for the parent (which stops the pool and
    reports once), not a traceback from every worker; ``state`` (spawn) is
    what :func:`_work` needs."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if state:
        _set_state(*state)


def _set_state(
    snapshots: tuple[Snapshot, ...], context: Context, max_size: int, finish: Finish
) -> None:
    _WORKER.update(snapshots=snapshots, context=context, max_size=max_size, finish=finish)


def keep(item: Item, results: tuple[Result, ...]) -> tuple[Item, tuple[Result, ...]]:
    """The default ``finish`` of :func:`run_all`: the item (without its bytes)
    and its results."""
    return replace(item, data=None, message=None), results


def _decide(
    item: Item, snapshots: tuple[Snapshot, ...], context: Context, max_size: int, finish: Finish
) -> Any:
    return finish(item, tuple(run_one(s, item, context, max_size) for s in snapshots))


def _work(item: Item) -> Any:
    """In a worker: decide and finish one item; only what ``finish`` returns
    travels back (not the message bytes)."""
    w = _WORKER
    return _decide(item, w["snapshots"], w["context"], w["max_size"], w["finish"])


def _pool_context() -> BaseContext:
    """fork where it is safe (Linux, no other thread running: a forked child
    would inherit a running thread's locks, e.g. a progress display's), so
    workers share the parent's snapshot instead of unpickling a copy; spawn
    elsewhere."""
    import multiprocessing
    import threading

    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_all(
    snapshots: tuple[Snapshot, ...],
    items: Iterable[Item],
    context: Context,
    max_size: int,
    jobs: int = 1,
    finish: Finish = keep,
) -> Iterator[Any]:
    """Decide every item with each snapshot (one, or two for the corpus diff)
    and yield ``finish(item, ((decision, error), ...))`` in input order
    (default: ``(item, results)``). With ``jobs`` > 1, a batch longer than
    :data:`PARALLEL_AFTER` continues in worker processes, where ``finish``
    runs too: it should be a module-level function (or a partial of one)
    returning what the parent needs, e.g. the rendered output."""
    iterator = iter(items)
    for done, item in enumerate(iterator, start=1):
        yield _decide(item, snapshots, context, max_size, finish)
        if jobs > 1 and done >= PARALLEL_AFTER:
            break
    else:
        return
    pool_ctx = _pool_context()
    if pool_ctx.get_start_method() == "fork":
        _set_state(snapshots, context, max_size, finish)  # inherited, not pickled
        pool = pool_ctx.Pool(jobs, initializer=_init_worker)
    else:
        pool = pool_ctx.Pool(
            jobs, initializer=_init_worker, initargs=(snapshots, context, max_size, finish)
        )
    try:
        with pool:
            yield from pool.imap(_work, iterator, chunksize=CHUNK)
    finally:
        _WORKER.clear()  # the parent keeps no reference to the batch's snapshots
