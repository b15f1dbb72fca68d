"""The messages the system sends (docs/portal.md), built as real RFC 5322 / MIME
messages with the standard library, and the views of a retained message.

- :func:`stamp_banner`: the internal inbox copy of a secure message, with the
  banner inserted at the top of every text/html body part (after ``<body>``
  when there is one) and every text/plain body part. Only those parts are
  re-encoded (UTF-8, base64 if they were base64, else quoted-printable);
  every other part, attachments included, is written back as it came, so the
  MIME structure and the attachments' bytes do not change. Bcc is removed.
- :func:`notification`: "You've been sent a secure message", with the portal
  link carrying the access token; or, under a definition that chooses one,
  the notification template's (:func:`render_notification`, a pure
  function of the template and the tag values).
- :func:`read_receipt`: an RFC 8098 message disposition notification.
- :func:`reply`: a portal reply, threaded (In-Reply-To, References), quoting
  the original.
- :func:`non_delivery`: an RFC 3464 delivery status notification that returns
  the reply, warning that it may contain a copy of the secure message.
- :func:`read_view` and :func:`printable_html`: what the portal shows and prints.

New messages are built with ``email.policy.SMTP`` and written to the Maildir
with LF line ends (:data:`OUTBOX_POLICY`), as Maildir readers expect.
No file or store access here: bytes in, messages out.
"""

from __future__ import annotations

import base64
import binascii
import email.generator
import email.message
import email.parser
import email.policy
import email.utils
import html
import io
import mimetypes
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from secmsg_cli.delivery import mime
from secmsg_cli.engine.message import (
    DEFAULT_LIMITS,
    MAX_NESTING,
    Limits,
    html_to_text,
    parse_message,
    transfer_encoding,
)
from secmsg_cli.engine.render import (
    NOTIFICATION_SUBJECT,
    NOTIFICATION_TAGS,
    fill_tags,
    fmt_time,
    line_of,
    notification_subject,
    notification_values,
)
from secmsg_cli.engine.render import shorter as _shorter

if TYPE_CHECKING:
    from secmsg_cli.engine.message import Address
    from secmsg_cli.engine.render import Banner
    from secmsg_cli.model import NotificationTemplate
    from secmsg_cli.store.portal import PortalCopy

__all__ = [
    "OUTBOX_POLICY",
    "Attachment",
    "InboxCopies",
    "Rendered",
    "View",
    "fmt_time",
    "non_delivery",
    "notification",
    "notification_values",
    "portal_host",
    "printable_html",
    "read_receipt",
    "read_view",
    "render_notification",
    "reply",
    "stamp_banner",
    "to_bytes",
    "token_link",
]

OUTBOX_POLICY = email.policy.SMTP.clone(linesep="\n")
_OUTBOX_POLICY_UTF8 = email.policy.SMTPUTF8.clone(linesep="\n")
_LEGACY = email.policy.compat32.clone(linesep="\n")
SYSTEM_NAME = "Secure Messaging"
NDR_WARNING = (
    "Warning: the returned message below may include a copy of the secure message you replied to. "
    "Do not forward it outside the Secure Messaging Portal."
)


# --- small helpers -------------------------------------------------------------


def portal_host(portal_url: str) -> str:
    """The host of the portal URL: the domain of system addresses and Message-IDs."""
    try:
        host = urlsplit(portal_url).hostname
    except ValueError:
        host = None
    return host or "localhost"


def token_link(portal_url: str, token: str) -> str:
    """``{portal_url}?token=...`` (``&token=`` when the URL has a query already)."""
    sep = "&" if "?" in portal_url else "?"
    return f"{portal_url}{sep}token={quote(token, safe='')}"


Who = tuple[str | None, str]  # (display name, address)


def _addr(address: str, name: str | None = None) -> Who:
    return (name or None, address)


