"""Fixtures shared by the ``simulate`` test modules.

``_cached_command`` (autouse where imported) builds the Click command tree of
the Typer app once per session instead of on every ``cli(...)`` call: Typer
rebuilds it from the annotations on each ``CliRunner.invoke``, which is ~90% of
the time of an in-process run. The tree and its error boundary are the same.

``demo`` here replaces the conftest fixture of the same name for the modules
that import it: the demo configuration is imported once per session (through
the real ``secmsg import``) and the resulting store file is copied into each
test's own store, which is much faster than importing it for every test.
"""

from __future__ import annotations

import functools
import shutil

import pytest
from typer.testing import CliRunner

from tests.conftest import DEMO

__all__ = ["_cached_command", "db", "demo", "demo_template"]


@functools.cache
def _click_command():
    import typer.main

    from secmsg_cli.cli.app import app

    return typer.main.get_command(app)


@pytest.fixture(autouse=True)
def _cached_command(monkeypatch):
    import typer.testing

    from secmsg_cli.cli.app import app

    real = typer.testing._get_command
    monkeypatch.setattr(
        typer.testing, "_get_command", lambda a: _click_command() if a is app else real(a)
    )


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    from secmsg_cli.cli.app import app

    path = tmp_path_factory.mktemp("demo-template") / "demo.db"
    r = CliRunner().invoke(app, ["--db", str(path), "import", str(DEMO)], catch_exceptions=False)
    assert r.exit_code == 0, r.stdout + r.stderr
    return path


@pytest.fixture
def demo(cli, _isolated_store, demo_template):
    """A store loaded with fixtures/demo.toml (a copy of the session's one)."""
    shutil.copyfile(demo_template, _isolated_store)
    return cli


@pytest.fixture
def db(tmp_path, demo_template):
    """The path of a store file loaded with the demo (a copy of the session's
    one), for tests that run secmsg as a process."""
    path = tmp_path / "demo.db"
    shutil.copyfile(demo_template, path)
    return path
