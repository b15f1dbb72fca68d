"""A fixture shared by the test modules that run secmsg as a process.

The in-process ``cli``, ``demo`` and ``demo_template`` fixtures (one Click
command tree and one demo store per session, copied per test) live in
tests/conftest.py; this module adds only ``db``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

__all__ = ["db"]


@pytest.fixture
def db(tmp_path: Path, demo_template: Path) -> Path:
    """The path of a store file loaded with the demo (a copy of the session's
    one), for tests that run secmsg as a process."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    return path
