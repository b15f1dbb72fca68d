"""End-to-end smoke: the README's main job on the demo, and the error boundary."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import DEMO


def test_import_demo_and_list_definitions(demo):
    r = demo("definition", "list", "-o", "json")
    assert r.exit_code == 0, r.output
    paths = {d["path"] for d in r.json}
    assert "Default/All Recipients" in paths
    assert "Legal/7-Day Expiry, Receipt" in paths


def test_export_import_export_is_byte_identical(demo, tmp_path):
    first = demo("export")
    assert first.exit_code == 0, first.output
    exported = tmp_path / "a.toml"
    exported.write_text(first.stdout, encoding="utf-8")
    other = tmp_path / "other.db"
    r = demo("--db", other, "import", exported)
    assert r.exit_code == 0, r.output
    second = demo("--db", other, "export")
    assert second.stdout == first.stdout


def test_python_dash_m_runs_and_errors_are_one_line(tmp_path):
    env_db = tmp_path / "x.db"
    ok = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(env_db), "--version"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("secmsg ")
    bad = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(env_db), "domain", "add", "not a domain"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
    assert DEMO.exists()
