"""Reading a message as its reader would (SPEC §6.1: what could not be read
fails closed): the tricks a sender can use so that a word a reader sees is
not where content examination looks.

Each case is a message whose body a mail client shows as containing
"this is confidential"; a content definition looking for "confidential" in
one section must find it, or fire because that section could not be read.
"""

from __future__ import annotations

import base64

import pytest

from secmsg_cli.engine.decide import Context, decide
from tests.engine._build import AT, cdef, ce, world

HEAD = b"From: alice@example.com\r\nTo: bob@partner.com\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
B64 = base64.b64encode(b"this is confidential\n")


def single(ctype: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return HEAD + b"Content-Type: " + ctype + b"\r\n" + extra + b"\r\n" + body


def mixed(*parts: bytes) -> bytes:
    return (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="P"\r\n\r\n'
        + b"".join(b"--P\r\n" + p + b"\r\n" for p in parts)
        + b"--P--\r\n"
    )


CASES = [
    # id, message, the section a definition must look in
    ("control", single(b"text/plain", b"this is confidential\r\n"), "body"),
    # HTML where html.parser and a browser disagree: the tag-stripped source is examined too
    ("html-empty-comment", single(b"text/html", b"<p>hi<!-->this is confidential</p>"), "body"),
    (
        "html-comment-ended-by-bang",
        single(b"text/html", b"<p>hi<!-- x --!>this is confidential</p>"),
        "body",
    ),
    (
        "html-script-in-attribute",
        single(b"text/html", b'<p><a title="<script>">this is confidential</a></p>'),
        "body",
    ),
    (
        "html-script-in-textarea",
        single(b"text/html", b"<textarea><script></textarea><p>this is confidential</p>"),
        "body",
    ),
    (
        "html-processing-instruction",
        single(b"text/html", b"<p>this is confi<?x>dential</p>"),
        "body",
    ),
    ("html-nul-in-word", single(b"text/html", b"<p>this is confi\x00dential</p>"), "body"),
    # invisible characters inside a word
    (
        "soft-hyphen",
        single(b"text/plain; charset=utf-8", "this is confi\u00addential".encode()),
        "body",
    ),
    (
        "zero-width-space",
        single(b"text/plain; charset=utf-8", "this is con\u200bfidential".encode()),
        "body",
    ),
    ("word-joiner-in-html", single(b"text/html", b"this is confi&#x2060;dential"), "body"),
    # named text parts a client shows inline: examined as body and as attachment
    (
        "named-html-single-part",
        single(b'text/html; name="n.html"', b"<p>this is confi<b></b>dential</p>"),
        "body",
    ),
    (
        "named-html-single-part-as-attachment",
        single(b'text/html; name="n.html"', b"<p>this is confi<b></b>dential</p>"),
        "attachments",
    ),
    (
        "html-attachment-entity",
        mixed(
            b"Content-Type: text/plain\r\n\r\nhi",
            b'Content-Type: text/html; name="n.html"\r\n\r\nthis is &#99;onfidential',
        ),
        "attachments",
    ),
    (
        "inline-named-text",
        mixed(
            b"Content-Type: text/plain\r\n\r\nhi",
            b'Content-Type: text/plain; name="a.txt"\r\n'
            b'Content-Disposition: inline; filename="a.txt"\r\n\r\nthis is confidential',
        ),
        "body",
    ),
    # transfer encodings the standard library would leave encoded, or cut short
    (
        "cte-trailing-blank",
        single(b"text/plain", B64 + b"\r\n", b"Content-Transfer-Encoding: base64 \r\n"),
        "body",
    ),
    (
        "cte-comment",
        single(b"text/plain", B64 + b"\r\n", b"Content-Transfer-Encoding: base64 (c)\r\n"),
        "body",
    ),
    (
        "cte-semicolon",
        single(b"text/plain", B64 + b"\r\n", b"Content-Transfer-Encoding: BASE64;\r\n"),
        "body",
    ),
    (
        "base64-padding-mid-stream",
        single(
            b"text/plain",
            base64.b64encode(b"hi") + B64 + b"\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
        ),
        "body",
    ),
    (
        "qp-soft-break-with-blanks",
        single(
            b"text/plain",
            b"this is confi= \r\ndential\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
        ),
        "body",
    ),
    (
        "format-flowed-delsp",
        single(b"text/plain; format=flowed; delsp=yes", b"this is confi \r\ndential\r\n"),
        "body",
    ),
    (
        "utf-16-without-bom-is-big-endian",
        single(
            b"text/plain; charset=utf-16",
            base64.b64encode("this is confidential".encode("utf-16-be")),
            b"Content-Transfer-Encoding: base64\r\n",
        ),
        "body",
    ),
    # what cannot be read at all is unscannable: the definition fires
    (
        "encoded-attached-message",
        mixed(
            b"Content-Type: text/plain\r\n\r\nhi",
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(b"From: x@y.example\r\n\r\nthis is confidential\r\n"),
        ),
        "attachments",
    ),
    (
        "smime-encrypted",
        single(
            b'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
            base64.encodebytes(b"\x30\x80" + bytes(200)),
            b"Content-Transfer-Encoding: base64\r\n",
        ),
        "body",
    ),
    (
        "pgp-inline",
        single(
            b"text/plain",
            b"-----BEGIN PGP MESSAGE-----\r\nhQEMA1234\r\n-----END PGP MESSAGE-----\r\n",
        ),
        "body",
    ),
    # a second Subject: field is in the header block
    (
        "second-subject",
        HEAD.replace(b"Subject: hi\r\n", b"Subject: hi\r\nSubject: this is confidential\r\n")
        + b"\r\nhello\r\n",
        "headers",
    ),
]


@pytest.mark.parametrize(("data", "section"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_what_a_reader_sees_is_examined_or_fails_closed(data, section):
    from secmsg_cli.engine.message import parse_message

    snapshot = world(
        content=[cdef(1, "Probe", ["1 confidential"], scan=[section])], policies=[ce(1, cd="Probe")]
    )
    decision = decide(snapshot, parse_message(data), Context(at=AT))
    (outcome,) = decision.recipients[0].content
    assert outcome.fired, outcome.reason


def test_a_word_hidden_only_in_markup_still_counts_once():
    """The HTML source view is examined beside the reduced text, in one
    component: a word in both counts once."""
    from secmsg_cli.engine.message import parse_message

    snapshot = world(
        content=[cdef(1, "Probe", ["1 confidential"], score=2, scan=["body"])],
        policies=[ce(1, cd="Probe")],
    )
    decision = decide(
        snapshot, parse_message(single(b"text/html", b"<p>confidential</p>")), Context(at=AT)
    )
    (outcome,) = decision.recipients[0].content
    assert (outcome.score, outcome.fired) == (1, False)


def test_notes_do_not_depend_on_what_the_configuration_examined():
    """The notes of a message are the same whether or not a definition read
    its attachments (--explain and the fast path agree)."""
    from secmsg_cli.engine.message import parse_message

    parts = [
        b'Content-Type: text/plain; name="a%d.txt"\r\nContent-Disposition: attachment\r\n\r\nx' % i
        for i in range(1001)
    ]
    data = mixed(*parts)
    nothing = world()
    plain = decide(nothing, parse_message(data), Context(at=AT))
    explained = decide(nothing, parse_message(data), Context(at=AT, explain=True))
    assert plain.notes == explained.notes
    assert any("past the limit of 1000 parts" in n for n in plain.notes)
