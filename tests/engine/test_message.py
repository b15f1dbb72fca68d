"""engine/message.py: bytes -> Message (SPEC §4.3, §6 components, §8.1, §11)."""

from __future__ import annotations

import base64
import binascii
import email.message
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmsg_cli.engine import message as message_module
from secmsg_cli.engine.message import (
    MAX_NESTING,
    Address,
    Attachment,
    Message,
    MessageError,
    decode_header_words,
    html_to_text,
    parse_message,
)

# the shared corpus (SECMSG_TEST_CORPUS where it is elsewhere, as in a worktree)
from tests.conftest import CORPUS


def eml(*headers: str, body: str | bytes = "hello\r\n") -> bytes:
    """A message from header lines (str, UTF-8) and a body."""
    head = "".join(f"{h}\r\n" for h in headers).encode("utf-8")
    return head + b"\r\n" + (body.encode("utf-8") if isinstance(body, str) else body)


def parse(*headers: str, body: str | bytes = "hello\r\n") -> Message:
    return parse_message(eml(*headers, body=body))


def assert_clean(m: Message) -> None:
    """No note comes from the internal safety nets (they would hide a bug)."""
    for note in (*m.defects, *m.content_defects()):
        assert "unexpected error" not in note, note


def multipart(
    *parts: bytes, subtype: str = "mixed", boundary: str = "BOUNDARY", headers: tuple[str, ...] = ()
) -> bytes:
    out = [
        "From: ann@example.com",
        "To: bob@partner.com",
        *headers,
        "MIME-Version: 1.0",
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"',
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return eml(*out, body=b"preamble\r\n" + body + b"--" + boundary.encode() + b"--\r\n")


def part(*headers: str, body: bytes | str = b"") -> bytes:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return "".join(f"{h}\r\n" for h in headers).encode("utf-8") + b"\r\n" + data


# --------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "cannot read message: the input is empty"),
        (b" \r\n\t\r\n", "cannot read message: the input is empty"),
        (
            b"just some text, no headers\r\n\r\nmore\r\n",
            "cannot read message: no header fields found",
        ),
        (b"\r\n\r\nFrom: a@example.com\r\n", "cannot read message: no header fields found"),
        (bytes(range(128, 256)) * 10, "cannot read message: no header fields found"),
    ],
    ids=["empty", "white-space", "no-headers", "blank-line-first", "binary"],
)
def test_unreadable_input_gives_message_error(data: bytes, expected: str) -> None:
    with pytest.raises(MessageError) as info:
        parse_message(data)
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def test_max_size_is_enforced_with_exact_message() -> None:
    data = eml("From: a@example.com")
    with pytest.raises(
        MessageError,
        match=rf"^cannot read message: {len(data)} bytes exceeds the limit of 10 bytes$",
    ):
        parse_message(data, max_size=10)
    assert parse_message(data, max_size=len(data)).header_from == "a@example.com"


def test_text_instead_of_bytes_is_a_message_error() -> None:
    with pytest.raises(MessageError, match="expected bytes, got str"):
        parse_message("From: a@example.com\n\nhi")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = eml("From: a@example.com")
    assert parse_message(bytearray(data)).header_from == "a@example.com"
    assert parse_message(memoryview(data)).header_from == "a@example.com"


def test_message_error_is_a_value_error() -> None:
    assert issubclass(MessageError, ValueError)


def test_unexpected_internal_failure_becomes_one_line_message_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(data: bytes, limits: object) -> Message:
        raise TypeError("bad\nthing")

    monkeypatch.setattr(message_module, "_parse", boom)
    with pytest.raises(MessageError) as info:
        parse_message(b"From: a@example.com\n\nhi")
    assert str(info.value) == "cannot read message: unexpected error (TypeError: bad thing)"


def test_obsolete_space_before_colon_is_accepted() -> None:
    m = parse_message(b"From  : John <jdoe@machine.example>\r\nSubject    : Hi\r\n\r\nbody\r\n")
    assert (m.header_from, m.subject) == ("jdoe@machine.example", "Hi")
    assert any("obsolete syntax" in d for d in m.defects)


# --------------------------------------------------------------------------
# Senders (SPEC §4.3, §8.1)


@pytest.mark.parametrize(
    ("headers", "envelope", "header_from", "name"),
    [
        (["Return-Path: <bounce@lists.example.com>", "From: Ann <ann@example.com>"],
         "bounce@lists.example.com", "ann@example.com", "Ann"),
        (["Return-Path: <>", "From: MAILER-DAEMON@example.com"], None, "mailer-daemon@example.com", None),
        (["Return-Path: < >", "From: a@example.com"], None, "a@example.com", None),
        (["From: a@example.com"], None, "a@example.com", None),
        (["Return-Path: <BOB@Example.COM>", "From: Bob <Bob@EXAMPLE.com>"], "bob@example.com", "bob@example.com", "Bob"),
        (["Return-Path: bare@example.com"], "bare@example.com", None, None),
        (["Return-Path: <@relay.example.net:user@example.com>"], "user@example.com", None, None),
        (["Return-Path: <first@example.com>", "Return-Path: <second@example.com>"], "first@example.com", None, None),
        (["From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.de>"], None, "jorg@example.de", "Jörg Müller"),
        (["From: =?ISO-8859-1?B?QW5kcuk=?= <andre@example.fr>"], None, "andre@example.fr", "André"),
        (['From: "Smith, John" <john@example.com>'], None, "john@example.com", "Smith, John"),
        (["From: john@example.com (John Smith)"], None, "john@example.com", "John Smith"),
        (["From: user@bücher.de"], None, "user@xn--bcher-kva.de", None),
        (["From: Ann <ann@example.com>, Bob <bob@example.com>"], None, "ann@example.com", "Ann"),
        (["From: Big Bug bb@bug.com"], None, "bb@bug.com", None),
        (["From: not an address"], None, None, None),
        (["From:"], None, None, None),
        (["Subject: no sender at all"], None, None, None),
    ],
    ids=[
        "return-path-and-from", "null-sender", "null-sender-spaced", "no-return-path", "case-folded",
        "return-path-without-brackets", "source-route", "top-most-return-path", "q-encoded-name",
        "b-encoded-latin1-name", "quoted-name-with-comma", "comment-name", "idn-domain",
        "several-from-first-wins", "unbracketed-address-salvaged", "invalid-from", "empty-from", "no-from",
    ],
)  # fmt: skip
def test_senders(
    headers: list[str], envelope: str | None, header_from: str | None, name: str | None
) -> None:
    m = parse(*headers)
    assert (m.envelope_from, m.header_from, m.header_from_name) == (envelope, header_from, name)
    assert_clean(m)


