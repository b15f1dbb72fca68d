"""Problems read the same way everywhere: FILE:LINE:COL: SEVERITY CODE
message, each once; a name that does not exist gets a "did you mean"; TOML
syntax errors in plain words; an unknown choice in our words."""

from __future__ import annotations

import pytest

from tests.cli.test_lint import BASE, sm_policy, write


@pytest.mark.parametrize(
    ("line", "where", "wording"),
    [
        ("x = ", "2:5", "a value is missing after '='"),
        ("x = foo", "2:5", 'not a valid value (text needs quotes: "...")'),
        ('x = "a" b', "2:9", "expected the end of the line after the value"),
        ('x = "abc', "2:9", "a string is not closed: its closing quote is missing"),
        ("x = [1, 2", "3:1", "a list is not closed: expected ',' or ']'"),
        ("x", "2:2", "expected '=' after the key"),
        ("[accounts", "2:10", "the table header needs a closing ']'"),
        ('x = "a\\qb"', "2:9", 'a backslash in a "..." string starts an escape'),
        ("name = 'a'\nname = 'b'", "3:11", "this key is given twice"),
    ],
)
def test_toml_syntax_errors_in_plain_words_at_line_and_column(cli, tmp_path, line, where, wording):
    path = write(tmp_path, f"[account]\n{line}\n")
    r = cli("import", path)
    assert r.exit_code == 3, r.output
    first, last = r.stderr.splitlines()
    assert first.startswith(f"{path}:{where}: error SM001 {wording}"), r.output
    assert last == f"error: {path}: 1 problem"


def test_an_unlisted_toml_message_keeps_tomllib_wording_in_lower_case():
    from secmsg_cli.config import _toml_syntax_error

    exc = _toml_syntax_error("c.toml", "x\n", ValueError("Something new (at line 1, column 2)"))
    assert exc.problems == ["c.toml:1:2: error SM001 something new"]


def test_each_problem_is_printed_once_then_the_count(cli, tmp_path):
    path = write(
        tmp_path,
        BASE
        + sm_policy(1, to='{ type = "group", value = "Staf" }')
        + sm_policy(2).replace('"internal"', '"galaxy"'),
    )
    r = cli("import", path)
    assert r.exit_code == 3, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 3 and lines[-1] == f"error: {path}: 2 problems"
    assert lines[0].startswith(f"{path}:") and " error SM103 policies[0] (Policy 1): " in lines[0]
    assert " error SM001 policies[1] (Policy 2): " in lines[1] and "galaxy" in lines[1]
    assert r.stderr.count("Staf'") == 1  # not in a summary line as well


@pytest.mark.parametrize(
    ("extra", "code", "suggestion"),
    [
        (sm_policy(1, to='{ type = "group", value = "staf" }'), "SM103", "'Staff'"),
        (sm_policy(1).replace('"Sec/D"', '"Sec/E"'), "SM101", "'Sec/D'"),
        (
            sm_policy(1, to='{ type = "attribute", name = "Rol", value = "x" }'),
            "SM104",
            "'Role'",
        ),
        (
            '\n[[policies]]\nkind = "content-examination"\nnarrative = "C"\n'
            'content_definition = "Secrt"\nfrom = { type = "internal" }\n'
            'to = { type = "external" }\n'
            '\n[[content_definitions]]\nname = "Secret"\nlines = ["1 secret"]\n',
            "SM102",
            "'Secret'",
        ),
        ('\n[[folders]]\npath = "X"\npublish_to = ["Stuff"]\n', "SM103", "'Staff'"),
        ('\n[[definitions]]\nfolder = "Se"\ndescription = "E"\n', "SM001", "'Sec'"),
    ],
    ids=["group", "definition", "attribute", "content-definition", "publish_to", "folder"],
)
def test_a_reference_to_a_missing_name_has_its_code_and_a_suggestion(
    cli, tmp_path, extra, code, suggestion
):
    r = cli("lint", write(tmp_path, BASE + extra), "-o", "json")
    assert r.exit_code == 3, r.output
    (finding,) = r.json
    assert finding["code"] == code, finding
    assert finding["message"].endswith(f"; did you mean {suggestion}?"), finding


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "policy",
                "create",
                "P",
                "--from",
                "internal",
                "--to",
                "group:Legl",
                "--option",
                "no-action",
            ),
            "error: to: group 'Legl' not found; did you mean 'Legal'?",
        ),
        (("group", "show", "legl"), "error: group 'legl' not found; did you mean 'Legal'?"),
        (
            ("folder", "publish", "Defualt", "Legal"),
            "error: folder 'Defualt' not found; did you mean 'Default'?",
        ),
        (
            ("definition", "show", "Default/All Recipent"),
            "error: definition 'Default/All Recipent' not found; "
            "did you mean 'Default/All Recipients'?",
        ),
        (
            ("policy", "show", "Polcy 1"),
            "error: secure-messaging policy 'Polcy 1' not found; did you mean 'Policy 1'?",
        ),
        (
            ("content-definition", "show", "Secrt"),
            "error: content definition 'Secrt' not found; did you mean 'Secret'?",
        ),
    ],
    ids=["policy-target", "group", "folder", "definition", "policy", "content-definition"],
)
def test_commands_suggest_a_close_name(cli, args, message):
    assert cli("group", "create", "Legal").exit_code == 0
    assert (
        cli(
            "policy",
            "create",
            "Policy 1",
            "--from",
            "internal",
            "--to",
            "external",
            "--option",
            "no-action",
        ).exit_code
        == 0
    )
    assert cli("content-definition", "create", "Secret", "--line", "1 secret").exit_code == 0
    r = cli(*args)
    assert r.exit_code != 0, r.output
    assert r.stderr == message + "\n"


def test_an_attribute_name_is_suggested_too(cli):
    assert cli("attribute", "set", "a@example.com", "Office=London").exit_code == 0
    r = cli(
        "policy",
        "create",
        "P",
        "--from",
        "internal",
        "--to",
        "attribute:Ofice=London",
        "--option",
        "no-action",
    )
    assert r.exit_code != 0
    assert "no address has an attribute named 'Ofice'; did you mean 'Office'?" in r.stderr


@pytest.mark.parametrize(
    ("args", "hint", "choices"),
    [
        (("group", "list", "-o", "yaml"), "'-o'", "table, json, jsonl, csv"),
        (("group", "list", "--output=yaml"), "'--output'", "table, json, jsonl, csv"),
        (
            ("lint", "--format", "yaml"),
            "'--format'",
            "text, table, json, jsonl, csv, github, sarif",
        ),
    ],
)
def test_an_unknown_choice_in_our_words(cli, args, hint, choices):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: invalid value for {hint}: 'yaml' (choose from {choices})")
    assert "Value error" not in r.stderr
