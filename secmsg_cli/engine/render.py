"""From a decision to what the recipient gets (docs/decisions.md): routing, the banner of
internal inbox copies, the portal record; and the JSON of docs/output.md. Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from urllib.parse import quote

from secmsg_cli.engine.decision import (
    Banner,
    ContentOutcome,
    MessageDecision,
    PolicyRef,
    PortalRecord,
    RecipientDecision,
)
from secmsg_cli.engine.snapshot import Snapshot
from secmsg_cli.model import Definition
from secmsg_cli.vocab import Route

__all__ = [
    "NOTIFICATION_SUBJECT",
    "NOTIFICATION_TAGS",
    "SCHEMA_VERSION",
    "STANDARD_BANNER",
    "Banner",
    "OutOfRange",
    "PortalRecord",
    "banner",
    "decision_to_json",
    "expiry",
    "fill_tags",
    "finish",
    "fmt_time",
    "line_of",
    "notification_subject",
    "notification_values",
    "portal_record",
    "retention_end",
    "route",
]

SCHEMA_VERSION = 1
NOTIFICATION_SUBJECT = "You've been sent a secure message"
STANDARD_BANNER = (
    '<div class="secmsg-banner">This message was sent securely by [sender] using Secure Messaging. '
    "To reply securely, use the Secure Messaging Portal or a Secure Messaging application.</div>"
)
TAGS = ("sender", "sender_name", "subject", "sent", "expires", "definition", "portal_url")
#: The tags of a notification template (docs/configuration.md): the banner's, but the
#: recipient's own link (with its token) instead of the portal's address.
NOTIFICATION_TAGS = (
    "sender",
    "sender_name",
    "recipient",
    "subject",
    "sent",
    "expires",
    "definition",
    "portal_link",
)
_TAG_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}
# An element whose class includes mc-sm-hide, also in the quoted/backslashed
# form printed in the reference: <div class="\"mc-sm-hide\"">. The class value
# is split into names: "mc-sm-hider" or title="mc-sm-hide" does not hide.
_CLASS = re.compile(
    r"""<[a-z][^>]*?\sclass\s*=\s*("(?:\\"|[^"])*"|'[^']*'|[^\s>]+)""", re.IGNORECASE
)
_CLASS_SPLIT = re.compile(r"""[\s"'\\]+""")


def _hides(template: str) -> bool:
    return any(
        "mc-sm-hide" in _CLASS_SPLIT.split(m.group(1).lower()) for m in _CLASS.finditer(template)
    )


def route(definition: Definition, internal: bool, via: str) -> Route:
    """docs/decisions.md."""
    if not internal:
        return Route.PORTAL
    if definition.routing == "all" and via != "outlook":
        return Route.PORTAL
    return Route.INBOX


class OutOfRange(ValueError):
    """A copy's end of retention falls past what a datetime can hold (the
    year 9999, in UTC or the account zone). Not clamped: the copy would carry
    a retention and an expiry its account and definition do not give; the
    message cannot be decided at that time. (Expiry and extensions past 9999
    are capped by the end of retention, exactly as min() would.)"""


def _beyond(definition: Definition, sent: datetime, retention_days: int) -> OutOfRange:
    return OutOfRange(
        f"sent at {sent.isoformat()}, a copy under definition '{definition.path}' would be kept "
        f"{retention_days} days (the account's retention), until after the year 9999: no later time can be held"
    )


def retention_end(
    definition: Definition, sent: datetime, retention_days: int, tz: tzinfo = UTC
) -> datetime:
    """When a portal copy sent at ``sent`` is purged; it must be a time that
    can be shown in the account zone ``tz`` too (:class:`OutOfRange` if not)."""
    try:
        end = sent + timedelta(days=retention_days)
        end.astimezone(tz)
    except OverflowError:
        raise _beyond(definition, sent, retention_days) from None
    return end


def expiry(
    definition: Definition, sent: datetime, retention_days: int, tz: tzinfo = UTC
) -> tuple[datetime, datetime]:
    """(expires, latest_expiry) of an external copy (docs/decisions.md); :class:`OutOfRange`
    when its end of retention falls past the year 9999 (in UTC or in the zone ``tz``)."""
    end = retention_end(definition, sent, retention_days, tz)
    expires = (
        end
        if definition.expire_after.is_never
        else min(definition.expire_after.add_capped(sent), end)
    )
    latest = (
        min(definition.max_extension.add_capped(expires), end)
        if definition.max_extension.amount
        else expires
    )
    return expires, latest


