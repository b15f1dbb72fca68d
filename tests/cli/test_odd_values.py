"""Odd values on the command line and in configuration files (issue 11 §8):
times out of range, ids too large for the store, limits, URLs, deeply nested
documents, huge values, text that is not UTF-8. Each is a named one-line
error with the right exit code, never an ``internal error``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, FIXTURES
from tests.helpers import ok, refused

ROOT = Path(__file__).resolve().parents[2]
M01 = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
AT = "2026-11-27T10:00:00Z"
BIG_ID = "12345678901234567890123456"  # 26 digits: far past SQLite's 64-bit integers


def run_secmsg(*args: str, db: Path) -> subprocess.CompletedProcess:
    """The real console entry (``python -m secmsg_cli``): the lean simulate path."""
    env = dict(os.environ, SECMSG_ACTOR="tester", PYTHONPATH=str(ROOT))
    env.pop("SECMSG_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def one_line(stderr: str) -> str:
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    return stderr


# --- --at out of range ------------------------------------------------------------------

OUT_OF_RANGE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("at", OUT_OF_RANGE)
@pytest.mark.parametrize(
    "command",
    [
        ["simulate", str(M01)],
        ["simulate", str(M01), "--explain", "-o", "json"],
        ["deliver", str(M01)],
        ["portal", "list"],
        ["portal", "show", "1"],
        ["portal", "sweep"],
        ["portal", "extend", "1", "--by", "1d"],
        ["portal", "recall", "1"],
        ["lint"],
        ["policy", "list"],
        ["policy", "show", "1"],
    ],
    ids=" ".join,
)
def test_an_at_out_of_range_is_an_invalid_at(demo, command, at):
    r = demo(*command, "--at", at)
    refused(r, f"invalid --at '{at}'", "out of range")


@pytest.mark.parametrize("at", OUT_OF_RANGE)
def test_an_at_out_of_range_on_the_lean_simulate_path(tmp_path, demo_template, at):
    db = tmp_path / "s.db"
    shutil.copy(demo_template, db)  # the demo store (what `secmsg import` of it makes)
    for extra in ([], ["-o", "json"]):
        r = run_secmsg("simulate", str(M01), "--at", at, *extra, db=db)
        assert r.returncode == 1, r
        assert f"invalid --at '{at}'" in one_line(r.stderr)
        assert r.stdout == ""


def test_an_expiry_past_the_year_9999_is_a_decision_error_naming_the_time(demo):
    """Sent on 9999-12-25, a 7-day copy would expire in the year 10000: that
    message cannot be decided (the error names the time and the definition);
    nothing is clamped into a wrong expiry."""
    r = demo("simulate", M01, "--at", "9999-12-25T00:00:00Z", "-o", "json")
    assert r.exit_code == 1, r.output
    doc = r.json
    assert "9999-12-25" in doc["error"] and "Legal/7-Day Expiry, Receipt" in doc["error"], doc
    assert "after the year 9999" in doc["error"]
    table = demo("simulate", M01, "--at", "9999-12-25T00:00:00Z")
    assert table.exit_code == 1 and "internal error" not in table.stderr + table.stdout, (
        table.output
    )


def test_retention_past_the_year_9999_is_a_decision_error(demo):
    """max_retention_days (2555 in the demo) is added to the sending time of
    every portal copy, internal ones too (they are purged then)."""
    r = demo("simulate", M01, "--at", "9995-01-01T00:00:00Z", "-o", "json")
    assert r.exit_code == 1, r.output
    assert "after the year 9999" in r.json["error"]


def test_deliver_with_an_expiry_past_9999_writes_nothing(demo, tmp_path):
    outbox = tmp_path / "outbox"
    r = demo("deliver", M01, "--at", "9999-12-25T00:00:00Z", "--outbox", outbox)
    assert r.exit_code == 1, r.output
    assert "internal error" not in r.stderr + r.stdout
    assert "after the year 9999" in r.stdout + r.stderr
    assert ok(demo("portal", "list", "-o", "json")).json == []


def test_a_long_definition_near_9999_is_an_error_not_a_crash(cli, tmp_path):
    """A 100-year expiry and extension (the longest durations) sent in 9950."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[account]\nmax_retention_days = 36500\n[[domains]]\nname = "example.com"\n'
        '[[folders]]\npath = "F"\npublish_to = ["everyone"]\n'
        '[[definitions]]\nfolder = "F"\ndescription = "Long"\nexpire_after = "100y"\nmax_extension = "100y"\n'
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "all out"\ndefinition = "F/Long"\n'
        'from = { type = "internal" }\nto = { type = "external" }\n'
    )
    ok(cli("import", cfg))
    msg = tmp_path / "m.eml"
    msg.write_text("From: a@example.com\nTo: b@partner.test\nSubject: hi\n\nhello\n")
    fine = ok(cli("simulate", msg, "--at", "9850-01-01T00:00:00Z", "-o", "json")).json
    portal = fine["recipients"][0]["portal"]
    # 100 years are 36,524 days: retention (36,500 days) ends first and caps both
    assert portal["expires"] == portal["latest_expiry"] == "9949-12-08T00:00:00+00:00"
    r = cli("simulate", msg, "--at", "9950-01-01T00:00:00Z", "-o", "json")
    assert r.exit_code == 1, r.output
    assert "F/Long" in r.json["error"] and "after the year 9999" in r.json["error"]


