"""`secmsg plan` and `secmsg apply` (SPEC §9, §10, §11; issue 6 item 1), through
the real CLI: the object-level diff, --detailed-exitcode, -o json, idempotence,
every kind of change, --prune, ids kept, atomicity, confirmation, bad files."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import DEMO
from tests.helpers import ok

# --- helpers --------------------------------------------------------------------------


def demo_doc() -> dict:
    """fixtures/demo.toml as a plain document (every value is JSON-able)."""
    return tomllib.loads(DEMO.read_text(encoding="utf-8"))


def write(tmp_path, doc: dict, name: str = "secmsg.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def exported(cli, *db: str) -> dict:
    return json.loads(ok(cli(*db, "export", "--format", "json")).stdout)


def audit(cli, *db: str) -> list[dict]:
    """The audit log, oldest first."""
    return list(reversed(ok(cli(*db, "audit", "-o", "json", "--limit", "100000")).json))


def state(cli, *db: str) -> tuple[str, list[dict]]:
    """Everything a write could touch: the export and the audit log."""
    return ok(cli(*db, "export", "--format", "json")).stdout, audit(cli, *db)


def plan(cli, path, *flags: str) -> dict:
    return ok(cli("plan", path, *flags, "-o", "json")).json


def changes(p: dict) -> dict[tuple[str, str, str], set[str]]:
    """(action, kind, object) -> names of the changed fields."""
    out = {}
    for c in p["changes"]:
        key = (c["action"], c["kind"], c["object"])
        assert key not in out, f"{key} listed twice"
        out[key] = set(c["changes"])
    return out


def policy_ids(cli, *db: str) -> dict[int, tuple[str, str]]:
    return {p["id"]: (p["kind"], p["narrative"]) for p in exported(cli, *db).get("policies", [])}


def definition_ids(cli, *db: str) -> dict[str, int]:
    return {d["path"]: d["id"] for d in ok(cli(*db, "definition", "list", "-o", "json")).json}


KEYS = {
    "domains": lambda e: e["name"],
    "groups": lambda e: e["name"],
    "attributes": lambda e: e["address"],
    "folders": lambda e: e["path"],
    "definitions": lambda e: f"{e['folder']}/{e['description']}",
    "content_definitions": lambda e: e["name"],
    "policies": lambda e: e["id"],
}


def find(doc: dict, section: str, key) -> dict | None:
    for entry in doc.get(section, []):
        if KEYS[section](entry) == key:
            return entry
    return None


def entry(doc: dict, section: str, key) -> dict:
    found = find(doc, section, key)
    assert found is not None, (section, key)
    return found


def drop(doc: dict, section: str, *keys) -> None:
    before = len(doc[section])
    doc[section] = [e for e in doc[section] if KEYS[section](e) not in keys]
    assert len(doc[section]) == before - len(keys), (section, keys)


def P(pid: int) -> str:
    """The plan's label of a demo policy."""
    p = entry(demo_doc(), "policies", pid)
    return f"{pid} ({p['kind']}: {p['narrative']})"


EXPECTED_CREATES = {
    "domain": 3,
    "group": 6,
    "attribute": 12,
    "folder": 6,
    "definition": 8,
    "content-definition": 3,
    "policy": 9,
}


# --- plan against an empty store; --detailed-exitcode; -o json ----------------------------


def test_plan_against_an_empty_store_creates_everything(cli):
    p = plan(cli, DEMO)
    assert p["summary"] == {"create": sum(EXPECTED_CREATES.values()), "update": 1, "delete": 0}
    assert p["kept"] == []
    by_kind: dict[str, int] = {}
    for c in p["changes"]:
        if c["kind"] == "account":  # the account always exists: its settings are updated
            assert c["action"] == "update"
            assert c["changes"]["name"] == {"before": "", "after": "Harbor & Finch LLP"}
            continue
        assert c["action"] == "create", c
        assert c["changes"] == {}
        by_kind[c["kind"]] = by_kind.get(c["kind"], 0) + 1
    assert by_kind == EXPECTED_CREATES
    objects = {(c["kind"], c["object"]) for c in p["changes"]}
    assert ("definition", "Legal/Restricted/Privileged, No Print, 12 Hours") in objects
    assert ("policy", P(9)) in objects
    assert ("folder", "HR/Archive") in objects
    assert not any(
        o == "Default" or o.startswith("Default/") for _, o in objects
    )  # built-ins are no change


def test_plan_table_lists_each_change_and_a_summary(cli):
    r = ok(cli("plan", DEMO))
    lines = r.stdout.splitlines()
    assert "+ create domain harborfinch.com" in lines
    assert f"+ create policy {P(1)}" in lines
    assert "~ update account account" in lines
    assert any(line.strip() == "name:  → Harbor & Finch LLP" for line in lines), r.stdout
    assert (
        lines[-1] == f"Plan: {sum(EXPECTED_CREATES.values())} to create, 1 to update, 0 to delete."
    )
    assert r.stderr == ""


def test_plan_never_writes(cli, tmp_path):
    before = state(cli)
    ok(cli("plan", DEMO))
    ok(cli("plan", DEMO, "--prune", "-o", "json"))
    assert cli("plan", DEMO, "--detailed-exitcode").exit_code == 5
    assert state(cli) == before


def test_plan_never_writes_on_a_loaded_store(demo, tmp_path):
    doc = demo_doc()
    doc["account"]["name"] = "Renamed"
    drop(doc, "policies", 5)
    entry(doc, "groups", "HR")["members"].append("payroll@harborfinch.com")
    path = write(tmp_path, doc)
    before = state(demo)
    for flags in ((), ("--prune",), ("-o", "json"), ("--prune", "--detailed-exitcode")):
        assert demo("plan", path, *flags).exit_code in (0, 5)
    assert state(demo) == before


@pytest.mark.parametrize(
    ("loaded", "flags", "code"),
    [
        pytest.param(False, ("--detailed-exitcode",), 5, id="changes-detailed"),
        pytest.param(False, (), 0, id="changes-plain"),
        pytest.param(True, ("--detailed-exitcode",), 0, id="no-changes-detailed"),
        pytest.param(True, (), 0, id="no-changes-plain"),
        pytest.param(False, ("--detailed-exitcode", "-o", "json"), 5, id="changes-detailed-json"),
        pytest.param(True, ("--detailed-exitcode", "-o", "json"), 0, id="no-changes-detailed-json"),
    ],
)
def test_detailed_exitcode(cli, loaded, flags, code):
    if loaded:
        ok(cli("import", DEMO))
    r = cli("plan", DEMO, *flags)
    assert r.exit_code == code, r.output
    if "json" in flags:
        assert (r.json["summary"]["create"] > 0) == (not loaded)


def test_detailed_exitcode_counts_deletes_only_with_prune(demo, tmp_path):
    doc = demo_doc()
    drop(doc, "domains", "notify.harborfinch.com")
    path = write(tmp_path, doc)
    assert demo("plan", path, "--detailed-exitcode").exit_code == 0  # kept is no change
    assert demo("plan", path, "--detailed-exitcode", "--prune").exit_code == 5


def test_plan_json_shape(demo, tmp_path):
    doc = demo_doc()
    entry(doc, "definitions", "Legal/Client Correspondence")["expire_after"] = "45d"
    drop(doc, "groups", "Partner Counsel")
    doc["domains"].append({"name": "harborfinch.net", "type": "remote"})
    path = write(tmp_path, doc)
    p = plan(demo, path)
    assert set(p) == {"summary", "changes", "kept"}
    assert p["summary"] == {"create": 1, "update": 1, "delete": 0}
    for c in p["changes"]:
        assert set(c) == {"action", "kind", "object", "changes"}
        for fieldchange in c["changes"].values():
            assert set(fieldchange) == {"before", "after"}
    assert {"action": "create", "kind": "domain", "object": "harborfinch.net", "changes": {}} in p[
        "changes"
    ]
    assert {
        "action": "update",
        "kind": "definition",
        "object": "Legal/Client Correspondence",
        "changes": {"expire_after": {"before": "30d", "after": "45d"}},
    } in p["changes"]
    assert p["kept"] == [{"kind": "group", "object": "Partner Counsel"}]
    pruned = plan(demo, path, "--prune")
    assert pruned["summary"] == {"create": 1, "update": 1, "delete": 1}
    assert {
        "action": "delete",
        "kind": "group",
        "object": "Partner Counsel",
        "changes": {},
    } in pruned["changes"]
    assert pruned["kept"] == []


def test_plan_reads_standard_input(demo):
    doc = demo_doc()
    doc["account"]["expired_view"] = True
    r = ok(demo("plan", "-", "-o", "json", input=json.dumps(doc)))
    assert changes(r.json) == {("update", "account", "account"): {"expired_view"}}


# --- apply and idempotence -------------------------------------------------------------


def test_apply_to_an_empty_store_equals_import(cli, tmp_path):
    other = str(tmp_path / "imported.db")
    ok(cli("--db", other, "import", DEMO))
    r = ok(cli("apply", DEMO, "--yes"))
    assert "Applied" in r.stderr or "Applied" in r.stdout
    assert exported(cli) == exported(cli, "--db", other)
    assert ok(cli("export")).stdout == ok(cli("--db", other, "export")).stdout
    assert policy_ids(cli) == policy_ids(cli, "--db", other)
    assert set(definition_ids(cli)) == set(
        definition_ids(cli, "--db", other)
    )  # new objects: fresh ids