def unknown_tags(text: str, tags: tuple[str, ...] = TAGS) -> list[str]:
    """Bracketed words of a banner (or of a notification template, with its
    ``tags``) that are not tags (lint reports them)."""
    return [t for t in re.findall(r"\[([A-Za-z_]+)\]", text) if t not in tags]


# html.escape, without importing the html package (its entity table costs ~1 ms
# of a one-message run, and escaping needs none of it); a test checks they agree.
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ESCAPE_QUOTED = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}
)


# Attributes whose value a browser or mail client follows as a URL.
_URL_ATTRIBUTES = frozenset(
    ("href", "src", "action", "formaction", "background", "cite", "poster", "srcset", "xlink:href")
)
# The attribute a position in a tag's markup belongs to: its name, "=", and
# the value so far (quoted or not).
_ATTRIBUTE_BEFORE = re.compile(
    r"([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:\"[^\"]*|'[^']*|[^\s\"'=<>`]*)\Z"
)


def _in_markup(template: str, positions: list[int]) -> tuple[set[int], set[int]]:
    """Which of ``positions`` (ascending) of an HTML ``template`` are inside
    a start or end tag but outside a quoted attribute value (where a value
    with a space, ``=`` or a quote would end an unquoted value and start
    attributes of its own: ``<a title=[subject]>``), and which are inside the
    value of an attribute that is a URL (``href="[subject]"``). One linear
    pass, as an HTML tokenizer reads tags (``<`` and a letter or ``/`` opens
    one, a quote after ``=`` quotes a value, ``>`` outside quotes closes it);
    comments count as text."""
    bare: set[int] = set()
    url: set[int] = set()
    want = iter(positions)
    nxt = next(want, -1)
    state, quote, prev, i, n, opened = "text", "", "", 0, len(template), 0
    while nxt >= 0 and i < n:
        if i == nxt:
            if state != "text":
                if state == "tag":
                    bare.add(i)
                m = _ATTRIBUTE_BEFORE.search(template, opened, i)
                if m and m.group(1).lower() in _URL_ATTRIBUTES:
                    url.add(i)
            nxt = next(want, -1)
            continue
        ch = template[i]
        if state == "text":
            if template.startswith("<!--", i):
                end = template.find("-->", i + 4)
                stop = n if end < 0 else end + 3
                while 0 <= nxt < stop:  # a tag in a comment is text
                    nxt = next(want, -1)
                i = stop
                continue
            if ch == "<" and i + 1 < n and (template[i + 1].isalpha() or template[i + 1] == "/"):
                state, opened = "tag", i
        elif state == "tag":
            if ch == ">":
                state = "text"
            elif ch in "\"'" and prev == "=":
                state, quote = "quoted", ch
        elif ch == quote:  # quoted
            state = "tag"
        if ch not in " \t\n\r\f":
            prev = ch
        i += 1
    return bare, url


@functools.lru_cache(maxsize=256)
def _tag_contexts(template: str, pattern: re.Pattern[str]) -> tuple[frozenset[int], frozenset[int]]:
    """Where ``pattern``'s tags of ``template`` sit in markup outside quotes,
    and where in a URL attribute's value; remembered, as one banner or
    template is filled for every recipient."""
    bare, url = _in_markup(template, [m.start() for m in pattern.finditer(template)])
    return frozenset(bare), frozenset(url)


# Tags whose values are the portal's own URLs: written into a link as they are.
_OUR_URLS = frozenset(("portal_link", "portal_url"))


def _escape_all(value: str) -> str:
    """Every character but letters and digits as a character reference: a
    value that cannot end an unquoted attribute value (nor a tag)."""
    return "".join(c if c.isalnum() else f"&#x{ord(c):x};" for c in value)


def fill_tags(
    template: str, values: Mapping[str, str], *, tags: tuple[str, ...] = TAGS, html: bool
) -> str:
    """``template`` with each of its ``tags`` (``[sender]``) replaced by its
    value (empty when not given), in one pass: a value is never read for tags
    itself (a subject of ``[portal_link]`` stays that text). With ``html`` the
    values are HTML-escaped, quotes too (a tag may sit in a quoted attribute);
    a tag inside a tag's markup but not in quotes (``<a title=[subject]>``)
    gets every character but letters and digits as a character reference,
    so that no value can end the attribute and add one of its own (an event
    handler). In a link target (``href``, ``src``, ``action``...) a value
    but the portal's own URLs is URL-encoded first, so that a subject cannot
    be a ``javascript:`` link. A bracketed word that is not one of ``tags``
    is left as written. The one tag filler of banners and notification
    templates."""
    pattern = _TAG_PATTERNS.get(tags)
    if pattern is None:
        pattern = _TAG_PATTERNS[tags] = re.compile(r"\[(" + "|".join(tags) + r")\]")
    if not html:
        return pattern.sub(lambda m: values.get(m.group(1), ""), template)
    matches = list(pattern.finditer(template))
    bare, url = _tag_contexts(template, pattern) if "<" in template else (frozenset(), frozenset())
    out, pos = [], 0
    for m in matches:
        value = values.get(m.group(1), "")
        if m.start() in url and m.group(1) not in _OUR_URLS:
            value = quote(value, safe="")  # data in a URL: never a scheme or a part of its own
        out.append(template[pos : m.start()])
        out.append(_escape_all(value) if m.start() in bare else value.translate(_ESCAPE_QUOTED))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


