"""The Secure Messaging Portal's records (docs/portal.md) and the directory's
users: the part of the store that keeps them, :attr:`Store.portal_records
<secmsg_cli.store.store.Store.portal_records>`.

Only rows in and out: the rules (who may do what, when) live in
:mod:`secmsg_cli.delivery.lifecycle`, which calls these inside one
transaction. The store never sees an access token, only its non-secret id
and its hash (:mod:`secmsg_cli.delivery.tokens`).

Times are stored as UTC ISO 8601 strings with whole seconds
(``2026-11-27T10:00:00+00:00``), so that they compare correctly as text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from secmsg_cli.engine.addresses import AddressError, is_internal, normalise_address
from secmsg_cli.errors import InvalidInput, NotFound, Refused
from secmsg_cli.model import as_id
from secmsg_cli.store._core import StoreCore
from secmsg_cli.store._sql import chunks, rowid

STATUSES = ("unread", "read", "expired", "recalled", "revoked", "purged")


def utc(moment: datetime) -> str:
    """``moment`` as stored: UTC, whole seconds, ISO 8601."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_utc(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class PortalCopy:
    """One portal recipient's retained copy (without the message bytes)."""

    id: int
    message_ref: int
    recipient: str
    internal: bool
    sender: str
    header_from: str | None
    header_from_name: str | None
    subject: str
    message_id: str | None
    definition: str
    settings: Mapping[str, Any]
    allow_print: bool
    allow_reply: bool
    allow_reply_all: bool
    read_receipt: bool
    sent: datetime
    expires: datetime | None
    original_expires: datetime | None
    latest_expiry: datetime | None
    retention_end: datetime
    extended_seconds: int
    extensions: tuple[Mapping[str, Any], ...]
    read_at: datetime | None
    recalled_at: datetime | None
    revoked_at: datetime | None
    expired_at: datetime | None
    purged_at: datetime | None
    token_id: str
    token_hash: str | None

    @property
    def reply_to(self) -> str:
        """Where replies and read receipts go: the header From, else the envelope sender."""
        return self.header_from or self.sender

    def is_expired(self, at: datetime) -> bool:
        """External copies expire; internal ones never do (docs/portal.md). Once a
        sweep has marked a copy expired it stays expired."""
        if self.expires is None:
            return False
        return self.expired_at is not None or at >= self.expires

    def status(self, at: datetime) -> str:
        if self.purged_at is not None:
            return "purged"
        if self.revoked_at is not None:
            return "revoked"
        if self.recalled_at is not None:
            return "recalled"
        if self.is_expired(at):
            return "expired"
        return "read" if self.read_at is not None else "unread"


