"""Shared fixtures: every test gets its own store path through SECMSG_DB, so no
test touches a real one; ``cli`` runs the real application in-process on a
store made there by ``secmsg init`` (no other command creates one),
``bare_cli`` with none yet."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
DEMO = FIXTURES / "demo.toml"
# the shared corpus beside the project (SECMSG_TEST_CORPUS: elsewhere, e.g. from a worktree)
CORPUS = Path(os.environ.get("SECMSG_TEST_CORPUS") or ROOT.parent / "shared" / "corpus")


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    monkeypatch.setenv("SECMSG_DB", str(db))
    monkeypatch.delenv("SECMSG_DEBUG", raising=False)
    monkeypatch.setenv("SECMSG_ACTOR", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    return db


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return f"exit={self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@pytest.fixture
def invoke_app():
    """How ``cli`` runs the application: ``(args, input) -> Result``
    (tests/cli/_simulate_support.py overrides it to reuse one Click command)."""
    from secmsg_cli.cli.app import app

    runner = CliRunner()

    def invoke(args: list[str], input: str | None) -> Result:
        r = runner.invoke(app, args, input=input, catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return invoke


@pytest.fixture
def bare_cli(invoke_app):
    """``cli`` with no store at ``SECMSG_DB`` yet (only init, import and apply
    create one)."""

    def run(*args: str, input: str | None = None) -> Result:
        return invoke_app([str(a) for a in args], input)

    return run


@pytest.fixture
def cli(bare_cli, _isolated_store):
    """``cli("group", "list", "-o", "json")`` -> Result (exit code, stdout,
    stderr), on a new store at ``SECMSG_DB`` made by ``secmsg init``."""
    r = bare_cli("init")
    assert r.exit_code == 0 and _isolated_store.is_file(), r.output
    return bare_cli


@pytest.fixture
def demo(cli):
    """A store loaded with fixtures/demo.toml."""
    r = cli("import", DEMO)
    assert r.exit_code == 0, r.output
    return cli
