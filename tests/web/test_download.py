"""The portal's attachment downloads (``GET /portal/attachment/N``): the
file byte for byte, offered to be saved and never shown in the portal's
origin, under a plain file name; allowed where the message may be viewed,
refused as the message page is refused; the download is reading (marked
read, the read receipt) and is audited."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from urllib.parse import unquote

import pytest

from tests.helpers import ok
from tests.web.conftest import outbox_kinds
from tests.web.test_app import AFTER_EXPIRY, audit, read_at, sign_in


def _copy_of(portal, subject: str, recipient: str) -> int:
    with sqlite3.connect(portal.db) as conn:
        (copy_id,) = conn.execute(
            "SELECT c.id FROM portal_copies c JOIN portal_messages m ON m.id = c.message_ref"
            " WHERE m.subject = ? AND c.recipient = ?",
            (subject, recipient),
        ).fetchone()
    return copy_id


def _raw(portal, copy_id: int) -> bytes:
    """The retained message of a copy, as the store keeps it."""
    from secmsg_cli.store.store import Store

    with Store(portal.db) as store:
        copy = store.portal_records.portal_copy(copy_id)
        raw = store.portal_records.portal_message_raw(copy.message_ref)
    assert raw is not None
    return raw


def _attachments(portal, copy_id: int) -> list[tuple[str, bytes]]:
    msg = email.message_from_bytes(_raw(portal, copy_id), policy=email.policy.default)
    return [(a.get_filename(), a.get_payload(decode=True)) for a in msg.iter_attachments()]


@pytest.fixture
def reconciliation(portal) -> int:
    """Accounts Payable's copy of the expenses reconciliation (one CSV)."""
    return _copy_of(portal, "November expenses reconciliation", "accounts@clientco.example")


def test_the_page_links_each_attachment_and_it_downloads_byte_for_byte(portal, reconciliation):
    ((name, data),) = _attachments(portal, reconciliation)
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    page = client.get("/portal/").text
    assert f'<a href="/portal/attachment/1" id="attachment-1"><bdi>{name}</bdi></a>' in page
    r = client.get("/portal/attachment/1")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    (row,) = audit(portal, "download")
    assert row == {
        "object": str(reconciliation),
        "recipient": "accounts@clientco.example",
        "at": "2026-11-28T09:00:00+00:00",
        "attachment": 1,
        "name": name,
        "bytes": len(data),
        "first_view": False,  # the page was opened first
        "read_receipt": None,
    }


def test_a_download_before_the_page_is_reading(portal, reconciliation):
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    assert read_at(portal, reconciliation) is None
    assert client.get("/portal/attachment/1").status_code == 200
    assert read_at(portal, reconciliation) == "2026-11-28T09:00:00+00:00"
    assert audit(portal, "download")[0]["first_view"] is True


def test_a_head_request_downloads_nothing(portal, reconciliation):
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    assert client.head("/portal/attachment/1").status_code == 405
    assert read_at(portal, reconciliation) is None and not audit(portal, "download")


@pytest.mark.parametrize("number", ["0", "2", "99999999999999999999999"])
def test_an_attachment_the_message_does_not_have_is_not_found(portal, reconciliation, number):
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    r = client.get(f"/portal/attachment/{number}")
    assert r.status_code == 404 and "There is no such attachment" in r.text
    assert read_at(portal, reconciliation) is None and not audit(portal, "download")


@pytest.mark.parametrize("path", ["/portal/attachment/-1", "/portal/attachment/x"])
def test_a_path_that_is_not_an_attachment_number_is_not_found(portal, reconciliation, path):
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    assert client.get(path).status_code == 404


