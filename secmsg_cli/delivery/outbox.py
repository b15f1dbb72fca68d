"""The outbox: a Maildir holding every email the system would send (SPEC §7.4).

The directory is created with the standard library's :class:`mailbox.Maildir`
and can be read with it (or any Maildir reader). Messages are written the
Maildir way, in two steps: each file is written and synced in ``tmp/``, then
moved into ``new/`` (a hard link and an unlink, as :mod:`mailbox` does), so a
reader never sees a partial file. A :class:`Batch` holds the files of one
message's delivery: :meth:`Batch.publish` moves them all into ``new/`` just
before the store commits, :meth:`Batch.discard` removes every file of the
batch wherever it is, so a delivery that fails leaves nothing behind.

The outbox is private (directories 0700, files 0600): notifications carry
access tokens.
"""

from __future__ import annotations

import itertools
import mailbox
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from secmsg_cli.errors import SecmsgError

__all__ = ["Outbox", "Batch", "OutboxFile", "OutboxError", "default_outbox"]

_counter = itertools.count(1)


class OutboxError(SecmsgError):
    """The outbox directory cannot be created or written."""


def default_outbox(store_path: Path) -> Path:
    """Beside the store: ``<store>.outbox`` (``demo.db`` -> ``demo.db.outbox``)."""
    if str(store_path) == ":memory:":
        raise OutboxError("an in-memory store has no default outbox: give --outbox DIR")
    return Path(str(store_path) + ".outbox")


@dataclass(frozen=True, slots=True)
class OutboxFile:
    """One message of a batch: what it is, to whom, and where it is now."""

    kind: str  # inbox-copy, notification, read-receipt, reply, ndr
    to: tuple[str, ...]
    name: str
    path: Path
    portal_id: int | None = None


def _hostname() -> str:
    host = socket.gethostname() or "localhost"
    return host.replace("/", r"\057").replace(":", r"\072")


class Outbox:
    """A Maildir outbox at ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        try:
            if self.path.exists() and not self.path.is_dir():
                raise OutboxError(f"cannot use outbox {self.path}: it is not a directory")
            old = os.umask(0o077)
            try:
                mailbox.Maildir(str(self.path), factory=None, create=True)
            finally:
                os.umask(old)
        except OSError as exc:
            raise OutboxError(f"cannot create outbox {self.path}: {exc.strerror or exc}") from None
        for sub in ("tmp", "new", "cur"):
            if not (self.path / sub).is_dir():
                raise OutboxError(f"cannot use outbox {self.path}: it is not a Maildir (no {sub}/ directory)")

    def batch(self) -> Batch:
        return Batch(self)

    def _unique_name(self) -> str:
        now = time.time()
        return (f"{int(now)}.M{int((now % 1) * 1e6):06d}P{os.getpid()}Q{next(_counter)}"
                f"R{secrets.token_hex(4)}.{_hostname()}")


class Batch:
    """The outbox files of one delivery or one portal action: all or none."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.files: list[OutboxFile] = []
        self.published = False

    def add(self, data: bytes, *, kind: str, to: tuple[str, ...] | list[str], portal_id: int | None = None) -> OutboxFile:
        """Write ``data`` into ``tmp/`` (not yet visible to readers)."""
        name = self.outbox._unique_name()
        path = self.outbox.path / "tmp" / name
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise OutboxError(f"cannot write to outbox {self.outbox.path}: {exc.strerror or exc}") from None
        item = OutboxFile(kind, tuple(to), name, path, portal_id)
        self.files.append(item)
        return item

    def publish(self) -> list[OutboxFile]:
        """Move every file into ``new/``; on failure the batch is discarded."""
        done: list[OutboxFile] = []
        try:
            for item in self.files:
                target = self.outbox.path / "new" / item.name
                try:
                    os.link(item.path, target)
                    os.unlink(item.path)
                except (AttributeError, PermissionError, NotImplementedError):  # no hard links here
                    os.rename(item.path, target)
                done.append(OutboxFile(item.kind, item.to, item.name, target, item.portal_id))
        except OSError as exc:
            self.files = done + self.files[len(done):]
            self.discard()
            raise OutboxError(f"cannot write to outbox {self.outbox.path}: {exc.strerror or exc}") from None
        self.files = done
        self.published = True
        return done

    def discard(self) -> None:
        """Remove every file of the batch, in ``tmp/`` or ``new/``."""
        for item in self.files:
            for where in ("tmp", "new"):
                try:
                    (self.outbox.path / where / item.name).unlink(missing_ok=True)
                except OSError:
                    pass
        self.files = []
        self.published = False
