"""`secmsg portal ...` and `secmsg user ...`: the Secure Messaging Portal
lifecycle of SPEC §7.4, one definition setting at a time, through the CLI.

Every message is delivered with `secmsg deliver` at T0; the recipients'
tokens are read back from the notifications in the outbox."""

from __future__ import annotations

import json
import sqlite3
from types import SimpleNamespace

import pytest

from secmsg_cli.delivery.lifecycle import ACCESS_REFUSED
from tests.delivery._helpers import T0, build_store, outbox_messages, tokens, write_message
from tests.helpers import ok

BOB, CAROL, DAVE, ERIN, ALICE = (
    "bob@partner.test",
    "carol@partner.test",
    "dave@example.com",
    "erin@partner.test",
    "alice@example.com",
)


def assert_error(r, *fragments: str) -> None:
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.output
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)


@pytest.fixture
def env(cli, tmp_path, _isolated_store):
    build_store(_isolated_store)
    msg = write_message(tmp_path)
    outbox = tmp_path / "outbox"

    def deliver(definition: str = "T/Open", *extra: str) -> dict:
        return ok(
            cli(
                "deliver",
                msg,
                "--definition",
                definition,
                "--at",
                T0,
                "--outbox",
                outbox,
                "-o",
                "json",
                *extra,
            )
        ).json

    def recipient(*args: str):
        """A recipient-side command (open, reply, print), with the test outbox."""
        return cli("portal", *args, "--outbox", outbox)

    def ids() -> dict[str, int]:
        return {r["recipient"]: r["id"] for r in ok(cli("portal", "list", "-o", "json")).json}

    def show(ref, at: str = T0) -> dict:
        return ok(cli("portal", "show", str(ref), "--at", at, "-o", "json")).json

    return SimpleNamespace(
        cli=cli,
        outbox=outbox,
        deliver=deliver,
        recipient=recipient,
        ids=ids,
        show=show,
        db=_isolated_store,
        tmp=tmp_path,
    )


def kinds(outbox) -> list[str]:
    return [m["X-Secmsg-Kind"] for m in outbox_messages(outbox)]


# --- print ------------------------------------------------------------------------------


