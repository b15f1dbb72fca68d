"""Notification templates (docs/configuration.md) end to end through the CLI:
a configuration with a template is imported, a message delivered, and the
notification read back from the outbox .eml."""

from __future__ import annotations

import base64
import email
import email.policy
import html.parser
import json
import os
import re
import urllib.parse
from pathlib import Path

import pytest

from secmsg_cli.delivery import compose
from secmsg_cli.lint import html_problem
from secmsg_cli.model import NotificationTemplate

AT = "2026-12-01T10:00:00Z"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

CONFIG = """\
[account]
name = "Example Corp"
timezone = "Europe/London"
portal_url = "https://secure.example.com/portal"

[[domains]]
name = "example.com"

[[folders]]
path = "Legal"
publish_to = ["everyone"]

[[notification_templates]]
name = "Branded"
subject = "[sender_name] sent you: [subject]"
sender_name = "Example Corp Secure Mail"
logo = "brand/logo.png"
html = \"\"\"<html><body>
<p>[sender_name] &lt;[sender]&gt; sent [recipient] <b>[subject]</b> on [sent] ([definition]).</p>
<p><a href="[portal_link]">Open it</a> before [expires].</p>
</body></html>
\"\"\"
text = \"\"\"[sender_name] sent you: [subject]
Open it: [portal_link]
Until [expires].
\"\"\"

[[definitions]]
folder = "Legal"
description = "7 days"
expire_after = "7d"
notification_template = "Branded"

[[definitions]]
folder = "Legal"
description = "Plain"

[[policies]]
kind = "secure-messaging"
narrative = "Partners"
definition = "Legal/7 days"
from = { type = "internal" }
to = { type = "domain", value = "partner.example" }

[[policies]]
kind = "secure-messaging"
narrative = "Others"
definition = "Legal/Plain"
from = { type = "internal" }
to = { type = "domain", value = "other.example" }
"""


