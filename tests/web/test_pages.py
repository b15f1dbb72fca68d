"""The portal's pages as pure functions (what ``portal serve`` serves and a
preview writes): the static preview, every state of a copy, the message's
HTML sanitised, text from the message escaped; and that rendering them is
never paid for by a command that does not."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import markupsafe
import pytest

from tests.web.conftest import READ_AT
from tests.web.test_app import csrf_of, sign_in


@pytest.fixture
def copy_and_view(portal):
    """Copy 2 (everything allowed) and its view, read from the store."""
    from secmsg_cli.delivery import compose
    from secmsg_cli.store.store import Store

    with Store(portal.db) as store:
        copy = store.portal_records.portal_copy(2)
        view = compose.read_view(store.portal_records.portal_message_raw(copy.message_ref))
        tz = store.account_tz()
    return copy, view, tz


ALL = {"view": True, "print": True, "reply": True, "reply_all": True}


def page(copy, view, tz, **kw):
    from secmsg_cli.web.pages import message_page

    values = dict(copy=copy, view=view, at=READ_AT, tz=tz, actions=ALL, expired=False)
    return message_page(**(values | kw))


def test_without_a_csrf_token_the_page_is_a_static_preview(copy_and_view):
    copy, view, tz = copy_and_view
    preview = page(copy, view, tz)
    assert "<fieldset disabled>" in preview and 'id="print" disabled' in preview
    assert 'name="csrf"' not in preview and 'id="preview-note"' in preview
    live = page(copy, view, tz, csrf='a"b<c', base="/secure")
    assert "<fieldset>" in live and 'id="print" disabled' not in live
    assert 'name="csrf" value="a&#34;b&lt;c"' in live
    assert 'action="/secure/reply"' in live and 'action="/secure/print"' in live


def test_the_served_page_is_the_page_function_of_the_same_copy(portal, copy_and_view):
    _, view, tz = copy_and_view
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    served = client.get("/portal/").text
    from secmsg_cli.store.store import Store

    with Store(portal.db) as store:
        now_read = store.portal_records.portal_copy(2)
    assert served == page(now_read, view, tz, csrf=csrf_of(served), base="/portal")


@pytest.mark.parametrize(
    ("change", "kw", "title"),
    [
        ({"revoked_at": datetime(2026, 11, 28, tzinfo=UTC)}, {}, "was revoked"),
        ({"recalled_at": datetime(2026, 11, 28, tzinfo=UTC)}, {}, "no longer available"),
        ({}, {"expired": True, "actions": dict.fromkeys(ALL, False)}, "has expired"),
    ],
    ids=["revoked", "recalled", "expired"],
)
def test_a_copy_that_cannot_be_viewed_gets_the_page_saying_why(copy_and_view, change, kw, title):
    copy, view, tz = copy_and_view
    shown = page(dataclasses.replace(copy, **change), view, tz, **kw)
    assert title in shown and "Engagement letter" not in shown and "<form" not in shown


def test_expired_but_viewable_says_so_and_offers_no_reply(copy_and_view):
    copy, view, tz = copy_and_view
    acts = {"view": True, "print": True, "reply": False, "reply_all": False}
    shown = page(copy, view, tz, expired=True, actions=acts, csrf="x")
    assert "This secure message expired on 2026-12-27 10:00 GMT" in shown
    assert "<fieldset disabled>" in shown and 'id="print" disabled' not in shown


def test_text_from_the_message_is_escaped_and_isolated(copy_and_view):
    copy, view, tz = copy_and_view
    hostile = dataclasses.replace(
        view,
        subject="<script>alert(1)</script>\u202egnp.exe",
        from_='"Eve" <eve@example.com><img src=x onerror=alert(1)>',
        text="</pre><script>alert(2)</script>",
        html_parts=(),
    )
    shown = page(copy, hostile, tz)
    assert "<script>" not in shown and "<img" not in shown
    assert "<h1><bdi>&lt;script&gt;alert(1)&lt;/script&gt;\u202egnp.exe</bdi></h1>" in shown
    assert '<pre class="text">&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;</pre>' in shown


@pytest.mark.parametrize(
    ("markup", "kept", "gone"),
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>", ["script", "alert"]),
        ('<p onclick="x()" onmouseover="y()">hi</p>', "<p>hi</p>", ["onclick", "onmouseover"]),
        ('<img src="https://t.example/p.gif" onerror="x()">', "", ["img", "t.example"]),
        ('<a href="javascript:alert(1)">x</a>', "x</a>", ["javascript"]),
        ('<a href="data:text/html,<script>x</script>">x</a>', "x</a>", ["data:"]),
        ('<meta http-equiv="refresh" content="0;url=https://e.example/">', "", ["meta", "refresh"]),
        ('<p style="background:url(https://e.example/x)">p</p>', "<p>p</p>", ["url(", "style"]),
        ("<style>p{background:url(https://e.example/x)}</style><p>p</p>", "<p>p</p>", ["url("]),
        ('<base href="https://e.example/"><a href="/x">x</a>', "x</a>", ["base", "e.example"]),
        ('<form action="https://e.example"><input name="pw"></form>', "", ["form", "input"]),
        ('<iframe src="https://e.example"></iframe>', "", ["iframe"]),
        ('<svg onload="x()"><circle/></svg>', "", ["svg", "onload"]),
        ("<!-- a comment --><p>p</p>", "<p>p</p>", ["comment"]),
        (
            '<a href="https://ok.example/doc" target="_blank">doc</a>',
            '<a href="https://ok.example/doc" rel="noopener noreferrer">doc</a>',
            ["target"],
        ),
        ('<a href="mailto:a@example.com">mail</a>', 'href="mailto:a@example.com"', []),
    ],
)
def test_sanitise(markup, kept, gone):
    from secmsg_cli.web.pages import sanitise

    clean = sanitise(markup)
    assert kept in clean, clean
    for bad in gone:
        assert bad not in clean.lower(), (bad, clean)


def test_commands_do_not_load_the_portal_s_libraries():
    """Cold start: only ``portal serve`` (or a page rendered) imports them."""
    probe = (
        "import sys, secmsg_cli.cli.app, secmsg_cli.cli.portal\n"
        "loaded = [m for m in ('starlette', 'uvicorn', 'jinja2', 'nh3', 'secmsg_cli.web.pages')"
        " if m in sys.modules]\n"
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _without_actions(page_html: str) -> str:
    """A page without its actions (live forms in the portal, disabled in a
    preview) and its download links (a preview names the attachments only)."""
    start = page_html.index('<div class="actions" id="actions">')
    end = page_html.index("</main>", start)
    page_html = page_html[:start] + page_html[end:]
    return re.sub(
        r'<a href="/portal/attachment/\d+" id="attachment-\d+">(.*?)</a>', r"\1", page_html
    )


def _without_form(page_html: str) -> str:
    """The open page without its form (the button live in the portal, with
    the token; disabled in a preview, with a note)."""
    start = page_html.index('<form method="post"')
    end = page_html.index("</main>", start)
    return page_html[:start] + page_html[end:]


@pytest.mark.parametrize("copy_id", range(1, 9))
def test_preview_writes_the_page_the_portal_serves_for_the_same_copy(portal, tmp_path, copy_id):
    """``secmsg preview`` of a message at the time it was delivered writes,
    for each portal recipient, the page ``portal serve`` then shows that
    recipient: the same page but for its forms, live in the portal. (Every
    copy the demo messages make.)"""
    from secmsg_cli.store.store import Store
    from tests.web.conftest import SENT

    assert sorted(portal.tokens()) == list(range(1, 9))
    with Store(portal.db) as store:
        copy = store.portal_records.portal_copy(copy_id)
        raw = store.portal_records.portal_message_raw(copy.message_ref)
    message = tmp_path / "m.eml"
    message.write_bytes(raw)
    doc = portal.cli("preview", message, "--out", tmp_path / "p", "--at", SENT, "-o", "json")
    assert doc.exit_code == 0, doc.output
    (mine,) = [r for r in doc.json["recipients"] if r["address"] == copy.recipient]
    written = next(f for f in mine["files"] if f.endswith("/portal.html"))
    client = portal.client()
    sign_in(client, portal.tokens()[copy_id])
    served = client.get("/portal/").text
    with open(written, encoding="utf-8") as fh:
        previewed = fh.read()
    assert 'id="preview-note"' in previewed and 'name="csrf"' in served
    assert _without_actions(previewed) == _without_actions(served)
    assert str(markupsafe.escape(copy.subject)) in _without_actions(previewed)
    # and the page the link shows first, the same but for its live button
    opened = Path(written).with_name("open.html").read_text(encoding="utf-8")
    landing = portal.client().get(f"/portal?token={portal.tokens()[copy_id]}").text
    assert _without_form(opened) == _without_form(landing)
    assert 'id="open" disabled' in opened and 'id="open" disabled' not in landing


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1.0 KB"),
        (9 * 1024 + 512, "9.5 KB"),
        (10 * 1024 - 1, "10 KB"),
        (120 * 1024, "120 KB"),
        (int(2.4 * 1024**2), "2.4 MB"),
        (3 * 1024**4, "3,072 GB"),
    ],
)
def test_attachment_sizes_read_as_the_command_line_writes_them(n, shown):
    from secmsg_cli.web.pages import size

    assert size(n) == shown


@pytest.mark.parametrize(
    "unclosed",
    [
        "<!--",
        "<script>",
        "<style>",
        "<template>",
        "<textarea>",
        "<title>",
        "<a href='https://e.example/'>",
    ],
)
def test_a_part_s_unclosed_markup_does_not_hide_or_swallow_the_next_part(copy_and_view, unclosed):
    """Each part is sanitised on its own: an HTML part ending in an open
    comment, script or link cannot hide the text part after it (a list's
    footer, an 'external mail' notice) or turn it into a link."""
    from secmsg_cli.delivery.compose import read_view

    copy, _, tz = copy_and_view
    raw = (
        "From: a@harborfinch.com\nTo: b@lexpartners.com\nSubject: s\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        f"--b\nContent-Type: text/html\n\n<p>Hi</p>{unclosed}\n"
        "--b\nContent-Type: text/plain\n\nEXTERNAL SENDER footer\n--b--\n"
    ).encode()
    shown = page(copy, read_view(raw), tz)
    assert "<pre>EXTERNAL SENDER footer</pre>" in shown
    assert "</a>\n<pre>EXTERNAL" in shown or "<a" not in unclosed