@pytest.mark.parametrize(
    ("header", "note"),
    [
        ("Return-Path: <not-an-address>", "Return-Path: skipped invalid address"),
        ("From: not an address", "From: skipped"),
        ("From: Big Bug bb@bug.com", "From: read 'Big Bug bb@bug.com' as 'bb@bug.com'"),
        ("From: a@example.com, b@example.com", "From: 2 addresses; the first was used"),
    ],
    ids=["bad-return-path", "bad-from", "salvaged-from", "two-from-addresses"],
)
def test_sender_problems_are_noted(header: str, note: str) -> None:
    m = parse(header)
    assert any(d.startswith(note) for d in m.defects), m.defects


def test_null_sender_is_not_a_defect() -> None:
    assert parse("Return-Path: <>", "From: a@example.com").defects == ()


# --------------------------------------------------------------------------
# Recipients


@pytest.mark.parametrize(
    ("headers", "to", "cc", "bcc", "recipients"),
    [
        (["To: bob@partner.com"], [("", "bob@partner.com")], [], [], ["bob@partner.com"]),
        (["To: Bob <BOB@Partner.com>, carol@partner.com"],
         [("Bob", "bob@partner.com"), ("", "carol@partner.com")], [], [], ["bob@partner.com", "carol@partner.com"]),
        (["To: Undisclosed: a@x.com, b@y.com;"], [("", "a@x.com"), ("", "b@y.com")], [], [], ["a@x.com", "b@y.com"]),
        (["To: Team: Ann <a@x.com>, \"B, b\" <b@y.com>;, c@z.com"],
         [("Ann", "a@x.com"), ("B, b", "b@y.com"), ("", "c@z.com")], [], [], ["a@x.com", "b@y.com", "c@z.com"]),
        (["To: undisclosed-recipients:;"], [], [], [], []),
        (["To: A@x.com, b@y.com", "Cc: a@x.com, c@z.com", "Bcc: B@Y.com, d@w.com"],
         [("", "a@x.com"), ("", "b@y.com")], [("", "a@x.com"), ("", "c@z.com")], [("", "b@y.com"), ("", "d@w.com")],
         ["a@x.com", "b@y.com", "c@z.com", "d@w.com"]),
        (["Cc: c@z.com", "To: a@x.com"], [("", "a@x.com")], [("", "c@z.com")], [], ["a@x.com", "c@z.com"]),
        (["To: a@x.com", "To: b@y.com"], [("", "a@x.com"), ("", "b@y.com")], [], [], ["a@x.com", "b@y.com"]),
        (["To: =?iso-8859-1?q?Andr=E9?= <andre@x.com>, =?utf-8?b?5bGx55Sw?= <yamada@y.jp>"],
         [("André", "andre@x.com"), ("山田", "yamada@y.jp")], [], [], ["andre@x.com", "yamada@y.jp"]),
        (["To: good@x.com, not-an-address, bad@@x.com, @nolocal.com"], [("", "good@x.com")], [], [], ["good@x.com"]),
        (["To: a@x.com,\r\n\tb@y.com"], [("", "a@x.com"), ("", "b@y.com")], [], [], ["a@x.com", "b@y.com"]),
        ([], [], [], [], []),
    ],
    ids=[
        "single", "names-and-case", "group", "group-with-names-then-address", "empty-group",
        "duplicates-across-to-cc-bcc", "to-before-cc-whatever-the-header-order", "two-to-headers",
        "encoded-names", "invalid-skipped", "folded", "none",
    ],
)  # fmt: skip
def test_recipients(
    headers: list[str],
    to: list[tuple[str, str]],
    cc: list[tuple[str, str]],
    bcc: list[tuple[str, str]],
    recipients: list[str],
) -> None:
    m = parse("From: ann@example.com", *headers)
    assert m.to == tuple(Address(n, a) for n, a in to)
    assert m.cc == tuple(Address(n, a) for n, a in cc)
    assert m.bcc == tuple(Address(n, a) for n, a in bcc)
    assert m.recipients == tuple(recipients)


def test_invalid_recipients_are_noted() -> None:
    m = parse("To: good@x.com, not-an-address, bad@@x.com")
    assert "To: skipped invalid address 'not-an-address'" in m.defects
    assert "To: skipped invalid address 'bad@@x.com'" in m.defects


def test_thousands_of_recipients_are_all_read() -> None:
    addresses = [f"User {i} <user{i}@example{i % 50}.com>" for i in range(10_000)]
    m = parse(
        "From: a@example.com",
        "To: " + ", ".join(addresses[:6000]),
        "Cc: " + ", ".join(addresses[6000:]),
    )
    assert len(m.recipients) == 10_000
    assert m.recipients[0] == "user0@example0.com" and m.cc[-1] == Address(
        "User 9999", "user9999@example49.com"
    )
    assert m.defects == ()


