"""The messages the system sends (SPEC §7.4), built as real RFC 5322 / MIME
messages with the standard library, and the views of a retained message.

- :func:`stamp_banner`: the internal inbox copy of a secure message, with the
  banner inserted at the top of every text/html body part (after ``<body>``
  when there is one) and every text/plain body part. Only those parts are
  re-encoded (UTF-8, base64 if they were base64, else quoted-printable);
  every other part, attachments included, is written back as it came, so the
  MIME structure and the attachments' bytes do not change. Bcc is removed.
- :func:`notification`: "You've been sent a secure message", with the portal
  link carrying the access token.
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
import email.generator
import email.message
import email.parser
import email.policy
import email.utils
import html
import io
import mimetypes
import quopri
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from urllib.parse import quote, urlsplit

from secmsg_cli.engine.message import html_to_text, parse_message
from secmsg_cli.engine.render import NOTIFICATION_SUBJECT

__all__ = [
    "OUTBOX_POLICY",
    "Attachment",
    "View",
    "stamp_banner",
    "notification",
    "read_receipt",
    "reply",
    "non_delivery",
    "read_view",
    "printable_html",
    "to_bytes",
    "token_link",
    "portal_host",
    "fmt_time",
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


def fmt_time(moment: datetime | None, tz, never: str = "never") -> str:
    if moment is None:
        return never
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or local.strftime("%z"))


def _addr(address: str, name: str | None = None) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=name or "", username=local, domain=domain)


def _new(kind: str, *, from_: Address, to: Sequence[Address], subject: str, at: datetime, host: str,
         cc: Sequence[Address] = (), portal_id: int | None = None) -> email.message.EmailMessage:
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = from_
    msg["To"] = list(to)
    if cc:
        msg["Cc"] = list(cc)
    msg["Subject"] = subject
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
            stack.extend((p, inner_root) for p in part.get_payload() if isinstance(p, email.message.Message))


def to_bytes(msg: email.message.Message) -> bytes:
    """The message as written to the outbox (LF line ends)."""
    if isinstance(msg, email.message.EmailMessage):
        _tidy(msg)
        try:
            return msg.as_bytes(policy=OUTBOX_POLICY)
        except (UnicodeError, ValueError):  # a non-ASCII local part needs SMTPUTF8
            return msg.as_bytes(policy=_OUTBOX_POLICY_UTF8)
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, mangle_from_=False, maxheaderlen=0, policy=_LEGACY).flatten(msg)
    return buf.getvalue()


def _decode(data: bytes, charset: str | None) -> str:
    for codec in (charset, "utf-8", "windows-1252"):
        if not codec:
            continue
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _legacy(raw: bytes) -> email.message.Message:
    # LF line ends throughout (a CRLF file would otherwise mix line ends).
    data = raw.replace(b"\r\n", b"\n")
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)


def _filename(part: email.message.Message) -> str | None:
    name = part.get_filename()
    if name:
        from secmsg_cli.engine.message import decode_header_words

        name = decode_header_words(str(name))[0].strip()
    return name or None


def _leaves(root: email.message.Message) -> Iterable[tuple[email.message.Message, bool]]:
    """Every leaf outside attached messages, in order, with whether it is a
    body part (text/plain or text/html, no filename, not an attachment)."""
    stack = [root]
    while stack:
        part = stack.pop()
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype.startswith("message/"):
                yield part, False  # an attached message: one attachment, not read into
                continue
            stack.extend(reversed([p for p in part.get_payload() if isinstance(p, email.message.Message)]))
            continue
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        body = ctype in ("text/plain", "text/html") and not _filename(part) and disposition != "attachment"
        yield part, body


# --- the banner-stamped inbox copy ----------------------------------------------------

_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


# a charset declared inside the HTML must agree with the part's new charset
_META_CHARSET = re.compile(r"(<meta\b[^>]*?\bcharset\s*=\s*[\"']?)([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def _insert_html(text: str, banner_html: str) -> str:
    text = _META_CHARSET.sub(lambda m: m.group(1) + "utf-8", text)
    m = _BODY_TAG.search(text)
    if m:
        return text[: m.end()] + banner_html + text[m.end():]
    return banner_html + text


def _insert_text(text: str, banner_text: str) -> str:
    return banner_text.strip() + "\n\n" + text


def _rewrite(part: email.message.Message, new_text: str) -> None:
    """Replace a text part's content, keeping its headers but charset and
    transfer encoding: UTF-8, base64 if it was base64, else quoted-printable."""
    was = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    data = new_text.replace("\r\n", "\n").encode("utf-8")
    if was == "base64":
        cte, payload = "base64", base64.encodebytes(data).decode("ascii")
    else:
        cte, payload = "quoted-printable", quopri.encodestring(data).decode("ascii")
    del part["Content-Transfer-Encoding"]
    if part.get("Content-Type") is None:
        part["Content-Type"] = part.get_content_type()
    part.set_param("charset", "utf-8")
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)


def stamp_banner(raw: bytes, banner, recipient: str, *, portal_id: int | None = None) -> bytes:
    """The inbox copy of ``raw`` for the internal ``recipient``: the banner
    (``render.Banner`` or None when it hides itself) at the top of every body
    part; Bcc removed; ``X-Secmsg-Kind`` / ``X-Secmsg-Envelope-To`` added."""
    msg = _legacy(raw)
    if banner is not None:
        for part, is_body in list(_leaves(msg)):
            if not is_body:
                continue
            text = _decode(part.get_payload(decode=True) or b"", part.get_content_charset())
            if part.get_content_type() == "text/html":
                _rewrite(part, _insert_html(text, banner.html))
            else:
                _rewrite(part, _insert_text(text, banner.text))
        if msg.get("MIME-Version") is None:
            msg["MIME-Version"] = "1.0"
    del msg["Bcc"]
    msg["X-Secmsg-Kind"] = "inbox-copy"
    msg["X-Secmsg-Envelope-To"] = recipient
    return to_bytes(msg)


# --- notification, read receipt ------------------------------------------------------------


def _cte(*texts: str) -> str:
    return "7bit" if all(t.isascii() for t in texts) else "8bit"


def notification(*, recipient: str, sender: str, sender_name: str | None, subject: str, sent: datetime,
                 expires: datetime | None, link: str, portal_id: int, at: datetime, tz, host: str,
                 definition: str) -> email.message.EmailMessage:
    """The notification to a portal recipient (SPEC §7.3): from the sender,
    subject ``You've been sent a secure message``, with the portal link."""
    who = f"{sender_name} <{sender}>" if sender_name else sender
    until = fmt_time(expires, tz, never="no expiry")
    msg = _new("notification", from_=_addr(sender, sender_name), to=[_addr(recipient)],
               subject=NOTIFICATION_SUBJECT, at=at, host=host, portal_id=portal_id)
    # 7bit (8bit when a name or the subject is not ASCII), never quoted-printable
    # or base64: the link stays whole on one line of the file.
    msg.set_content(
        f"{who} has sent you a secure message.\n\n"
        f"Subject: {subject}\n"
        f"Sent: {fmt_time(sent, tz)}\n"
        f"Available until: {until}\n\n"
        f"Open it in the Secure Messaging Portal:\n{link}\n\n"
        f"This link is personal to {recipient}. Do not forward this notification.\n",
        cte=_cte(who, subject),
    )
    e = html.escape
    msg.add_alternative(
        "<!DOCTYPE html>\n<html><body>\n"
        f"<p>{e(who)} has sent you a secure message.</p>\n"
        "<table>\n"
        f"<tr><th align=\"left\">Subject</th><td>{e(subject)}</td></tr>\n"
        f"<tr><th align=\"left\">Sent</th><td>{e(fmt_time(sent, tz))}</td></tr>\n"
        f"<tr><th align=\"left\">Available until</th><td>{e(until)}</td></tr>\n"
        "</table>\n"
        f"<p><a href=\"{e(link, quote=True)}\">Open the secure message</a></p>\n"
        f"<p>This link is personal to {e(recipient)}. Do not forward this notification.</p>\n"
        "</body></html>\n",
        subtype="html",
        cte=_cte(who, subject),
    )
    msg["X-Secmsg-Definition"] = definition
    return msg


