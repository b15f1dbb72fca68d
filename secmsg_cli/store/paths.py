"""Where the store lives: ``--db`` > ``SECMSG_DB`` > the user data directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "SECMSG_DB"
FILE_NAME = "secmsg.db"


def user_data_dir(app: str = "secmsg") -> Path:
    """The platform's per-user data directory for ``app``."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / app
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / app
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / app


def resolve_db_path(option: str | os.PathLike[str] | None) -> Path:
    """The store path from the ``--db`` option, the environment, or the default."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return user_data_dir() / FILE_NAME
