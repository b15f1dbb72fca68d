"""Configuration as code for content definitions and policies (SPEC §9):
``[[content_definitions]]`` and ``[[policies]]`` in export and import."""

from __future__ import annotations

import json
import re
import textwrap
import tomllib

import pytest

from tests.conftest import DEMO
from tests.helpers import ok


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(cli, *db) -> dict:
    status = ok(cli(*db, "db", "status", "-o", "json")).json
    status.pop("path")
    return status


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the only line containing ``marker``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def header_line(text: str, index: int) -> int:
    """The line of the ``index``-th ``[[policies]]`` header."""
    return [
        i for i, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[policies]]"
    ][index]


# A directory, folders, definitions and content definitions for the policies below.
BASE = textwrap.dedent("""\
    [account]
    name = "Policies Test"
    timezone = "Europe/London"

    [[domains]]
    name = "example.com"

    [[groups]]
    name = "Legal"
    members = ["alice@example.com"]

    [[groups]]
    name = "Board"
    members = ["ceo@example.com"]

    [[attributes]]
    address = "bob@partner.com"
    values = { Role = "Auditor" }

    [[folders]]
    path = "Legal"
    publish_to = ["everyone"]

    [[definitions]]
    folder = "Legal"
    description = "7-Day"
    expire_after = "7d"

    [[content_definitions]]
    name = "Confidential"
    activation_score = 2
    scan = ["subject", "body"]
    lines = ['# comment kept', '2 "confidential"', '5 regex,cardnumber \\b(?:\\d[ -]?){13,16}\\b']
    secure_messaging = "Legal/7-Day"
    """)


# --- export and import round trips ---------------------------------------------------------------------


def test_demo_round_trip_is_byte_identical_and_keeps_policy_ids(demo, tmp_path):
    first = ok(demo("export")).stdout
    doc = tomllib.loads(first)
    source = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    assert (
        [p["id"] for p in doc["policies"]]
        == [p["id"] for p in source["policies"]]
        == list(range(1, 10))
    )
    assert [c["name"] for c in doc["content_definitions"]] == sorted(
        c["name"] for c in source["content_definitions"]
    )
    other = tmp_path / "other.db"
    ok(demo("--db", other, "import", write(tmp_path, "exported.toml", first)))
    assert ok(demo("--db", other, "export")).stdout == first
    for group in ("policy", "bypass", "content-policy"):
        mine = [
            {k: v for k, v in p.items() if k not in ("created", "updated")}
            for p in ok(demo(group, "list", "-o", "json")).json
        ]
        theirs = [
            {k: v for k, v in p.items() if k not in ("created", "updated")}
            for p in ok(demo("--db", other, group, "list", "-o", "json")).json
        ]
        assert mine == theirs


def test_demo_round_trip_through_json(demo, tmp_path):
    first_json = ok(demo("export", "--format", "json")).stdout
    doc = json.loads(first_json)
    assert {p["kind"] for p in doc["policies"]} == {
        "secure-messaging",
        "bypass",
        "content-examination",
    }
    other = tmp_path / "other.db"
    ok(demo("--db", other, "import", write(tmp_path, "exported.json", first_json)))
    assert ok(demo("--db", other, "export", "--format", "json")).stdout == first_json
    assert ok(demo("--db", other, "export")).stdout == ok(demo("export")).stdout


def test_demo_policies_match_the_source_semantically(demo):
    exported = tomllib.loads(ok(demo("export")).stdout)
    source = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    defaults = {
        "from": {"type": "everyone"},
        "to": {"type": "everyone"},
        "from_part": "envelope",
        "enabled": True,
        "override": False,
        "bidirectional": False,
        "source_ips": [],
    }
    by_id = {p["id"]: p for p in exported["policies"]}
    for p in source["policies"]:
        expected = {**defaults, **p}
        if p["kind"] == "bypass":
            expected.setdefault("option", "disable")
        assert by_id[p["id"]] == expected, p["id"]
    assert {c["name"]: c for c in exported["content_definitions"]} == {
        c["name"]: c for c in source["content_definitions"]
    }


