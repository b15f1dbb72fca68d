"""Configuration as code: `secmsg export` and `secmsg import` (SPEC §9)."""

from __future__ import annotations

import json
import re
import textwrap
import tomllib

import pytest

from tests.conftest import DEMO
from tests.helpers import ok


def snapshot(cli, *db: str) -> tuple[dict, str]:
    status = cli(*db, "db", "status", "-o", "json")
    assert status.exit_code == 0, status.output
    exported = cli(*db, "export", "--format", "json")
    assert exported.exit_code == 0, exported.output
    return status.json, exported.stdout


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


DIAGNOSTIC = re.compile(r"^[^:]+(:\d+(:\d+)?)?: (error|warning)( SM\d{3})? \S")


def rejected(r, *fragments: str) -> None:
    """A rejected import: exit 3, one line per problem (FILE:LINE:COL: error CODE
    message), then the 'error: ' line, each fragment somewhere on stderr."""
    assert r.exit_code == 3, r.output
    *problems, last = r.stderr.splitlines()
    assert last.startswith("error: "), r.output
    assert all(DIAGNOSTIC.match(p) for p in problems), r.output
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)


# --- export ------------------------------------------------------------------------


def test_export_of_a_fresh_store_has_only_the_account(cli):
    r = ok(cli("export"))
    doc = tomllib.loads(r.stdout)
    assert list(doc) == ["account"]
    assert doc["account"]["edition"] == "full"


def test_export_leaves_out_builtins(demo):
    doc = tomllib.loads(ok(demo("export")).stdout)
    assert all(d["folder"] != "Default" for d in doc["definitions"])
    assert all(f["path"] != "Default" for f in doc["folders"])
    assert len(doc["definitions"]) == 8


def test_export_matches_the_demo_semantically(demo):
    exported = tomllib.loads(ok(demo("export")).stdout)
    source = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    assert exported["account"] == source["account"]
    assert sorted(map(json.dumps, exported["domains"])) == sorted(
        map(json.dumps, source["domains"])
    )
    assert {g["name"]: sorted(g["members"]) for g in exported["groups"]} == {
        g["name"]: sorted(g["members"]) for g in source["groups"]
    }
    assert {a["address"]: a["values"] for a in exported["attributes"]} == {
        a["address"]: a["values"] for a in source["attributes"]
    }

    def publish(f):
        return None if "publish_to" not in f else sorted(f["publish_to"])

    assert {f["path"]: publish(f) for f in exported["folders"]} == {
        f["path"]: publish(f) for f in source["folders"]
    }

    def key(d):
        return f"{d['folder']}/{d['description']}"

    assert {key(d): d for d in exported["definitions"]} == {
        key(d): d for d in source["definitions"]
    }


def test_round_trip_toml_is_byte_identical(demo, tmp_path):
    first = ok(demo("export")).stdout
    path = write(tmp_path, "exported.toml", first)
    other = tmp_path / "other.db"
    ok(demo("--db", other, "import", path))
    assert ok(demo("--db", other, "export")).stdout == first


def test_round_trip_json(demo, tmp_path):
    first_toml = ok(demo("export")).stdout
    first_json = ok(demo("export", "--format", "json")).stdout
    assert json.loads(first_json) == tomllib.loads(first_toml)
    path = write(tmp_path, "exported.json", first_json)
    other = tmp_path / "other.db"
    ok(demo("--db", other, "import", path))
    assert ok(demo("--db", other, "export", "--format", "json")).stdout == first_json
    assert ok(demo("--db", other, "export")).stdout == first_toml


def test_export_to_a_file_and_json_by_suffix(demo, tmp_path):
    toml_file, json_file = tmp_path / "a.toml", tmp_path / "a.json"
    r = ok(demo("export", toml_file))
    assert str(toml_file) in r.stdout
    ok(demo("export", json_file))
    assert toml_file.read_text(encoding="utf-8") == ok(demo("export")).stdout
    assert json.loads(json_file.read_text(encoding="utf-8")) == tomllib.loads(
        toml_file.read_text(encoding="utf-8")
    )
    assert not list(tmp_path.glob("*.tmp"))


def test_export_to_an_unwritable_place_is_one_line(demo, tmp_path):
    r = demo("export", tmp_path / "missing-dir" / "a.toml")
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and "a.toml" in r.stderr


