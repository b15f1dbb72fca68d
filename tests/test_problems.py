"""The one problem collector and source locator (secmsg_cli/problems.py),
shared by the configuration file, the cases file and the model's validators."""

from __future__ import annotations

import pytest

from secmsg_cli.errors import ConfigError, InvalidInput
from secmsg_cli.problems import InvalidDocument, Location, Problem, Problems, Source

TOML = """\
# a comment
[account]
name = "Acme"
  timezone = "Mars/Base"

[[policies]]
kind = "bypass"

[[policies]]   # the second one
"narrative" = "Two"
from = { type = "group", value = "Legal" }

[policies.to]
type = "group"

[[case]]
name = "a"
[case.inline]
body = "x"
[[case.expect]]
recipient = "a@b.example"
[[case.expect]]
route = "portal"
"""


@pytest.mark.parametrize(
    "path, line, column",
    [
        (("account",), 2, 1),
        (("account", "name"), 3, 1),
        (("account", "timezone"), 4, 3),  # indented: the key's own column
        (("account", "edition"), 2, 1),  # not written: the table
        (("policies",), 6, 1),  # an array of tables: its first element
        (("policies", 0), 6, 1),
        (("policies", 0, "kind"), 7, 1),
        (("policies", 1), 9, 1),
        (("policies", 1, "narrative"), 10, 1),  # a quoted key
        (("policies", 1, "from"), 11, 1),
        (("policies", 1, "from", "type"), 11, 1),  # inside an inline table: its key
        (("policies", 1, "to"), 13, 1),  # a sub-table of the second element
        (("policies", 1, "to", "type"), 14, 1),
        (("case", 0, "inline", "body"), 19, 1),
        (("case", 0, "expect", 0, "recipient"), 21, 1),
        (("case", 0, "expect", 1), 22, 1),  # numbered within its case
        (("case", 0, "expect", 1, "route"), 23, 1),
    ],
)
def test_toml_positions_by_path(path, line, column):
    assert Source("c.toml", TOML, "toml").locate(path) == Location(line, column)


def test_nothing_is_located_outside_what_is_written():
    source = Source("c.toml", TOML, "toml")
    assert source.locate(("domains", 0, "name")) is None
    assert source.locate(()) is None
    assert source.position(("account", "edition")) is None  # exactly: not written
    assert source.position(("case", 0)) == Location(16, 1)


def test_json_positions_follow_nesting_and_strings():
    text = (
        '{\n  "account": {"name": "a \\" [ {"},\n'
        '  "policies": [\n    {"kind": "bypass",\n     "from": {"type": "group"}},\n'
        '    {"kind": "x"}\n  ]\n}\n'
    )
    source = Source("c.json", text, "json")
    assert source.locate(("account", "name")) == Location(2, 15)
    assert source.locate(("policies",)) == Location(3, 3)
    assert source.locate(("policies", 0, "from", "type")) == Location(5, 15)
    assert source.locate(("policies", 1)) == Location(6, 5)
    assert source.locate(("policies", 1, "narrative")) == Location(6, 5)  # the element
    assert source.locate(("policies", 5)) == Location(3, 3)  # no such element: the array


def test_a_problem_keeps_its_parts_apart_and_reads_as_a_diagnostic():
    p = Problem(
        "unknown field 'colour'",
        path="c.toml",
        line=40,
        column=1,
        object="policies[2] (Partners)",
        field="colour",
    )
    assert (p.path, p.line, p.column, p.severity, p.code) == ("c.toml", 40, 1, "error", None)
    assert p.text == str(p) == "c.toml:40:1: error policies[2] (Partners): unknown field 'colour'"
    coded = Problem("m", path="c.toml", line=4, code="SM103", severity="warning")
    assert coded.text == "c.toml:4: warning SM103 m"  # no column: PATH:LINE
    assert Problem("m", path="c.toml", object="account").text == "c.toml: error account: m"
    assert Problem("m", line=6, object="case 'a'").text == "error case 'a': m"  # no file


def test_views_add_to_one_list_at_their_place():
    source = Source("c.toml", TOML, "toml")
    problems = Problems(source)
    policy = problems.within("policies", 1, object="policies[1] (Two)")
    policy.add("narrative", "too long")
    policy.within("to").add("type", "unknown type")
    problems.within("account", object="account").add(None, "expected a table")
    assert [p.text for p in problems] == [
        "c.toml:10:1: error policies[1] (Two): too long",
        "c.toml:14:1: error policies[1] (Two): unknown type",
        "c.toml:2:1: error account: expected a table",
    ]
    assert [(p.field, p.column) for p in problems] == [("narrative", 1), ("type", 1), (None, 1)]


def test_check_records_what_it_is_told_to_catch_and_nothing_else():
    def bad(value: object) -> int:
        raise InvalidInput(f"invalid {value!r}")

    problems = Problems(catch=(InvalidInput,))
    assert problems.check("id", bad, 7) is None
    assert problems.check("id", int, "8") == 8
    assert [(p.field, p.message, p.line) for p in problems] == [("id", "invalid 7", None)]
    with pytest.raises(ValueError):
        problems.check("id", int, "x")  # a ValueError is not an InvalidInput here


def test_extend_places_problems_found_without_a_place():
    source = Source("c.toml", TOML, "toml")
    found = [Problem("bad kind", field="kind"), Problem("missing", field=None)]
    problems = Problems(source)
    problems.within("policies", 0, object="policies[0]").extend(found)
    assert problems.texts() == [
        "c.toml:7:1: error policies[0]: bad kind",
        "c.toml:6:1: error policies[0]: missing",
    ]


def test_raise_if_any_counts_and_lists_each_problem_once():
    problems = Problems(Source("c.toml", "", "toml"), code="SM001")
    problems.raise_if_any()  # nothing: no error
    problems.add("x", "one")
    problems.add("y", "two", code="SM103")
    with pytest.raises(InvalidDocument) as caught:
        problems.raise_if_any()
    assert str(caught.value) == "c.toml: 2 problems"
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 3
    assert caught.value.problems == ["c.toml: error SM001 one", "c.toml: error SM103 two"]
    assert [p.field for p in caught.value.found] == ["x", "y"]

    cases = Problems(Source("k.toml", "", "toml"))
    cases.add(None, "one")
    with pytest.raises(ConfigError, match=r"^k\.toml: 1 problem$"):
        cases.raise_if_any()


def test_did_you_mean_ignores_case_and_keeps_the_spelling():
    from secmsg_cli.problems import did_you_mean

    assert did_you_mean("Legl", ["Finance", "Legal"]) == "; did you mean 'Legal'?"
    assert did_you_mean("LEGL", ["legal"]) == "; did you mean 'legal'?"
    assert did_you_mean("Zzz", ["Legal"]) == ""
    assert did_you_mean("x", []) == ""


def test_the_dispatch_tables_cover_every_key():
    from secmsg_cli import testing

    assert tuple(testing._CONTEXT_FIELDS) == testing.CONTEXT_KEYS
    assert tuple(testing._EXPECT_FIELDS) == testing.EXPECT_KEYS[1:]
    assert set(testing._CHECKS) == set(testing.EXPECT_KEYS[1:])
    assert set(testing._CASE_FIELDS) | {"name", "inline"} == set(testing.CASE_KEYS)