def test_recipient_headers_beyond_the_limit_are_cut_with_a_note() -> None:
    filler = ", ".join(f"user{i}@example.com" for i in range(40_000))  # ~ 800 KB
    m = parse("To: " + filler, "Cc: late@example.com")
    assert 10_000 < len(m.to) < 40_000
    assert "late@example.com" not in m.recipients
    (to_note,) = (d for d in m.defects if d.startswith("To: address headers past the limit"))
    left = 40_000 - len(m.to)
    assert to_note == (
        "To: address headers past the limit of 524288 characters read (To, Cc and Bcc together): "
        f"about {left} more addresses not read"
    )
    assert (
        "Cc: address headers past the limit of 524288 characters read (To, Cc and Bcc together): "
        "about 1 more address not read" in m.defects
    )
    assert (
        m.recipients_unread == left + 1
    )  # deliver refuses a message with recipients it could not decide


def test_hand_built_message_derives_recipients_and_has_no_parts() -> None:
    m = Message(
        header_from="a@example.com",
        to=(Address("", "b@x.com"), Address("", "c@x.com")),
        cc=(Address("B", "b@x.com"),),
        bcc=(Address("", "d@x.com"),),
    )
    assert m.recipients == ("b@x.com", "c@x.com", "d@x.com")
    assert (m.body_texts(), m.attachments(), m.content_defects()) == ((), (), ())


def test_message_is_frozen_and_hashable() -> None:
    m = parse("From: a@example.com", "To: b@x.com")
    with pytest.raises(AttributeError):
        m.subject = "changed"  # type: ignore[misc]
    assert hash(m) == hash(parse("From: a@example.com", "To: b@x.com"))
    assert m == parse("From: a@example.com", "To: b@x.com")


# --------------------------------------------------------------------------
# Source IP: the top-most Received: header's from clause (SPEC §8.1)


@pytest.mark.parametrize(
    ("received", "ip"),
    [
        (["from mx.example.com (mx.example.com [203.0.113.5]) by mail.example.org (Postfix) with ESMTP id X; "
          "Tue, 10 May 2005 17:26:50 +0000"], "203.0.113.5"),
        (["from [2001:db8::1] by mx.example.org with ESMTP"], "2001:db8::1"),
        (["from host (HELO) (IPv6:2001:db8::5) by mx.example.org"], "2001:db8::5"),
        (["from host.example ([IPv6:2001:DB8:0:0::7]) by mx"], "2001:db8::7"),
        (["from unknown (HELO 198.51.100.66) (192.0.2.7) by mx.example.org with SMTP"], "192.0.2.7"),
        (["from [192.0.2.9] (helo=foo.example) by mx.example.org with esmtp (Exim 4.96)"], "192.0.2.9"),
        (["from unknown (HELO [198.51.100.66]) (192.0.2.7) by mx"], "192.0.2.7"),
        (["from host (helo=[198.51.100.1]) by mx"], None),
        (["from host (port=25 helo=[198.51.100.1] [192.0.2.12]) by mx"], "192.0.2.12"),
        (["from ?10.0.1.6? (d36-211-30.home1.example.net [24.36.211.30])\r\n"
          "        by mx.google.com with ESMTPS id g14sm267889rvb.22"], "24.36.211.30"),
        (["from client.example ([::ffff:203.0.113.9]) by mx"], "203.0.113.9"),
        (["from EX1.corp.example (10.1.2.3) by EX2.corp.example (10.9.9.9) with Microsoft SMTP Server"], "10.1.2.3"),
        (["from 192.0.2.44 by mx.example.org"], "192.0.2.44"),
        (["from top.example (top.example [198.51.100.1]) by mx",
          "from lower.example (lower.example [203.0.113.5]) by top.example"], "198.51.100.1"),
        (["by 10.103.1.1 with SMTP id w10cs50835muo; Thu, 14 Oct 2010 20:25:16 -0700",
          "from lower.example ([172.16.1.1]) by mx"], None),
        (["from localhost by mx.example.org (mx.example.org [10.0.0.1]) with LMTP"], None),
        (["(qmail 1234 invoked from network); 10 May 2005 17:26:50 -0000"], None),
        (["from mx.example.com (mx.example.com [999.1.2.3]) by mx"], None),
        (["from mx.example.com (garbage here) by mx"], None),
        (["(((((((((("], None),
        ([""], None),
        ([], None),
    ],
    ids=[
        "postfix-ipv4", "ipv6-literal", "helo-comment-then-ipv6", "ipv6-tag-in-brackets", "qmail-skips-helo-ip",
        "exim", "bracketed-helo-skipped", "helo-param-skipped", "after-helo-param", "bracket-beats-bare-word", "ipv4-mapped", "exchange-parenthesised", "bare-ip-domain",
        "top-most-wins", "top-most-without-from", "ip-in-by-clause-ignored", "leading-comment-only",
        "invalid-ip", "no-ip", "garbage", "empty", "no-received",
    ],
)  # fmt: skip
def test_source_ip(received: list[str], ip: str | None) -> None:
    m = parse(*(f"Received: {r}" for r in received), "From: a@example.com")
    assert m.source_ip == ip


def test_source_ip_scan_is_bounded_on_huge_received_header() -> None:
    m = parse("Received: from x " + "(" * 1_000_000, "From: a@example.com")
    assert m.source_ip is None
    m = parse("Received: from x (" + "a " * 5000 + "[192.0.2.1])", "From: a@example.com")
    assert m.source_ip is None  # beyond the examined prefix


# --------------------------------------------------------------------------
# Subject and other headers


