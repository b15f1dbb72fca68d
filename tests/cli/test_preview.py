"""``secmsg preview``: for every demo message, the files each recipient would
get, written all or nothing, the store left untouched; what came from the
message escaped and its HTML sanitised; the folder rules; --open."""

from __future__ import annotations

import email
import email.policy
import hashlib
import html.parser
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.conftest import FIXTURES
from tests.helpers import assert_error, ok

AT = "2026-11-27T10:00:00Z"
MESSAGES = sorted((FIXTURES / "messages").glob("*.eml"))


class _Page(html.parser.HTMLParser):
    """The elements, text and links of a page; fails on markup a parser
    cannot close (an element left open at the end)."""

    VOID = frozenset(("meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base"))

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []
        self.feed(text)
        self.close()
        assert self.open == [], f"unclosed elements: {self.open}"

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)
        self.links += [v for k, v in attrs if k == "href" and v]

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open)
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _page(path: Path) -> _Page:
    return _Page(path.read_text(encoding="utf-8"))


def _store_state(cli, db: Path) -> tuple:
    return (
        ok(cli("portal", "list", "-o", "json")).stdout,
        ok(cli("audit", "-n", "100000", "-o", "json")).stdout,
        hashlib.sha256(db.read_bytes()).hexdigest(),
    )


@pytest.mark.parametrize("message", MESSAGES, ids=lambda p: p.stem)
def test_every_demo_message_previews_what_each_recipient_gets(
    demo, tmp_path, _isolated_store, message
):
    before = _store_state(demo, _isolated_store)
    out = tmp_path / "preview"
    extra = ["--rcpt", "m.okonkwo@lexpartners.com"] if "no-recipient" in message.name else []
    r = ok(demo("preview", message, "--out", out, "--at", AT, "-o", "json", *extra))
    doc = r.json
    decided = ok(demo("simulate", message, "--at", AT, "-o", "json", *extra)).json
    assert [x["address"] for x in doc["recipients"]] == [
        x["address"] for x in decided["recipients"]
    ]
    index = _page(out / "index.html")
    assert "Nothing was sent or stored" in index.words
    for got, want in zip(doc["recipients"], decided["recipients"], strict=True):
        files = {Path(f).name: Path(f) for f in got["files"]}
        assert got["route"] == want["route"] and got["definition"] == want["definition"]
        if want["route"] == "portal":
            assert set(files) == {
                "notification.eml",
                "notification.html",
                "notification.txt",
                "open.html",
                "portal.html",
            }
            opening = _page(files["open.html"])
            assert f"for {want['address']}" in opening.words
            assert "Preview: the button works only in the portal" in opening.words
            note = email.message_from_bytes(
                files["notification.eml"].read_bytes(), policy=email.policy.default
            )
            assert note["To"] == want["address"]
            link = next(ln for ln in _page(files["notification.html"]).links if "token=" in ln)
            assert link.endswith("token=preview")
            assert link in files["notification.txt"].read_text(encoding="utf-8")
            portal = _page(files["portal.html"])
            assert " ".join(decided["message"]["subject"].split()) in portal.words
            assert "Preview: the actions work only in the portal." in portal.words
            assert "script" not in portal.tags
        elif want["secure"]:
            assert set(files) == {"inbox-copy.eml", "inbox-copy.html"}
            page = _page(files["inbox-copy.html"])
            # the recipient's banner, read back from the stamped copy
            assert " ".join(want["banner"]["text"].split()) in page.words
        else:
            assert files == {}
        for f in files.values():
            assert f.relative_to(out).as_posix() in [unquote(link) for link in index.links]
    assert _store_state(demo, _isolated_store) == before  # nothing stored, nothing audited


def test_the_table_names_each_recipient_and_where_the_files_are(demo, tmp_path):
    out = tmp_path / "p"
    r = ok(demo("preview", MESSAGES[5], "--out", out, "--at", AT))
    assert "jose.mueller@clientco.example" in r.stdout and "inbox" in r.stdout
    assert f"Preview written to {out}: open {out}/index.html" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        ".secmsg-preview",
        "1-jose.mueller@clientco.example",
        "2-j.weiss@clientco.example",
        "3-evan.price@harborfinch.co.uk",
        "index.html",
    ]


