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


def refused(r, *fragments: str, code: int = 1) -> None:
    """A failed command: the exit code, one 'error: ' line on stderr naming the
    problem, nothing on stdout, no traceback."""
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.output
    assert "Traceback" not in r.stderr
    assert r.stdout == "", r.output
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)


def audit_log(cli) -> list[dict]:
    return ok(cli("audit", "-n", "1000000", "-o", "json")).json


def state(cli) -> tuple[dict, int, str]:
    """Everything a failed write must leave alone: object counts, the audit
    log's length and the whole configuration."""
    status = ok(cli("db", "status", "-o", "json")).json
    status.pop("path")
    return status, len(audit_log(cli)), ok(cli("export", "--format", "json")).stdout