def _cp949_word(text: str) -> str:
    return "=?ks_c_5601-1987?B?" + base64.b64encode(text.encode("cp949")).decode() + "?="


@pytest.mark.parametrize(
    ("header", "subject", "clean"),
    [
        ("Subject: Quarterly results", "Quarterly results", True),
        (None, "", True),
        ("Subject:", "", True),
        ("Subject: =?utf-8?b?Q29uZmlkZW50aWFsOiDDqXTDqQ==?=", "Confidential: été", True),
        ("Subject: Re: =?utf-8?q?caf=C3=A9?= now", "Re: café now", True),
        ("Subject: =?utf-8?q?a?= =?utf-8?q?b?=", "ab", True),
        ("Subject: =?utf-8?q?=C3?=\r\n =?utf-8?q?=A9t=C3=A9?=", "été", True),
        ("Subject: =?UTF-8?Q?two_words?=", "two words", True),
        ("Subject: =?utf-8*en?q?with_language?=", "with language", True),
        ("Subject: " + _cp949_word("한국말"), "한국말", True),
        ("Subject: =?iso-2022-jp?B?GyRCJF4kXyRgJGEkYhsoQg==?=", "まみむめも", True),
        ("Subject: a folded\r\n\tsubject line", "a folded subject line", True),
        ("Subject: raw UTF-8 ünïcödé", "raw UTF-8 ünïcödé", True),
        ("Subject: =?x-unknown-charset?q?plain?=", "plain", False),
        ("Subject: =?NONE?B?VEVTVA=?=", "TEST", False),
        ("Subject: =?utf-8?b?#!?=", "", False),
        ("Subject: =?utf-8?q?unterminated", "=?utf-8?q?unterminated", True),
    ],
    ids=[
        "plain",
        "absent",
        "empty",
        "b-encoded",
        "q-encoded-in-text",
        "space-between-words-dropped",
        "character-split-across-words",
        "underscore-is-space",
        "rfc2231-language",
        "ks_c_5601-1987",
        "iso-2022-jp",
        "folded",
        "raw-utf8",
        "unknown-charset",
        "bad-base64-padding",
        "garbage-base64",
        "not-an-encoded-word",
    ],
)
def test_subject(header: str | None, subject: str, clean: bool) -> None:
    m = parse("From: a@example.com", *([header] if header else []))
    assert m.subject == subject
    assert (not any(d.startswith("Subject:") for d in m.defects)) is clean, m.defects


def test_latin1_8bit_subject_is_read_and_noted() -> None:
    m = parse_message(b"From: a@example.com\r\nSubject: caf\xe9\r\n\r\nhi")
    assert m.subject == "café"
    assert "Subject: header contains 8-bit bytes that are not UTF-8; read as Latin-1" in m.defects


def test_repeated_subject_first_wins_with_note() -> None:
    m = parse("Subject: first", "Subject: second")
    assert m.subject == "first"
    assert "Subject: 2 headers; the first was used" in m.defects


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Message-ID: <abc@example.com>", "In-Reply-To: <prev@example.com>", "Date: Tue, 1 Jul 2003 10:52:37 +0200"],
         ("<abc@example.com>", "<prev@example.com>", "Tue, 1 Jul 2003 10:52:37 +0200")),
        (["Message-ID:", "In-Reply-To:  ", "Date: not a date at all"], (None, None, "not a date at all")),
        ([], (None, None, None)),
        (["Message-ID:\r\n <folded@example.com>"], ("<folded@example.com>", None, None)),
    ],
    ids=["present", "empty-values-and-bad-date", "absent", "folded"],
)  # fmt: skip
def test_message_id_in_reply_to_and_raw_date(headers: list[str], expected: tuple) -> None:
    m = parse("From: a@example.com", *headers)
    assert (m.message_id, m.in_reply_to, m.date) == expected


def test_headers_text_is_the_decoded_header_block_in_order() -> None:
    m = parse(
        "Received: from x ([192.0.2.1]) by y",
        "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>",
        "Subject: =?utf-8?q?Gesch=C3=A4ft?=",
        "X-Custom: folded\r\n value",
    )
    assert m.headers_text == (
        "Received: from x ([192.0.2.1]) by y\n"
        "From: Jörg <j@example.de>\n"
        "Subject: Geschäft\n"
        "X-Custom: folded value"
    )


@pytest.mark.parametrize(
    ("text", "decoded", "ok"),
    [
        ("no words", "no words", True),
        ("=?utf-8?q?a_b?= c", "a b c", True),
        ("x =?utf-8?b?w6k=?= =?latin-1?q?=E9?= y", "x éé y", True),
        ("=?zlib?q?abc?=", "abc", False),
        ("=?utf-8?b?A?=", "", False),
        ("=?" * 50_000, "=?" * 50_000, True),
    ],
    ids=[
        "plain",
        "q",
        "charset-change",
        "non-text-codec-refused",
        "one-char-base64",
        "many-openers",
    ],
)
def test_decode_header_words(text: str, decoded: str, ok: bool) -> None:
    assert decode_header_words(text) == (decoded, ok)