def test_round_trip_keeps_special_values(cli, tmp_path):
    """Banners with quotes, newlines and non-ASCII; own-empty vs inherited
    publish lists; a changed built-in folder list; durations in every unit."""
    ok(cli("account", "set", "--name", 'Quote "Corp" & Sons', "--timezone", "Asia/Kolkata"))
    ok(cli("domain", "add", "bücher.de"))
    ok(cli("group", "create", "Ops Team", "-m", "@bücher.de"))
    ok(cli("attribute", "set", "ana@bücher.de", "Cost Centre=42", "Name=Zoë"))
    ok(cli("folder", "unpublish", "Default", "everyone"))
    ok(cli("folder", "create", "Ops", "-p", "Ops Team"))
    ok(cli("folder", "create", "Ops/Inherit"))
    ok(cli("folder", "create", "Ops/Nobody", "-p", "everyone"))
    ok(cli("folder", "unpublish", "Ops/Nobody"))
    banner = "line 1 \"quoted\" 'single' \\ back\nline 2 — ünïcode [sender]\ttab"
    ok(cli("definition", "create", "Ops/Banner", "--banner", banner, "--expire-after", "90m"))
    ok(
        cli(
            "definition",
            "create",
            "Ops/Inherit/Hours",
            "--expire-after",
            "12h",
            "--max-extension",
            "2w",
        )
    )
    ok(cli("definition", "create", "Default/Custom", "--expire-after", "1y"))
    first = ok(cli("export")).stdout
    other = tmp_path / "other.db"
    ok(cli("--db", other, "import", write(tmp_path, "x.toml", first)))
    assert ok(cli("--db", other, "export")).stdout == first
    assert (
        ok(cli("--db", other, "definition", "show", "Ops/Banner", "-o", "json")).json["banner"]
        == banner
    )
    f = {x["path"]: x for x in ok(cli("--db", other, "folder", "list", "-o", "json")).json}
    assert f["Default"]["publish_to"] == []
    assert f["Ops/Inherit"]["publish_to"] is None and f["Ops/Inherit"]["effective_publish_to"] == [
        "Ops Team"
    ]
    assert f["Ops/Nobody"]["publish_to"] == []
    # the same through JSON
    third = tmp_path / "third.db"
    ok(
        cli(
            "--db",
            third,
            "import",
            write(tmp_path, "x.json", ok(cli("export", "--format", "json")).stdout),
        )
    )
    assert ok(cli("--db", third, "export")).stdout == first


def test_import_from_standard_input(cli):
    r = cli("import", "-", input=DEMO.read_text(encoding="utf-8"))
    assert r.exit_code == 0, r.output
    assert "8 definitions" in r.stdout


def test_import_is_audited(demo):
    log = demo("audit", "-n", "1", "-o", "json").json
    assert (log[0]["action"], log[0]["kind"], log[0]["object"]) == ("import", "config", str(DEMO))
    counts = log[0]["after"]
    assert {
        k: counts[k] for k in ("domains", "groups", "attributes", "folders", "definitions")
    } == {
        "domains": 3,
        "groups": 6,
        "attributes": 12,
        "folders": 6,
        "definitions": 8,
    }


def test_absent_fields_take_their_defaults(cli, tmp_path):
    path = write(
        tmp_path,
        "min.toml",
        """\
        [[folders]]
        path = "Legal"

        [[definitions]]
        folder = "Legal"
        description = "Plain"
        """,
    )
    ok(cli("import", path))
    assert ok(cli("account", "show", "-o", "json")).json["max_retention_days"] == 3650
    d = ok(cli("definition", "show", "Legal/Plain", "-o", "json")).json
    assert (
        d["allow_print"],
        d["allow_reply"],
        d["allow_reply_all"],
        d["expire_after"],
        d["max_extension"],
        d["read_receipt"],
        d["banner"],
    ) == (False, True, False, "never", "0d", False, None)


# --- rejected imports ------------------------------------------------------------


def test_import_into_a_non_empty_store_is_refused(demo):
    before = snapshot(demo)
    r = demo("import", DEMO)
    rejected(r, "not empty")
    assert r.stderr.count("\n") == 1
    assert snapshot(demo) == before


@pytest.mark.parametrize(
    "setup",
    [
        ("domain", "add", "example.com"),
        ("group", "create", "G"),
        ("attribute", "set", "a@example.com", "A=b"),
        ("folder", "create", "F"),
    ],
    ids=["domain", "group", "attribute", "folder"],
)
def test_any_object_makes_the_store_non_empty(cli, setup):
    ok(cli(*setup))
    before = snapshot(cli)
    rejected(cli("import", DEMO), "not empty")
    assert snapshot(cli) == before


