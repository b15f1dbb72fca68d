"""``secmsg report ...`` on a store built by delivering every demo message at
a fixed time (message N on 2026-11-(10+N) at 10:00 UTC), four copies opened at
fixed times, one recalled by its sender and one (read) revoked by an
administrator: every figure exact.

The copies (id: message, recipient, definition, trigger, sender):

    1: 01 2026-11-11  m.okonkwo@lexpartners.com      Legal/7-Day   content  alice  opened +2h
    2: 03 2026-11-13  m.okonkwo@lexpartners.com      Legal/Client  policy   farah  opened +1d
    3: 04 2026-11-14  accounts@clientco.example      Finance       content  ben
    4: 06 2026-11-16  jose.mueller@clientco.example  Legal/7-Day   content  zoe    opened +30m
    5: 06 2026-11-16  j.weiss@clientco.example       Legal/7-Day   content  zoe    recalled
    6: 07 2026-11-17  r.santos@lexpartners.com       Legal/Client  policy   evan   opened +6h, revoked
    7: 09 2026-11-19  priya.shah@clientco.example    Legal/Client  content  alice
    8: 12 2026-11-22  treasury@mail.lexpartners.com  Finance       policy   ben
"""

from __future__ import annotations

import csv
import email
import io
import json
import mailbox
import re

import pytest

from tests.conftest import FIXTURES
from tests.helpers import assert_error, ok

AT = "2026-11-25T00:00:00Z"
LEGAL7 = "Legal/7-Day Expiry, Receipt"
CLIENT = "Legal/Client Correspondence"
FINANCE = "Finance/Statements, 2 Weeks"
TOKEN = re.compile(r"\?token=([0-9a-f]{12}\.[A-Za-z0-9_-]{43})\b")


def _tokens(outbox) -> dict[int, str]:
    """portal copy id -> access token, from the notifications."""
    box = mailbox.Maildir(str(outbox), factory=None, create=False)
    found = {}
    for key in box.iterkeys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        if msg["X-Secmsg-Kind"] == "notification":
            m = TOKEN.search(msg.get_body(("plain",)).get_content())
            assert m
            found[int(msg["X-Secmsg-Portal-Id"])] = m.group(1)
    return found


@pytest.fixture
def store(demo, tmp_path, monkeypatch):
    outbox = tmp_path / "outbox"
    for n, message in enumerate(sorted((FIXTURES / "messages").glob("*.eml")), 1):
        at = f"2026-11-{10 + n}T10:00:00Z"
        demo("-q", "deliver", message, "--outbox", outbox, "--at", at)
    tokens = _tokens(outbox)
    assert sorted(tokens) == [1, 2, 3, 4, 5, 6, 7, 8]
    for copy, at in (
        (1, "2026-11-11T12:00:00Z"),
        (2, "2026-11-14T10:00:00Z"),
        (4, "2026-11-16T10:30:00Z"),
        (6, "2026-11-17T16:00:00Z"),
    ):
        ok(demo("portal", "open", tokens[copy], "--at", at, "--outbox", outbox, "-o", "json"))
    monkeypatch.setenv("SECMSG_ACTOR", "zoe.angstrom@harborfinch.co.uk")
    ok(demo("portal", "recall", "5", "--at", "2026-11-16T11:00:00Z"))
    monkeypatch.setenv("SECMSG_ACTOR", "admin@harborfinch.com")
    ok(demo("portal", "revoke", "6", "--at", "2026-11-18T09:00:00Z"))
    return demo


def rows(cli, *args: str) -> list[dict]:
    return ok(cli("report", *args, "-o", "json")).json


def test_messages_by_definition_trigger_and_sender_domain(store):
    got = [
        (r["by"], r["key"], r["copies"], r["messages"], r["share"]) for r in rows(store, "messages")
    ]
    assert got == [
        ("definition", LEGAL7, 3, 2, 0.375),
        ("definition", CLIENT, 3, 3, 0.375),
        ("definition", FINANCE, 2, 2, 0.25),
        ("trigger", "content", 5, 4, 0.625),
        ("trigger", "policy", 3, 3, 0.375),
        ("sender-domain", "harborfinch.com", 5, 5, 0.625),
        ("sender-domain", "harborfinch.co.uk", 3, 2, 0.375),
    ]


def test_messages_over_a_period_and_with_the_list_filters(store):
    # whole days in the account's time zone: the 16th to the end of the 19th
    period = rows(
        store, "messages", "--since", "2026-11-16", "--until", "2026-11-19", "--by", "trigger"
    )
    assert [(r["key"], r["copies"], r["messages"]) for r in period] == [
        ("content", 3, 2),
        ("policy", 1, 1),
    ]
    domain = rows(store, "messages", "--recipient", "@lexpartners.com", "--by", "definition")
    assert [(r["key"], r["copies"]) for r in domain] == [(CLIENT, 2), (LEGAL7, 1)]
    table = ok(store("report", "messages", "--since", "2026-11-16", "--until", "2026-11-19"))
    assert table.stdout.rstrip().splitlines()[-1] == (
        "4 copies of 3 messages, sent from 2026-11-16 00:00 to before 2026-11-20 00:00"
    )


