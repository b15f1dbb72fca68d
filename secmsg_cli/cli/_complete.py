"""Shell completion of the names in the store (Typer's ``autocompletion=``):
definition paths, content definitions, groups (also as ``group:NAME`` in
--from/--to), policy ids with their narratives.

Completion runs on every Tab: it reads the store named by --db (already on
the command line), $SECMSG_DB or the default location, and when there is no
store, or it cannot be read, it offers nothing. It never creates a store and
never prints an error (a message on the terminal in the middle of a command
line is worse than no completion).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import typer

from secmsg_cli.cli._common import GROUP_NAMES

Candidates = list[tuple[str, str]]


@contextlib.contextmanager
def _store(ctx: typer.Context) -> Iterator[Any]:
    """The store the command line names, opened without creating one."""
    from secmsg_cli.store.store import open_store

    root = ctx.find_root()
    db = root.params.get("db") if root.params else None
    store = open_store(db, create=False)
    try:
        yield store
    finally:
        store.close()


def _safely(read: Callable[[Any], Candidates], ctx: typer.Context, incomplete: str) -> Candidates:
    """``read(store)``'s candidates that start with ``incomplete`` (any case);
    nothing when the store is missing or unreadable."""
    try:
        with _store(ctx) as store:
            found = read(store)
    except Exception:  # noqa: BLE001 - completion must never fail loudly; no store, no candidates
        return []
    want = incomplete.casefold()
    return [(value, help) for value, help in found if value.casefold().startswith(want)]


def definitions(ctx: typer.Context, incomplete: str) -> Candidates:
    """Definition paths (``--definition``)."""
    return _safely(lambda s: [(d.path, "") for d in s.definitions()], ctx, incomplete)


def content_definitions(ctx: typer.Context, incomplete: str) -> Candidates:
    """Content definition names (``--content-definition``)."""
    return _safely(lambda s: [(c.name, "") for c in s.content_definitions()], ctx, incomplete)


def groups(ctx: typer.Context, incomplete: str) -> Candidates:
    """Group names (``group add-member GROUP`` and the like)."""
    return _safely(
        lambda s: [(g.name, f"{len(g.members)} members") for g in s.groups()], ctx, incomplete
    )


_TARGET_WORDS = ("everyone", "internal", "external", "domain:", "group:", "attribute:", "address:")


def targets(ctx: typer.Context, incomplete: str) -> Candidates:
    """--from / --to: the fixed words, and ``group:NAME`` for every group."""

    def read(store: Any) -> Candidates:
        return [(w, "") for w in _TARGET_WORDS] + [(f"group:{g.name}", "") for g in store.groups()]

    found = _safely(read, ctx, incomplete)
    # the fixed words still complete when there is no store
    return found or [(w, "") for w in _TARGET_WORDS if w.startswith(incomplete.casefold())]


def policies(ctx: typer.Context, incomplete: str) -> Candidates:
    """Policy ids of the command's kind (``policy show 1``), each with its
    narrative as the help a shell shows beside it."""
    group = ctx.parent.info_name if ctx.parent is not None else None
    kinds = [kind for kind, name in GROUP_NAMES.items() if name == group]
    kind = kinds[0] if kinds else None
    return _safely(lambda s: [(str(p.id), p.narrative) for p in s.policies(kind)], ctx, incomplete)