def banner(definition: Definition, via: str, values: dict[str, str]) -> Banner | None:
    """docs/decisions.md: the custom banner (unless sent via Outlook or mobile) or the
    standard one, tags filled (HTML-escaped); None when it hides itself."""
    from secmsg_cli.engine.message import html_to_text

    template = (
        definition.banner
        if definition.banner and via not in ("outlook", "mobile")
        else STANDARD_BANNER
    )
    if _hides(template):
        return None
    filled_html = fill_tags(template, values, html=True)
    # the text is the HTML reduced to text: values escaped (but quotes) so that
    # a value's own "<b>" survives the reduction as text
    escaped = {k: v.translate(_ESCAPE) for k, v in values.items()}
    filled_text = html_to_text(fill_tags(template, escaped, html=False))
    return Banner(filled_html, filled_text)


def fmt_time(moment: datetime | None, tz: tzinfo, never: str = "never") -> str:
    """A time as every text of the product shows it: ``2026-11-27 10:00 GMT``."""
    if moment is None:
        return never
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


# C0 and C1 control characters and DEL: a sender gets them into a decoded
# subject or name with an encoded word; mail may carry none of them (NUL in
# an 8bit body, ESC that a terminal showing the .eml would obey)
_CONTROLS = dict.fromkeys((*range(0x20), *range(0x7F, 0xA0)), " ")


def line_of(text: str) -> str:
    """``text`` from a message as one line of plain text: control characters
    and line breaks as spaces, runs of white space as one."""
    return " ".join(text.translate(_CONTROLS).split())


def shorter(text: str, limit: int = 400) -> str:
    """At most ``limit`` characters of a name or subject shown in a
    notification's text (its lines stay under RFC 5322's 998 octets)."""
    return text if len(text) <= limit else text[:limit] + "…"


def notification_values(
    *,
    recipient: str,
    sender: str,
    sender_name: str | None,
    subject: str,
    sent: datetime,
    expires: datetime | None,
    link: str,
    tz: tzinfo,
    definition: str,
) -> dict[str, str]:
    """The tag values of one recipient's notification. Each is one line
    (control characters and line breaks become spaces) and, but the link, at
    most 400 characters, as the built-in notification shows them."""

    def one_line(text: str) -> str:
        return shorter(line_of(text))

    return {
        "sender": one_line(sender),
        "sender_name": one_line(sender_name or sender),
        "recipient": one_line(recipient),
        "subject": one_line(subject),
        "sent": fmt_time(sent, tz),
        "expires": fmt_time(expires, tz, never="no expiry"),
        "definition": one_line(definition.rpartition("/")[2]),
        "portal_link": " ".join(link.split()),
    }


def notification_subject(template: str | None, values: Mapping[str, str]) -> str:
    """The Subject of a notification: a template's subject with its tags
    filled, on one line; the built-in one without a template (or when the
    template's comes out empty)."""
    if not template:
        return NOTIFICATION_SUBJECT
    filled = " ".join(fill_tags(template, values, tags=NOTIFICATION_TAGS, html=False).split())
    return filled or NOTIFICATION_SUBJECT


def portal_record(
    definition: Definition,
    recipient: str,
    internal: bool,
    sender: str,
    subject: str,
    sent: datetime,
    retention_days: int,
    portal_url: str,
    tz: tzinfo = UTC,
    notification: str = NOTIFICATION_SUBJECT,
) -> PortalRecord:
    """docs/decisions.md: permissions restrict external recipients only; internal
    copies never expire (but are purged at the end of retention)."""
    if internal:
        retention_end(definition, sent, retention_days, tz)
        expires = latest = None
        allow = (True, True, True)
    else:
        expires, latest = expiry(definition, sent, retention_days, tz)
        allow = (
            definition.allow_print,
            definition.allow_reply,
            definition.effective_allow_reply_all,
        )
    return PortalRecord(
        recipient,
        sender,
        subject,
        definition.path,
        sent,
        expires,
        latest,
        *allow,
        definition.read_receipt,
        recipient,
        notification,
        portal_url,
    )