@dataclass(frozen=True, slots=True)
class CopyFilter:
    """Which portal copies a listing or an administrator's action concerns;
    every criterion given must hold. Addresses are normalised; ``recipient``
    may be ``@domain`` (that domain and no other); ``subject`` is a piece of
    the subject, any case; times are aware; ``statuses`` (any of them) are
    judged at ``at`` as :meth:`PortalCopy.status` judges them."""

    sender: str | None = None
    recipient: str | None = None
    definition: str | None = None
    subject: str | None = None
    message_id: str | None = None
    sent_since: datetime | None = None
    sent_until: datetime | None = None
    expires_after: datetime | None = None
    expires_before: datetime | None = None
    statuses: tuple[str, ...] = ()
    at: datetime | None = None

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition (over ``_COPY_SQL``'s ``c`` and ``m``) and its values."""
        parts: list[str] = []
        values: list[object] = []
        if self.sender:
            parts.append("(m.sender = ? OR m.header_from = ?)")
            values += [self.sender, self.sender]
        if self.recipient and self.recipient.startswith("@"):
            # the domain part, "@" included: that domain and no other
            parts.append("substr(c.recipient, instr(c.recipient, '@')) = ?")
            values.append(self.recipient)
        elif self.recipient:
            parts.append("c.recipient = ?")
            values.append(self.recipient)
        if self.definition:
            parts.append("c.definition = ? COLLATE NOCASE")
            values.append(self.definition)
        if self.subject:
            # instr over lower(): a literal piece, whatever % or _ it holds
            parts.append("instr(lower(m.subject), ?) > 0")
            values.append(self.subject.lower())
        if self.message_id:
            # with or without the angle brackets, as people copy it
            parts.append("trim(m.message_id, '<>') = ?")
            values.append(self.message_id.strip().strip("<>"))
        for column, op, moment in (
            ("c.sent", ">=", self.sent_since),
            ("c.sent", "<", self.sent_until),
            ("c.expires", ">=", self.expires_after),
            ("c.expires", "<", self.expires_before),
        ):
            if moment is not None:
                parts.append(f"{column} {op} ?")
                values.append(utc(moment))
        if self.statuses:
            if self.at is None:
                raise ValueError("CopyFilter: statuses are judged at a time: give at")
            either = [status_where(s, self.at) for s in dict.fromkeys(self.statuses)]
            parts.append(
                either[0][0]
                if len(either) == 1
                else " OR ".join(f"({w})" for w, _ in either).join("()")
            )
            for _, v in either:
                values += v
        return (" AND ".join(parts) or "1"), values


# The status of a copy at a time, in SQL: the same order of precedence as
# :meth:`PortalCopy.status` (purged, revoked, recalled, expired, read, unread;
# tests/store/test_portal_status_sql.py compares the two on every copy). Each
# status is a conjunction of plain terms, so that "unread" is answered from the
# partial index portal_copies_unread (migration m006) rather than a full scan.
_NOT_ENDED = "c.purged_at IS NULL AND c.revoked_at IS NULL AND c.recalled_at IS NULL"
_OPEN = (
    "c.read_at IS NULL AND c.recalled_at IS NULL AND c.revoked_at IS NULL "
    "AND c.purged_at IS NULL AND c.expired_at IS NULL"
)


def status_where(status: str, at: datetime) -> tuple[str, list[object]]:
    """The SQL condition (over ``c``, a portal copy) for ``status`` at ``at``."""
    when = utc(at)
    expired = "c.expires IS NOT NULL AND (c.expired_at IS NOT NULL OR c.expires <= ?)"
    # not expired: internal (never expires), or not marked and not yet due
    # (a marked copy always has an expiry: sweep and expire-now set it)
    live = "c.expired_at IS NULL AND (c.expires IS NULL OR c.expires > ?)"
    if status == "purged":
        return "c.purged_at IS NOT NULL", []
    if status == "revoked":
        return "(c.purged_at IS NULL AND c.revoked_at IS NOT NULL)", []
    if status == "recalled":
        return (
            "(c.purged_at IS NULL AND c.revoked_at IS NULL AND c.recalled_at IS NOT NULL)",
            [],
        )
    if status == "expired":
        return f"({_NOT_ENDED} AND {expired})", [when]
    if status == "read":
        return f"({_NOT_ENDED} AND c.read_at IS NOT NULL AND {live})", [when]
    if status == "unread":
        return f"{_OPEN} AND (c.expires IS NULL OR c.expires > ?)", [when]
    raise ValueError(f"unknown portal copy status {status!r}")


def status_case(at: datetime) -> tuple[str, list[object]]:
    """A SQL expression (over ``c``) giving each copy's status at ``at``."""
    whens: list[str] = []
    values: list[object] = []
    for status in STATUSES[::-1][:-1]:  # purged first, unread as the ELSE
        condition, v = status_where(status, at)
        whens.append(f"WHEN {condition} THEN '{status}'")
        values += v
    return "CASE " + " ".join(whens) + " ELSE 'unread' END", values


_COPY_SQL = (
    "SELECT c.*, m.sender, m.header_from, m.header_from_name, m.subject, m.message_id "
    "FROM portal_copies c JOIN portal_messages m ON m.id = c.message_ref"
)


def _copy(row: sqlite3.Row) -> PortalCopy:
    return PortalCopy(
        id=row["id"],
        message_ref=row["message_ref"],
        recipient=row["recipient"],
        internal=bool(row["internal"]),
        sender=row["sender"],
        header_from=row["header_from"],
        header_from_name=row["header_from_name"],
        subject=row["subject"],
        message_id=row["message_id"],
        definition=row["definition"],
        settings=json.loads(row["settings"]),
        allow_print=bool(row["allow_print"]),
        allow_reply=bool(row["allow_reply"]),
        allow_reply_all=bool(row["allow_reply_all"]),
        read_receipt=bool(row["read_receipt"]),
        sent=datetime.fromisoformat(row["sent"]),
        expires=parse_utc(row["expires"]),
        original_expires=parse_utc(row["original_expires"]),
        latest_expiry=parse_utc(row["latest_expiry"]),
        retention_end=datetime.fromisoformat(row["retention_end"]),
        extended_seconds=row["extended_seconds"],
        extensions=tuple(json.loads(row["extensions"])),
        read_at=parse_utc(row["read_at"]),
        recalled_at=parse_utc(row["recalled_at"]),
        revoked_at=parse_utc(row["revoked_at"]),
        expired_at=parse_utc(row["expired_at"]),
        purged_at=parse_utc(row["purged_at"]),
        token_id=row["token_id"],
        token_hash=row["token_hash"],
    )


def copy_summary(c: PortalCopy) -> dict[str, Any]:
    """What the audit log records of a copy (never the token hash)."""
    return {
        "id": c.id,
        "recipient": c.recipient,
        "internal": c.internal,
        "sender": c.sender,
        "subject": c.subject,
        "definition": c.definition,
        "sent": utc(c.sent),
        "expires": None if c.expires is None else utc(c.expires),
        "read_at": None if c.read_at is None else utc(c.read_at),
        "recalled_at": None if c.recalled_at is None else utc(c.recalled_at),
        "revoked_at": None if c.revoked_at is None else utc(c.revoked_at),
        "expired_at": None if c.expired_at is None else utc(c.expired_at),
        "purged_at": None if c.purged_at is None else utc(c.purged_at),
    }


class PortalRecords:
    """Portal messages and copies, the delivery ledger, the outbox files
    pending a move, and the directory's users, kept in ``store`` (which they
    refer to for the internal domains and the audit log)."""

    __slots__ = ("_store",)

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    # --- portal messages and copies -----------------------------------------

    def add_portal_message(
        self,
        *,
        message_id: str | None,
        sender: str,
        header_from: str | None,
        header_from_name: str | None,
        subject: str,
        sent: datetime,
        via: str,
        source: str | None,
        raw: bytes,
    ) -> int:
        import hashlib

        return rowid(
            self._store._x(
                "INSERT INTO portal_messages (message_id, sender, header_from, header_from_name, subject, sent, via, "
                "source, raw, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    message_id,
                    sender,
                    header_from,
                    header_from_name,
                    subject,
                    utc(sent),
                    via,
                    source,
                    sqlite3.Binary(raw),
                    len(raw),
                    hashlib.sha256(raw).hexdigest(),
                ],
            )
        )

    def add_portal_copy(
        self,
        *,
        message_ref: int,
        recipient: str,
        internal: bool,
        definition: str,
        settings: Mapping[str, Any],
        allow_print: bool,
        allow_reply: bool,
        allow_reply_all: bool,
        read_receipt: bool,
        sent: datetime,
        expires: datetime | None,
        latest_expiry: datetime | None,
        retention_end: datetime,
        token_id: str,
        token_hash: str,
        trigger: str | None = None,
    ) -> int:
        return rowid(
            self._store._x(
                "INSERT INTO portal_copies (message_ref, recipient, internal, definition, settings, allow_print, "
                "allow_reply, allow_reply_all, read_receipt, sent, expires, original_expires, latest_expiry, "
                "retention_end, token_id, token_hash, trigger) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    message_ref,
                    recipient,
                    int(internal),
                    definition,
                    json.dumps(dict(settings), sort_keys=True),
                    int(allow_print),
                    int(allow_reply),
                    int(allow_reply_all),
                    int(read_receipt),
                    utc(sent),
                    None if expires is None else utc(expires),
                    None if expires is None else utc(expires),
                    None if latest_expiry is None else utc(latest_expiry),
                    utc(retention_end),
                    token_id,
                    token_hash,
                    trigger,
                ],
            )
        )

    def token_id_taken(self, token_id: str) -> bool:
        return bool(self._store._q("SELECT 1 FROM portal_copies WHERE token_id = ?", [token_id]))

    def portal_copy(self, ref: int | str) -> PortalCopy:
        text = str(ref).strip()
        copy_id = as_id(ref)
        if copy_id is None:
            raise InvalidInput(
                f"invalid portal id {text!r}: expected a number (see 'secmsg portal list')"
            )
        rows = self._store._q(_COPY_SQL + " WHERE c.id = ?", [copy_id])
        if not rows:
            raise NotFound(f"portal copy {text} not found")
        return _copy(rows[0])

    def portal_token(self, token_id: str) -> tuple[int, str | None] | None:
        """(copy id, token hash) of the copy whose token has this non-secret id:
        only what verifying a token needs, so that an existing id costs what an
        unknown one does (:func:`secmsg_cli.delivery.tokens.verify`)."""
        rows = self._store._q(
            "SELECT id, token_hash FROM portal_copies WHERE token_id = ?", [token_id]
        )
        return (rows[0]["id"], rows[0]["token_hash"]) if rows else None

    def portal_copies(
        self,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        message_ref: int | None = None,
        where: CopyFilter | None = None,
    ) -> list[PortalCopy]:
        """Copies by id; ``sender`` matches the envelope sender or the header From."""
        condition, params = (where or CopyFilter(sender=sender, recipient=recipient)).where()
        sql = _COPY_SQL + " WHERE " + condition
        if message_ref is not None:
            sql += " AND c.message_ref = ?"
            params.append(message_ref)
        return [_copy(r) for r in self._store._q(sql + " ORDER BY c.id", params)]

    def portal_message_raw(self, message_ref: int) -> bytes | None:
        rows = self._store._q("SELECT raw FROM portal_messages WHERE id = ?", [message_ref])
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def portal_message_recipients(self, message_ref: int) -> list[str]:
        return [
            r[0]
            for r in self._store._q(
                "SELECT recipient FROM portal_copies WHERE message_ref = ? ORDER BY id",
                [message_ref],
            )
        ]

    def set_portal_read(self, copy_id: int, at: datetime) -> None:
        self._store._x(
            "UPDATE portal_copies SET read_at = ? WHERE id = ? AND read_at IS NULL",
            [utc(at), copy_id],
        )

    def set_portal_expiry(
        self,
        copy_id: int,
        expires: datetime,
        extended_seconds: int,
        extensions: Iterable[Mapping[str, Any]],
        latest_expiry: datetime | None = None,
    ) -> None:
        """A new expiry (and, for an administrator's extension past the
        sender's limit, a new latest expiry)."""
        self._store._x(
            "UPDATE portal_copies SET expires = ?, extended_seconds = ?, extensions = ?, "
            "latest_expiry = coalesce(?, latest_expiry) WHERE id = ?",
            [
                utc(expires),
                extended_seconds,
                json.dumps(list(extensions)),
                None if latest_expiry is None else utc(latest_expiry),
                copy_id,
            ],
        )

    def set_portal_revoked(self, copy_id: int, at: datetime) -> None:
        self._store._x("UPDATE portal_copies SET revoked_at = ? WHERE id = ?", [utc(at), copy_id])

    def set_portal_expired_now(self, copy_id: int, at: datetime) -> None:
        """An administrator's expiry: the copy expires at ``at`` (and is marked so)."""
        self._store._x(
            "UPDATE portal_copies SET expires = ?, expired_at = ? WHERE id = ?",
            [utc(at), utc(at), copy_id],
        )

    def set_portal_recalled(self, copy_id: int, at: datetime) -> None:
        self._store._x("UPDATE portal_copies SET recalled_at = ? WHERE id = ?", [utc(at), copy_id])

    def portal_copies_to_expire(self, at: datetime) -> list[PortalCopy]:
        """External copies whose expiry has passed and that no sweep has marked
        yet. A recalled copy is not among them: it already ended, when the
        sender recalled it, and expiring it again would be a second, false
        entry in the audit log."""
        return [
            _copy(r)
            for r in self._store._q(
                _COPY_SQL
                + " WHERE c.expires IS NOT NULL AND c.expires <= ? AND c.expired_at IS NULL "
                "AND c.recalled_at IS NULL AND c.revoked_at IS NULL AND c.purged_at IS NULL "
                "ORDER BY c.id",
                [utc(at)],
            )
        ]

    def portal_copies_to_purge(self, at: datetime) -> list[PortalCopy]:
        return [
            _copy(r)
            for r in self._store._q(
                _COPY_SQL + " WHERE c.retention_end <= ? AND c.purged_at IS NULL ORDER BY c.id",
                [utc(at)],
            )
        ]

    def set_portal_expired(self, copy_id: int, at: datetime) -> None:
        self._store._x("UPDATE portal_copies SET expired_at = ? WHERE id = ?", [utc(at), copy_id])

    def purge_portal_copy(self, copy_id: int, message_ref: int, at: datetime) -> int | None:
        """Forget the token and, once no copy of the message is left unpurged,
        the message itself (headers, body and attachments); a tombstone stays.
        Returns the size in bytes of the message deleted, or None when none was."""
        self._store._x(
            "UPDATE portal_copies SET purged_at = ?, token_hash = NULL WHERE id = ?",
            [utc(at), copy_id],
        )
        left = self._store._q(
            "SELECT 1 FROM portal_copies WHERE message_ref = ? AND purged_at IS NULL",
            [message_ref],
        )
        if left:
            return None
        held = self._store._q(
            "SELECT size FROM portal_messages WHERE id = ? AND raw IS NOT NULL", [message_ref]
        )
        if not held:
            return None
        self._store._x("UPDATE portal_messages SET raw = NULL WHERE id = ?", [message_ref])
        return int(held[0]["size"])

    # --- the delivery ledger (docs/portal.md: deliver is idempotent) ----------------

    def delivered_to(self, message_key: str, recipients: Iterable[str]) -> list[str]:
        """Those of ``recipients`` that the message with this key was delivered to."""
        wanted = list(dict.fromkeys(recipients))
        held: set[str] = set()
        for chunk in chunks(wanted):
            held.update(
                r[0]
                for r in self._store._q(
                    f"SELECT DISTINCT recipient FROM deliveries WHERE message_key = ? "
                    f"AND recipient IN ({', '.join('?' * len(chunk))})",
                    [message_key, *chunk],
                )
            )
        return [r for r in wanted if r in held]

    def record_delivery(
        self,
        message_key: str,
        recipient: str,
        route: str,
        portal_copy: int | None,
        at: datetime,
        again: bool,
    ) -> None:
        self._store._x(
            "INSERT INTO deliveries (message_key, recipient, route, portal_copy, at, again) VALUES (?, ?, ?, ?, ?, ?)",
            [message_key, recipient, route, portal_copy, utc(at), int(again)],
        )

    # --- outbox files of committed transactions not yet moved to new/ ----------

    def add_outbox_pending(self, outbox: str, names: Iterable[str]) -> None:
        for name in names:
            self._store._x(
                "INSERT INTO outbox_pending (outbox, name) VALUES (?, ?)", [outbox, name]
            )

    def outbox_pending(self, outbox: str) -> set[str]:
        return {
            r[0]
            for r in self._store._q("SELECT name FROM outbox_pending WHERE outbox = ?", [outbox])
        }

    def clear_outbox_pending(self, outbox: str, names: Iterable[str]) -> None:
        for name in names:
            self._store._x(
                "DELETE FROM outbox_pending WHERE outbox = ? AND name = ?", [outbox, name]
            )

    # --- users (the directory's known internal addresses) ---------------------

    def users(self) -> list[dict[str, str]]:
        return [
            dict(r) for r in self._store._q("SELECT address, added FROM users ORDER BY address")
        ]

    def has_users(self) -> bool:
        return bool(self._store._q("SELECT 1 FROM users LIMIT 1"))

    def is_user(self, address: str) -> bool:
        return bool(self._store._q("SELECT 1 FROM users WHERE address = ?", [address]))

    def _user_address(self, value: str) -> str:
        try:
            address = normalise_address(value)
        except AddressError as exc:
            raise InvalidInput(str(exc)) from None
        domains = {d.name for d in self._store.domains()}
        if not is_internal(address, domains):
            raise InvalidInput(
                f"{address} is not in an internal domain: users are the internal addresses the mail system "
                "knows (add the domain first with 'secmsg domain add')"
            )
        return address

    def add_users(self, addresses: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(self._user_address(a) for a in addresses))
        if not wanted:
            raise InvalidInput("no address given")
        with self._store.transaction():
            already = [a for a in wanted if self.is_user(a)]
            if already and len(already) == len(wanted):
                raise Refused(
                    f"{', '.join(already)} already listed as user{'s' if len(already) > 1 else ''}"
                )
            added = []
            now = datetime.now(UTC).isoformat(timespec="seconds")
            for a in wanted:
                if a in already:
                    continue
                self._store._x("INSERT INTO users (address, added) VALUES (?, ?)", [a, now])
                self._store.audit("create", "user", a, None, {"address": a})
                added.append(a)
        return added

    def remove_users(self, addresses: Iterable[str]) -> list[str]:
        wanted = []
        for a in addresses:
            try:
                wanted.append(normalise_address(a))
            except AddressError as exc:
                raise InvalidInput(str(exc)) from None
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            raise InvalidInput("no address given")
        with self._store.transaction():
            missing = [a for a in wanted if not self.is_user(a)]
            if missing:
                raise NotFound(
                    f"{', '.join(missing)} not listed as user{'s' if len(missing) > 1 else ''}"
                )
            for a in wanted:
                self._store._x("DELETE FROM users WHERE address = ?", [a])
                self._store.audit("delete", "user", a, {"address": a}, None)
        return wanted
