"""The directory's users (``secmsg user add``) in configuration as code:
``[[users]]`` in export (TOML and JSON), import, plan, apply and ``--prune``,
its diagnostics, and the rule that keeps every exported store importable (a
user is at one of the account's domains)."""

from __future__ import annotations

import json

from tests.helpers import assert_error, ok

ALICE, ZOE, BEN = (
    "alice.morgan@harborfinch.com",
    "zoe.angstrom@harborfinch.co.uk",
    "ben.okafor@harborfinch.com",
)


def users(cli, *db) -> list[str]:
    return [u["address"] for u in ok(cli(*db, "user", "list", "-o", "json")).json]


def test_users_round_trip_byte_identical_in_toml_and_json(demo, tmp_path):
    ok(demo("user", "add", ZOE, ALICE))
    toml_text = ok(demo("export")).stdout
    assert f'\n[[users]]\naddress = "{ALICE}"\n\n[[users]]\naddress = "{ZOE}"\n' in toml_text
    json_text = ok(demo("export", "--format", "json")).stdout
    assert json.loads(json_text)["users"] == [{"address": ALICE}, {"address": ZOE}]
    for name, text, fmt in (("c.toml", toml_text, "toml"), ("c.json", json_text, "json")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        other = tmp_path / f"{fmt}.db"
        r = ok(demo("--db", other, "import", path))
        assert "2 users" in r.stdout
        assert users(demo, "--db", other) == [ALICE, ZOE]
        assert ok(demo("--db", other, "export", "--format", fmt)).stdout == text


def test_a_store_without_users_exports_no_users_section(demo):
    assert "[[users]]" not in ok(demo("export")).stdout


def test_a_domain_with_users_cannot_be_removed(cli):
    """Else the store would hold a user that an import of its export refuses."""
    ok(cli("domain", "add", "example.com"))
    ok(cli("user", "add", "a@example.com"))
    assert_error(cli("domain", "remove", "example.com"), 1, "a@example.com", "user remove")
    assert "example.com" in ok(cli("domain", "list")).stdout
    ok(cli("user", "remove", "a@example.com"))
    ok(cli("domain", "remove", "example.com"))


def test_plan_and_apply_create_users_keep_the_others_and_prune_them(demo, tmp_path):
    ok(demo("user", "add", ALICE, ZOE))
    doc = json.loads(ok(demo("export", "--format", "json")).stdout)
    doc["users"] = [{"address": ALICE}, {"address": BEN}]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    table = ok(demo("plan", path))
    assert table.stdout == (f"+ create user {BEN}\nPlan: 1 to create, 0 to update, 0 to delete.\n")
    assert "1 object(s) in the store but not in" in table.stderr
    planned = ok(demo("plan", path, "--prune", "-o", "json")).json
    assert [(c["action"], c["kind"], c["object"]) for c in planned["changes"]] == [
        ("create", "user", BEN),
        ("delete", "user", ZOE),
    ]
    ok(demo("apply", path, "--yes"))
    assert users(demo) == [ALICE, BEN, ZOE]  # kept without --prune
    ok(demo("apply", path, "--prune", "--yes"))
    assert users(demo) == [ALICE, BEN]
    again = ok(demo("plan", path, "--prune", "--detailed-exitcode"))
    assert "No changes" in again.stdout
    actions = ok(demo("audit", "--kind", "user", "-o", "json")).json
    assert [(e["action"], e["object"]) for e in reversed(actions)] == [
        ("create", ALICE),
        ("create", ZOE),
        ("create", BEN),
        ("delete", ZOE),
    ]


def test_prune_removes_a_domain_after_its_users(demo, tmp_path):
    ok(demo("user", "add", ZOE))
    doc = json.loads(ok(demo("export", "--format", "json")).stdout)
    doc["domains"] = [d for d in doc["domains"] if d["name"] != "harborfinch.co.uk"]
    del doc["users"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    ok(demo("apply", path, "--prune", "--yes"))
    assert users(demo) == []
    assert "harborfinch.co.uk" not in ok(demo("domain", "list")).stdout


def test_bad_users_are_one_line_each_with_line_and_column(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[domains]]\nname = "example.com"\n\n'
        '[[users]]\naddress = "a@example.com"\n\n'
        '[[users]]\naddress = "A@Example.com"\n\n'
        '[[users]]\naddress = "not an address"\n\n'
        '[[users]]\naddress = "b@other.example"\n\n'
        '[[users]]\nname = "c@example.com"\n\n'
        "[[users]]\naddress = 7\n",
        encoding="utf-8",
    )
    r = cli("import", path)
    assert r.exit_code == 3 and r.stdout == ""
    lines = r.stderr.splitlines()
    name = str(path)
    assert lines == [
        f"{name}:8:1: error SM001 users[1]: user a@example.com is declared twice",
        f"{name}:11:1: error SM001 users[2]: invalid address 'not an address': expected local@domain",
        f"{name}:14:1: error SM001 users[3]: b@other.example is not at one of the account's "
        "domains (declare other.example in [[domains]]): users are internal addresses",
        f"{name}:17:1: error SM001 users[4]: unknown field 'name' (expected one of address)",
        f"{name}:16:1: error SM001 users[4]: missing required field 'address'",
        f"{name}:20:1: error SM001 users[5]: expected an address (a string)",
        f"error: {name}: 6 problems",
    ]
    assert users(cli) == []