def _new(
    kind: str,
    *,
    from_: Who,
    to: Sequence[Who],
    subject: str,
    at: datetime,
    host: str,
    cc: Sequence[Who] = (),
    portal_id: int | None = None,
) -> email.message.EmailMessage:
    """A new message. The fields that carry text from a message (names,
    subject) are folded by :mod:`.mime` in linear time, not by the standard
    library's folder (whose time grows faster than the text)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = mime.addresses("From", [from_])
    msg["To"] = mime.addresses("To", list(to))
    if cc:
        msg["Cc"] = mime.addresses("Cc", list(cc))
    msg["Subject"] = mime.unstructured("Subject", subject)
    msg["Date"] = email.utils.format_datetime(at)
    msg["Message-ID"] = email.utils.make_msgid(idstring="secmsg", domain=host)
    msg["X-Secmsg-Kind"] = kind
    if portal_id is not None:
        msg["X-Secmsg-Portal-Id"] = str(portal_id)
    return msg


def _tidy(msg: email.message.Message) -> None:
    """No MIME-Version on subparts (``add_alternative``/``add_attachment`` add
    one); an attached message keeps its own."""
    stack = [(msg, True)]
    while stack:
        part, is_root = stack.pop()
        if not is_root and "MIME-Version" in part:
            del part["MIME-Version"]
        if part.is_multipart():
            inner_root = part.get_content_maintype() == "message"
            stack.extend(
                (p, inner_root) for p in part.get_payload() if isinstance(p, email.message.Message)
            )


def to_bytes(msg: email.message.Message) -> bytes:
    """The message as written to the outbox (LF line ends)."""
    if isinstance(msg, email.message.EmailMessage):
        _tidy(msg)
        try:
            return msg.as_bytes(policy=OUTBOX_POLICY)
        except (UnicodeError, ValueError):  # a non-ASCII local part needs SMTPUTF8
            return msg.as_bytes(policy=_OUTBOX_POLICY_UTF8)
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, mangle_from_=False, maxheaderlen=0, policy=_LEGACY).flatten(
        msg
    )
    return buf.getvalue()


# --- the banner-stamped inbox copy ----------------------------------------------------

_BODY_OPEN = re.compile(r"<body\b", re.IGNORECASE)
_META_OPEN = re.compile(r"<meta\b", re.IGNORECASE)
# a charset declared inside the HTML must agree with the part's new charset
_META_CHARSET = re.compile(r"(\bcharset\s*=\s*[\"']?)([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def _insert_html(text: str, banner_html: str) -> str:
    """The banner after the ``<body ...>`` tag (or at the top), and every
    ``<meta ... charset=...>`` saying UTF-8. Linear: each tag is scanned
    once, whatever the markup (an unclosed tag ends the scan)."""
    out, pos = [], 0
    for m in _META_OPEN.finditer(text):
        if m.start() < pos:
            continue  # inside the previous tag
        close = text.find(">", m.end())
        if close < 0:
            break
        out.append(text[pos : m.end()])
        out.append(_META_CHARSET.sub(lambda c: c.group(1) + "utf-8", text[m.end() : close]))
        pos = close
    text = "".join(out) + text[pos:]
    body = _BODY_OPEN.search(text)
    close = text.find(">", body.end()) if body else -1
    if close >= 0:
        return text[: close + 1] + banner_html + text[close + 1 :]
    return banner_html + text


def _insert_text(text: str, banner_text: str) -> str:
    return banner_text.strip() + "\n\n" + text


_OBSOLETE_NAME = re.compile(rb"\A([!-9;-~]+)[ \t]+:")


def _raw_fields(
    data: bytes, spans: Iterable[tuple[str, int, int]], drop: frozenset[str] = frozenset()
) -> list[bytes]:
    """Header fields as they came, but those named in ``drop``."""
    out = []
    for span in spans:
        if span[0] in drop:
            continue
        raw = data[span[1] : span[2]]
        raw = _OBSOLETE_NAME.sub(
            rb"\1:", raw, count=1
        )  # "Subject  : x" (RFC 5322 §4.5) -> "Subject: x"
        out.append(raw if raw.endswith(b"\n") else raw + b"\n")
    return out


def _encode_body(text: str, was: str) -> tuple[str, bytes]:
    """UTF-8 text in base64 if it was base64, else quoted-printable."""
    data = text.replace("\r\n", "\n").encode("utf-8", "replace")
    if was == "base64":
        return "base64", base64.encodebytes(data)
    return "quoted-printable", binascii.b2a_qp(data, istext=True)


def _new_content_type(data: bytes, part: mime.Part) -> bytes:
    """The part's Content-Type with ``charset="utf-8"`` (its other
    parameters as written), one parameter a line."""
    value = mime.header(data, part, "content-type")
    segments = mime.split_params(value) if value else [part.ctype]
    kept = [part.ctype] + [
        s
        for s in segments[1:]
        if s and s.partition("=")[0].strip().lower().split("*", 1)[0] != "charset"
    ]
    kept.append('charset="utf-8"')
    return ("Content-Type: " + ";\n\t".join(kept) + "\n").encode("latin-1")


_REPLACED = frozenset({"content-type", "content-transfer-encoding"})
_TOP_DROPPED = frozenset({"bcc"})


def _stamped(data: bytes, part: mime.Part, banner: Banner) -> tuple[list[bytes], bytes]:
    """New header fields (Content-Type, Content-Transfer-Encoding) and body
    of a body part with the banner inserted."""
    text = mime.decode_text(mime.decoded_body(data, part), mime.charset(data, part))
    if part.ctype == "text/html":
        text = _insert_html(text, banner.html)
    else:
        text = _insert_text(text, banner.text)
    cte, body = _encode_body(
        text, transfer_encoding(mime.header(data, part, "content-transfer-encoding"))
    )
    return [
        _new_content_type(data, part),
        f"Content-Transfer-Encoding: {cte}\n".encode("ascii"),
    ], body


def _banner_parts(banner: Banner, boundary: str) -> bytes:
    """A multipart/alternative part holding only the banner (text and HTML)."""
    inner = f"{boundary}.alt"
    out = [f'Content-Type: multipart/alternative; boundary="{inner}"\n\n'.encode("ascii")]
    for subtype, text in (("plain", banner.text.strip() + "\n"), ("html", banner.html + "\n")):
        cte, body = _encode_body(text, "")
        out.append(
            f'--{inner}\nContent-Type: text/{subtype}; charset="utf-8"\n'
            f"Content-Transfer-Encoding: {cte}\n\n".encode("ascii")
        )
        out.append(body if body.endswith(b"\n") else body + b"\n")
    out.append(f"--{inner}--\n".encode("ascii"))
    return b"".join(out)


def _free_boundary(data: bytes) -> str:
    while True:
        boundary = f"=_secmsg_banner_{secrets.token_hex(12)}"
        if b"--" + boundary.encode("ascii") not in data:
            return boundary


class InboxCopies:
    """The banner-stamped inbox copies of one message, one per internal
    recipient: the banner (``render.Banner``, or None when it hides itself)
    at the top of every body part; Bcc removed; ``X-Secmsg-Kind`` and
    ``X-Secmsg-Envelope-To`` added (any the sender wrote are removed).

    A copy is the original bytes (LF line ends) with only the stamped body
    parts and the top-level header block replaced: attachments, attached
    messages and every other header come through byte for byte, whatever they
    hold. Body parts are those the engine reads (nested at most
    ``limits.depth`` containers deep, among the first ``limits.parts``). A message with no such body part (only attachments, or
    its text too deeply nested) is wrapped: a multipart/mixed whose first part
    is the banner and whose second is the original content, so the recipient
    always sees the banner.

    The message's structure is read once, the copy for each distinct banner
    is built once, and the copies of recipients with the same banner differ
    only in their ``X-Secmsg-Envelope-To`` field."""

    def __init__(self, raw: bytes, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.data = mime.normalise(raw)
        self.root = mime.walk(self.data, limits.depth, limits.parts)
        # fields the system writes are never taken from the message (a sender could forge them)
        self.root.fields = [f for f in self.root.fields if not f[0].startswith("x-secmsg-")]
        self._built: dict[tuple[str, str] | None, tuple[bytes, bytes]] = {}

    def copy(self, banner: Banner | None, recipient: str) -> bytes:
        key = None if banner is None else (banner.html, banner.text)
        if key not in self._built:
            self._built[key] = self._build(banner)
        head, rest = self._built[key]
        return (
            head
            + b"X-Secmsg-Envelope-To: "
            + " ".join(recipient.split()).encode("utf-8", "replace")
            + b"\n"
            + rest
        )

    def _build(self, banner: Banner | None) -> tuple[bytes, bytes]:
        """The copy, split where the recipient's field goes (the end of the header block)."""
        data, root = self.data, self.root
        ours = [b"X-Secmsg-Kind: inbox-copy\n"]
        if banner is None:  # it hides itself: the message as it came, but for the top fields
            head = _raw_fields(data, root.fields, _TOP_DROPPED) + ours
            return b"".join(head), b"\n" + data[root.body_start :]
        if not any(s[0] == "mime-version" for s in root.fields):
            ours.insert(0, b"MIME-Version: 1.0\n")
        bodies = [p for p in mime.leaves(root) if p.kind == mime.BODY]
        if not bodies:  # no body part: the banner goes in a part of its own
            return self._wrapped(banner, ours)
        if bodies[0] is root:  # a single-part message
            fields, body = _stamped(data, root, banner)
            head = _raw_fields(data, root.fields, _REPLACED | _TOP_DROPPED) + fields + ours
            return b"".join(head), b"\n" + body
        return self._each_body_stamped(banner, bodies, ours)

    def _wrapped(self, banner: Banner, ours: list[bytes]) -> tuple[bytes, bytes]:
        """A multipart/mixed of the banner's part and the original content."""
        data, root = self.data, self.root
        boundary = _free_boundary(data)
        content = [s for s in root.fields if s[0].startswith("content-")]
        top = [
            s for s in root.fields if not s[0].startswith("content-") and s[0] not in _TOP_DROPPED
        ]
        head = [
            *_raw_fields(data, top),
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n'.encode("ascii"),
            *ours,
        ]
        body = (
            f"--{boundary}\n".encode("ascii")
            + _banner_parts(banner, boundary)
            + f"--{boundary}\n".encode("ascii")
            + b"".join(_raw_fields(data, content))
            + b"\n"
            + data[root.body_start :]
            + f"\n--{boundary}--\n".encode("ascii")
        )  # that line end is the delimiter's
        return b"".join(head), b"\n" + body

    def _each_body_stamped(
        self, banner: Banner, bodies: list[mime.Part], ours: list[bytes]
    ) -> tuple[bytes, bytes]:
        """The multipart message with each of ``bodies`` stamped, all else as it came."""
        data, root = self.data, self.root
        head = _raw_fields(data, root.fields, _TOP_DROPPED) + ours
        out, pos = [b"\n"], root.body_start
        for part in bodies:
            fields, body = _stamped(data, part, banner)
            if part.end < len(data):  # a delimiter follows, after a line end of its own
                body = body[:-1] if body.endswith(b"\n") else body
            elif not body.endswith(b"\n"):
                body += b"\n"
            out.append(data[pos : part.start])
            out.append(b"".join(_raw_fields(data, part.fields, _REPLACED) + fields) + b"\n" + body)
            pos = part.end
        out.append(data[pos:])
        return b"".join(head), b"".join(out)