EXPORTED_POLICIES = [
    (
        [
            "policy",
            "create",
            "SM",
            "-d",
            "Legal/7-Day",
            "--from",
            "group:Legal",
            "--to",
            "@*.partner.com",
            "--start",
            "2026-01-01",
            "--end",
            "2026-12-31T18:00:00+00:00",
            "--source-ip",
            "2001:db8::/32",
            "--override",
        ],
        {
            "id": 1,
            "kind": "secure-messaging",
            "narrative": "SM",
            "option": "apply",
            "definition": "Legal/7-Day",
            "from": {"type": "group", "value": "Legal"},
            "from_part": "envelope",
            "to": {"type": "domain", "value": "*.partner.com"},
            "enabled": True,
            "start": "2026-01-01",
            "end": "2026-12-31T18:00:00+00:00",
            "override": True,
            "bidirectional": False,
            "source_ips": ["2001:db8::/32"],
        },
    ),
    (
        ["policy", "create", "None", "--option", "no-action", "--disabled"],
        {
            "id": 1,
            "kind": "secure-messaging",
            "narrative": "None",
            "option": "no-action",
            "from": {"type": "everyone"},
            "from_part": "envelope",
            "to": {"type": "everyone"},
            "enabled": False,
            "override": False,
            "bidirectional": False,
            "source_ips": [],
        },
    ),
    (
        [
            "bypass",
            "create",
            "BP",
            "--from",
            "group:Board",
            "--to",
            "attribute:Role=Auditor",
            "--bidirectional",
            "--from-part",
            "both",
        ],
        {
            "id": 1,
            "kind": "bypass",
            "narrative": "BP",
            "option": "disable",
            "from": {"type": "group", "value": "Board"},
            "from_part": "both",
            "to": {"type": "attribute", "name": "Role", "value": "Auditor"},
            "enabled": True,
            "override": False,
            "bidirectional": True,
            "source_ips": [],
        },
    ),
    (
        [
            "content-policy",
            "create",
            "CE",
            "-c",
            "Confidential",
            "--from",
            "internal",
            "--to",
            "bob@partner.com",
            "--end",
            "2027-01-31",
        ],
        {
            "id": 1,
            "kind": "content-examination",
            "narrative": "CE",
            "content_definition": "Confidential",
            "from": {"type": "internal"},
            "from_part": "envelope",
            "to": {"type": "address", "value": "bob@partner.com"},
            "enabled": True,
            "end": "2027-01-31",
            "override": False,
            "bidirectional": False,
            "source_ips": [],
        },
    ),
]


@pytest.mark.parametrize(
    ("args", "expected"),
    EXPORTED_POLICIES,
    ids=["secure-messaging", "no-action", "bypass", "content-examination"],
)
def test_export_of_each_kind_and_round_trip(cli, tmp_path, args, expected):
    ok(cli("import", write(tmp_path, "base.toml", BASE)))
    ok(cli(*args))
    first = ok(cli("export")).stdout
    doc = tomllib.loads(first)
    assert doc["policies"] == [expected]
    assert list(doc["policies"][0]) == list(expected)  # the field order of SPEC §9
    other = tmp_path / "other.db"
    ok(cli("--db", other, "import", write(tmp_path, "x.toml", first)))
    assert ok(cli("--db", other, "export")).stdout == first


def test_content_definition_lines_survive_export_and_import(cli, tmp_path):
    lines = [
        "# a comment, kept",
        "",
        '2 "quoted phrase"',
        "3 regex \\bAB-\\d{4}\\b",
        "1 it's",
        "2 regex \"x\" and 'y'",
        "4 hash D41D8CD98F00B204E9800998ECF8427E report.pdf",
        "1 café naïve",
    ]
    ok(
        cli(
            "content-definition",
            "create",
            "Tricky",
            *[a for line in lines for a in ("--line", line)],
        )
    )
    first = ok(cli("export")).stdout
    assert tomllib.loads(first)["content_definitions"] == [
        {
            "name": "Tricky",
            "activation_score": 1,
            "scan": ["subject", "headers", "body", "attachments"],
            "lines": lines,
        }
    ]
    other = tmp_path / "other.db"
    ok(cli("--db", other, "import", write(tmp_path, "x.toml", first)))
    assert (
        ok(cli("--db", other, "content-definition", "show", "Tricky", "-o", "json")).json["lines"]
        == lines
    )
    assert ok(cli("--db", other, "export")).stdout == first