# --------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello</p><p>World</p>", "Hello\nWorld"),
        ("line one<br>line two<br/>line three", "line one\nline two\nline three"),
        ("<script>var secret = 1;</script>visible<style>p {color: red}</style>", "visible"),
        ("<SCRIPT type='x'>hidden</SCRIPT>shown", "shown"),
        ("Tom &amp; Jerry &eacute;t&eacute; &#8364;5 &lt;tag&gt;", "Tom & Jerry été €5 <tag>"),
        ("a&nbsp;&nbsp;b", "a b"),
        ("  lots   of\n\n  white\tspace  ", "lots of white space"),
        ("<div>a</div>\n\n\n<div>b</div>", "a\nb"),
        (
            "<table><tr><td>cell1</td><td>cell2</td></tr><tr><td>x</td></tr></table>",
            "cell1 cell2\nx",
        ),
        ("<span>in</span><b>line</b>", "inline"),
        ("before<!-- a comment -->after", "beforeafter"),
        ("before<!-- never closed <p>secret</p>", "before"),
        ("<!DOCTYPE html><html><body>x</body></html>", "x"),
        ("<!--[if mso]>mso<![endif]-->text", "text"),
        ("<![if !supportLists]>item<![endif]>", "item"),
        ("a < b and c > d", "a < b and c > d"),
        ('x <a title="a > b">link</a> y', "x link y"),
        ("<h1>Title</h1>body<ul><li>one</li><li>two</li></ul>", "Title\nbody\none\ntwo"),
        ("", ""),
    ],
    ids=[
        "paragraphs",
        "br",
        "script-and-style-dropped",
        "upper-case-tags",
        "entities",
        "nbsp",
        "collapse",
        "blank-lines-dropped",
        "table-cells",
        "inline-tags-join",
        "comment",
        "unterminated-comment",
        "doctype",
        "conditional-comment",
        "downlevel-revealed",
        "stray-angle-brackets",
        "quoted-gt-in-attribute",
        "headings-and-lists",
        "empty",
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    "hostile",
    ["<a " * 100_000, "<" * 300_000, "<!--x>" * 50_000, "<![if x>" * 40_000, '<a b="x>' * 40_000, "&#" * 150_000,
     "<script>" + "<a>" * 100_000],
    ids=["unclosed-tags", "lone-lt", "unterminated-comments", "marked-sections", "unclosed-quotes", "charrefs",
         "unclosed-script"],
)  # fmt: skip
def test_html_to_text_survives_hostile_markup(hostile: str) -> None:
    # These inputs take minutes with a bare html.parser (quadratic rescans).
    assert isinstance(html_to_text(hostile), str)


# --------------------------------------------------------------------------
# Bodies and attachments (SPEC §6 components)


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def test_plain_message_body_is_decoded_lazily_and_cached() -> None:
    m = parse(
        "From: a@example.com", "Content-Type: text/plain; charset=utf-8", body="Grüße\r\nzwei\r\n"
    )
    texts = m.body_texts()
    assert texts == ("Grüße\nzwei\n",)
    assert m.body_texts() is texts
    assert m.attachments() == () and m.attachments() is m.attachments()


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (["Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable"],
         b"caf=E9 cr=E8me=\r\n soft break", "café crème soft break"),
        (["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"],
         b64("tschüß".encode()).encode(), "tschüß"),
        (["Content-Type: text/plain; charset=ks_c_5601-1987", "Content-Transfer-Encoding: base64"],
         b64("안녕하세요".encode("cp949")).encode(), "안녕하세요"),
        (["Content-Type: text/plain; charset=shift_jis"], "テスト".encode("cp932"), "テスト"),
        (["Content-Type: text/plain; charset=us-ascii"], b"mislabelled caf\xe9", "mislabelled café"),
        (["Content-Type: text/plain; charset=x-unknown"], "unknown ü".encode(), "unknown ü"),
        (["Content-Type: text/plain; charset=zlib"], b"not compressed", "not compressed"),
        (["Content-Type: text/plain"], b"\x81\x8d bytes", "\x81\x8d bytes"),
        (["Content-Type: text/html; charset=utf-8"], b"<p>Hi&nbsp;<b>there</b></p><script>x()</script>", "Hi there"),
        ([], b"no content type", "no content type"),
        (["Content-Type: garbage"], b"invalid content type", "invalid content type"),
    ],
    ids=["qp-latin1", "base64-utf8", "korean", "shift-jis", "ascii-mislabelled", "unknown-charset",
         "non-text-codec", "undecodable-bytes", "html-reduced", "default-type", "invalid-type"],
)  # fmt: skip
def test_body_decoding(headers: list[str], body: bytes, expected: str) -> None:
    m = parse_message(eml("From: a@example.com", *headers, body=body))
    assert m.body_texts() == (expected,)
    assert_clean(m)


def test_fallback_decoding_is_noted_in_content_defects_only() -> None:
    m = parse("From: a@example.com", "Content-Type: text/plain; charset=x-unknown", body=b"caf\xe9")
    assert m.defects == ()
    assert m.content_defects() == (
        "body part 1: text in 'x-unknown' could not be decoded exactly; read with a fallback",
    )


def test_alternative_gives_two_body_texts_and_no_attachment() -> None:
    data = multipart(
        part("Content-Type: text/plain; charset=utf-8", body="plain version"),
        part("Content-Type: text/html; charset=utf-8", body="<p>html <i>version</i></p>"),
        subtype="alternative",
    )
    m = parse_message(data)
    assert m.body_texts() == ("plain version", "html version")
    assert m.attachments() == ()