def test_without_a_session_or_from_another_page_nothing_is_downloaded(portal, reconciliation):
    client = portal.client()
    r = client.get("/portal/attachment/1")
    assert r.status_code == 401 and "Open the link in your notification again" in r.text
    sign_in(client, portal.tokens()[reconciliation])
    for mode, dest in (("no-cors", "image"), ("navigate", "iframe"), ("cors", "empty")):
        r = client.get(
            "/portal/attachment/1", headers={"Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}
        )
        assert r.status_code == 403, (mode, dest)
    assert read_at(portal, reconciliation) is None and not audit(portal, "download")


@pytest.mark.parametrize("dest", ["document", "empty"])
def test_a_link_followed_or_saved_downloads(portal, reconciliation, dest):
    """A click on the link is a navigation to a document; the browser's
    "Save link as" (or a same-origin download link) is one to no document."""
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    r = client.get(
        "/portal/attachment/1", headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": dest}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"


def test_revoked_or_expired_the_attachment_is_refused_as_the_page_is(portal, reconciliation):
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    portal.now[0] = AFTER_EXPIRY.replace(year=2027)  # long after every demo copy's expiry
    r = client.get("/portal/attachment/1")
    assert r.status_code == 410 and "This secure message has expired" in r.text
    assert "card_reconciliation" not in r.text
    ok(portal.cli("account", "set", "--expired-view"))
    assert client.get("/portal/attachment/1").status_code == 200  # viewable after expiry
    ok(portal.cli("portal", "revoke", str(reconciliation), "--at", "2027-01-01T00:00:00Z"))
    r = client.get("/portal/attachment/1")
    assert r.status_code == 410 and "This secure message was revoked" in r.text
    reasons = [d["reason"] for d in audit(portal, "access-denied")]
    assert reasons == ["expired", "revoked"]


def test_a_download_stages_the_read_receipt_once(portal):
    """Copy 1 asks for a read receipt: downloading is reading."""
    # the demo's receipt copy has no attachment: a message like it, with one
    new_id = portal.deliver(RECEIPT_WITH_ATTACHMENT)
    client = portal.client()
    sign_in(client, portal.tokens()[new_id])
    receipt = ("read-receipt", "Alice Morgan <alice.morgan@harborfinch.com>")
    before = outbox_kinds(portal.outbox).count(receipt)
    assert client.get("/portal/attachment/1").content == b"Heron term sheet"
    assert client.get("/portal/attachment/1").status_code == 200
    kinds = outbox_kinds(portal.outbox)
    assert kinds.count(receipt) == before + 1
    rows = audit(portal, "download")
    assert [r["first_view"] for r in rows] == [True, False]
    assert rows[0]["read_receipt"] and rows[1]["read_receipt"] is None


RECEIPT_WITH_ATTACHMENT = """\
From: Alice Morgan <alice.morgan@harborfinch.com>
To: m.okonkwo@lexpartners.com
Subject: Confidential: Project Heron - term sheet attached
Message-ID: <receipt-attachment-1@harborfinch.com>
Date: Thu, 26 Nov 2026 09:14:05 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

The term sheet is attached.
--b
Content-Type: text/plain; name="heron.txt"
Content-Disposition: attachment; filename="heron.txt"

Heron term sheet
--b--
"""

HOSTILE_NAMES = """\
From: Alice Morgan <alice.morgan@harborfinch.com>
To: m.okonkwo@lexpartners.com
Subject: Confidential: hostile attachments
Message-ID: <hostile-attachments-1@harborfinch.com>
Date: Thu, 26 Nov 2026 09:14:05 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

See attached.
--b
Content-Type: text/html; name="page.html"
Content-Disposition: inline; filename="..\\\\..\\\\evil\\";x=.html"

<script>alert(document.cookie)</script>
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9%E2%80%AEfdp.exe

MZ
--b
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="CON.txt\\r\\nSet-Cookie: x=1"

x
--b--
"""


def test_hostile_names_and_types_are_a_plain_file_to_save(portal):
    new_id = portal.deliver(HOSTILE_NAMES)
    client = portal.client()
    sign_in(client, portal.tokens()[new_id])
    page = client.get("/portal/").text
    assert 'id="attachment-3"' in page and "<script>alert" not in page
    names = []
    for n in (1, 2, 3):
        r = client.get(f"/portal/attachment/{n}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"  # never the sender's
        assert r.headers["content-security-policy"].startswith("sandbox")
        disposition = r.headers["content-disposition"]
        assert disposition.startswith("attachment; ")
        assert "\r" not in disposition and "\n" not in disposition
        assert "set-cookie" not in {k.lower() for k in r.headers if k.lower() != "set-cookie"}
        assert not any("x=1" in v for k, v in r.headers.items() if k.lower() == "set-cookie")
        plain = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert plain.isascii() and "/" not in plain and "\\" not in plain
        names.append(unquote(disposition.split("filename*=UTF-8''", 1)[1]))
    assert r.content == b"x"
    assert names[0] == "evil_;x=.html"
    assert names[1] == "résuméfdp.exe"  # the right-to-left override is gone
    assert names[2].startswith("_CON")  # a Windows device name is not a file to save to
    for name in names:
        assert ".." not in name and "/" not in name and "\\" not in name


def test_the_download_link_is_absent_from_a_preview(portal, tmp_path, reconciliation):
    message = tmp_path / "m.eml"
    message.write_bytes(_raw(portal, reconciliation))
    r = portal.cli("preview", message, "--out", tmp_path / "p", "--at", "2026-11-27T10:00:00Z")
    assert r.exit_code == 0, r.output
    page = (tmp_path / "p").rglob("portal.html")
    html = next(p for p in page if "accounts@" in str(p)).read_text(encoding="utf-8")
    assert "card_reconciliation_2026-11.csv" in html and "/attachment/" not in html


def test_recalled_or_purged_nothing_is_downloaded_by_a_session_begun_before(portal, reconciliation):
    """A session outlives neither a recall nor a sweep's purge: it holds the
    copy's token, and each download checks it again."""
    recalled, purged = portal.client(), portal.client()
    sign_in(recalled, portal.tokens()[reconciliation])  # signed in, not read: still recallable
    sign_in(purged, portal.tokens()[2])
    ok(portal.cli("portal", "recall", str(reconciliation), "--at", "2026-11-28T08:00:00Z"))
    r = recalled.get("/portal/attachment/1")
    assert r.status_code == 410 and "card_reconciliation" not in r.text
    ok(portal.cli("account", "set", "--expired-view"))
    # past every demo copy's retention (fixed when it was delivered)
    ok(portal.cli("portal", "sweep", "--at", "2034-01-01T00:00:00Z"))
    portal.now[0] = portal.now[0].replace(year=2034)
    for path in ("/portal/", "/portal/attachment/1"):
        r = purged.get(path)
        assert r.status_code == 403 and "Engagement letter" not in r.text
    assert not audit(portal, "download") and read_at(portal, reconciliation) is None


@pytest.mark.parametrize("purpose", ["prefetch", "prefetch;prerender"])
def test_a_speculative_fetch_reads_prints_and_downloads_nothing(portal, reconciliation, purpose):
    """Speculation rules (<script type="speculationrules">) in any page of the
    same site make Chromium fetch, or render unseen, a URL of the page's
    choosing: as a navigation to a document, with the SameSite=Strict
    cookie and Sec-Fetch-Site "none" (Chromium 150, measured). Served, the
    copy was marked read (a read receipt), a print and a download audited,
    with nobody looking. The browser fetches again when the user goes there."""
    client = portal.client()
    sign_in(client, portal.tokens()[reconciliation])
    before = outbox_kinds(portal.outbox)
    speculative = {
        "Sec-Purpose": purpose,
        "Sec-Fetch-Site": "none",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
    }
    for path in ("/portal/", "/portal/print", "/portal/attachment/1"):
        r = client.get(path, headers=speculative)
        assert r.status_code == 403, path
    assert read_at(portal, reconciliation) is None
    assert audit(portal, "print") == [] and audit(portal, "download") == []
    assert outbox_kinds(portal.outbox) == before
