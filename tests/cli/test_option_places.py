"""Options where users type them: the global ``--db`` and ``-q`` also after
the command (anywhere before ``--``), and a command's option given before the
command named with the place it goes."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES

MSG = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
AT = "2026-11-27T10:00:00+00:00"


@pytest.fixture
def other(bare_cli, tmp_path):
    """A second store, holding one domain, that no environment names."""
    path = tmp_path / "other.db"
    r = bare_cli("--db", path, "init")
    assert r.exit_code == 0, r.output
    r = bare_cli("--db", path, "domain", "add", "other.example")
    assert r.exit_code == 0, r.output
    return path


def domains(r) -> list[str]:
    assert r.exit_code == 0, r.output
    return [d["name"] for d in r.json]


def test_db_after_the_command_is_the_store_used(demo, other):
    before = domains(demo("--db", other, "domain", "list", "-o", "json"))
    assert before == ["other.example"]
    assert domains(demo("domain", "list", "--db", other, "-o", "json")) == before
    assert domains(demo("domain", "list", f"--db={other}", "-o", "json")) == before
    assert domains(demo("domain", "--db", other, "list", "-o", "json")) == before
    # given twice, the last one counts (as for any option)
    assert (
        domains(demo("--db", "/nowhere/x.db", "domain", "list", "--db", other, "-o", "json"))
        == before
    )
    # and without it, the environment's store (the demo)
    assert "other.example" not in domains(demo("domain", "list", "-o", "json"))


def test_quiet_after_the_command(demo):
    loud = demo("simulate", MSG.parent, "--at", AT, "-o", "jsonl")
    quiet = demo("simulate", MSG.parent, "--at", AT, "-o", "jsonl", "-q")
    assert "message(s):" in loud.stderr
    assert quiet.stdout == loud.stdout and "message(s):" not in quiet.stderr
    assert demo("group", "create", "Loud").stdout
    r = demo("group", "create", "Quiet", "--quiet")
    assert r.exit_code == 0 and r.stdout == "", r.output


def test_after_the_double_dash_it_is_an_argument(demo):
    r = demo("simulate", "--at", AT, "--", "--db")
    assert r.exit_code == 1, r.output
    assert "--db" in r.stderr and "no such file" in r.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["-o", "json", "policy", "list"],
            "-o is an option of the command: secmsg policy list -o json",
        ),
        (
            ["-ojson", "policy", "list"],
            "-o is an option of the command: secmsg policy list -o json",
        ),
        (
            ["--output=csv", "-q", "domain", "list"],
            "--output is an option of the command: secmsg domain list --output csv",
        ),
        (
            ["--explain", "simulate", "x.eml"],
            "--explain is an option of the command: secmsg simulate --explain",
        ),
    ],
)
def test_a_command_option_before_the_command_says_where_it_goes(demo, argv, said):
    r = demo(*argv)
    assert r.exit_code == 2, r.output
    assert r.stderr == f"error: {said}\n"


def test_an_option_no_command_has_is_still_unknown(demo):
    r = demo("-x", "policy", "list")
    assert r.exit_code == 2 and r.stderr.startswith("error: No such option: -x"), r.output
    r = demo("--rcpt", "a@b.example", "policy", "list")
    assert r.exit_code == 2 and "No such option: --rcpt" in r.stderr, r.output


def test_the_global_options_after_the_command_are_not_in_its_help(demo):
    r = demo("policy", "list", "--help")
    assert r.exit_code == 0 and "--db" not in r.stdout, r.output
    r = demo("--help")
    assert "--db" in r.stdout