def test_import_keeps_given_ids_and_numbers_the_rest_after_them(cli, tmp_path):
    text = BASE + textwrap.dedent("""
        [[policies]]
        kind = "bypass"
        narrative = "No id, first in the file"

        [[policies]]
        id = 7
        kind = "content-examination"
        narrative = "Seven"
        content_definition = "Confidential"

        [[policies]]
        id = 3
        kind = "secure-messaging"
        narrative = "Three"
        definition = "Legal/7-Day"
        """)
    ok(cli("import", write(tmp_path, "ids.toml", text)))
    ids = {
        p["narrative"]: p["id"]
        for group in ("policy", "bypass", "content-policy")
        for p in ok(cli(group, "list", "-o", "json")).json
    }
    assert ids == {"Three": 3, "Seven": 7, "No id, first in the file": 8}
    first = ok(cli("export")).stdout
    assert [p["id"] for p in tomllib.loads(first)["policies"]] == [3, 7, 8]
    other = tmp_path / "other.db"
    ok(cli("--db", other, "import", write(tmp_path, "x.toml", first)))
    assert ok(cli("--db", other, "export")).stdout == first
    # the next policy created is numbered after the highest
    assert ok(cli("bypass", "create", "Next", "-o", "json")).json["id"] == 9


# --- TOML native dates -------------------------------------------------------------------------------------

NATIVE = [
    ("start = 2026-01-01", {"start": "2026-01-01"}),
    ("end = 2026-12-31", {"end": "2026-12-31"}),
    ("start = 2026-01-01\nend = 2026-01-01", {"start": "2026-01-01", "end": "2026-01-01"}),
    ("start = 2026-01-01T09:00:00", {"start": "2026-01-01T09:00:00"}),
    ("end = 2026-06-30T18:00:00Z", {"end": "2026-06-30T18:00:00+00:00"}),
    ("end = 2026-06-30T18:00:00-05:00", {"end": "2026-06-30T18:00:00-05:00"}),
    (
        "start = 2026-01-01\nend = 2026-06-30T18:00:00+01:00",
        {"start": "2026-01-01", "end": "2026-06-30T18:00:00+01:00"},
    ),
    ('start = "2026-01-01"\nend = "20261231"', {"start": "2026-01-01", "end": "2026-12-31"}),
]


@pytest.mark.parametrize(
    ("lines", "expected"),
    NATIVE,
    ids=[
        "date-start",
        "date-end",
        "one-day",
        "local-datetime",
        "zulu",
        "offset",
        "mixed",
        "strings",
    ],
)
def test_toml_native_dates_are_accepted(cli, tmp_path, lines, expected):
    text = BASE + f'\n[[policies]]\nkind = "bypass"\nnarrative = "Dated"\n{lines}\n'
    ok(cli("import", write(tmp_path, "dates.toml", text)))
    p = ok(cli("bypass", "show", "1", "-o", "json")).json
    assert {k: p[k] for k in expected} == expected
    exported = tomllib.loads(ok(cli("export")).stdout)["policies"][0]
    assert {k: exported[k] for k in expected} == expected  # written back as strings


def test_native_date_end_includes_its_whole_day_in_the_account_zone(cli, tmp_path):
    text = (
        BASE
        + '\n[[policies]]\nkind = "bypass"\nnarrative = "Dated"\nstart = 2026-07-01\nend = 2026-07-31\n'
    )
    ok(cli("import", write(tmp_path, "dates.toml", text)))

    def status(at):
        return ok(cli("bypass", "show", "1", "--at", at, "-o", "json")).json["status"]

    assert [
        status(at)
        for at in (
            "2026-06-30T22:59:59Z",
            "2026-06-30T23:00:00Z",
            "2026-07-31T22:59:59Z",
            "2026-07-31T23:00:00Z",
        )
    ] == ["scheduled", "active", "active", "expired"]


# --- import validation: every problem with its section index, narrative and line ----------------------------

