"""The benchmark script stays runnable (issue 7): a small ``--quick`` run
prints every figure with its ratio. Smoke only: no timing is asserted (speed
is read from the printed figures, never tested)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # runs the benchmark


def test_the_quick_benchmark_prints_every_figure(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--runs",
            "1",
            "--memory-messages",
            "200",
            "--workdir",
            str(tmp_path / "bench"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    for figure in ("throughput", "scaling", "cold start", "peak memory", "hit-heavy", "hostile"):
        line = next((ln for ln in out.splitlines() if ln.startswith(figure)), None)
        assert line is not None, out
    assert out.count(" ratio ") == 6 and out.count("-> ") == 6
    assert "goals met" in out.splitlines()[-1]


def test_the_portal_scale_benchmark_prints_every_figure(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "portal_scale.py"),
            "--small",
            "200",
            "--large",
            "2000",
            "--runs",
            "1",
            "--plans",
            "--workdir",
            str(tmp_path / "bench"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert out.count(" ratio ") == 12 and out.count("-> ") == 12, out
    assert out.count("plan --") == 4 and "SCAN c " not in out.replace("SCAN c USING INDEX", "")
    assert "goals" in out.splitlines()[-1]
