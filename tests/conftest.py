"""Shared fixtures: every test gets its own store path through SECMSG_DB, so no
test touches a real one; ``cli`` runs the real application in-process on a
store made there by ``secmsg init`` (no other command creates one),
``bare_cli`` with none yet.

Work done once instead of in every test (what keeps the suite fast):

- the Click command tree of the Typer app is built once per session
  (``typer.main.get_command``, public API) and each ``cli(...)`` call runs it
  the way ``CliRunner.invoke`` does: ``invoke`` rebuilds the tree from the
  annotations on every call, most of the time of an in-process run;
- ``secmsg init`` and ``secmsg import fixtures/demo.toml`` run once per session
  (per xdist worker), through the real commands, and each test gets a copy of
  the resulting store file (``shutil.copy``: contents and the 0600 mode).

Hypothesis runs with its default settings (and each test's own) unless the
``quick`` profile is asked for (``HYPOTHESIS_PROFILE=quick`` or
``--hypothesis-profile=quick``): fewer examples in the edit-test loop.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
DEMO = FIXTURES / "demo.toml"
# the shared corpus beside the project (SECMSG_TEST_CORPUS: elsewhere, e.g. from a worktree)
CORPUS = Path(os.environ.get("SECMSG_TEST_CORPUS") or ROOT.parent / "shared" / "corpus")

# Hypothesis' own profiles stay as they are (its "ci" one where CI is detected);
# "quick" caps the examples of the tests that set no count of their own, for the
# edit-test loop: HYPOTHESIS_PROFILE=quick or --hypothesis-profile=quick.
settings.register_profile("quick", max_examples=20)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

# what every test's process environment holds while a test runs
TEST_ENV = {"SECMSG_ACTOR": "tester", "COLUMNS": "200"}


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    db = tmp_path / "store.db"
    monkeypatch.setenv("SECMSG_DB", str(db))
    monkeypatch.delenv("SECMSG_DEBUG", raising=False)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
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


@functools.cache
def click_command():
    """The application's Click command tree, built once."""
    import typer.main

    from secmsg_cli.cli.app import app

    return typer.main.get_command(app)


def invoke_command(runner: CliRunner, command, args: list[str], input: str | None) -> Result:
    """What ``CliRunner.invoke`` does (with ``catch_exceptions=False``), for a
    Click command built beforehand: the exit code and the two streams."""
    with runner.isolation(input=input) as (out, err, _):
        try:
            command.main(args=args, prog_name=runner.get_default_prog_name(command))
            code = 0
        except SystemExit as exc:
            code = exc.code
            if code is None:
                code = 0
            elif not isinstance(code, int):
                sys.stdout.write(f"{code}\n")
                code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            stdout, stderr = out.getvalue(), err.getvalue()

    def text(data: bytes) -> str:
        return data.decode(runner.charset, "replace").replace("\r\n", "\n")

    return Result(code, text(stdout), text(stderr))


def run_cli(*args: str | Path, input: str | None = None) -> Result:
    """``secmsg ARGS`` in-process on the session's command tree."""
    return invoke_command(CliRunner(), click_command(), [str(a) for a in args], input)


@pytest.fixture
def invoke_app() -> Callable[[list[str], str | None], Result]:
    """How ``cli`` runs the application: ``(args, input) -> Result``."""
    runner = CliRunner()
    command = click_command()
    return lambda args, input: invoke_command(runner, command, args, input)


@pytest.fixture
def bare_cli(invoke_app):
    """``cli`` with no store at ``SECMSG_DB`` yet (only init, import and apply
    create one)."""

    def run(*args: str, input: str | None = None) -> Result:
        return invoke_app([str(a) for a in args], input)

    return run


def _template(tmp_path_factory, name: str, *commands: tuple[str | Path, ...]) -> Path:
    """A store file made once by running ``commands`` (the real ones, in the
    tests' environment) on a new path; tests copy it."""
    path = tmp_path_factory.mktemp(name) / "store.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SECMSG_DB", str(path))
        mp.delenv("SECMSG_DEBUG", raising=False)
        for var, value in TEST_ENV.items():
            mp.setenv(var, value)
        for command in commands:
            r = run_cli(*command)
            assert r.exit_code == 0, r.output
    assert path.is_file() and not Path(f"{path}-wal").exists(), list(path.parent.iterdir())
    return path


@pytest.fixture(scope="session")
def init_template(tmp_path_factory) -> Path:
    """A store made by ``secmsg init``, once per session."""
    return _template(tmp_path_factory, "init-template", ("init",))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A store made by ``secmsg init`` + ``secmsg import fixtures/demo.toml``,
    once per session."""
    return _template(tmp_path_factory, "demo-template", ("init",), ("import", DEMO))


@pytest.fixture
def cli(bare_cli, _isolated_store, init_template):
    """``cli("group", "list", "-o", "json")`` -> Result (exit code, stdout,
    stderr), on a new store at ``SECMSG_DB`` made by ``secmsg init`` (a copy of
    the session's one)."""
    shutil.copy(init_template, _isolated_store)
    return bare_cli


@pytest.fixture
def demo(cli, _isolated_store, demo_template):
    """A store loaded with fixtures/demo.toml (a copy of the session's one)."""
    shutil.copy(demo_template, _isolated_store)
    return cli
