"""Results that cannot be written are an error (SPEC §10): one line, exit 1,
never a silent exit 0 with truncated output.

Python's own standard output can lose the tail of the results without a
word: unbuffered (``PYTHONUNBUFFERED``, ``-u``, common in containers) its
text layer ignores a short write, which is what a file size limit
(``ulimit -f``; Python ignores SIGXFSZ) gives before the next write fails;
and a write that fails while the interpreter exits is printed as "Exception
ignored" with exit 120. So the console script (:mod:`secmsg_cli.cli.entry`,
both of its paths) calls :func:`install`, which writes results through a
stream whose every write is whole or an :class:`OutputError`, and ends every
command with :func:`finish`, which flushes and reports.

A closed pipe (``secmsg policy list | head -1``) stays quiet: exit 1, no
message, no traceback (the reader has gone; there is no one to tell).
"""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING

from secmsg_cli.errors import OutputError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["finish", "install"]

_fd: int | None = None  # standard output's descriptor, once install() has run
_failure: str | None = None  # why a write of results failed ("" for a closed pipe: nothing to say)


def _cannot_write(exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"cannot write the output: {reason}"


class _WholeWrites(io.RawIOBase):
    """File descriptor 1, where each write is whole or an error."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: ReadableBuffer) -> int:
        global _failure
        view = memoryview(data).cast("B")
        total = len(view)
        try:
            while view:
                view = view[
                    os.write(self._fd, view) :
                ]  # after a short write, the rest (or the error)
        except BrokenPipeError:
            if _failure is None:
                _failure = ""
            raise
        except OSError as exc:
            message = _cannot_write(exc)
            if _failure is None:
                _failure = message
            raise OutputError(message) from None
        return total


class _Closed(io.RawIOBase):
    """Standard output when there is none (``secmsg ... >&-``): every write
    is refused, and descriptor 1, which the store's file may now hold, is
    never written."""

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        global _failure
        message = "cannot write the output: standard output is closed"
        if _failure is None:
            _failure = message
        raise OutputError(message)


def install() -> None:
    """Write results through :class:`_WholeWrites` (for the console script
    only: in-process callers keep the stdout they gave). Same encoding,
    newlines and buffering as Python's own stdout; left alone when stdout is
    not a plain file descriptor (a Windows console, an embedding)."""
    global _fd
    old = sys.stdout
    if old is None:
        sys.stdout = io.TextIOWrapper(_Closed(), encoding="utf-8", newline="\n", write_through=True)
        return
    if not isinstance(old, io.TextIOWrapper):
        return
    unbuffered = isinstance(old.buffer, io.RawIOBase)
    raw = old.buffer if unbuffered else getattr(old.buffer, "raw", None)
    if type(raw) is not io.FileIO:
        return
    try:
        old.flush()
        fd = old.fileno()
    except (OSError, ValueError):
        return
    stream = _WholeWrites(fd)
    buffer = stream if unbuffered else io.BufferedWriter(stream)
    sys.stdout = io.TextIOWrapper(
        buffer,
        encoding=old.encoding,
        errors=old.errors,
        newline="\n",
        line_buffering=old.line_buffering,
        write_through=unbuffered,
    )
    _fd = fd


def finish(code: int) -> int:
    """Flush the results at the end of a command; the exit code to use.

    A failed write turns a successful exit code (0, or 4/5, which report
    test failures and plan changes) into 1 and is reported once: not again
    when the command ended on it (the error boundary reported it). Then
    standard output points at the null device, so that nothing tries (and
    fails) again while the interpreter exits."""
    global _failure
    earlier = _failure
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        if _failure is None:
            _failure = ""
    except (OSError, ValueError, OutputError) as exc:
        if _failure is None:  # (a stdout that is not ours; ours has set it)
            _failure = str(exc) if isinstance(exc, OutputError) else _cannot_write(exc)
    if _failure is None:
        return code
    report = _failure if earlier is None or code in (0, 4, 5) else ""
    if code in (0, 4, 5):
        code = 1
    if report:
        try:
            sys.stderr.write(f"error: {report}\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
    if _fd is not None:
        _silence(_fd)
    _failure = None  # reported: an in-process caller's next command starts afresh
    return code


def _silence(fd: int) -> None:
    """Point ``fd`` at the null device (as Rich does after a closed pipe),
    so that data still buffered goes nowhere, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except OSError:
        pass
