"""simulate --against (the corpus diff), --coverage / --min-coverage and
--jobs (issue 6 items 4-5, issue 7 item 2)."""

from __future__ import annotations

import json
import shutil

import pytest

from secmsg_cli import runner
from tests.conftest import DEMO, FIXTURES

AT = "2026-11-27T10:00:00+00:00"
MESSAGES = FIXTURES / "messages"


def _proposed(tmp_path, old: str, new: str, count: int = 1):
    text = DEMO.read_text(encoding="utf-8")
    assert text.count(old) == count, old
    path = tmp_path / "proposed.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_against_itself_changes_nothing(demo):
    r = demo(
        "simulate", MESSAGES, "--at", AT, "--against", DEMO, "--detailed-exitcode", "-o", "json"
    )
    assert r.exit_code == 0, r.output
    doc = r.json
    assert doc["changes"] == []
    assert doc["summary"]["messages"] == 12 and doc["summary"]["recipients"] == 21
    assert doc["summary"]["errors"] == 1  # 08 has no recipients on either side


def test_against_a_config_lists_only_changed_recipients_with_why(demo, tmp_path):
    # The "Confidential subject" content definition needs a score of 2: the
    # subject rule no longer fires on its own.
    proposed = _proposed(
        tmp_path,
        'name = "Confidential subject"\nactivation_score = 1',
        'name = "Confidential subject"\nactivation_score = 2',
    )
    r = demo(
        "simulate", MESSAGES, "--at", AT, "--against", proposed, "--detailed-exitcode", "-o", "json"
    )
    assert r.exit_code == 5, r.output
    doc = r.json
    changed = {(c["source"].rsplit("/", 1)[-1], c["recipient"]) for c in doc["changes"]}
    assert changed == {
        ("01-confidential-subject-to-counsel.eml", "m.okonkwo@lexpartners.com"),
        ("06-rfc2047-non-ascii-names.eml", "jose.mueller@clientco.example"),
        ("06-rfc2047-non-ascii-names.eml", "j.weiss@clientco.example"),
        ("06-rfc2047-non-ascii-names.eml", "evan.price@harborfinch.co.uk"),
    }
    first = next(c for c in doc["changes"] if c["recipient"] == "m.okonkwo@lexpartners.com")
    # Without the content trigger, policy 1 (Legal -> lexpartners.com) decides.
    assert first["before"]["trigger"] == "content" and first["after"]["trigger"] == "policy"
    assert first["after"]["definition"] == "Legal/Client Correspondence"
    # Every field that differs, the portal record's too (7-Day -> Client Correspondence).
    assert first["changed"] == [
        "definition",
        "trigger",
        "policy",
        "expires",
        "latest_expiry",
        "allow_print",
        "allow_reply_all",
        "read_receipt",
    ]
    assert first["before"]["policy"] == {
        "kind": "content-examination",
        "id": 7,
        "narrative": "Confidential subjects, outbound",
    }
    assert first["before"]["expires"] == "2026-12-04T10:00:00+00:00"
    assert first["after"]["allow_print"] is True and first["before"]["allow_print"] is False
    assert (
        "content policy 7" in first["why_before"]
        and "secure-messaging policy 1" in first["why_after"]
    )
    assert doc["summary"]["changed_recipients"] == 4 and doc["summary"]["changed_messages"] == 2
    # Without --detailed-exitcode a diff is not a failure.
    assert demo("simulate", MESSAGES, "--at", AT, "--against", proposed).exit_code == 0


def test_against_another_store(demo, tmp_path, cli):
    other = tmp_path / "other.db"
    assert cli("--db", other, "import", DEMO).exit_code == 0
    assert cli("--db", other, "policy", "disable", "1").exit_code == 0
    r = demo(
        "simulate",
        MESSAGES / "03-mixed-internal-external.eml",
        "--at",
        AT,
        "--against",
        other,
        "-o",
        "jsonl",
    )
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(c["recipient"], c["before"]["route"], c["after"]["route"]) for c in rows] == [
        ("m.okonkwo@lexpartners.com", "portal", "inbox")
    ]
    assert "decided differently" in r.stderr