def stamp_banner(
    raw: bytes, banner: Banner | None, recipient: str, *, limits: Limits = DEFAULT_LIMITS
) -> bytes:
    """The inbox copy of ``raw`` for one internal ``recipient`` (see :class:`InboxCopies`)."""
    return InboxCopies(raw, limits=limits).copy(banner, recipient)


# --- notification, read receipt ------------------------------------------------------------


def notification(
    *,
    recipient: str,
    sender: str,
    sender_name: str | None,
    subject: str,
    sent: datetime,
    expires: datetime | None,
    link: str,
    portal_id: int,
    at: datetime,
    tz: tzinfo,
    host: str,
    definition: str,
    template: NotificationTemplate | None = None,
) -> email.message.EmailMessage:
    """The notification to a portal recipient (docs/decisions.md): from the sender,
    subject ``You've been sent a secure message``, with the portal link; or,
    with a ``template``, that template filled in (:func:`render_notification`)."""
    if template is not None:
        values = notification_values(
            recipient=recipient,
            sender=sender,
            sender_name=sender_name,
            subject=subject,
            sent=sent,
            expires=expires,
            link=link,
            tz=tz,
            definition=definition,
        )
        msg = _templated(
            template,
            values,
            recipient=recipient,
            sender=sender,
            sender_name=sender_name,
            portal_id=portal_id,
            at=at,
            host=host,
        )
        msg["X-Secmsg-Definition"] = mime.unstructured("X-Secmsg-Definition", definition)
        return msg
    who = _shorter(line_of(f"{sender_name} <{sender}>" if sender_name else sender))
    shown_subject = _shorter(line_of(subject))
    until = fmt_time(expires, tz, never="no expiry")
    msg = _new(
        "notification",
        from_=_addr(sender, sender_name),
        to=[_addr(recipient)],
        subject=NOTIFICATION_SUBJECT,
        at=at,
        host=host,
        portal_id=portal_id,
    )
    # 7bit (8bit when any of it is not ASCII), never quoted-printable or
    # base64: the link stays whole on one line of the file.
    text = (
        f"{who} has sent you a secure message.\n\n"
        f"Subject: {shown_subject}\n"
        f"Sent: {fmt_time(sent, tz)}\n"
        f"Available until: {until}\n\n"
        f"Open it in the Secure Messaging Portal:\n{link}\n\n"
        f"This link is personal to {recipient}. Do not forward this notification.\n"
    )
    msg.set_content(text, cte="7bit" if text.isascii() else "8bit")
    e = html.escape
    page = (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<p>{e(who)} has sent you a secure message.</p>\n"
        "<table>\n"
        f'<tr><th align="left">Subject</th><td>{e(shown_subject)}</td></tr>\n'
        f'<tr><th align="left">Sent</th><td>{e(fmt_time(sent, tz))}</td></tr>\n'
        f'<tr><th align="left">Available until</th><td>{e(until)}</td></tr>\n'
        "</table>\n"
        f'<p><a href="{e(link, quote=True)}">Open the secure message</a></p>\n'
        f"<p>This link is personal to {e(recipient)}. Do not forward this notification.</p>\n"
        "</body></html>\n"
    )
    msg.add_alternative(page, subtype="html", cte="7bit" if page.isascii() else "8bit")
    msg["X-Secmsg-Definition"] = mime.unstructured("X-Secmsg-Definition", definition)
    return msg


