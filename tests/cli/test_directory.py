"""The directory: `group ...` and `attribute ...` (SPEC §2)."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, snapshot


def group(cli, name: str) -> dict:
    r = cli("group", "show", name, "-o", "json")
    assert r.exit_code == 0, r.output
    return r.json


# --- groups ---------------------------------------------------------------------


def test_group_create_normalises_and_deduplicates_members(cli):
    r = cli(
        "group",
        "create",
        "Board",
        "-m",
        "CEO@Example.com",
        "-m",
        "@Board.Example.COM",
        "-m",
        "ceo@example.com",
        "-m",
        "<cfo@bücher.de>",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    assert r.json["name"] == "Board"
    assert r.json["members"] == ["@board.example.com", "ceo@example.com", "cfo@xn--bcher-kva.de"]
    assert r.json["member_count"] == 3
    assert group(cli, "Board") == r.json


def test_group_create_table_output_confirms(cli):
    r = cli("group", "create", "Board", "-m", "ceo@example.com")
    assert r.exit_code == 0, r.output
    assert "Board" in r.stdout and "1 member" in r.stdout


def test_group_list_and_show_by_name_or_id_case_insensitively(cli):
    cli("group", "create", "legal", "-m", "a@example.com")
    cli("group", "create", "Board", "-m", "b@example.com", "-m", "c@example.com")
    listed = cli("group", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert [(g["name"], g["member_count"]) for g in listed.json] == [("Board", 2), ("legal", 1)]
    board_id = listed.json[0]["id"]
    assert group(cli, "BOARD")["id"] == board_id
    assert group(cli, str(board_id))["name"] == "Board"
    table = cli("group", "show", "board")
    assert table.exit_code == 0, table.output
    assert "b@example.com" in table.stdout and "c@example.com" in table.stdout


def test_group_show_unknown_is_not_found(cli):
    assert_error(cli("group", "show", "Nobody"), 1, "Nobody", "not found")
    assert_error(cli("group", "show", "42"), 1, "42")


def test_group_duplicate_name_is_refused_case_insensitively(cli):
    assert cli("group", "create", "Board").exit_code == 0
    before = snapshot(cli)
    assert_error(cli("group", "create", "BOARD", "-m", "x@example.com"), 1, "already exists")
    assert_error(cli("group", "create", " board "), 1, "already exists")
    assert snapshot(cli) == before


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "cannot be empty"),
        ("everyone", "reserved"),
        ("Everyone", "reserved"),
        ("@example.com", "reserved"),
        ("x" * 101, "longer than"),
        ("tab\there", "control characters"),
    ],
    ids=["empty", "everyone", "Everyone", "at-domain", "too-long", "control"],
)
def test_group_create_invalid_name(cli, name, fragment):
    cli("init")
    before = snapshot(cli)
    assert_error(cli("group", "create", "--", name), 1, "invalid group name", fragment)
    assert snapshot(cli) == before


@pytest.mark.parametrize(
    "member", ["not an address", "alice", "alice@", "@", "@nodot", "a@b@", "@exa mple.com"]
)
def test_group_create_with_an_invalid_member_writes_nothing(cli, member):
    cli("init")
    before = snapshot(cli)
    r = cli("group", "create", "Board", "-m", "ok@example.com", "-m", member)
    assert_error(r, 1, "invalid")
    assert member.strip("@")[:5] in r.stderr
    assert snapshot(cli) == before


def test_add_member_and_remove_member(cli):
    cli("group", "create", "Board", "-m", "ceo@example.com")
    r = cli("group", "add-member", "board", "CFO@example.com", "@Board.Example.com")
    assert r.exit_code == 0, r.output
    assert "3 member" in r.stdout
    assert group(cli, "Board")["members"] == [
        "@board.example.com",
        "ceo@example.com",
        "cfo@example.com",
    ]
    # adding one new and one existing member adds the new one
    assert cli("group", "add-member", "Board", "ceo@example.com", "coo@example.com").exit_code == 0
    assert "coo@example.com" in group(cli, "Board")["members"]
    r = cli("group", "remove-member", "Board", "CEO@EXAMPLE.COM", "@board.example.com")
    assert r.exit_code == 0, r.output
    assert group(cli, "Board")["members"] == ["cfo@example.com", "coo@example.com"]


def test_add_member_refusals_write_nothing(cli):
    cli("group", "create", "Board", "-m", "ceo@example.com")
    before = snapshot(cli)
    assert_error(
        cli("group", "add-member", "Board", "ceo@example.com"), 1, "ceo@example.com", "already"
    )
    assert_error(
        cli("group", "add-member", "Board", "new@example.com", "bad address"), 1, "bad address"
    )
    assert_error(cli("group", "add-member", "Nobody", "new@example.com"), 1, "Nobody", "not found")
    assert_error(
        cli("group", "remove-member", "Board", "ceo@example.com", "stranger@example.com"),
        1,
        "stranger@example.com",
        "not a member",
    )
    assert_error(cli("group", "remove-member", "Board", "@"), 1, "invalid")
    assert snapshot(cli) == before
    assert cli("group", "add-member", "Board").exit_code == 2  # usage: members are required


def test_group_delete(cli):
    cli("group", "create", "Temp", "-m", "a@example.com")
    r = cli("group", "delete", "TEMP")
    assert r.exit_code == 0, r.output
    assert cli("group", "list", "-o", "json").json == []
    assert_error(cli("group", "delete", "Temp"), 1, "Temp", "not found")


def test_deleting_a_group_used_by_a_publish_list_is_refused_naming_the_folder(cli):
    cli("group", "create", "Board")
    cli("folder", "create", "Legal")
    cli("folder", "create", "Legal/Restricted", "--publish-to", "board")
    before = snapshot(cli)
    r = cli("group", "delete", "Board")
    assert_error(r, 1, "Board", "Legal/Restricted")
    assert snapshot(cli) == before
    # once unpublished, it can go
    assert cli("folder", "unpublish", "Legal/Restricted", "Board").exit_code == 0
    assert cli("group", "delete", "Board").exit_code == 0


def test_group_writes_are_audited(cli):
    cli("group", "create", "Board", "-m", "a@example.com")
    cli("group", "add-member", "Board", "b@example.com")
    cli("group", "remove-member", "Board", "a@example.com")
    cli("group", "delete", "Board")
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["kind"], e["object"], e["actor"]) for e in log] == [
        ("delete", "group", "Board", "tester"),
        ("update", "group", "Board", "tester"),
        ("update", "group", "Board", "tester"),
        ("create", "group", "Board", "tester"),
    ]
    assert log[2]["before"]["members"] == ["a@example.com"]
    assert log[2]["after"]["members"] == ["a@example.com", "b@example.com"]


# --- attributes -------------------------------------------------------------------


def attrs(cli, *args: str) -> list[tuple[str, str, str]]:
    r = cli("attribute", "list", *args, "-o", "json")
    assert r.exit_code == 0, r.output
    return [(a["address"], a["name"], a["value"]) for a in r.json]


def test_attribute_set_list_unset(cli):
    r = cli("attribute", "set", "Alice@Example.com", "Department=Legal", "Role=Senior Partner")
    assert r.exit_code == 0, r.output
    assert (
        cli("attribute", "set", "bob@example.com", "Department=Finance", "Formula=a=b").exit_code
        == 0
    )
    assert attrs(cli) == [
        ("alice@example.com", "Department", "Legal"),
        ("alice@example.com", "Role", "Senior Partner"),
        ("bob@example.com", "Department", "Finance"),
        ("bob@example.com", "Formula", "a=b"),
    ]
    assert attrs(cli, "--address", "ALICE@example.com") == [
        ("alice@example.com", "Department", "Legal"),
        ("alice@example.com", "Role", "Senior Partner"),
    ]
    assert attrs(cli, "--name", "department") == [
        ("alice@example.com", "Department", "Legal"),
        ("bob@example.com", "Department", "Finance"),
    ]
    r = cli("attribute", "unset", "alice@example.com", "Role")
    assert r.exit_code == 0, r.output
    assert attrs(cli, "-a", "alice@example.com") == [("alice@example.com", "Department", "Legal")]


def test_attribute_set_replaces_a_value_and_names_are_case_insensitive(cli):
    cli("attribute", "set", "alice@example.com", "Department=Legal")
    assert cli("attribute", "set", "alice@example.com", "department=Finance").exit_code == 0
    assert attrs(cli) == [("alice@example.com", "Department", "Finance")]
    assert cli("attribute", "unset", "alice@example.com", "DEPARTMENT").exit_code == 0
    assert attrs(cli) == []


@pytest.mark.parametrize(
    "value",
    ["Leg*", "Leg?l", "^Legal$", "Legal|Finance", "[LF]egal", "Leg\\w+", "*"],
    ids=["star", "question", "anchors", "alternation", "class", "escape", "bare-star"],
)
def test_attribute_wildcard_and_regex_values_are_refused(cli, value):
    cli("attribute", "set", "alice@example.com", "Role=Partner")
    before = snapshot(cli)
    r = cli("attribute", "set", "alice@example.com", "Department=Legal", f"Team={value}")
    assert_error(r, 1, "wildcards and regular expressions are not allowed", repr(value))
    assert snapshot(cli) == before


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["bad address", "A=x"], ["invalid address", "bad address"]),
        (["alice@example.com", "NoEquals"], ["NoEquals", "Name=value"]),
        (["alice@example.com", "=value"], ["=value", "Name=value"]),
        (["alice@example.com", "1st=x"], ["invalid attribute name", "1st"]),
        (["alice@example.com", "Role="], ["invalid attribute value", "empty"]),
        (["alice@example.com", "Dept=Legal", "dept=Finance"], ["'dept'", "twice"]),
    ],
    ids=["address", "no-equals", "no-name", "bad-name", "empty-value", "same-name-twice"],
)
def test_attribute_set_bad_input(cli, args, fragments):
    cli("init")
    before = snapshot(cli)
    assert_error(cli("attribute", "set", *args), 1, *fragments)
    assert snapshot(cli) == before


def test_attribute_unset_unknown_is_not_found(cli):
    cli("attribute", "set", "alice@example.com", "Role=Partner")
    before = snapshot(cli)
    assert_error(cli("attribute", "unset", "alice@example.com", "Office"), 1, "Office")
    assert_error(cli("attribute", "unset", "bob@example.com", "Role"), 1, "bob@example.com")
    assert snapshot(cli) == before


def test_attribute_writes_are_audited(cli):
    cli("attribute", "set", "alice@example.com", "Role=Partner")
    cli("attribute", "set", "alice@example.com", "Role=Associate", "Office=London")
    cli("attribute", "unset", "alice@example.com", "Office")
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["kind"], e["object"]) for e in log] == [
        ("unset", "attribute", "alice@example.com"),
        ("set", "attribute", "alice@example.com"),
        ("set", "attribute", "alice@example.com"),
    ]
    assert log[1]["before"] == {"Role": "Partner"}
    assert log[1]["after"] == {"Office": "London", "Role": "Associate"}
    assert log[0]["before"] == {"Office": "London"}


def test_a_numeric_group_name_is_not_mistaken_for_an_id(cli):
    board = cli("group", "create", "Board", "-o", "json").json
    numeric = cli("group", "create", str(board["id"]))  # a group *named* like Board's id
    assert numeric.exit_code == 0, numeric.output
    r = cli("group", "add-member", "Board", "ceo@example.com")
    assert r.exit_code == 0, r.output
    assert "'Board' now has 1 member" in r.stdout
    entry = cli("audit", "-o", "json").json[0]
    assert entry["before"]["name"] == entry["after"]["name"] == "Board"
    assert group(cli, str(board["id"]))["members"] == []  # the name wins over the id
    assert group(cli, "Board")["members"] == ["ceo@example.com"]
