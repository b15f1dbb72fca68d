"""`secmsg lint [FILE]` (SPEC §9, §10): every code fires on a crafted
configuration, through a file and through the store; none but the demo's two
genuine warnings on the demo; exit codes, --strict, output formats, and a FILE
never touches the store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import textwrap

import pytest

from secmsg_cli.lint import RULES
from tests.conftest import DEMO, FIXTURES

AT = "2026-11-27T10:00:00Z"
KEYS = {"file", "line", "column", "code", "name", "severity", "object", "message"}

BASE = """
[[domains]]
name = "corp.example"

[[groups]]
name = "Staff"
members = ["alice@corp.example", "bob@corp.example"]

[[attributes]]
address = "ext@partner.example"
values = { Role = "Auditor" }

[[folders]]
path = "Sec"
publish_to = ["everyone"]

[[definitions]]
folder = "Sec"
description = "D"
"""


def sm_policy(
    pid: int, extra: str = "", to: str = '{ type = "domain", value = "partner.example" }'
) -> str:
    return f"""
[[policies]]
id = {pid}
kind = "secure-messaging"
narrative = "Policy {pid}"
option = "apply"
definition = "Sec/D"
from = {{ type = "internal" }}
to = {to}
{extra}
"""


# (code, TOML added to BASE, a fragment of the expected finding's object)
CASES = [
    ("SM001", sm_policy(1).replace('"internal"', '"galaxy"'), "policies[0] (Policy 1)"),
    ("SM101", sm_policy(1).replace('"Sec/D"', '"Sec/Missing"'), "policies[0] (Policy 1)"),
    (
        "SM201",
        """
[[folders]]
path = "Hidden"
publish_to = []

[[definitions]]
folder = "Hidden"
description = "Unused"
""",
        "definition 'Hidden/Unused'",
    ),
    (
        "SM202",
        """
[[content_definitions]]
name = "Secret words"
lines = ['1 "secret"']
""",
        "content definition 'Secret words'",
    ),
    ("SM301", sm_policy(1) + sm_policy(2), "secure-messaging policy 2 ('Policy 2')"),
    ("SM302", sm_policy(1, 'end = "2026-01-31"'), "secure-messaging policy 1"),
    ("SM303", sm_policy(1, "enabled = false"), "secure-messaging policy 1"),
    (
        "SM304",
        """
[[content_definitions]]
name = "Secret words"
lines = ['1 "secret"']
secure_messaging = "Sec/D"

[[policies]]
id = 7
kind = "content-examination"
narrative = "Secrets both ways"
content_definition = "Secret words"
from = { type = "internal" }
to = { type = "domain", value = "partner.example" }
bidirectional = true
""",
        "content-examination policy 7",
    ),
    ("SM305", sm_policy(1, to='{ type = "group", value = "Staff" }'), "secure-messaging policy 1"),
    (
        "SM306",
        sm_policy(1, to='{ type = "attribute", name = "Role", value = "Auditer" }'),
        "secure-messaging policy 1",
    ),
    (
        "SM401",
        """
[[definitions]]
folder = "Sec"
description = "Bannered"
banner = "<p>Sent by [sender] about [subjcet]</p>"
""",
        "definition 'Sec/Bannered'",
    ),
    (
        "SM501",
        """
[[groups]]
name = "Nobody"
members = []
"""
        + sm_policy(1).replace('{ type = "internal" }', '{ type = "group", value = "Nobody" }'),
        "group 'Nobody'",
    ),
]
CASES += [
    (
        "SM105",
        """
[[content_definitions]]
name = "IBANs"
lines = ['2 regex (?<=IBAN )[A-Z]{2}\\d{2}']
""",
        "content_definitions[0] (IBANs)",
    ),
    (
        "SM601",
        """
[[content_definitions]]
name = "Signed off"
lines = ['1 regex confidential$']

[[policies]]
id = 7
kind = "content-examination"
narrative = "Sign-offs"
content_definition = "Signed off"
from = { type = "internal" }
""",
        "content definition 'Signed off'",
    ),
]
SEVERITY = {r.code: r.severity for r in RULES}
# Codes a valid file cannot produce (the file is refused first: SM001): made in
# the store by writes outside secmsg, or by `attribute unset`, below.


def template(
    html: str = '<p><a href="[portal_link]">Open</a></p>',
    text: str = "Open: [portal_link]",
    subject: str = "From [sender_name]",
    used: bool = True,
    extra: str = "",
) -> str:
    toml = f"""
[[notification_templates]]
name = "Brand"
subject = {json.dumps(subject)}
html = {json.dumps(html)}
text = {json.dumps(text)}
{extra}
"""
    if used:
        toml += """
[[definitions]]
folder = "Sec"
description = "T"
notification_template = "Brand"
"""
    return toml


CASES += [
    (
        "SM106",
        """