# --- notification templates (docs/configuration.md) -----------------------------------------

# RFC 5322: a line is at most 998 octets; a filled body with a longer line is
# sent quoted-printable (which wraps it), else 7bit/8bit as the built-in is.
_MAX_LINE = 998


@dataclass(frozen=True, slots=True)
class Rendered:
    """A notification template filled in for one recipient: the Subject and
    the From display name (plain text, before header encoding), the HTML body
    (with the logo's ``<img>`` when the template has a logo) and the text body."""

    subject: str
    sender_name: str | None
    html: str
    text: str
    logo_cid: str | None


def render_notification(
    template: NotificationTemplate, values: dict[str, str], *, logo_cid: str | None = None
) -> Rendered:
    """``template`` filled with ``values`` (:func:`notification_values`), one
    pass per field: HTML-escaped in the HTML body, as they are in the text
    body, Subject and display name (which the header encoder re-encodes).
    A value is never read for tags. With a logo, its ``<img src="cid:...">``
    goes first in the body (after ``<body ...>`` when there is one). Pure: no
    store, file or clock."""

    def line(text: str) -> str:
        return " ".join(fill_tags(text, values, tags=NOTIFICATION_TAGS, html=False).split())

    page = fill_tags(template.html, values, tags=NOTIFICATION_TAGS, html=True)
    cid = logo_cid if template.logo_data is not None else None
    if cid is not None:
        alt = html.escape(line(template.sender_name) if template.sender_name else "logo")
        page = _insert_html(page, f'<img src="cid:{html.escape(cid[1:-1])}" alt="{alt}">')
    return Rendered(
        subject=notification_subject(template.subject, values),
        sender_name=line(template.sender_name) if template.sender_name else None,
        html=page if page.endswith("\n") else page + "\n",
        text=(text := fill_tags(template.text, values, tags=NOTIFICATION_TAGS, html=False))
        + ("" if text.endswith("\n") else "\n"),
        logo_cid=cid,
    )