def test_attachment_detection_md5_and_filenames() -> None:
    data = multipart(
        part("Content-Type: text/plain", body="see attached"),
        part("Content-Type: application/pdf; name=report.pdf", "Content-Transfer-Encoding: base64",
             "Content-Disposition: attachment; filename=\"report.pdf\"", body=b64(PDF)),
        part("Content-Type: text/plain; charset=utf-8",
             "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.txt", body="EUR rates"),
        part("Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
             "Content-Disposition: attachment; filename=\"=?utf-8?b?w6l0w6kucGRm?=\"", body=b64(b"\x00\x01")),
        part("Content-Type: image/png", "Content-Transfer-Encoding: base64", body=b64(b"\x89PNG fake")),
        part("Content-Type: text/plain; charset=iso-8859-1", "Content-Disposition: attachment",
             "Content-Transfer-Encoding: quoted-printable", body="na=EFve"),
        part("Content-Type: text/csv; name=data.csv", body="a,b\r\n1,2\r\n"),
        part("Content-Type: text/calendar", body="BEGIN:VCALENDAR"),
    )  # fmt: skip
    m = parse_message(data)
    assert m.body_texts() == ("see attached",)
    assert m.attachments() == (
        Attachment("report.pdf", "application/pdf", len(PDF), hashlib.md5(PDF).hexdigest(), None),
        Attachment(
            "€ rates.txt", "text/plain", 9, hashlib.md5(b"EUR rates").hexdigest(), "EUR rates"
        ),
        Attachment(
            "été.pdf", "application/octet-stream", 2, hashlib.md5(b"\x00\x01").hexdigest(), None
        ),
        Attachment(None, "image/png", 9, hashlib.md5(b"\x89PNG fake").hexdigest(), None),
        Attachment(None, "text/plain", 5, hashlib.md5(b"na\xefve").hexdigest(), "naïve"),
        Attachment(
            "data.csv", "text/csv", 10, hashlib.md5(b"a,b\r\n1,2\r\n").hexdigest(), "a,b\n1,2\n"
        ),
        Attachment(
            None,
            "text/calendar",
            15,
            hashlib.md5(b"BEGIN:VCALENDAR").hexdigest(),
            "BEGIN:VCALENDAR",
        ),
    )
    assert_clean(m)


@pytest.mark.parametrize(
    ("disposition", "expected_filename"),
    [
        ("attachment; filename=plain.bin", "plain.bin"),
        ('attachment; filename="quoted name.bin"', "quoted name.bin"),
        ("attachment; filename*=iso-8859-1''na%EFve.bin", "naïve.bin"),
        ("attachment; filename*0*=utf-8''%E6%97%A5%E6%9C%AC; filename*1=.bin", "日本.bin"),
        ('attachment; filename="=?iso-2022-jp?B?GyRCJEYkOSRIGyhC?=.txt"', "てすと.txt"),
        ("attachment; filename*=x-unknown''abc.bin", "abc.bin"),
        ("attachment; filename*=idna''%ff.bin", "ÿ.bin"),
        ("attachment; filename*=a; filename*0=b", None),
        ("attachment; filename*" + "9" * 5000 + "=x", None),
        ("attachment", None),
    ],
    ids=["plain", "quoted", "rfc2231", "rfc2231-continuation", "rfc2047-in-quotes", "rfc2231-unknown-charset",
         "rfc2231-idna-refused", "mixed-continuations-stdlib-raises", "huge-continuation-number", "none"],
)  # fmt: skip
def test_attachment_filenames(disposition: str, expected_filename: str | None) -> None:
    data = multipart(
        part(
            "Content-Type: application/octet-stream",
            f"Content-Disposition: {disposition}",
            body="x",
        )
    )
    m = parse_message(data)
    (attachment,) = m.attachments()
    assert attachment.filename == expected_filename
    assert_clean(m)


def test_eight_bit_filename_is_read_as_utf8() -> None:
    data = multipart(
        b"Content-Type: text/plain; name=ci\xc3\xable.txt\r\nContent-Disposition: attachment;\r\n"
        b"\tfilename=ci\xc3\xable.txt\r\n\r\nHi there."
    )
    (attachment,) = parse_message(data).attachments()
    assert (attachment.filename, attachment.text) == ("ciële.txt", "Hi there.")


def test_attached_message_is_one_attachment_with_its_text_and_its_own_attachments() -> None:
    inner = multipart(
        part("Content-Type: text/plain", body="inner body words"),
        part("Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
             "Content-Disposition: attachment; filename=inner.pdf", body=b64(PDF)),
        boundary="INNER", headers=("Subject: =?utf-8?q?Inner_subj=C3=A9ct?=",),
    )  # fmt: skip
    data = multipart(
        part("Content-Type: text/plain", body="outer body"),
        part(
            "Content-Type: message/rfc822",
            "Content-Disposition: attachment; filename=fwd.eml",
            body=inner,
        ),
    )
    m = parse_message(data)
    assert m.body_texts() == ("outer body",)
    forwarded, pdf = m.attachments()
    assert (forwarded.filename, forwarded.content_type) == ("fwd.eml", "message/rfc822")
    assert "Subject: Inner subjéct" in forwarded.text and "inner body words" in forwarded.text
    assert forwarded.size > 0 and len(forwarded.md5) == 32
    assert pdf == Attachment(
        "inner.pdf", "application/pdf", len(PDF), hashlib.md5(PDF).hexdigest(), None
    )
    assert_clean(m)


def test_delivery_status_report_is_readable() -> None:
    data = multipart(
        part("Content-Type: text/plain", body="could not deliver"),
        part("Content-Type: message/delivery-status",
             body="Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; gone@example.com\r\nStatus: 5.1.1\r\n"),
        part("Content-Type: text/rfc822-headers", body="Subject: original\r\n"),
        subtype="report",
    )  # fmt: skip
    m = parse_message(data)
    assert m.body_texts() == ("could not deliver",)
    status, headers = m.attachments()
    assert status.content_type == "message/delivery-status"
    assert "Final-Recipient: rfc822; gone@example.com" in status.text
    assert (headers.content_type, headers.text) == ("text/rfc822-headers", "Subject: original\n")


def test_uuencoded_attachment_is_decoded() -> None:
    payload = b"uuencoded payload bytes"
    uu = b"begin 644 file.bin\r\n" + binascii.b2a_uu(payload) + b"`\r\nend\r\n"
    data = multipart(part("Content-Type: application/octet-stream", "Content-Transfer-Encoding: x-uuencode",
                          "Content-Disposition: attachment; filename=file.bin", body=uu))  # fmt: skip
    (attachment,) = parse_message(data).attachments()
    assert (attachment.size, attachment.md5) == (len(payload), hashlib.md5(payload).hexdigest())