def test_reads_per_definition_with_time_to_first_read(store):
    got = rows(store, "reads", "--at", AT)
    assert [r["definition"] for r in got] == [FINANCE, LEGAL7, CLIENT, None]
    assert [
        (
            r["copies"],
            r["opened"],
            r["unread"],
            r["read"],
            r["expired"],
            r["recalled"],
            r["revoked"],
        )
        for r in got
    ] == [
        (2, 0, 2, 0, 0, 0, 0),
        (3, 2, 0, 0, 2, 1, 0),
        (3, 2, 1, 1, 0, 0, 1),
        (8, 4, 3, 1, 2, 1, 1),
    ]
    assert [
        (r["first_read_median_s"], r["first_read_p90_s"], r["first_read_max_s"]) for r in got
    ] == [
        (None, None, None),
        (4500, 7200, 7200),  # 30 min and 2 h
        (54000, 86400, 86400),  # 6 h and 1 day
        (14400, 86400, 86400),  # all four: the mean of the middle two, nearest rank
    ]
    assert got[-1]["opened_share"] == 0.5


def test_reads_status_is_judged_at_the_time_given(store):
    early = rows(store, "reads", "--at", "2026-11-17T00:00:00Z")[-1]
    # copies 1 and 4 expire on the 18th and the 23rd: still read on the 17th
    assert (early["read"], early["expired"], early["unread"]) == (3, 0, 3)


def test_expiring_lists_unread_copies_first(store):
    assert [r["id"] for r in rows(store, "expiring", "--at", AT, "--days", "14")] == [3, 8]
    month = rows(store, "expiring", "--at", AT, "--days", "30")
    assert [(r["id"], r["status"]) for r in month] == [
        (3, "unread"),
        (8, "unread"),
        (7, "unread"),
        (2, "read"),
    ]
    table = ok(store("report", "expiring", "--at", AT, "--days", "30"))
    assert table.stdout.rstrip().splitlines()[-1] == "4 copies expire within 30 days: 3 unread"


def test_ended_names_who_recalled_and_who_revoked(store):
    got = rows(store, "ended", "--at", AT)
    assert [(r["id"], r["ended"], r["ended_at"], r["by"], r["read_at"]) for r in got] == [
        (5, "recalled", "2026-11-16T11:00:00+00:00", "zoe.angstrom@harborfinch.co.uk", None),
        (
            6,
            "revoked",
            "2026-11-18T09:00:00+00:00",
            "admin@harborfinch.com",
            "2026-11-17T16:00:00+00:00",
        ),
    ]
    assert rows(store, "ended", "--since", "2026-11-17", "--until", "2026-11-17")[0]["id"] == 6


def test_top_senders(store):
    got = rows(store, "senders")
    assert [(r["sender"], r["messages"], r["copies"], r["opened"]) for r in got] == [
        ("alice.morgan@harborfinch.com", 2, 2, 1),
        ("ben.okafor@harborfinch.com", 2, 2, 0),
        ("zoe.angstrom@harborfinch.co.uk", 1, 2, 1),
        ("evan.price@harborfinch.co.uk", 1, 1, 1),
        ("farah.nasser@harborfinch.com", 1, 1, 1),
    ]
    assert [r["sender"] for r in rows(store, "senders", "--top", "2")] == [
        "alice.morgan@harborfinch.com",
        "ben.okafor@harborfinch.com",
    ]