def _report(kind: str, report_type: str, *, from_: Address, to: Sequence[Address], subject: str, at: datetime,
            host: str, portal_id: int | None) -> email.message.EmailMessage:
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


def read_receipt(*, copy, at: datetime, tz, host: str) -> email.message.EmailMessage:
    """RFC 8098: the sender is told the recipient displayed the message."""
    to = _addr(copy.reply_to, copy.header_from_name if copy.header_from else None)
    msg = _report("read-receipt", "disposition-notification",
                  from_=Address(SYSTEM_NAME, "no-reply", host), to=[to],
                  subject=f"Read: {copy.subject}", at=at, host=host, portal_id=copy.id)
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
    if copy.message_id:
        fields.append(("Original-Message-ID", copy.message_id))
    fields.append(("Disposition", "automatic-action/MDN-sent-automatically; displayed"))
    mdn.set_payload([_fields(fields)])
    msg.attach(human)
    msg.attach(mdn)
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


def _shown(addr) -> str:
    return f"{addr.name} <{addr.address}>" if addr.name else addr.address


def read_view(raw: bytes) -> View:
    """Headers, the text (the first text/plain body part, else the first
    text/html one reduced to text) and the attachments (decoded bytes)."""
    m = parse_message(raw)
    root = _legacy(raw)
    plain = htmls = None
    attachments = []
    for part, is_body in _leaves(root):
        if is_body:
            text = _decode(part.get_payload(decode=True) or b"", part.get_content_charset())
            if part.get_content_type() == "text/html":
                htmls = htmls if htmls is not None else html_to_text(text)
            else:
                plain = plain if plain is not None else text
            continue
        if part.is_multipart():  # an attached message: its bytes as they came
            buf = io.BytesIO()
            email.generator.BytesGenerator(buf, mangle_from_=False, maxheaderlen=0, policy=_LEGACY).flatten(
                part.get_payload()[0] if part.get_payload() else part)
            data = buf.getvalue()
        else:
            data = part.get_payload(decode=True) or b""
        attachments.append(Attachment(_filename(part), part.get_content_type(), data))
    sender = m.header_from or m.envelope_from or ""
    references = root.get("References")
    return View(
        from_=f"{m.header_from_name} <{sender}>" if m.header_from_name else sender,
        to=tuple(_shown(a) for a in m.to),
        cc=tuple(_shown(a) for a in m.cc),
        to_addresses=tuple(a.address for a in m.to),
        cc_addresses=tuple(a.address for a in m.cc),
        subject=m.subject,
        date=m.date,
        message_id=m.message_id,
        references=" ".join(str(references).split()) if references else None,
        text=(plain if plain is not None else htmls or "").replace("\r\n", "\n"),
        attachments=tuple(attachments),
    )