def test_single_part_binary_message_is_an_attachment() -> None:
    m = parse("From: a@example.com", "Content-Type: application/x-gzip; name=blah.gz",
              "Content-Transfer-Encoding: base64", body=b64(b"\x1f\x8b gz"))  # fmt: skip
    assert m.body_texts() == ()
    assert m.attachments() == (
        Attachment(
            "blah.gz", "application/x-gzip", 5, hashlib.md5(b"\x1f\x8b gz").hexdigest(), None
        ),
    )


def test_multipart_without_boundary_is_read_as_text() -> None:
    m = parse(
        "From: a@example.com",
        "Content-Type: multipart/mixed",
        body="raw text of a broken multipart",
    )
    assert m.body_texts() == ("raw text of a broken multipart",)
    assert any("declares no boundary" in d for d in m.defects)


def test_multipart_with_broken_rfc2231_boundary_does_not_crash() -> None:
    # The standard library raises TypeError on this header; we read on.
    m = parse(
        "From: a@example.com",
        "Content-Type: multipart/mixed; boundary*=x; boundary*0=y",
        body="--x\r\n\r\nhi\r\n--x--",
    )
    assert m.header_from == "a@example.com"
    assert isinstance(m.body_texts(), tuple)


@pytest.mark.parametrize(
    "value",
    ['text/plain; charset="utf-8"; name="a;b.txt"', "text/plain; a=1;; b=2;", 'x/y; a="q\\";x"; b=c', "text/plain",
     'a; b="unclosed; c=d', "multipart/mixed; boundary=abc", ";;;", ""],
)  # fmt: skip
def test_linear_param_split_matches_the_standard_library(value: str) -> None:
    assert message_module._split_params(value) == email.message._parseparam(value)


# --------------------------------------------------------------------------
# Nesting cap and hostile input


def nested(depth: int, secret: str = "deep secret") -> bytes:
    out = [b"From: a@example.com\r\nTo: b@example.com\r\n"]
    for i in range(depth):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\n" + secret.encode() + b"\r\n")
    for i in reversed(range(depth)):
        out.append(b"--b%d--\r\n" % i)
    return b"".join(out)


CAP_NOTE = f"MIME parts nested more than {MAX_NESTING} levels deep were not read"


@pytest.mark.parametrize(
    ("depth", "readable"),
    [
        (1, True),
        (MAX_NESTING, True),
        (MAX_NESTING + 1, False),
        (MAX_NESTING + 10, False),
        (5000, False),
    ],
    ids=["shallow", "at-the-cap", "one-beyond", "beyond", "very-deep"],
)
def test_nesting_cap(depth: int, readable: bool) -> None:
    m = parse_message(nested(depth))
    assert (m.body_texts() == ("deep secret",)) is readable
    assert (CAP_NOTE in m.defects) is (not readable)
    assert m.recipients == ("b@example.com",)


def test_deep_message_rfc822_chain_is_capped() -> None:
    data = (
        b"From: a@example.com\r\n"
        + b"Content-Type: message/rfc822\r\n\r\n" * 3000
        + b"Subject: x\r\n\r\nbody\r\n"
    )
    m = parse_message(data)
    assert CAP_NOTE in m.defects
    assert len(m.attachments()) == MAX_NESTING


@pytest.mark.parametrize(
    "data",
    [
        eml("From: a@example.com", "Subject: " + "x" * 1_000_000),
        eml("From: a@example.com", "To: " + "@" * 1_000_000),
        eml("From: a@example.com", "Subject: " + "=?utf-8?b?YWJj?= " * 60_000),
        eml("From: a@example.com", 'Content-Type: multipart/mixed; a="' + ";" * 1_000_000),
        eml("From: a@example.com", "Content-Type: text/plain; " + ";" * 1_000_000),
        eml("From: a@example.com", 'Content-Disposition: attachment; filename="' + ";" * 1_000_000),
        eml(*(f"X-H{i}: v" for i in range(50_000)), "From: a@example.com"),
        b"From: a@example.com\r\nSubject: \xff\xfe\xc3\x28\r\nTo: \xe9@x.com, b@x.com\r\n\r\n" + bytes(range(256)) * 1000,
        b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + b"<a " * 100_000,
        multipart(*(part("Content-Type: application/octet-stream; name=f.bin", body="AAAA") for _ in range(5000))),
    ],
    ids=["1mb-subject", "1mb-to", "many-encoded-words", "1mb-content-type-quote", "1mb-content-type-semicolons",
         "1mb-disposition", "50k-headers", "invalid-utf8-everywhere", "hostile-html-body", "5000-parts"],
)  # fmt: skip
def test_hostile_input_is_read(data: bytes) -> None:
    # Each of these is quadratic (minutes) without the guards in message.py.
    m = parse_message(data)
    assert m.header_from in ("a@example.com", "ann@example.com")
    assert isinstance(m.body_texts(), tuple) and isinstance(m.attachments(), tuple)
    assert_clean(m)


def test_defect_notes_are_bounded_and_one_line() -> None:
    m = parse("From: a@example.com", "To: " + ", ".join(f"bad{i}" for i in range(500)))
    assert len(m.defects) == 101
    assert m.defects[-1] == "... and 400 more notes"
    assert all("\n" not in d for d in m.defects)