def _cte(text: str) -> str:
    if any(len(ln.encode("utf-8")) > _MAX_LINE for ln in text.split("\n")):
        return "quoted-printable"
    return "7bit" if text.isascii() else "8bit"


def _templated(
    template: NotificationTemplate,
    values: dict[str, str],
    *,
    recipient: str,
    sender: str,
    sender_name: str | None,
    portal_id: int,
    at: datetime,
    host: str,
) -> email.message.EmailMessage:
    cid = f"<logo.{portal_id}.secmsg@{host}>"
    shown = render_notification(template, values, logo_cid=cid)
    msg = _new(
        "notification",
        from_=_addr(sender, shown.sender_name or sender_name),
        to=[_addr(recipient)],
        subject=shown.subject,
        at=at,
        host=host,
        portal_id=portal_id,
    )
    msg.set_content(shown.text, cte=_cte(shown.text))
    msg.add_alternative(shown.html, subtype="html", cte=_cte(shown.html))
    if shown.logo_cid is not None and template.logo_data is not None:
        maintype, _, subtype = (template.logo_type or "image/png").partition("/")
        parts = msg.get_payload()
        page = parts[1] if isinstance(parts, list) else None
        assert isinstance(page, email.message.EmailMessage)  # set_content, add_alternative
        page.add_related(
            template.logo_data,
            maintype=maintype,
            subtype=subtype,
            cid=shown.logo_cid,
            disposition="inline",
            filename=f"logo.{'jpg' if subtype == 'jpeg' else subtype}",
        )
    return msg