[[definitions]]
folder = "Sec"
description = "T"
notification_template = "Nope"
""",
        "definitions[1] (Sec/T)",
    ),
    ("SM107", template(text="Open the portal"), "notification template 'Brand'"),
    (
        "SM108",
        template(html='<div><p><a href="[portal_link]">Open</a></p>'),
        "notification template 'Brand'",
    ),
    ("SM109", template(used=False, extra='logo = "missing.png"'), "notification_templates[0]"),
    ("SM203", template(used=False), "notification template 'Brand'"),
    ("SM402", template(subject="From [sendr]"), "notification template 'Brand'"),
]

STORE_ONLY = {"SM101", "SM102", "SM103", "SM104"}
# refused by import, as a file's SM001, SM101 and SM105 are
NOT_IMPORTED = ("SM001", "SM101", "SM105", "SM106", "SM109")


def write(tmp_path, text: str, name: str = "cfg.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def lint_json(cli, *args: str, expect: int):
    at = () if "--at" in args else ("--at", AT)
    r = cli("lint", *args, *at, "-o", "json")
    assert r.exit_code == expect, r.output
    findings = r.json
    assert isinstance(findings, list)
    for f in findings:
        assert set(f) == KEYS, f
    return findings


def expected_exit(code: str) -> int:
    return 3 if SEVERITY[code] == "error" else 0


def test_the_base_configuration_is_clean(cli, tmp_path):
    assert lint_json(cli, str(write(tmp_path, BASE)), "--strict", expect=0) == []


@pytest.mark.parametrize("code,extra,fragment", CASES, ids=[c[0] for c in CASES])
def test_each_code_fires_on_a_file(cli, tmp_path, code, extra, fragment):
    findings = lint_json(cli, str(write(tmp_path, BASE + extra)), expect=expected_exit(code))
    assert {f["code"] for f in findings} == {code}, findings
    assert any(fragment in f["object"] for f in findings), findings
    assert all(f["severity"] == SEVERITY[code] for f in findings)


# (a file with SM001 or SM105 is refused by import: those reach a store only behind secmsg's back)
@pytest.mark.parametrize(
    "code,extra,fragment",
    [c for c in CASES if c[0] not in NOT_IMPORTED],
    ids=[c[0] for c in CASES if c[0] not in NOT_IMPORTED],
)
def test_each_code_fires_on_the_store(cli, tmp_path, code, extra, fragment):
    r = cli("import", write(tmp_path, BASE + extra))
    assert r.exit_code == 0, r.output
    findings = lint_json(cli, expect=expected_exit(code))
    assert {f["code"] for f in findings} == {code}, findings
    assert any(fragment in f["object"] for f in findings), findings


def test_invalid_config_gives_one_finding_per_problem_with_its_location(cli, tmp_path):
    path = write(
        tmp_path,
        BASE
        + sm_policy(1).replace('"Sec/D"', '"Sec/Missing"')
        + sm_policy(2).replace('"internal"', '"galaxy"'),
    )
    findings = lint_json(cli, str(path), expect=3)
    # A missing definition has its rule's code, the bad target SM001; in the file's order.
    assert [f["code"] for f in findings] == ["SM101", "SM001"]
    missing, galaxy = findings
    assert (missing["file"], missing["object"]) == (str(path), "policies[0] (Policy 1)")
    assert "'Sec/Missing' is not declared" in missing["message"]
    assert "did you mean" not in missing["message"]  # nothing close to suggest
    assert (galaxy["file"], galaxy["object"]) == (str(path), "policies[1] (Policy 2)")
    assert "galaxy" in galaxy["message"]
    lines = path.read_text().splitlines()
    assert lines[missing["line"] - 1][missing["column"] - 1 :].startswith("definition = ")
    assert lines[galaxy["line"] - 1][galaxy["column"] - 1 :].startswith("from = ")


def test_a_file_that_is_not_toml_is_a_finding(cli, tmp_path):
    r = cli("lint", write(tmp_path, "[[policies]\nkind = "), "-o", "json")
    assert r.exit_code == 3, r.output
    (finding,) = r.json
    assert finding["code"] == "SM001"
    assert (finding["line"], finding["column"]) == (1, 11)
    assert finding["message"] == "the table header needs a closing ']]'"


def test_a_missing_file_is_an_error_not_a_finding(bare_cli, tmp_path, _isolated_store):
    r = bare_cli("lint", tmp_path / "nope.toml")
    assert r.exit_code == 3, r.output
    assert r.stdout == ""
    assert r.stderr.startswith("error: cannot read"), r.output
    assert not _isolated_store.exists()


def test_linting_a_file_never_touches_the_store(bare_cli, tmp_path, _isolated_store):
    for text in (BASE, BASE + sm_policy(1, "enabled = false"), "not = [toml"):
        r = bare_cli("lint", write(tmp_path, text))
        assert r.exit_code in (0, 3) and "no store" not in r.stderr, r.output
    r = bare_cli("lint", DEMO)
    assert r.exit_code in (0, 3) and "no store" not in r.stderr, r.output
    assert not _isolated_store.exists()


def test_linting_a_file_reads_standard_input(bare_cli, tmp_path, _isolated_store):
    r = bare_cli("lint", "-", "-o", "json", input=BASE + sm_policy(1, "enabled = false"))
    assert r.exit_code == 0, r.output
    assert [f["code"] for f in r.json] == ["SM303"]
    assert not _isolated_store.exists()


def test_a_json_file_is_linted_too(cli, tmp_path):
    doc = {
        "domains": [{"name": "corp.example"}],
        "policies": [
            {
                "kind": "secure-messaging",
                "narrative": "Off",
                "option": "no-action",
                "enabled": False,
            }
        ],
    }
    r = cli("lint", write(tmp_path, json.dumps(doc), "cfg.json"), "-o", "json")
    assert r.exit_code == 0, r.output
    assert [f["code"] for f in r.json] == ["SM303"]


# --- the store: dangling references made outside secmsg ----------------------------------


def raw_sql(db, *statements: str) -> None:
    """Edit the store as a DBA would with the sqlite3 shell (foreign keys off)."""
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_a_definition_deleted_behind_secmsgs_back(demo, _isolated_store):
    raw_sql(_isolated_store, "DELETE FROM definitions WHERE description = 'Client Correspondence'")
    findings = lint_json(demo, expect=3)
    assert (
        "SM101",
        "secure-messaging policy 1 ('Legal mail to partner counsel goes through the…')",
    ) in {(f["code"], f["object"]) for f in findings}


def test_a_content_definition_deleted_behind_secmsgs_back(demo, _isolated_store):
    raw_sql(_isolated_store, "DELETE FROM content_definitions WHERE name = 'Confidential subject'")
    findings = lint_json(demo, expect=3)
    assert [f["object"] for f in findings if f["code"] == "SM102"] == [
        "content-examination policy 7 ('Confidential subjects, outbound')"
    ]


def test_a_group_deleted_behind_secmsgs_back(demo, _isolated_store):
    raw_sql(_isolated_store, "DELETE FROM groups WHERE name = 'Finance'")
    findings = lint_json(demo, expect=3)
    dangling = [f for f in findings if f["code"] == "SM103"]
    assert [f["object"].split(" ('")[0] for f in dangling] == [
        "secure-messaging policy 3",
        "content-examination policy 8",
    ]
    assert all("group 'Finance', which does not exist" in f["message"] for f in dangling)


def test_a_regex_stored_before_the_re2_dialect_is_an_error_and_fails_closed(demo, _isolated_store):
    raw_sql(
        _isolated_store,
        """UPDATE content_definitions SET lines = '["3 \\"privileged & confidential\\"",
            "1 regex (?<=ref )[0-9]+"]' WHERE name = 'Privileged body'""",
    )
    findings = lint_json(demo, expect=3)
    (sm105,) = [f for f in findings if f["code"] == "SM105"]
    assert sm105["object"] == "content definition 'Privileged body'"
    assert sm105["message"].startswith(
        "match line 2: regex '(?<=ref )[0-9]+': a lookbehind (?<=...) is not supported"
    )
    # simulate still decides, and the definition fails closed: the client gets it in the portal
    r = demo(
        "simulate",
        FIXTURES / "messages" / "03-mixed-internal-external.eml",
        "--at",
        AT,
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    (outcome,) = [
        c
        for rc in r.json["recipients"]
        for c in rc["content"]
        if c["content_definition"] == "Privileged body"
    ]
    assert outcome["fired"] and outcome["unscannable"].startswith("match line 2 cannot run")


def test_an_attribute_unset_while_a_policy_uses_it(demo):
    # The store lets the last 'Office' attribute go although a policy names it.
    r = demo(
        "bypass",
        "create",
        "London office mail",
        "--from",
        "attribute:Office=London",
        "--to",
        "everyone",
    )
    assert r.exit_code == 0, r.output
    for address in ("evan.price@harborfinch.co.uk", "zoe.angstrom@harborfinch.co.uk"):
        r = demo("attribute", "unset", address, "Office")
        assert r.exit_code == 0, r.output
    findings = lint_json(demo, expect=3)
    (finding,) = [f for f in findings if f["code"] == "SM104"]
    assert finding["object"] == "bypass policy 10 ('London office mail')"
    assert "attribute 'Office'" in finding["message"]


def test_every_code_fires_somewhere_in_these_tests():
    covered = {c[0] for c in CASES} | STORE_ONLY
    assert covered == {r.code for r in RULES}


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_file_has_no_errors_and_only_its_two_genuine_warnings(cli):
    findings = lint_json(cli, str(DEMO), expect=0)
    assert [(f["code"], f["object"]) for f in findings] == [
        ("SM201", "definition 'Templates/Auto-Secure Outbound'"),
        ("SM304", "content-examination policy 9 ('Privileged bodies, both ways with clients')"),
    ]


def test_the_demo_store_lints_like_the_demo_file(demo):
    from_store = lint_json(demo, expect=0)
    r = demo("lint", DEMO, "--at", AT, "-o", "json")
    assert [f["file"] for f in r.json] == [str(DEMO)] * len(r.json)
    assert from_store == [{**f, "file": None} for f in r.json]


def test_the_demo_after_audit_season(cli):
    # Policy 4 ends 2027-03-31 (a date: the whole day, in Europe/London).
    expired = (
        "SM302",
        "secure-messaging policy 4 ('Year-end audit season: everything to the audito…')",
    )
    findings = lint_json(cli, str(DEMO), "--at", "2027-03-31T23:59:59+01:00", expect=0)
    assert expired not in {(f["code"], f["object"]) for f in findings}
    findings = lint_json(cli, str(DEMO), "--at", "2027-04-01T00:00:00+01:00", expect=0)
    assert expired in {(f["code"], f["object"]) for f in findings}


# --- exit codes, --strict, output ---------------------------------------------------------


def test_warnings_pass_but_fail_with_strict(cli, tmp_path):
    path = write(tmp_path, BASE + sm_policy(1, "enabled = false"))
    assert cli("lint", path).exit_code == 0
    r = cli("lint", path, "--strict")
    assert r.exit_code == 3, r.output
    assert "SM303" in r.stdout
    assert r.stderr == "0 errors, 1 warning\n"


def test_the_demo_fails_strict(cli):
    r = cli("lint", DEMO, "--strict", "--at", AT)
    assert r.exit_code == 3, r.output


def test_an_invalid_file_stops_at_its_problems(cli, tmp_path):
    path = write(
        tmp_path,
        BASE + sm_policy(3, "enabled = false") + sm_policy(1).replace('"Sec/D"', '"Sec/Gone"'),
    )
    r = cli("lint", path)
    assert r.exit_code == 3
    assert "SM101" in r.stdout and "SM303" not in r.stdout
    assert r.stderr == "1 error, 0 warnings\n"


def test_table_sorted_by_severity_then_code_and_summary_on_stderr(cli, tmp_path):
    r = cli(
        "import",
        write(
            tmp_path,
            BASE + sm_policy(3, "enabled = false") + sm_policy(2, to='{ type = "internal" }'),
            "ok.toml",
        ),
    )
    assert r.exit_code == 0, r.output
    r = cli("lint", "--at", AT, "-o", "table")
    assert r.exit_code == 0, r.output
    assert r.stdout.index("SM303") < r.stdout.index("SM305")
    assert "file" not in r.stdout  # about the store: no file, line or column columns
    for column in ("code", "severity", "object", "message"):
        assert column in r.stdout
    assert r.stderr == "0 errors, 2 warnings\n"


def test_errors_come_first(demo, _isolated_store):
    raw_sql(_isolated_store, "DELETE FROM groups WHERE name = 'Finance'")
    findings = lint_json(demo, expect=3)
    severities = [f["severity"] for f in findings]
    assert severities == sorted(severities, key=["error", "warning"].index)
    assert severities[0] == "error" and severities[-1] == "warning"


def test_a_clean_store_prints_no_table(cli):
    r = cli("lint")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert r.stderr == "0 errors, 0 warnings\n"


def test_quiet_drops_the_summary(cli):
    r = cli("-q", "lint")
    assert r.exit_code == 0 and r.stderr == ""


def test_csv(cli):
    r = cli("lint", DEMO, "--at", AT, "-o", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == [
        "file",
        "line",
        "column",
        "code",
        "name",
        "severity",
        "object",
        "message",
    ]
    assert {row["file"] for row in rows} == {str(DEMO)}
    assert [row["code"] for row in rows] == ["SM201", "SM304"]


def test_json_of_a_clean_store_is_an_empty_list(cli):
    r = cli("lint", "-o", "json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_a_bad_at_is_bad_input(cli):
    r = cli("lint", DEMO, "--at", "yesterday")
    assert r.exit_code == 1, r.output
    assert "invalid --at" in r.stderr


def test_help_mentions_the_options(cli):
    r = cli("lint", "--help")
    assert r.exit_code == 0
    for option in ("--strict", "--at", "--output"):
        assert option in r.stdout