def test_print_allowed_writes_a_printable_html_page(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    out = env.tmp / "print.html"
    ok(env.recipient("print", token, "--out", out, "--at", "2026-11-27T11:00:00Z"))
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Quarterly figures</title>" in page
    assert "The Q3 figures are attached." in page
    assert "figures.bin" in page  # attachments are listed
    assert "<script" not in page


def test_print_to_a_missing_directory_is_refused_before_anything_happens(env):
    env.deliver("T/Open")
    r = env.recipient(
        "print",
        tokens(env.outbox)[BOB],
        "--out",
        env.tmp / "nowhere" / "p.html",
        "--at",
        "2026-11-27T11:00:00Z",
    )
    assert_error(r, "--out", "no such directory")
    assert env.show(env.ids()[BOB])["status"] == "unread"
    assert outbox_messages(env.outbox, "read-receipt") == []


def test_print_refused_when_the_definition_does_not_allow_it(env):
    env.deliver("T/Closed")
    token = tokens(env.outbox)[BOB]
    out = env.tmp / "print.html"
    r = env.recipient("print", token, "--out", out, "--at", "2026-11-27T11:00:00Z")
    assert_error(r, "print is not allowed", "T/Closed")
    assert not out.exists()
    assert r.stdout == ""


def test_settings_are_those_at_sending(env):
    env.deliver("T/Closed")
    ok(env.cli("definition", "update", "T/Closed", "--print", "--reply"))
    assert ok(env.cli("definition", "show", "T/Closed", "-o", "json")).json["allow_print"] is True
    token = tokens(env.outbox)[BOB]
    assert_error(
        env.recipient("print", token, "--at", "2026-11-27T11:00:00Z"), "print is not allowed"
    )
    assert_error(
        env.recipient("reply", token, "--body", "x", "--at", "2026-11-27T11:00:00Z"),
        "reply is not allowed",
    )


# --- reply, reply all ---------------------------------------------------------------------


def test_reply_goes_to_the_sender_threaded_and_quoting_the_original(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    attachment = env.tmp / "signed.pdf"
    attachment.write_bytes(b"%PDF-1.4\n\x00\xff binary \x80\n")
    r = ok(
        env.recipient(
            "reply",
            token,
            "--body",
            "Received, thanks.",
            "--attach",
            attachment,
            "--at",
            "2026-11-27T12:00:00Z",
        )
    )
    assert "Reply to alice@example.com written to" in r.stdout
    [reply] = outbox_messages(env.outbox, "reply")
    assert reply["From"].addresses[0].addr_spec == BOB
    assert [a.addr_spec for a in reply["To"].addresses] == [ALICE]
    assert reply["Cc"] is None
    assert reply["Subject"] == "Re: Quarterly figures"
    assert reply["In-Reply-To"] == "<q3-figures@example.com>"
    assert reply["References"].split() == ["<earlier@example.com>", "<q3-figures@example.com>"]
    body = reply.get_body(("plain",)).get_content()
    assert body.startswith("Received, thanks.\n")
    assert "> The Q3 figures are attached." in body
    [att] = list(reply.iter_attachments())
    assert att.get_filename() == "signed.pdf"
    assert att.get_content() == attachment.read_bytes()


def test_reply_refused_when_the_definition_does_not_allow_it(env):
    env.deliver("T/Closed")
    before = kinds(env.outbox)
    r = env.recipient(
        "reply", tokens(env.outbox)[BOB], "--body", "x", "--at", "2026-11-27T11:00:00Z"
    )
    assert_error(r, "reply is not allowed", "T/Closed")
    assert kinds(env.outbox) == before


def test_reply_all_goes_to_the_original_to_and_cc_but_not_bcc(env):
    env.deliver("T/Open")
    ok(
        env.recipient(
            "reply",
            tokens(env.outbox)[CAROL],
            "--all",
            "--body",
            "All: noted.",
            "--at",
            "2026-11-27T12:00:00Z",
        )
    )
    [reply] = outbox_messages(env.outbox, "reply")
    assert [a.addr_spec for a in reply["To"].addresses] == [ALICE]
    cc = [a.addr_spec for a in reply["Cc"].addresses]
    assert cc == [BOB, DAVE]  # original To and Cc, without the replier; never the Bcc
    assert ERIN not in str(reply)


@pytest.mark.parametrize("definition", ["T/ReplyOnly", "T/AllButNoReply"])
def test_reply_all_refused_unless_effective(env, definition):
    env.deliver(definition)
    token = tokens(env.outbox)[BOB]
    before = kinds(env.outbox)
    assert_error(
        env.recipient("reply", token, "--all", "--body", "x", "--at", "2026-11-27T11:00:00Z"),
        "not allowed",
        definition,
    )
    assert kinds(env.outbox) == before
    plain = env.recipient("reply", token, "--body", "x", "--at", "2026-11-27T11:00:00Z")
    if definition == "T/ReplyOnly":
        ok(plain)
    else:
        assert_error(plain, "reply is not allowed")


def test_reply_needs_exactly_one_body(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    assert_error(env.recipient("reply", token, "--at", "2026-11-27T11:00:00Z"), "--body")
    body = env.tmp / "body.txt"
    body.write_text("From a file.\n", encoding="utf-8")
    ok(env.recipient("reply", token, "--body-file", body, "--at", "2026-11-27T11:00:00Z"))
    [reply] = outbox_messages(env.outbox, "reply")
    assert reply.get_body(("plain",)).get_content().startswith("From a file.\n")


# --- open, read receipts ----------------------------------------------------------------------


def test_open_shows_the_message_and_marks_it_read(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    bob = env.ids()[BOB]
    assert env.show(bob)["status"] == "unread"
    r = ok(env.recipient("open", token, "--at", "2026-11-27T11:00:00Z"))
    assert "Subject: Quarterly figures" in r.stdout
    assert "The Q3 figures are attached." in r.stdout
    assert "figures.bin" in r.stdout
    shown = env.show(bob, "2026-11-27T11:30:00Z")
    assert shown["status"] == "read"
    assert shown["read_at"] == "2026-11-27T11:00:00+00:00"


def test_read_receipt_on_first_view_only(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    assert outbox_messages(env.outbox, "read-receipt") == []
    first = ok(env.recipient("open", token, "--at", "2026-11-27T11:00:00Z", "-o", "json")).json
    assert first["first_view"] is True and len(first["outbox"]) == 1
    ok(env.recipient("open", token, "--at", "2026-11-27T11:05:00Z"))
    ok(env.recipient("print", token, "--at", "2026-11-27T11:06:00Z"))
    ok(env.recipient("reply", token, "--body", "x", "--at", "2026-11-27T11:07:00Z"))
    [receipt] = outbox_messages(env.outbox, "read-receipt")
    assert [a.addr_spec for a in receipt["To"].addresses] == [ALICE]
    assert receipt.get_content_type() == "multipart/report"
    assert receipt.get_param("report-type") == "disposition-notification"
    mdn = receipt.get_payload()[1]
    assert mdn.get_content_type() == "message/disposition-notification"
    fields = str(mdn.get_payload()[0])
    assert f"Final-Recipient: rfc822; {BOB}" in fields
    assert "Original-Message-ID: <q3-figures@example.com>" in fields
    assert "displayed" in fields
    # another recipient's first view is that recipient's first view
    ok(env.recipient("open", tokens(env.outbox)[CAROL], "--at", "2026-11-27T12:00:00Z"))
    assert len(outbox_messages(env.outbox, "read-receipt")) == 2


def test_no_read_receipt_when_the_definition_does_not_ask(env):
    env.deliver("T/ReplyOnly")
    ok(env.recipient("open", tokens(env.outbox)[BOB], "--at", "2026-11-27T11:00:00Z"))
    assert outbox_messages(env.outbox, "read-receipt") == []


# --- expiry, expired_view, internal copies ----------------------------------------------------------


def test_an_expired_copy_is_refused_with_the_same_message_as_a_wrong_token(env):
    env.deliver("T/Closed")  # expires after 12 hours
    token = tokens(env.outbox)[BOB]
    ok(env.recipient("open", token, "--at", "2026-11-27T21:59:59Z"))
    expired = env.recipient("open", token, "--at", "2026-11-27T22:00:00Z")
    wrong = env.recipient(
        "open", token[:-1] + ("A" if token[-1] != "A" else "B"), "--at", "2026-11-27T21:00:00Z"
    )
    assert_error(expired, ACCESS_REFUSED)
    assert expired.stderr == wrong.stderr == f"error: {ACCESS_REFUSED}\n"
    assert env.show(env.ids()[BOB], "2026-11-27T22:00:00Z")["status"] == "expired"


def test_expired_view_allows_view_and_print_only(env):
    ok(env.cli("account", "set", "--expired-view"))
    env.deliver("T/Open")  # expires after 7 days
    token = tokens(env.outbox)[BOB]
    late = "2026-12-05T10:00:00Z"
    r = ok(env.recipient("open", token, "--at", late, "-o", "json"))
    assert r.json["expired"] is True and r.json["actions"] == ["view", "print"]
    ok(env.recipient("print", token, "--at", late))
    assert_error(
        env.recipient("reply", token, "--body", "x", "--at", late),
        "expired",
        "only be viewed and printed",
    )
    ok(env.cli("account", "set", "--no-expired-view"))
    assert_error(env.recipient("open", token, "--at", late), ACCESS_REFUSED)


def test_internal_portal_copies_never_expire(env):
    # All Recipients, sent through the gateway: internal recipients use the portal too (SPEC §7.1)
    env.deliver("Default/All Recipients", "--via", "gateway")
    dave = env.ids()[DAVE]
    shown = env.show(dave)
    assert shown["internal"] is True and shown["expires"] is None and shown["latest_expiry"] is None
    assert shown["actions"] == [
        "view",
        "print",
        "reply",
        "reply_all",
    ]  # the permissions restrict externals only
    much_later = "2035-11-01T00:00:00Z"  # ten years is the default retention: just before it ends
    ok(env.cli("portal", "sweep", "--at", much_later))
    assert env.show(dave, much_later)["status"] == "unread"
    ok(env.recipient("open", tokens(env.outbox)[DAVE], "--at", much_later))
    ok(env.recipient("print", tokens(env.outbox)[DAVE], "--at", much_later))
    assert_error(
        env.cli("portal", "extend", str(dave), "--by", "1d", "--at", T0),
        "internal copies never expire",
    )
    # the external copies of the same message ('never' = the retention period) do expire
    end = "2036-11-24T10:00:00+00:00"  # T0 + 3650 days
    bob = env.ids()[BOB]
    assert env.show(bob)["expires"] == end
    assert env.show(bob, end)["status"] == "expired"
    assert env.show(dave, end)["status"] == "read"


# --- extension ----------------------------------------------------------------------------


def test_extension_within_the_remaining_max_extension(env):
    env.deliver("T/Open")  # 7d, max_extension 14d
    bob = str(env.ids()[BOB])
    assert env.show(bob)["expires"] == "2026-12-04T10:00:00+00:00"
    ok(env.cli("portal", "extend", bob, "--by", "10d", "--at", "2026-11-28T10:00:00Z"))
    r = env.cli("portal", "extend", bob, "--by", "5d", "--at", "2026-11-28T10:00:00Z")
    assert_error(r, "max_extension of 14d", "at most 4d more")
    ok(env.cli("portal", "extend", bob, "--by", "4d", "--at", "2026-11-28T10:00:00Z"))
    shown = env.show(bob)
    assert shown["expires"] == "2026-12-18T10:00:00+00:00" == shown["latest_expiry"]
    assert shown["extended_by"] == "14d"
    assert [e["by"] for e in shown["extensions"]] == ["10d", "4d"]
    assert_error(
        env.cli("portal", "extend", bob, "--by", "1m", "--at", "2026-11-28T10:00:00Z"),
        "no extension is left",
    )


def test_extension_only_before_expiry(env):
    env.deliver("T/Open")
    bob = str(env.ids()[BOB])
    assert_error(
        env.cli("portal", "extend", bob, "--by", "1d", "--at", "2026-12-04T10:00:00Z"),
        "expired",
        "only before",
    )
    assert env.show(bob)["expires"] == "2026-12-04T10:00:00+00:00"


def test_no_extension_when_max_extension_is_zero(env):
    env.deliver("T/Closed")
    assert_error(
        env.cli("portal", "extend", str(env.ids()[BOB]), "--by", "1h", "--at", T0),
        "allows no extension",
    )


def test_extension_never_past_retention(env):
    ok(env.cli("account", "set", "--max-retention-days", "10"))
    env.deliver("T/Open")  # 7d + up to 14d, but retention ends after 10 days
    bob = str(env.ids()[BOB])
    assert env.show(bob)["latest_expiry"] == "2026-12-07T10:00:00+00:00"
    assert_error(
        env.cli("portal", "extend", bob, "--by", "4d", "--at", T0),
        "retention period ends",
        "at most 3d more",
    )
    ok(env.cli("portal", "extend", bob, "--by", "3d", "--at", T0))
    assert env.show(bob)["expires"] == "2026-12-07T10:00:00+00:00"


def test_extend_rejects_a_bad_duration(env):
    env.deliver("T/Open")
    assert_error(
        env.cli("portal", "extend", str(env.ids()[BOB]), "--by", "soon", "--at", T0), "--by", "7d"
    )


# --- recall ---------------------------------------------------------------------------------


def test_recall_before_opening_then_the_link_is_refused(env):
    env.deliver("T/Open")
    bob = str(env.ids()[BOB])
    ok(env.cli("portal", "recall", bob, "--at", "2026-11-27T10:30:00Z"))
    assert env.show(bob)["status"] == "recalled"
    assert_error(
        env.recipient("open", tokens(env.outbox)[BOB], "--at", "2026-11-27T11:00:00Z"),
        ACCESS_REFUSED,
    )
    assert_error(env.cli("portal", "recall", bob, "--at", "2026-11-27T10:31:00Z"), "was recalled")
    assert_error(
        env.cli("portal", "extend", bob, "--by", "1d", "--at", "2026-11-27T10:31:00Z"), "recalled"
    )


def test_recall_after_opening_is_refused(env):
    env.deliver("T/Open")
    bob = str(env.ids()[BOB])
    ok(env.recipient("open", tokens(env.outbox)[BOB], "--at", "2026-11-27T10:20:00Z"))
    assert_error(
        env.cli("portal", "recall", bob, "--at", "2026-11-27T10:30:00Z"), "opened it", "unopened"
    )
    assert env.show(bob)["status"] == "read"


# --- non-delivery notices and users ---------------------------------------------------------------


def test_reply_to_an_internal_address_the_directory_does_not_know_bounces(env):
    ok(env.cli("user", "add", ALICE))  # the directory lists users; dave is not one of them
    env.deliver("T/Open")
    r = ok(
        env.recipient(
            "reply",
            tokens(env.outbox)[BOB],
            "--all",
            "--body",
            "Noted.",
            "--at",
            "2026-11-27T12:00:00Z",
        )
    )
    assert "warning: dave@example.com unknown to the directory" in r.stderr
    [ndr] = outbox_messages(env.outbox, "ndr")
    assert [a.addr_spec for a in ndr["To"].addresses] == [BOB]
    assert (
        ndr.get_content_type() == "multipart/report"
        and ndr.get_param("report-type") == "delivery-status"
    )
    human, status, returned = ndr.get_payload()
    assert "dave@example.com" in human.get_content()
    assert "may include a copy of the secure message" in human.get_content()
    assert status.get_content_type() == "message/delivery-status"
    blocks = status.get_payload()
    assert (
        blocks[1]["Final-Recipient"] == "rfc822; dave@example.com"
        and blocks[1]["Action"] == "failed"
    )
    assert returned.get_content_type() == "message/rfc822"
    inner = returned.get_payload()[0]
    assert inner["Subject"] == "Re: Quarterly figures"
    assert "> The Q3 figures are attached." in str(inner)
    assert "alice@example.com" not in str(human)  # alice is a known user: not reported


def test_no_bounce_when_the_directory_lists_no_users_or_knows_everyone(env):
    env.deliver("T/Open")
    token = tokens(env.outbox)[BOB]
    ok(env.recipient("reply", token, "--all", "--body", "1", "--at", "2026-11-27T12:00:00Z"))
    assert outbox_messages(env.outbox, "ndr") == []
    ok(env.cli("user", "add", ALICE, DAVE))
    ok(env.recipient("reply", token, "--all", "--body", "2", "--at", "2026-11-27T12:05:00Z"))
    assert outbox_messages(env.outbox, "ndr") == []
    assert len(outbox_messages(env.outbox, "reply")) == 2


def test_a_bounce_for_the_sender_too(env):
    ok(env.cli("user", "add", DAVE))
    env.deliver("T/Open")
    ok(
        env.recipient(
            "reply", tokens(env.outbox)[BOB], "--body", "x", "--at", "2026-11-27T12:00:00Z"
        )
    )
    [ndr] = outbox_messages(env.outbox, "ndr")
    assert ndr.get_payload()[1].get_payload()[1]["Final-Recipient"] == "rfc822; alice@example.com"


def test_user_add_list_remove(env):
    ok(env.cli("user", "add", "Alice@Example.com", DAVE))
    assert [u["address"] for u in ok(env.cli("user", "list", "-o", "json")).json] == [ALICE, DAVE]
    assert_error(env.cli("user", "add", ALICE), "already")
    assert_error(env.cli("user", "add", "someone@partner.test"), "not in an internal domain")
    assert_error(env.cli("user", "add", "not an address"), "not an address")
    ok(env.cli("user", "remove", DAVE))
    assert [u["address"] for u in ok(env.cli("user", "list", "-o", "json")).json] == [ALICE]
    assert_error(env.cli("user", "remove", DAVE), "not listed")


# --- sweep, list, show, audit ---------------------------------------------------------------------


def test_sweep_marks_expired_and_purges_past_retention(env):
    ok(env.cli("account", "set", "--max-retention-days", "30"))
    env.deliver("T/Closed")  # 12h
    ids = env.ids()
    token = tokens(env.outbox)[BOB]
    r = ok(env.cli("portal", "sweep", "--at", "2026-11-28T10:00:00Z", "-o", "json")).json
    assert (r["expired"], r["purged"]) == (3, 0)  # bob, carol, erin; dave's copy is in his inbox
    assert sorted(r["expired_ids"]) == sorted(ids.values())
    again = ok(env.cli("portal", "sweep", "--at", "2026-11-28T10:00:00Z", "-o", "json")).json
    assert (again["expired"], again["purged"]) == (0, 0)
    table = ok(env.cli("portal", "sweep", "--at", "2026-12-27T10:00:00Z"))
    assert "3 copies marked expired" not in table.stdout and "3 purged" in table.stdout
    assert env.show(ids[BOB], "2026-12-27T10:00:00Z")["status"] == "purged"
    assert_error(env.recipient("open", token, "--at", "2026-12-27T10:00:00Z"), ACCESS_REFUSED)
    conn = sqlite3.connect(env.db)
    try:
        assert (
            conn.execute("SELECT count(*) FROM portal_messages WHERE raw IS NOT NULL").fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM portal_copies WHERE token_hash IS NOT NULL"
            ).fetchone()[0]
            == 0
        )
    finally:
        conn.close()


def test_sweep_leaves_a_recalled_copy_alone(env):
    """A copy the sender recalled has ended: a later sweep neither counts it as
    expired nor writes an 'expire' entry for it in the audit log."""
    env.deliver("T/Closed")  # 12h
    ids = env.ids()
    ok(env.cli("portal", "recall", str(ids[CAROL]), "--at", "2026-11-27T11:00:00Z"))
    r = ok(env.cli("portal", "sweep", "--at", "2026-11-28T10:00:00Z", "-o", "json")).json
    assert sorted(r["expired_ids"]) == sorted([ids[BOB], ids[ERIN]])
    entries = ok(env.cli("audit", "-o", "json")).json
    expired = [e["object"] for e in entries if e["action"] == "expire"]
    assert sorted(expired) == sorted([str(ids[BOB]), str(ids[ERIN])])
    assert env.show(ids[CAROL], "2026-11-28T10:00:00Z")["status"] == "recalled"


def test_list_filters_by_sender_recipient_and_status(env):
    env.deliver("T/Open")
    ids = env.ids()
    assert sorted(ids) == [BOB, CAROL, ERIN]
    ok(env.recipient("open", tokens(env.outbox)[BOB], "--at", "2026-11-27T11:00:00Z"))
    ok(env.cli("portal", "recall", str(ids[CAROL]), "--at", "2026-11-27T11:00:00Z"))

    def listed(*args):
        return sorted(
            r["recipient"] for r in ok(env.cli("portal", "list", "-o", "json", *args)).json
        )

    assert listed("--status", "read", "--at", "2026-11-28T00:00:00Z") == [BOB]
    assert listed("--status", "recalled", "--at", "2026-11-28T00:00:00Z") == [CAROL]
    assert listed("--status", "unread", "--at", "2026-11-28T00:00:00Z") == [ERIN]
    assert listed("--status", "expired", "--at", "2026-12-05T00:00:00Z") == [BOB, ERIN]
    assert listed("--sender", "ALICE@example.com") == [BOB, CAROL, ERIN]
    assert listed("--sender", "someone@example.com") == []
    assert listed("--recipient", ERIN) == [ERIN]
    assert_error(env.cli("portal", "list", "--status", "lost"), "--status", "unread")


def test_show_reports_status_permissions_expiry_and_settings(env):
    env.deliver("T/ReplyOnly")
    shown = env.show(env.ids()[BOB])
    assert shown["definition"] == "T/ReplyOnly"
    assert (shown["allow_print"], shown["allow_reply"], shown["allow_reply_all"]) == (
        False,
        True,
        False,
    )
    assert shown["actions"] == ["view", "reply"]
    assert shown["settings"]["expire_after"] == "30d"
    assert (
        shown["sent"] == "2026-11-27T10:00:00+00:00"
        and shown["expires"] == "2026-12-27T10:00:00+00:00"
    )
    assert "token" not in json.dumps(shown).lower()
    assert_error(env.cli("portal", "show", "999"), "portal copy 999 not found")
    assert_error(env.cli("portal", "show", "abc"), "invalid portal id")


def test_every_lifecycle_action_is_audited(env):
    env.deliver("T/Open")
    ids = env.ids()
    token = tokens(env.outbox)[BOB]
    ok(env.recipient("open", token, "--at", "2026-11-27T11:00:00Z"))
    ok(env.recipient("print", token, "--at", "2026-11-27T11:01:00Z"))
    ok(env.recipient("reply", token, "--body", "x", "--at", "2026-11-27T11:02:00Z"))
    ok(env.cli("portal", "extend", str(ids[BOB]), "--by", "1d", "--at", "2026-11-27T11:03:00Z"))
    ok(env.cli("portal", "recall", str(ids[CAROL]), "--at", "2026-11-27T11:04:00Z"))
    ok(env.cli("portal", "sweep", "--at", "2026-12-30T00:00:00Z"))
    log = ok(env.cli("audit", "-o", "json")).json
    actions = {(e["action"], e["kind"]) for e in log}
    for expected in [
        ("deliver", "message"),
        ("open", "portal-copy"),
        ("print", "portal-copy"),
        ("reply", "portal-copy"),
        ("extend", "portal-copy"),
        ("recall", "portal-copy"),
        ("expire", "portal-copy"),
    ]:
        assert expected in actions, expected
    assert token not in json.dumps(log)


def test_deliver_then_the_whole_life_needs_no_network_and_prints_no_token(env):
    r = ok(
        env.cli(
            "deliver",
            env.tmp / "msg.eml",
            "--definition",
            "T/Open",
            "--at",
            T0,
            "--outbox",
            env.outbox,
        )
    )
    for token in tokens(env.outbox).values():
        assert token not in r.stdout and token not in r.stderr
    assert "notification" in r.stdout and str(env.outbox) in r.stdout


def test_open_saves_the_attachments_byte_for_byte(env):
    from tests.delivery._helpers import ATTACHMENT

    env.deliver("T/Open")
    target = env.tmp / "saved"
    r = ok(
        env.recipient(
            "open",
            tokens(env.outbox)[BOB],
            "--save-attachments",
            target,
            "--at",
            "2026-11-27T11:00:00Z",
            "-o",
            "json",
        )
    )
    assert (target / "figures.bin").read_bytes() == ATTACHMENT
    import hashlib

    assert r.json["attachments"] == [
        {
            "filename": "figures.bin",
            "content_type": "application/octet-stream",
            "size": len(ATTACHMENT),
            "sha256": hashlib.sha256(ATTACHMENT).hexdigest(),
        }
    ]
    # a second save into the same place does not overwrite
    (target / "figures.bin").write_bytes(b"mine")
    ok(
        env.recipient(
            "open",
            tokens(env.outbox)[BOB],
            "--save-attachments",
            target,
            "--at",
            "2026-11-27T11:01:00Z",
        )
    )
    assert (target / "figures.bin").read_bytes() == b"mine"
    assert (target / "figures (2).bin").read_bytes() == ATTACHMENT


def test_attachment_names_cannot_escape_the_directory():
    from secmsg_cli.delivery.attachments import safe_name as _safe_name

    assert _safe_name("../../etc/passwd", 1) == "passwd"
    assert _safe_name("..\\..\\boot.ini", 2) == "boot.ini"
    assert _safe_name("..", 3) == "attachment-3"
    assert _safe_name(None, 4) == "attachment-4"
    assert _safe_name(".bashrc", 5) == "bashrc"


def test_a_time_before_sending_is_an_input_error_not_a_refusal(env):
    env.deliver("T/Open")
    r = env.recipient("open", tokens(env.outbox)[BOB], "--at", "2026-11-27T09:00:00Z")
    assert_error(r, "--at", "before the message was sent")
    assert env.show(env.ids()[BOB])["status"] == "unread"


def test_db_status_counts_what_the_portal_holds(env):
    before = ok(env.cli("db", "status", "-o", "json")).json
    assert (before["portal_messages"], before["portal_copies"]) == (0, 0)
    env.deliver()
    after = ok(env.cli("db", "status", "-o", "json")).json
    assert after["portal_messages"] == 1
    assert after["portal_copies"] == len(env.ids()) >= 1
    assert after["users"] == before["users"]
    ok(env.cli("user", "add", "someone.new@example.com"))
    assert ok(env.cli("db", "status", "-o", "json")).json["users"] == before["users"] + 1


# --- administrator: revoke and expire, one copy or many -----------------------------------


def test_revoke_after_read_the_recipient_sees_only_that_it_was_revoked(env):
    env.deliver("T/Open")
    ids = env.ids()
    token = tokens(env.outbox)[BOB]
    ok(env.recipient("open", token, "--at", "2026-11-27T11:00:00Z"))  # read: a recall is refused
    assert_error(
        env.cli("portal", "recall", str(ids[BOB]), "--at", "2026-11-27T12:00:00Z"), "opened"
    )
    r = ok(env.cli("portal", "revoke", str(ids[BOB]), "--at", "2026-11-27T12:00:00Z"))
    assert f"Revoked portal copy {ids[BOB]} ({BOB})" in r.stdout
    seen = env.recipient("open", token, "--at", "2026-11-27T13:00:00Z")
    assert_error(seen, "revoked on")
    assert ACCESS_REFUSED not in seen.stderr and "Hello" not in seen.stdout
    assert env.show(ids[BOB], "2026-11-27T13:00:00Z")["status"] == "revoked"
    for verb in ("extend", "recall", "revoke"):
        args = ["--by", "1d"] if verb == "extend" else []
        refused = env.cli("portal", verb, str(ids[BOB]), *args, "--at", "2026-11-27T14:00:00Z")
        assert_error(refused, f"cannot {verb} portal copy {ids[BOB]}", "revoked on")
    audit = ok(env.cli("audit", "--kind", "portal-copy", "--action", "revoke", "-o", "json")).json
    assert [(e["object"], e["actor"]) for e in audit] == [(str(ids[BOB]), "tester")]
    denied = ok(env.cli("audit", "--action", "access-denied", "-o", "json")).json
    assert denied[0]["after"]["reason"] == "revoked"
    # a later sweep leaves it revoked: not expired, not audited as such
    ok(env.cli("portal", "sweep", "--at", "2027-01-30T00:00:00Z"))
    assert env.show(ids[BOB], "2027-01-30T00:00:00Z")["status"] == "revoked"


def test_several_copies_need_yes_off_a_terminal_and_dry_run_changes_nothing(env):
    env.deliver("T/Open")
    ids = env.ids()

    def statuses() -> dict[str, str]:
        rows = ok(env.cli("portal", "list", "--at", "2026-11-28T00:00:00Z", "-o", "json")).json
        return {r["recipient"]: r["status"] for r in rows}

    before = statuses()
    refused = env.cli(
        "portal", "revoke", "--recipient", "@partner.test", "--at", "2026-11-28T00:00:00Z"
    )
    assert refused.exit_code == 1 and "pass --yes" in refused.stderr
    assert statuses() == before
    dry = ok(
        env.cli(
            "portal",
            "revoke",
            "--recipient",
            "@partner.test",
            "--dry-run",
            "-o",
            "json",
            "--at",
            "2026-11-28T00:00:00Z",
        )
    )
    assert sorted(r["recipient"] for r in dry.json) == [BOB, CAROL, ERIN]
    assert statuses() == before
    ok(
        env.cli(
            "portal",
            "revoke",
            "--recipient",
            "@partner.test",
            "--yes",
            "--at",
            "2026-11-28T00:00:00Z",
        )
    )
    assert statuses() == {BOB: "revoked", CAROL: "revoked", ERIN: "revoked"}
    assert sorted(ids) == [BOB, CAROL, ERIN]
    again = ok(env.cli("portal", "revoke", "--recipient", "@partner.test", "--yes"))
    assert "No portal copy to revoke (3 already ended)" in again.stdout


def test_expire_now_ends_copies_as_their_expiry_would(env):
    env.deliver("T/Open")
    ids = env.ids()
    token = tokens(env.outbox)[CAROL]
    ok(env.cli("portal", "expire", str(ids[CAROL]), "--at", "2026-11-27T12:00:00Z"))
    assert env.show(ids[CAROL], "2026-11-27T12:30:00Z")["status"] == "expired"
    assert_error(env.recipient("open", token, "--at", "2026-11-27T12:30:00Z"), ACCESS_REFUSED)
    assert env.show(ids[BOB], "2026-11-27T12:30:00Z")["status"] == "unread"
    assert_error(
        env.cli("portal", "expire", str(ids[CAROL]), "--at", "2026-11-27T13:00:00Z"), "expired on"
    )
    swept = ok(env.cli("portal", "sweep", "--at", "2026-12-30T00:00:00Z", "-o", "json")).json
    assert ids[CAROL] not in swept["expired_ids"]
    actions = [
        e["action"]
        for e in ok(
            env.cli("audit", "--object", str(ids[CAROL]), "--kind", "portal-copy", "-o", "json")
        ).json
    ]
    assert actions.count("expire-now") == 1 and "expire" not in actions


def test_ids_or_filters_and_something_chosen(env):
    env.deliver("T/Open")
    ids = env.ids()
    assert_error(env.cli("portal", "revoke"), "nothing chosen")
    assert_error(env.cli("portal", "revoke", str(ids[BOB]), "--recipient", BOB), "ids or filters")
    assert_error(env.cli("portal", "expire", "999"), "999")
    twice = ok(env.cli("portal", "revoke", str(ids[BOB]), str(ids[BOB]), "--yes"))
    assert twice.stdout.count("Revoked portal copy") == 1


def test_an_administrator_extends_past_the_senders_cap_but_never_past_retention(env):
    ok(env.cli("account", "set", "--max-retention-days", "60"))
    env.deliver("T/Closed")  # 12h, max_extension 0d: the sender cannot extend at all
    bob = str(env.ids()[BOB])
    assert_error(env.cli("portal", "extend", bob, "--by", "1d", "--at", T0), "allows no extension")
    r = ok(env.cli("portal", "extend", bob, "--by", "20d", "--admin", "--at", T0))
    assert "as administrator" in r.stdout
    shown = env.show(bob)
    assert shown["expires"] == "2026-12-17T22:00:00+00:00"  # 12h + 20d
    assert shown["latest_expiry"] == shown["expires"]  # raised with it
    assert shown["extensions"][-1]["administrator"] is True
    # --until: the end of that day in the account's time zone (UTC here)
    ok(env.cli("portal", "extend", bob, "--until", "2026-12-31", "--admin", "--at", T0))
    assert env.show(bob)["expires"] == "2027-01-01T00:00:00+00:00"
    past = env.cli("portal", "extend", bob, "--until", "2027-02-01", "--admin", "--at", T0)
    assert_error(past, "retention period ends")  # sent + 60 days is 2027-01-26
    assert env.show(bob)["expires"] == "2027-01-01T00:00:00+00:00"
    audit = ok(env.cli("audit", "--object", bob, "--kind", "portal-copy", "-o", "json")).json
    assert [e["action"] for e in audit if "extend" in e["action"]] == ["admin-extend"] * 2
    assert_error(env.cli("portal", "extend", bob, "--admin", "--at", T0), "--by", "--until")
    assert_error(
        env.cli("portal", "extend", bob, "--by", "1d", "--until", "2026-12-31", "--at", T0),
        "either",
    )
    earlier = env.cli("portal", "extend", bob, "--until", "2026-12-01", "--admin", "--at", T0)
    assert_error(earlier, "already expires")
