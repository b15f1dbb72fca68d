"""Text from a configuration file reaches the terminal escaped (issue 11 §5):
the error labels and problems of ``import``, ``plan``, ``apply`` and ``lint``,
lint's findings, plan's changes and the listings of every command. An ESC
sequence, an OSC title or link, a BEL or a bare CR in a narrative, a banner or
a match line is shown as ``\\x1b``, never written raw; JSON stays JSON (its
own escapes carry the text unchanged)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEMO
from tests.helpers import ok

ESC = "\x1b]0;owned\x07\x1b[2J\rcarriage\x9b31m"  # OSC title, clear screen, bare CR, C1 CSI
RAW = ("\x1b", "\x07", "\r", "\x9b")
IN_LINE = ESC.replace("\r", "")  # a match line is one line: CR is refused there


def assert_no_raw_controls(*texts: str) -> None:
    for text in texts:
        for ch in RAW:
            assert ch not in text, (ch, text[:2000])


def toml_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in text)


def write(tmp_path, doc: dict, name: str = "c.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


BASE = {
    "domains": [{"name": "corp.example"}],
    "folders": [{"path": "Sec", "publish_to": ["everyone"]}],
    "definitions": [
        {"folder": "Sec", "description": "D", "banner": f"<p>Secure [bogus] {ESC}</p>"}
    ],
    "content_definitions": [
        {"name": "Words", "lines": [f'1 "hello {IN_LINE}"'], "secure_messaging": "Sec/D"}
    ],
    "policies": [
        {"kind": "content-examination", "narrative": "Words out", "content_definition": "Words"}
    ],
}

INVALID = {
    # labels: a policy's narrative and a definition's description as the file writes them
    "policies": [{"kind": "bypass", "narrative": f"Bad {ESC}", "option": "maybe"}],
    "definitions": [{"folder": "Nowhere", "description": f"Desc {ESC}"}],
    "groups": [{"name": f"G {ESC}"}],
}


@pytest.mark.parametrize("command", [["import"], ["plan"], ["apply", "--yes"]], ids=" ".join)
def test_problems_of_an_invalid_config_are_escaped(cli, tmp_path, command):
    path = write(tmp_path, INVALID)
    if command != ["import"]:
        ok(cli("init"))
    r = cli(*command, path)
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines()[-1].startswith("error: ") and "\\x1b" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) > 2  # one line per problem, then the count
    assert_no_raw_controls(r.stdout, r.stderr)


def test_lint_findings_of_an_invalid_config_are_escaped_in_a_table_and_exact_in_json(cli, tmp_path):
    path = write(tmp_path, INVALID)
    table = cli("lint", path)
    assert table.exit_code == 3, table.output
    assert "SM001" in table.stdout and "\\x1b" in table.stdout
    assert_no_raw_controls(table.stdout, table.stderr)
    as_json = cli("lint", path, "-o", "json")
    assert as_json.exit_code == 3
    assert "\\u001b" in as_json.stdout and "\x1b" not in as_json.stdout  # JSON's own escape
    objects = [f["object"] for f in as_json.json]
    assert any(ESC[:5] in o for o in objects), objects  # the text itself, unchanged, for machines


def test_lint_of_a_valid_config_with_controls_in_its_text(cli, tmp_path):
    path = write(tmp_path, BASE)
    r = cli("lint", path)
    assert r.exit_code == 0, r.output
    assert "SM401" in r.stdout  # [bogus] in the banner
    assert_no_raw_controls(r.stdout, r.stderr)


def test_plan_shows_changed_text_escaped(cli, tmp_path):
    ok(cli("init"))
    path = write(tmp_path, BASE)
    r = cli("plan", path)
    assert r.exit_code == 0, r.output
    assert "Sec/D" in r.stdout
    ok(cli("apply", path, "--yes"))
    changed = json.loads(json.dumps(BASE).replace("Secure [bogus]", "Now [bogus]"))
    changed["content_definitions"][0]["lines"] = [f'2 "bye {IN_LINE}"']
    changed_path = write(tmp_path, changed, "changed.json")
    r = cli("plan", changed_path)
    assert r.exit_code == 0, r.output
    assert "banner" in r.stdout and "lines" in r.stdout and "\\x1b" in r.stdout, r.stdout
    assert_no_raw_controls(r.stdout, r.stderr)
    as_json = cli("plan", changed_path, "-o", "json")
    banner = next(c for c in as_json.json["changes"] if c["kind"] == "definition")["changes"][
        "banner"
    ]
    assert ESC in banner["after"]


def test_plan_and_apply_name_a_file_with_controls_escaped(cli, tmp_path):
    ok(cli("init"))
    path = write(tmp_path, BASE, f"c{ESC[:6]}.json")
    for command in (["plan", path], ["apply", path, "--yes"], ["plan", path]):
        r = cli(*command)
        assert r.exit_code == 0, r.output
        assert_no_raw_controls(r.stdout, r.stderr)


def test_a_file_name_that_looks_like_rich_markup_is_shown_as_written(cli, tmp_path):
    ok(cli("init"))
    path = write(tmp_path, {}, "[bold]x[red].json")
    r = cli("plan", path)
    assert r.exit_code == 0, r.output
    assert "[bold]x[red].json" in r.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["content-definition", "show", "Words"],
        ["content-definition", "list"],
        ["definition", "show", "Sec/D"],
        ["definition", "list"],
    ],
    ids=" ".join,
)
def test_listings_and_shows_escape_stored_text(cli, tmp_path, command):
    ok(cli("import", write(tmp_path, BASE)))
    r = cli(*command)
    assert r.exit_code == 0, r.output
    assert_no_raw_controls(r.stdout, r.stderr)


def test_test_command_escapes_case_names_and_diffs(cli, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_text(
        f"From: a@corp.example\nTo: b@partner.example\nSubject: hi {ESC}\n\nhello\n",
        encoding="utf-8",
    )
    cases = tmp_path / "cases.toml"
    cases.write_text(
        "[defaults]\nat = 2026-11-27T10:00:00Z\n"
        f"[[case]]\nname = \"name {toml_escaped(ESC)}\"\nmessage = '{msg}'\n"
        "[[case.expect]]\nrecipient = 'b@partner.example'\nroute = 'portal'\n",
        encoding="utf-8",
    )
    r = cli("test", cases, "--config", DEMO)
    assert r.exit_code == 4, r.output
    assert "FAIL" in r.stdout and "\\x1b" in r.stdout
    assert_no_raw_controls(r.stdout, r.stderr)
