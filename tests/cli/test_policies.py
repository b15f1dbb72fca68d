"""Policies of the three kinds through the CLI (SPEC §4, §10, §11):
``secmsg policy``, ``secmsg bypass`` and ``secmsg content-policy``.

Most tests run on the demo store (tests/conftest.py ``demo``): groups Board,
Legal, Finance, HR, Auditors, "Partner Counsel"; attributes Department, Role,
Office; policies 1-5 (secure-messaging), 6 (bypass), 7-9 (content-examination);
the account time zone is Europe/London.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.helpers import audit_log, ok, refused, state

KINDS = {"policy": "secure-messaging", "bypass": "bypass", "content-policy": "content-examination"}
DEMO_IDS = {"policy": [1, 2, 3, 4, 5], "bypass": [6], "content-policy": [7, 8, 9]}
# What each kind needs to be created (beyond its narrative).
REQUIRED = {
    "policy": ["--definition", "Legal/Client Correspondence"],
    "bypass": [],
    "content-policy": ["--content-definition", "Privileged body"],
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


def fields(row: dict) -> dict:
    """A policy row without its timestamps and status (they vary)."""
    return {k: v for k, v in row.items() if k not in ("created", "updated", "status")}


def definition_id(cli, path: str) -> int:
    return ok(cli("definition", "show", path, "-o", "json")).json["id"]


def content_definition_id(cli, name: str) -> int:
    return ok(cli("content-definition", "show", name, "-o", "json")).json["id"]


def create(cli, group: str, narrative: str, *args: str) -> dict:
    return ok(cli(group, "create", narrative, *REQUIRED[group], *args, "-o", "json")).json


# --- round trips -------------------------------------------------------------------------


ROUND_TRIPS = [
    (
        "policy",
        [
            "--definition",
            "Legal/Client Correspondence",
            "--from",
            "group:Legal",
            "--to",
            "domain:partner.com",
        ],
        {
            "option": "apply",
            "definition": "Legal/Client Correspondence",
            "from": {"type": "group", "value": "Legal"},
            "to": {"type": "domain", "value": "partner.com"},
        },
        ["--definition", "Finance/Statements, 2 Weeks", "--to", "external", "--override"],
        {"definition": "Finance/Statements, 2 Weeks", "to": {"type": "external"}, "override": True},
    ),
    (
        "bypass",
        [
            "--option",
            "disable",
            "--from",
            "group:Board",
            "--to",
            "attribute:Role=Auditor",
            "--bidirectional",
        ],
        {
            "option": "disable",
            "from": {"type": "group", "value": "Board"},
            "to": {"type": "attribute", "name": "Role", "value": "Auditor"},
            "bidirectional": True,
        },
        ["--option", "no-action", "--no-bidirectional", "--from-part", "header"],
        {"option": "no-action", "bidirectional": False, "from_part": "header"},
    ),
    (
        "content-policy",
        [
            "--content-definition",
            "Privileged body",
            "--from",
            "internal",
            "--to",
            "@clientco.example",
        ],
        {
            "content_definition": "Privileged body",
            "from": {"type": "internal"},
            "to": {"type": "domain", "value": "clientco.example"},
        },
        ["--content-definition", "Card numbers in attachments", "--source-ip", "198.51.100.0/24"],
        {"content_definition": "Card numbers in attachments", "source_ips": ["198.51.100.0/24"]},
    ),
]


@pytest.mark.parametrize(
    ("group", "create_args", "created", "update_args", "updated"),
    ROUND_TRIPS,
    ids=[r[0] for r in ROUND_TRIPS],
)
def test_round_trip_of_each_kind(demo, group, create_args, created, update_args, updated):
    kind = KINDS[group]
    audit_before = len(audit_log(demo))

    p = ok(demo(group, "create", "Round trip", *create_args, "-o", "json")).json
    assert p["kind"] == kind and p["narrative"] == "Round trip" and p["id"] == 10
    assert {k: p[k] for k in created} == created
    assert p["enabled"] is True and p["status"] == "active"
    assert TIMESTAMP.match(p["created"]) and TIMESTAMP.match(p["updated"])

    shown = ok(demo(group, "show", str(p["id"]), "-o", "json")).json
    assert shown == p
    assert (
        ok(demo(group, "show", "round TRIP", "-o", "json")).json == p
    )  # by narrative, case-insensitively
    listed = ok(demo(group, "list", "-o", "json")).json
    assert [row["id"] for row in listed] == DEMO_IDS[group] + [10]
    assert listed[-1] == p

    after_update = ok(
        demo(
            group, "update", "10", "--narrative", "Round trip, changed", *update_args, "-o", "json"
        )
    ).json
    assert after_update["narrative"] == "Round trip, changed"
    assert {k: after_update[k] for k in updated} == updated
    untouched = {k: v for k, v in fields(p).items() if k not in updated and k != "narrative"}
    assert {k: after_update[k] for k in untouched} == untouched
    assert ok(demo(group, "show", "10", "-o", "json")).json == after_update

    assert ok(demo(group, "disable", "10")).stdout.startswith("Disabled")
    disabled = ok(demo(group, "show", "10", "-o", "json")).json
    assert (disabled["enabled"], disabled["status"]) == (False, "disabled")
    assert ok(demo(group, "enable", "10")).stdout.startswith("Enabled")
    enabled = ok(demo(group, "show", "10", "-o", "json")).json
    assert (enabled["enabled"], enabled["status"]) == (True, "active")
    assert fields(enabled) == fields(after_update)

    assert "Round trip, changed" in ok(demo(group, "delete", "10")).stdout
    refused(demo(group, "show", "10"), "10", "not found")
    assert [row["id"] for row in ok(demo(group, "list", "-o", "json")).json] == DEMO_IDS[group]

    log = audit_log(demo)[: len(audit_log(demo)) - audit_before]
    assert [(e["action"], e["kind"], e["object"]) for e in reversed(log)] == [
        ("create", kind, "10"),
        ("update", kind, "10"),
        ("update", kind, "10"),
        ("update", kind, "10"),
        ("delete", kind, "10"),
    ]
    create_entry, *_, delete_entry = reversed(log)
    assert create_entry["before"] is None and create_entry["after"]["narrative"] == "Round trip"
    assert (
        delete_entry["after"] is None
        and delete_entry["before"]["narrative"] == "Round trip, changed"
    )
    assert log[2]["after"]["enabled"] is False and log[1]["after"]["enabled"] is True


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
def test_create_table_output_confirms_and_quiet_is_silent(demo, group):
    r = ok(
        demo(
            group,
            "create",
            "Confirm me",
            *REQUIRED[group],
            "--from",
            "internal",
            "--to",
            "domain:partner.com",
        )
    )
    assert r.stdout.startswith(f"Created {KINDS[group]} policy 10") and r.stderr == ""
    assert "from internal to domain:partner.com" in r.stdout
    q = ok(demo("-q", group, "create", "Quietly", *REQUIRED[group]))
    assert q.stdout == ""
    assert ok(demo(group, "show", "11", "-o", "json")).json["narrative"] == "Quietly"


@pytest.mark.parametrize(
    ("group", "other_group", "ref"),
    [
        ("policy", "bypass", "6"),
        ("bypass", "policy", "1"),
        ("content-policy", "policy", "2"),
        ("policy", "content-policy", "7"),
    ],
    ids=[
        "bypass-id-via-policy",
        "policy-id-via-bypass",
        "policy-id-via-content-policy",
        "content-id-via-policy",
    ],
)
def test_a_kind_does_not_reach_another_kinds_policies(demo, group, other_group, ref):
    assert ok(demo(other_group, "show", ref, "-o", "json")).json["id"] == int(ref)
    before = state(demo)
    for command in (
        ["show", ref],
        ["update", ref, "--narrative", "x"],
        ["delete", ref],
        ["disable", ref],
    ):
        refused(demo(group, *command), ref, "not found")
    assert state(demo) == before


def test_ambiguous_narrative_asks_for_the_id(demo):
    create(demo, "bypass", "Same words")
    create(demo, "bypass", "same words")
    before = state(demo)
    refused(demo("bypass", "show", "Same words"), "2 bypass policies", "10, 11")
    refused(demo("bypass", "delete", "Same words"), "10, 11")
    assert state(demo) == before


# --- every field ------------------------------------------------------------------------------

FIELD_CASES = [
    # (group, args, expected fields)
    (
        "policy",
        ["--definition", "Legal/Client Correspondence"],
        {"option": "apply", "definition": "Legal/Client Correspondence"},
    ),
    (
        "policy",
        ["--option", "apply", "-d", "legal/client correspondence"],
        {"option": "apply", "definition": "Legal/Client Correspondence"},
    ),
    (
        "policy",
        ["--definition", "Default/External Recipients"],
        {"option": "apply", "definition": "Default/External Recipients"},
    ),
    (
        "policy",
        ["--definition", "Default/All Recipients"],
        {"definition": "Default/All Recipients"},
    ),
    ("policy", ["--option", "no-action"], {"option": "no-action", "definition": None}),
    ("bypass", [], {"option": "disable"}),
    ("bypass", ["--option", "disable"], {"option": "disable"}),
    ("bypass", ["--option", "No-Action"], {"option": "no-action"}),
    (
        "content-policy",
        ["--content-definition", "Privileged body"],
        {"content_definition": "Privileged body"},
    ),
    ("content-policy", ["-c", "privileged BODY"], {"content_definition": "Privileged body"}),
    # defaults
    (
        "policy",
        ["-d", "Legal/Client Correspondence"],
        {
            "from": {"type": "everyone"},
            "to": {"type": "everyone"},
            "from_part": "envelope",
            "enabled": True,
            "start": None,
            "end": None,
            "override": False,
            "bidirectional": False,
            "source_ips": [],
        },
    ),
    # from part
    ("bypass", ["--from-part", "envelope"], {"from_part": "envelope"}),
    ("bypass", ["--from-part", "header"], {"from_part": "header"}),
    ("bypass", ["--from-part", "BOTH"], {"from_part": "both"}),
    # validity
    ("bypass", ["--start", "2026-01-01"], {"start": "2026-01-01", "end": None}),
    ("bypass", ["--end", "2026-12-31"], {"start": None, "end": "2026-12-31"}),
    (
        "bypass",
        ["--start", "2026-01-01", "--end", "2026-01-01"],
        {"start": "2026-01-01", "end": "2026-01-01"},
    ),
    (
        "bypass",
        ["--start", "2026-01-01T09:00", "--end", "2026-01-01T17:30:00"],
        {"start": "2026-01-01T09:00:00", "end": "2026-01-01T17:30:00"},
    ),
    (
        "bypass",
        ["--start", "2026-01-01T09:00:00+01:00", "--end", "2026-06-30T18:00:00Z"],
        {"start": "2026-01-01T09:00:00+01:00", "end": "2026-06-30T18:00:00+00:00"},
    ),
    (
        "bypass",
        ["--start", "2026-01-01", "--end", "2026-06-30T18:00:00-05:00"],
        {"start": "2026-01-01", "end": "2026-06-30T18:00:00-05:00"},
    ),
    ("bypass", ["--end", "20261231"], {"end": "2026-12-31"}),
    # override
    ("policy", ["-d", "Legal/Client Correspondence", "--override"], {"override": True}),
    ("bypass", ["--no-override"], {"override": False}),
    # source IPs
    ("bypass", ["--source-ip", "203.0.113.0/24"], {"source_ips": ["203.0.113.0/24"]}),
    ("bypass", ["--source-ip", "2001:DB8::/32"], {"source_ips": ["2001:db8::/32"]}),
    (
        "bypass",
        [
            "--source-ip",
            "203.0.113.0/24",
            "--source-ip",
            "2001:db8:abcd::/48",
            "--source-ip",
            "10.0.0.0/8",
        ],
        {"source_ips": ["203.0.113.0/24", "2001:db8:abcd::/48", "10.0.0.0/8"]},
    ),
    ("bypass", ["--source-ip", "203.0.113.7"], {"source_ips": ["203.0.113.7/32"]}),
    ("bypass", ["--source-ip", "2001:db8::1"], {"source_ips": ["2001:db8::1/128"]}),
    (
        "bypass",
        ["--source-ip", "10.0.0.0/8", "--source-ip", "10.0.0.0/8"],
        {"source_ips": ["10.0.0.0/8"]},
    ),
    (
        "bypass",
        ["--source-ip", "0.0.0.0/0", "--source-ip", "::/0"],
        {"source_ips": ["0.0.0.0/0", "::/0"]},
    ),
    # enabled
    ("bypass", ["--enabled"], {"enabled": True, "status": "active"}),
    ("bypass", ["--disabled"], {"enabled": False, "status": "disabled"}),
    (
        "policy",
        ["-d", "Legal/Client Correspondence", "--disabled", "--start", "2099-01-01"],
        {"enabled": False, "status": "disabled"},
    ),
    ("bypass", ["--start", "2099-01-01"], {"status": "scheduled"}),
    ("bypass", ["--end", "2000-01-01"], {"status": "expired"}),
    # bi-directional is allowed on bypass and content-examination policies
    ("bypass", ["--bidirectional"], {"bidirectional": True}),
    ("content-policy", ["-c", "Privileged body", "--bidirectional"], {"bidirectional": True}),
    (
        "policy",
        ["-d", "Legal/Client Correspondence", "--no-bidirectional"],
        {"bidirectional": False},
    ),
]


@pytest.mark.parametrize(
    ("group", "args", "expected"),
    FIELD_CASES,
    ids=[f"{c[0]}:{' '.join(c[1]) or 'defaults'}" for c in FIELD_CASES],
)
def test_every_field_is_stored_as_given(demo, group, args, expected):
    p = ok(demo(group, "create", "Field", *args, "-o", "json")).json
    assert {k: p[k] for k in expected} == expected
    assert {
        k: v
        for k, v in ok(demo(group, "show", str(p["id"]), "-o", "json")).json.items()
        if k in expected
    } == expected


@pytest.mark.parametrize(
    "path",
    ["Default/All Recipients", "Default/External Recipients", "Legal/Client Correspondence"],
    ids=["builtin-all", "builtin-external", "custom"],
)
def test_definition_by_id(demo, path):
    p = ok(
        demo(
            "policy",
            "create",
            "By id",
            "--definition",
            str(definition_id(demo, path)),
            "-o",
            "json",
        )
    ).json
    assert p["definition"] == path


def test_content_definition_by_id(demo):
    cid = content_definition_id(demo, "Card numbers in attachments")
    p = ok(demo("content-policy", "create", "By id", "-c", str(cid), "-o", "json")).json
    assert p["content_definition"] == "Card numbers in attachments"


TARGETS = [
    # (CLI form, stored target, readable form in the list table)
    ("everyone", {"type": "everyone"}, "everyone"),
    ("internal", {"type": "internal"}, "internal"),
    ("External", {"type": "external"}, "external"),
    ("domain:partner.com", {"type": "domain", "value": "partner.com"}, "domain:partner.com"),
    ("domain:Partner.COM", {"type": "domain", "value": "partner.com"}, "domain:partner.com"),
    ("domain:*.partner.com", {"type": "domain", "value": "*.partner.com"}, "domain:*.partner.com"),
    (
        "domain:bücher.de",
        {"type": "domain", "value": "xn--bcher-kva.de"},
        "domain:xn--bcher-kva.de",
    ),
    ("group:Auditors", {"type": "group", "value": "Auditors"}, "group:Auditors"),
    (
        "group:Partner Counsel",
        {"type": "group", "value": "Partner Counsel"},
        "group:Partner Counsel",
    ),
    (
        "attribute:Role=Auditor",
        {"type": "attribute", "name": "Role", "value": "Auditor"},
        "attribute:Role=Auditor",
    ),
    (
        "attribute:Role=Managing Partner",
        {"type": "attribute", "name": "Role", "value": "Managing Partner"},
        "attribute:Role=Managing Partner",
    ),
    (
        "address:Bob@Partner.com",
        {"type": "address", "value": "bob@partner.com"},
        "address:bob@partner.com",
    ),
    ("bob@partner.com", {"type": "address", "value": "bob@partner.com"}, "address:bob@partner.com"),
    ("@partner.com", {"type": "domain", "value": "partner.com"}, "domain:partner.com"),
    ("@*.partner.com", {"type": "domain", "value": "*.partner.com"}, "domain:*.partner.com"),
]


@pytest.mark.parametrize("side", ["--from", "--to"])
@pytest.mark.parametrize(("form", "stored", "readable"), TARGETS, ids=[t[0] for t in TARGETS])
def test_target_forms(demo, side, form, stored, readable):
    p = ok(demo("bypass", "create", "T", side, form, "-o", "json")).json
    key, other = ("from", "to") if side == "--from" else ("to", "from")
    assert p[key] == stored
    assert p[other] == {"type": "everyone"}
    table = ok(demo("bypass", "list", side, readable)).stdout
    assert readable in table and "10" in table


def test_from_part_shows_in_the_readable_from(demo):
    ok(demo("bypass", "create", "Header", "--from", "group:HR", "--from-part", "header"))
    table = ok(demo("bypass", "list")).stdout
    assert "group:HR (header)" in table
    assert "group:Board (header)" not in table and "group:Board" in table


# --- listing ------------------------------------------------------------------------------


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
def test_list_table_columns(demo, group):
    out = ok(demo(group, "list")).stdout
    header = next(line for line in out.splitlines() if " id " in line)
    columns = [c.strip() for c in re.split(r"[┃│|]", header) if c.strip()]
    assert columns == [
        "id",
        "narrative",
        "action",
        "from",
        "to",
        "status",
        "override",
        "bidi",
        "source IPs",
    ]
    for pid in DEMO_IDS[group]:
        assert re.search(rf"[┃│] {pid}\s+[┃│]", out), pid


@pytest.mark.parametrize(
    ("group", "pid", "fragments"),
    [
        (
            "policy",
            1,
            [
                "apply: Legal/Client Correspondence",
                "group:Legal",
                "domain:lexpartners.com",
                "active",
            ],
        ),
        ("policy", 3, ["group:Finance (both)", "external", "203.0.113.0/24", "2001:db8::/32"]),
        ("policy", 5, ["no-action", "attribute:Role=Administrator", "everyone"]),
        ("bypass", 6, ["disable", "group:Board", "attribute:Role=Auditor"]),
        ("content-policy", 9, ["scan: Privileged body", "domain:clientco.example", "yes"]),
    ],
    ids=["apply", "source-ips", "no-action", "bypass", "content"],
)
def test_list_table_shows_readable_rows(demo, group, pid, fragments):
    out = ok(demo(group, "list")).stdout
    row = "\n".join(line for line in out.splitlines() if re.search(rf"^[┃│] {pid}\s", line))
    assert row, out
    for fragment in fragments:
        assert fragment in out, (fragment, out)


def test_empty_list_says_so_on_stderr(cli):
    r = ok(cli("bypass", "list"))
    assert r.stdout == "" and "no bypass policies" in r.stderr
    assert ok(cli("bypass", "list", "-o", "json")).json == []


FILTERS = [
    ("policy", ["--definition", "finance"], [3, 4]),
    ("policy", ["--definition", "External Recipients"], [2]),
    ("policy", ["--definition", "nothing like it"], []),
    ("policy", ["--from", "group"], [1, 3]),
    ("policy", ["--from", "INTERNAL"], [2, 4]),
    ("policy", ["--from", "role=admin"], [5]),
    ("policy", ["--to", "lexpartners"], [1, 2]),
    ("policy", ["--to", "*."], [2]),
    ("policy", ["--from", "internal", "--to", "group"], [4]),
    ("policy", ["--status", "scheduled", "--at", "2026-06-01"], [4]),
    ("policy", ["--status", "active", "--at", "2026-06-01"], [1, 2, 3, 5]),
    ("policy", ["--status", "active", "--at", "2027-02-01"], [1, 2, 3, 4, 5]),
    ("policy", ["--status", "expired", "--at", "2027-04-01"], [4]),
    # the demo's end date (2027-03-31) includes its whole day in the account zone (BST by then)
    ("policy", ["--status", "active", "--at", "2027-03-31T22:59:59Z"], [1, 2, 3, 4, 5]),
    ("policy", ["--status", "expired", "--at", "2027-03-31T23:00:00Z"], [4]),
    ("policy", ["--status", "disabled"], []),
    ("policy", ["--status", "expired", "--definition", "finance", "--at", "2030-01-01"], [4]),
    ("bypass", ["--from", "board"], [6]),
    ("bypass", ["--to", "auditor"], [6]),
    ("bypass", ["--definition", "x"], []),
    ("content-policy", ["--definition", "card"], [8]),
    ("content-policy", ["--to", "clientco"], [9]),
    ("content-policy", ["--from", "internal", "--status", "active"], [7, 9]),
]


@pytest.mark.parametrize(
    ("group", "args", "ids"), FILTERS, ids=[f"{f[0]}:{' '.join(f[1])}" for f in FILTERS]
)
def test_list_filters(demo, group, args, ids):
    rows = ok(demo(group, "list", *args, "-o", "json")).json
    assert [r["id"] for r in rows] == ids
    csv_rows = list(csv.DictReader(io.StringIO(ok(demo(group, "list", *args, "-o", "csv")).stdout)))
    assert [int(r["id"]) for r in csv_rows] == ids


def test_list_status_filter_sees_disabled(demo):
    ok(demo("policy", "disable", "5"))
    assert [
        r["id"] for r in ok(demo("policy", "list", "--status", "disabled", "-o", "json")).json
    ] == [5]
    assert 5 not in [
        r["id"] for r in ok(demo("policy", "list", "--status", "active", "-o", "json")).json
    ]


POLICY_KEYS = {
    "policy": [
        "id",
        "kind",
        "narrative",
        "option",
        "definition",
        "from",
        "from_part",
        "to",
        "enabled",
        "start",
        "end",
        "override",
        "bidirectional",
        "source_ips",
        "status",
        "created",
        "updated",
    ],
    "bypass": [
        "id",
        "kind",
        "narrative",
        "option",
        "from",
        "from_part",
        "to",
        "enabled",
        "start",
        "end",
        "override",
        "bidirectional",
        "source_ips",
        "status",
        "created",
        "updated",
    ],
    "content-policy": [
        "id",
        "kind",
        "narrative",
        "content_definition",
        "from",
        "from_part",
        "to",
        "enabled",
        "start",
        "end",
        "override",
        "bidirectional",
        "source_ips",
        "status",
        "created",
        "updated",
    ],
}


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
def test_list_json_rows_have_one_shape(demo, group):
    rows = ok(demo(group, "list", "-o", "json")).json
    for row in rows:
        assert list(row) == POLICY_KEYS[group], row


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
def test_list_csv_has_every_field_of_every_row(demo, group):
    ok(
        demo(
            group,
            "create",
            "Dated",
            *REQUIRED[group],
            "--start",
            "2026-01-01",
            "--end",
            "2030-12-31",
            "--source-ip",
            "192.0.2.0/24",
        )
    )
    text = ok(demo(group, "list", "-o", "csv")).stdout
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == POLICY_KEYS[group]
    rows = list(reader)
    assert [int(r["id"]) for r in rows] == DEMO_IDS[group] + [10]
    dated = rows[-1]
    assert (dated["start"], dated["end"], dated["source_ips"]) == (
        "2026-01-01",
        "2030-12-31",
        '["192.0.2.0/24"]',
    )
    assert dated["enabled"] == "true" and dated["status"] == "active"


def test_list_csv_keeps_bounds_of_later_rows(demo):
    """Policy 4 (the only dated one) is not the first row: its bounds must survive CSV."""
    rows = {
        r["id"]: r
        for r in csv.DictReader(io.StringIO(ok(demo("policy", "list", "-o", "csv")).stdout))
    }
    assert (rows["4"]["start"], rows["4"]["end"]) == ("2027-01-01", "2027-03-31")
    assert (rows["1"]["start"], rows["1"]["end"]) == ("", "")
    assert rows["5"]["definition"] == "" and rows["5"]["option"] == "no-action"


def test_list_jsonl_is_one_object_per_line(demo):
    lines = ok(demo("content-policy", "list", "-o", "jsonl")).stdout.splitlines()
    import json

    assert [json.loads(line)["id"] for line in lines] == [7, 8, 9]


# --- show -----------------------------------------------------------------------------------


def test_show_every_field(demo):
    created = ok(
        demo(
            "policy",
            "create",
            "Everything set",
            "--option",
            "apply",
            "--definition",
            "Legal/7-Day Expiry, Receipt",
            "--from",
            "attribute:Department=Legal",
            "--from-part",
            "both",
            "--to",
            "domain:*.partner.com",
            "--start",
            "2026-01-01",
            "--end",
            "2099-12-31T18:00:00+00:00",
            "--override",
            "--source-ip",
            "203.0.113.0/24",
            "--source-ip",
            "2001:db8::/32",
            "--disabled",
            "-o",
            "json",
        )
    ).json
    shown = ok(demo("policy", "show", "10", "-o", "json")).json
    assert shown == created
    assert fields(shown) == {
        "id": 10,
        "kind": "secure-messaging",
        "narrative": "Everything set",
        "option": "apply",
        "definition": "Legal/7-Day Expiry, Receipt",
        "from": {"type": "attribute", "name": "Department", "value": "Legal"},
        "from_part": "both",
        "to": {"type": "domain", "value": "*.partner.com"},
        "enabled": False,
        "start": "2026-01-01",
        "end": "2099-12-31T18:00:00+00:00",
        "override": True,
        "bidirectional": False,
        "source_ips": ["203.0.113.0/24", "2001:db8::/32"],
    }
    assert shown["status"] == "disabled"
    table = ok(demo("policy", "show", "10")).stdout
    for label, value in [
        ("narrative", "Everything set"),
        ("definition", "Legal/7-Day Expiry, Receipt"),
        ("from_part", "both"),
        ("start", "2026-01-01"),
        ("end", "2099-12-31T18:00:00+00:00"),
        ("override", "yes"),
        ("enabled", "no"),
        ("source_ips", "203.0.113.0/24, 2001:db8::/32"),
        ("status", "disabled"),
        ("created", created["created"]),
    ]:
        assert re.search(rf"^{label}\s+{re.escape(value)}\s*$", table, re.M), (label, table)
    assert "*.partner.com" in table and "Department" in table


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
def test_show_has_every_field_even_when_absent(demo, group):
    pid = DEMO_IDS[group][0]
    shown = ok(demo(group, "show", str(pid), "-o", "json")).json
    assert list(shown) == POLICY_KEYS[group]
    assert shown["start"] is None and shown["end"] is None


# --- update -------------------------------------------------------------------------------

UPDATES = [
    ("policy", "4", ["--no-start"], {"start": None, "end": "2027-03-31"}),
    ("policy", "4", ["--no-end"], {"start": "2027-01-01", "end": None}),
    ("policy", "4", ["--no-start", "--no-end"], {"start": None, "end": None, "status": "active"}),
    ("policy", "4", ["--end", "2027-06-30"], {"start": "2027-01-01", "end": "2027-06-30"}),
    ("policy", "3", ["--source-ip", "198.51.100.0/24"], {"source_ips": ["198.51.100.0/24"]}),
    ("policy", "3", ["--any-source-ip"], {"source_ips": []}),
    ("policy", "1", ["--option", "no-action"], {"option": "no-action", "definition": None}),
    (
        "policy",
        "5",
        ["--option", "apply", "--definition", "Default/External Recipients"],
        {"option": "apply", "definition": "Default/External Recipients"},
    ),
    (
        "policy",
        "1",
        ["-d", "Default/All Recipients"],
        {"option": "apply", "definition": "Default/All Recipients"},
    ),
    (
        "policy",
        "1",
        ["--from", "address:Alice.Morgan@HarborFinch.com", "--from-part", "header"],
        {
            "from": {"type": "address", "value": "alice.morgan@harborfinch.com"},
            "from_part": "header",
        },
    ),
    (
        "policy",
        "1",
        ["--override", "--disabled"],
        {"override": True, "enabled": False, "status": "disabled"},
    ),
    (
        "policy",
        "Legal mail to partner counsel goes through the portal",
        ["--narrative", "Renamed"],
        {"narrative": "Renamed", "id": 1},
    ),
    (
        "bypass",
        "6",
        ["--option", "no-action", "--bidirectional"],
        {"option": "no-action", "bidirectional": True},
    ),
    ("bypass", "6", ["--to", "group:Auditors"], {"to": {"type": "group", "value": "Auditors"}}),
    (
        "content-policy",
        "9",
        ["--no-bidirectional", "-c", "Confidential subject"],
        {"bidirectional": False, "content_definition": "Confidential subject"},
    ),
    (
        "content-policy",
        "7",
        ["--start", "2026-01-01T08:00:00+00:00"],
        {"start": "2026-01-01T08:00:00+00:00"},
    ),
]


@pytest.mark.parametrize(
    ("group", "ref", "args", "expected"), UPDATES, ids=[f"{u[0]}:{' '.join(u[2])}" for u in UPDATES]
)
def test_update_changes_only_what_is_given(demo, group, ref, args, expected):
    before = ok(demo(group, "show", ref, "-o", "json")).json
    after = ok(demo(group, "update", ref, *args, "-o", "json")).json
    assert {k: after[k] for k in expected} == expected
    assert {k: v for k, v in fields(after).items() if k not in expected} == {
        k: v for k, v in fields(before).items() if k not in expected
    }
    assert after["created"] == before["created"]
    assert ok(demo(group, "show", str(after["id"]), "-o", "json")).json == after


def test_update_table_output_and_audit(demo):
    r = ok(demo("bypass", "update", "6", "--narrative", "Board to auditors, in clear"))
    assert r.stdout == "Updated bypass policy 6.\n"
    entry = audit_log(demo)[0]
    assert (entry["action"], entry["kind"], entry["object"]) == ("update", "bypass", "6")
    assert entry["before"]["narrative"] == "Board mail to auditors is not secured"
    assert entry["after"]["narrative"] == "Board to auditors, in clear"


# --- validation failures: exit 1, one line, nothing written ---------------------------------------

INVALID = [
    # source IPs
    ("bypass", ["--source-ip", "10.0.0.0/33"], ["'10.0.0.0/33'", "CIDR"]),
    ("bypass", ["--source-ip", "not-an-ip"], ["'not-an-ip'", "CIDR"]),
    ("bypass", ["--source-ip", "300.1.1.0/24"], ["'300.1.1.0/24'", "CIDR"]),
    ("bypass", ["--source-ip", ""], ["source IP range", "CIDR"]),
    ("bypass", ["--source-ip", "10.0.0.1/24"], ["'10.0.0.1/24'", "host bits", "10.0.0.0/24"]),
    ("bypass", ["--source-ip", "203.0.113.77/26"], ["host bits", "203.0.113.64/26"]),
    (
        "bypass",
        ["--source-ip", "2001:db8::1/32"],
        ["'2001:db8::1/32'", "host bits", "2001:db8::/32"],
    ),
    (
        "bypass",
        ["--source-ip", "10.0.0.0/8", "--source-ip", "192.168.1.1/16"],
        ["host bits", "192.168.0.0/16"],
    ),
    # validity
    (
        "bypass",
        ["--start", "2026-02-01", "--end", "2026-01-31"],
        ["end 2026-01-31", "not after start 2026-02-01"],
    ),
    (
        "bypass",
        ["--start", "2026-02-01T10:00:00", "--end", "2026-02-01T09:59:59"],
        ["end", "not after start"],
    ),
    (
        "bypass",
        ["--start", "2026-02-01T10:00:00", "--end", "2026-02-01T10:00:00"],
        ["end", "not after start"],
    ),
    # 2026-07-01T23:30Z is already 2 July in London (the demo's zone): the end date has passed
    (
        "bypass",
        ["--start", "2026-07-01T23:30:00+00:00", "--end", "2026-07-01"],
        ["not after start"],
    ),
    ("bypass", ["--start", "2026-02-30"], ["start", "'2026-02-30'", "ISO date"]),
    ("bypass", ["--end", "tomorrow"], ["end", "'tomorrow'", "ISO date"]),
    ("bypass", ["--start", "31/12/2026"], ["start", "ISO date"]),
    # targets: references
    ("bypass", ["--from", "group:Nobody"], ["from", "group 'Nobody' not found"]),
    (
        "policy",
        ["-d", "Legal/Client Correspondence", "--to", "group:Nobody"],
        ["to", "group 'Nobody' not found"],
    ),
    ("bypass", ["--to", "attribute:Shoe=42"], ["to", "attribute named 'Shoe'"]),
    (
        "content-policy",
        ["-c", "Privileged body", "--from", "attribute:Colour=Blue"],
        ["from", "'Colour'"],
    ),
    # targets: syntax
    (
        "bypass",
        ["--to", "bogus:x"],
        ["--to", "'bogus:x'", "domain:partner.com", "attribute:Name=value"],
    ),
    ("bypass", ["--from", "nobody"], ["--from", "'nobody'", "expected"]),
    ("bypass", ["--to", "attribute:Role"], ["--to", "attribute:Name=value"]),
    ("bypass", ["--to", "attribute:=Auditor"], ["--to", "needs a name and a value"]),
    ("bypass", ["--to", "everyone:x"], ["--to", "everyone takes no value"]),
    ("bypass", ["--to", "domain:"], ["--to", "domain needs a value"]),
    ("bypass", ["--to", "domain:*."], ["--to", "invalid domain"]),
    ("bypass", ["--to", "domain:bad domain"], ["--to", "'bad domain'"]),
    ("bypass", ["--to", "address:nobody"], ["--to", "'nobody'"]),
    ("bypass", ["--to", "group:"], ["--to", "group needs a value"]),
    ("bypass", ["--from", "group:everyone"], ["--from", "reserved"]),
    ("bypass", ["--from", "attribute:Role=Aud*"], ["--from", "wildcards"]),
    ("bypass", ["--from", "attribute:9Role=Auditor"], ["--from", "attribute name"]),
    ("bypass", ["--from-part", "sideways"], ["from_part", "'sideways'", "envelope, header, both"]),
    # options and what they need
    (
        "policy",
        ["-d", "Legal/Client Correspondence", "--bidirectional"],
        ["secure-messaging policy cannot be bi-directional", "bypass or content-examination"],
    ),
    ("policy", [], ["option 'apply' needs a definition"]),
    ("policy", ["--option", "apply"], ["option 'apply' needs a definition"]),
    (
        "policy",
        ["--option", "no-action", "-d", "Legal/Client Correspondence"],
        ["no-action", "takes no definition"],
    ),
    ("policy", ["--option", "disable"], ["'disable'", "apply, no-action"]),
    (
        "policy",
        ["-d", "Legal/Client Correspondence", "-c", "Privileged body"],
        ["no content_definition"],
    ),
    ("bypass", ["--option", "apply"], ["'apply'", "disable, no-action"]),
    ("bypass", ["--definition", "Legal/Client Correspondence"], ["takes no definition"]),
    ("content-policy", [], ["needs a content_definition"]),
    ("content-policy", ["-c", "Privileged body", "--option", "apply"], ["has no option"]),
    (
        "content-policy",
        ["-c", "Privileged body", "-d", "Legal/Client Correspondence"],
        ["has no definition"],
    ),
    # references
    ("policy", ["-d", "Legal/Nope"], ["definition 'Legal/Nope' not found"]),
    ("policy", ["-d", "Nowhere/Nope"], ["'Nowhere/Nope' not found"]),
    ("policy", ["-d", "999"], ["definition 999 not found"]),
    ("policy", ["-d", "NoSlash"], ["'NoSlash'", "FOLDER/DESCRIPTION"]),
    ("content-policy", ["-c", "Nope"], ["content definition 'Nope' not found"]),
    ("content-policy", ["-c", "999"], ["content definition '999' not found"]),
]


@pytest.mark.parametrize(
    ("group", "args", "fragments"),
    INVALID,
    ids=[f"{c[0]}:{' '.join(c[1]) or 'nothing'}" for c in INVALID],
)
def test_invalid_create_is_refused_and_writes_nothing(demo, group, args, fragments):
    before = state(demo)
    refused(demo(group, "create", "Invalid", *args), *fragments)
    assert state(demo) == before


@pytest.mark.parametrize("group", list(KINDS), ids=list(KINDS))
@pytest.mark.parametrize(
    "narrative", ["", "   ", "tab\there", "x" * 501], ids=["empty", "blank", "control", "long"]
)
def test_invalid_narrative(demo, group, narrative):
    before = state(demo)
    refused(demo(group, "create", narrative, *REQUIRED[group]), "narrative")
    assert state(demo) == before


INVALID_UPDATES = [
    ("policy", "1", ["--bidirectional"], ["cannot be bi-directional"]),
    ("policy", "4", ["--end", "2026-12-31"], ["end 2026-12-31", "not after start 2027-01-01"]),
    ("policy", "4", ["--start", "2027-04-01"], ["not after start 2027-04-01"]),
    ("policy", "3", ["--source-ip", "10.0.0.1/8"], ["host bits", "10.0.0.0/8"]),
    ("policy", "1", ["--to", "group:Nobody"], ["group 'Nobody' not found"]),
    ("policy", "1", ["--from", "attribute:Shoe=1"], ["'Shoe'"]),
    ("policy", "1", ["--definition", "Legal/Nope"], ["'Legal/Nope' not found"]),
    (
        "policy",
        "5",
        ["--definition", "Legal/Client Correspondence"],
        ["'no-action'", "takes no definition"],
    ),
    ("policy", "5", ["--option", "apply"], ["needs a definition"]),
    ("policy", "1", ["--narrative", " "], ["narrative"]),
    ("policy", "4", ["--start", "2027-01-01", "--no-start"], ["--start or its removal"]),
    (
        "policy",
        "3",
        ["--source-ip", "10.0.0.0/8", "--any-source-ip"],
        ["--source-ips or its removal"],
    ),
    ("policy", "1", [], ["nothing to change"]),
    ("policy", "999", ["--narrative", "x"], ["999", "not found"]),
    ("policy", "No such narrative", ["--narrative", "x"], ["'No such narrative'", "not found"]),
    ("bypass", "6", ["--to", "nowhere:x"], ["--to", "'nowhere:x'"]),
    ("bypass", "6", ["--option", "apply"], ["disable, no-action"]),
    ("content-policy", "9", ["-c", "Nope"], ["content definition 'Nope' not found"]),
    ("content-policy", "9", ["--from-part", "body"], ["from_part", "'body'"]),
]


@pytest.mark.parametrize(
    ("group", "ref", "args", "fragments"),
    INVALID_UPDATES,
    ids=[f"{c[0]} {c[1]}:{' '.join(c[2]) or 'nothing'}" for c in INVALID_UPDATES],
)
def test_invalid_update_is_refused_and_writes_nothing(demo, group, ref, args, fragments):
    before = state(demo)
    refused(demo(group, "update", ref, *args), *fragments)
    assert state(demo) == before


@pytest.mark.parametrize(
    ("group", "ref"),
    [("policy", "999"), ("bypass", "1"), ("content-policy", "Nothing like it")],
    ids=["missing-id", "other-kind", "missing-narrative"],
)
@pytest.mark.parametrize("command", ["show", "delete", "enable", "disable"])
def test_missing_policy_is_not_found(demo, group, ref, command):
    before = state(demo)
    refused(demo(group, command, ref), "not found")
    assert state(demo) == before


# --- referential integrity --------------------------------------------------------------------

IN_USE = [
    (
        ["definition", "delete", "Legal/Client Correspondence"],
        [
            "'Legal/Client Correspondence' is in use",
            "secure-messaging policy 1",
            "content definition 'Privileged body'",
        ],
    ),
    (
        ["definition", "delete", "Finance/Audit Evidence, 1 Year"],
        ["in use", "secure-messaging policy 4", "Year-end audit season"],
    ),
    (
        ["definition", "delete", "Legal/7-Day Expiry, Receipt"],
        ["in use", "content definition 'Confidential subject'"],
    ),
    (["group", "delete", "Auditors"], ["'Auditors' is in use", "secure-messaging policy 4"]),
    (["group", "delete", "Board"], ["'Board' is in use", "bypass policy 6"]),
    (
        ["group", "delete", "finance"],
        ["in use", "secure-messaging policy 3", "content-examination policy 8"],
    ),
    (
        ["content-definition", "delete", "Privileged body"],
        ["'Privileged body' is in use", "content-examination policy 9"],
    ),
    (
        ["content-definition", "delete", "card numbers in attachments"],
        ["in use", "content-examination policy 8"],
    ),
    (
        ["folder", "delete", "Finance", "--recursive"],
        [
            "'Finance'",
            "in use",
            "secure-messaging policy 3",
            "secure-messaging policy 4",
            "content definition 'Card numbers in attachments'",
        ],
    ),
    (["folder", "delete", "Legal", "--recursive"], ["in use", "secure-messaging policy 1"]),
    (["folder", "delete", "Legal/Restricted", "--recursive"], None),  # nothing in it is referenced
]


@pytest.mark.parametrize(("args", "fragments"), IN_USE, ids=[" ".join(a[:3]) for a, _ in IN_USE])
def test_objects_in_use_cannot_be_deleted(demo, args, fragments):
    before = state(demo)
    r = demo(*args)
    if fragments is None:
        ok(r)
        return
    refused(r, *fragments)
    assert state(demo) == before


@pytest.mark.parametrize(
    ("users", "args"),
    [
        ([("policy", "4")], ["group", "delete", "Auditors"]),
        ([("policy", "4")], ["definition", "delete", "Finance/Audit Evidence, 1 Year"]),
        ([("content-policy", "9")], ["content-definition", "delete", "Privileged body"]),
        (
            [("policy", "1"), ("content-policy", "9")],
            ["content-definition", "delete", "Privileged body"],
        ),
    ],
    ids=["group", "definition", "content-definition", "content-definition-after-two"],
)
def test_deletion_is_allowed_once_the_users_are_gone(demo, users, args):
    for group, ref in users:
        ok(demo(group, "delete", ref))
    ok(demo(*args))


def test_a_group_reference_in_another_case_still_blocks_deletion(demo):
    ok(demo("policy", "delete", "4"))
    ok(demo("bypass", "create", "Lower case", "--to", "group:auditors"))
    before = state(demo)
    refused(demo("group", "delete", "Auditors"), "in use", "bypass policy 10")
    assert state(demo) == before


@pytest.mark.parametrize(
    ("rename", "group", "pid", "field", "expected"),
    [
        (
            ["definition", "update", "Legal/Client Correspondence", "--description", "Clients"],
            "policy",
            1,
            "definition",
            "Legal/Clients",
        ),
        (
            ["folder", "rename", "Finance", "Money"],
            "policy",
            3,
            "definition",
            "Money/Statements, 2 Weeks",
        ),
        (
            ["content-definition", "update", "Privileged body", "--name", "Privileged text"],
            "content-policy",
            9,
            "content_definition",
            "Privileged text",
        ),
    ],
    ids=["definition-rename", "folder-rename", "content-definition-rename"],
)
def test_references_follow_renames(demo, rename, group, pid, field, expected):
    ok(demo(*rename))
    assert ok(demo(group, "show", str(pid), "-o", "json")).json[field] == expected


def test_builtin_definitions_are_referenced_but_stay_read_only(demo):
    ok(demo("policy", "create", "Built-in", "-d", "Default/External Recipients"))
    before = state(demo)
    refused(demo("definition", "delete", "Default/External Recipients"), "built-in")
    assert state(demo) == before


# --- lite edition ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "args", "expected"),
    [
        (
            "policy",
            ["--definition", "Default/All Recipients"],
            {"definition": "Default/All Recipients"},
        ),
        (
            "policy",
            ["--definition", "Default/External Recipients", "--to", "external"],
            {"definition": "Default/External Recipients"},
        ),
        ("policy", ["--option", "no-action"], {"option": "no-action"}),
        ("bypass", ["--bidirectional"], {"option": "disable", "bidirectional": True}),
        ("content-policy", ["-c", "Lite words"], {"content_definition": "Lite words"}),
    ],
    ids=["builtin-all", "builtin-external", "no-action", "bypass", "content-policy"],
)
def test_lite_account_policies_reference_builtins(cli, group, args, expected):
    ok(cli("account", "set", "--edition", "lite"))
    ok(
        cli(
            "content-definition",
            "create",
            "Lite words",
            "--line",
            "1 secret",
            "--secure-messaging",
            "Default/External Recipients",
        )
    )
    p = ok(cli(group, "create", "Lite", *args, "-o", "json")).json
    assert {k: p[k] for k in expected} == expected
    assert ok(cli("account", "show", "-o", "json")).json["edition"] == "lite"


def test_lite_rules_are_unaffected_by_policies(cli):
    ok(cli("account", "set", "--edition", "lite"))
    ok(
        cli(
            "policy",
            "create",
            "Lite",
            "--definition",
            str(definition_id(cli, "Default/External Recipients")),
        )
    )
    ok(cli("folder", "create", "Legal"))
    before = state(cli)
    refused(cli("definition", "create", "Legal/Custom"), "lite")
    assert state(cli) == before
    # and a lite account still goes back to full
    ok(cli("account", "set", "--edition", "full"))
    ok(cli("definition", "create", "Legal/Custom"))
    p = ok(cli("policy", "update", "1", "--definition", "Legal/Custom", "-o", "json")).json
    assert p["definition"] == "Legal/Custom"
    refused(cli("account", "set", "--edition", "lite"), "lite")


# --- every write is audited ------------------------------------------------------------------------

WRITES = [
    (
        ["policy", "create", "Audited", "-d", "Default/All Recipients"],
        ("create", "secure-messaging", "10"),
    ),
    (["policy", "update", "1", "--override"], ("update", "secure-messaging", "1")),
    (["policy", "disable", "2"], ("update", "secure-messaging", "2")),
    (["policy", "enable", "2"], ("update", "secure-messaging", "2")),
    (["policy", "delete", "5"], ("delete", "secure-messaging", "5")),
    (["bypass", "create", "Audited"], ("create", "bypass", "10")),
    (["bypass", "update", "6", "--from-part", "both"], ("update", "bypass", "6")),
    (["bypass", "disable", "6"], ("update", "bypass", "6")),
    (["bypass", "delete", "6"], ("delete", "bypass", "6")),
    (
        ["content-policy", "create", "Audited", "-c", "Privileged body"],
        ("create", "content-examination", "10"),
    ),
    (["content-policy", "update", "7", "--to", "external"], ("update", "content-examination", "7")),
    (["content-policy", "enable", "8"], ("update", "content-examination", "8")),
    (["content-policy", "delete", "9"], ("delete", "content-examination", "9")),
]


@pytest.mark.parametrize(("args", "entry"), WRITES, ids=[" ".join(a[:3]) for a, _ in WRITES])
def test_every_write_is_audited(demo, args, entry):
    before = len(audit_log(demo))
    ok(demo(*args))
    log = audit_log(demo)
    assert len(log) == before + 1
    newest = log[0]
    assert (newest["action"], newest["kind"], newest["object"]) == entry
    assert newest["actor"] == "tester"
    if entry[0] == "create":
        assert newest["before"] is None and newest["after"]["id"] == int(entry[2])
    elif entry[0] == "delete":
        assert newest["after"] is None and newest["before"]["id"] == int(entry[2])
    else:
        assert newest["before"]["id"] == newest["after"]["id"] == int(entry[2])