def _report(
    kind: str,
    report_type: str,
    *,
    from_: Who,
    to: Sequence[Who],
    subject: str,
    at: datetime,
    host: str,
    portal_id: int | None,
) -> email.message.EmailMessage:
    msg = _new(kind, from_=from_, to=to, subject=subject, at=at, host=host, portal_id=portal_id)
    msg.set_type("multipart/report")
    msg.set_param("report-type", report_type)
    msg.set_boundary(f"=_secmsg_{email.utils.make_msgid()[1:-1].split('@')[0]}")
    msg.set_payload([])
    return msg


def _fields(items: Sequence[tuple[str, str]]) -> email.message.Message:
    block = email.message.Message(policy=email.policy.compat32)
    for name, value in items:
        block[name] = value
    return block


def read_receipt(
    *, copy: PortalCopy, at: datetime, tz: tzinfo, host: str
) -> email.message.EmailMessage:
    """RFC 8098: the sender is told the recipient displayed the message."""
    to = _addr(copy.reply_to, copy.header_from_name if copy.header_from else None)
    msg = _report(
        "read-receipt",
        "disposition-notification",
        from_=(SYSTEM_NAME, f"no-reply@{host}"),
        to=[to],
        subject=f"Read: {copy.subject}",
        at=at,
        host=host,
        portal_id=copy.id,
    )
    human = email.message.EmailMessage(policy=email.policy.SMTP)
    human.set_content(
        f"Your secure message was read in the Secure Messaging Portal.\n\n"
        f"To: {copy.recipient}\n"
        f"Subject: {copy.subject}\n"
        f"Sent: {fmt_time(copy.sent, tz)}\n"
        f"Read: {fmt_time(at, tz)}\n"
    )
    mdn = email.message.Message(policy=email.policy.compat32)
    mdn["Content-Type"] = "message/disposition-notification"
    fields = [("Reporting-UA", f"{host}; secmsg"), ("Final-Recipient", f"rfc822; {copy.recipient}")]
    original = mime.msg_ids(copy.message_id)
    if original:
        fields.append(("Original-Message-ID", original[0]))
    fields.append(("Disposition", "automatic-action/MDN-sent-automatically; displayed"))
    mdn.set_payload([_fields(fields)])
    msg.attach(human)
    msg.attach(mdn)  # type: ignore[arg-type]  # a compat32 Message: its fields written as given
    return msg


# --- the retained message: view, reply, print ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class View:
    """What the portal shows of a retained message."""

    from_: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    subject: str
    date: str | None
    message_id: str | None
    references: str | None
    text: str
    attachments: tuple[Attachment, ...]
    # the HTML of each shown body part as it came (none when no part is
    # HTML): for a sanitising renderer only, never to be shown as it is, and
    # to be sanitised part by part (joined first, one part's open comment,
    # script or link would hide or swallow the parts after it)
    html_parts: tuple[str, ...] = ()


def _shown(addr: Address) -> str:
    return f"{addr.name} <{addr.address}>" if addr.name else addr.address


