"""``secmsg lint`` for people, editors and CI: one diagnostic line per
finding, GitHub Actions workflow commands and SARIF 2.1.0 (validated against
the official schema, vendored in tests/vendor/sarif with its licence)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from secmsg_cli.lint import RULES
from tests.cli.test_lint import AT, BASE, raw_sql, sm_policy, write

SARIF_SCHEMA = Path(__file__).parent.parent / "vendor" / "sarif" / "sarif-schema-2.1.0.json"

# One error (a misspelt group) in a file: the error names its place.
MISSPELT = BASE + sm_policy(1, to='{ type = "group", value = "Staf" }')


def _line_of(path: Path, start: str) -> int:
    return next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith(start))


def test_text_is_one_diagnostic_line_per_finding(cli, tmp_path):
    path = write(tmp_path, MISSPELT)
    r = cli("lint", path)
    assert r.exit_code == 3, r.output
    line = _line_of(path, 'to = { type = "group"')
    assert r.stdout == (
        f"{path}:{line}:1: error SM103 policies[0] (Policy 1): unknown group 'Staf' "
        "(declare it in [[groups]]); did you mean 'Staff'?\n"
    )
    assert r.stderr == "1 error, 0 warnings\n"


def test_github_annotations_for_an_error_in_a_file(cli, tmp_path):
    path = write(tmp_path, MISSPELT)
    r = cli("lint", path, "--format", "github")
    assert r.exit_code == 3, r.output
    line = _line_of(path, 'to = { type = "group"')
    assert r.stdout == (
        f"::error file={path},line={line},col=1,title=SM103 dangling-group::"
        "policies[0] (Policy 1): unknown group 'Staf' (declare it in [[groups]]); "
        "did you mean 'Staff'?\n"
    )


def test_github_annotations_for_an_error_and_a_warning_in_a_store(demo, _isolated_store):
    raw_sql(_isolated_store, "DELETE FROM groups WHERE name = 'Finance'")
    r = demo("lint", "--at", AT, "-o", "github")
    assert r.exit_code == 3, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("::error title=SM103 dangling-group::secure-messaging policy 3 (")
    assert any(ln.startswith("::warning title=SM201 untriggerable-definition::") for ln in lines)
    assert not any("file=" in ln for ln in lines)  # about the store: no file


def test_github_escapes_data_and_properties():
    from secmsg_cli.lint import Finding, to_github

    f = Finding(
        "SM001", "invalid-config", "error", None, "50% off\r\nnext: a, b", "dir:x,y/c.toml", 3, 4
    )
    assert to_github([f]) == [
        "::error file=dir%3Ax%2Cy/c.toml,line=3,col=4,title=SM001 invalid-config::"
        "50%25 off%0D%0Anext: a, b"
    ]


def _sarif(cli, *args, expect):
    r = cli("lint", *args, "-o", "sarif")
    assert r.exit_code == expect, r.output
    log = json.loads(r.stdout)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft4Validator(schema).iter_errors(log), key=str)
    assert errors == [], [e.message for e in errors]
    return log


def test_sarif_of_a_file_validates_and_places_each_result(cli, tmp_path):
    path = write(tmp_path, MISSPELT)
    log = _sarif(cli, path, expect=3)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "secmsg"
    assert [r["id"] for r in driver["rules"]] == [r.code for r in RULES]
    assert driver["rules"][0]["defaultConfiguration"] == {"level": "error"}
    (result,) = run["results"]
    assert (result["ruleId"], result["level"]) == ("SM103", "error")
    assert driver["rules"][result["ruleIndex"]]["id"] == "SM103"
    assert "did you mean 'Staff'?" in result["message"]["text"]
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == str(path)
    assert physical["region"] == {
        "startLine": _line_of(path, 'to = { type = "group"'),
        "startColumn": 1,
    }
    assert location["logicalLocations"] == [{"fullyQualifiedName": "policies[0] (Policy 1)"}]


def test_sarif_of_a_store_validates_with_warnings_and_no_file(demo):
    log = _sarif(demo, "--at", AT, expect=0)
    results = log["runs"][0]["results"]
    assert {r["level"] for r in results} == {"warning"}
    assert all("physicalLocation" not in loc for r in results for loc in r["locations"])


def test_sarif_of_a_clean_store_has_no_results(cli):
    assert _sarif(cli, expect=0)["runs"][0]["results"] == []


@pytest.mark.parametrize("form", ["text", "github"])
def test_a_clean_file_prints_nothing(cli, tmp_path, form):
    r = cli("lint", write(tmp_path, BASE), "-o", form)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
