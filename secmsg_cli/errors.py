"""The one domain exception and its few subclasses; exit codes as SPEC §10."""

from __future__ import annotations


class SecmsgError(Exception):
    """A clean, one-line error for the user; ``exit_code`` as SPEC §10."""

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


class OutputError(SecmsgError):
    """The results cannot be written: full disk, file size limit, failing
    device (exit 1); never a silent exit 0 with truncated output."""