@pytest.fixture
def account(bare_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(PNG)
    (tmp_path / "secmsg.toml").write_text(CONFIG, encoding="utf-8")
    result = bare_cli("import", "secmsg.toml")
    assert result.exit_code == 0, result.stderr
    return bare_cli


def deliver(cli, tmp_path: Path, subject: str, to: str = "bob@partner.example") -> list:
    msg = tmp_path / "m.eml"
    msg.write_bytes(
        (
            f'From: "Ann <i>Lee</i>" <ann@example.com>\nTo: {to}\n'
            f"Message-ID: <{len(subject)}.{to}@example.com>\n"
        ).encode()
        + b"Subject: "
        + subject.encode("utf-8")
        + b"\n\nThe draft.\n"
    )
    result = cli("deliver", msg, "--outbox", tmp_path / "outbox", "--at", AT, "-o", "json")
    assert result.exit_code == 0, result.stderr
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    return [
        (f.read_bytes(), email.message_from_bytes(f.read_bytes(), policy=email.policy.default))
        for f in files
    ]


def parts(msg):
    return {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}


def test_deliver_fills_the_template_escapes_values_and_embeds_the_logo(account, tmp_path):
    [(raw, msg)] = deliver(account, tmp_path, "Q3 <draft> & notes")
    assert msg["Subject"] == "Ann <i>Lee</i> sent you: Q3 <draft> & notes"
    assert msg["From"] == "Example Corp Secure Mail <ann@example.com>"
    p = parts(msg)
    assert set(p) == {"text/plain", "text/html", "image/png"}
    page = p["text/html"].get_content()
    assert "<b>Q3 &lt;draft&gt; &amp; notes</b>" in page
    assert "<p>Ann &lt;i&gt;Lee&lt;/i&gt; &lt;ann@example.com&gt; sent" in page
    assert "sent bob@partner.example" in page
    assert "on 2026-12-01 10:00 GMT (7 days)" in page
    assert "before 2026-12-08 10:00 GMT" in page
    link = next(ln for ln in p["text/plain"].get_content().splitlines() if "token=" in ln)
    token_url = link.removeprefix("Open it: ")
    assert token_url.startswith("https://secure.example.com/portal?token=")
    assert f'<a href="{token_url}">' in page
    # the logo: an inline image part the HTML refers to by its Content-ID
    logo = p["image/png"]
    assert logo.get_content() == PNG
    assert logo.get_content_disposition() == "inline"
    cid = logo["Content-ID"].strip("<>")
    assert f'<img src="cid:{cid}"' in page.split("<p>")[0]
    related = [q for q in msg.walk() if q.get_content_type() == "multipart/related"]
    assert len(related) == 1
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


def test_a_hostile_subject_stays_text_everywhere(account, tmp_path):
    # CR LF inside an encoded word: the decoded subject holds a line break
    crlf = "=?utf-8?b?" + base64.b64encode(b"\r\nBcc: evil@x.example").decode() + "?="
    hostile = f'<script>alert(1)</script> "quoted" [portal_link] [sender] {crlf} ' + "é" * 10_000
    [(raw, msg)] = deliver(account, tmp_path, hostile)
    # no header injection: one Subject, no Bcc, nothing after the CR in a field of its own
    assert raw.count(b"\nSubject:") == 1
    assert b"\nBcc:" not in raw and msg["Bcc"] is None
    p = parts(msg)
    page = p["text/html"].get_content()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; [portal_link] [sender]" in page
    # the value's own [portal_link] was not filled: the only link is the template's
    assert page.count("token=") == 1
    text = p["text/plain"].get_content()
    assert "[portal_link] [sender] Bcc: evil@x.example" in text
    assert text.count("token=") == 1
    # every line of the file stays under RFC 5322's 998 octets, the subject shortened
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    assert "…" in msg["Subject"]


def test_a_definition_without_template_sends_the_built_in_notification(account, tmp_path):
    [(_, msg)] = deliver(account, tmp_path, "Hello", to="cat@other.example")
    assert msg["Subject"] == "You've been sent a secure message"
    assert "image/png" not in parts(msg)


GOLDEN = Path(__file__).with_name("notification-builtin.golden.eml")


def test_the_built_in_notification_is_byte_identical_to_before_templates():
    """The golden file was written by the notification code before templates
    existed (only the Message-ID and the boundaries, which are random, are
    masked): a definition without a template sends exactly that."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    msg = compose.notification(
        recipient="jose.mueller@clientco.example",
        sender="zoe@harborfinch.co.uk",
        sender_name='Zoë "Z" <Ångström>',
        subject="Vertragsentwurf <b>&</b> [portal_link] " + "ä" * 500,
        sent=at,
        expires=at + timedelta(days=7),
        link="https://secure.example.com/portal?x=1&token=abc.DEF_123",
        portal_id=42,
        at=at,
        tz=ZoneInfo("Europe/Berlin"),
        host="secure.example.com",
        definition="Legal/7-Day Expiry, Receipt",
    )
    raw = compose.to_bytes(msg)
    raw = re.sub(rb"Message-ID:\s*<[^>]+>", b"Message-ID: <ID>", raw)
    raw = re.sub(rb"={15}\d+==", b"=BOUNDARY=", raw)
    assert raw == GOLDEN.read_bytes()


def test_render_is_a_pure_function_of_template_and_values():
    t = NotificationTemplate(0, "T", "[subject]", "<p>[subject] [nope]</p>", "[subject]\n")
    values = {"subject": "<x> [subject]"}
    r = compose.render_notification(t, values)
    assert r.html == "<p>&lt;x&gt; [subject] [nope]</p>\n"
    assert r.text == "<x> [subject]\n"
    assert r.subject == "<x> [subject]"
    assert r == compose.render_notification(t, values)


def test_export_writes_the_logo_beside_the_config_and_round_trips(account, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert account("export", out / "a.toml").exit_code == 0
    assert (out / "brand" / "logo.png").read_bytes() == PNG
    for name in ("b.db", "c.db"):
        assert account("--db", tmp_path / name, "import", out / "a.toml").exit_code == 0
    assert account("--db", tmp_path / "b.db", "export", out / "b.toml").exit_code == 0
    assert (out / "a.toml").read_bytes() == (out / "b.toml").read_bytes()
    assert account("--db", tmp_path / "b.db", "export", out / "b.json").exit_code == 0
    assert account("--db", tmp_path / "d.db", "import", out / "b.json").exit_code == 0
    assert account("--db", tmp_path / "d.db", "export", out / "d.json").exit_code == 0
    assert (out / "b.json").read_bytes() == (out / "d.json").read_bytes()
    assert json.loads((out / "b.json").read_text())["notification_templates"][0]["logo"] == (
        "brand/logo.png"
    )


def test_plan_sees_a_changed_logo_and_apply_makes_it_so(account, tmp_path):
    (tmp_path / "brand" / "logo.png").write_bytes(b"GIF89a" + b"\0" * 10)
    result = account("plan", "secmsg.toml", "-o", "json")
    changes = json.loads(result.stdout)["changes"]
    assert [(c["kind"], list(c["changes"])) for c in changes] == [
        ("notification-template", ["logo_sha256"])
    ]
    assert account("apply", "secmsg.toml", "--yes").exit_code == 0
    assert "No changes" in account("plan", "secmsg.toml").stdout


@pytest.mark.parametrize(
    ("logo", "bytes_", "fragment"),
    [
        ("../logo.png", PNG, "inside the configuration file's directory"),
        ("/etc/logo.png", PNG, "relative to the configuration file"),
        ("brand/logo.png", b"<svg/>", "not a PNG, JPEG or GIF image"),
        ("brand/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 600_000, "larger than"),
        ("brand/missing.png", None, "cannot read the logo"),
    ],
)
def test_a_bad_logo_is_one_error_with_its_line(bare_cli, tmp_path, logo, bytes_, fragment):
    (tmp_path / "brand").mkdir()
    if bytes_ is not None:
        (tmp_path / "brand" / "logo.png").write_bytes(bytes_)
    config = tmp_path / "secmsg.toml"
    config.write_text(CONFIG.replace('"brand/logo.png"', json.dumps(logo)), encoding="utf-8")
    result = bare_cli("--db", tmp_path / "x.db", "import", config)
    assert result.exit_code == 3
    assert fragment in result.stderr
    assert f"{config}:17:1:" in result.stderr  # the line of logo = ...
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    "markup",
    [
        "<p>fine <b>bold</b><br>and <img src=x></p>",
        "<ul><li>one<li>two</ul>",
        "<table><tr><td>cell</table>",
        "<p>a < b and a > b &amp; [portal_link]",
        "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</body></html>",
        "<style>p<b{color:red}</style><p>styled",
    ],
)
def test_html_that_renders(markup):
    assert html_problem(markup) is None


@pytest.mark.parametrize(
    ("markup", "fragment"),
    [
        ("<div>open", "<div> (line 1) is never closed"),
        ("<p>x</span>", "</span> closes no open <span>"),
        ("<b><i>x</b></i>", "</b> closes <b> while <i> (line 1) is open"),
        ('<a href="[portal_link]', "not terminated"),
        ("<p>x<!-- comment", "not terminated"),
        ("<div>\n<table>\n</div>", "</div> closes <div> while <table> (line 2) is open"),
    ],
)
def test_html_that_does_not_render(markup, fragment):
    problem = html_problem(markup)
    assert problem is not None and fragment in problem


def test_the_copy_records_the_template_it_was_notified_with(account, tmp_path):
    deliver(account, tmp_path, "Hello")
    (tmp_path / "plain").mkdir()
    deliver(account, tmp_path / "plain", "Hi", to="cat@other.example")
    branded, plain = (
        json.loads(account("portal", "show", str(i), "-o", "json").stdout)["settings"]
        for i in (1, 2)
    )
    assert branded["notification_template"] == "Branded"
    assert "notification_template" not in plain  # as copies always were


def test_simulate_names_the_subject_deliver_sends(account, tmp_path):
    msg = tmp_path / "s.eml"
    msg.write_bytes(
        b'From: "Ann <i>Lee</i>" <ann@example.com>\nTo: bob@partner.example, c@other.example\n'
        b"Subject: Q3\r\n <draft>\n\nx\n"
    )
    doc = account("simulate", msg, "--at", AT, "-o", "json")
    assert doc.exit_code == 0, doc.stderr
    subjects = {
        r["address"]: r["portal"]["notification"]["subject"] for r in doc.json["recipients"]
    }
    assert subjects == {
        "bob@partner.example": "Ann <i>Lee</i> sent you: Q3 <draft>",  # the template's
        "c@other.example": "You've been sent a secure message",  # the built-in
    }
    r = account("deliver", msg, "--outbox", tmp_path / "outbox", "--at", AT)
    assert r.exit_code == 0, r.stderr
    sent = {}
    for f in (tmp_path / "outbox" / "new").iterdir():
        m = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        sent[m["To"]] = m["Subject"]
    assert sent == subjects


class _Anchors:
    """The attributes of every <a> of a page, as a browser's parser reads them."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        found: list[dict[str, str | None]] = []

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                if tag == "a":
                    found.append(dict(attrs))

        P(convert_charrefs=True).feed(page)
        self.attrs = found


# a sender writes the subject: spaces, quotes and = would end an unquoted
# attribute value and start attributes of their own (an event handler)
ATTACK = "x onmouseover=alert(1) y' onfocus='alert(2)' z\" onclick=\"alert(3)"


@pytest.mark.parametrize(
    "markup",
    [
        "<a title=[subject] href=[portal_link]>open</a>",
        "<a title='[subject]' href='[portal_link]'>open</a>",
        '<a title="[subject]" href="[portal_link]">open</a>',
        "<a\ttitle = [subject]\nhref=[portal_link]>open</a>",
        '<a data-x="a>b" title=[subject] href=[portal_link]>open</a>',
    ],
)
def test_a_value_in_an_attribute_stays_that_attribute_quoted_or_not(markup):
    t = NotificationTemplate(0, "T", "[subject]", markup, "[portal_link]\n")
    link = "https://secure.example.com/portal?x=1&token=abc def"
    page = compose.render_notification(t, {"subject": ATTACK, "portal_link": link}).html
    [attrs] = _Anchors(page).attrs
    assert attrs == {"title": ATTACK, "href": link} | (
        {"data-x": "a>b"} if "data-x" in markup else {}
    )


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="[subject]">x</a> <a href="[portal_link]">open</a>',
        "<a href=[subject]>x</a> <a href='[portal_link]'>open</a>",
        '<a HREF = "https://example.com/?q=[subject]">x</a> <a href=[portal_link]>open</a>',
        '<form action="[sender]"></form><img src="[subject]"> <a href="[portal_link]">o</a>',
    ],
)
def test_a_value_from_the_message_in_a_link_target_stays_data(markup):
    """A sender writes the subject: in a link target it must not become a
    scheme of its own (``javascript:``, ``data:``) nor leave the part of the
    URL the template gave it. Such a value is URL-encoded there; the
    portal's own link and address are written as they are."""
    t = NotificationTemplate(0, "T", "[subject]", markup, "[portal_link]\n")
    link = "https://secure.example.com/portal?token=abc"
    attack = "javascript:alert(document.cookie)//?a=1&b=2#x"
    values = {"subject": attack, "sender": "data:text/html,<script>1</script>", "portal_link": link}
    page = compose.render_notification(t, values).html
    targets: list[str] = []

    class P(html.parser.HTMLParser):
        def handle_starttag(self, tag, attrs):
            targets.extend(v for k, v in attrs if k in ("href", "src", "action"))

    P(convert_charrefs=True).feed(page)
    assert link in targets
    for target in targets:
        if target != link:
            assert urllib.parse.urlsplit(target).scheme in ("", "https"), target
            assert ":" not in target.removeprefix("https://"), target
            assert urllib.parse.unquote(target.split("?q=")[-1]) in values.values()


