"""Small helpers shared by the store's modules."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

__all__ = ["chunks", "rowid"]


def chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """``values`` in slices of at most ``size`` (SQL parameters per statement)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def rowid(cursor: sqlite3.Cursor) -> int:
    """The id of the row the INSERT run by ``cursor`` added (``lastrowid``,
    which sqlite3 leaves None only for a statement that is no INSERT)."""
    if cursor.lastrowid is None:
        raise RuntimeError("rowid() of a statement that inserted no row")
    return cursor.lastrowid