HOSTILE = (
    "From: Mallory <alice.morgan@harborfinch.com>\r\n"
    "To: m.okonkwo@lexpartners.com\r\n"
    "Subject: Confidential <script>alert(1)</script> [portal_link] \x1b[31m\r\n"
    "Message-ID: <hostile@example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    '<p onclick="x()">Hi</p><script>steal()</script><img src="https://track.example/p.gif">'
    '<a href="javascript:evil()">link</a><meta http-equiv="refresh" content="0;url=https://x">\r\n'
)


def test_what_came_from_the_message_is_escaped_and_its_html_sanitised(demo, tmp_path):
    msg = tmp_path / "hostile.eml"
    msg.write_bytes(HOSTILE.encode())
    out = tmp_path / "p"
    ok(demo("preview", msg, "--out", out, "--at", AT))
    folder = out / "1-m.okonkwo@lexpartners.com"
    for name in ("portal.html", "notification.html"):
        text = (folder / name).read_text(encoding="utf-8")
        body = text.split("<body", 1)[1]
        assert "script" not in _Page(text).tags and "<meta" not in body
        assert "<script>alert(1)</script>" not in text
    portal = (folder / "portal.html").read_text(encoding="utf-8")
    for gone in ("onclick", "steal()", "track.example", "javascript:", "http-equiv"):
        assert gone not in portal.split("<body", 1)[1], gone
    note = (folder / "notification.txt").read_text(encoding="utf-8")
    assert note.count("token=preview") == 1  # the subject's [portal_link] stays text
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index and "<script>" not in index


def test_a_recipient_address_makes_a_plain_folder_name(demo, tmp_path):
    msg = tmp_path / "odd.eml"
    msg.write_bytes(
        b'From: alice.morgan@harborfinch.com\r\nTo: "x" <\'../..;%#?@lexpartners.com>\r\n'
        b"Subject: Confidential\r\n\r\nhi\r\n"
    )
    out = tmp_path / "p"
    r = ok(demo("preview", msg, "--out", out, "--at", AT, "-o", "json"))
    for f in r.json["recipients"][0]["files"]:
        assert Path(f).resolve().parent.parent == out.resolve()
    index = _page(out / "index.html")
    for link in index.links:
        assert (out / unquote(link)).is_file()


def test_the_folder_is_new_empty_or_an_earlier_preview_with_replace(demo, tmp_path):
    message = MESSAGES[0]
    out = tmp_path / "p"
    out.mkdir()
    ok(demo("preview", message, "--out", out, "--at", AT))  # empty: fine
    assert_error(demo("preview", message, "--out", out, "--at", AT), 1, "not empty", "--replace")
    ok(demo("preview", message, "--out", out, "--at", AT, "--replace"))
    assert (out / ".secmsg-preview").is_file()  # the earlier preview was replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    assert_error(
        demo("preview", message, "--out", other, "--at", AT, "--replace"),
        1,
        "holds no earlier preview",
    )
    assert (other / "mine.txt").read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert_error(demo("preview", message, "--out", link, "--at", AT), 1, "is a link")
    assert not (tmp_path / "elsewhere").exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_error(demo("preview", message, "--out", afile, "--at", AT), 1, "not a folder")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".secmsg-preview")]


@pytest.mark.parametrize(
    "added",
    ["mine.txt", "notes/today.txt", "1-m.okonkwo@lexpartners.com/reply-draft.txt", "empty-dir/"],
)
def test_replace_removes_only_an_earlier_preview_never_what_was_added_to_it(demo, tmp_path, added):
    out = tmp_path / "p"
    ok(demo("preview", MESSAGES[0], "--out", out, "--at", AT))
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    path = out / added
    path.parent.mkdir(parents=True, exist_ok=True)
    if added.endswith("/"):
        path.mkdir()
    else:
        path.write_text("keep")
    r = demo("preview", MESSAGES[0], "--out", out, "--at", AT, "--replace")
    named = "notes" if added.startswith("notes/") else added.rstrip("/")  # the first found
    assert_error(r, 1, "which no preview wrote", repr(named))
    assert path.exists()  # nothing was removed
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        [*before, added.rstrip("/")] + (["notes"] if added.startswith("notes/") else [])
    )


def test_a_marker_alone_does_not_make_a_folder_a_preview(demo, tmp_path):
    home = tmp_path / "home"
    (home / "documents").mkdir(parents=True)
    (home / "documents" / "letter.txt").write_text("keep")
    (home / ".secmsg-preview").write_text("")
    r = demo("preview", MESSAGES[0], "--out", home, "--at", AT, "--replace")
    assert_error(r, 1, "which no preview wrote", "documents")
    assert (home / "documents" / "letter.txt").read_text() == "keep"


