"""The error boundary of every command (CONTRIBUTING.md): an exception becomes one
line on stderr and an exit code, never a traceback (``SECMSG_DEBUG=1`` lets
it through). Typer-free: the Typer application (``SecmsgGroup.main``) and
the lean entry point (``cli/entry.py``) both end here.
"""

from __future__ import annotations

import os
import sys

from secmsg_cli.cli._values import printable
from secmsg_cli.errors import SecmsgError, clip

__all__ = ["exit_code_for", "fail", "line"]


def line(message: str) -> str:
    """One line for the terminal: newlines folded, long values cut
    (:func:`~secmsg_cli.errors.clip`), control characters escaped (an error
    may quote a configuration file or a message, which may carry escape
    sequences)."""
    return printable(clip(message.replace("\r\n", " ").replace("\n", " ")))


def fail(message: str, code: int) -> int:
    sys.stderr.write(f"error: {line(message)}\n")
    return code


def exit_code_for(exc: BaseException) -> int:
    """Report ``exc`` as CONTRIBUTING.md says and return the exit code; re-raise it
    under ``SECMSG_DEBUG=1`` (or when it is not ours to report)."""
    debug = os.environ.get("SECMSG_DEBUG") == "1"
    if isinstance(exc, SecmsgError):
        if debug:
            raise exc
        # A document's problems: each once, on its own line in the shape editors
        # and CI read (PATH:LINE:COL: SEVERITY CODE message), then the error
        # line that counts them.
        for problem in getattr(exc, "problems", None) or []:
            sys.stderr.write(f"{line(problem)}\n")
        return fail(str(exc), exc.exit_code)
    if isinstance(exc, BrokenPipeError):
        return 1
    if isinstance(exc, KeyboardInterrupt):
        return 130  # Ctrl-C: quietly, 128 + SIGINT, as the shell and Typer's own handler do
    if isinstance(exc, EOFError):
        return fail("aborted", 1)
    if isinstance(exc, UnicodeEncodeError) and not debug:
        # A lone surrogate: Python's stand-in for a byte that is not UTF-8 in
        # a command-line argument, a file name or the environment, reaching the
        # store or the output. (Fields of the store refuse it by name first.)
        bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else ""
        return fail(f"text that is not valid UTF-8 ({bad!a}): give it as UTF-8", 1)
    if isinstance(exc, ValueError) and str(exc) == "embedded null byte" and not debug:
        return fail(
            "a file name cannot contain a NUL byte", 1
        )  # os.* refuse it before any system call
    if isinstance(exc, OSError):
        if debug:
            raise exc
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}", 1)
    if isinstance(exc, Exception):  # the last line of defence: never a traceback (CONTRIBUTING.md)
        if debug:
            raise exc
        return fail(
            f"internal error: {type(exc).__name__}: {exc} (run with SECMSG_DEBUG=1 for the traceback)",
            1,
        )
    raise exc