def test_unknown_field_names_the_field_and_its_line(cli, tmp_path):
    path = write(
        tmp_path,
        "bad.toml",
        """\
        [account]
        name = "X"

        [[folders]]
        path = "Legal"

        [[definitions]]
        folder = "Legal"
        description = "D"
        expire_afer = "7d"
        """,
    )
    r = cli("import", path)
    rejected(r, "'expire_afer'", ":10:1: error SM001 definitions[0]")
    assert r.stderr.count("\n") == 2  # a single problem: its line, then the count
    assert "expire_after" in r.stderr  # names what was expected


def test_unknown_field_line_in_json(cli, tmp_path):
    doc = {"account": {"name": "X"}, "folders": [{"path": "A"}, {"path": "B", "colour": "red"}]}
    path = write(tmp_path, "bad.json", json.dumps(doc, indent=2))
    lines = path.read_text().splitlines()
    expected = next(i for i, ln in enumerate(lines, 1) if '"colour"' in ln)
    rejected(cli("import", path), "'colour'", f":{expected}:", "folders[1]")


def test_unknown_section(cli, tmp_path):
    path = write(
        tmp_path,
        "bad.toml",
        """\
        [account]
        name = "X"

        [[widgets]]
        name = "w"
        """,
    )
    rejected(cli("import", path), "unknown section 'widgets'", ":4:1:")


def test_every_problem_is_reported_not_just_the_first(cli, tmp_path):
    path = write(
        tmp_path,
        "bad.toml",
        """\
        [account]
        timezone = "Mars/Olympus"

        [[domains]]
        name = "not a domain"

        [[groups]]
        name = "Board"
        members = ["nobody"]

        [[attributes]]
        address = "alice@example.com"
        values = { Role = "Part*" }

        [[folders]]
        path = "Legal"
        publish_to = ["Ghosts"]

        [[definitions]]
        folder = "Legal"
        description = "D"
        expire_after = "soon"
        """,
    )
    cli("init")
    before = snapshot(cli)
    r = cli("import", path)
    rejected(r, "6 problems", "Mars/Olympus", "not a domain", "nobody", "Part*", "Ghosts", "soon")
    lines = r.stderr.splitlines()
    assert lines[-1] == f"error: {path}: 6 problems"
    assert [line.split(":")[:2] for line in lines[:-1]] == [
        [str(path), n] for n in ("2", "5", "9", "13", "17", "22")
    ]
    assert snapshot(cli) == before


def test_duplicates_are_reported(cli, tmp_path):
    path = write(
        tmp_path,
        "dup.toml",
        """\
        [[domains]]
        name = "bücher.de"

        [[domains]]
        name = "XN--BCHER-KVA.DE"

        [[groups]]
        name = "Board"

        [[groups]]
        name = "BOARD"

        [[attributes]]
        address = "alice@example.com"
        values = { A = "1" }

        [[attributes]]
        address = "Alice@Example.com"
        values = { B = "2" }

        [[folders]]
        path = "Legal"

        [[folders]]
        path = "legal"

        [[definitions]]
        folder = "Legal"
        description = "D"

        [[definitions]]
        folder = "LEGAL"
        description = "d"
        """,
    )
    r = cli("import", path)
    rejected(
        r,
        "5 problems",
        "xn--bcher-kva.de is declared twice",
        "'BOARD' is declared twice",
        "alice@example.com is declared twice",
        "'legal' is declared twice",
        "declared twice",
    )
    assert len(re.findall("declared twice", r.stderr)) == 5  # each problem once


def test_lite_edition_with_definitions_is_refused(cli, tmp_path):
    path = write(
        tmp_path,
        "lite.toml",
        """\
        [account]
        edition = "lite"

        [[folders]]
        path = "Legal"

        [[definitions]]
        folder = "Legal"
        description = "D"
        """,
    )
    cli("init")
    before = snapshot(cli)
    rejected(cli("import", path), "edition", "lite", "definitions[0]")
    assert snapshot(cli) == before


def test_lite_edition_without_definitions_imports(cli, tmp_path):
    path = write(
        tmp_path,
        "lite.toml",
        """\
        [account]
        edition = "lite"

        [[folders]]
        path = "Legal"
        """,
    )
    ok(cli("import", path))
    assert ok(cli("account", "show", "-o", "json")).json["edition"] == "lite"


