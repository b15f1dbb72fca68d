"""Shared set-up for the delivery and portal tests: a small account built
through the Store, a multipart test message, and readers for the outbox
(parsed back with the standard library only)."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from pathlib import Path

from secmsg_cli.store.store import Store

T0 = "2026-11-27T10:00:00+00:00"  # sending time used throughout

# A definition per combination the lifecycle tests need (SPEC §3.2 fields).
DEFINITIONS = {
    # everything allowed, 7 days + up to 14 more, read receipt
    "Open": dict(
        allow_print=True,
        allow_reply=True,
        allow_reply_all=True,
        expire_after="7d",
        max_extension="14d",
        read_receipt=True,
    ),
    # nothing allowed, 12 hours, no extension, no read receipt
    "Closed": dict(
        allow_print=False,
        allow_reply=False,
        allow_reply_all=False,
        expire_after="12h",
        max_extension="0d",
        read_receipt=False,
    ),
    # reply to the sender only
    "ReplyOnly": dict(
        allow_print=False,
        allow_reply=True,
        allow_reply_all=False,
        expire_after="30d",
        max_extension="0d",
        read_receipt=False,
    ),
    # reply-all stored true but reply false: reply-all is not effective (SPEC §3.2)
    "AllButNoReply": dict(
        allow_print=False,
        allow_reply=False,
        allow_reply_all=True,
        expire_after="30d",
        max_extension="0d",
        read_receipt=False,
    ),
    # a banner that hides itself (SPEC §7.2)
    "Silent": dict(banner='<div class="mc-sm-hide"> </div>', expire_after="30d"),
}

ATTACHMENT = bytes(range(256)) * 3 + b"\x00end"  # binary, every byte value

MESSAGE = (
    "Return-Path: <alice@example.com>\n"
    "Received: from mail-out.example.com (mail-out.example.com [203.0.113.7])\n"
    "\tby gw.example.net; Fri, 27 Nov 2026 09:59:00 +0000\n"
    "From: Alice Example <alice@example.com>\n"
    "To: Bob Partner <bob@partner.test>, carol@partner.test\n"
    "Cc: dave@example.com\n"
    "Bcc: erin@partner.test\n"
    "Subject: Quarterly figures\n"
    "Message-ID: <q3-figures@example.com>\n"
    "References: <earlier@example.com>\n"
    "Date: Fri, 27 Nov 2026 09:58:00 +0000\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="outer"\n'
    "\n"
    "--outer\n"
    'Content-Type: multipart/alternative; boundary="inner"\n'
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "The Q3 figures are attached.\n"
    "Regards, Alice\n"
    "--inner\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "\n"
    '<html><head><title>Q3</title></head><body class="mail"><p>The Q3 figures are attached.</p>'
    "<p>Regards, Alice</p></body></html>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/octet-stream\n"
    'Content-Disposition: attachment; filename="figures.bin"\n'
    "Content-Transfer-Encoding: base64\n"
    "\n" + __import__("base64").encodebytes(ATTACHMENT).decode("ascii") + "--outer--\n"
).encode("ascii")


def build_store(path: Path, **account) -> None:
    """example.com internal; folder T (published to everyone) holding DEFINITIONS."""
    s = Store(path)
    try:
        s.add_domain("example.com")
        if account:
            s.set_account(account)
        s.create_folder("T", ["everyone"])
        for name, settings in DEFINITIONS.items():
            s.create_definition("T", name, **settings)
    finally:
        s.close()


def write_message(tmp_path: Path, data: bytes = MESSAGE, name: str = "msg.eml") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def outbox_messages(outbox: Path, kind: str | None = None) -> list[email.message.EmailMessage]:
    """Every message in the outbox's new/ (parsed with the standard library), oldest first."""
    box = mailbox.Maildir(str(outbox), factory=None, create=False)
    out = []
    for key in sorted(box.iterkeys()):
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        if kind is None or msg["X-Secmsg-Kind"] == kind:
            out.append(msg)
    return out


def outbox_files(outbox: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur", "tmp") for p in (outbox / sub).glob("*"))


TOKEN_IN_LINK = re.compile(r"\?token=([0-9a-f]{12}\.[A-Za-z0-9_-]{43})\b")


def tokens(outbox: Path) -> dict[str, str]:
    """recipient -> access token, read from the notifications' text parts."""
    found = {}
    for msg in outbox_messages(outbox, "notification"):
        text = msg.get_body(("plain",)).get_content()
        m = TOKEN_IN_LINK.search(text)
        assert m, text
        found[msg["To"].addresses[0].addr_spec] = m.group(1)
    return found
