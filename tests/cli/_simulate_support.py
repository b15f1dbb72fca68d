"""Fixtures shared by the ``simulate`` test modules.

``_cached_command`` (the ``invoke_app`` fixture, where imported) runs the Click
command tree of the Typer app built once per session instead of on every
``cli(...)`` call: ``CliRunner.invoke`` takes the Typer app and rebuilds the tree
from the annotations each time, which is ~90% of the time of an in-process run.
The tree and its error boundary are the same; only public API is used
(``typer.main.get_command``, ``CliRunner.isolation``, the command's ``main``).

``demo`` here replaces the conftest fixture of the same name for the modules
that import it: the demo configuration is imported once per session (through
the real ``secmsg import``) and the resulting store file is copied into each
test's own store, which is much faster than importing it for every test.
"""

from __future__ import annotations

import functools
import shutil
import sys

import pytest
from typer.testing import CliRunner

from tests.conftest import DEMO, Result

__all__ = ["_cached_command", "db", "demo", "demo_template", "invoke_command"]


@functools.cache
def _click_command():
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


@pytest.fixture(name="invoke_app")
def _cached_command():
    """conftest's ``invoke_app`` on the session's one Click command."""
    runner = CliRunner()
    command = _click_command()
    return lambda args, input: invoke_command(runner, command, args, input)


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
