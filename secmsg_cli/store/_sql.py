"""Small helpers shared by the store's modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["chunks"]


def chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """``values`` in slices of at most ``size`` (SQL parameters per statement)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]
