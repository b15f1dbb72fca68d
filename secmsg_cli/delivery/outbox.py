"""The outbox: a Maildir holding every email the system would send (docs/portal.md).

The directory is created with the standard library's :class:`mailbox.Maildir`
and can be read with it (or any Maildir reader). Messages are written the
Maildir way, in two steps, around the store's transaction: each file is
written and synced in ``tmp/`` (invisible to readers) while the transaction
is open, and the transaction records the files' names; only after it has
committed are they moved into ``new/`` (a hard link and an unlink, as
:mod:`mailbox` does). So the outbox never announces a copy the store does not
hold: a transaction that fails removes its files (:meth:`Batch.discard`), and
a process killed between the commit and the move leaves files that
:meth:`Outbox.recover` (run by the next command that uses the outbox) moves
to ``new/`` if the store says they were committed, and removes otherwise once
the process that wrote them is gone.

The outbox is private (directories 0700, files 0600): notifications carry
access tokens. An outbox that every user may write to, or whose ``tmp/``,
``new/`` or ``cur/`` is a symbolic link, is refused.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import mailbox
import os
import re
import secrets
import socket
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from secmsg_cli.errors import SecmsgError

__all__ = ["Batch", "Outbox", "OutboxError", "OutboxFile", "default_outbox"]

_counter = itertools.count(1)


class OutboxError(SecmsgError):
    """The outbox directory cannot be created or written."""


class OutboxDeferred(OutboxError):
    """The store has committed, but the batch's files could not be moved
    into ``new/``: what was done is done, and its mail waits in ``tmp/`` for
    the next run (:meth:`Outbox.recover`). Doing it again would do it twice."""


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


_SUBDIRS = ("tmp", "new", "cur")
# the names _unique_name() writes: time, microseconds, process, counter, random, host
_OUR_NAME = re.compile(r"\d+\.M\d{6}P(\d+)Q\d+R[0-9a-f]{8}\.(.+)")
STALE_SECONDS = 36 * 3600  # Maildir: a file left in tmp/ this long is abandoned


class Outbox:
    """A Maildir outbox at ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        try:
            if self.path.exists() and not self.path.is_dir():
                raise OutboxError(f"cannot use outbox {self.path}: it is not a directory")
            self._check_links()
            old = os.umask(0o077)
            try:
                mailbox.Maildir(str(self.path), factory=None, create=True)
            finally:
                os.umask(old)
        except OSError as exc:
            raise OutboxError(f"cannot create outbox {self.path}: {exc.strerror or exc}") from None
        for sub in _SUBDIRS:
            if not (self.path / sub).is_dir():
                raise OutboxError(
                    f"cannot use outbox {self.path}: it is not a Maildir (no {sub}/ directory)"
                )
        self._check_links()
        for where in (self.path, *(self.path / sub for sub in _SUBDIRS)):
            try:
                mode = where.stat().st_mode
            except OSError as exc:
                raise OutboxError(f"cannot use outbox {self.path}: {exc.strerror or exc}") from None
            if mode & stat.S_IWOTH:
                shown = self.path if where == self.path else f"{self.path}/{where.name}"
                raise OutboxError(
                    f"cannot use outbox {self.path}: {shown} is writable by every user "
                    f"(notifications carry access tokens; run chmod o-w {shown})"
                )

    def _check_links(self) -> None:
        for sub in _SUBDIRS:
            if (self.path / sub).is_symlink():
                raise OutboxError(
                    f"cannot use outbox {self.path}: its {sub}/ is a symbolic link "
                    "(an outbox's tmp/, new/ and cur/ must be directories inside it)"
                )

    @functools.cached_property
    def key(self) -> str:
        """How the store names this outbox: its absolute, resolved path (looked up once)."""
        return str(self.path.resolve())

    def batch(self) -> Batch:
        return Batch(self)

    def _unique_name(self) -> str:
        now = time.time()
        return (
            f"{int(now)}.M{int((now % 1) * 1e6):06d}P{os.getpid()}Q{next(_counter)}"
            f"R{secrets.token_hex(4)}.{_hostname()}"
        )

    def _move_to_new(self, name: str) -> Path:
        """Move ``tmp/name`` to ``new/name``; done already is fine (another
        process may be recovering the same file)."""
        source, target = self.path / "tmp" / name, self.path / "new" / name
        try:
            os.link(source, target)
        except FileExistsError:
            pass
        except FileNotFoundError:
            if not target.exists():
                raise
            return target
        except (AttributeError, PermissionError, NotImplementedError):  # no hard links here
            try:
                os.rename(source, target)
            except FileNotFoundError:
                if not target.exists():
                    raise
            return target
        source.unlink(missing_ok=True)
        return target

    def recover(self, committed: set[str]) -> tuple[list[str], list[str]]:
        """Files left in ``tmp/`` by a process that stopped between writing
        them and moving them to ``new/``: those in ``committed`` (the store
        holds what they announce) are moved to ``new/``; the others are
        removed once the process that wrote them is gone (or after
        :data:`STALE_SECONDS`). Returns (moved, removed); a committed name
        whose file is already in ``new/`` counts as moved."""
        moved, removed = [], []
        for name in sorted(committed):
            try:
                self._move_to_new(name)
            except FileNotFoundError:
                pass  # gone from both: nothing to announce any more
            except OSError as exc:
                raise OutboxError(
                    f"cannot write to outbox {self.path}: {exc.strerror or exc}"
                ) from None
            moved.append(name)
        try:
            left = [e for e in os.scandir(self.path / "tmp") if e.name not in committed]
        except OSError as exc:
            raise OutboxError(f"cannot read outbox {self.path}: {exc.strerror or exc}") from None
        now = time.time()
        for entry in left:
            m = _OUR_NAME.fullmatch(entry.name)
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
                if (m and m.group(2) == _hostname() and not _alive(int(m.group(1)))) or old:
                    os.unlink(entry.path)
                    removed.append(entry.name)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutboxError(
                    f"cannot write to outbox {self.path}: {exc.strerror or exc}"
                ) from None
        return moved, removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, OSError):
        return True  # another user's process, or cannot tell: leave its files alone
    return True