# --------------------------------------------------------------------------
# The real-world corpus (../shared/corpus): never anything but Message or MessageError


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def _read(data: bytes) -> Message | MessageError:
    try:
        m = parse_message(data)
    except MessageError as exc:
        assert "unexpected error" not in str(exc), str(exc)
        assert "\n" not in str(exc)
        return exc
    texts, attachments = m.body_texts(), m.attachments()
    assert all(isinstance(t, str) for t in texts)
    assert all(isinstance(a, Attachment) and len(a.md5) == 32 for a in attachments)
    assert_clean(m)
    return m


@pytest.mark.slow  # the whole corpus
@pytest.mark.parametrize(
    "path", _corpus_files() or [None], ids=lambda p: str(p.relative_to(CORPUS)) if p else "absent"
)
def test_corpus_file_gives_message_or_message_error(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"corpus not found at {CORPUS}")
    _read(path.read_bytes())


@pytest.mark.slow  # the whole corpus
def test_every_corpus_eml_file_gives_a_message() -> None:
    files = [p for p in _corpus_files() if p.suffix == ".eml"]
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    failed = {
        str(p.relative_to(CORPUS)): str(r)
        for p in files
        if isinstance(r := _read(p.read_bytes()), MessageError)
    }
    assert failed == {}


# --------------------------------------------------------------------------
# Property tests: nothing but Message or MessageError, ever


SAMPLE = multipart(
    part("Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", body="Gr=C3=BC=C3=9Fe"),
    part("Content-Type: text/html; charset=iso-8859-1", body="<p>café <b>x</b></p>".encode("latin-1")),
    part("Content-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9port.pdf?=\"", "Content-Transfer-Encoding: base64",
         "Content-Disposition: attachment; filename*=utf-8''r%C3%A9port.pdf", body=b64(PDF[:60])),
    part("Content-Type: message/rfc822", body=eml("From: x@y.com", "Subject: inner", body="inner body")),
    headers=("Return-Path: <ann@example.com>", "Received: from mx (mx [192.0.2.1]) by y",
             "Cc: Undisclosed: c@x.com;", "Subject: =?utf-8?b?w6l0w6k=?="),
)  # fmt: skip

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_sample_is_rich_enough_for_mutation_tests() -> None:
    m = parse_message(SAMPLE)
    assert (m.envelope_from, m.source_ip, m.subject) == ("ann@example.com", "192.0.2.1", "été")
    assert m.body_texts() == ("Grüße", "café x")
    assert [a.content_type for a in m.attachments()] == ["application/pdf", "message/rfc822"]
    assert m.attachments()[0].filename == "réport.pdf"


@PROPERTY_SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    _read(data)


@PROPERTY_SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_after_a_header(tail: bytes) -> None:
    _read(b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n" + tail)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255)), min_size=1, max_size=20
    )
)
def test_byte_flips(flips: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLE)
    for pos, value in flips:
        data[pos] = value
    _read(bytes(data))


@PROPERTY_SETTINGS
@given(st.integers(0, len(SAMPLE)))
def test_truncation(length: int) -> None:
    _read(SAMPLE[:length])


_INTERESTING = st.sampled_from(
    [b"\r\n", b"\n\n", b"--BOUNDARY\r\n", b"--BOUNDARY--", b":", b";", b'"', b"=?", b"?=", b"=?utf-8?b?", b"<", b">",
     b"(", b")", b"[", b"]", b"\\", b"*0*=", b"\x00", b"\xff", b"\xc3", b"Content-Type: multipart/mixed; boundary=z\r\n",
     b"Content-Type: message/rfc822\r\n\r\n", b"Content-Transfer-Encoding: base64\r\n", b"charset=zlib"]
)  # fmt: skip


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE)), st.one_of(_INTERESTING, st.binary(min_size=1, max_size=8))),
                min_size=1, max_size=10))  # fmt: skip
def test_insertions(insertions: list[tuple[int, bytes]]) -> None:
    data = SAMPLE
    for pos, chunk in sorted(insertions, reverse=True):
        data = data[:pos] + chunk + data[pos:]
    _read(data)


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_html_to_text_never_raises(html: str) -> None:
    assert isinstance(html_to_text(html), str)


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_decode_header_words_never_raises(text: str) -> None:
    decoded, ok = decode_header_words(text)
    assert isinstance(decoded, str) and isinstance(ok, bool)
    if "=?" not in text:
        assert (decoded, ok) == (text, True)


def _transfer_decode_base64_as_it_was(body: bytes) -> tuple[bytes, str | None]:
    """base64 as transfer_decode undid it with regular expressions (before
    bytes.translate and the one-chunk path): the reference for the test below."""
    import re

    clean = re.sub(rb"[^A-Za-z0-9+/=]", b"", body)
    note = (
        None
        if len(clean) == len(body.translate(None, b" \t\r\n"))
        else "base64 content has characters outside the base64 alphabet; they were skipped"
    )
    chunks = [c for c in re.split(rb"=+", clean) if c]
    if len(chunks) > 1:
        note = "base64 content continues after its padding; each part was decoded"
    out = []
    for chunk in chunks:
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
        out.append(binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4)))
    return b"".join(out), note


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.sampled_from(
                [b"QUJD", b"YQ", b"=", b"==", b"\r\n", b" ", b"\x00", b"\xff", b"-", b"Zm9v"]
            ),
            max_size=40,
        ).map(b"".join),
        st.binary(max_size=150).map(base64.encodebytes),
    )
)
def test_base64_is_undone_as_before_whatever_the_bytes(body):
    """transfer_decode's faster base64 (translate instead of a regular
    expression, no split when the padding is only at the end) gives the same
    bytes and the same note as before, for any input."""
    from secmsg_cli.engine.message import transfer_decode

    assert transfer_decode("base64", body) == _transfer_decode_base64_as_it_was(body)