def test_a_folder_it_cannot_write_leaves_nothing(demo, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = demo("preview", MESSAGES[0], "--out", blocker / "p", "--at", AT)
    assert_error(r, 1, "cannot write the preview")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "store.db"]


def test_one_message_only_and_bad_input_in_one_line(demo, tmp_path):
    assert_error(demo("preview", FIXTURES / "messages", "--out", tmp_path / "p"), 1, "one message")
    r = demo("preview", tmp_path / "missing.eml", "--out", tmp_path / "p")
    assert r.exit_code != 0 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert not (tmp_path / "p").exists()
    assert_error(demo("preview", MESSAGES[0], "--out", tmp_path / "p", "-o", "csv"), 1, "-o csv")


def test_the_definition_option_previews_a_message_nothing_would_secure(demo, tmp_path):
    plain = MESSAGES[4]  # to a gmail address: not secure
    out = tmp_path / "p"
    doc = ok(
        demo(
            "preview", plain, "--out", out, "--at", AT, "-o", "json",
            "--definition", "Legal/7-Day Expiry, Receipt",
        )
    ).json  # fmt: skip
    (rcpt,) = doc["recipients"]
    assert rcpt["route"] == "portal" and rcpt["definition"] == "Legal/7-Day Expiry, Receipt"
    assert "Available until" in _page(Path(rcpt["files"][-1])).words


def test_open_starts_the_browser_on_the_first_page(demo, tmp_path, _isolated_store):
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {seen}\n')
    browser.chmod(0o755)
    out = tmp_path / "p"
    env = {**os.environ, "BROWSER": str(browser), "SECMSG_DB": str(_isolated_store)}
    subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "preview", str(MESSAGES[5]), "--out", str(out),
         "--at", AT, "--open", "-q"],
        env=env, check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    assert seen.read_text().strip() == (
        (out / "1-jose.mueller@clientco.example" / "portal.html").as_uri()
    )


def test_a_definitions_template_is_previewed_with_its_logo_shown(bare_cli, tmp_path, monkeypatch):
    from tests.delivery.test_notification_templates import CONFIG, PNG

    monkeypatch.chdir(tmp_path)
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(PNG)
    (tmp_path / "secmsg.toml").write_text(CONFIG, encoding="utf-8")
    ok(bare_cli("import", "secmsg.toml"))
    msg = tmp_path / "m.eml"
    msg.write_bytes(
        b"From: Ann <ann@example.com>\nTo: bob@partner.example\nSubject: Q3 <draft>\n\nhi\n"
    )
    doc = ok(bare_cli("preview", msg, "--out", "p", "--at", AT, "-o", "json")).json
    names = sorted(Path(f).name for f in doc["recipients"][0]["files"])
    assert names == [
        "logo.png",
        "notification.eml",
        "notification.html",
        "notification.txt",
        "open.html",
        "portal.html",
    ]
    folder = tmp_path / "p" / "1-bob@partner.example"
    page = (folder / "notification.html").read_text(encoding="utf-8")
    assert '<img src="logo.png"' in page and "cid:" not in page
    assert (folder / "logo.png").read_bytes() == PNG
    assert "<b>Q3 &lt;draft&gt;</b>" in page  # the template, filled and escaped
    note = email.message_from_bytes(
        (folder / "notification.eml").read_bytes(), policy=email.policy.default
    )
    assert note["Subject"] == "Ann sent you: Q3 <draft>"
    assert "token=preview" in (folder / "notification.txt").read_text(encoding="utf-8")


def test_the_notification_parts_say_they_are_utf8(demo, tmp_path):
    """A part's charset is in its Content-Type, which a file loses: the
    written parts start with a UTF-8 byte-order mark, so that a browser does
    not guess another encoding for the names in them."""
    out = tmp_path / "p"
    ok(demo("preview", MESSAGES[5], "--out", out, "--at", AT))
    folder = out / "1-jose.mueller@clientco.example"
    for name in ("notification.html", "notification.txt"):
        data = (folder / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "Zoë".encode() in data, name


def test_a_message_with_recipients_left_undecided_is_refused_as_deliver_refuses_it(demo, tmp_path):
    r = demo("preview", MESSAGES[5], "--out", tmp_path / "p", "--at", AT, "--max-recipients", "1")
    assert_error(r, 1, "2 recipient(s) were not decided", "deliver would refuse it")
    assert not (tmp_path / "p").exists()