def test_apply_twice_second_plan_is_empty_and_second_apply_writes_nothing(cli):
    ok(cli("apply", DEMO, "--yes"))
    log = audit(cli)
    assert log[-1]["action"] == "apply" and log[-1]["kind"] == "config"
    assert log[-1]["after"] == {"create": sum(EXPECTED_CREATES.values()), "update": 1, "delete": 0}
    r = cli("plan", DEMO, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes" in r.stdout
    assert plan(cli, DEMO, "--prune") == {
        "summary": {"create": 0, "update": 0, "delete": 0},
        "changes": [],
        "kept": [],
    }
    before = state(cli)
    r = ok(cli("apply", DEMO, "--yes", "--prune"))
    assert "No changes" in r.stdout
    again = ok(cli("apply", DEMO, "--yes", "-o", "json")).json
    assert again["applied"] is False and again["changes"] == []
    assert state(cli) == before  # not even an 'apply' audit entry


def test_the_store_own_export_applies_as_no_change(demo, tmp_path):
    path = tmp_path / "exported.toml"
    ok(demo("export", path))
    assert demo("plan", path, "--detailed-exitcode", "--prune").exit_code == 0
    path_json = tmp_path / "exported.json"
    ok(demo("export", path_json))
    assert demo("plan", path_json, "--detailed-exitcode", "--prune").exit_code == 0


def test_apply_json_output(demo, tmp_path):
    doc = demo_doc()
    entry(doc, "domains", "harborfinch.co.uk")["type"] = "local"
    out = ok(demo("apply", write(tmp_path, doc), "--yes", "-o", "json")).json
    assert out["applied"] is True
    assert out["summary"] == {"create": 0, "update": 1, "delete": 0}
    assert out["changes"] == [
        {
            "action": "update",
            "kind": "domain",
            "object": "harborfinch.co.uk",
            "changes": {"type": {"before": "remote", "after": "local"}},
        }
    ]


def test_apply_is_audited_as_one_apply_entry_after_its_writes(demo, tmp_path):
    doc = demo_doc()
    doc["domains"].append({"name": "harborfinch.net", "type": "remote"})
    entry(doc, "groups", "HR")["members"].append("payroll@harborfinch.com")
    path = write(tmp_path, doc)
    n = len(audit(demo))
    ok(demo("apply", path, "--yes"))
    new = audit(demo)[n:]
    assert [(e["action"], e["kind"], e["object"]) for e in new] == [
        ("create", "domain", "harborfinch.net"),
        ("update", "group", "HR"),
        ("apply", "config", str(path)),
    ]
    assert new[-1]["after"] == {"create": 1, "update": 1, "delete": 0}


# --- every kind of change --------------------------------------------------------------
#
# Each case: a change to the demo document, the exact plan it gives
# ({(action, kind, object): changed fields}), and a check of the store after
# apply. Every case is then applied; the plan afterwards must be empty.


def _edit(section: str, key, **fields):
    """A mutation of the entry ``key`` of ``section``: each field set, or
    removed when None."""

    def mutate(doc):
        d = entry(doc, section, key)
        for k, v in fields.items():
            if v is None:
                d.pop(k, None)
            else:
                d[k] = v

    return mutate


def _policy(pid: int, **fields):
    return _edit("policies", pid, **fields)


def _definition(path: str, **fields):
    return _edit("definitions", path, **fields)


def _content(name: str, **fields):
    return _edit("content_definitions", name, **fields)


def _do(*steps):
    def mutate(doc):
        for step in steps:
            step(doc)

    return mutate


def _append(section: str, value: dict):
    return lambda doc: doc[section].append(copy.deepcopy(value))


def _set(section: str, key, field: str, value):
    def mutate(doc):
        if value is None:
            entry(doc, section, key).pop(field)
        else:
            entry(doc, section, key)[field] = value

    return mutate


def _members(group: str, add=(), remove=()):
    def mutate(doc):
        g = entry(doc, "groups", group)
        g["members"] = [m for m in g["members"] if m not in remove] + list(add)

    return mutate


def _values(address: str, **values):
    def mutate(doc):
        a = entry(doc, "attributes", address)
        for k, v in values.items():
            if v is None:
                del a["values"][k]
            else:
                a["values"][k] = v

    return mutate


LEGAL_CC = "Legal/Client Correspondence"
ALICE = "alice.morgan@harborfinch.com"
EVAN = "evan.price@harborfinch.co.uk"
NEW_POLICY = {
    "kind": "bypass",
    "narrative": "HR mail is never secured",
    "option": "disable",
    "from": {"type": "group", "value": "HR"},
    "to": {"type": "everyone"},
}

CHANGE_CASES = [
    # account
    pytest.param(
        lambda d: d["account"].update(name="Harbor Finch", max_retention_days=365),
        {("update", "account", "account"): {"name", "max_retention_days"}},
        lambda e: (
            e["account"]["name"] == "Harbor Finch" and e["account"]["max_retention_days"] == 365
        ),
        id="account-name-retention",
    ),
    pytest.param(
        lambda d: d["account"].update(
            timezone="America/New_York",
            portal_url="https://p.example/x",
            bypass_scope="all",
            expired_view=True,
        ),
        {
            ("update", "account", "account"): {
                "timezone",
                "portal_url",
                "bypass_scope",
                "expired_view",
            }
        },
        lambda e: (
            e["account"]["bypass_scope"] == "all"
            and e["account"]["expired_view"] is True
            and e["account"]["timezone"] == "America/New_York"
        ),
        id="account-other-settings",
    ),
    # domains
    pytest.param(
        _append("domains", {"name": "harborfinch.net", "type": "send-only"}),
        {("create", "domain", "harborfinch.net"): set()},
        lambda e: entry(e, "domains", "harborfinch.net")["type"] == "send-only",
        id="domain-add",
    ),
    pytest.param(
        _set("domains", "harborfinch.co.uk", "type", "local"),
        {("update", "domain", "harborfinch.co.uk"): {"type"}},
        lambda e: entry(e, "domains", "harborfinch.co.uk")["type"] == "local",
        id="domain-type",
    ),
    # groups
    pytest.param(
        _append(
            "groups",
            {"name": "Interns", "members": ["intern@harborfinch.com", "@interns.harborfinch.com"]},
        ),
        {("create", "group", "Interns"): set()},
        lambda e: (
            entry(e, "groups", "Interns")["members"]
            == ["@interns.harborfinch.com", "intern@harborfinch.com"]
        ),
        id="group-add",
    ),
    pytest.param(
        _append("groups", {"name": "Nobody", "members": []}),
        {("create", "group", "Nobody"): set()},
        lambda e: entry(e, "groups", "Nobody")["members"] == [],
        id="group-add-empty",
    ),
    pytest.param(
        _members("HR", add=["payroll@harborfinch.com"]),
        {("update", "group", "HR"): {"members"}},
        lambda e: "payroll@harborfinch.com" in entry(e, "groups", "HR")["members"],
        id="group-member-added",
    ),
    pytest.param(
        _members("HR", remove=["hr@harborfinch.com"]),
        {("update", "group", "HR"): {"members"}},
        lambda e: (
            entry(e, "groups", "HR")["members"]
            == ["carla.diaz@harborfinch.com", "henry.cole@harborfinch.com"]
        ),
        id="group-member-removed",
    ),
    pytest.param(
        _members(
            "Finance",
            add=["@finance.harborfinch.com"],
            remove=["accounts@harborfinch.com", "grace.liu@harborfinch.com"],
        ),
        {("update", "group", "Finance"): {"members"}},
        lambda e: (
            entry(e, "groups", "Finance")["members"]
            == [
                "@finance.harborfinch.com",
                "ben.okafor@harborfinch.com",
                "billing@notify.harborfinch.com",
            ]
        ),
        id="group-members-added-and-removed",
    ),
    pytest.param(
        _members(
            "HR",
            remove=[
                "hr@harborfinch.com",
                "carla.diaz@harborfinch.com",
                "henry.cole@harborfinch.com",
            ],
        ),
        {("update", "group", "HR"): {"members"}},
        lambda e: entry(e, "groups", "HR")["members"] == [],
        id="group-emptied",
    ),
    # attributes
    pytest.param(
        _values(ALICE, Role="Senior Partner"),
        {("update", "attribute", ALICE): {"values"}},
        lambda e: (
            entry(e, "attributes", ALICE)["values"]
            == {"Department": "Legal", "Role": "Senior Partner"}
        ),
        id="attribute-value",
    ),
    pytest.param(
        _values(ALICE, Office="London"),
        {("update", "attribute", ALICE): {"values"}},
        lambda e: (
            entry(e, "attributes", ALICE)["values"]
            == {"Department": "Legal", "Office": "London", "Role": "Partner"}
        ),
        id="attribute-name-added",
    ),
    pytest.param(
        _values(EVAN, Office=None),
        {("update", "attribute", EVAN): {"values"}},
        lambda e: (
            entry(e, "attributes", EVAN)["values"] == {"Department": "Legal", "Role": "Associate"}
        ),
        id="attribute-name-removed",
    ),
    pytest.param(
        _values(EVAN, Office=None, Role="Senior Associate", Desk="4F"),
        {("update", "attribute", EVAN): {"values"}},
        lambda e: (
            entry(e, "attributes", EVAN)["values"]
            == {"Department": "Legal", "Desk": "4F", "Role": "Senior Associate"}
        ),
        id="attribute-added-changed-removed",
    ),
    pytest.param(
        _append(
            "attributes", {"address": "new.hire@harborfinch.com", "values": {"Department": "IT"}}
        ),
        {("create", "attribute", "new.hire@harborfinch.com"): set()},
        lambda e: (
            entry(e, "attributes", "new.hire@harborfinch.com")["values"] == {"Department": "IT"}
        ),
        id="attribute-address-added",
    ),
    # folders
    pytest.param(
        _append("folders", {"path": "Legal/Restricted/Deep", "publish_to": ["Legal"]}),
        {("create", "folder", "Legal/Restricted/Deep"): set()},
        lambda e: entry(e, "folders", "Legal/Restricted/Deep")["publish_to"] == ["Legal"],
        id="folder-add-nested",
    ),
    pytest.param(
        _do(
            _append("folders", {"path": "Clients/Acme/2026", "publish_to": []}),
            _append("folders", {"path": "Clients/Acme"}),
            _append("folders", {"path": "Clients", "publish_to": ["everyone", "Partner Counsel"]}),
        ),
        {
            ("create", "folder", "Clients"): set(),
            ("create", "folder", "Clients/Acme"): set(),
            ("create", "folder", "Clients/Acme/2026"): set(),
        },
        lambda e: (
            "publish_to" not in entry(e, "folders", "Clients/Acme")
            and entry(e, "folders", "Clients/Acme/2026")["publish_to"] == []
            and sorted(entry(e, "folders", "Clients")["publish_to"])
            == ["Partner Counsel", "everyone"]
        ),
        id="folder-add-tree-children-first-in-file",
    ),
    pytest.param(
        _set("folders", "HR", "publish_to", ["HR", "Board"]),
        {("update", "folder", "HR"): {"publish_to"}},
        lambda e: sorted(entry(e, "folders", "HR")["publish_to"]) == ["Board", "HR"],
        id="folder-publish-group-added",
    ),
    pytest.param(
        _set("folders", "HR/Archive", "publish_to", ["everyone"]),
        {("update", "folder", "HR/Archive"): {"publish_to"}},
        lambda e: entry(e, "folders", "HR/Archive")["publish_to"] == ["everyone"],
        id="folder-inherit-to-own-list",
    ),
    pytest.param(
        _set("folders", "Legal/Restricted", "publish_to", None),
        {("update", "folder", "Legal/Restricted"): {"publish_to"}},
        lambda e: "publish_to" not in entry(e, "folders", "Legal/Restricted"),
        id="folder-own-list-to-inherit",
    ),
    pytest.param(
        _set("folders", "Legal", "publish_to", []),
        {("update", "folder", "Legal"): {"publish_to"}},
        lambda e: entry(e, "folders", "Legal")["publish_to"] == [],
        id="folder-published-to-nobody",
    ),
    pytest.param(
        _append("folders", {"path": "Default", "publish_to": ["Board"]}),
        {("update", "folder", "Default"): {"publish_to"}},
        lambda e: entry(e, "folders", "Default")["publish_to"] == ["Board"],
        id="default-folder-publish",
    ),
    # definitions
    pytest.param(
        _append(
            "definitions",
            {
                "folder": "Templates",
                "description": "Quarterly Report",
                "expire_after": "1y",
                "allow_print": True,
                "banner": "<p>[subject]</p>",
            },
        ),
        {("create", "definition", "Templates/Quarterly Report"): set()},
        lambda e: (
            entry(e, "definitions", "Templates/Quarterly Report")["allow_print"] is True
            and entry(e, "definitions", "Templates/Quarterly Report")["banner"]
            == "<p>[subject]</p>"
        ),
        id="definition-add",
    ),
    pytest.param(
        _append(
            "definitions",
            {"folder": "Default", "description": "Plain Portal", "expire_after": "30d"},
        ),
        {("create", "definition", "Default/Plain Portal"): set()},
        lambda e: (
            entry(e, "definitions", "Default/Plain Portal")["expire_after"] == "30d"
            and find(e, "folders", "Default") is None
        ),
        id="definition-add-in-default-folder",
    ),
    *[
        pytest.param(
            _definition(LEGAL_CC, **{field: value}),
            {("update", "definition", LEGAL_CC): {field}},
            (lambda f, v: lambda e: entry(e, "definitions", LEGAL_CC).get(f) == v)(field, value),
            id=f"definition-{field}",
        )
        for field, value in [
            ("allow_print", False),
            ("allow_reply", False),
            ("allow_reply_all", False),
            ("expire_after", "90d"),
            ("max_extension", "7d"),
            ("read_receipt", True),
            ("banner", "<p>From [sender]</p>"),
        ]
    ],
    pytest.param(
        _definition("Legal/7-Day Expiry, Receipt", banner=None),
        {("update", "definition", "Legal/7-Day Expiry, Receipt"): {"banner"}},
        lambda e: "banner" not in entry(e, "definitions", "Legal/7-Day Expiry, Receipt"),
        id="definition-banner-removed",
    ),
    pytest.param(
        _definition(LEGAL_CC, expire_after="never", max_extension="0d", allow_reply_all=False),
        {("update", "definition", LEGAL_CC): {"expire_after", "max_extension", "allow_reply_all"}},
        lambda e: entry(e, "definitions", LEGAL_CC)["expire_after"] == "never",
        id="definition-several-fields",
    ),
    pytest.param(
        _definition("Templates/Auto-Secure Outbound", description="Auto-Secure Outbound v2"),
        {("create", "definition", "Templates/Auto-Secure Outbound v2"): set()},
        lambda e: (
            find(e, "definitions", "Templates/Auto-Secure Outbound v2")["expire_after"] == "90d"
            and find(e, "definitions", "Templates/Auto-Secure Outbound") is not None
        ),  # kept: no --prune
        id="definition-rename-is-create-and-keep",
    ),
    pytest.param(
        _definition("Legal/7-Day Expiry, Receipt", description="7-day expiry, receipt"),
        {
            ("update", "definition", "Legal/7-day expiry, receipt"): {"description"},
            # the content definition refers to it by path, which the export spells anew
            ("update", "content-definition", "Confidential subject"): {"secure_messaging"},
        },
        lambda e: (
            find(e, "definitions", "Legal/7-day expiry, receipt") is not None
            and entry(e, "content_definitions", "Confidential subject")["secure_messaging"]
            == "Legal/7-day expiry, receipt"
        ),
        id="definition-description-case",
    ),
    # content definitions
    pytest.param(
        _content("Confidential subject", lines=['1 "Confidential"', '2 "Secret"']),
        {("update", "content-definition", "Confidential subject"): {"lines"}},
        lambda e: (
            entry(e, "content_definitions", "Confidential subject")["lines"]
            == ['1 "Confidential"', '2 "Secret"']
        ),
        id="content-lines",
    ),
    pytest.param(
        _content("Privileged body", activation_score=5),
        {("update", "content-definition", "Privileged body"): {"activation_score"}},
        lambda e: entry(e, "content_definitions", "Privileged body")["activation_score"] == 5,
        id="content-score",
    ),
    pytest.param(
        _content("Privileged body", scan=["body", "subject", "attachments"]),
        {("update", "content-definition", "Privileged body"): {"scan"}},
        lambda e: (
            set(entry(e, "content_definitions", "Privileged body")["scan"])
            == {"body", "subject", "attachments"}
        ),
        id="content-scan",
    ),
    pytest.param(
        _content(
            "Privileged body", secure_messaging="Legal/Restricted/Privileged, No Print, 12 Hours"
        ),
        {("update", "content-definition", "Privileged body"): {"secure_messaging"}},
        lambda e: (
            entry(e, "content_definitions", "Privileged body")["secure_messaging"]
            == "Legal/Restricted/Privileged, No Print, 12 Hours"
        ),
        id="content-secure-messaging",
    ),
    pytest.param(
        _content("Confidential subject", secure_messaging=None),
        {("update", "content-definition", "Confidential subject"): {"secure_messaging"}},
        lambda e: "secure_messaging" not in entry(e, "content_definitions", "Confidential subject"),
        id="content-secure-messaging-removed",
    ),
    pytest.param(
        _append(
            "content_definitions",
            {
                "name": "Salary",
                "activation_score": 2,
                "scan": ["body"],
                "lines": ['2 "salary"'],
                "secure_messaging": "HR/Personnel, Silent",
            },
        ),
        {("create", "content-definition", "Salary"): set()},
        lambda e: (
            entry(e, "content_definitions", "Salary")["secure_messaging"] == "HR/Personnel, Silent"
        ),
        id="content-add",
    ),
    # policies
    pytest.param(
        _append("policies", {**NEW_POLICY, "id": 42}),
        {("create", "policy", f"42 (bypass: {NEW_POLICY['narrative']})"): set()},
        lambda e: entry(e, "policies", 42)["narrative"] == NEW_POLICY["narrative"],
        id="policy-add-with-id",
    ),
    pytest.param(
        _append("policies", NEW_POLICY),
        {("create", "policy", f"10 (bypass: {NEW_POLICY['narrative']})"): set()},
        lambda e: entry(e, "policies", 10)["narrative"] == NEW_POLICY["narrative"],
        id="policy-add-without-id",
    ),
    pytest.param(
        _policy(1, to={"type": "group", "value": "Partner Counsel"}),
        {("update", "policy", P(1)): {"to"}},
        lambda e: entry(e, "policies", 1)["to"] == {"type": "group", "value": "Partner Counsel"},
        id="policy-to",
    ),
    pytest.param(
        _policy(6, **{"from": {"type": "attribute", "name": "Department", "value": "Board"}}),
        {("update", "policy", P(6)): {"from"}},
        lambda e: (
            entry(e, "policies", 6)["from"]
            == {"type": "attribute", "name": "Department", "value": "Board"}
        ),
        id="policy-from",
    ),
    pytest.param(
        _policy(4, start="2027-02-01", end="2027-04-30T18:00:00+00:00"),
        {("update", "policy", P(4)): {"start", "end"}},
        lambda e: (
            entry(e, "policies", 4)["start"] == "2027-02-01"
            and entry(e, "policies", 4)["end"] == "2027-04-30T18:00:00+00:00"
        ),
        id="policy-dates",
    ),
    pytest.param(
        _policy(4, start=None, end=None),
        {("update", "policy", P(4)): {"start", "end"}},
        lambda e: "start" not in entry(e, "policies", 4) and "end" not in entry(e, "policies", 4),
        id="policy-dates-removed",
    ),
    pytest.param(
        _policy(1, start="2026-06-01"),
        {("update", "policy", P(1)): {"start"}},
        lambda e: entry(e, "policies", 1)["start"] == "2026-06-01",
        id="policy-start-added",
    ),
    pytest.param(
        _policy(3, source_ips=["198.51.100.0/24"]),
        {("update", "policy", P(3)): {"source_ips"}},
        lambda e: entry(e, "policies", 3)["source_ips"] == ["198.51.100.0/24"],
        id="policy-source-ips",
    ),
    pytest.param(
        _policy(3, source_ips=None),
        {("update", "policy", P(3)): {"source_ips"}},
        lambda e: entry(e, "policies", 3)["source_ips"] == [],
        id="policy-source-ips-removed",
    ),
    pytest.param(
        _policy(2, override=True),
        {("update", "policy", P(2)): {"override"}},
        lambda e: entry(e, "policies", 2)["override"] is True,
        id="policy-override",
    ),
    pytest.param(
        _policy(7, enabled=False),
        {("update", "policy", P(7)): {"enabled"}},
        lambda e: entry(e, "policies", 7)["enabled"] is False,
        id="policy-enabled",
    ),
    pytest.param(
        _policy(9, bidirectional=False),
        {("update", "policy", P(9)): {"bidirectional"}},
        lambda e: entry(e, "policies", 9)["bidirectional"] is False,
        id="policy-bidirectional",
    ),
    pytest.param(
        _policy(3, from_part="header"),
        {("update", "policy", P(3)): {"from_part"}},
        lambda e: entry(e, "policies", 3)["from_part"] == "header",
        id="policy-from-part",
    ),
    pytest.param(
        _policy(1, narrative="Legal to counsel"),
        {("update", "policy", "1 (secure-messaging: Legal to counsel)"): {"narrative"}},
        lambda e: entry(e, "policies", 1)["narrative"] == "Legal to counsel",
        id="policy-narrative",
    ),
    pytest.param(
        _policy(1, definition="Legal/7-Day Expiry, Receipt"),
        {("update", "policy", P(1)): {"definition"}},
        lambda e: entry(e, "policies", 1)["definition"] == "Legal/7-Day Expiry, Receipt",
        id="policy-definition",
    ),
    pytest.param(
        _policy(1, option="no-action", definition=None),
        {("update", "policy", P(1)): {"option", "definition"}},
        lambda e: (
            entry(e, "policies", 1)["option"] == "no-action"
            and "definition" not in entry(e, "policies", 1)
        ),
        id="policy-option",
    ),
    pytest.param(
        _policy(7, content_definition="Privileged body"),
        {("update", "policy", P(7)): {"content_definition"}},
        lambda e: entry(e, "policies", 7)["content_definition"] == "Privileged body",
        id="policy-content-definition",
    ),
    pytest.param(
        _policy(5, kind="bypass", option="disable"),
        {
            (
                "update",
                "policy",
                "5 (bypass: The IT administrator's mail is never secured by policy)",
            ): {"kind", "option"}
        },
        lambda e: (
            entry(e, "policies", 5)["kind"] == "bypass"
            and entry(e, "policies", 5)["option"] == "disable"
        ),
        id="policy-kind-same-id",
    ),
    pytest.param(
        _policy(
            6, kind="content-examination", option=None, content_definition="Confidential subject"
        ),
        {
            (
                "update",
                "policy",
                "6 (content-examination: Board mail to auditors is not secured)",
            ): {"kind", "option", "content_definition"}
        },
        lambda e: entry(e, "policies", 6)["kind"] == "content-examination",
        id="policy-kind-bypass-to-content",
    ),
    # several objects at once, across dependencies
    pytest.param(
        _do(
            _append("groups", {"name": "Tax", "members": ["tax@harborfinch.com"]}),
            _append("folders", {"path": "Tax", "publish_to": ["Tax"]}),
            _append("definitions", {"folder": "Tax", "description": "Returns"}),
            _append(
                "content_definitions",
                {
                    "name": "UTR",
                    "activation_score": 1,
                    "scan": ["body"],
                    "lines": ["1 regex \\b\\d{10}\\b"],
                    "secure_messaging": "Tax/Returns",
                },
            ),
            _append(
                "policies",
                {
                    "id": 11,
                    "kind": "secure-messaging",
                    "narrative": "Tax mail",
                    "option": "apply",
                    "definition": "Tax/Returns",
                    "from": {"type": "group", "value": "Tax"},
                    "to": {"type": "external"},
                },
            ),
            _append(
                "policies",
                {
                    "id": 12,
                    "kind": "content-examination",
                    "narrative": "UTRs",
                    "content_definition": "UTR",
                    "from": {"type": "group", "value": "Tax"},
                    "to": {"type": "external"},
                },
            ),
        ),
        {
            ("create", "group", "Tax"): set(),
            ("create", "folder", "Tax"): set(),
            ("create", "definition", "Tax/Returns"): set(),
            ("create", "content-definition", "UTR"): set(),
            ("create", "policy", "11 (secure-messaging: Tax mail)"): set(),
            ("create", "policy", "12 (content-examination: UTRs)"): set(),
        },
        lambda e: entry(e, "policies", 12)["content_definition"] == "UTR",
        id="dependent-objects-created-in-order",
    ),
    pytest.param(
        _do(
            _definition(LEGAL_CC, description="Client Letters"),
            _policy(1, definition="Legal/Client Letters"),
            _content("Privileged body", secure_messaging="Legal/Client Letters"),
        ),
        {
            ("create", "definition", "Legal/Client Letters"): set(),
            ("update", "policy", P(1)): {"definition"},
            ("update", "content-definition", "Privileged body"): {"secure_messaging"},
        },
        lambda e: entry(e, "policies", 1)["definition"] == "Legal/Client Letters",
        id="definition-rename-with-its-users",
    ),
]


@pytest.mark.parametrize(("mutate", "expected", "check"), CHANGE_CASES)
def test_every_kind_of_change(demo, tmp_path, mutate, expected, check):
    doc = demo_doc()
    mutate(doc)
    path = write(tmp_path, doc)
    p = plan(demo, path)
    assert changes(p) == expected
    assert p["summary"]["delete"] == 0
    assert demo("plan", path, "--detailed-exitcode").exit_code == 5
    ok(demo("apply", path, "--yes"))
    after = exported(demo)
    assert check(after), json.dumps(after, indent=1)[:4000]
    r = demo("plan", path, "--detailed-exitcode")
    assert r.exit_code == 0, r.output  # converged: a second apply would change nothing
    assert "No changes" in r.stdout


@pytest.mark.parametrize(("mutate", "expected", "check"), CHANGE_CASES)
def test_every_kind_of_change_also_applies_from_toml(demo, tmp_path, mutate, expected, check):
    """The same changes written as TOML (the store's own export, edited)."""
    from secmsg_cli.config import dumps

    doc = demo_doc()
    mutate(doc)
    path = tmp_path / "secmsg.toml"
    path.write_text(dumps(doc), encoding="utf-8")
    assert changes(plan(demo, path)) == expected
    ok(demo("apply", path, "--yes"))
    assert check(exported(demo))
    assert demo("plan", path, "--detailed-exitcode").exit_code == 0


def test_default_folder_goes_back_to_everyone_when_the_file_no_longer_mentions_it(demo, tmp_path):
    doc = demo_doc()
    doc["folders"].append({"path": "Default", "publish_to": ["Board"]})
    ok(demo("apply", write(tmp_path, doc, "a.json"), "--yes"))
    assert entry(exported(demo), "folders", "Default")["publish_to"] == ["Board"]
    path = write(tmp_path, demo_doc(), "b.json")
    p = plan(demo, path, "--prune")
    assert changes(p) == {("update", "folder", "Default"): {"publish_to"}}  # updated, never deleted
    assert p["changes"][0]["changes"]["publish_to"] == {"before": ["Board"], "after": ["everyone"]}
    ok(demo("apply", path, "--yes", "--prune"))
    assert (
        find(exported(demo), "folders", "Default") is None
    )  # the built-in as created: not exported
    assert demo("plan", path, "--detailed-exitcode", "--prune").exit_code == 0


def test_removing_a_group_from_the_default_folder_and_deleting_it_with_prune(demo, tmp_path):
    doc = demo_doc()
    doc["groups"].append({"name": "Guests", "members": ["guest@harborfinch.com"]})
    doc["folders"].append({"path": "Default", "publish_to": ["Guests"]})
    ok(demo("apply", write(tmp_path, doc, "a.json"), "--yes"))
    path = write(tmp_path, demo_doc(), "b.json")
    assert changes(plan(demo, path, "--prune")) == {
        ("update", "folder", "Default"): {"publish_to"},
        ("delete", "group", "Guests"): set(),
    }
    ok(demo("apply", path, "--yes", "--prune"))
    assert find(exported(demo), "groups", "Guests") is None


def test_definition_move_to_another_folder_is_create_and_delete(demo, tmp_path):
    doc = demo_doc()
    _definition("Templates/Auto-Secure Outbound", folder="Legal")(doc)
    path = write(tmp_path, doc)
    ids = definition_ids(demo)
    assert changes(plan(demo, path, "--prune")) == {
        ("create", "definition", "Legal/Auto-Secure Outbound"): set(),
        ("delete", "definition", "Templates/Auto-Secure Outbound"): set(),
    }
    ok(demo("apply", path, "--yes", "--prune"))
    after = definition_ids(demo)
    assert "Templates/Auto-Secure Outbound" not in after
    assert after["Legal/Auto-Secure Outbound"] not in ids.values()  # a new object, a new id
    assert (
        entry(exported(demo), "definitions", "Legal/Auto-Secure Outbound")["expire_after"] == "90d"
    )


def test_definition_rename_with_its_users_and_prune_deletes_the_old_one(demo, tmp_path):
    doc = demo_doc()
    _definition(LEGAL_CC, description="Client Letters")(doc)
    _policy(1, definition="Legal/Client Letters")(doc)
    _content("Privileged body", secure_messaging="Legal/Client Letters")(doc)
    path = write(tmp_path, doc)
    p = plan(demo, path, "--prune")
    assert ("delete", "definition", LEGAL_CC) in changes(p)
    ok(demo("apply", path, "--yes", "--prune"))
    e = exported(demo)
    assert find(e, "definitions", LEGAL_CC) is None
    assert entry(e, "policies", 1)["definition"] == "Legal/Client Letters"
    assert demo("plan", path, "--prune", "--detailed-exitcode").exit_code == 0


def test_account_to_lite_with_prune_deletes_the_definitions_first(demo, tmp_path):
    doc = demo_doc()
    doc["account"]["edition"] = "lite"
    del doc["definitions"], doc["content_definitions"]
    doc["policies"] = [
        p
        for p in doc["policies"]
        if p.get("definition", "Default/").startswith("Default/")
        and p["kind"] != "content-examination"
    ]
    path = write(tmp_path, doc)
    ok(demo("apply", path, "--yes", "--prune"))
    e = exported(demo)
    assert e["account"]["edition"] == "lite"
    assert "definitions" not in e and sorted(policy_ids(demo)) == [2, 5, 6]
    assert demo("plan", path, "--prune", "--detailed-exitcode").exit_code == 0
    # and back to full, with definitions again: the edition changes before they are created
    ok(demo("apply", DEMO, "--yes", "--prune"))
    assert exported(demo)["account"]["edition"] == "full"
    assert demo("plan", DEMO, "--prune", "--detailed-exitcode").exit_code == 0


# --- names that differ only in case are the same object --------------------------------


def test_group_name_case_change_converges(demo, tmp_path):
    doc = demo_doc()
    entry(doc, "groups", "Board")["name"] = "board"
    for f in doc["folders"]:
        f["publish_to"] = (
            ["board" if t == "Board" else t for t in f.get("publish_to", [])]
            if "publish_to" in f
            else None
        )
        if f["publish_to"] is None:
            del f["publish_to"]
    entry(doc, "policies", 6)["from"]["value"] = "board"
    path = write(tmp_path, doc)
    ids = policy_ids(demo)
    p = plan(demo, path)
    assert ("update", "group", "board") in changes(p)
    assert p["summary"]["create"] == p["summary"]["delete"] == 0
    ok(demo("apply", path, "--yes"))
    e = exported(demo)
    assert [g["name"] for g in e["groups"] if g["name"].lower() == "board"] == ["board"]
    assert entry(e, "policies", 6)["from"] == {"type": "group", "value": "board"}
    assert policy_ids(demo) == ids
    r = demo("plan", path, "--detailed-exitcode")
    assert r.exit_code == 0, r.output


def test_folder_path_case_change_converges(demo, tmp_path):
    doc = demo_doc()
    entry(doc, "folders", "HR")["path"] = "hr"
    entry(doc, "folders", "HR/Archive")["path"] = "hr/archive"
    for d in doc["definitions"]:
        d["folder"] = {"HR": "hr", "HR/Archive": "hr/archive"}.get(d["folder"], d["folder"])
    path = write(tmp_path, doc)
    ids = definition_ids(demo)
    assert changes(plan(demo, path)) == {
        ("update", "folder", "hr"): {"path"},
        ("update", "folder", "hr/archive"): {"path"},
        ("update", "definition", "hr/Personnel, Silent"): {"folder"},
        ("update", "definition", "hr/archive/Retained, Never Expires"): {"folder"},
    }
    ok(demo("apply", path, "--yes"))
    after = definition_ids(demo)
    assert after["hr/archive/Retained, Never Expires"] == ids["HR/Archive/Retained, Never Expires"]
    assert after["hr/Personnel, Silent"] == ids["HR/Personnel, Silent"]
    r = demo("plan", path, "--detailed-exitcode")
    assert r.exit_code == 0, r.output


def test_attribute_name_case_change_loses_no_attribute(demo, tmp_path):
    """Attribute names ignore case and keep the spelling already in use: a file
    that spells one differently changes nothing, and above all deletes nothing."""
    doc = demo_doc()
    for a in doc["attributes"]:
        a["values"] = {
            ("department" if k == "Department" else k): v for k, v in a["values"].items()
        }
    entry(doc, "attributes", ALICE)["values"]["department"] = "Litigation"
    path = write(tmp_path, doc)
    before = {
        a["address"]: {k.lower(): v for k, v in a["values"].items()}
        for a in exported(demo)["attributes"]
    }
    ok(demo("apply", path, "--yes"))
    after = {
        a["address"]: {k.lower(): v for k, v in a["values"].items()}
        for a in exported(demo)["attributes"]
    }
    before[ALICE]["department"] = "Litigation"
    assert after == before
    r = demo("plan", path, "--detailed-exitcode")
    assert r.exit_code == 0, r.output


# --- without --prune nothing is deleted; with --prune, in dependency order ---------------


DELETE_CASES = [
    pytest.param(
        lambda d: drop(d, "domains", "notify.harborfinch.com"),
        [("domain", "notify.harborfinch.com")],
        id="domain",
    ),
    pytest.param(
        lambda d: drop(d, "groups", "Partner Counsel"), [("group", "Partner Counsel")], id="group"
    ),
    pytest.param(
        lambda d: drop(d, "attributes", "zoe.angstrom@harborfinch.co.uk"),
        [("attribute", "zoe.angstrom@harborfinch.co.uk")],
        id="attribute-address",
    ),
    pytest.param(
        lambda d: (
            drop(d, "folders", "HR/Archive"),
            drop(d, "definitions", "HR/Archive/Retained, Never Expires"),
        ),
        [("folder", "HR/Archive"), ("definition", "HR/Archive/Retained, Never Expires")],
        id="nested-folder",
    ),
    pytest.param(
        lambda d: drop(d, "definitions", "Templates/Auto-Secure Outbound"),
        [("definition", "Templates/Auto-Secure Outbound")],
        id="definition",
    ),
    pytest.param(
        lambda d: (drop(d, "content_definitions", "Privileged body"), drop(d, "policies", 9)),
        [("content-definition", "Privileged body"), ("policy", P(9))],
        id="content-definition",
    ),
    pytest.param(lambda d: drop(d, "policies", 5), [("policy", P(5))], id="policy-sm"),
    pytest.param(lambda d: drop(d, "policies", 6), [("policy", P(6))], id="policy-bypass"),
    pytest.param(lambda d: drop(d, "policies", 8), [("policy", P(8))], id="policy-content"),
    pytest.param(
        lambda d: [
            d.pop(s)
            for s in (
                "domains",
                "groups",
                "attributes",
                "folders",
                "definitions",
                "content_definitions",
                "policies",
            )
        ],
        [(k, None) for k in EXPECTED_CREATES],
        id="everything",
    ),
]


def _matches(items, expected):
    got = sorted((i["kind"], i["object"]) for i in items)
    if all(o is None for _, o in expected):  # only the kinds are given: compare counts per kind
        counts: dict[str, int] = {}
        for k, _ in got:
            counts[k] = counts.get(k, 0) + 1
        return counts == EXPECTED_CREATES
    return got == sorted(expected)


@pytest.mark.parametrize(("mutate", "objects"), DELETE_CASES)
def test_without_prune_nothing_is_deleted(demo, tmp_path, mutate, objects):
    doc = demo_doc()
    mutate(doc)
    path = write(tmp_path, doc)
    p = plan(demo, path)
    assert p["changes"] == [] and p["summary"] == {"create": 0, "update": 0, "delete": 0}
    assert _matches(p["kept"], objects), p["kept"]
    r = ok(demo("plan", path))
    assert "No changes" in r.stdout
    n = len(p["kept"])
    assert (
        r.stderr
        == f"{n} object(s) in the store but not in {path} are kept (use --prune to delete them).\n"
    )
    assert ok(demo("-q", "plan", path)).stderr == ""
    before = state(demo)
    r = ok(demo("apply", path, "--yes"))
    assert "are kept" in r.stderr
    assert state(demo) == before  # nothing to do: nothing written, not even an audit entry


@pytest.mark.parametrize(("mutate", "objects"), DELETE_CASES)
def test_with_prune_missing_objects_are_deleted(demo, tmp_path, mutate, objects):
    doc = demo_doc()
    mutate(doc)
    path = write(tmp_path, doc)
    p = plan(demo, path, "--prune")
    assert p["kept"] == []
    assert all(c["action"] == "delete" for c in p["changes"]), p["changes"]
    assert _matches(p["changes"], objects), p["changes"]
    assert p["summary"] == {"create": 0, "update": 0, "delete": len(p["changes"])}
    r = ok(demo("plan", path, "--prune"))
    assert any(line.startswith("- delete ") for line in r.stdout.splitlines())
    ok(demo("apply", path, "--yes", "--prune"))
    e = exported(demo)
    section_of = {
        v: k
        for k, v in {
            "domains": "domain",
            "groups": "group",
            "attributes": "attribute",
            "folders": "folder",
            "definitions": "definition",
            "content_definitions": "content-definition",
            "policies": "policy",
        }.items()
    }
    for c in p["changes"]:
        section = section_of[c["kind"]]
        names = {str(KEYS[section](x)) for x in e.get(section, [])}
        label = c["object"].split(" ", 1)[0] if c["kind"] == "policy" else c["object"]
        assert label not in names, c
    assert demo("plan", path, "--prune", "--detailed-exitcode").exit_code == 0


def test_prune_deletes_in_dependency_order(demo, tmp_path):
    doc = demo_doc()
    drop(doc, "policies", 4, 9)
    drop(doc, "content_definitions", "Privileged body")
    drop(
        doc,
        "definitions",
        "Finance/Audit Evidence, 1 Year",
        "HR/Personnel, Silent",
        "HR/Archive/Retained, Never Expires",
    )
    drop(doc, "folders", "HR", "HR/Archive")
    drop(doc, "groups", "HR", "Auditors")
    path = write(tmp_path, doc)
    n = len(audit(demo))
    r = demo("apply", path, "--yes", "--prune")
    assert r.exit_code == 0, r.output
    deleted = [(e["kind"], e["object"]) for e in audit(demo)[n:] if e["action"] == "delete"]
    assert len(deleted) == 10
    rank = {
        "secure-messaging": 0,
        "content-examination": 0,
        "content-definition": 1,
        "definition": 2,
        "folder": 3,
        "group": 4,
    }
    assert [rank[k] for k, _ in deleted] == sorted(rank[k] for k, _ in deleted), deleted
    assert deleted.index(("folder", "HR/Archive")) < deleted.index(
        ("folder", "HR")
    )  # children first
    e = exported(demo)
    assert find(e, "groups", "HR") is None and find(e, "folders", "HR") is None
    assert demo("plan", path, "--prune", "--detailed-exitcode").exit_code == 0


def test_prune_deletes_a_group_used_only_by_a_folder_that_is_also_pruned(demo, tmp_path):
    doc = demo_doc()
    drop(doc, "folders", "HR", "HR/Archive")
    drop(doc, "definitions", "HR/Personnel, Silent", "HR/Archive/Retained, Never Expires")
    drop(doc, "groups", "HR")
    path = write(tmp_path, doc)
    ok(demo("apply", path, "--yes", "--prune"))
    assert find(exported(demo), "groups", "HR") is None


def test_prune_keeps_nothing_that_the_file_has_and_changes_the_rest(demo, tmp_path):
    doc = demo_doc()
    drop(doc, "groups", "Partner Counsel")
    entry(doc, "groups", "HR")["members"].append("payroll@harborfinch.com")
    doc["domains"].append({"name": "harborfinch.net", "type": "remote"})
    path = write(tmp_path, doc)
    assert changes(plan(demo, path, "--prune")) == {
        ("create", "domain", "harborfinch.net"): set(),
        ("update", "group", "HR"): {"members"},
        ("delete", "group", "Partner Counsel"): set(),
    }
    r = ok(demo("plan", path, "--prune"))
    assert r.stdout.splitlines()[-1] == "Plan: 1 to create, 1 to update, 1 to delete."
    assert r.stderr == ""


# --- unchanged objects keep their ids ------------------------------------------------------


def test_unchanged_and_updated_objects_keep_their_ids(demo, tmp_path):
    pol, defs = policy_ids(demo), definition_ids(demo)
    doc = demo_doc()
    for p in doc["policies"]:
        del p["id"]  # matched by kind and narrative
    doc["policies"] = [
        p for p in doc["policies"] if p["narrative"] != pol[2][1]
    ]  # policy 2 is kept (no --prune)
    next(p for p in doc["policies"] if p["narrative"] == pol[3][1])["source_ips"] = ["192.0.2.0/24"]
    doc["policies"].insert(
        0, copy.deepcopy(NEW_POLICY)
    )  # first in the file, still numbered after the others
    _definition(LEGAL_CC, expire_after="60d")(doc)
    _definition("Templates/Auto-Secure Outbound", description="Auto-Secure Outbound v2")(doc)
    path = write(tmp_path, doc)
    p = plan(demo, path)
    assert changes(p) == {
        ("update", "definition", LEGAL_CC): {"expire_after"},
        ("create", "definition", "Templates/Auto-Secure Outbound v2"): set(),
        ("update", "policy", P(3)): {"source_ips"},
        ("create", "policy", f"10 (bypass: {NEW_POLICY['narrative']})"): set(),
    }
    ok(demo("apply", path, "--yes"))
    after_pol, after_defs = policy_ids(demo), definition_ids(demo)
    assert {k: v for k, v in after_pol.items() if k != 10} == pol
    assert after_pol[10] == ("bypass", NEW_POLICY["narrative"])
    assert {k: v for k, v in after_defs.items() if k != "Templates/Auto-Secure Outbound v2"} == defs
    assert after_defs["Templates/Auto-Secure Outbound v2"] not in defs.values()
    assert demo("plan", path, "--detailed-exitcode").exit_code == 0


def test_apply_with_prune_keeps_the_ids_of_what_remains(demo, tmp_path):
    pol, defs = policy_ids(demo), definition_ids(demo)
    doc = demo_doc()
    drop(doc, "policies", 1, 4)
    drop(doc, "definitions", "Finance/Audit Evidence, 1 Year")
    _content("Privileged body", secure_messaging="Legal/7-Day Expiry, Receipt")(doc)
    drop(doc, "definitions", LEGAL_CC)
    ok(demo("apply", write(tmp_path, doc), "--yes", "--prune"))
    assert policy_ids(demo) == {k: v for k, v in pol.items() if k not in (1, 4)}
    assert definition_ids(demo) == {
        k: v for k, v in defs.items() if k not in ("Finance/Audit Evidence, 1 Year", LEGAL_CC)
    }


@pytest.mark.parametrize(
    ("store_policies", "file_policy", "expected_id", "kept"),
    [
        pytest.param(
            [("bypass", "Alpha"), ("bypass", "Beta")],
            ("bypass", "Beta"),
            2,
            1,
            id="one-match-keeps-its-id",
        ),
        pytest.param(
            [("bypass", "Alpha"), ("bypass", "Alpha")],
            ("bypass", "Alpha"),
            3,
            2,
            id="two-matches-new-id",
        ),
        pytest.param(
            [("secure-messaging", "Alpha")], ("bypass", "Alpha"), 2, 1, id="other-kind-new-id"
        ),
        pytest.param([("bypass", "Alpha")], ("bypass", "Gamma"), 2, 1, id="no-match-new-id"),
    ],
)
def test_a_policy_without_id_is_matched_by_kind_and_narrative(
    cli, tmp_path, store_policies, file_policy, expected_id, kept
):
    def policy(kind, narrative, **extra):
        p = {
            "kind": kind,
            "narrative": narrative,
            "from": {"type": "internal"},
            "to": {"type": "everyone"},
            **extra,
        }
        p["option"] = "disable" if kind == "bypass" else "no-action"
        return p

    ok(
        cli(
            "import",
            write(
                tmp_path,
                {"policies": [policy(k, n, id=i) for i, (k, n) in enumerate(store_policies, 1)]},
                "store.json",
            ),
        )
    )
    path = write(tmp_path, {"policies": [policy(*file_policy, enabled=False)]})
    p = plan(cli, path)
    assert len(p["kept"]) == kept
    label = f"{expected_id} ({file_policy[0]}: {file_policy[1]})"
    action = "update" if expected_id <= len(store_policies) else "create"
    assert changes(p) == {(action, "policy", label): {"enabled"} if action == "update" else set()}
    ok(cli("apply", path, "--yes"))
    assert policy_ids(cli)[expected_id] == file_policy
    assert cli("plan", path, "--detailed-exitcode").exit_code == 0


def test_a_file_id_wins_over_a_narrative_match(demo, tmp_path):
    doc = demo_doc()
    for p in doc["policies"]:
        if p["id"] != 1:
            del p["id"]
    # a new policy that claims id 2, and the old policy 2 (no id in the file) matched by narrative
    doc["policies"].append({**NEW_POLICY, "id": 2})
    path = write(tmp_path, doc)
    p = plan(demo, path)
    got = changes(p)
    assert ("update", "policy", f"2 (bypass: {NEW_POLICY['narrative']})") in got
    assert ("create", "policy", f"10 ({P(2).split(' (', 1)[1]}") in got
    ok(demo("apply", path, "--yes"))
    ids = policy_ids(demo)
    assert ids[2] == ("bypass", NEW_POLICY["narrative"])
    assert ids[10][1] == entry(demo_doc(), "policies", 2)["narrative"]
    assert demo("plan", path, "--detailed-exitcode").exit_code == 0


def test_a_new_policy_never_reuses_a_deleted_policy_id(demo, tmp_path):
    ok(demo("content-policy", "delete", "9"))
    doc = demo_doc()
    drop(doc, "policies", 9)
    doc["policies"].append(copy.deepcopy(NEW_POLICY))
    path = write(tmp_path, doc)
    assert changes(plan(demo, path)) == {
        ("create", "policy", f"10 (bypass: {NEW_POLICY['narrative']})"): set()
    }
    ok(demo("apply", path, "--yes"))
    assert policy_ids(demo)[10] == ("bypass", NEW_POLICY["narrative"])
    assert 9 not in policy_ids(demo)


# --- atomicity ---------------------------------------------------------------------------


def _many_changes(doc):
    doc["account"]["name"] = "Changed"
    doc["domains"].append({"name": "harborfinch.net", "type": "remote"})
    entry(doc, "groups", "HR")["members"].append("payroll@harborfinch.com")
    _definition(LEGAL_CC, expire_after="60d")(doc)
    _policy(3, enabled=False)(doc)


BAD_LAST = [
    pytest.param(
        lambda d: d["policies"][-1].update(source_ips=["10.0.0.300/8"]),
        "policies[8]",
        id="bad-cidr",
    ),
    pytest.param(
        lambda d: d["policies"][-1].update(content_definition="Nope"),
        "Nope",
        id="dangling-reference",
    ),
    pytest.param(
        lambda d: d["policies"][-1].update(start="2027-13-45"), "policies[8]", id="bad-date"
    ),
    pytest.param(lambda d: d["policies"][-1].update(colour="red"), "colour", id="unknown-field"),
    pytest.param(
        lambda d: d["policies"].append({**NEW_POLICY, "id": 1}), "used twice", id="duplicate-id"
    ),
]


@pytest.mark.parametrize(("spoil", "fragment"), BAD_LAST)
@pytest.mark.parametrize("prune", [False, True], ids=["keep", "prune"])
def test_a_bad_last_object_changes_nothing(demo, tmp_path, spoil, fragment, prune):
    doc = demo_doc()
    _many_changes(doc)
    drop(doc, "groups", "Partner Counsel")
    spoil(doc)
    path = write(tmp_path, doc)
    before = state(demo)
    flags = ("--prune",) if prune else ()
    for command in (("plan", path, *flags), ("apply", path, "--yes", *flags)):
        r = demo(*command)
        assert r.exit_code == 3, r.output
        assert r.stdout == ""
        *problem, last = r.stderr.splitlines()  # the problem's own line, then the count
        assert last.startswith("error: ") and len(problem) == 1, r.stderr
        assert fragment in r.stderr and str(path) in r.stderr
        assert "Traceback" not in r.stderr
    assert state(demo) == before


def test_a_file_that_validates_but_cannot_be_applied_changes_nothing(demo, tmp_path):
    """Real case: switching to the lite edition while custom definitions are
    kept (no --prune) is refused by the store after other writes were made."""
    doc = demo_doc()
    _many_changes(doc)
    doc["account"]["edition"] = "lite"
    del doc["definitions"], doc["content_definitions"]
    doc["policies"] = [
        p
        for p in doc["policies"]
        if p.get("definition", "Default/").startswith("Default/")
        and p["kind"] != "content-examination"
    ]
    doc["policies"].append({**NEW_POLICY, "id": 30})
    path = write(tmp_path, doc)
    p = plan(demo, path)
    assert p["summary"]["create"] >= 2  # a domain and a policy would be written before the refusal
    before = state(demo)
    r = demo("apply", path, "--yes")
    assert r.exit_code == 3, r.output
    err = r.stderr.splitlines()[-1]
    assert err.startswith(f"error: cannot apply {path}: ") and err.endswith("; nothing was changed")
    assert "lite" in err
    assert "Traceback" not in r.stderr
    assert state(demo) == before


def test_a_failure_half_way_through_apply_rolls_everything_back(demo, tmp_path, monkeypatch):
    from secmsg_cli.errors import Refused
    from secmsg_cli.store.store import Store

    doc = demo_doc()
    _many_changes(doc)
    drop(doc, "definitions", "Templates/Auto-Secure Outbound", "HR/Personnel, Silent")
    path = write(tmp_path, doc)
    calls = []
    real = Store.delete_definition

    def flaky(self, ref):
        calls.append(ref)
        if len(calls) == 2:
            raise Refused(f"definition {ref!r} is locked")
        return real(self, ref)

    monkeypatch.setattr(Store, "delete_definition", flaky)
    before = state(demo)
    r = demo("apply", path, "--yes", "--prune")
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines()[-1].endswith("is locked; nothing was changed")
    assert len(calls) == 2  # the first deletion was made, then undone
    monkeypatch.setattr(Store, "delete_definition", real)
    assert state(demo) == before


# --- confirmation -------------------------------------------------------------------------


@pytest.fixture
def tty(monkeypatch):
    """Make the CliRunner's standard input look like a terminal."""
    import typer.testing

    monkeypatch.setattr(
        typer.testing._NamedTextIOWrapper, "isatty", lambda self: True, raising=False
    )


def _one_change(tmp_path):
    doc = demo_doc()
    doc["domains"].append({"name": "harborfinch.net", "type": "remote"})
    return write(tmp_path, doc)


def test_no_prompt_when_stdin_is_not_a_terminal(demo, tmp_path):
    r = ok(demo("apply", _one_change(tmp_path)))
    assert "Apply these changes?" not in r.stdout + r.stderr
    assert find(exported(demo), "domains", "harborfinch.net") is not None


def test_yes_skips_the_prompt_on_a_terminal(demo, tmp_path, tty):
    r = ok(demo("apply", _one_change(tmp_path), "--yes"))
    assert "Apply these changes?" not in r.stdout + r.stderr
    assert find(exported(demo), "domains", "harborfinch.net") is not None


def test_a_terminal_is_asked_and_yes_applies(demo, tmp_path, tty):
    r = ok(demo("apply", _one_change(tmp_path), input="y\n"))
    assert "Apply these changes?" in r.stdout + r.stderr
    assert find(exported(demo), "domains", "harborfinch.net") is not None


@pytest.mark.parametrize("answer", ["n\n", "\n"], ids=["no", "default-is-no"])
def test_a_terminal_is_asked_and_no_changes_nothing(demo, tmp_path, tty, answer):
    before = state(demo)
    r = demo("apply", _one_change(tmp_path), input=answer)
    assert r.exit_code == 1, r.output
    assert "Apply these changes?" in r.stdout + r.stderr
    assert state(demo) == before


def _one_deletion(tmp_path):
    """The demo without one remote domain: --prune deletes it."""
    doc = demo_doc()
    doc["domains"] = [d for d in doc["domains"] if d["name"] != "harborfinch.co.uk"]
    return write(tmp_path, doc)


def test_a_store_changed_while_the_plan_was_confirmed_is_not_applied(
    demo, tmp_path, tty, monkeypatch, _isolated_store
):
    """What apply does is the plan it showed and was confirmed: another
    administrator changing the store meanwhile (here: adding a domain while
    this apply --prune was to leave exactly the file's) made it do something
    else, and say it was applied: the new domain stayed, the store was not
    the file. The plan is made again in apply's write transaction: when it
    differs, nothing is changed and apply says to run it again."""
    import typer

    from secmsg_cli.store.store import Store

    path = _one_deletion(tmp_path)

    def another_admin_adds_a_domain_meanwhile(*args, **kwargs):
        with Store(_isolated_store) as other:
            other.add_domain("late.example")
        return True

    monkeypatch.setattr(typer, "confirm", another_admin_adds_a_domain_meanwhile)
    r = demo("apply", path, "--prune")
    assert r.exit_code == 3, r.output
    err = r.stderr.splitlines()[-1]
    assert err.startswith(f"error: cannot apply {path}: the store changed since the plan")
    assert err.endswith("; nothing was changed")
    domains = exported(demo)
    assert find(domains, "domains", "harborfinch.co.uk") is not None  # not deleted
    assert find(domains, "domains", "late.example") is not None
    assert [e for e in audit(demo) if e["action"] == "apply"] == []
    monkeypatch.undo()
    ok(demo("apply", path, "--prune", "--yes"))  # run again: the new plan deletes both
    domains = exported(demo)
    assert find(domains, "domains", "harborfinch.co.uk") is None
    assert find(domains, "domains", "late.example") is None


def _secmsg(*args, stdin=subprocess.DEVNULL):
    """A real process (standard input not a terminal: /dev/null by default)."""
    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", *map(str, args)],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_prune_off_a_terminal_without_yes_is_refused_and_changes_nothing(demo, tmp_path):
    """A cron job or CI step that forgets --yes must not prune silently."""
    path = _one_deletion(tmp_path)
    assert plan(demo, path, "--prune")["summary"]["delete"] == 1
    before = state(demo)
    run = _secmsg("apply", path, "--prune")
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "would delete 1 object(s)" in run.stderr and "pass --yes" in run.stderr
    assert "nothing was changed" in run.stderr
    assert "- delete domain" in run.stdout  # the plan shows what was refused
    assert "Apply these changes?" not in run.stdout + run.stderr
    assert state(demo) == before
    # -o json: nothing half-printed either
    run = _secmsg("apply", path, "--prune", "-o", "json")
    assert (run.returncode, run.stdout) == (1, ""), run.stderr
    assert state(demo) == before
    run = _secmsg("apply", path, "--prune", "--yes")
    assert run.returncode == 0, run.stderr
    assert plan(demo, path, "--prune")["summary"]["delete"] == 0


def test_prune_off_a_terminal_is_refused_even_with_nothing_to_delete(demo, tmp_path):
    """--prune can delete: a script that uses it needs --yes from the first run,
    not from the day something is missing from the file."""
    before = state(demo)
    r = demo("apply", _one_change(tmp_path), "--prune")
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: apply --prune can delete objects") and "--yes" in r.stderr
    assert r.stderr.count("\n") == 1
    assert state(demo) == before


def test_prune_on_a_terminal_is_asked(demo, tmp_path, tty):
    before = state(demo)
    r = demo("apply", _one_deletion(tmp_path), "--prune", input="n\n")
    assert r.exit_code == 1 and "Apply these changes?" in r.stdout + r.stderr
    assert state(demo) == before
    r = ok(demo("apply", _one_deletion(tmp_path), "--prune", input="y\n"))
    assert state(demo) != before


def test_no_prompt_on_a_terminal_when_there_is_nothing_to_do(demo, tmp_path, tty):
    r = ok(demo("apply", DEMO))
    assert "Apply these changes?" not in r.stdout + r.stderr
    assert "No changes" in r.stdout


# --- invalid FILE ---------------------------------------------------------------------------


BAD_FILES = [
    pytest.param("missing", None, "cannot read", id="missing"),
    pytest.param("dir", None, "is a directory", id="directory"),
    pytest.param(
        "bad.toml", b"[account\nname = 1\n", "table header needs a closing", id="bad-toml"
    ),
    pytest.param("bad.json", b'{"account": {', "invalid JSON", id="bad-json"),
    pytest.param(
        "latin1.toml",
        '[account]\nname = "Caf\u00e9"\n'.encode("latin-1"),
        "not UTF-8",
        id="not-utf8",
    ),
    pytest.param(
        "unknown.toml",
        b'[[domains]]\nname = "x.example"\nkind = "local"\n',
        "unknown field 'kind'",
        id="unknown-field",
    ),
    pytest.param(
        "section.toml", b'[[widgets]]\nname = "x"\n', "unknown section", id="unknown-section"
    ),
    pytest.param(
        "ref.toml",
        b'[[folders]]\npath = "A"\npublish_to = ["Ghosts"]\n',
        "unknown group 'Ghosts'",
        id="dangling-group",
    ),
    pytest.param("array.json", b"[1, 2]", "expected a JSON object", id="json-array"),
]


@pytest.mark.parametrize(("name", "content", "fragment"), BAD_FILES)
@pytest.mark.parametrize(
    "command",
    [("plan",), ("plan", "--detailed-exitcode"), ("apply", "--yes"), ("apply", "--yes", "--prune")],
    ids="-".join,
)
def test_invalid_file_is_one_line_and_exit_3(demo, tmp_path, name, content, fragment, command):
    path = tmp_path / name
    if name == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    before = state(demo)
    r = demo(command[0], path, *command[1:])
    assert r.exit_code == 3, r.output
    assert r.stdout == ""
    *problem, last = r.stderr.splitlines()  # a problem in the file has its own line first
    assert last.startswith("error: ") and len(problem) <= 1, r.stderr
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    assert state(demo) == before


# --- --test CASES: the cases run against FILE before anything is planned or changed ------

M01 = DEMO.parent / "messages" / "01-confidential-subject-to-counsel.eml"


def _counsel_case(tmp_path):
    """Passes against the demo: content policy 7 sends message 01 to the portal."""
    path = tmp_path / "cases.toml"
    path.write_text(
        "[defaults]\nat = 2026-11-27T10:00:00Z\n\n"
        f"[[case]]\nname = \"counsel\"\nmessage = '{M01}'\n\n"
        '[[case.expect]]\nrecipient = "m.okonkwo@lexpartners.com"\nroute = "portal"\npolicy = 7\n',
        encoding="utf-8",
    )
    return path


def _without_content_policies(tmp_path):
    doc = demo_doc()
    doc["policies"] = [p for p in doc["policies"] if p["kind"] != "content-examination"]
    return write(tmp_path, doc, "loose.json")


@pytest.mark.parametrize("command", ["apply", "plan"])
def test_test_cases_failing_against_file_change_nothing_and_exit_4(demo, tmp_path, command):
    cases = _counsel_case(tmp_path)
    assert ok(demo("test", cases)).stdout.endswith("1 passed, 0 failed\n")  # the store passes
    before = state(demo)
    flags = ("--yes", "--prune") if command == "apply" else ()
    r = demo(command, _without_content_policies(tmp_path), "--test", cases, *flags)
    assert r.exit_code == 4, r.output
    assert r.stdout == ""  # no plan: the cases decide first
    assert "FAIL  counsel" in r.stderr and "policy: expected 7 " in r.stderr
    last = r.stderr.splitlines()[-1]
    assert last.startswith("error: 1 of 1 case(s) in ") and last.endswith("nothing was changed")
    assert "Traceback" not in r.stderr
    assert state(demo) == before


def test_apply_test_runs_against_file_not_the_store(cli, tmp_path):
    cases = _counsel_case(tmp_path)
    assert cli("test", cases).exit_code == 4  # the empty store sends it to the inbox
    r = ok(cli("apply", DEMO, "--test", cases))
    assert f"1 case(s) in {cases} passed against {DEMO}." in r.stderr
    assert "Applied" in r.stdout
    assert ok(cli("test", cases)).exit_code == 0
    assert "passed against" not in ok(cli("-q", "plan", DEMO, "--test", cases)).stderr


def test_plan_test_passing_shows_the_plan(demo, tmp_path):
    loose = _without_content_policies(tmp_path)
    r = demo("plan", loose, "--test", tmp_path / "none.toml")
    assert r.exit_code == 3 and "cannot read cases file" in r.stderr, r.output
    cases = tmp_path / "other.toml"  # without content policies, policy 1 decides
    cases.write_text(
        _counsel_case(tmp_path).read_text(encoding="utf-8").replace("policy = 7", "policy = 1"),
        encoding="utf-8",
    )
    r = demo("plan", loose, "--test", cases, "-o", "json")
    assert r.exit_code == 0, r.output
    assert r.json["summary"]["update"] == 0 and "passed against" in r.stderr
    assert r.json["kept"]  # the content policies: in the store, not in the file


def test_an_invalid_cases_file_for_apply_exits_3_and_changes_nothing(demo, tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text("[[case]]\nname = 'x'\ncolour = 'red'\n", encoding="utf-8")
    before = state(demo)
    r = demo("apply", _without_content_policies(tmp_path), "--test", cases, "--yes")
    assert r.exit_code == 3, r.output
    assert state(demo) == before
