"""`secmsg folder ...`: the tree, rename/move/delete rules, the built-in folder
and publishing with inheritance (SPEC §3.1, §3.3)."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, ok, snapshot


def folders(cli) -> dict[str, dict]:
    r = cli("folder", "list", "-o", "json")
    assert r.exit_code == 0, r.output
    return {f["path"]: f for f in r.json}


# --- create and list ---------------------------------------------------------------


def test_create_nested_and_list_json(cli):
    ok(cli("folder", "create", "Legal"))
    r = ok(cli("folder", "create", "Legal/Contracts", "-o", "json"))
    assert r.json["path"] == "Legal/Contracts"
    assert r.json["publish_to"] is None and r.json["definitions"] == 0
    assert list(folders(cli)) == ["Default", "Legal", "Legal/Contracts"]


def test_create_needs_the_parent_unless_parents(cli):
    cli("init")
    before = snapshot(cli)
    assert_error(cli("folder", "create", "A/B/C"), 1, "'A'", "--parents")
    assert snapshot(cli) == before
    ok(cli("folder", "create", "A/B/C", "--parents"))
    assert [p for p in folders(cli) if p != "Default"] == ["A", "A/B", "A/B/C"]
    # every created level is audited
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["kind"], e["object"]) for e in log] == [
        ("create", "folder", "A/B/C"),
        ("create", "folder", "A/B"),
        ("create", "folder", "A"),
    ]


def test_create_with_parents_and_an_unknown_group_writes_nothing(cli):
    cli("init")
    before = snapshot(cli)
    assert_error(
        cli("folder", "create", "A/B/C", "--parents", "--publish-to", "Ghosts"),
        1,
        "Ghosts",
        "not found",
    )
    assert snapshot(cli) == before


def test_create_duplicate_is_refused_case_insensitively(cli):
    ok(cli("folder", "create", "Legal"))
    ok(cli("folder", "create", "Legal/Contracts"))
    before = snapshot(cli)
    assert_error(cli("folder", "create", "legal/CONTRACTS"), 1, "already exists")
    assert_error(cli("folder", "create", "DEFAULT"), 1, "already exists")
    assert snapshot(cli) == before


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/", "root"),
        ("", "root"),
        ("A//B", "empty level"),
        ("A/ /B", "empty level"),
        ("Bad\tName", "control"),
        ("x" * 101, "longer than"),
    ],
    ids=["root", "empty", "double-slash", "blank-level", "control", "too-long"],
)
def test_create_invalid_path(cli, path, fragment):
    cli("init")
    before = snapshot(cli)
    assert_error(cli("folder", "create", "--", path), 1, fragment)
    assert snapshot(cli) == before


def test_leading_slash_is_tolerated(cli):
    ok(cli("folder", "create", "/Legal"))
    assert "Legal" in folders(cli)


def test_tree_output(demo):
    r = ok(demo("folder", "list"))
    lines = r.stdout.splitlines()
    assert lines[0] == "/"

    def line(name):
        found = [ln for ln in lines if f" {name}  " in ln]
        assert len(found) == 1, (name, r.stdout)
        return found[0]

    assert "published to everyone" in line("Default") and "2 definitions" in line("Default")
    assert "published to everyone" in line("Legal") and "2 definitions" in line("Legal")
    assert "published to Board" in line("Restricted")
    assert "published to HR (inherited)" in line("Archive")
    assert "published to nobody" in line("Templates") and "1 definition" in line("Templates")
    # children are indented under their parent and listed after it
    assert lines.index(line("Restricted")) == lines.index(line("Legal")) + 1
    assert line("Restricted").index("Restricted") > line("Legal").index("Legal")


def test_list_counts_definitions_per_folder(demo):
    f = folders(demo)
    assert {p: x["definitions"] for p, x in f.items()} == {
        "Default": 2,
        "Finance": 2,
        "HR": 1,
        "HR/Archive": 1,
        "Legal": 2,
        "Legal/Restricted": 1,
        "Templates": 1,
    }


# --- publishing ---------------------------------------------------------------------


def test_effective_publish_inheritance(demo):
    f = folders(demo)
    assert (f["Legal"]["publish_to"], f["Legal"]["effective_publish_to"]) == (
        ["everyone"],
        ["everyone"],
    )
    restricted = f["Legal/Restricted"]
    assert (restricted["publish_to"], restricted["effective_publish_to"]) == (["Board"], ["Board"])
    # unset: inherits the parent's
    assert (f["HR/Archive"]["publish_to"], f["HR/Archive"]["effective_publish_to"]) == (
        None,
        ["HR"],
    )
    # an own empty list: nobody, and it is not "inherit"
    assert (f["Templates"]["publish_to"], f["Templates"]["effective_publish_to"]) == ([], [])
    ok(demo("folder", "create", "Templates/Drafts"))
    ok(demo("folder", "create", "Templates/Drafts/Old"))
    f = folders(demo)
    assert (f["Templates/Drafts"]["publish_to"], f["Templates/Drafts"]["effective_publish_to"]) == (
        None,
        [],
    )
    assert f["Templates/Drafts/Old"]["effective_publish_to"] == []
    # a change to the parent reaches every unset descendant
    ok(demo("folder", "publish", "Templates", "Finance"))
    f = folders(demo)
    assert f["Templates/Drafts/Old"]["effective_publish_to"] == ["Finance"]
    # a child with its own (empty) list decides for itself and its unset descendants
    ok(demo("folder", "unpublish", "Templates/Drafts"))
    f = folders(demo)
    assert f["Templates/Drafts"]["publish_to"] == []
    assert f["Templates/Drafts/Old"]["effective_publish_to"] == []
    assert f["Templates"]["effective_publish_to"] == ["Finance"]


def test_root_level_folder_without_a_list_is_published_to_nobody(cli):
    r = ok(cli("folder", "create", "Loose", "-o", "json"))
    assert (r.json["publish_to"], r.json["effective_publish_to"]) == (None, [])


def test_publish_and_unpublish(cli):
    cli("group", "create", "Board")
    cli("group", "create", "Finance")
    ok(cli("folder", "create", "Reports", "-p", "board"))
    assert folders(cli)["Reports"]["publish_to"] == ["Board"]
    r = ok(cli("folder", "publish", "Reports", "FINANCE", "Everyone"))
    assert "Reports" in r.stdout
    assert sorted(folders(cli)["Reports"]["publish_to"]) == ["Board", "Finance", "everyone"]
    ok(cli("folder", "unpublish", "Reports", "everyone", "Board"))
    assert folders(cli)["Reports"]["publish_to"] == ["Finance"]
    r = ok(cli("folder", "unpublish", "Reports"))
    assert "nobody" in r.stdout
    assert folders(cli)["Reports"]["publish_to"] == []
    ok(cli("folder", "unpublish", "Reports", "--inherit"))
    assert folders(cli)["Reports"]["publish_to"] is None


def test_unpublish_an_inherited_entry_gives_the_folder_its_own_list(cli):
    cli("group", "create", "HR")
    cli("group", "create", "Board")
    ok(cli("folder", "create", "HR", "-p", "HR", "-p", "Board"))
    ok(cli("folder", "create", "HR/Archive"))
    ok(cli("folder", "unpublish", "HR/Archive", "Board"))
    f = folders(cli)
    assert f["HR/Archive"]["publish_to"] == ["HR"]
    assert sorted(f["HR"]["publish_to"]) == ["Board", "HR"]


def test_publish_refusals_write_nothing(cli):
    cli("group", "create", "Board")
    ok(cli("folder", "create", "Reports", "-p", "Board"))
    before = snapshot(cli)
    assert_error(cli("folder", "publish", "Reports", "everyone", "Ghosts"), 1, "Ghosts")
    assert_error(cli("folder", "publish", "Nowhere", "everyone"), 1, "Nowhere", "not found")
    assert_error(cli("folder", "unpublish", "Reports", "everyone"), 1, "everyone")
    assert_error(cli("folder", "unpublish", "Reports", "Board", "--inherit"), 1, "--inherit")
    assert snapshot(cli) == before
    assert cli("folder", "publish", "Reports").exit_code == 2  # usage: a target is required


def test_publish_writes_are_audited(cli):
    cli("group", "create", "Board")
    cli("folder", "create", "Reports")
    cli("folder", "publish", "Reports", "Board")
    cli("folder", "unpublish", "Reports")
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["object"]) for e in log[:2]] == [
        ("unpublish", "Reports"),
        ("publish", "Reports"),
    ]
    assert log[0]["before"]["publish_to"] == ["Board"] and log[0]["after"]["publish_to"] == []


# --- rename, move, delete ---------------------------------------------------------------


def test_rename_carries_subfolders_and_definitions(cli):
    ok(cli("folder", "create", "Legal/Contracts", "--parents"))
    ok(cli("definition", "create", "Legal/Contracts/NDA"))
    r = ok(cli("folder", "rename", "legal", "Law"))
    assert "Law" in r.stdout
    assert [p for p in folders(cli) if p != "Default"] == ["Law", "Law/Contracts"]
    assert (
        ok(cli("definition", "show", "Law/Contracts/NDA", "-o", "json")).json["folder"]
        == "Law/Contracts"
    )
    # a change of case only is a rename too
    ok(cli("folder", "rename", "Law", "LAW"))
    assert "LAW" in folders(cli)


def test_rename_refusals(cli):
    ok(cli("folder", "create", "Legal"))
    ok(cli("folder", "create", "Finance"))
    before = snapshot(cli)
    assert_error(cli("folder", "rename", "Legal", "finance"), 1, "already exists")
    assert_error(cli("folder", "rename", "Legal", "A/B"), 1, "'/' is not allowed")
    assert_error(cli("folder", "rename", "Nowhere", "X"), 1, "Nowhere", "not found")
    assert snapshot(cli) == before


def test_move_and_move_to_root(cli):
    ok(cli("folder", "create", "Legal"))
    ok(cli("folder", "create", "Contracts"))
    ok(cli("folder", "create", "Contracts/NDAs"))
    r = ok(cli("folder", "move", "Contracts", "Legal"))
    assert "Legal/Contracts" in r.stdout
    assert [p for p in folders(cli) if p != "Default"] == [
        "Legal",
        "Legal/Contracts",
        "Legal/Contracts/NDAs",
    ]
    ok(cli("folder", "move", "Legal/Contracts/NDAs", "/"))
    assert [p for p in folders(cli) if p != "Default"] == ["Legal", "Legal/Contracts", "NDAs"]


def test_move_into_own_subtree_is_refused(cli):
    ok(cli("folder", "create", "A/B/C", "--parents"))
    before = snapshot(cli)
    assert_error(cli("folder", "move", "A", "A/B/C"), 1, "'A'", "own subfolder")
    assert_error(cli("folder", "move", "A", "A"), 1, "into itself")
    assert snapshot(cli) == before


def test_move_refusals(cli):
    ok(cli("folder", "create", "A/X", "--parents"))
    ok(cli("folder", "create", "X"))
    before = snapshot(cli)
    assert_error(cli("folder", "move", "X", "A"), 1, "A/X", "already exists")
    assert_error(cli("folder", "move", "X", "Nowhere"), 1, "Nowhere", "not found")
    assert snapshot(cli) == before


def test_delete_empty_folder(cli):
    ok(cli("folder", "create", "Tmp"))
    ok(cli("folder", "delete", "tmp"))
    assert list(folders(cli)) == ["Default"]
    assert_error(cli("folder", "delete", "Tmp"), 1, "Tmp", "not found")


def test_delete_non_empty_needs_recursive(cli):
    ok(cli("folder", "create", "A/B", "--parents"))
    ok(cli("folder", "create", "Legal"))
    ok(cli("definition", "create", "Legal/NDA"))
    before = snapshot(cli)
    assert_error(cli("folder", "delete", "A"), 1, "'A'", "1 subfolder", "--recursive")
    assert_error(cli("folder", "delete", "Legal"), 1, "'Legal'", "1 definition", "--recursive")
    assert snapshot(cli) == before
    ok(cli("folder", "delete", "A", "--recursive"))
    ok(cli("folder", "delete", "Legal", "-r"))
    assert list(folders(cli)) == ["Default"]
    assert [d["path"] for d in cli("definition", "list", "-o", "json").json] == [
        "Default/All Recipients",
        "Default/External Recipients",
    ]
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["kind"], e["object"]) for e in log[:2]] == [
        ("delete", "folder", "Legal"),
        ("delete", "definition", "Legal/NDA"),
    ]


@pytest.mark.parametrize(
    "args",
    [
        ("rename", "Default", "Standard"),
        ("move", "Default", "Legal"),
        ("delete", "Default"),
        ("delete", "Default", "--recursive"),
        ("rename", "DEFAULT", "Other"),
    ],
    ids=["rename", "move", "delete", "delete-recursive", "rename-any-case"],
)
def test_the_builtin_folder_cannot_be_renamed_moved_or_deleted(cli, args):
    ok(cli("folder", "create", "Legal"))
    before = snapshot(cli)
    assert_error(cli("folder", *args), 1, "Default", "built-in")
    assert snapshot(cli) == before


def test_folder_writes_are_audited_with_actor(cli, monkeypatch):
    monkeypatch.setenv("SECMSG_ACTOR", "alice.admin")
    cli("folder", "create", "A")
    cli("folder", "create", "B")
    cli("folder", "rename", "A", "C")
    cli("folder", "move", "C", "B")
    cli("folder", "delete", "B", "-r")
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["object"]) for e in log] == [
        ("delete", "B"),
        ("delete", "B/C"),
        ("move", "C"),
        ("rename", "A"),
        ("create", "B"),
        ("create", "A"),
    ]
    assert {e["actor"] for e in log} == {"alice.admin"}
    assert log[2]["after"]["path"] == "B/C"


def test_a_numeric_folder_name_is_not_mistaken_for_an_id(cli):
    ok(cli("folder", "create", "Legal"))
    legal_id = folders(cli)["Legal"]["id"]
    ok(cli("folder", "create", str(legal_id)))  # a folder *named* like Legal's id
    ok(cli("folder", "delete", str(legal_id)))
    assert "Legal" in folders(cli) and str(legal_id) not in folders(cli)
    # an id that is no folder's name still addresses by id
    ok(cli("folder", "rename", str(legal_id), "Law"))
    assert "Law" in folders(cli)