def _quoted(view: View, sent: datetime, tz) -> str:
    lines = view.text.rstrip("\n").split("\n") if view.text else []
    quoted = "\n".join(">" if not line else f"> {line}" for line in lines)
    return f"On {fmt_time(sent, tz)}, {view.from_} wrote:\n{quoted}\n"


def reply(*, copy, view: View, body: str, to: Sequence[str], cc: Sequence[str], attachments: Sequence[tuple[str, bytes]],
          at: datetime, tz, host: str) -> email.message.EmailMessage:
    """A portal reply from the recipient of ``copy``: threaded with the
    original and quoting it."""
    subject = copy.subject if re.match(r"(?i)\s*re\s*:", copy.subject or "") else f"Re: {copy.subject}".rstrip()
    names = {copy.reply_to: copy.header_from_name} if copy.header_from else {}
    msg = _new("reply", from_=_addr(copy.recipient), to=[_addr(a, names.get(a)) for a in to],
               cc=[_addr(a) for a in cc], subject=subject, at=at, host=host, portal_id=copy.id)
    if copy.message_id:
        msg["In-Reply-To"] = copy.message_id
        msg["References"] = f"{view.references} {copy.message_id}" if view.references else copy.message_id
    text = body.replace("\r\n", "\n").rstrip("\n") + "\n\n" + _quoted(view, copy.sent, tz)
    msg.set_content(text)
    for name, data in attachments:
        ctype, _ = mimetypes.guess_type(name)
        maintype, _, subtype = (ctype or "application/octet-stream").partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def non_delivery(*, returned: email.message.EmailMessage, replier: str, unknown: Sequence[str], at: datetime,
                 host: str, portal_id: int | None) -> email.message.EmailMessage:
    """RFC 3464: the reply could not be delivered to ``unknown`` (addresses the
    directory does not know); the reply is returned, with a warning."""
    msg = _report("ndr", "delivery-status", from_=Address("Mail Delivery System", "mailer-daemon", host),
                  to=[_addr(replier)], subject=f"Undeliverable: {returned['Subject']}", at=at, host=host,
                  portal_id=portal_id)
    human = email.message.EmailMessage(policy=email.policy.SMTP)
    human.set_content(
        "Your reply from the Secure Messaging Portal could not be delivered to the following "
        "recipient(s), which the destination email system does not know:\n\n"
        + "".join(f"  {a}\n" for a in unknown)
        + f"\n{NDR_WARNING}\n"
    )
    status = email.message.Message(policy=email.policy.compat32)
    status["Content-Type"] = "message/delivery-status"
    blocks = [_fields([("Reporting-MTA", f"dns; {host}"), ("Arrival-Date", email.utils.format_datetime(at))])]
    for a in unknown:
        blocks.append(_fields([("Final-Recipient", f"rfc822; {a}"), ("Action", "failed"), ("Status", "5.1.1"),
                               ("Diagnostic-Code", "smtp; 550 5.1.1 recipient address unknown")]))
    status.set_payload(blocks)
    copy_part = email.message.EmailMessage(policy=email.policy.SMTP)
    copy_part.set_content(returned)  # message/rfc822
    msg.attach(human)
    msg.attach(status)
    msg.attach(copy_part)
    return msg