class _Sent(Protocol):
    """What :func:`finish` reads of the message (an engine Message, or a stand-in)."""

    @property
    def subject(self) -> str | None: ...

    @property
    def header_from(self) -> str | None: ...


def finish(
    snapshot: Snapshot,
    decision: RecipientDecision,
    sender: str,
    message: _Sent,
    at: datetime,
    via: str,
) -> RecipientDecision:
    """Fill in route, banner and portal record of a recipient's decision."""
    d = decision.definition
    if d is None:
        return decision
    account = snapshot.account
    where = route(d, decision.internal, via)
    if where == Route.PORTAL:
        record = portal_record(
            d,
            decision.address,
            decision.internal,
            sender,
            message.subject or "",
            at,
            account.max_retention_days,
            account.portal_url,
            snapshot.tz,
        )
        subject = snapshot.notification_subjects.get((d.notification_template or "").lower())
        if subject:  # the definition's template: its subject, as deliver fills it
            values = notification_values(
                recipient=decision.address,
                sender=message.header_from or sender,
                sender_name=getattr(message, "header_from_name", None),
                subject=message.subject or "",
                sent=at,
                expires=record.expires,
                link=account.portal_url,  # (the token is made by deliver)
                tz=snapshot.tz,
                definition=d.path,
            )
            record = replace(record, notification_subject=notification_subject(subject, values))
        return replace(decision, route=Route.PORTAL, portal=record)
    expires, _ = expiry(d, at, account.max_retention_days, snapshot.tz)
    shown_sender = message.header_from or sender
    values = {
        "sender": shown_sender,
        "sender_name": getattr(message, "header_from_name", None) or shown_sender,
        "subject": message.subject or "",
        "sent": fmt_time(at, snapshot.tz),
        "expires": fmt_time(expires, snapshot.tz),
        "definition": d.description,
        "portal_url": account.portal_url,
    }
    return replace(decision, route=Route.INBOX, banner=banner(d, via, values))


# --- JSON (docs/output.md) ---------------------------------------------------------


def iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def ref_json(ref: PolicyRef | None) -> dict[str, Any] | None:
    # Exactly the keys of docs/output.md, whatever the kind (a key that comes and
    # goes with the kind is not a stable schema).
    if ref is None:
        return None
    return {"kind": ref.kind, "id": ref.id, "narrative": ref.narrative}


def _content(c: ContentOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "policy_id": c.policy_id,
        "content_definition": c.content_definition,
        "score": c.score,
        "fired": c.fired,
    }
    if (
        c.unscannable is not None
    ):  # fired because part of the message could not be examined (docs/limits-and-security.md)
        out["unscannable"] = c.unscannable
    return out


def decision_to_json(
    decision: MessageDecision, source: str, tz: tzinfo, *, explain: bool = False
) -> dict[str, Any]:
    """One message's decision in the stable, versioned schema of docs/output.md."""
    recipients = []
    for r in decision.recipients:
        portal = None
        if r.portal is not None:
            p = r.portal
            portal = {
                "expires": iso(p.expires, tz),
                "latest_expiry": iso(p.latest_expiry, tz),
                "allow_print": p.allow_print,
                "allow_reply": p.allow_reply,
                "allow_reply_all": p.allow_reply_all,
                "read_receipt": p.read_receipt,
                "notification": {
                    "to": p.notification_to,
                    "subject": p.notification_subject,
                    "portal_url": p.portal_url,
                },
            }
        recipients.append(
            {
                "address": r.address,
                "internal": r.internal,
                "route": r.route,
                "secure": r.secure,
                "trigger": r.trigger,
                "definition": r.definition.path if r.definition else None,
                "policy": ref_json(r.policy),
                "bypass": ref_json(r.bypass),
                "content": [_content(c) for c in r.content],
                "banner": None
                if r.banner is None
                else {"html": r.banner.html, "text": r.banner.text},
                "portal": portal,
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "message": {
            "message_id": decision.message_id,
            "subject": decision.subject,
            "header_from": decision.header_from,
            "envelope_from": decision.envelope_from,
            "source_ip": decision.source_ip,
            "at": iso(decision.at, tz),
            "via": decision.via,
            "notes": list(decision.notes),
        },
        "recipients": recipients,
        "explain": [
            {
                "kind": v.kind,
                "id": v.id,
                "name": v.name,
                "recipient": v.recipient,
                "verdict": v.verdict,
                "reason": v.reason,
            }
            for v in decision.explain
        ]
        if explain
        else [],
    }


def error_to_json(source: str, error: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "source": source, "error": error}