def test_against_table_and_bad_uses(demo, tmp_path):
    proposed = _proposed(
        tmp_path,
        'to = { type = "domain", value = "lexpartners.com" }',
        'to = { type = "domain", value = "nowhere.example" }',
    )
    r = demo("simulate", MESSAGES / "07-reply-thread.eml", "--at", AT, "--against", proposed)
    assert r.exit_code == 0, r.output
    assert "r.santos@lexpartners.com" in r.stdout and "route: portal → inbox" in r.stdout
    bad = demo("simulate", MESSAGES, "--against", tmp_path / "missing.toml")
    assert bad.exit_code == 1 and "no such file" in bad.stderr
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("[[policies]]\nkind = 'nope'\n", encoding="utf-8")
    assert demo("simulate", MESSAGES, "--against", invalid).exit_code == 3
    assert demo("simulate", MESSAGES, "--detailed-exitcode").exit_code == 1
    assert demo("simulate", MESSAGES, "--against", DEMO, "--explain").exit_code == 1


def test_a_changed_expiry_is_a_change(demo, tmp_path):
    # Client Correspondence (message 09, through content policy 9) expires after
    # 10 days instead of 30: route, definition and policy stay, the dates move.
    proposed = _proposed(
        tmp_path,
        'description = "Client Correspondence"\nallow_print = true\nallow_reply = true\n'
        'allow_reply_all = true\nexpire_after = "30d"',
        'description = "Client Correspondence"\nallow_print = true\nallow_reply = true\n'
        'allow_reply_all = true\nexpire_after = "10d"',
    )
    nine = MESSAGES / "09-multipart-alternative-html.eml"
    r = demo(
        "simulate", nine, "--at", AT, "--against", proposed, "--detailed-exitcode", "-o", "json"
    )
    assert r.exit_code == 5, r.output
    (change,) = r.json["changes"]
    assert change["recipient"] == "priya.shah@clientco.example"
    assert change["changed"] == ["expires", "latest_expiry"]
    assert (change["before"]["expires"], change["after"]["expires"]) == (
        "2026-12-27T10:00:00+00:00",
        "2026-12-07T10:00:00+00:00",
    )
    assert r.json["summary"]["by_field"] == {"expires": 1, "latest_expiry": 1}
    table = demo("simulate", nine, "--at", AT, "--against", proposed, "--detailed-exitcode")
    assert table.exit_code == 5
    assert "expires: 2026-12-27T10:00:00+00:00 → 2026-12-07T10:00:00+00:00" in table.stdout


@pytest.mark.parametrize(
    ("old", "new", "field", "shown"),
    [
        # a permission, a read receipt: yes/no, never True/False
        (
            'allow_reply_all = true\nexpire_after = "30d"',
            'allow_reply_all = false\nexpire_after = "30d"',
            "allow_reply_all",
            "reply all: yes → no",
        ),
        # the banner of an internal copy
        (
            "Secure message from [sender_name]",
            "Protected message from [sender_name]",
            "banner_text",
            "banner (text): Secure message from",
        ),
        # the notification's portal URL
        (
            'portal_url = "',
            'portal_url = "https://other.example/portal" #',
            "portal_url",
            "portal URL: ",
        ),
    ],
)
def test_each_field_is_compared_and_shown_in_words(demo, tmp_path, old, new, field, shown):
    text = DEMO.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "proposed.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    r = demo("simulate", MESSAGES, "--at", AT, "--against", path, "-o", "json")
    assert r.exit_code == 0, r.output
    assert r.json["summary"]["by_field"].get(field), r.json["summary"]
    table = demo("simulate", MESSAGES, "--at", AT, "--against", path)
    assert shown in table.stdout, table.stdout
    for python in ("True", "False", "None"):
        assert f": {python} " not in table.stdout and f"→ {python}" not in table.stdout


