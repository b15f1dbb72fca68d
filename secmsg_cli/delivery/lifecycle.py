"""The Secure Messaging Portal lifecycle (docs/portal.md): delivering a decided
message, and what recipients, senders and administrators then do with a
portal copy. Each function is one store transaction plus one outbox batch:
both happen or neither does.

Rules (the definition's settings are those stored with the copy, as they
were at sending; ``expired_view`` is the account's current setting):

- a token that is wrong, truncated, another recipient's (or given with
  ``as_`` for another address), or that belongs to a copy that has expired,
  been recalled or purged, is refused with one message, :data:`ACCESS_REFUSED`,
  and the refusal is recorded in the audit log (``access-denied``: the
  token's non-secret id and the reason, never the secret);
  with ``expired_view`` an expired copy can still be viewed and printed;
- viewing (open, print, reply) marks the copy read; the first view of a
  read-receipt copy writes a read receipt to the sender;
- print / reply / reply-all are refused unless the definition allows them
  (internal recipients may do everything);
- the sender may extend an external copy's expiry before it has passed, by
  at most what remains of ``max_extension``, never past the retention
  period; may recall a copy nobody has opened;
- a sweep marks expired copies and purges those past retention (the message
  bytes and the token hash are deleted; a tombstone row stays).
"""

from __future__ import annotations

import email.message
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from secmsg_cli.delivery import compose
from secmsg_cli.delivery.attachments import safe_name, save_all
from secmsg_cli.delivery.outbox import Batch, Outbox, OutboxFile
from secmsg_cli.delivery.tokens import new_token, split_token, verify
from secmsg_cli.engine.addresses import AddressError, is_internal, normalise_address
from secmsg_cli.engine.durations import Duration
from secmsg_cli.engine.message import DEFAULT_LIMITS, Limits
from secmsg_cli.errors import InvalidInput, NotFound, Refused, SecmsgError
from secmsg_cli.store.portal import PortalCopy, copy_summary, utc

if TYPE_CHECKING:
    from secmsg_cli.engine.decide import MessageDecision, RecipientDecision
    from secmsg_cli.engine.snapshot import Snapshot
    from secmsg_cli.model import Definition, NotificationTemplate
    from secmsg_cli.store.store import Store

__all__ = [
    "ACCESS_REFUSED",
    "AccessDenied",
    "AlreadyDelivered",
    "CannotChange",
    "Delivered",
    "actions",
    "check_access",
    "copy_values",
    "deliver",
    "download",
    "extend",
    "extend_copies",
    "message_key",
    "notification_for",
    "open_copy",
    "print_copy",
    "recall",
    "recover_outbox",
    "refuse_throttled",
    "reply",
    "sweep",
]

ACCESS_REFUSED = (
    "access refused: the token is not valid, or the secure message has expired or been recalled"
)


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return compose.fmt_time(moment, tz)


# --- delivery -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivered:
    portal_ids: tuple[int, ...]
    files: tuple[OutboxFile, ...]
    recipients: dict[str, int]  # portal recipient -> copy id


def _settings(d: Definition) -> dict[str, Any]:
    # the notification template sent, when not the built-in (a key only then:
    # copies under definitions without one keep the settings they always had)
    template = (
        {}
        if d.notification_template is None
        else {"notification_template": d.notification_template}
    )
    return template | {
        "path": d.path,
        "allow_print": d.allow_print,
        "allow_reply": d.allow_reply,
        "allow_reply_all": d.allow_reply_all,
        "expire_after": str(d.expire_after),
        "max_extension": str(d.max_extension),
        "read_receipt": d.read_receipt,
        "banner": d.banner,
        "routing": d.routing,
    }


def message_key(message_id: str | None, raw: bytes) -> str:
    """What makes two deliveries the same message: its Message-ID, or, for a
    message without one, the SHA-256 of its bytes (as the store records them)."""
    if message_id:
        return message_id
    import hashlib

    return "sha256:" + hashlib.sha256(raw).hexdigest()


class AlreadyDelivered(Refused):
    """The message was delivered to these recipients before (docs/portal.md)."""


