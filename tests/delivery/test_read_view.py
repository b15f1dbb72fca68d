"""What the portal shows of a retained message (``compose.read_view``): the
text and HTML a recipient reads, and the attachments. Every body part of the
message is shown: the parts of a multipart/mixed one after another, one of
each multipart/alternative (the last plain one for the text, the last with HTML
for the page); nothing the sender wrote is left out."""

from __future__ import annotations

import pytest

from secmsg_cli.delivery.compose import read_view

HEAD = (
    "From: Alice <alice@harborfinch.com>\nTo: m.okonkwo@lexpartners.com\n"
    "Subject: parts\nMIME-Version: 1.0\n"
)


def html_of(view) -> str | None:
    """The view's HTML parts one after another (None when none is HTML)."""
    return "\n".join(view.html_parts) if view.html_parts else None


def _msg(body: str) -> bytes:
    return (HEAD + body).encode()


def test_text_parts_either_side_of_an_inline_image_are_both_shown():
    """Apple Mail's shape for a plain message with an inline image."""
    view = read_view(
        _msg(
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            "--b\nContent-Type: text/plain\n\nFirst part.\n"
            '--b\nContent-Type: image/png; name="x.png"\nContent-Disposition: inline; filename="x.png"\n'
            "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
            "--b\nContent-Type: text/plain\n\nSecond part: account 12345678.\n"
            "--b--\n"
        )
    )
    assert view.text == "First part.\nSecond part: account 12345678."
    assert html_of(view) is None
    assert [a.filename for a in view.attachments] == ["x.png"]


def test_alternatives_give_one_text_and_one_html():
    view = read_view(
        _msg(
            'Content-Type: multipart/alternative; boundary="a"\n\n'
            "--a\nContent-Type: text/plain\n\nHello plain\n"
            "--a\nContent-Type: text/html\n\n<p>Hello <b>html</b></p>\n"
            "--a--\n"
        )
    )
    assert view.text == "Hello plain"
    assert html_of(view) == "<p>Hello <b>html</b></p>"


def test_a_footer_after_the_alternatives_is_shown_in_both():
    """A mailing list's footer: mixed(alternative(plain, html), plain)."""
    view = read_view(
        _msg(
            'Content-Type: multipart/mixed; boundary="m"\n\n'
            '--m\nContent-Type: multipart/alternative; boundary="a"\n\n'
            "--a\nContent-Type: text/plain\n\nBody text\n"
            "--a\nContent-Type: text/html\n\n<p>Body <i>html</i></p>\n"
            "--a--\n"
            "--m\nContent-Type: text/plain\n\nFooter <unsubscribe> & more\n"
            "--m--\n"
        )
    )
    assert view.text == "Body text\nFooter <unsubscribe> & more"
    assert html_of(view) is not None
    assert "<p>Body <i>html</i></p>" in html_of(view)
    assert "Footer &lt;unsubscribe&gt; &amp; more" in html_of(view)  # a text part, escaped
    assert html_of(view).index("Body") < html_of(view).index("Footer")


def test_two_html_parts_around_an_image_are_both_shown():
    view = read_view(
        _msg(
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            "--b\nContent-Type: text/html\n\n<p>Before</p>\n"
            '--b\nContent-Type: image/png\nContent-Disposition: inline; filename="x.png"\n\nPNG\n'
            "--b\nContent-Type: text/html\n\n<p>After</p>\n"
            "--b--\n"
        )
    )
    assert view.text == "Before\nAfter"
    assert (
        html_of(view) is not None
        and "<p>Before</p>" in html_of(view)
        and "<p>After</p>" in html_of(view)
    )


@pytest.mark.parametrize(
    ("body", "text", "html"),
    [
        ("Content-Type: text/plain\n\nJust text\n", "Just text\n", None),
        ("Content-Type: text/html\n\n<p>Just html</p>\n", "Just html", "<p>Just html</p>\n"),
    ],
)
def test_a_single_part_message_is_shown_as_before(body, text, html):
    view = read_view(_msg(body))
    assert view.text == text
    assert html_of(view) == html


def test_in_alternatives_the_html_is_the_last_and_the_text_the_plain_one():
    """RFC 2046: the last alternative is the sender's preferred one."""
    view = read_view(
        _msg(
            'Content-Type: multipart/alternative; boundary="a"\n\n'
            "--a\nContent-Type: text/html\n\n<p>First html</p>\n"
            "--a\nContent-Type: text/plain\n\nThe plain one\n"
            "--a\nContent-Type: text/html\n\n<p>Last html</p>\n"
            "--a--\n"
        )
    )
    assert view.text == "The plain one"
    assert html_of(view) == "<p>Last html</p>"


def test_an_empty_text_part_beside_others_adds_nothing():
    view = read_view(
        _msg(
            'Content-Type: multipart/mixed; boundary="b"\n\n'
            "--b\nContent-Type: text/plain\n\nThe text.\n"
            "--b\nContent-Type: text/plain\n\n\n\n"
            "--b--\n"
        )
    )
    assert view.text == "The text."


@pytest.mark.parametrize(
    "raw",
    [
        # a misplaced mbox "From " line among the header fields
        b"Subject: hi\nFrom evil Tue Dec  1 00:00:00 2026\nFrom: CEO <ceo@bank.example>\n"
        b"To: a@b.example\n\nbody\n",
        # a field with no name
        b"Subject: hi\n:x\nFrom: CEO <ceo@bank.example>\nTo: a@b.example\n\nbody\n",
        # a first line that is white space: no field to continue
        b" x\nFrom: a@b.example\nSubject: s\nTo: c@d.example\n\nbody\n",
        # CR CR LF line ends: the engine reads a blank line after From
        b"From: a@b.example\r\r\nSubject: s\r\r\n\r\r\nbody\r\n",
        b"From: a@b.example\rSubject: s\rTo: c@d.example\r\rbody\r",
        b"From sender@x Tue Dec  1 00:00:00 2026\r\nFrom: a@b.example\r\nSubject: s\r\n\r\nb\r\n",
    ],
)
def test_the_header_fields_are_those_the_engine_read_from_the_whole_message(raw):
    """The engine decided on the message from its header fields as it read
    them in the whole message: the page shows those same fields (reading
    only the header block must not change where it ends)."""
    from secmsg_cli.engine.message import parse_message

    m = parse_message(raw)
    view = read_view(raw)
    sender = m.header_from or m.envelope_from or ""
    assert view.from_ == (f"{m.header_from_name} <{sender}>" if m.header_from_name else sender)
    assert view.to_addresses == tuple(a.address for a in m.to)
    assert view.subject == m.subject


@pytest.mark.parametrize(
    "kind",
    ["text/plain", "text/html"],
)
def test_of_alternatives_of_one_kind_the_text_is_the_last_as_the_page_s(kind):
    """RFC 2046: a client shows the last alternative it can; the first is
    the one it hides. The text (print, portal open, a reply's quote) is not
    the unchosen first while the page shows the last."""
    first, last = (
        (f"<p>Pay to account {n}</p>" if kind == "text/html" else f"Pay to account {n}")
        for n in ("111", "222")
    )
    view = read_view(
        _msg(
            'Content-Type: multipart/alternative; boundary="a"\n\n'
            f"--a\nContent-Type: {kind}\n\n{first}\n"
            f"--a\nContent-Type: {kind}\n\n{last}\n"
            "--a--\n"
        )
    )
    assert "222" in view.text and "111" not in view.text
    assert "222" in (html_of(view) or view.text) and "111" not in (html_of(view) or "")
