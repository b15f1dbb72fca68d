"""Assertion helpers shared by the CLI tests."""

from __future__ import annotations


def ok(r):
    assert r.exit_code == 0, r.output
    return r


def assert_error(r, code: int, *fragments: str) -> None:
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.output
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)
    assert r.stdout == "", r.output


def snapshot(cli) -> tuple[dict, str]:
    status = cli("db", "status", "-o", "json")
    assert status.exit_code == 0, status.output
    exported = cli("export", "--format", "json")
    assert exported.exit_code == 0, exported.output
    return status.json, exported.stdout