PROBLEMS = [
    # (policies text, [(index, narrative, marker or None for the header, message fragment)])
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\ncolour = "blue"\n',
        [(0, "One", 'colour = "blue"', "unknown field 'colour'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nfrom = { type = "group", value = "Nobody" }\n',
        [(0, "One", 'value = "Nobody"', "unknown group 'Nobody'")],
    ),
    (
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "One"\ndefinition = "Legal/7-Day"\n'
        'to = { type = "group", value = "Ghosts" }\n',
        [(0, "One", 'value = "Ghosts"', "unknown group 'Ghosts'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nto = { type = "attribute", name = "Shoe", value = "9" }\n',
        [(0, "One", 'name = "Shoe"', "attribute named 'Shoe'")],
    ),
    (
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "One"\ndefinition = "Legal/Nope"\n',
        [(0, "One", 'definition = "Legal/Nope"', "definition 'Legal/Nope' is not declared")],
    ),
    (
        '[[policies]]\nkind = "content-examination"\nnarrative = "One"\ncontent_definition = "Nope"\n',
        [(0, "One", 'content_definition = "Nope"', "content definition 'Nope' is not declared")],
    ),
    (
        '[[policies]]\nid = 3\nkind = "bypass"\nnarrative = "One"\n\n'
        '[[policies]]\nid = 3  # again\nkind = "bypass"\nnarrative = "Two"\n',
        [(1, "Two", "id = 3  # again", "policy id 3 is used twice")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nsource_ips = ["10.0.0.0/33"]\n',
        [(0, "One", "source_ips =", "invalid source IP range '10.0.0.0/33'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nsource_ips = ["203.0.113.0/24", "10.0.0.1/24"]\n',
        [(0, "One", "source_ips =", "did you mean 10.0.0.0/24")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nstart = 2026-01-01\nend = 2025-12-31\n',
        [(0, "One", "end = 2025-12-31", "end 2025-12-31 is not after start 2026-01-01")],
    ),
    (
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "One"\ndefinition = "Legal/7-Day"\nbidirectional = true\n',
        [(0, "One", "bidirectional = true", "cannot be bi-directional")],
    ),
    (
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "One"\n',
        [(0, "One", None, "option 'apply' needs a definition")],
    ),
    (
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "One"\noption = "no-action"\ndefinition = "Legal/7-Day"\n',
        [(0, "One", 'definition = "Legal/7-Day"', "takes no definition")],
    ),
    (
        '[[policies]]\nkind = "content-examination"\nnarrative = "One"\n',
        [(0, "One", None, "needs a content_definition")],
    ),
    (
        '[[policies]]\nkind = "firewall"\nnarrative = "One"\n',
        [(0, "One", 'kind = "firewall"', "invalid policy kind 'firewall'")],
    ),
    ('[[policies]]\nnarrative = "One"\n', [(0, "One", None, "invalid policy kind None")]),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nto = { type = "planet", value = "Mars" }\n',
        [(0, "One", 'type = "planet"', "invalid to")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nfrom = { type = "group", value = "Legal", colour = 1 }\n',
        [(0, "One", "colour = 1", "unknown key 'colour'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nto = { type = "domain", value = "*." }\n',
        [(0, "One", 'value = "*."', "invalid to")],
    ),
    (
        '[[policies]]\nid = 0\nkind = "bypass"\nnarrative = "One"\n',
        [(0, "One", "id = 0", "invalid id 0")],
    ),
    (
        '[[policies]]\nid = "7"\nkind = "bypass"\nnarrative = "One"\n',
        [(0, "One", 'id = "7"', "invalid id '7'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nstart = "someday"\n',
        [(0, "One", 'start = "someday"', "invalid start 'someday'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nenabled = "maybe"\n',
        [(0, "One", 'enabled = "maybe"', "expected true or false")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\nfrom_part = "body"\n',
        [(0, "One", 'from_part = "body"', "invalid from_part 'body'")],
    ),
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\noption = "apply"\n',
        [(0, "One", 'option = "apply"', "invalid bypass option 'apply'")],
    ),
    ('[[policies]]\nkind = "bypass"\nnarrative = ""\n', [(0, "", 'narrative = ""', "narrative")]),
    # several problems in several policies: all of them, each with its place
    (
        '[[policies]]\nkind = "bypass"\nnarrative = "One"\ncolour = "blue"\n\n'
        '[[policies]]\nkind = "secure-messaging"\nnarrative = "Two"\ndefinition = "Legal/Gone"\n'
        'source_ips = ["192.168.1.1/16"]\n\n'
        '[[policies]]\nkind = "content-examination"\nnarrative = "Three"\ncontent_definition = "Confidential"\n\n'
        '[[policies]]\nkind = "content-examination"\nnarrative = "Four"\ncontent_definition = "Missing"\n'
        'from = { type = "group", value = "Phantoms" }\n',
        [
            (0, "One", 'colour = "blue"', "unknown field 'colour'"),
            (1, "Two", 'definition = "Legal/Gone"', "'Legal/Gone' is not declared"),
            (1, "Two", "source_ips =", "did you mean 192.168.0.0/16"),
            (3, "Four", 'content_definition = "Missing"', "'Missing' is not declared"),
            (3, "Four", 'value = "Phantoms"', "unknown group 'Phantoms'"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("policies", "expected"),
    PROBLEMS,
    ids=[
        "unknown-field",
        "unknown-group-from",
        "unknown-group-to",
        "unknown-attribute",
        "undeclared-definition",
        "undeclared-content-definition",
        "duplicate-id",
        "bad-cidr",
        "host-bits",
        "end-before-start",
        "bidirectional-secure-messaging",
        "apply-without-definition",
        "no-action-with-definition",
        "content-without-content-definition",
        "bad-kind",
        "missing-kind",
        "bad-target-type",
        "bad-target-key",
        "bad-wildcard-domain",
        "id-zero",
        "id-string",
        "bad-date",
        "bad-bool",
        "bad-from-part",
        "bad-bypass-option",
        "empty-narrative",
        "several",
    ],
)
def test_import_reports_policy_problems_with_their_place(cli, tmp_path, policies, expected):
    text = BASE + "\n" + policies
    before = counts(cli)
    r = cli("import", write(tmp_path, "bad.toml", text))
    assert r.exit_code == 3, r.output
    assert r.stdout == "" and "Traceback" not in r.stderr
    *problems, last = r.stderr.splitlines()
    assert last.startswith("error: ") and last.endswith(
        f"{len(expected)} problem" + "s" * (len(expected) > 1)
    )
    assert len(problems) == len(expected), r.output
    for index, narrative, marker, fragment in expected:
        line = header_line(text, index) if marker is None else line_of(text, marker)
        label = f" ({narrative})" if narrative else ""
        place = f":{line}:1: error "
        about = f"policies[{index}]{label}: "
        assert any(place in p and about in p and fragment in p for p in problems), (
            place,
            fragment,
            r.output,
        )
    assert counts(cli) == before  # nothing written, not even the directory before the policies


def test_policies_may_reference_builtins_and_lite_accounts_import_them(cli, tmp_path):
    text = textwrap.dedent("""\
        [account]
        edition = "lite"

        [[content_definitions]]
        name = "Secret"
        lines = ["1 secret"]
        secure_messaging = "Default/External Recipients"

        [[policies]]
        kind = "secure-messaging"
        narrative = "All"
        definition = "Default/All Recipients"
        to = { type = "external" }

        [[policies]]
        kind = "secure-messaging"
        narrative = "External, in lower case"
        definition = "default/external recipients"

        [[policies]]
        kind = "content-examination"
        narrative = "Secrets"
        content_definition = "secret"
        bidirectional = true
        """)
    ok(cli("import", write(tmp_path, "lite.toml", text)))
    assert ok(cli("account", "show", "-o", "json")).json["edition"] == "lite"
    assert [p["definition"] for p in ok(cli("policy", "list", "-o", "json")).json] == [
        "Default/All Recipients",
        "Default/External Recipients",
    ]
    assert (
        ok(cli("content-policy", "show", "3", "-o", "json")).json["content_definition"] == "Secret"
    )
    doc = tomllib.loads(ok(cli("export")).stdout)
    assert "definitions" not in doc  # built-ins are referenced, never exported
    assert doc["content_definitions"][0]["secure_messaging"] == "Default/External Recipients"


def test_content_definition_problems_are_reported_with_their_place(cli, tmp_path):
    text = textwrap.dedent("""\
        [[content_definitions]]
        name = "Broken"
        activation_score = 0
        lines = ["1 fine", "not a line"]
        flavour = "x"
        secure_messaging = "Legal/Nope"

        [[policies]]
        kind = "content-examination"
        narrative = "Uses it"
        content_definition = "Broken"
        """)
    r = cli("import", write(tmp_path, "bad.toml", text))
    assert r.exit_code == 3, r.output
    problems = r.stderr.splitlines()[:-1]
    for marker, fragment in [
        ("activation_score = 0", "1..100"),
        ("lines =", "line 2: expected WEIGHT[:MAX]"),
        ("flavour =", "unknown field 'flavour'"),
        ("secure_messaging =", "'Legal/Nope' is not declared"),
    ]:
        place = f":{line_of(text, marker)}:1: error "
        about = "content_definitions[0] (Broken): "
        assert any(place in p and about in p and fragment in p for p in problems), (
            place,
            fragment,
            r.output,
        )
    assert len(problems) == 4, r.output
    assert ok(cli("db", "status", "-o", "json")).json["content_definitions"] == 0


def test_json_policy_problems_name_the_line(cli, tmp_path):
    doc = {
        "policies": [
            {"kind": "bypass", "narrative": "One"},
            {"kind": "bypass", "narrative": "Two", "colour": "x"},
        ]
    }
    text = json.dumps(doc, indent=2)
    r = cli("import", write(tmp_path, "bad.json", text))
    assert r.exit_code == 3, r.output
    line = line_of(text, "colour")
    assert f":{line}:7: error SM001 policies[1] (Two): unknown field 'colour'" in r.stderr


def test_json_policy_problems_name_the_line_after_nested_targets(cli, tmp_path):
    doc = {
        "groups": [{"name": "Legal", "members": ["a@example.com"]}],
        "policies": [
            {
                "kind": "bypass",
                "narrative": "One",
                "from": {"type": "group", "value": "Legal"},
                "to": {"type": "external"},
                "colour": "x",
            },
            {"kind": "bypass", "narrative": "Two", "colour": "y"},
        ],
    }
    text = json.dumps(doc, indent=2)
    r = cli("import", write(tmp_path, "bad.json", text))
    assert r.exit_code == 3, r.output
    first, second = line_of(text, '"colour": "x"'), line_of(text, '"colour": "y"')
    assert f":{first}:7: error SM001 policies[0] (One): " in r.stderr
    assert f":{second}:7: error SM001 policies[1] (Two): " in r.stderr


def test_json_config_with_policies_imports(cli, tmp_path):
    base = tomllib.loads(BASE)
    base["policies"] = [
        {
            "id": 5,
            "kind": "secure-messaging",
            "narrative": "SM",
            "definition": "Legal/7-Day",
            "from": {"type": "group", "value": "Legal"},
            "to": {"type": "external"},
            "start": "2026-01-01",
            "source_ips": ["203.0.113.0/24"],
        },
        {"kind": "bypass", "narrative": "BP", "option": "no-action", "bidirectional": True},
    ]
    ok(cli("import", write(tmp_path, "x.json", json.dumps(base, indent=2))))
    assert ok(cli("policy", "show", "5", "-o", "json")).json["source_ips"] == ["203.0.113.0/24"]
    assert ok(cli("bypass", "show", "6", "-o", "json")).json["option"] == "no-action"
    exported = json.loads(ok(cli("export", "--format", "json")).stdout)
    assert [p["id"] for p in exported["policies"]] == [5, 6]


def test_import_is_all_or_nothing_when_a_policy_is_bad(cli, tmp_path):
    text = (
        BASE + '\n[[policies]]\nkind = "bypass"\nnarrative = "Fine"\n\n'
        '[[policies]]\nkind = "bypass"\nnarrative = "Bad"\nsource_ips = ["nonsense"]\n'
    )
    before = counts(cli)
    r = cli("import", write(tmp_path, "bad.toml", text))
    assert r.exit_code == 3, r.output
    assert re.search(
        r":\d+:1: error SM001 policies\[1\] \(Bad\): invalid source IP range 'nonsense'", r.stderr
    )
    assert counts(cli) == before
    assert ok(cli("bypass", "list", "-o", "json")).json == []
