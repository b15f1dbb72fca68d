"""`secmsg deliver`: what is retained, what is written to the outbox (parsed
back with the standard library), and that a message that fails leaves
nothing behind (SPEC §7.4, §11)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import sqlite3
from types import SimpleNamespace

import pytest

from secmsg_cli.delivery import compose
from secmsg_cli.store.store import Store
from tests.conftest import FIXTURES
from tests.delivery._helpers import (
    ATTACHMENT,
    MESSAGE,
    T0,
    build_store,
    outbox_files,
    outbox_messages,
    tokens,
    write_message,
)
from tests.helpers import ok

MESSAGES = FIXTURES / "messages"
STANDARD = "using Secure Messaging. To reply securely"
MESSAGE_ID_01 = "<20261126091405.4A21@harborfinch.com>"


@pytest.fixture
def env(cli, tmp_path, _isolated_store):
    build_store(_isolated_store)
    outbox = tmp_path / "outbox"

    def deliver(*args, code: int = 0):
        r = cli("deliver", *args, "--at", T0, "--outbox", outbox, "-o", "json")
        assert r.exit_code == code, r.output
        return r

    return SimpleNamespace(
        cli=cli, db=_isolated_store, outbox=outbox, deliver=deliver, tmp=tmp_path
    )


def copies(db) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT recipient, definition FROM portal_copies ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def parse(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def structure(msg) -> list[str]:
    return [p.get_content_type() for p in msg.walk()]


def attachments(msg) -> list[tuple[str, bytes]]:
    return [
        (p.get_filename(), p.get_payload(decode=True))
        for p in msg.walk()
        if not p.is_multipart() and p.get_filename()
    ]


# --- the inbox copies of internal recipients ------------------------------------------------------


def test_internal_copies_carry_the_banner_in_every_text_and_html_part(env):
    env.deliver(write_message(env.tmp), "--definition", "T/Open")
    [copy] = outbox_messages(env.outbox, "inbox-copy")
    original = email.message_from_bytes(MESSAGE, policy=email.policy.default)
    assert copy["X-Secmsg-Envelope-To"] == "dave@example.com"
    assert structure(copy) == structure(original)  # the MIME tree is unchanged
    assert not copy.defects and all(not p.defects for p in copy.walk())
    plain = copy.get_body(("plain",)).get_content()
    html = copy.get_body(("html",)).get_content()
    banner = (
        "This message was sent securely by alice@example.com using Secure Messaging. To reply securely, "
        "use the Secure Messaging Portal or a Secure Messaging application."
    )
    assert plain == banner + "\n\n" + original.get_body(("plain",)).get_content()
    # in the HTML, right after the <body> tag
    assert (
        '<body class="mail"><div class="secmsg-banner">This message was sent securely by alice@example.com'
        in html
    )
    assert html.index("secmsg-banner") < html.index("The Q3 figures")
    # the attachment, byte for byte
    assert attachments(copy) == [("figures.bin", ATTACHMENT)]
    # Bcc is not delivered; everything else of the header is
    assert copy["Bcc"] is None
    assert (
        copy["Message-ID"] == "<q3-figures@example.com>" and copy["Subject"] == "Quarterly figures"
    )


@pytest.mark.parametrize(
    "fixture",
    [
        "04-finance-card-number-attachment.eml",
        "10-board-to-auditor-pdf.eml",
        "09-multipart-alternative-html.eml",
        "06-rfc2047-non-ascii-names.eml",
    ],
)
def test_fixture_messages_keep_their_structure_and_attachments(env, fixture):
    path = MESSAGES / fixture
    env.deliver(path, "--rcpt", "dave@example.com", "--definition", "T/Open")
    [copy] = outbox_messages(env.outbox, "inbox-copy")
    original = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert structure(copy) == structure(original)
    assert attachments(copy) == attachments(original)

    def bodies(msg):
        return [
            p
            for p in msg.walk()
            if p.get_content_type() in ("text/plain", "text/html") and not p.get_filename()
        ]

    assert len(bodies(copy)) == len(bodies(original)) > 0
    for before, after in zip(bodies(original), bodies(copy), strict=True):
        assert STANDARD in after.get_content()
        assert after.get_content_charset() == "utf-8"
        # without the banner, what was there is there, decoded correctly
        was = (
            before.get_content()
            .replace("\r\n", "\n")
            .replace('charset="us-ascii"', 'charset="utf-8"')
        )
        if after.get_content_type() == "text/html":
            now = re.sub(
                r'<div class="secmsg-banner">[^<]*</div>', "", after.get_content(), count=1
            )
        else:
            now = after.get_content().split("\n\n", 1)[1]
        assert now.rstrip("\n") == was.rstrip("\n")


def test_known_attachment_digests_survive(env):
    env.deliver(
        MESSAGES / "04-finance-card-number-attachment.eml",
        MESSAGES / "10-board-to-auditor-pdf.eml",
        "--rcpt",
        "dave@example.com",
        "--definition",
        "T/Open",
    )
    found = {
        name: hashlib.md5(data).hexdigest()
        for m in outbox_messages(env.outbox, "inbox-copy")
        for name, data in attachments(m)
    }
    # MD5s from fixtures/messages/README.md
    assert found == {
        "card_reconciliation_2026-11.csv": "79e0668b505fc8e5ac7bc20343e10a25",
        "FY2026-management-letter.pdf": "75d52c1184732329973d02a5c01fbfda",
    }


def test_a_custom_banner_is_used_via_the_gateway_and_a_hidden_one_changes_nothing(env):
    env.deliver(
        write_message(env.tmp),
        "--rcpt",
        "dave@example.com",
        "--definition",
        "T/Silent",
        "--via",
        "gateway",
    )
    [copy] = outbox_messages(env.outbox, "inbox-copy")
    original = email.message_from_bytes(MESSAGE, policy=email.policy.default)
    assert copy.get_body(("plain",)).get_content() == original.get_body(("plain",)).get_content()
    assert copy.get_body(("html",)).get_content() == original.get_body(("html",)).get_content()
    assert attachments(copy) == attachments(original)


def test_a_single_part_message_without_body_tag_gets_the_banner_on_top(env):
    raw = (
        b"From: alice@example.com\nTo: dave@example.com\nSubject: s\nContent-Type: text/html\n\n"
        b"<p>caf\xe9</p>\n"
    )  # no charset, not UTF-8
    env.deliver(write_message(env.tmp, raw, "s.eml"), "--definition", "T/Open")
    [copy] = outbox_messages(env.outbox, "inbox-copy")
    assert copy["MIME-Version"] == "1.0"
    html = copy.get_content()
    assert html.startswith('<div class="secmsg-banner">') and html.endswith("<p>café</p>\n")


def test_plain_recipients_get_nothing_from_the_system(env):
    # no definition chosen and no policy: nothing is secure
    r = env.deliver(write_message(env.tmp))
    assert outbox_files(env.outbox) == []
    assert copies(env.db) == []
    assert r.json["portal_ids"] == [] and r.json["outbox"] == []


# --- notifications and retained copies ---------------------------------------------------------


def test_each_portal_recipient_gets_a_notification_with_its_link(env):
    r = env.deliver(write_message(env.tmp), "--definition", "T/Open")
    notes = outbox_messages(env.outbox, "notification")
    assert sorted(m["To"].addresses[0].addr_spec for m in notes) == [
        "bob@partner.test",
        "carol@partner.test",
        "erin@partner.test",
    ]
    store = Store(env.db)
    try:
        for m in notes:
            assert m["Subject"] == "You've been sent a secure message"
            assert m["From"].addresses[0].addr_spec == "alice@example.com"
            assert m.get_content_type() == "multipart/alternative"
            text = m.get_body(("plain",)).get_content()
            html = m.get_body(("html",)).get_content()
            assert "Alice Example <alice@example.com> has sent you a secure message." in text
            assert (
                "Subject: Quarterly figures" in text
                and "Available until: 2026-12-04 10:00 UTC" in text
            )
            rcpt = m["To"].addresses[0].addr_spec
            token = tokens(env.outbox)[rcpt]
            assert f"https://portal.invalid/secure?token={token}\n" in text
            assert f'href="https://portal.invalid/secure?token={token}"' in html
            copy = store.portal_copy(int(m["X-Secmsg-Portal-Id"]))
            assert copy.recipient == rcpt
            assert copy.token_hash == hashlib.sha256(token.encode()).hexdigest()
    finally:
        store.close()
    ids = sorted(int(m["X-Secmsg-Portal-Id"]) for m in notes)
    assert sorted(r.json["portal_ids"]) == ids
    assert {x["address"]: x["portal"]["id"] for x in r.json["recipients"] if x["portal"]} == {
        m["To"].addresses[0].addr_spec: int(m["X-Secmsg-Portal-Id"]) for m in notes
    }


def test_the_retained_copy_keeps_the_message_and_the_settings_at_sending(env):
    path = write_message(env.tmp)
    env.deliver(path, "--definition", "T/ReplyOnly")
    ok(env.cli("definition", "update", "T/ReplyOnly", "--print", "--expire-after", "1d"))
    store = Store(env.db)
    try:
        [first, *_] = store.portal_copies()
        assert store.portal_records.portal_message_raw(first.message_ref) == path.read_bytes()
        assert first.settings["expire_after"] == "30d" and first.settings["allow_print"] is False
        assert (
            first.allow_print is False and first.expires.isoformat() == "2026-12-27T10:00:00+00:00"
        )
    finally:
        store.close()


def test_the_token_is_in_the_notification_and_nowhere_in_the_store_file(env):
    env.deliver(write_message(env.tmp), "--definition", "T/Open")
    toks = tokens(env.outbox)
    assert len(toks) == 3
    bob = toks["bob@partner.test"]
    ok(env.cli("portal", "open", bob, "--at", "2026-11-27T11:00:00Z", "--outbox", env.outbox))
    ok(
        env.cli(
            "portal",
            "reply",
            bob,
            "--all",
            "--body",
            "ok",
            "--at",
            "2026-11-27T11:01:00Z",
            "--outbox",
            env.outbox,
        )
    )
    ok(env.cli("portal", "sweep", "--at", "2026-11-28T00:00:00Z"))
    raw = b"".join(p.read_bytes() for p in env.db.parent.glob(env.db.name + "*") if p.is_file())
    assert b"q3-figures" in raw  # the store does hold the message...
    for token in toks.values():
        assert token.encode() not in raw  # ...but never a token, not even its secret half
        assert token.split(".")[1].encode() not in raw
    # and the outbox does hold them, in the notifications only
    holders = {
        m["X-Secmsg-Kind"]
        for m in outbox_messages(env.outbox)
        for t in toks.values()
        if t in str(m)
    }
    assert holders == {"notification"}


def test_deliver_json_is_simulate_json_plus_portal_ids(env):
    path = write_message(env.tmp)
    sim = ok(env.cli("simulate", path, "--definition", "T/Open", "--at", T0, "-o", "json")).json
    got = env.deliver(path, "--definition", "T/Open").json
    assert len(got["portal_ids"]) == 3
    assert [(o["kind"], o["to"]) for o in got["outbox"]] == [
        ("notification", ["bob@partner.test"]),
        ("notification", ["carol@partner.test"]),
        ("notification", ["erin@partner.test"]),
        ("inbox-copy", ["dave@example.com"]),
    ]
    for o in got["outbox"]:
        assert (env.outbox / "new").samefile(__import__("pathlib").Path(o["path"]).parent)
    for r in got["recipients"]:
        if r["portal"] is not None:
            assert r["portal"].pop("id") in got["portal_ids"]
    del got["portal_ids"], got["outbox"]
    assert got == sim


def test_deliver_prints_the_simulate_tables_and_the_portal_ids(env):
    r = ok(
        env.cli(
            "deliver",
            write_message(env.tmp),
            "--definition",
            "T/Open",
            "--at",
            T0,
            "--outbox",
            env.outbox,
        )
    )
    assert "portal records" in r.stdout and "delivered" in r.stdout
    assert (
        "bob@partner.test" in r.stdout and "notification" in r.stdout and "inbox-copy" in r.stdout
    )
    assert "3 portal copies retained, 4 message(s) written" in r.stderr
    for token in tokens(env.outbox).values():
        assert token not in r.stdout + r.stderr


def test_the_default_outbox_is_beside_the_store(cli, tmp_path, _isolated_store):
    build_store(_isolated_store)
    ok(cli("deliver", write_message(tmp_path), "--definition", "T/Open", "--at", T0))
    beside = _isolated_store.parent / (_isolated_store.name + ".outbox")
    assert len(outbox_messages(beside)) == 4


# --- one transaction per message: a failure leaves nothing behind ----------------------------------


def test_a_message_that_fails_half_way_leaves_nothing_and_the_batch_goes_on(env, monkeypatch):
    real, calls = compose.notification, []

    def failing(**kw):
        calls.append(kw["recipient"])
        if (
            kw["subject"] == "Quarterly figures" and len(calls) == 2
        ):  # the second notification of MESSAGE
            raise OSError(5, "Input/output error")
        return real(**kw)

    monkeypatch.setattr(compose, "notification", failing)
    good = MESSAGES / "01-confidential-subject-to-counsel.eml"
    r = env.cli(
        "deliver",
        write_message(env.tmp),
        good,
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
        "-o",
        "json",
    )
    assert r.exit_code == 1, r.output
    first, second = r.json
    assert "Input/output error" in first["error"] and "portal_ids" not in first
    assert second["portal_ids"] and len(second["outbox"]) == 1
    # only the second message's copy and file exist
    assert copies(env.db) == [("m.okonkwo@lexpartners.com", "T/Open")]
    [f] = outbox_files(env.outbox)
    assert f.parent.name == "new" and "m.okonkwo@lexpartners.com" in f.read_text()
    audit = ok(env.cli("audit", "-o", "json")).json
    assert [e["object"] for e in audit if e["action"] == "deliver"] == [MESSAGE_ID_01]


def test_nothing_reaches_new_before_the_commit_and_a_failed_commit_leaves_nothing(env, monkeypatch):
    from contextlib import contextmanager

    from secmsg_cli.errors import StoreError

    real, seen = Store.transaction, []

    @contextmanager
    def failing_commit(self):
        with real(self):
            yield self
            if (
                self._depth == 1
                and self.conn.execute("SELECT count(*) FROM portal_copies").fetchone()[0]
            ):
                # the deliver transaction, about to commit: its files wait in tmp/
                seen.append(
                    (
                        len(list((env.outbox / "tmp").iterdir())),
                        len(list((env.outbox / "new").iterdir())),
                    )
                )
                raise StoreError(
                    "cannot write to store: disk I/O error"
                )  # as if the commit had failed

    monkeypatch.setattr(Store, "transaction", failing_commit)
    r = env.cli(
        "deliver",
        write_message(env.tmp),
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1, r.output
    assert seen == [(4, 0)]
    assert "disk I/O error" in r.stderr
    assert outbox_files(env.outbox) == []
    assert copies(env.db) == []
    conn = sqlite3.connect(env.db)
    try:
        assert conn.execute("SELECT count(*) FROM portal_messages").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM outbox_pending").fetchone()[0] == 0
    finally:
        conn.close()


def test_files_that_could_not_be_moved_after_the_commit_are_moved_by_the_next_run(env, monkeypatch):
    from secmsg_cli.delivery.outbox import Outbox

    real = Outbox._move_to_new
    monkeypatch.setattr(
        Outbox,
        "_move_to_new",
        lambda self, name: (_ for _ in ()).throw(OSError(28, "No space left")),
    )
    r = env.cli(
        "deliver",
        write_message(env.tmp),
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1, r.output
    assert "No space left" in r.stderr and "moved on the next run" in r.stderr
    assert "recorded in the store (do not do it again)" in r.stderr  # a retry would do it twice
    assert len(copies(env.db)) == 3  # delivered: the store holds the copies
    assert (
        len(list((env.outbox / "tmp").iterdir())) == 4
        and list((env.outbox / "new").iterdir()) == []
    )
    monkeypatch.setattr(Outbox, "_move_to_new", real)
    # the next command that uses the outbox (here a portal action) finishes the move
    r = env.cli(
        "portal",
        "open",
        "0123456789ab.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1 and "access refused" in r.stderr, r.output
    assert "4 file(s) of committed deliveries moved to new/" in r.stderr
    assert list((env.outbox / "tmp").iterdir()) == [] and len(outbox_messages(env.outbox)) == 4
    assert len(tokens(env.outbox)) == 3
    conn = sqlite3.connect(env.db)
    try:
        assert conn.execute("SELECT count(*) FROM outbox_pending").fetchone()[0] == 0
    finally:
        conn.close()


# --- idempotent: the same message is not delivered twice -------------------------------------------------


def _counts(db) -> tuple[int, int, int]:
    conn = sqlite3.connect(db)
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("portal_messages", "portal_copies", "deliveries")
        )
    finally:
        conn.close()


def test_delivering_the_same_message_again_is_refused_and_writes_nothing(env):
    path = write_message(env.tmp)
    env.deliver(path, "--definition", "T/Open")
    before = (_counts(env.db), sorted(p.name for p in outbox_files(env.outbox)))
    assert before[0] == (1, 3, 4)  # 3 portal copies, 1 inbox copy
    r = env.cli("-q", "deliver", path, "--definition", "T/Open", "--at", T0, "--outbox", env.outbox)
    assert r.exit_code == 1, r.output
    [line] = r.stderr.splitlines()
    assert (
        line.startswith("error: ") and "<q3-figures@example.com> was already delivered to" in line
    )
    for rcpt in ("bob@partner.test", "carol@partner.test", "erin@partner.test", "dave@example.com"):
        assert rcpt in line
    assert "--again" in line
    assert (_counts(env.db), sorted(p.name for p in outbox_files(env.outbox))) == before
    # one recipient that already has it is enough to refuse
    r = env.cli(
        "deliver",
        path,
        "--rcpt",
        "dave@example.com",
        "--rcpt",
        "new@partner.test",
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1 and "already delivered to dave@example.com;" in r.stderr, r.output
    assert _counts(env.db) == before[0]
    # new recipients only: delivered
    env.deliver(path, "--rcpt", "new@partner.test", "--definition", "T/Open")
    assert _counts(env.db) == (2, 4, 5)


def test_again_delivers_it_again_and_says_so(env):
    path = write_message(env.tmp)
    env.deliver(path, "--definition", "T/Open")
    r = env.deliver(path, "--definition", "T/Open", "--again")
    assert len(r.json["portal_ids"]) == 3
    assert _counts(env.db) == (2, 6, 8)
    audit = ok(env.cli("audit", "-o", "json")).json
    assert [e["after"]["again"] for e in audit if e["action"] == "deliver"] == [True, False]


def test_200_message_ids_delivered_twice_are_stored_once(env):
    batch = env.tmp / "batch"
    batch.mkdir()
    for i in range(200):
        write_message(
            batch,
            MESSAGE.replace(b"<q3-figures@example.com>", b"<m%d@example.com>" % i),
            f"{i:03d}.eml",
        )
    env.deliver(batch, "--rcpt", "bob@partner.test", "--definition", "T/Open", "-o", "jsonl")
    r = env.cli(
        "deliver",
        batch,
        "--rcpt",
        "bob@partner.test",
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
        "-o",
        "jsonl",
    )
    assert r.exit_code == 1
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 200 and all(
        "was already delivered to bob@partner.test" in d["error"] for d in docs
    )
    assert _counts(env.db) == (200, 200, 200)
    assert len(outbox_files(env.outbox)) == 200


def test_a_message_without_message_id_is_known_by_its_bytes(env):
    raw = MESSAGE.replace(b"Message-ID: <q3-figures@example.com>\n", b"")
    a = write_message(env.tmp, raw, "a.eml")
    b = write_message(env.tmp, raw, "b.eml")  # the same bytes in another file
    c = write_message(env.tmp, raw.replace(b"Quarterly figures", b"Other figures"), "c.eml")
    env.deliver(a, "--rcpt", "bob@partner.test", "--definition", "T/Open")
    r = env.cli(
        "deliver",
        b,
        "--rcpt",
        "bob@partner.test",
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert (
        r.exit_code == 1
        and "no Message-ID; the same bytes) was already delivered to bob@partner.test" in r.stderr
    )
    env.deliver(
        c, "--rcpt", "bob@partner.test", "--definition", "T/Open"
    )  # different bytes: another message
    assert _counts(env.db) == (2, 2, 2)


def test_plain_recipients_are_not_counted_as_delivered(env):
    path = write_message(env.tmp)
    env.deliver(path)  # nothing secure: the system delivers nothing
    env.deliver(path, "--definition", "T/Open")
    assert _counts(env.db) == (1, 3, 4)


def test_an_undecidable_message_writes_nothing(env):
    r = env.deliver(MESSAGES / "08-no-recipient-headers.eml", code=1)
    assert "no recipients" in r.json["error"]
    assert outbox_files(env.outbox) == [] and copies(env.db) == []


def test_bad_options_are_refused_before_anything_is_written(env):
    for args, fragment in [
        (("--via", "fax"), "--via"),
        (("--definition", "T/Nope"), "not found"),
        (("--rcpt", "not an address"), "not an address"),
    ]:
        r = env.cli("deliver", write_message(env.tmp), *args, "--at", T0, "--outbox", env.outbox)
        assert r.exit_code == 1 and r.stderr.startswith("error: ") and fragment in r.stderr, (
            r.output
        )
    assert copies(env.db) == []
    assert not env.outbox.exists() or outbox_files(env.outbox) == []


def test_the_schema_has_the_portal_tables(env):
    conn = sqlite3.connect(env.db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 4
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"portal_messages", "portal_copies", "users"} <= tables
        cols = [r[1] for r in conn.execute("PRAGMA table_info(portal_copies)")]
        for c in (
            "recipient",
            "internal",
            "definition",
            "settings",
            "sent",
            "expires",
            "latest_expiry",
            "retention_end",
            "extended_seconds",
            "read_at",
            "recalled_at",
            "expired_at",
            "purged_at",
            "token_id",
            "token_hash",
        ):
            assert c in cols, c
        assert "token" not in [r[1] for r in conn.execute("PRAGMA table_info(portal_copies)")]
    finally:
        conn.close()


def test_a_store_from_before_the_ledger_knows_its_portal_deliveries(env):
    """Migration 4 fills the delivery ledger from the portal copies already
    held, so a message delivered before the upgrade is not delivered twice."""
    env.deliver(write_message(env.tmp), "--definition", "T/Open")
    conn = sqlite3.connect(env.db)
    try:  # back to schema 3, as an older secmsg left it
        conn.executescript(
            "DROP TABLE deliveries; DROP TABLE outbox_pending; "
            "DELETE FROM _sqlite_migrations WHERE name = 'm004_delivery_ledger'; PRAGMA user_version = 3;"
        )
    finally:
        conn.close()
    r = env.cli(
        "-q",
        "deliver",
        write_message(env.tmp),
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1, r.output
    # the inbox copy of dave@example.com was not recorded before: only the portal recipients are known
    assert (
        "already delivered to bob@partner.test, carol@partner.test, erin@partner.test;" in r.stderr
    )
    conn = sqlite3.connect(env.db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 4
        assert conn.execute(
            "SELECT message_key, recipient, route FROM deliveries ORDER BY id"
        ).fetchall() == [
            ("<q3-figures@example.com>", a, "portal")
            for a in ("bob@partner.test", "carol@partner.test", "erin@partner.test")
        ]
    finally:
        conn.close()


@pytest.mark.parametrize("damage", ["world-writable", "new-is-a-symlink"])
def test_an_unsafe_outbox_is_refused_with_one_line(env, damage):
    env.outbox.mkdir(mode=0o700)
    for sub in ("tmp", "new", "cur"):
        (env.outbox / sub).mkdir(mode=0o700)
    if damage == "world-writable":
        env.outbox.chmod(0o777)
    else:
        (env.outbox / "new").rmdir()
        (env.tmp / "elsewhere").mkdir()
        (env.outbox / "new").symlink_to(env.tmp / "elsewhere")
    r = env.cli(
        "deliver",
        write_message(env.tmp),
        "--definition",
        "T/Open",
        "--at",
        T0,
        "--outbox",
        env.outbox,
    )
    assert r.exit_code == 1, r.output
    [line] = r.stderr.splitlines()
    assert line.startswith("error: cannot use outbox ") and (
        "writable by every user" in line or "symbolic link" in line
    )
    assert copies(env.db) == []
    assert not (env.tmp / "elsewhere").exists() or list((env.tmp / "elsewhere").iterdir()) == []
