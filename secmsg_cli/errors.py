"""The one domain exception and its few subclasses (exit codes as docs/output.md), and
how a value is shown in an error (:func:`clip`)."""

from __future__ import annotations

import re
from collections.abc import Iterable


class SecmsgError(Exception):
    """A clean, one-line error for the user; ``exit_code`` as docs/output.md."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NotFound(SecmsgError):
    """A referenced object does not exist (exit 1)."""


class Refused(SecmsgError):
    """A valid request the rules forbid: built-ins, edition, objects in use (exit 1)."""


class InvalidInput(SecmsgError):
    """A value that cannot be parsed or validated (exit 1)."""


class ConfigError(SecmsgError):
    """An invalid configuration document: rejected import/apply, lint errors (exit 3)."""

    exit_code = 3

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class StoreError(SecmsgError):
    """The store cannot be used: newer schema, not a secmsg store, unreadable."""


class NoStore(StoreError):
    """No store at the path: only ``init``, ``import`` and ``apply`` create one
    (exit 1), so a mistyped path is never answered as an empty organisation."""

    def __init__(self, path: object) -> None:
        super().__init__(
            f"no store at {path}: create one with 'secmsg init' or 'secmsg import FILE' "
            "(or point --db / SECMSG_DB at an existing store)"
        )
        self.path = path


class NotADatabase(StoreError):
    """The file is not an SQLite database (SQLite read its header)."""

    def __init__(self, path: object) -> None:
        super().__init__(
            f"cannot open store {path}: it is not a secmsg store (not an SQLite database)"
        )


class OutputError(SecmsgError):
    """The results cannot be written: full disk, file size limit, failing
    device (exit 1); never a silent exit 0 with truncated output."""


# --- showing values in errors ---------------------------------------------------

VALUE_LIMIT = 120  # a quoted value in an error is cut to about this many characters
LINE_LIMIT = 600  # and a whole error line to this many


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (a label, a name)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(message: str, *, value_limit: int = VALUE_LIMIT, line_limit: int = LINE_LIMIT) -> str:
    """An error message fit to show: a value in it (quoted as ``repr`` quotes,
    or a run without spaces) longer than ``value_limit`` keeps its start, an
    ellipsis and its length, and a line still longer than ``line_limit`` loses
    its middle. A 1 MB value given by mistake is named, not echoed whole."""
    if len(message) <= value_limit:
        return message

    def cut(m: re.Match[str]) -> str:
        value = m.group(0)
        if len(value) <= value_limit:
            return value
        if m.group("quoted"):
            return f"{value[: value_limit - 20]}…{value[-1]} ({len(value) - 2:,} characters)"
        return f"{value[: value_limit - 20]}… ({len(value):,} characters)"

    # A value is a Python repr ('...' or "..." with backslash escapes, not an
    # apostrophe inside a word), or else a long run without spaces (a number, a
    # name, a path given as it was).
    message = re.sub(
        r"""(?P<quoted>(?<!\w)(?:'[^'\\\n]*(?:\\.[^'\\\n]*)*'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"))"""
        rf"|\S{{{value_limit + 1},}}",
        cut,
        message,
    )
    if len(message) > line_limit:
        head = line_limit * 2 // 3
        tail = line_limit - head - 30
        message = (
            f"{message[:head]} … ({len(message) - head - tail:,} characters) … {message[-tail:]}"
        )
    return message


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'Legal'?`` when a known name is close to ``name``
    (ignoring case), else "": appended to a message about a name that does
    not exist."""
    import difflib

    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]!r}?" if close else ""
