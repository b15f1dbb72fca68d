"""Reports over the portal's copies (docs/reports.md): what ``secmsg report``
shows, counted by SQLite rather than by reading every copy into Python.

Every report takes the :class:`~secmsg_cli.store.portal.CopyFilter` of
``portal list`` (the period is its ``sent_since``/``sent_until``) and, where a
status matters, the time it is judged at. Each query is answered from an index
of migration m006 when the filter narrows it (``bench/portal_scale.py``), and
aggregates in SQL otherwise; only time to first read sorts its durations in
Python, one integer per opened copy.

The sender of a message is its header From, else its envelope sender (the
address a person reads, as :attr:`PortalCopy.reply_to
<secmsg_cli.store.portal.PortalCopy.reply_to>`); its domain is the part after
the last ``@``, in lower case.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from secmsg_cli.store._core import StoreCore
from secmsg_cli.store._sql import chunks
from secmsg_cli.store.portal import (
    _COPY_SQL,
    STATUSES,
    CopyFilter,
    PortalCopy,
    _copy,
    status_case,
    utc,
)

__all__ = [
    "GROUPS",
    "Ended",
    "Group",
    "PortalReports",
    "Reads",
    "Sender",
    "percentile",
]

_SENDER = "coalesce(m.header_from, m.sender)"
_DOMAIN = f"lower(replace({_SENDER}, rtrim({_SENDER}, replace({_SENDER}, '@', '')), ''))"

# What ``report messages`` can count by: the SQL of each key.
GROUPS: dict[str, str] = {
    "definition": "c.definition",
    "trigger": "c.trigger",
    "sender-domain": _DOMAIN,
}

_FROM = "FROM portal_copies c JOIN portal_messages m ON m.id = c.message_ref"


@dataclass(frozen=True, slots=True)
class Group:
    """Copies (and the distinct messages they are copies of) with one key."""

    key: str | None
    copies: int
    messages: int


@dataclass(frozen=True, slots=True)
class Reads:
    """Copies of one definition (``None``: all of them) by status, and the
    time from sending to first view of those opened, in seconds."""

    definition: str | None
    copies: int
    opened: int
    statuses: dict[str, int]
    first_read_median: float | None
    first_read_p90: int | None
    first_read_max: int | None


@dataclass(frozen=True, slots=True)
class Ended:
    """A recalled or revoked copy, and who ended it (from the audit log)."""

    copy: PortalCopy
    how: str  # recalled | revoked
    at: datetime
    by: str | None


@dataclass(frozen=True, slots=True)
class Sender:
    sender: str
    messages: int
    copies: int
    opened: int


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """The ``p``-th percentile of ascending ``sorted_values`` by nearest rank
    (a value that occurs: the smallest with at least p % at or below it)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class PortalReports:
    """The reports, read from ``store`` (one snapshot per query)."""

    __slots__ = ("_store",)

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def totals(self, where: CopyFilter) -> tuple[int, int]:
        """(copies, distinct messages) that ``where`` chooses."""
        condition, values = where.where()
        row = self._store._q(
            f"SELECT count(*), count(DISTINCT c.message_ref) {_FROM} WHERE {condition}", values
        )[0]
        return int(row[0]), int(row[1])

    def by(self, group: str, where: CopyFilter) -> list[Group]:
        """Copies and messages by ``group`` (a key of :data:`GROUPS`), the
        most copies first, then by key."""
        key = GROUPS[group]
        condition, values = where.where()
        rows = self._store._q(
            f"SELECT {key} AS k, count(*) AS copies, count(DISTINCT c.message_ref) AS messages "
            f"{_FROM} WHERE {condition} GROUP BY k ORDER BY copies DESC, k IS NULL, k",
            values,
        )
        return [Group(r["k"], r["copies"], r["messages"]) for r in rows]

    def reads(self, where: CopyFilter, at: datetime) -> list[Reads]:
        """Per definition (by name), then for all copies: statuses at ``at``
        and time to first read."""
        condition, values = where.where()
        case, case_values = status_case(at)
        counts: dict[str | None, dict[str, int]] = {}
        for r in self._store._q(
            f"SELECT c.definition AS d, {case} AS s, count(*) AS n {_FROM} "
            f"WHERE {condition} GROUP BY d, s",
            [*case_values, *values],
        ):
            for d in (r["d"], None):
                per = counts.setdefault(d, dict.fromkeys(STATUSES, 0))
                per[r["s"]] += r["n"]
        waits: dict[str | None, list[int]] = {}
        for r in self._store._q(
            f"SELECT c.definition AS d, CAST(strftime('%s', c.read_at) AS INTEGER) "
            f"- CAST(strftime('%s', c.sent) AS INTEGER) AS w {_FROM} "
            f"WHERE c.read_at IS NOT NULL AND {condition}",
            values,
        ):
            waits.setdefault(r["d"], []).append(r["w"])
            waits.setdefault(None, []).append(r["w"])
        out = []
        names = sorted((d for d in counts if d is not None), key=lambda d: (d.lower(), d))
        for d in [*names, None] if names else []:
            per = counts[d]
            w = sorted(waits.get(d, []))
            out.append(
                Reads(
                    definition=d,
                    copies=sum(per.values()),
                    opened=len(w),
                    statuses=per,
                    first_read_median=statistics.median(w) if w else None,
                    first_read_p90=percentile(w, 90) if w else None,
                    first_read_max=w[-1] if w else None,
                )
            )
        return out

    def expiring(self, where: CopyFilter, at: datetime, days: int) -> list[PortalCopy]:
        """Copies neither ended nor expired at ``at`` that expire within
        ``days`` days after it: the unread ones first, then by expiry."""
        condition, values = where.where()
        try:
            end = at + timedelta(days=days)
        except OverflowError:  # past the end of the calendar: no end
            end = datetime.max.replace(tzinfo=at.tzinfo)
        rows = self._store._q(
            _COPY_SQL + f" WHERE c.expires > ? AND c.expires <= ? AND c.expired_at IS NULL "
            "AND c.recalled_at IS NULL AND c.revoked_at IS NULL AND c.purged_at IS NULL "
            f"AND {condition} ORDER BY c.read_at IS NOT NULL, c.expires, c.id",
            [utc(at), utc(end), *values],
        )
        return [_copy(r) for r in rows]

    def ended(self, where: CopyFilter) -> list[Ended]:
        """Recalled and revoked copies, in the order they ended, each with the
        actor the audit log names for it (None if the log has no entry)."""
        condition, values = where.where()
        copies = [
            _copy(r)
            for r in self._store._q(
                _COPY_SQL + " WHERE (c.revoked_at IS NOT NULL OR c.recalled_at IS NOT NULL) "
                f"AND {condition} ORDER BY coalesce(c.revoked_at, c.recalled_at), c.id",
                values,
            )
        ]
        actors: dict[tuple[str, str], str] = {}
        for part in chunks([str(c.id) for c in copies]):
            for r in self._store._q(
                "SELECT object, action, actor FROM audit WHERE kind = 'portal-copy' "
                f"AND action IN ('recall', 'revoke') AND object IN ({', '.join('?' * len(part))}) "
                "ORDER BY id",
                list(part),
            ):
                actors.setdefault((r["object"], r["action"]), r["actor"])
        out = []
        for c in copies:
            how, moment = (
                ("revoked", c.revoked_at)
                if c.revoked_at is not None
                else ("recalled", c.recalled_at)
            )
            assert moment is not None  # chosen for one of the two
            action = "revoke" if how == "revoked" else "recall"
            out.append(Ended(c, how, moment, actors.get((str(c.id), action))))
        return out

    def senders(self, where: CopyFilter, top: int) -> list[Sender]:
        """The ``top`` senders by copies (then messages, then address)."""
        condition, values = where.where()
        rows = self._store._q(
            f"SELECT {_SENDER} AS s, count(DISTINCT c.message_ref) AS messages, count(*) AS copies, "
            f"count(c.read_at) AS opened {_FROM} WHERE {condition} "
            "GROUP BY s ORDER BY copies DESC, messages DESC, s LIMIT ?",
            [*values, top],
        )
        return [Sender(r["s"], r["messages"], r["copies"], r["opened"]) for r in rows]
