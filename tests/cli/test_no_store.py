"""No accidental store: only ``init``, ``import`` and ``apply`` create one;
every other command, given a path where there is none, says so in one line
and how to make one (exit 1), and creates neither file nor folder. A mistyped
``--db`` must never be answered as if it were an empty organisation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.conftest import DEMO, FIXTURES, ROOT
from tests.helpers import ok

MSG = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
CASES = FIXTURES / "cases.toml"
AT = "2026-11-27T10:00:00Z"
TOKEN = "A" * 43

# Every command that reads or writes an existing store, with arguments it
# would accept on one (so that what fails is the missing store, not them).
USES_A_STORE = {
    "audit": [],
    "simulate": [MSG],
    "deliver": [MSG, "--at", AT],
    "preview": [MSG, "--out", "{tmp}/preview", "--at", AT],
    "test": [CASES],
    "export": [],
    "plan": [DEMO],
    "lint": [],
    "db status": [],
    "db backup": ["{tmp}/backup.db"],
    "db check": [],
    "account show": [],
    "account set": ["--name", "Acme"],
    "domain add": ["example.com"],
    "domain list": [],
    "domain remove": ["example.com"],
    "group create": ["Board"],
    "group list": [],
    "group show": ["Board"],
    "group delete": ["Board"],
    "group add-member": ["Board", "a@example.com"],
    "group remove-member": ["Board", "a@example.com"],
    "attribute set": ["a@example.com", "Role=CEO"],
    "attribute list": [],
    "attribute unset": ["a@example.com", "Role"],
    "folder create": ["Legal"],
    "folder list": [],
    "folder rename": ["Legal", "Law"],
    "folder move": ["Legal", "Default"],
    "folder delete": ["Legal"],
    "folder publish": ["Legal", "everyone"],
    "folder unpublish": ["Legal", "everyone"],
    "definition create": ["Default/Mine"],
    "definition list": [],
    "definition show": ["Default/All Recipients"],
    "definition update": ["Default/All Recipients", "--print"],
    "definition delete": ["Default/Mine"],
    "content-definition create": ["Card", "--line", '1 "card"'],
    "content-definition list": [],
    "content-definition show": ["Card"],
    "content-definition update": ["Card", "--line", '1 "card"'],
    "content-definition delete": ["Card"],
    "notification-template list": [],
    "notification-template show": ["Branded"],
    "notification-template remove": ["Branded"],
    "policy create": ["Counsel", "--definition", "Default/All Recipients", "--to", "external"],
    "policy list": [],
    "policy show": ["1"],
    "policy update": ["1", "--narrative", "N"],
    "policy delete": ["1"],
    "policy enable": ["1"],
    "policy disable": ["1"],
    "bypass create": ["Clear", "--to", "external"],
    "bypass list": [],
    "bypass show": ["1"],
    "bypass update": ["1", "--narrative", "N"],
    "bypass delete": ["1"],
    "bypass enable": ["1"],
    "bypass disable": ["1"],
    "content-policy create": ["Cards", "--content-definition", "Card"],
    "content-policy list": [],
    "content-policy show": ["1"],
    "content-policy update": ["1", "--narrative", "N"],
    "content-policy delete": ["1"],
    "content-policy enable": ["1"],
    "content-policy disable": ["1"],
    "portal open": [TOKEN, "--at", AT],
    "portal reply": [TOKEN, "--body", "thanks", "--at", AT],
    "portal print": [TOKEN, "--at", AT],
    "portal list": [],
    "portal show": ["1"],
    "portal extend": ["1", "--by", "1d"],
    "portal recall": ["1"],
    "portal revoke": ["1"],
    "portal expire": ["1"],
    "portal sweep": ["--at", AT],
    "portal serve": ["--port", "0"],
    "report messages": [],
    "report reads": [],
    "report expiring": [],
    "report ended": [],
    "report senders": [],
    "user add": ["a@example.com"],
    "user list": [],
    "user remove": ["a@example.com"],
}
CREATES = {"init", "import", "apply"}
# report run reads a run file; without a store it leaves out what never fired
NO_STORE_NEEDED = {"db path", "schema", "report run"}


def _commands() -> set[str]:
    from secmsg_cli.cli.app import app

    def walk(cmd, prefix: tuple[str, ...]):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*prefix, name))
        else:
            yield " ".join(prefix)

    return set(walk(typer.main.get_command(app), ()))


def test_every_command_is_classified():
    """A new command must say whether it creates a store (and get a case here)."""
    assert _commands() == set(USES_A_STORE) | CREATES | NO_STORE_NEEDED


def _refused(r, where: Path) -> None:
    assert r.exit_code == 1, r.output
    assert r.stderr == (
        f"error: no store at {where}: create one with 'secmsg init' or 'secmsg import FILE' "
        "(or point --db / SECMSG_DB at an existing store)\n"
    ), r.output
    assert r.stdout == ""


@pytest.mark.parametrize("command", sorted(USES_A_STORE))
def test_a_command_given_no_store_says_so_and_creates_nothing(bare_cli, tmp_path, command):
    where = tmp_path / "typo" / "secmsg.db"
    args = [str(a).format(tmp=tmp_path) for a in USES_A_STORE[command]]
    _refused(bare_cli("--db", where, *command.split(), *args), where)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no backup, no outbox


def test_the_environment_path_is_named_too(bare_cli, _isolated_store):
    _refused(bare_cli("policy", "list", "-o", "json"), _isolated_store)
    assert not _isolated_store.parent.exists() or list(_isolated_store.parent.iterdir()) == []


def test_an_empty_file_is_no_store(bare_cli, tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    _refused(bare_cli("--db", empty, "domain", "list"), empty)
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_db_path_prints_the_path_without_a_store(bare_cli, tmp_path):
    where = tmp_path / "typo" / "secmsg.db"
    assert ok(bare_cli("--db", where, "db", "path")).stdout == f"{where}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (("init",), ("domain", "list", "-o", "json")),
        (("import", DEMO), ("group", "show", "Board", "-o", "json")),
        (("apply", DEMO, "--yes"), ("group", "show", "Board", "-o", "json")),
    ],
    ids=["init", "import", "apply"],
)
def test_init_import_and_apply_create_the_store_and_its_folders(bare_cli, tmp_path, args, check):
    where = tmp_path / "new" / "folder" / "secmsg.db"
    ok(bare_cli("--db", where, *args))
    assert where.is_file()
    ok(bare_cli("--db", where, *check))


def test_lint_and_test_of_a_file_need_no_store(bare_cli, _isolated_store):
    assert bare_cli("lint", DEMO).exit_code in (0, 3)
    assert ok(bare_cli("test", CASES, "--config", DEMO)).stdout
    assert not _isolated_store.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", MSG, "-o", "json"),  # the lean path (cli/entry.py)
        ("simulate", MSG, "--explain", "-o", "json"),
        ("simulate", FIXTURES / "messages", "-o", "jsonl"),
        ("simulate", MSG, "--bogus-for-typer"),  # Typer's path: a usage error first
        ("deliver", MSG, "-o", "json"),
        ("policy", "list"),
    ],
    ids=[
        "simulate-lean",
        "simulate-explain",
        "simulate-batch",
        "simulate-usage",
        "deliver",
        "policy-list",
    ],
)
def test_the_console_script_refuses_a_mistyped_path(tmp_path, args):
    where = tmp_path / "typo" / "secmsg.db"
    env = {k: v for k, v in os.environ.items() if k not in ("SECMSG_DB", "SECMSG_DEBUG")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(where), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if "--bogus-for-typer" in args:
        assert r.returncode == 2 and "no such option" in r.stderr.lower(), r
    else:
        assert r.returncode == 1, r
        assert r.stderr.startswith(f"error: no store at {where}: create one with 'secmsg init'"), (
            r.stderr
        )
        assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_store_path_that_is_not_a_store_is_one_line(bare_cli, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for args in (("domain", "list"), ("init",), ("import", DEMO)):
        r = bare_cli("--db", notes, *args)
        assert r.exit_code == 1, r.output
        assert (
            r.stderr
            == f"error: cannot open store {notes}: it is not a secmsg store (not an SQLite database)\n"
        )
    assert notes.read_text() == "my notes\n"
    for args in (("domain", "list"), ("init",)):
        r = bare_cli("--db", tmp_path, *args)
        assert (
            r.exit_code == 1
            and r.stderr == f"error: cannot open store {tmp_path}: it is a directory\n"
        ), r.output