def _listed(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@contextmanager
def _committed(store: Store, outbox: Outbox) -> Iterator[Batch]:
    """One store transaction and one outbox batch, both or neither
    (docs/portal.md): the batch's files are written to ``tmp/`` while the transaction is
    open and their names recorded in it; only once it has committed are they
    moved to ``new/``. If the transaction fails they are removed; if the
    process stops between the commit and the move, :func:`recover_outbox`
    moves them on the next run."""
    batch = outbox.batch()
    try:
        with store.transaction():
            yield batch
            if batch.files:
                store.portal_records.add_outbox_pending(outbox.key, batch.names)
    except BaseException:
        batch.discard()
        raise
    batch.committed = True
    if batch.files:
        names = batch.names
        batch.publish()  # an OutboxError here leaves the files to recover_outbox
        try:
            with store.transaction():
                store.portal_records.clear_outbox_pending(outbox.key, names)
        except SecmsgError:  # harmless: recover_outbox finds them in new/ and clears them
            pass


def recover_outbox(store: Store, outbox: Outbox) -> tuple[list[str], list[str]]:
    """Finish what a stopped process left in the outbox's ``tmp/``: files
    of committed transactions are moved to ``new/``, those of transactions
    that never committed are removed. Returns (moved, removed)."""
    committed = store.portal_records.outbox_pending(outbox.key)
    moved, removed = outbox.recover(committed)
    if moved:
        with store.transaction():
            store.portal_records.clear_outbox_pending(outbox.key, moved)
    return moved, removed


def deliver(
    store: Store,
    snapshot: Snapshot,
    decision: MessageDecision,
    raw: bytes,
    outbox: Outbox,
    *,
    source: str | None = None,
    again: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Delivered:
    """Commit what ``decision`` (from :func:`secmsg_cli.engine.decide.decide`
    on ``raw``) says: retain each portal recipient's copy and write its
    notification; write a banner-stamped copy for each internal inbox
    recipient of the secure message. Plain (not secure) recipients get
    nothing from the system: the mail server delivers them as usual.

    Idempotent (docs/portal.md): a message (by Message-ID, else by its bytes)
    already delivered to one of the recipients it would now be delivered to
    is refused with :class:`AlreadyDelivered`, and nothing is written,
    unless ``again``. ``limits`` are those the decision was made with: the
    inbox copies stamp the body parts the engine read."""
    host = compose.portal_host(snapshot.account.portal_url)
    portal = [r for r in decision.recipients if r.route == "portal" and r.portal is not None]
    stamped = [r for r in decision.recipients if r.secure and r.route == "inbox"]
    if not (portal or stamped):  # plain recipients get nothing from the system: nothing to write
        return Delivered((), (), {})
    key = message_key(decision.message_id, raw)
    records = store.portal_records
    with _committed(store, outbox) as batch:
        if not again:
            _refuse_if_delivered(store, key, decision, [r.address for r in (*portal, *stamped)])
        ids: dict[str, int] = {}
        if portal:
            ids = _retain(store, snapshot, decision, raw, portal, batch, key, host, source, again)
        if stamped:
            inbox = compose.InboxCopies(raw, limits=limits)
            for r in stamped:
                batch.add(inbox.copy(r.banner, r.address), kind="inbox-copy", to=[r.address])
                records.record_delivery(key, r.address, "inbox", None, decision.at, again)
        store.audit(
            "deliver",
            "message",
            decision.message_id or source,
            None,
            _delivery_record(decision, source, again, ids, batch),
        )
    return Delivered(tuple(ids.values()), tuple(batch.files), ids)


def _refuse_if_delivered(
    store: Store, key: str, decision: MessageDecision, recipients: list[str]
) -> None:
    """:class:`AlreadyDelivered` if the message with this key was delivered
    to any of ``recipients`` before."""
    held = store.portal_records.delivered_to(key, recipients)
    if held:
        mid = decision.message_id
        what = (
            f"message {mid if len(mid) <= 200 else mid[:200] + '...'}"
            if mid
            else "this message (no Message-ID; the same bytes)"
        )
        raise AlreadyDelivered(
            f"{what} was already delivered to {_listed(held)}; nothing was written "
            "(give --again to deliver it again)"
        )


def _retain(
    store: Store,
    snapshot: Snapshot,
    decision: MessageDecision,
    raw: bytes,
    portal: list[RecipientDecision],
    batch: Batch,
    key: str,
    host: str,
    source: str | None,
    again: bool,
) -> dict[str, int]:
    """Retain the message, a copy (with its token) for each ``portal``
    recipient, and stage each one's notification. Returns recipient -> copy id."""
    records = store.portal_records
    at = decision.at
    mref = records.add_portal_message(
        message_id=decision.message_id,
        sender=decision.envelope_from,
        header_from=decision.header_from,
        header_from_name=decision.header_from_name,
        subject=decision.subject,
        sent=at,
        via=decision.via,
        source=source,
        raw=raw,
    )
    ids: dict[str, int] = {}
    templates: dict[str, NotificationTemplate] = {}  # each template read once per delivery
    for r in portal:
        token, token_id, digest = new_token(records.token_id_taken)
        cid = records.add_portal_copy(
            message_ref=mref,
            token_id=token_id,
            token_hash=digest,
            trigger=None if r.trigger is None else str(r.trigger),
            **copy_values(snapshot, decision, r),
        )
        ids[r.address] = cid
        records.record_delivery(key, r.address, "portal", cid, at, again)
        note = notification_for(
            store, snapshot, decision, r, token=token, portal_id=cid, host=host, templates=templates
        )
        batch.add(compose.to_bytes(note), kind="notification", to=[r.address], portal_id=cid)
    return ids


def copy_values(
    snapshot: Snapshot, decision: MessageDecision, r: RecipientDecision
) -> dict[str, Any]:
    """What a portal recipient's copy records (besides its message and token),
    as ``deliver`` stores it and ``preview`` shows it."""
    p, definition = r.portal, r.definition
    # the engine routes to the portal under a definition, with its portal record
    assert definition is not None and p is not None
    return {
        "recipient": r.address,
        "internal": r.internal,
        "definition": definition.path,
        "settings": _settings(definition),
        "allow_print": p.allow_print,
        "allow_reply": p.allow_reply,
        "allow_reply_all": p.allow_reply_all,
        "read_receipt": p.read_receipt,
        "sent": decision.at,
        "expires": p.expires,
        "latest_expiry": p.latest_expiry,
        "retention_end": decision.at + timedelta(days=snapshot.account.max_retention_days),
    }


def notification_for(
    store: Store,
    snapshot: Snapshot,
    decision: MessageDecision,
    r: RecipientDecision,
    *,
    token: str,
    portal_id: int,
    host: str,
    templates: dict[str, NotificationTemplate],
) -> email.message.EmailMessage:
    """The notification a portal recipient gets (with the definition's
    template, read from the store once per name into ``templates``), as
    ``deliver`` sends it and ``preview`` shows it."""
    p, definition = r.portal, r.definition
    assert definition is not None and p is not None
    return compose.notification(
        recipient=r.address,
        sender=decision.header_from or decision.envelope_from,
        sender_name=decision.header_from_name,
        subject=decision.subject,
        sent=decision.at,
        expires=p.expires,
        link=compose.token_link(p.portal_url, token),
        portal_id=portal_id,
        at=decision.at,
        tz=snapshot.tz,
        host=host,
        definition=definition.path,
        template=_template(store, definition, templates),
    )


def _template(
    store: Store, definition: Definition, seen: dict[str, NotificationTemplate]
) -> NotificationTemplate | None:
    """The notification template ``definition`` chooses (None: the built-in)."""
    name = definition.notification_template
    if name is None:
        return None
    if name not in seen:
        seen[name] = store.template_records.template(name)
    return seen[name]


def _delivery_record(
    decision: MessageDecision,
    source: str | None,
    again: bool,
    ids: dict[str, int],
    batch: Batch,
) -> dict[str, Any]:
    """What the audit log records of a delivery."""
    return {
        "source": source,
        "subject": decision.subject,
        "sender": decision.envelope_from,
        "sent": utc(decision.at),
        "again": again,
        "recipients": [
            {
                "address": r.address,
                "route": r.route,
                "secure": r.secure,
                "definition": r.definition.path if r.definition else None,
                "portal_id": ids.get(r.address),
            }
            for r in decision.recipients
        ],
        "outbox": [{"kind": f.kind, "to": list(f.to), "file": f.name} for f in batch.files],
    }


# --- recipient side ------------------------------------------------------------------


def actions(copy: PortalCopy, at: datetime, expired_view: bool) -> dict[str, bool]:
    """What the recipient may do with the copy at ``at``."""
    if copy.purged_at is not None or copy.recalled_at is not None or copy.revoked_at is not None:
        return {"view": False, "print": False, "reply": False, "reply_all": False}
    if copy.is_expired(at):
        return {
            "view": expired_view,
            "print": expired_view and copy.allow_print,
            "reply": False,
            "reply_all": False,
        }
    return {
        "view": True,
        "print": copy.allow_print,
        "reply": copy.allow_reply,
        "reply_all": copy.allow_reply_all,
    }


class AccessDenied(Refused):
    """An access refused with :data:`ACCESS_REFUSED`; carries what the audit
    log records of it. ``reason`` is never shown to whoever gave the token;
    a caller may say more only when the token was right (``copy`` is set:
    the recipient's own copy has expired, or was recalled or revoked)."""

    def __init__(
        self,
        action: str,
        reason: str,
        token: str,
        at: datetime,
        as_: str | None,
        copy: PortalCopy | None = None,
        message: str = ACCESS_REFUSED,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.copy = copy if reason != "another recipient's token" else None
        self.token_id = split_token(
            token
        )  # the non-secret id, or None: nothing of a malformed token is kept
        self.record = {
            "action": action,
            "reason": reason,
            "token_id": self.token_id,
            "as": as_,
            "at": utc(at),
            "portal_copy": copy.id if copy is not None else None,
        }


P = ParamSpec("P")
R = TypeVar("R")


def _audits_denials(fn: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Record every access refused by ``fn`` in the audit log, in a
    transaction of its own: ``fn``'s has been rolled back by then, and the
    row must stay although the command fails. (Called inside a caller's
    transaction, the row would share that transaction's fate.)"""

    @functools.wraps(fn)
    def wrapper(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(store, *args, **kwargs)
        except AccessDenied as denied:
            with store.transaction():
                store.audit("access-denied", "portal-token", denied.token_id, None, denied.record)
            raise

    return wrapper


def _access(store: Store, token: str, at: datetime, as_: str | None, action: str) -> PortalCopy:
    copy_id = verify(token, store.portal_records.portal_token)
    if copy_id is None:
        raise AccessDenied(action, "invalid token", token, at, as_)
    copy = store.portal_records.portal_copy(copy_id)
    if as_ is not None:
        try:
            who = normalise_address(as_)
        except AddressError as exc:
            raise InvalidInput(f"--as: {exc}") from None
        if who != copy.recipient:
            raise AccessDenied(action, "another recipient's token", token, at, as_, copy)
    if copy.purged_at is not None:  # its token hash is deleted: only a damaged store gets here
        raise AccessDenied(action, "purged", token, at, as_, copy)
    if copy.revoked_at is not None:
        # the recipient sees only that it was revoked (an administrator's act
        # on a copy they may have read: a bare refusal would look like a fault)
        when = _when(copy.revoked_at, store.account_tz())
        revoked = f"the secure message was revoked on {when}: it can no longer be viewed"
        raise AccessDenied(action, "revoked", token, at, as_, copy, message=revoked)
    if copy.recalled_at is not None:
        raise AccessDenied(action, "recalled", token, at, as_, copy)
    if at < copy.sent:
        raise InvalidInput(
            f"--at {at.isoformat()} is before the message was sent ({copy.sent.isoformat()})"
        )
    if copy.is_expired(at):
        if not store.account().expired_view:
            raise AccessDenied(action, "expired", token, at, as_, copy)
        if action not in ("open", "print", "download"):
            raise Refused(
                f"{action} refused: the secure message expired on {_when(copy.expires, store.account_tz())}; "
                "after expiry it can only be viewed and printed"
            )
    return copy


@_audits_denials
def check_access(store: Store, token: str, at: datetime, action: str = "open") -> PortalCopy:
    """The copy ``token`` gives access to for ``action`` at ``at``, checked
    as every recipient action checks it (a refusal is :class:`AccessDenied`,
    audited); nothing is recorded when access is granted. The web portal
    checks a token with it before it opens a session, and before it shows a
    form (the action itself is recorded when it is done)."""
    return _access(store, token, at, None, action)


def refuse_throttled(store: Store, client: str, at: datetime, failures: int) -> None:
    """Record that a client's token checks are suspended after ``failures``
    refused attempts (the web portal's throttle): one ``access-denied`` row
    per suspension, not one per request refused while it lasts."""
    with store.transaction():
        store.audit(
            "access-denied",
            "portal-token",
            None,
            None,
            {
                "action": "open",
                "reason": "throttled",
                "client": client,
                "failures": failures,
                "at": utc(at),
            },
        )


def _definition_says(copy: PortalCopy, what: str) -> str:
    return (
        f"{what} is not allowed: definition {copy.definition!r} (as at sending) does not allow "
        f"external recipients to {what}"
    )


def _view(
    store: Store, copy: PortalCopy, at: datetime, batch: Batch, tz: tzinfo
) -> OutboxFile | None:
    """Mark the copy read; on the first view of a read-receipt copy, stage
    the read receipt. Returns the receipt's outbox file, if any."""
    if copy.read_at is not None:
        return None
    store.portal_records.set_portal_read(copy.id, at)
    if not copy.read_receipt:
        return None
    host = compose.portal_host(store.account().portal_url)
    receipt = compose.read_receipt(copy=copy, at=at, tz=tz, host=host)
    return batch.add(
        compose.to_bytes(receipt), kind="read-receipt", to=[copy.reply_to], portal_id=copy.id
    )


def _retained(store: Store, copy: PortalCopy) -> bytes:
    raw = store.portal_records.portal_message_raw(copy.message_ref)
    if raw is None:  # purged: _access refuses first, so only a damaged store gets here
        raise Refused(ACCESS_REFUSED)
    return raw


@dataclass(frozen=True, slots=True)
class Opened:
    copy: PortalCopy
    view: compose.View
    first_view: bool
    files: tuple[OutboxFile, ...]
    actions: dict[str, bool]
    expired: bool
    saved: tuple[Path, ...] = ()


@_audits_denials
def open_copy(
    store: Store,
    token: str,
    at: datetime,
    outbox: Outbox,
    *,
    as_: str | None = None,
    save_to: str | Path | None = None,
) -> Opened:
    """``portal open``: the message, as the recipient sees it. With
    ``save_to``, its attachments are saved into that folder first, all or
    nothing (:mod:`secmsg_cli.delivery.attachments`): the files are placed
    before the store commits, and removed again if anything after them
    fails, so a failed save leaves no file and no trace of the open (still
    unread, no read receipt, no audit row)."""
    tz = store.account_tz()
    saved = None
    batch = None
    try:
        with _committed(store, outbox) as batch:
            copy = _access(store, token, at, as_, "open")
            view = compose.read_view(_retained(store, copy))
            if save_to is not None and view.attachments:
                saved = save_all([(a.filename, a.data) for a in view.attachments], save_to)
            receipt = _view(store, copy, at, batch, tz)
            store.audit(
                "open",
                "portal-copy",
                copy.id,
                None,
                {
                    "recipient": copy.recipient,
                    "at": utc(at),
                    "first_view": copy.read_at is None,
                    "read_receipt": receipt.name if receipt else None,
                    **({"saved": [p.name for p in saved.paths]} if saved is not None else {}),
                },
            )
    except BaseException:
        if saved is not None and not (batch is not None and batch.committed):
            saved.undo()  # the open did not happen: neither did the save
        raise
    return Opened(
        copy,
        view,
        copy.read_at is None,
        tuple(batch.files),
        actions(copy, at, store.account().expired_view),
        copy.is_expired(at),
        tuple(saved.paths) if saved is not None else (),
    )


@dataclass(frozen=True, slots=True)
class Downloaded:
    copy: PortalCopy
    attachment: compose.Attachment
    name: str  # the plain file name to offer it under (attachments.safe_name)
    files: tuple[OutboxFile, ...]


@_audits_denials
def download(store: Store, token: str, at: datetime, outbox: Outbox, number: int) -> Downloaded:
    """The web portal's download of attachment ``number`` (1 for the first,
    in the order the message page lists them): allowed wherever the message
    may be viewed, as ``portal open --save-attachments`` is. Taking the
    attachment is reading the message: an unread copy is marked read (and
    its read receipt staged); each download is audited with the file's name
    and size. A number the message has no attachment for is NotFound."""
    tz = store.account_tz()
    with _committed(store, outbox) as batch:
        copy = _access(store, token, at, None, "download")
        attachments = compose.read_view(_retained(store, copy)).attachments
        if not 1 <= number <= len(attachments):
            raise NotFound(f"the secure message has no attachment {number}")
        attachment = attachments[number - 1]
        name = safe_name(attachment.filename, number)
        receipt = _view(store, copy, at, batch, tz)
        store.audit(
            "download",
            "portal-copy",
            copy.id,
            None,
            {
                "recipient": copy.recipient,
                "at": utc(at),
                "attachment": number,
                "name": name,
                "bytes": len(attachment.data),
                "first_view": copy.read_at is None,
                "read_receipt": receipt.name if receipt else None,
            },
        )
    return Downloaded(copy, attachment, name, tuple(batch.files))


@dataclass(frozen=True, slots=True)
class Replied:
    copy: PortalCopy
    to: tuple[str, ...]
    cc: tuple[str, ...]
    undeliverable: tuple[str, ...]
    files: tuple[OutboxFile, ...]


@_audits_denials
def reply(
    store: Store,
    token: str,
    body: str,
    at: datetime,
    outbox: Outbox,
    *,
    all_: bool = False,
    attachments: Sequence[tuple[str, bytes]] = (),
    as_: str | None = None,
) -> Replied:
    """``portal reply``: a reply to the sender (with ``all_``, also to the
    original To and Cc recipients), written to the outbox; a non-delivery
    notice to the replier for each internal address the directory does not
    know (when it lists users)."""
    if not body.strip() and not attachments:
        raise InvalidInput("the reply is empty: give --body TEXT or --body-file FILE")
    tz = store.account_tz()
    with _committed(store, outbox) as batch:
        copy = _access(store, token, at, as_, "reply")
        if not copy.allow_reply:
            raise Refused(_definition_says(copy, "reply"))
        if all_ and not copy.allow_reply_all:
            raise Refused(_definition_says(copy, "reply all"))
        view = compose.read_view(_retained(store, copy))
        to = (copy.reply_to,)
        cc = _others(copy, view) if all_ else ()
        account = store.account()
        host = compose.portal_host(account.portal_url)
        msg = compose.reply(
            copy=copy,
            view=view,
            body=body,
            to=to,
            cc=cc,
            attachments=attachments,
            at=at,
            tz=tz,
            host=host,
        )
        sent = batch.add(compose.to_bytes(msg), kind="reply", to=(*to, *cc), portal_id=copy.id)
        unknown = _unknown_users(store, (*to, *cc))
        ndr = None
        if unknown:
            notice = compose.non_delivery(
                returned=msg,
                replier=copy.recipient,
                unknown=unknown,
                at=at,
                host=host,
                portal_id=copy.id,
            )
            ndr = batch.add(
                compose.to_bytes(notice), kind="ndr", to=[copy.recipient], portal_id=copy.id
            )
        receipt = _view(store, copy, at, batch, tz)
        store.audit(
            "reply-all" if all_ else "reply",
            "portal-copy",
            copy.id,
            None,
            {
                "recipient": copy.recipient,
                "at": utc(at),
                "to": list(to),
                "cc": list(cc),
                "attachments": [name for name, _ in attachments],
                "file": sent.name,
                "undeliverable": list(unknown),
                "ndr": ndr.name if ndr else None,
                "read_receipt": receipt.name if receipt else None,
            },
        )
    return Replied(copy, to, cc, unknown, tuple(batch.files))


def _others(copy: PortalCopy, view: compose.View) -> tuple[str, ...]:
    """Who else a reply-all goes to: the original To and Cc recipients, but
    the replier and the sender."""
    return tuple(
        a
        for a in dict.fromkeys((*view.to_addresses, *view.cc_addresses))
        if a not in (copy.recipient, copy.reply_to)
    )


def _unknown_users(store: Store, addresses: Sequence[str]) -> tuple[str, ...]:
    """Those of ``addresses`` in an internal domain that the directory does
    not know (none when it lists no users)."""
    records = store.portal_records
    if not records.has_users():
        return ()
    domains = {d.name for d in store.domains()}
    return tuple(a for a in addresses if is_internal(a, domains) and not records.is_user(a))


@dataclass(frozen=True, slots=True)
class Printed:
    copy: PortalCopy
    html: str
    files: tuple[OutboxFile, ...]


@_audits_denials
def print_copy(
    store: Store, token: str, at: datetime, outbox: Outbox, *, as_: str | None = None
) -> Printed:
    """``portal print``: a printable HTML rendering, when the definition allows it."""
    tz = store.account_tz()
    with _committed(store, outbox) as batch:
        copy = _access(store, token, at, as_, "print")
        if not copy.allow_print:
            raise Refused(_definition_says(copy, "print"))
        view = compose.read_view(_retained(store, copy))
        page = compose.printable_html(view=view, copy=copy, at=at, tz=tz)
        receipt = _view(store, copy, at, batch, tz)
        store.audit(
            "print",
            "portal-copy",
            copy.id,
            None,
            {
                "recipient": copy.recipient,
                "at": utc(at),
                "read_receipt": receipt.name if receipt else None,
            },
        )
    return Printed(copy, page, tuple(batch.files))


# --- sender and administrator side ----------------------------------------------------------


def _living(copy: PortalCopy, what: str, tz: tzinfo) -> None:
    reason = _ended(copy, tz)
    if reason is not None:
        raise Refused(f"cannot {what} portal copy {copy.id}: {reason}")


def _ended(copy: PortalCopy, tz: tzinfo) -> str | None:
    """Why nothing more can be done with the copy, or None."""
    if copy.purged_at is not None:
        return f"it was purged on {_when(copy.purged_at, tz)}"
    if copy.revoked_at is not None:
        return f"it was revoked on {_when(copy.revoked_at, tz)}"
    if copy.recalled_at is not None:
        return f"it was recalled on {_when(copy.recalled_at, tz)}"
    return None


class CannotChange(Refused):
    """Why a copy cannot be changed as asked: the message, and ``why`` in a
    word or two (for an extension: ``ended``, ``internal``, ``expired``,
    ``past retention``, ``max_extension``, ``already later``, ``not yet
    sent``) for counting the copies a filter left out."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


def _new_expiry(
    copy: PortalCopy,
    by: Duration | None,
    until: datetime | None,
    at: datetime,
    tz: tzinfo,
    *,
    admin: bool,
) -> tuple[datetime, str]:
    """The expiry ``copy`` would get from ``by`` (or ``until``) at ``at``, and
    the extension in words; :class:`CannotChange` when the copy cannot take
    it (the rules of :func:`extend`)."""
    from secmsg_cli.engine.durations import parse_duration

    def cannot(reason: str, why: str) -> CannotChange:
        return CannotChange(f"cannot extend portal copy {copy.id}{reason}", why)

    ended = _ended(copy, tz)
    if ended is not None:
        raise cannot(f": {ended}", "ended")
    if copy.expires is None:
        raise cannot(
            f": it is for the internal recipient {copy.recipient}, and internal copies never expire",
            "internal",
        )
    if at < copy.sent:
        raise cannot(
            f": --at {at.isoformat()} is before the message was sent ({copy.sent.isoformat()})",
            "not yet sent",
        )
    if copy.is_expired(at):
        raise cannot(
            f": it expired on {_when(copy.expires, tz)} "
            "(expiry can be extended only before it has passed)",
            "expired",
        )
    max_ext = parse_duration(copy.settings.get("max_extension", "0d"), allow_never=False)
    if max_ext.amount == 0 and not admin:
        raise cannot(
            f": definition {copy.definition!r} (as at sending) allows no extension (max_extension 0d)",
            "max_extension",
        )
    # past 9999: beyond retention, refused below
    new = by.add_capped(copy.expires) if by is not None else until
    assert new is not None
    if new <= copy.expires:
        raise cannot(
            f" to {_when(new, tz)}: it already expires {_when(copy.expires, tz)}", "already later"
        )
    assert copy.original_expires is not None  # set with expires, at sending
    limit = copy.retention_end if admin else max_ext.add_capped(copy.original_expires)
    latest = min(limit, copy.retention_end)
    by_text = str(by) if by is not None else f"until {_when(new, tz)}"
    if new > latest:
        left = latest - copy.expires
        room = (
            f"at most {_span(left)} more, until {_when(latest, tz)}"
            if left.total_seconds() > 0
            else "no extension is left"
        )
        if limit < copy.retention_end:
            why = f"the definition's max_extension of {max_ext} (as at sending) would be exceeded"
            raise cannot(f" by {by_text}: {why}; {room}", "max_extension")
        why = f"the account's retention period ends {_when(copy.retention_end, tz)}"
        raise cannot(f" by {by_text}: {why}; {room}", "past retention")
    return new, by_text


def can_extend(
    copy: PortalCopy,
    by: Duration | None,
    until: datetime | None,
    at: datetime,
    tz: tzinfo,
    *,
    admin: bool,
) -> CannotChange | None:
    """Why ``copy`` cannot be extended as asked (the refusal :func:`extend`
    would give, its ``why`` in a word or two), or None: for choosing copies."""
    try:
        _new_expiry(copy, by, until, at, tz, admin=admin)
    except CannotChange as exc:
        return exc
    return None


def extend(
    store: Store,
    ref: int | str,
    by: Duration | None,
    at: datetime,
    *,
    until: datetime | None = None,
    admin: bool = False,
) -> tuple[PortalCopy, PortalCopy]:
    """Move an external copy's expiry later, by ``by`` or to ``until``: only
    before it has passed and never past the retention period. The sender stays
    within what remains of the definition's ``max_extension`` (as at sending);
    an administrator (``admin``) is not held to it, and the extension is
    recorded as theirs. Returns (before, after)."""
    return extend_copies(store, [ref], by, at, until=until, admin=admin)[0]


def extend_copies(
    store: Store,
    refs: Sequence[int | str],
    by: Duration | None,
    at: datetime,
    *,
    until: datetime | None = None,
    admin: bool = False,
) -> list[tuple[PortalCopy, PortalCopy]]:
    """:func:`extend` for each of ``refs``, in one transaction: all or none
    (a copy that cannot be extended refuses the whole command), each audited
    (``admin-extend`` for an administrator). Returns (before, after) pairs."""
    if by is not None and (by.is_never or by.amount == 0):
        raise InvalidInput(f"invalid --by {str(by)!r}: expected a positive duration such as 7d")
    if (by is None) == (until is None):
        raise InvalidInput("give either --by or --until")
    tz = store.account_tz()
    done: list[tuple[PortalCopy, PortalCopy]] = []
    with store.transaction():
        for ref in refs:
            copy = store.portal_records.portal_copy(ref)
            try:
                new, by_text = _new_expiry(copy, by, until, at, tz, admin=admin)
            except CannotChange as exc:
                if exc.why in ("not yet sent", "already later"):
                    raise InvalidInput(str(exc)) from None
                raise
            assert copy.expires is not None and copy.original_expires is not None
            record: dict[str, Any] = {
                "at": utc(at),
                "by": by_text,
                "from": utc(copy.expires),
                "to": utc(new),
            }
            if admin:
                record["administrator"] = True
            total = int((new - copy.original_expires).total_seconds())
            raised = (
                new if admin and (copy.latest_expiry is None or new > copy.latest_expiry) else None
            )
            store.portal_records.set_portal_expiry(
                copy.id, new, total, [*copy.extensions, record], latest_expiry=raised
            )
            after = store.portal_records.portal_copy(copy.id)
            store.audit(
                "admin-extend" if admin else "extend",
                "portal-copy",
                copy.id,
                copy_summary(copy),
                copy_summary(after),
            )
            done.append((copy, after))
    return done


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or "0m"


def recall(store: Store, ref: int | str, at: datetime) -> PortalCopy:
    """Withdraw a copy nobody has opened; its token stops working."""
    tz = store.account_tz()
    with store.transaction():
        copy = store.portal_records.portal_copy(ref)
        _living(copy, "recall", tz)
        if copy.read_at is not None:
            raise Refused(
                f"cannot recall portal copy {copy.id}: {copy.recipient} opened it on "
                f"{_when(copy.read_at, tz)}; only unopened copies can be recalled"
            )
        if at < copy.sent:
            raise InvalidInput(
                f"--at {at.isoformat()} is before the message was sent ({copy.sent.isoformat()})"
            )
        store.portal_records.set_portal_recalled(copy.id, at)
        after = store.portal_records.portal_copy(copy.id)
        store.audit("recall", "portal-copy", copy.id, copy_summary(copy), copy_summary(after))
    return after


def end_copies(store: Store, ids: Sequence[int], at: datetime, *, expire: bool) -> list[PortalCopy]:
    """An administrator ends copies, opened or not, in one transaction, each
    audited (before and after); returns them after. Revoked (``expire`` false),
    their tokens stop working and each recipient is told only that the message
    was revoked; expired, they end at ``at`` as if their expiry had come (the
    account's ``expired_view`` decides what the recipient may still do)."""
    what = "expire" if expire else "revoke"
    tz = store.account_tz()
    done: list[PortalCopy] = []
    with store.transaction():
        for ref in ids:
            copy = store.portal_records.portal_copy(ref)
            if at < copy.sent:
                raise InvalidInput(
                    f"--at {at.isoformat()} is before the message was sent ({copy.sent.isoformat()})"
                )
            reason = can_end(copy, at, tz, expire=expire)
            if reason is not None:
                raise Refused(f"cannot {what} portal copy {copy.id}: {reason}")
            if expire:
                store.portal_records.set_portal_expired_now(copy.id, at)
            else:
                store.portal_records.set_portal_revoked(copy.id, at)
            after = store.portal_records.portal_copy(copy.id)
            action = "expire-now" if expire else "revoke"
            store.audit(action, "portal-copy", copy.id, copy_summary(copy), copy_summary(after))
            done.append(after)
    return done


def can_end(copy: PortalCopy, at: datetime, tz: tzinfo, *, expire: bool) -> str | None:
    """Why an administrator's revoke (or, with ``expire``, expire) cannot
    change the copy, or None: for choosing copies by filter."""
    reason = _ended(copy, tz)
    if reason is None and expire and copy.expires is None:
        reason = "internal copies never expire"
    if reason is None and expire and copy.is_expired(at):
        reason = f"it expired on {_when(copy.expires, tz)}"
    return reason


@dataclass(frozen=True, slots=True)
class Swept:
    """What a sweep did (or, as a dry run, would do): the copies it marked
    expired and those it purged (as they were before), and the retained
    messages it deleted (every copy of them purged) with their size in bytes."""

    expired: tuple[PortalCopy, ...]
    purged: tuple[PortalCopy, ...]
    messages_deleted: int
    bytes_deleted: int


class _DryRun(Exception):
    """Rolls a dry run's transaction back (carrying what it found)."""

    def __init__(self, swept: Swept) -> None:
        self.swept = swept


def sweep(store: Store, at: datetime, *, dry_run: bool = False) -> Swept:
    """Mark the copies whose expiry has passed as expired, and purge those
    past the retention period (internal copies too: they never expire, but
    nothing is kept beyond retention). A copy already recalled or revoked is
    not marked expired: it ended then. With ``dry_run`` the very same sweep
    runs and its transaction is rolled back: what it reports is exactly what
    a sweep at ``at`` would do, and nothing is written."""
    # rolled back inside a caller's transaction, a dry run would undo nothing
    assert not (dry_run and store.conn.in_transaction), "a dry run needs its own transaction"
    try:
        with store.transaction():
            records = store.portal_records
            expired = records.portal_copies_to_expire(at)
            for c in expired:
                records.set_portal_expired(c.id, at)
                store.audit(
                    "expire", "portal-copy", c.id, copy_summary(c),
                    copy_summary(records.portal_copy(c.id)),
                )  # fmt: skip
            purged = records.portal_copies_to_purge(at)
            messages = size = 0
            for c in purged:
                freed = records.purge_portal_copy(c.id, c.message_ref, at)
                if freed is not None:
                    messages, size = messages + 1, size + freed
                store.audit(
                    "purge", "portal-copy", c.id, copy_summary(c),
                    copy_summary(records.portal_copy(c.id)),
                )  # fmt: skip
            swept = Swept(tuple(expired), tuple(purged), messages, size)
            if dry_run:
                raise _DryRun(swept)
    except _DryRun as rolled_back:
        return rolled_back.swept
    return swept