def test_a_recipient_decided_on_one_side_only_is_a_change(demo, tmp_path):
    # The proposal does not publish the chosen definition to the sender: it
    # cannot decide message 03, so each recipient the store decides is a
    # change (not skipped, not one line for the message).
    proposed = _proposed(
        tmp_path,
        'path = "Legal"\npublish_to = ["everyone"]',
        'path = "Legal"\npublish_to = ["Board"]',
    )
    args = ("--at", AT, "--definition", "Legal/Client Correspondence", "--against", proposed)
    three = MESSAGES / "03-mixed-internal-external.eml"
    r = demo("simulate", three, *args, "--detailed-exitcode", "-o", "json")
    assert r.exit_code == 5, r.output
    changes = r.json["changes"]
    assert len(changes) == 5 and all(c["changed"] == ["decided"] for c in changes)
    assert all(c["after"] is None and c["before"]["route"] for c in changes)
    assert "is not available to farah.nasser@harborfinch.com" in changes[0]["why_after"]
    assert r.json["summary"]["changed_recipients"] == 5
    assert r.json["summary"]["by_field"] == {"decided": 5}
    table = demo("simulate", three, *args)
    assert table.stdout.count("decided only before") == 5, table.stdout


def test_coverage_counts_messages_and_flags_the_undecided(demo):
    r = demo("simulate", MESSAGES, "--at", AT, "--coverage", "-o", "jsonl")
    assert r.exit_code == 1, r.output  # 08 has no recipients: an error row
    report = json.loads(r.stderr.strip().splitlines()[-1])["coverage"]
    rows = {(row["kind"], row["id"]): row for row in report["rows"]}
    assert rows[("secure-messaging", 1)]["decided"] == 2  # 03 and 07
    assert (
        rows[("content-examination", 7)]["decided"] == 2
        and rows[("content-examination", 7)]["recipients"] == 4
    )
    assert rows[("secure-messaging", 4)]["decided"] == 0  # audit season is in 2027
    assert (report["covered"], report["total"]) == (9, 12)


def test_min_coverage_fails_below_the_threshold(demo, tmp_path):
    only = tmp_path / "one"
    only.mkdir()
    shutil.copy(MESSAGES / "01-confidential-subject-to-counsel.eml", only)
    r = demo("simulate", only, "--at", AT, "--min-coverage", "50")
    assert r.exit_code == 4, r.output
    assert "below --min-coverage 50%" in r.stderr
    assert demo("simulate", only, "--at", AT, "--min-coverage", "10", "-o", "jsonl").exit_code == 0


def test_jobs_keep_the_order_and_the_results(demo, tmp_path, monkeypatch):
    # A batch longer than the in-process start goes to worker processes.
    monkeypatch.setattr(runner, "PARALLEL_AFTER", 3)
    one = demo("simulate", MESSAGES, "--at", AT, "-o", "jsonl", "--jobs", "1")
    two = demo("simulate", MESSAGES, "--at", AT, "-o", "jsonl", "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 12


@pytest.mark.slow  # worker processes (fork and spawn)
@pytest.mark.parametrize("method", ["fork", "spawn"])
@pytest.mark.parametrize(
    "extra",
    [
        ["-o", "json"],
        ["-o", "csv"],
        ["-o", "table"],
        ["-o", "jsonl", "--coverage"],
        ["-o", "table", "--explain"],
        ["-o", "json", "--against", str(DEMO)],
    ],
)
def test_workers_give_what_one_process_gives(demo, monkeypatch, method, extra):
    # Each start method, each output: the workers render (JSON) or send the
    # decisions back (table, coverage, --against); the result is the same.
    import multiprocessing

    monkeypatch.setattr(runner, "PARALLEL_AFTER", 3)
    monkeypatch.setattr(runner, "CHUNK", 2)
    monkeypatch.setattr(runner, "_pool_context", lambda: multiprocessing.get_context(method))
    one = demo("simulate", MESSAGES, "--at", AT, "--jobs", "1", *extra)
    two = demo("simulate", MESSAGES, "--at", AT, "--jobs", "2", *extra)
    assert (one.exit_code, one.stdout, one.stderr) == (two.exit_code, two.stdout, two.stderr)
    assert "12 message(s)" in one.stderr  # past the in-process start


@pytest.mark.parametrize("jobs", ["0", "-1", "x"])
def test_jobs_must_be_a_positive_number(demo, jobs):
    assert demo("simulate", MESSAGES, "--jobs", jobs).exit_code == 2