def test_tables_fit_80_columns_with_bars(store, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for args in (
        ("messages",),
        ("reads", "--at", AT),
        ("expiring", "--at", AT, "--days", "30"),
        ("ended", "--at", AT),
        ("senders",),
    ):
        out = ok(store("report", *args)).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, (args, out)
    messages = ok(store("report", "messages")).stdout
    # 37.5 % of a 12-cell bar: 4.5 cells
    assert re.search(r"│  37\.5% ████▌ +│", messages), messages


def test_csv_is_for_tools(store):
    text = ok(store("report", "messages", "--by", "trigger", "-o", "csv")).stdout
    assert list(csv.reader(io.StringIO(text))) == [
        ["by", "key", "copies", "messages", "share"],
        ["trigger", "content", "5", "4", "0.625"],
        ["trigger", "policy", "3", "3", "0.375"],
    ]


def test_copies_from_before_triggers_were_recorded_are_unknown(store, _isolated_store):
    import sqlite3

    with sqlite3.connect(_isolated_store) as db:
        db.execute("UPDATE portal_copies SET trigger = NULL WHERE id = 8")
    got = rows(store, "messages", "--by", "trigger")
    assert [(r["key"], r["copies"]) for r in got] == [("content", 5), ("policy", 2), (None, 1)]
    assert "(unknown)" in ok(store("report", "messages", "--by", "trigger")).stdout


def test_text_from_messages_is_escaped_in_tables_and_csv(store, _isolated_store):
    import sqlite3

    with sqlite3.connect(_isolated_store) as db:
        db.execute(
            "UPDATE portal_messages SET header_from = ?, subject = ? WHERE id = 1",
            ["=cmd|'/c calc'!a1@evil.example", "\x1b]0;owned\x07Heron"],
        )
    table = ok(store("report", "senders")).stdout
    assert "\x1b" not in table and "=cmd" in table
    text = ok(store("report", "senders", "-o", "csv")).stdout
    assert "\n'=cmd" in text
    ended = ok(store("report", "expiring", "--at", "2026-11-11T11:00:00Z", "--days", "30")).stdout
    assert "\x1b" not in ended and "\x07" not in ended


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("messages", "--by", "colour"), ("--by", "definition")),
        (("messages", "--since", "last week"), ("--since",)),
        (("reads", "--until", "2026-13-01"), ("--until",)),
        (("senders", "--recipient", "@bad..example"), ("--recipient",)),
        (("reads", "--at", "yesterday"), ("--at",)),
    ],
)
def test_bad_values_are_one_line(store, args, fragments):
    assert_error(store("report", *args), 1, *fragments)


def test_expiring_days_must_be_a_positive_number(store):
    r = store("report", "expiring", "--days", "0")
    assert r.exit_code == 2 and "Traceback" not in r.output and r.stderr.count("\n") == 1


def test_an_empty_store_reports_nothing_without_failing(demo):
    assert ok(demo("report", "messages", "-o", "json")).json == []
    assert ok(demo("report", "reads", "-o", "json")).json == []
    r = ok(demo("report", "messages"))
    assert r.stdout == "" and "no portal copies" in r.stderr


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-10T00:00:00Z",
        "2026-11-18T10:00:00Z",
        AT,
        "2026-12-13T10:00:00Z",
        "2034-01-01T00:00:00Z",
    ],
)
def test_the_sql_status_of_list_filters_agrees_with_each_copys_status(store, at):
    """``portal list --status`` (and the reports) judge the status in SQL;
    ``portal list`` shows PortalCopy.status: the two never differ, before and
    after a sweep marks copies expired (and purges them, in 2034)."""
    for sweep in (False, True):
        if sweep:
            ok(store("portal", "sweep", "--at", at))
        listed = ok(store("portal", "list", "--at", at, "-o", "json")).json
        for status in ("unread", "read", "expired", "recalled", "revoked", "purged"):
            chosen = ok(store("portal", "list", "--at", at, "--status", status, "-o", "json")).json
            assert [r["id"] for r in chosen] == [r["id"] for r in listed if r["status"] == status]


def test_every_report_validates_against_the_shipped_schema(store, tmp_path):
    from jsonschema import Draft202012Validator

    from tests.test_schemas import schema

    s = schema("report")
    Draft202012Validator.check_schema(s)
    run = tmp_path / "run.jsonl"
    run.write_text(
        ok(
            store(
                "simulate",
                FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml",
                "-o",
                "jsonl",
            )
        ).stdout,
        encoding="utf-8",
    )
    for args, part in (
        (("messages",), "messages"),
        (("reads", "--at", AT), "reads"),
        (("expiring", "--at", AT, "--days", "30"), "copy"),
        (("ended", "--at", AT), "ended"),
        (("senders",), "sender"),
        (("run", str(run)), "run"),
    ):
        got = rows(store, *args)
        assert got, args
        whole = [e.message for e in Draft202012Validator(s).iter_errors(got)]
        one = {"$ref": f"#/$defs/{part}", "$defs": s["$defs"]}
        each = [e.message for row in got for e in Draft202012Validator(one).iter_errors(row)]
        assert whole == each == [], (args, each)
        lines = ok(store("report", *args, "-o", "jsonl")).stdout.splitlines()
        assert [json.loads(line) for line in lines] == got
    changed = rows(store, "messages")
    changed[0]["colour"] = "red"
    assert list(Draft202012Validator(s).iter_errors(changed))


def test_a_period_or_window_at_the_edge_of_the_calendar_is_no_crash(store):
    assert rows(store, "expiring", "--at", "9999-12-31T00:00:00Z", "--days", "36500") == []
    r = ok(store("report", "messages", "--since", "0001-01-01T00:00:00+14:00"))
    assert "sent from 0001-01-01 00:00" in r.stdout
