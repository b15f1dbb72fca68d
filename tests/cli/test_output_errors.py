"""SPEC §10-§11 across commands: `-o table|json|jsonl|csv`, exit codes,
one-line errors without tracebacks, and the audit log."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import DEMO
from tests.helpers import ok

# (command, the key that identifies a row, a value that must appear) for every
# command that prints a listing
LISTINGS = [
    (("domain", "list"), "name", "harborfinch.com"),
    (("group", "list"), "name", "Partner Counsel"),
    (("attribute", "list"), "address", "evan.price@harborfinch.co.uk"),
    (("folder", "list"), "path", "Templates"),
    (("definition", "list"), "path", "Legal/7-Day Expiry, Receipt"),
    (("audit",), "action", "import"),
]
# commands that print one object
SHOWS = [
    (("account", "show"), "name", "Harbor & Finch LLP"),
    (("db", "status"), "account", "Harbor & Finch LLP"),
    (("group", "show", "Board"), "name", "Board"),
    (("definition", "show", "Legal/7-Day Expiry, Receipt"), "path", "Legal/7-Day Expiry, Receipt"),
]


def ids(cases):
    return [" ".join(c[0]) for c in cases]


# --- output formats -----------------------------------------------------------------


@pytest.mark.parametrize(("command", "key", "value"), LISTINGS, ids=ids(LISTINGS))
def test_listing_formats_agree(demo, command, key, value):
    as_json = ok(demo(*command, "-o", "json")).json
    assert isinstance(as_json, list) and as_json
    assert value in {str(row[key]) for row in as_json}

    jsonl = ok(demo(*command, "-o", "jsonl")).stdout
    lines = jsonl.splitlines()
    assert [json.loads(line) for line in lines] == as_json
    assert len(lines) == len(as_json)

    text = ok(demo(*command, "--output", "CSV")).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(as_json)
    assert [row[key] for row in rows] == [str(row[key]) for row in as_json]

    table = ok(demo(*command, "-o", "table")).stdout
    assert value in table
    assert ok(demo(*command)).stdout == table  # table is the default


@pytest.mark.parametrize(("command", "key", "value"), SHOWS, ids=ids(SHOWS))
def test_show_formats_agree(demo, command, key, value):
    obj = ok(demo(*command, "-o", "json")).json
    assert isinstance(obj, dict) and obj[key] == value
    line = ok(demo(*command, "-o", "jsonl")).stdout
    assert line.count("\n") == 1 and json.loads(line) == obj
    rows = list(csv.DictReader(io.StringIO(ok(demo(*command, "-o", "csv")).stdout)))
    assert len(rows) == 1 and rows[0][key] == value
    assert value in ok(demo(*command)).stdout


def test_csv_quotes_awkward_values_and_encodes_lists_as_json(demo):
    banner = 'a "quoted", comma\nand a second line'
    ok(demo("definition", "create", "Legal/Awkward, Really", "--banner", banner))
    rows = list(csv.DictReader(io.StringIO(ok(demo("definition", "list", "-o", "csv")).stdout)))
    row = next(r for r in rows if r["path"] == "Legal/Awkward, Really")
    assert row["banner"] == banner
    assert (row["allow_reply"], row["allow_print"]) == ("true", "false")
    folders = list(csv.DictReader(io.StringIO(ok(demo("folder", "list", "-o", "csv")).stdout)))
    finance = next(r for r in folders if r["path"] == "Finance")
    assert sorted(json.loads(finance["publish_to"])) == ["Board", "Finance"]
    archive = next(r for r in folders if r["path"] == "HR/Archive")
    assert archive["publish_to"] == "" and json.loads(archive["effective_publish_to"]) == ["HR"]


def test_json_is_not_wrapped_or_styled(demo):
    long_banner = "x" * 300
    ok(demo("definition", "create", "Legal/Long", "--banner", long_banner))
    out = ok(demo("definition", "show", "Legal/Long", "-o", "json")).stdout
    assert json.loads(out)["banner"] == long_banner
    assert "\x1b[" not in out
    assert f'"banner": "{long_banner}"' in out  # on one line, not folded at 80 columns


def test_json_keeps_unicode(cli):
    ok(cli("domain", "add", "bücher.de"))
    out = ok(cli("domain", "list", "-o", "json")).stdout
    assert "bücher.de" in out and "\\u00fc" not in out


def test_empty_listings(cli):
    r = ok(cli("domain", "list"))
    assert r.stdout == "" and "no internal domains" in r.stderr
    assert ok(cli("group", "list", "-o", "json")).json == []
    assert ok(cli("attribute", "list", "-o", "jsonl")).stdout == ""
    assert ok(cli("domain", "list", "-o", "csv")).stdout == "name,type,display\n"


def test_write_commands_can_print_json(cli):
    assert ok(cli("domain", "add", "example.com", "-o", "json")).json["name"] == "example.com"
    assert ok(cli("group", "create", "G", "-o", "json")).json["name"] == "G"
    assert ok(cli("folder", "create", "F", "-o", "json")).json["path"] == "F"
    assert ok(cli("definition", "create", "F/D", "-o", "json")).json["path"] == "F/D"
    assert ok(cli("account", "set", "--name", "N", "-o", "json")).json["name"] == "N"


def test_quiet_silences_confirmations_but_not_results(demo):
    assert ok(demo("-q", "domain", "add", "example.org")).stdout == ""
    assert ok(demo("-q", "group", "create", "Quiet")).stdout == ""
    assert ok(demo("-q", "domain", "list", "-o", "json")).json


# --- exit codes and errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("domain", "add"),
        ("domain", "list", "-o", "xml"),
        ("audit", "--limit", "0"),
        ("audit", "--limit", "ten"),
        ("--db",),
        ("group", "create", "G", "--nope"),
        ("folder", "publish", "F"),
    ],
    ids=[
        "unknown-command",
        "missing-argument",
        "bad-output",
        "limit-zero",
        "limit-text",
        "db-needs-value",
        "unknown-option",
        "publish-no-targets",
    ],
)
def test_usage_errors_exit_2_with_one_line(cli, args):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.output
    assert r.stdout == ""


def test_groups_without_a_command_show_help(cli):
    r = cli("domain")
    assert r.exit_code == 2, r.output
    assert "add" in r.stdout and "remove" in r.stdout


def test_help_and_version(cli):
    from secmsg_cli import __version__

    r = ok(cli("--help"))
    for command in (
        "init",
        "db",
        "account",
        "domain",
        "group",
        "attribute",
        "folder",
        "definition",
        "audit",
        "export",
        "import",
    ):
        assert command in r.stdout
    assert ok(cli("-h")).stdout == r.stdout
    assert ok(cli("--version")).stdout == f"secmsg {__version__}\n"
    assert "--publish-to" in ok(cli("folder", "create", "-h")).stdout


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("domain", "add", "not a domain"), 1, "not a domain"),
        (("group", "show", "Nobody"), 1, "Nobody"),
        (("definition", "delete", "Default/All Recipients"), 1, "built-in"),
        (("folder", "delete", "Legal"), 1, "--recursive"),
        (("account", "set", "--timezone", "Nowhere/Special"), 1, "Nowhere/Special"),
        (("definition", "create", "Legal/X", "--expire-after", "soon"), 1, "soon"),
        (("import", str(DEMO)), 3, "not empty"),
    ],
    ids=[
        "invalid",
        "not-found",
        "refused-builtin",
        "refused-non-empty",
        "timezone",
        "duration",
        "import",
    ],
)
def test_domain_errors_exit_codes_and_one_line(demo, args, code, fragment):
    before = ok(demo("db", "status", "-o", "json")).json
    r = demo(*args)
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.output
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert ok(demo("db", "status", "-o", "json")).json == before


def test_an_input_with_a_newline_still_gives_one_line(cli):
    r = cli("domain", "add", "bad\nname.com")
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")


def test_undecodable_command_line_bytes_are_a_clean_error(tmp_path, init_template):
    """An address with a byte that is not UTF-8 reaches Python as a lone
    surrogate; it must be refused as an invalid address, not crash."""
    env_db = tmp_path / "x.db"
    shutil.copy(init_template, env_db)  # a store made by `secmsg init`
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "secmsg_cli",
            "--db",
            str(env_db),
            "group",
            "create",
            "G",
            "-m",
            b"ann\xff@example.com",
        ],
        capture_output=True,
    )
    assert bad.returncode == 1, bad
    stderr = bad.stderr.decode("utf-8", "replace")
    assert stderr.startswith("error: invalid address") and stderr.count("\n") == 1, stderr
    assert "internal error" not in stderr


def test_debug_mode_shows_the_traceback(tmp_path, init_template):
    env_db = tmp_path / "x.db"
    shutil.copy(init_template, env_db)  # a store made by `secmsg init`
    r = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(env_db), "domain", "add", "not a domain"],
        capture_output=True,
        text=True,
        env={**os.environ, "SECMSG_DEBUG": "1"},
    )
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "InvalidInput" in r.stderr


def test_a_store_that_cannot_be_used_is_one_line(cli, tmp_path):
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are my notes, not a database\n" * 100)
    r = cli("--db", not_a_db, "domain", "list")
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "notes.db" in r.stderr
    assert not_a_db.read_text().startswith("these are my notes")
    r = cli("--db", tmp_path, "domain", "list")
    assert r.exit_code == 1, r.output
    assert r.stderr.count("\n") == 1 and "directory" in r.stderr


# --- audit ---------------------------------------------------------------------------


def test_every_write_is_audited_with_the_actor(cli, monkeypatch):
    monkeypatch.setenv("SECMSG_ACTOR", "ops-bot")
    writes = [
        ("account", "set", "--name", "Acme"),
        ("domain", "add", "acme.com"),
        ("group", "create", "Board", "-m", "ceo@acme.com"),
        ("group", "add-member", "Board", "cfo@acme.com"),
        ("group", "remove-member", "Board", "cfo@acme.com"),
        ("attribute", "set", "ceo@acme.com", "Role=CEO"),
        ("attribute", "unset", "ceo@acme.com", "Role"),
        ("folder", "create", "Legal"),
        ("folder", "publish", "Legal", "Board"),
        ("folder", "unpublish", "Legal", "Board"),
        ("folder", "rename", "Legal", "Law"),
        ("folder", "create", "Top"),
        ("folder", "move", "Law", "Top"),
        ("definition", "create", "Top/Law/D"),
        ("definition", "update", "Top/Law/D", "--print"),
        ("definition", "delete", "Top/Law/D"),
        ("folder", "delete", "Top", "-r"),
        ("group", "delete", "Board"),
        ("domain", "remove", "acme.com"),
    ]
    expected = [
        ("update", "account"),
        ("create", "domain"),
        ("create", "group"),
        ("update", "group"),
        ("update", "group"),
        ("set", "attribute"),
        ("unset", "attribute"),
        ("create", "folder"),
        ("publish", "folder"),
        ("unpublish", "folder"),
        ("rename", "folder"),
        ("create", "folder"),
        ("move", "folder"),
        ("create", "definition"),
        ("update", "definition"),
        ("delete", "definition"),
        ("delete", "folder"),
        ("delete", "folder"),  # Top/Law, then Top
        ("delete", "group"),
        ("delete", "domain"),
    ]
    for args in writes:
        ok(cli(*args))
    log = ok(cli("audit", "--limit", "100", "-o", "json")).json
    assert [(e["action"], e["kind"]) for e in reversed(log)] == expected
    assert {e["actor"] for e in log} == {"ops-bot"}
    assert [e["id"] for e in log] == sorted((e["id"] for e in log), reverse=True)
    assert all(e["at"].endswith("+00:00") for e in log)


def test_reads_and_failures_are_not_audited(demo):
    count = len(ok(demo("audit", "--limit", "1000", "-o", "json")).json)
    for args in [
        ("domain", "list"),
        ("definition", "show", "1"),
        ("export",),
        ("db", "status"),
        ("domain", "add", "harborfinch.com"),
        ("group", "delete", "Board"),
        ("init",),
    ]:
        demo(*args)
    assert len(ok(demo("audit", "--limit", "1000", "-o", "json")).json) == count


def test_actor_defaults_to_the_os_user(cli, monkeypatch):
    import getpass

    monkeypatch.delenv("SECMSG_ACTOR")
    ok(cli("domain", "add", "example.com"))
    assert ok(cli("audit", "-o", "json")).json[0]["actor"] == getpass.getuser()


def test_audit_limit_and_table(demo):
    for i in range(15):
        ok(demo("domain", "add", f"d{i}.example.com"))
    everything = ok(demo("audit", "--limit", "1000", "-o", "json")).json
    assert len(everything) > 50
    assert len(ok(demo("audit", "-o", "json")).json) == 50  # the default limit
    three = ok(demo("audit", "--limit", "3", "-o", "json")).json
    assert three == everything[:3]
    assert len(ok(demo("audit", "-n", "2", "-o", "jsonl")).stdout.splitlines()) == 2
    table = ok(demo("audit", "-n", "1")).stdout
    assert "d14.example.com" in table and "tester" in table


@pytest.mark.slow  # hypothesis, 1000 examples
@settings(max_examples=1000, deadline=None)
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=25,
    )
)
def test_indented_json_is_byte_for_byte_what_the_standard_library_writes(doc):
    """-o json goes through orjson when it can: never a different byte."""
    import json

    from secmsg_cli.cli._output import to_json

    assert to_json(doc) == json.dumps(doc, indent=2, ensure_ascii=False)
