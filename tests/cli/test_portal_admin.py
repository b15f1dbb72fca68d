"""An administrator's bulk extension (``portal extend --admin`` by ids or the
filters of ``portal list``) and what ``portal sweep`` reports, on a store
built by delivering every demo message at a fixed time with a short
retention period (40 days: copies sent 2026-11-27 10:00 are kept until
2027-01-06 10:00).

The copies (all sent 2026-11-27T10:00Z; the definition's cap is the sender's
latest possible expiry):

    id  recipient                      expires     sender's cap
    1   m.okonkwo@lexpartners.com      2026-12-04  2026-12-18
    2   m.okonkwo@lexpartners.com      2026-12-27  2027-01-26
    3   accounts@clientco.example      2026-12-11  2026-12-25
    4   jose.mueller@clientco.example  2026-12-04  2026-12-18
    5   j.weiss@clientco.example       2026-12-04  2026-12-18
    6   r.santos@lexpartners.com       2026-12-27  2027-01-26
    7   priya.shah@clientco.example    2026-12-27  2027-01-26
    8   treasury@mail.lexpartners.com  2026-12-11  2026-12-25
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES
from tests.helpers import assert_error, ok

SENT = "2026-11-27T10:00:00Z"
AT = "2026-11-28T00:00:00Z"
RETENTION_END = "2027-01-06T10:00:00+00:00"


@pytest.fixture
def delivered(demo, tmp_path):
    ok(demo("account", "set", "--max-retention-days", "40"))
    for message in sorted((FIXTURES / "messages").glob("*.eml")):
        demo("-q", "deliver", message, "--outbox", tmp_path / "outbox", "--at", SENT)
    return demo


def expiries(cli) -> dict[int, str]:
    rows = ok(cli("portal", "list", "--at", AT, "-o", "json")).json
    return {r["id"]: r["expires"] for r in rows}


def audited(cli, action: str) -> list[tuple[str, str]]:
    rows = ok(cli("audit", "--action", action, "-o", "json")).json
    return sorted((e["object"], e["actor"]) for e in rows)


# --- portal extend --admin: ids or filters ---------------------------------------------


def test_bulk_extend_goes_past_the_senders_cap_and_leaves_out_what_it_cannot_extend(delivered):
    cli = delivered
    ok(cli("portal", "revoke", "5", "--at", AT))
    before = expiries(cli)
    r = ok(
        cli(
            "portal", "extend", "--admin", "--recipient", "@clientco.example", "--by", "20d",
            "--yes", "--at", AT,
        )
    )  # fmt: skip
    # 3 and 4 extended (4 past its sender's cap of 2026-12-18); 5 revoked, 7 would pass retention
    assert "Extended portal copy 3 (accounts@clientco.example) by 20d as administrator" in r.stdout
    assert "Extended portal copy 4 (jose.mueller@clientco.example) by 20d" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1] == (
        "Left out: 2 copies that matched (1 ended, 1 past retention)."
    )
    after = expiries(cli)
    assert after[3] == "2026-12-31T10:00:00+00:00"
    assert after[4] == "2026-12-24T10:00:00+00:00"
    assert {k: v for k, v in after.items() if k not in (3, 4)} == {
        k: v for k, v in before.items() if k not in (3, 4)
    }
    assert audited(cli, "admin-extend") == [("3", "tester"), ("4", "tester")]
    shown = ok(cli("portal", "show", "4", "--at", AT, "-o", "json")).json
    assert shown["latest_expiry"] == shown["expires"]  # raised past the sender's cap
    assert shown["extensions"][-1]["administrator"] is True


def test_bulk_extend_never_passes_retention(delivered):
    cli = delivered
    # --until the end of 2027-01-06: after retention ends (10:00) for every copy
    r = ok(cli("portal", "extend", "--admin", "--sender", "alice.morgan@harborfinch.com",
               "--until", "2027-01-06", "--yes", "--at", AT))  # fmt: skip
    assert r.stdout == "No portal copy to extend (2 past retention).\n"
    ok(cli("portal", "extend", "--admin", "--sender", "alice.morgan@harborfinch.com",
           "--until", RETENTION_END, "--yes", "--at", AT))  # fmt: skip
    assert expiries(cli)[1] == expiries(cli)[7] == RETENTION_END
    # named by id, a copy that cannot be extended refuses the whole command
    refused = cli("portal", "extend", "--admin", "2", "7", "--by", "1d", "--yes", "--at", AT)
    assert_error(
        refused, 1, "cannot extend portal copy 7", "retention period ends", "no extension is left"
    )
    assert expiries(cli)[2] == "2026-12-27T10:00:00+00:00"


def test_bulk_extend_dry_run_shows_the_new_expiry_and_writes_nothing(delivered):
    cli = delivered
    audit_before = ok(cli("audit", "-o", "json")).json
    dry = ok(cli("portal", "extend", "--admin", "--definition", "finance/statements, 2 weeks",
                 "--by", "3w", "--dry-run", "--at", AT, "-o", "json"))  # fmt: skip
    assert [(r["id"], r["expires"], r["new_expires"]) for r in dry.json] == [
        (3, "2026-12-11T10:00:00+00:00", "2027-01-01T10:00:00+00:00"),
        (8, "2026-12-11T10:00:00+00:00", "2027-01-01T10:00:00+00:00"),
    ]
    table = ok(cli("portal", "extend", "--admin", "--definition", "finance/statements, 2 weeks",
                   "--by", "3w", "--dry-run", "--at", AT))  # fmt: skip
    assert "new expiry" in table.stdout and "2027-01-01 10:00" in table.stdout
    assert "Dry run: 2 copies would be extended; nothing was changed." in table.stdout
    assert ok(cli("audit", "-o", "json")).json == audit_before
    assert expiries(cli)[3] == "2026-12-11T10:00:00+00:00"


def test_the_sender_extends_one_copy_at_a_time(delivered):
    cli = delivered
    assert_error(
        cli("portal", "extend", "1", "4", "--by", "1d", "--at", AT),
        1,
        "one copy at a time",
        "--admin",
    )
    assert_error(
        cli("portal", "extend", "--recipient", "@clientco.example", "--by", "1d"), 1, "--admin"
    )
    assert_error(cli("portal", "extend", "1", "--by", "1d", "--dry-run"), 1, "--dry-run", "--admin")
    assert_error(cli("portal", "extend", "--admin", "--by", "1d"), 1, "nothing chosen")
    assert_error(
        cli("portal", "extend", "--admin", "1", "--recipient", "@x.example", "--by", "1d"),
        1,
        "not both",
    )
    assert_error(cli("portal", "extend", "--admin", "--status", "unread", "--by", "0d"), 1, "--by")
    r = ok(cli("portal", "extend", "1", "--by", "14d", "--at", AT))  # the sender: up to the cap
    assert "as administrator" not in r.stdout
    assert audited(cli, "extend") == [("1", "tester")]
    assert audited(cli, "admin-extend") == []


def test_several_copies_without_yes_off_a_terminal_are_refused(delivered, _isolated_store):
    cli = delivered
    before = expiries(cli)
    env = {**os.environ, "SECMSG_DB": str(_isolated_store)}
    run = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "portal", "extend", "--admin", "--recipient",
         "@lexpartners.com", "--by", "1d", "--at", AT],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("error: extend would change 3 portal copies")
    assert "pass --yes" in run.stderr and run.stderr.count("\n") == 1
    assert "┃ id" in run.stdout  # the copies were shown first
    assert expiries(cli) == before
    assert audited(cli, "admin-extend") == []


# --- portal sweep: what it marks and purges, and --dry-run -----------------------------

# the demo messages that left a portal copy, and their size as retained
PORTAL_MESSAGES = ("01", "03", "04", "06", "07", "09", "12")


def sweep(cli, at: str, *flags: str) -> dict:
    return ok(cli("portal", "sweep", "--at", at, *flags, "-o", "json")).json


def test_sweep_lists_what_it_marks_expired_but_never_a_recalled_or_revoked_copy(delivered):
    cli = delivered
    ok(cli("portal", "recall", "5", "--at", AT))
    ok(cli("portal", "revoke", "1", "--at", AT))
    dry = sweep(cli, "2026-12-20T00:00:00Z", "--dry-run")
    assert dry["dry_run"] is True
    assert dry["expired_ids"] == [3, 4, 8] and dry["purged_ids"] == []
    assert audited(cli, "expire") == []  # the dry run wrote nothing
    done = sweep(cli, "2026-12-20T00:00:00Z")
    assert {k: v for k, v in done.items() if k != "dry_run"} == {
        k: v for k, v in dry.items() if k != "dry_run"
    }
    assert done["expired_copies"][0] == {
        "id": 3,
        "recipient": "accounts@clientco.example",
        "sender": "ben.okafor@harborfinch.com",
        "subject": "November expenses reconciliation",
        "sent": "2026-11-27T10:00:00+00:00",
        "expires": "2026-12-11T10:00:00+00:00",
        "retention_end": RETENTION_END,
    }
    assert [obj for obj, _ in audited(cli, "expire")] == ["3", "4", "8"]  # not 1 (revoked), 5
    # a later sweep marks only what has expired since, and again never 1 or 5
    assert sweep(cli, "2027-01-01T00:00:00Z")["expired_ids"] == [2, 6, 7]


def test_sweep_purges_past_retention_and_counts_the_messages_and_bytes_deleted(delivered):
    cli = delivered
    before = ok(cli("audit", "-o", "json")).json
    dry = sweep(cli, "2027-01-06T09:59:59Z", "--dry-run")
    assert (dry["purged"], dry["messages_deleted"], dry["bytes_deleted"]) == (0, 0, 0)
    dry = sweep(cli, RETENTION_END, "--dry-run")
    sizes = sum(
        (FIXTURES / "messages").glob(f"{n}-*.eml").__next__().stat().st_size
        for n in PORTAL_MESSAGES
    )
    assert (dry["purged"], dry["messages_deleted"], dry["bytes_deleted"]) == (8, 7, 9960)
    assert sizes == 9960
    assert ok(cli("audit", "-o", "json")).json == before  # nothing written
    assert ok(cli("portal", "show", "4", "--at", AT, "-o", "json")).json["purged_at"] is None
    table = ok(cli("portal", "sweep", "--at", RETENTION_END))
    lines = table.stdout.splitlines()
    assert lines[0].strip() == "purged past retention"
    assert lines[-1] == (
        f"Swept at {RETENTION_END}: 8 copies marked expired, 8 purged past retention; "
        "7 retained messages (9,960 bytes) deleted."
    )
    assert "│ 2  │ m.okonkwo@lexpartners.com" in table.stdout
    assert "farah.nasser@harborfinch.com" in table.stdout
    assert ok(cli("portal", "show", "4", "--at", AT, "-o", "json")).json["status"] == "purged"
    again = sweep(cli, RETENTION_END)
    assert (again["purged"], again["messages_deleted"], again["bytes_deleted"]) == (0, 0, 0)
    quiet_dry = ok(cli("portal", "sweep", "--at", "2040-01-01", "--dry-run"))
    assert quiet_dry.stdout == (
        "Dry run at 2040-01-01T00:00:00+00:00: 0 copies would be marked expired, "
        "0 purged past retention, 0 retained messages (0 bytes) deleted; nothing was changed.\n"
    )


def test_sweep_escapes_a_subject_for_the_terminal(demo, tmp_path):
    raw = (FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml").read_bytes()
    evil = raw.replace(
        b"Subject: Confidential:", b"Subject: =?utf-8?q?=1B=5B2J=1B=5D0;owned=07?= Confidential:"
    )
    assert evil != raw
    path = tmp_path / "evil.eml"
    path.write_bytes(evil)
    ok(demo("account", "set", "--max-retention-days", "40"))
    ok(demo("-q", "deliver", path, "--outbox", tmp_path / "outbox", "--at", SENT))
    table = ok(demo("portal", "sweep", "--at", RETENTION_END))
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "\\x1b[2J" in table.stdout
    dumped = sweep(demo, RETENTION_END, "--dry-run")  # already swept: nothing left
    assert dumped["purged_copies"] == []