@dataclass(slots=True)
class _Shown:
    """What a MIME subtree shows: its texts and its HTML, in order."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    plain: bool = False  # it has a text/plain body part
    rich: bool = False  # it has a text/html body part

    def add(self, other: _Shown) -> None:
        self.texts += other.texts
        self.htmls += other.htmls
        self.plain |= other.plain
        self.rich |= other.rich


def _shown_parts(data: bytes, part: mime.Part) -> _Shown:
    """The body parts under ``part`` as a mail client shows them: those of a
    multipart/mixed (or related, or any other) one after another; of a
    multipart/alternative one rendering, the last the reader can show (the
    sender's preferred, RFC 2046; the others are what a client hides): the
    last with plain text for the text, the last with HTML for the page. A
    text part beside HTML is shown in the page as preformatted, escaped text. Attachments, attached messages and unreadable parts show
    nothing here (they are the view's attachments)."""
    if part.kind == mime.BODY:
        text = mime.decode_text(mime.decoded_body(data, part), mime.charset(data, part))
        if part.ctype == "text/html":
            return _Shown([html_to_text(text)], [text], rich=True)
        return _Shown([text], [f"<pre>{html.escape(text)}</pre>"], plain=True)
    if part.kind != mime.CONTAINER:
        return _Shown()
    children = [_shown_parts(data, child) for child in part.children]
    if part.ctype != "multipart/alternative":
        shown = _Shown()
        for child in children:
            shown.add(child)
        return shown
    readable = [c for c in children if c.texts]
    if not readable:
        return _Shown()
    for_text = next((c for c in reversed(readable) if c.plain), readable[-1])
    for_page = next((c for c in reversed(readable) if c.rich), for_text)
    return _Shown(for_text.texts, for_page.htmls, plain=for_text.plain, rich=for_page.rich)


def _kept(texts: list[str]) -> list[str]:
    """The texts that show something (a blank one beside others adds
    nothing), with LF line ends."""
    return [t.replace("\r\n", "\n") for t in [t for t in texts if t.strip()] or texts[:1]]


def _joined(texts: list[str]) -> str:
    """Texts one after another, each on lines of its own (a blank one
    beside others adds nothing)."""
    out: list[str] = []
    for text in _kept(texts):
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(text)
    return "".join(out).replace("\r\n", "\n")


# The first empty line as the engine's parser splits lines (CR LF, LF or a
# lone CR each end one): its header fields all lie before it.
_EMPTY_LINE = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r|\n)")


def _header_block(raw: bytes) -> bytes:
    """The message up to and including its first empty line (all of it
    without one): the engine reads the same header fields from it as from
    the whole message. Not where :func:`mime.walk` ends the header block:
    the engine's parser reads on past lines the walk stops at (a misplaced
    ``From `` line, a field without a name, white space on the first line)
    and splits lines at a lone CR, which the walk does not."""
    m = _EMPTY_LINE.search(raw)
    return raw if m is None else raw[: m.end()]


def read_view(raw: bytes) -> View:
    """Headers, the text and the HTML of the body parts (see
    :func:`_shown_parts`: the text as plain text, the HTML as it came, to be
    sanitised before it is shown; None when no part is HTML) and the
    attachments (decoded bytes; an attached message, or a part nested too
    deep to read, as it came)."""
    data = mime.normalise(raw)
    root = mime.walk(data, MAX_NESTING)
    # The engine reads the header fields; the header block is all it needs
    # (given the whole message it would parse every part too: seconds and
    # hundreds of MiB for a message with a large attachment).
    m = parse_message(_header_block(raw))
    shown = _shown_parts(data, root)
    attachments = [
        Attachment(mime.filename(data, part), part.ctype, mime.decoded_body(data, part))
        for part in mime.leaves(root)
        if part.kind != mime.BODY
    ]
    sender = m.header_from or m.envelope_from or ""
    references = mime.header(data, root, "references")
    return View(
        from_=f"{m.header_from_name} <{sender}>" if m.header_from_name else sender,
        to=tuple(_shown(a) for a in m.to),
        cc=tuple(_shown(a) for a in m.cc),
        to_addresses=tuple(a.address for a in m.to),
        cc_addresses=tuple(a.address for a in m.cc),
        subject=m.subject,
        date=m.date,
        message_id=m.message_id,
        references=" ".join(mime.msg_ids(references)) or None,
        text=_joined(shown.texts),
        attachments=tuple(attachments),
        html_parts=tuple(_kept(shown.htmls)) if shown.rich else (),
    )


def _quoted(view: View, sent: datetime, tz: tzinfo) -> str:
    lines = view.text.rstrip("\n").split("\n") if view.text else []
    quoted = "\n".join(">" if not line else f"> {line}" for line in lines)
    return f"On {fmt_time(sent, tz)}, {view.from_} wrote:\n{quoted}\n"


def reply(
    *,
    copy: PortalCopy,
    view: View,
    body: str,
    to: Sequence[str],
    cc: Sequence[str],
    attachments: Sequence[tuple[str, bytes]],
    at: datetime,
    tz: tzinfo,
    host: str,
) -> email.message.EmailMessage:
    """A portal reply from the recipient of ``copy``: threaded with the
    original and quoting it."""
    subject = (
        copy.subject
        if re.match(r"(?i)\s*re\s*:", copy.subject or "")
        else f"Re: {copy.subject}".rstrip()
    )
    names = {copy.reply_to: copy.header_from_name} if copy.header_from else {}
    msg = _new(
        "reply",
        from_=_addr(copy.recipient),
        to=[_addr(a, names.get(a)) for a in to],
        cc=[_addr(a) for a in cc],
        subject=subject,
        at=at,
        host=host,
        portal_id=copy.id,
    )
    original = mime.msg_ids(copy.message_id)[:1]
    if original:
        msg["In-Reply-To"] = mime.ids_field("In-Reply-To", original)
        msg["References"] = mime.ids_field(
            "References", [*mime.msg_ids(view.references), *original]
        )
    text = body.replace("\r\n", "\n").rstrip("\n") + "\n\n" + _quoted(view, copy.sent, tz)
    msg.set_content(text)
    for name, data in attachments:
        ctype, _ = mimetypes.guess_type(name)
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype, filename=mime.header_filename(name)
        )
    return msg


