"""Reading messages and running them through the engine: the one runner of
``simulate``, ``deliver``, ``test`` and the corpus diff.

Inputs stream one at a time (files, ``-``, directories, mbox files), so memory
stays constant in the size of a batch. A large batch is spread over worker
processes (``jobs``), in order: results come back in input order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def read_file(path: Path, max_size: int) -> Item:
    """One message file, refused before it is read whole when over ``max_size``."""
    try:
        size = path.stat().st_size
        if size > max_size:
            return Item(
                str(path),
                error=f"cannot read message: {size} bytes exceeds the limit of {max_size} bytes (--max-size)",
            )
        with path.open("rb") as fh:
            return Item(str(path), fh.read(max_size + 1))
    except OSError as exc:
        return Item(str(path), error=f"cannot read {path}: {exc.strerror or exc}")


def _not_a_file(path: Path) -> Item:
    if not path.exists():
        return Item(str(path), error=f"cannot read {path}: no such file (a link to nothing)")
    return Item(
        str(path),
        error=f"cannot read {path}: not a regular file (a directory, FIFO or device); skipped",
    )


def is_mbox(path: Path) -> bool:
    """An mbox file: starts with a ``From `` line and is not named ``*.eml``
    (an .eml file often keeps its envelope ``From `` line; read as an mbox it
    would be split at every body line that starts with "From ")."""
    if path.suffix.lower() == ".eml":
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def is_single(paths: list[str]) -> bool:
    """One input that is one message (a file or stdin): commands print one
    object for it; directories and mbox files, like several inputs, a list."""
    if len(paths) != 1:
        return False
    if paths[0] == "-":
        return True
    path = Path(paths[0])
    return not path.is_dir() and not (path.is_file() and is_mbox(path))


def iter_inputs(paths: list[str], max_size: int) -> Iterator[Item]:
    """Every message named by ``paths``, in order, one at a time."""
    for raw in paths:
        if raw == "-":
            data = sys.stdin.buffer.read(max_size + 1)
            if len(data) > max_size:
                yield Item(
                    "-", error=f"cannot read message: more than {max_size} bytes (--max-size)"
                )
            else:
                yield Item("-", data)
            continue
        path = Path(raw)
        if path.is_dir():
            # Every *.eml below (directory links are not followed, so a loop
            # cannot trap the walk); one that is not a regular file is named,
            # not read: a FIFO would block the batch for ever.
            found = sorted(path.rglob("*.eml"))
            if not found:
                yield Item(raw, error=f"{raw}: no *.eml files in this directory")
            for p in found:
                yield read_file(p, max_size) if p.is_file() else _not_a_file(p)
        elif not path.exists():
            yield Item(raw, error=f"cannot read {raw}: no such file or directory")
        elif is_mbox(path):
            yield from _iter_mbox(path, max_size)
        else:
            yield read_file(path, max_size)


def _iter_mbox(path: Path, max_size: int) -> Iterator[Item]:
    import mailbox

    try:
        box = mailbox.mbox(str(path), create=False)
        keys = list(box.iterkeys())
    except (OSError, mailbox.Error) as exc:
        yield Item(str(path), error=f"cannot read mbox {path}: {exc}")
        return
    for i, key in enumerate(keys, start=1):
        source = f"{path}#{i}"
        try:
            # At most max_size + 1 bytes: a message over the limit is refused
            # without being read whole.
            with box.get_file(key) as fh:
                data = fh.read(max_size + 1)
        except (OSError, mailbox.Error, KeyError) as exc:
            yield Item(source, error=f"cannot read message {i} of {path}: {exc}")
            continue
        if len(data) > max_size:
            yield Item(
                source, error=f"cannot read message: more than {max_size} bytes (--max-size)"
            )
        else:
            yield Item(source, data)


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
