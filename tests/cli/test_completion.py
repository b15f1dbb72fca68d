"""Shell completion of the names in the store: the functions Typer calls,
tested directly, and once through the shell protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from secmsg_cli.cli import _complete


def ctx_for(*, db: str | None = None, group: str | None = None) -> Any:
    """What the completion functions read of the context Click builds for
    completion: the root's parameters (--db) and the command's group."""
    root = SimpleNamespace(params={"db": db} if db is not None else {})
    root.find_root = lambda: root
    parent = SimpleNamespace(info_name=group or "x")
    return SimpleNamespace(find_root=lambda: root, parent=parent, info_name="show")


def values(found):
    return [value for value, _ in found]


def test_definitions_from_the_store(demo):
    got = values(_complete.definitions(ctx_for(), "legal/"))
    assert "Legal/Client Correspondence" in got
    assert all(v.lower().startswith("legal/") for v in got)


def test_content_definitions_groups_and_targets(demo):
    assert values(_complete.content_definitions(ctx_for(), "Conf")) == ["Confidential subject"]
    assert "Legal" in values(_complete.groups(ctx_for(), "le"))
    assert values(_complete.targets(ctx_for(), "group:Fin")) == ["group:Finance"]
    assert "internal" in values(_complete.targets(ctx_for(), "in"))


def test_policy_ids_of_the_commands_kind_with_narratives(demo):
    found = dict(_complete.policies(ctx_for(group="bypass"), ""))
    assert found == {"6": "Board mail to auditors is not secured"}
    found = dict(_complete.policies(ctx_for(group="policy"), "1"))
    assert found["1"].startswith("Legal mail to partner counsel")


def test_db_on_the_command_line_wins(demo, _isolated_store, monkeypatch, tmp_path):
    monkeypatch.setenv("SECMSG_DB", str(tmp_path / "elsewhere.db"))
    assert _complete.groups(ctx_for(), "") == []
    assert "Legal" in values(_complete.groups(ctx_for(db=str(_isolated_store)), ""))


@pytest.mark.parametrize("complete", [_complete.definitions, _complete.groups, _complete.policies])
def test_no_store_no_completions_and_nothing_created(complete, tmp_path, monkeypatch, capsys):
    missing = tmp_path / "none.db"
    monkeypatch.setenv("SECMSG_DB", str(missing))
    assert complete(ctx_for(group="policy"), "") == []
    assert not missing.exists()
    assert capsys.readouterr() == ("", "")


def test_an_unreadable_store_gives_nothing(tmp_path, monkeypatch):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("SECMSG_DB", str(bad))
    assert _complete.definitions(ctx_for(), "") == []
    assert _complete.targets(ctx_for(), "ev") == [("everyone", "")]


def test_through_the_shell_protocol(demo, _isolated_store):
    env = dict(
        os.environ,
        _SECMSG_COMPLETE="complete_bash",
        COMP_WORDS="secmsg policy create x --definition Legal/Cl",
        COMP_CWORD="5",
        SECMSG_DB=str(_isolated_store),
    )
    r = subprocess.run(
        [sys.executable, "-m", "secmsg_cli"], env=env, capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stderr
    assert "Legal/Client Correspondence" in r.stdout
    assert r.stderr == ""