def printable_html(*, view: View, copy, at: datetime, tz) -> str:
    """A self-contained, printable HTML page of the message (text only: the
    sender's HTML, scripts and remote content are not carried over)."""
    e = html.escape
    rows = [("From", view.from_), ("To", ", ".join(view.to)), ("Cc", ", ".join(view.cc)),
            ("Date", view.date or fmt_time(copy.sent, tz)), ("Subject", view.subject)]
    head = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows if v)
    files = "".join(f"<li>{e(a.filename or '(unnamed)')} ({e(a.content_type)}, {len(a.data)} bytes)</li>"
                    for a in view.attachments)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{e(view.subject)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}"
        "th{text-align:left;padding-right:1em;vertical-align:top}"
        "pre{white-space:pre-wrap;font-family:inherit}footer{color:#555;font-size:small}</style>\n"
        "</head>\n<body>\n"
        f"<h1>{e(view.subject)}</h1>\n<table class=\"headers\">\n{head}\n</table>\n<hr>\n"
        f"<pre class=\"body\">{e(view.text)}</pre>\n"
        + (f"<h2>Attachments</h2>\n<ul>{files}</ul>\n" if files else "")
        + f"<footer>Printed from the Secure Messaging Portal by {e(copy.recipient)} on {e(fmt_time(at, tz))}.</footer>\n"
        "</body>\n</html>\n"
    )