class Batch:
    """The outbox files of one delivery or one portal action: written to
    ``tmp/`` while the store's transaction is open, moved to ``new/`` once it
    has committed (:meth:`publish`), removed if it did not (:meth:`discard`)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.files: list[OutboxFile] = []
        self.committed = False  # set once the store's transaction has committed

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.files]

    def add(
        self,
        data: bytes,
        *,
        kind: str,
        to: tuple[str, ...] | list[str],
        portal_id: int | None = None,
    ) -> OutboxFile:
        """Write ``data`` into ``tmp/`` (not yet visible to readers)."""
        name = self.outbox._unique_name()
        path = self.outbox.path / "tmp" / name
        try:
            fd = os.open(
                path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600
            )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise OutboxError(
                f"cannot write to outbox {self.outbox.path}: {exc.strerror or exc}"
            ) from None
        item = OutboxFile(kind, tuple(to), name, path, portal_id)
        self.files.append(item)
        return item

    def publish(self) -> list[OutboxFile]:
        """Move every file into ``new/`` (after the store's commit). A file
        that cannot be moved stays in ``tmp/``, where :meth:`Outbox.recover`
        finds it on the next run."""
        done: list[OutboxFile] = []
        try:
            for item in self.files:
                target = self.outbox._move_to_new(item.name)
                done.append(OutboxFile(item.kind, item.to, item.name, target, item.portal_id))
        except OSError as exc:
            self.files = done + self.files[len(done) :]
            raise OutboxDeferred(
                f"cannot move files into {self.outbox.path}/new: {exc.strerror or exc}; what was done "
                "is recorded in the store (do not do it again), and its mail in "
                f"{self.outbox.path}/tmp is moved on the next run"
            ) from None
        self.files = done
        return done

    def discard(self) -> None:
        """Remove every file of the batch from ``tmp/`` (the transaction did not commit)."""
        for item in self.files:
            with contextlib.suppress(OSError):
                (self.outbox.path / "tmp" / item.name).unlink(missing_ok=True)
        self.files = []
