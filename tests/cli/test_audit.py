"""``secmsg audit`` filters: actor, action, kind, object and time range, each
repeatable where it makes sense, combined with AND, in every output form."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from tests.conftest import FIXTURES
from tests.delivery._helpers import tokens
from tests.helpers import assert_error, ok

MESSAGE = FIXTURES / "messages" / "06-rfc2047-non-ascii-names.eml"


def entries(cli, *args: str) -> list[dict]:
    return ok(cli("audit", "-n", "1000", "-o", "json", *args)).json


def test_filters_by_action_kind_and_object_without_regard_to_case(demo):
    everything = entries(demo)
    assert {e["action"] for e in everything} >= {"import"}
    created = entries(demo, "--action", "create", "--kind", "secure-messaging")
    assert created and {(e["action"], e["kind"]) for e in created} == {
        ("create", "secure-messaging")
    }
    assert created == [
        e for e in everything if e["action"] == "create" and e["kind"] == "secure-messaging"
    ]
    assert entries(demo, "--action", "CREATE", "--kind", "Secure-Messaging") == created
    both = entries(demo, "--action", "create", "--kind", "bypass", "--kind", "secure-messaging")
    assert {e["kind"] for e in both} == {"bypass", "secure-messaging"}
    one = entries(demo, "--kind", "secure-messaging", "--object", "3")
    assert [e["object"] for e in one] == ["3"]
    assert entries(demo, "--action", "no-such-action") == []


def test_filters_by_actor(demo, monkeypatch):
    monkeypatch.setenv("SECMSG_ACTOR", "auditor-2")
    ok(demo("domain", "add", "later.example"))
    mine = entries(demo, "--actor", "auditor-2")
    assert [(e["action"], e["kind"], e["object"]) for e in mine] == [
        ("create", "domain", "later.example")
    ]
    others = entries(demo, "--actor", "tester")
    assert others and all(e["actor"] == "tester" for e in others)
    assert len(entries(demo, "--actor", "tester", "--actor", "auditor-2")) == len(others) + 1


def test_time_range_reads_dates_as_whole_days_in_the_account_time_zone(demo):
    today = datetime.now(UTC).date()
    everything = entries(demo)
    # the entries were written just now: within today (a date bound takes the
    # whole day; the demo account is in Europe/London, at most an hour off UTC)
    around = entries(
        demo,
        "--since",
        (today - timedelta(days=1)).isoformat(),
        "--until",
        (today + timedelta(days=1)).isoformat(),
    )
    assert around == everything
    assert entries(demo, "--until", (today - timedelta(days=2)).isoformat()) == []
    assert entries(demo, "--since", (today + timedelta(days=2)).isoformat()) == []
    stamp = everything[0]["at"]
    assert entries(demo, "--since", stamp)[-1]["at"] >= stamp
    assert all(e["at"] < stamp for e in entries(demo, "--until", stamp))


def test_a_bad_time_is_one_line_and_nothing_else(demo):
    r = demo("audit", "--since", "yesterday")
    assert_error(r, 1, "--since", "yesterday", "ISO date")
    assert r.stdout == ""


def test_refused_portal_access_can_be_listed_without_the_secret(demo, tmp_path):
    outbox = tmp_path / "outbox"
    ok(demo("deliver", MESSAGE, "--outbox", outbox, "--at", "2026-11-27T10:00:00Z"))
    token = next(iter(tokens(outbox).values()))
    token_id, secret = token.split(".")
    wrong = f"{token_id}.{'A' * len(secret)}"
    r = demo("portal", "open", wrong, "--outbox", outbox, "--at", "2026-11-28T10:00:00Z")
    assert r.exit_code == 1
    denied = entries(demo, "--action", "access-denied")
    assert [(e["kind"], e["object"]) for e in denied] == [("portal-token", token_id)]
    text = ok(demo("audit", "--action", "access-denied", "-o", "csv")).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["object"] for r in rows] == [token_id]
    assert secret not in text and "A" * len(secret) not in text
    lines = ok(demo("audit", "--kind", "portal-token", "-o", "jsonl")).stdout.splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["access-denied"]