def test_an_extension_past_the_year_9999_is_refused_as_beyond_what_is_allowed(demo, tmp_path):
    """A copy sent in 9992 (retention ends 9998): extending it by 100 years is
    refused as any extension past its limit is, not a crash."""
    outbox = tmp_path / "outbox"
    ok(demo("deliver", M01, "--at", "9992-01-01T00:00:00Z", "--outbox", outbox))
    for by in ("100y", "5000d"):
        refused(
            demo("portal", "extend", "1", "--by", by, "--at", "9992-01-02T00:00:00Z"),
            f"cannot extend portal copy 1 by {by}",
        )
    ok(demo("portal", "extend", "1", "--by", "1d", "--at", "9992-01-02T00:00:00Z"))


def test_validity_bounds_at_the_ends_of_time_are_accepted(cli, tmp_path):
    """A policy from 0001-01-01 to 9999-12-31 in a zone 14 hours east of UTC:
    its bounds lie just outside what a UTC time can hold; they count as the
    beginning and the end of time."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[account]\ntimezone = "Pacific/Kiritimati"\n[[domains]]\nname = "example.com"\n'
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "forever"\ndefinition = "Default/External Recipients"\n'
        'from = { type = "internal" }\nto = { type = "external" }\nstart = "0001-01-01"\nend = "9999-12-31"\n'
    )
    ok(cli("import", cfg))
    assert ok(cli("policy", "list", "--at", AT, "-o", "json")).json[0]["status"] == "active"
    msg = tmp_path / "m.eml"
    msg.write_text("From: a@example.com\nTo: b@partner.test\nSubject: hi\n\nhello\n")
    decided = ok(cli("simulate", msg, "--at", AT, "-o", "json")).json
    assert decided["recipients"][0]["policy"]["narrative"] == "forever"
    assert ok(cli("lint", "--at", AT)).exit_code == 0


def test_a_case_time_out_of_range_is_an_error_of_that_case(cli, tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text(
        f"[[case]]\nname = 'far'\nmessage = '{M01}'\nat = 0001-01-01T00:00:00+14:00\n"
        "[[case.expect]]\nrecipient = 'm.okonkwo@lexpartners.com'\nroute = 'portal'\n"
    )
    r = cli("test", cases, "--config", DEMO)
    assert r.exit_code in (3, 4), r.output
    assert (
        "internal error" not in r.stdout + r.stderr and "OverflowError" not in r.stdout + r.stderr
    )
    assert "time 0001-01-01T00:00:00+14:00 out of range" in r.stdout + r.stderr


# --- ids too large for the store ----------------------------------------------------------

ID_COMMANDS = [
    ["policy", "show"],
    ["policy", "delete"],
    ["policy", "enable"],
    ["policy", "update", "{id}", "--narrative", "x"],
    ["bypass", "show"],
    ["bypass", "delete"],
    ["content-policy", "show"],
    ["content-policy", "delete"],
    ["definition", "show"],
    ["definition", "delete"],
    ["definition", "update", "{id}", "--print"],
    ["content-definition", "show"],
    ["content-definition", "delete"],
    ["group", "show"],
    ["group", "delete"],
    ["group", "add-member", "{id}", "x@example.com"],
    ["folder", "delete"],
    ["folder", "rename", "{id}", "New"],
    ["folder", "publish", "Legal", "{id}"],
    ["definition", "list", "--folder", "{id}"],
    ["portal", "show"],
    ["portal", "extend", "{id}", "--by", "1d"],
    ["portal", "recall"],
    ["policy", "create", "x", "--definition", "{id}", "--to", "external"],
]


def _with_id(command: list[str], value: str) -> list[str]:
    return [value if part == "{id}" else part for part in command] + (
        [] if "{id}" in command else [value]
    )


@pytest.mark.parametrize(
    "value", [BIG_ID, "9" * 5000, "²"], ids=["26 digits", "5000 digits", "superscript two"]
)
@pytest.mark.parametrize("command", ID_COMMANDS, ids=" ".join)
def test_an_id_too_large_or_odd_is_not_found(demo, command, value):
    r = demo(*_with_id(command, value))
    assert r.exit_code == 1, r.output
    err = one_line(r.stderr)
    assert "not found" in err or "invalid" in err, err
    assert len(err) < 400, err


def test_a_policy_id_too_large_in_a_config_is_invalid(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps({"policies": [{"id": int(BIG_ID), "kind": "bypass", "narrative": "n"}]})
    )
    for command in (["import"], ["plan"], ["apply", "--yes"]):
        r = cli(*command, cfg)
        assert r.exit_code == 3, r.output
        assert "invalid id" in r.stderr and "internal error" not in r.stderr, r.output


def test_a_5000_digit_number_in_a_json_config_is_invalid_config(cli, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"account": {"max_retention_days": ' + "9" * 5000 + "}}")
    r = cli("import", cfg)
    assert r.exit_code == 3, r.output
    assert "internal error" not in r.stderr and len(r.stderr) < 1000, r.output


# --- limits and URLs ------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["99999999999999999999", "0", "-1"])
def test_audit_limit_out_of_range_is_a_usage_error(demo, limit):
    r = demo("audit", "--limit", limit)
    assert r.exit_code == 2, r.output
    assert one_line(r.stderr) and "--limit" in r.stderr


def test_audit_limit_at_the_largest_value_lists_everything(demo):
    assert len(ok(demo("audit", "--limit", str(2**63 - 1), "-o", "json")).json) > 1


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "https://[::1]x/",
        "https://host:99999/",
        "https://:443/",
        "https://user@/p",
        "https://ex\u00adample.com/",
    ],
)
def test_a_bad_portal_url_is_invalid_input(cli, url):
    ok(cli("init"))
    r = cli("account", "set", "--portal-url", url)
    refused(r, "invalid portal_url")


def test_a_bad_portal_url_in_a_config_is_invalid_config(cli, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[account]\nportal_url = "http://[::1"\n')
    r = cli("import", cfg)
    assert r.exit_code == 3, r.output
    assert "invalid portal_url" in r.stderr and "internal error" not in r.stderr


def test_an_ipv6_portal_url_is_fine(cli):
    ok(cli("init"))
    ok(cli("account", "set", "--portal-url", "https://[2001:db8::1]:8443/secure"))


# --- deeply nested documents ---------------------------------------------------------------

DEEP = {
    "deep.toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep-tables.toml": "[account]\nname = 'x'\nb = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "deep.json": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "middling.json": '{"policies": [' + "[" * 500 + "]" * 500 + "]}",
}


@pytest.mark.parametrize("name", sorted(DEEP))
@pytest.mark.parametrize("command", [["import"], ["plan"], ["apply", "--yes"]], ids=" ".join)
def test_a_deeply_nested_config_is_invalid_config(cli, tmp_path, name, command):
    path = tmp_path / name
    path.write_text(DEEP[name])
    if command != ["import"]:
        ok(cli("init"))
    r = cli(*command, path)
    assert r.exit_code == 3, r.output
    assert "nested too deeply" in one_line(r.stderr), r.stderr


@pytest.mark.parametrize("name", sorted(DEEP))
def test_a_deeply_nested_config_to_lint_and_test(cli, tmp_path, name):
    path = tmp_path / name
    path.write_text(DEEP[name])
    r = cli("lint", path)
    assert r.exit_code == 3, r.output
    assert (
        "SM001" in r.stdout and "nested too deeply" in r.stdout and "internal error" not in r.stderr
    ), r.output
    cases = tmp_path / "cases.toml"
    cases.write_text(
        f"[[case]]\nname = 'c'\nmessage = '{M01}'\nat = 2026-11-27T10:00:00Z\n"
        "[[case.expect]]\nrecipient = 'm.okonkwo@lexpartners.com'\nroute = 'portal'\n"
    )
    r = cli("test", cases, "--config", path)
    assert r.exit_code == 3, r.output
    assert "nested too deeply" in one_line(r.stderr)


def test_a_deeply_nested_cases_file_is_an_error(cli, tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text(DEEP["deep.toml"])
    r = cli("test", cases, "--config", DEMO)
    assert r.exit_code in (1, 3), r.output
    assert "nested too deeply" in one_line(r.stderr)


# --- huge values are not echoed whole --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["group", "show", "x" * 100_000],
        ["group", "add-member", "Legal", "y" * 100_000],
        ["definition", "create", "z" * 100_000],
        ["attribute", "list", "--output", "w" * 100_000],
        ["definition", "create", "Legal/X", "--banner-file", "v" * 5000],
    ],
    ids=lambda c: " ".join(part[:12] for part in c),
)
def test_a_huge_value_is_capped_in_the_error(demo, command):
    r = demo(*command)
    assert r.exit_code in (1, 2), r.output
    err = one_line(r.stderr)
    assert len(err) < 600 and "…" in err, err


@pytest.mark.parametrize(
    "narrative", ["N" * 1_000_000, "N" * 1_000_000 + "\x1b"], ids=["long", "long with ESC"]
)
def test_a_1mb_narrative_in_a_config_is_capped_in_every_error_line(cli, tmp_path, narrative):
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps({"policies": [{"kind": "bypass", "narrative": narrative, "bogus": 1}]})
    )
    r = cli("import", cfg)
    assert r.exit_code == 3, r.output
    assert "internal error" not in r.stderr
    for line in r.stderr.splitlines():
        assert len(line) < 600, line[:200]
    assert "invalid narrative" in r.stderr and "unknown field 'bogus'" in r.stderr
    lint = cli("lint", cfg, "-o", "json")
    assert lint.exit_code == 3
    assert all(len(f["object"] or "") + len(f["message"]) < 600 for f in lint.json), lint.stdout[
        :500
    ]


# --- text that is not UTF-8 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["folder", "create", "\udcff"],
        ["folder", "publish", "Legal", "\udcff"],
        ["attribute", "list", "--name", "\udcff"],
        ["group", "create", "G\udcff"],
        [
            "policy",
            "create",
            "n\udcffarrative",
            "--definition",
            "Legal/7-Day Expiry, Receipt",
            "--to",
            "external",
        ],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_text_that_is_not_utf8_is_invalid_input(demo, command):
    r = demo(*command)
    assert r.exit_code == 1, r.output
    err = one_line(r.stderr)
    assert "UTF-8" in err, err