def test_builtin_definitions_are_not_importable(cli, tmp_path):
    path = write(
        tmp_path,
        "b.toml",
        """\
        [[definitions]]
        folder = "Default"
        description = "All Recipients"
        """,
    )
    rejected(cli("import", path), "built-in")


def test_a_bad_reference_late_in_the_file_leaves_the_store_untouched(cli, tmp_path):
    text = DEMO.read_text(encoding="utf-8") + textwrap.dedent("""
        [[definitions]]
        folder = "Undeclared"
        description = "Late"
        """)
    path = write(tmp_path, "late.toml", text)
    cli("init")
    before = snapshot(cli)
    r = cli("import", path)
    line = text.splitlines().index('folder = "Undeclared"') + 1
    rejected(r, "definitions[8]", "'Undeclared' is not declared", f":{line}:1:")
    assert snapshot(cli) == before


def test_a_write_that_fails_half_way_rolls_the_whole_import_back(cli, tmp_path, monkeypatch):
    """Validation passes but the last write fails: nothing of the earlier
    writes (account, domains, groups, folders, definitions, audit) stays."""
    from secmsg_cli.errors import InvalidInput
    from secmsg_cli.store.store import Store

    real = Store.create_definition

    def failing(self, folder, description, **settings):
        if description == "Auto-Secure Outbound":  # the last definition of the demo
            raise InvalidInput("simulated failure on the last definition")
        return real(self, folder, description, **settings)

    cli("init")
    before = snapshot(cli)
    with monkeypatch.context() as m:
        m.setattr(Store, "create_definition", failing)
        r = cli("import", DEMO)
    assert r.exit_code == 1, r.output
    assert "simulated failure" in r.stderr
    assert snapshot(cli) == before
    assert ok(cli("account", "show", "-o", "json")).json["name"] == ""


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[account\nname = 'x'\n", [":1:9: error SM001 the table header needs a closing ']'"]),
        ('{"account": ', [":1:13: error SM001 invalid JSON: expecting value"]),
        ("[1, 2]", [":1:3: error SM001 the table header needs a closing ']'"]),
        ('account = "x"\n', ["account", "expected a table"]),
        ("domains = 3\n", ["domains", "array of tables"]),
        ("[[domains]]\ntype = 'local'\n", ["missing required field 'name'"]),
        ("[[folders]]\npath = 'A/B'\n", ["parent folder 'A' is not declared"]),
        ("[account]\nexpired_view = 'maybe'\n", ["expired_view", "maybe"]),
        ("[account]\nmax_retention_days = true\n", ["max_retention_days"]),
        (
            "[[attributes]]\naddress = 'a@example.com'\nvalues = {}\n",
            ["attributes[0]", ":3:1:", "Name = "],
        ),
        ("[[groups]]\nname = 'G'\nmembers = 'a@example.com'\n", ["members", "list of strings"]),
    ],
    ids=[
        "toml-syntax",
        "json-syntax",
        "not-a-table",
        "account-not-table",
        "section-not-array",
        "missing-name",
        "undeclared-parent",
        "bad-bool",
        "bool-retention",
        "empty-values",
        "members-not-list",
    ],
)
def test_malformed_documents_are_rejected_cleanly(cli, tmp_path, text, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    cli("init")
    before = snapshot(cli)
    rejected(cli("import", path), *fragments)
    assert snapshot(cli) == before


def test_unreadable_files_are_rejected_cleanly(cli, tmp_path):
    rejected(cli("import", tmp_path / "missing.toml"), "missing.toml")
    rejected(cli("import", tmp_path), "directory")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"name = '\xff\xfe'\n")
    rejected(cli("import", binary), "UTF-8")
    for r in (cli("import", tmp_path / "missing.toml"), cli("import", binary)):
        assert r.stderr.count("\n") == 1


def test_json_problem_lines_after_entries_with_nested_objects(cli, tmp_path):
    doc = {
        "attributes": [
            {"address": "a@example.com", "values": {"A": "1"}},
            {"address": "b@example.com", "values": {"A": "1"}},
            {"address": "not-an-address", "values": {"A": "1"}},
        ]
    }
    path = write(tmp_path, "bad.json", json.dumps(doc, indent=2))
    lines = path.read_text().splitlines()
    expected = next(i for i, ln in enumerate(lines, 1) if "not-an-address" in ln)
    rejected(cli("import", path), "attributes[2]", f":{expected}:")