def non_delivery(
    *,
    returned: email.message.EmailMessage,
    replier: str,
    unknown: Sequence[str],
    at: datetime,
    host: str,
    portal_id: int | None,
) -> email.message.EmailMessage:
    """RFC 3464: the reply could not be delivered to ``unknown`` (addresses the
    directory does not know); the reply is returned, with a warning."""
    msg = _report(
        "ndr",
        "delivery-status",
        from_=("Mail Delivery System", f"mailer-daemon@{host}"),
        to=[_addr(replier)],
        subject=f"Undeliverable: {returned['Subject']}",
        at=at,
        host=host,
        portal_id=portal_id,
    )
    human = email.message.EmailMessage(policy=email.policy.SMTP)
    human.set_content(
        "Your reply from the Secure Messaging Portal could not be delivered to the following "
        "recipient(s), which the destination email system does not know:\n\n"
        + "".join(f"  {a}\n" for a in unknown)
        + f"\n{NDR_WARNING}\n"
    )
    status = email.message.Message(policy=email.policy.compat32)
    status["Content-Type"] = "message/delivery-status"
    blocks: list[email.message.Message | str] = [
        _fields(
            [("Reporting-MTA", f"dns; {host}"), ("Arrival-Date", email.utils.format_datetime(at))]
        )
    ]
    for a in unknown:
        blocks.append(
            _fields(
                [
                    ("Final-Recipient", f"rfc822; {a}"),
                    ("Action", "failed"),
                    ("Status", "5.1.1"),
                    ("Diagnostic-Code", "smtp; 550 5.1.1 recipient address unknown"),
                ]
            )
        )
    status.set_payload(blocks)
    copy_part = email.message.EmailMessage(policy=email.policy.SMTP)
    copy_part.set_content(returned)  # message/rfc822
    msg.attach(human)
    msg.attach(status)  # type: ignore[arg-type]  # a compat32 Message, as for the MDN
    msg.attach(copy_part)
    return msg


def printable_html(*, view: View, copy: PortalCopy, at: datetime, tz: tzinfo) -> str:
    """A self-contained, printable HTML page of the message (text only: the
    sender's HTML, scripts and remote content are not carried over)."""
    e = html.escape
    rows = [
        ("From", view.from_),
        ("To", ", ".join(view.to)),
        ("Cc", ", ".join(view.cc)),
        ("Date", view.date or fmt_time(copy.sent, tz)),
        ("Subject", view.subject),
    ]
    head = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v)
    files = "".join(
        f"<li>{e(a.filename or '(unnamed)')} ({e(a.content_type)}, {len(a.data)} bytes)</li>"
        for a in view.attachments
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(view.subject)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}"
        "th{text-align:left;padding-right:1em;vertical-align:top}"
        "pre{white-space:pre-wrap;font-family:inherit}footer{color:#555;font-size:small}</style>\n"
        "</head>\n<body>\n"
        f'<h1>{e(view.subject)}</h1>\n<table class="headers">\n{head}\n</table>\n<hr>\n'
        f'<pre class="body">{e(view.text)}</pre>\n'
        + (f"<h2>Attachments</h2>\n<ul>{files}</ul>\n" if files else "")
        + f"<footer>Printed from the Secure Messaging Portal by {e(copy.recipient)} on {e(fmt_time(at, tz))}.</footer>\n"
        "</body>\n</html>\n"
    )