def test_a_tag_in_a_banner_attribute_cannot_add_an_event_handler():
    from html.parser import HTMLParser

    from secmsg_cli.engine.render import fill_tags

    page = fill_tags("<div title=[subject]>[subject]</div>", {"subject": ATTACK}, html=True)
    seen: list[tuple[str, list]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            seen.append((tag, attrs))

    P(convert_charrefs=True).feed(page)
    assert seen == [("div", [("title", ATTACK)])]
    # in text a value is escaped as it always was
    assert page.endswith(
        ">x onmouseover=alert(1) y&#x27; onfocus=&#x27;alert(2)&#x27; "
        "z&quot; onclick=&quot;alert(3)</div>"
    )


def test_deliver_keeps_a_hostile_subject_inside_an_unquoted_attribute(
    bare_cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(PNG)
    config = CONFIG.replace('<a href="[portal_link]">', "<a title=[subject] href=[portal_link]>")
    (tmp_path / "secmsg.toml").write_text(config, encoding="utf-8")
    assert bare_cli("import", "secmsg.toml").exit_code == 0
    [(_, msg)] = deliver(bare_cli, tmp_path, ATTACK)
    page = parts(msg)["text/html"].get_content()
    [attrs] = _Anchors(page).attrs
    assert set(attrs) == {"title", "href"}
    assert attrs["title"] == ATTACK


CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("to", ["bob@partner.example", "cat@other.example"])  # template, built-in
def test_control_characters_from_the_message_never_reach_the_notification(account, tmp_path, to):
    # encoded words are how a sender gets NUL, ESC or a C1 control into a decoded header
    def word(data: bytes) -> str:
        return "=?utf-8?b?" + base64.b64encode(data).decode() + "?="

    name = word(b"Ann\x00 \x1b[31mLee")
    subject = word("Q3\x00 draft\x1b]0;x\x07 \x7f\x85 end".encode())
    msg = tmp_path / "c.eml"
    msg.write_bytes(
        f"From: {name} <ann@example.com>\nTo: {to}\nSubject: {subject}\n\nbody\n".encode()
    )
    result = account("deliver", msg, "--outbox", tmp_path / "outbox", "--at", AT)
    assert result.exit_code == 0, result.stderr
    [file] = (tmp_path / "outbox" / "new").iterdir()
    raw = file.read_bytes()
    note = email.message_from_bytes(raw, policy=email.policy.default)
    shown = [str(note["Subject"]), str(note["From"])] + [
        p.get_content() for p in note.walk() if p.get_content_maintype() == "text"
    ]
    for text in shown:
        assert not CONTROLS.search(text), text
    assert not CONTROLS.search(raw.decode("utf-8"))
    assert "Q3 draft" in " ".join(shown[2].split())


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p, out: p.symlink_to("/dev/zero"), "inside the configuration file's directory"),
        (lambda p, out: os.mkfifo(p), "not a regular file"),
        (lambda p, out: os.truncate(p.open("wb").name, 3 << 30), "larger than"),  # sparse
        (
            lambda p, out: (out.write_bytes(PNG), p.symlink_to(out)),
            "inside the configuration file's directory",
        ),
    ],
    ids=["dev-zero", "fifo", "3GB", "link-out"],
)
def test_a_logo_that_is_no_small_file_inside_the_folder_is_refused_unread(
    bare_cli, tmp_path, make, fragment
):
    # a configuration from a repository: its logo must not hang the import
    # (/dev/zero, a FIFO), fill memory (a huge file) or read an image from
    # outside its folder into every notification
    conf = tmp_path / "conf"
    (conf / "brand").mkdir(parents=True)
    make(conf / "brand" / "logo.png", tmp_path / "elsewhere.png")
    config = conf / "secmsg.toml"
    config.write_text(CONFIG, encoding="utf-8")
    for command in ("lint", "import"):
        result = bare_cli("--db", tmp_path / "x.db", command, config)
        assert result.exit_code == 3, result.output
        assert fragment in result.output and f"{config}:17:1:" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("link", ["brand/logo.png", "brand"])
def test_export_writes_no_logo_through_a_link_out_of_its_folder(account, tmp_path, link):
    # a configuration repository with a link where the logo goes: export
    # must not overwrite what it leads to
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.mkdir()
    (victim / "logo.png").write_text("precious")
    (out / "brand").mkdir(parents=True)
    if link == "brand":
        (out / "brand").rmdir()
        (out / "brand").symlink_to(victim, target_is_directory=True)
    else:
        (out / "brand" / "logo.png").symlink_to(victim / "logo.png")
    result = account("export", out / "a.toml")
    assert result.exit_code != 0
    assert "outside the configuration's directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert (victim / "logo.png").read_text() == "precious"
    assert not (out / "a.toml").exists()
