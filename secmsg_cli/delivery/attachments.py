"""Saving a message's attachments into a folder (``portal open
--save-attachments``, docs/portal.md): every file stays inside the folder, no
symlink is followed, nothing is overwritten, and the attachments are written
all or nothing.

How:

- each name is reduced to a plain file name (:func:`safe_name`): no folder
  part, no leading dot, no control or invisible format character (a bidi
  override would disguise ``fdp.exe`` as ``exe.pdf``), none of ``<>:"/\\|?*``,
  no reserved Windows device name, at most :data:`NAME_BYTES` bytes (the
  extension kept);
- the folder is created if need be; the files are written into a fresh
  private staging folder inside it (``mkdtemp``: created exclusively, mode
  0700, so nothing can be planted in it) and synced;
- each then gets its final name with a hard link, which never follows or
  replaces what is there: a file, folder or (even dangling) symlink of that
  name makes it try ``name (2).ext``, ``name (3).ext``... (and so do two
  attachments whose names differ only in case, as they would collide on
  a case-insensitive file system);
- on any failure every file placed so far, the staging folder and the
  folders created for the purpose are removed; :meth:`Saved.undo` does the
  same after success, for a caller whose own commit then fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secmsg_cli.errors import SecmsgError

__all__ = ["NAME_BYTES", "SaveError", "Saved", "safe_name", "save_all"]

NAME_BYTES = 200  # below every file system's 255, with room for " (9999)"
_EXT_BYTES = 20  # a longer "extension" is part of the name
_MAX_TRIES = 10_000
_WINDOWS_FORBIDDEN = str.maketrans(dict.fromkeys('<>:"/\\|?*', "_"))
_RESERVED = frozenset(
    (
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    )
)
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
_JOINERS = frozenset(
    ("\u200c", "\u200d")
)  # zero-width (non-)joiner: emoji and several scripts need them


class SaveError(SecmsgError):
    """An attachment could not be saved (nothing was)."""


def _visible(ch: str) -> bool:
    cp = ord(ch)
    if cp < 0xA0:
        return 0x20 <= cp < 0x7F
    if ch in _JOINERS:
        return True
    import unicodedata

    return unicodedata.category(ch) not in _INVISIBLE


def _split(name: str) -> tuple[str, str]:
    """(stem, extension): the extension is the last ``.xyz`` when short enough."""
    dot = name.rfind(".")
    if dot <= 0 or len(name[dot:].encode("utf-8")) > _EXT_BYTES:
        return name, ""
    return name[:dot], name[dot:]


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")


def safe_name(name: str | None, index: int) -> str:
    """The plain file name an attachment called ``name`` is saved under;
    ``attachment-<index>`` when nothing usable is left."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if _visible(ch)).translate(_WINDOWS_FORBIDDEN)
    # a leading dot hides a file; Windows drops trailing dots and spaces
    text = text.lstrip(". ").rstrip(". ")
    if len(text.encode("utf-8")) > NAME_BYTES:
        stem, ext = _split(text)
        text = _cut(stem, NAME_BYTES - len(ext.encode("utf-8"))).rstrip(". ") + ext
    if text.split(".", 1)[0].rstrip(" ").lower() in _RESERVED:
        text = "_" + text
    return text or f"attachment-{index}"


def _candidates(name: str) -> Iterator[str]:
    yield name
    stem, ext = _split(name)
    for n in range(2, _MAX_TRIES):
        yield f"{stem} ({n}){ext}"


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _write(path: Path, data: bytes) -> None:
    """A new file (never an existing one, never through a symlink), synced."""
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY | _O_CLOEXEC, 0o666
    )
    with open(fd, "wb", closefd=True) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _place(staged: Path, final: Path) -> bool:
    """Give ``staged`` the name ``final`` unless something has that name: a
    hard link fails on any existing entry, even a dangling symlink. Returns
    False when the name is taken."""
    try:
        os.link(staged, final)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        # a file system without hard links (FAT, some network shares): the
        # name is checked, then the file moved (Windows' rename never replaces)
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.ENOSYS,
            errno.EXDEV,
            errno.EMLINK,
        ):
            raise
    if os.path.lexists(final):
        return False
    os.rename(staged, final)
    return True


@dataclass
class Saved:
    """The files saved by :func:`save_all`, and how to take them back."""

    folder: Path
    paths: list[Path] = field(default_factory=list)
    _created: Path | None = None  # the outermost folder made for the purpose
    _staging: Path | None = None

    def _clean_staging(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def undo(self) -> None:
        """Remove every file placed and every folder created (best effort:
        this runs while another error is being reported)."""
        self._clean_staging()
        for p in reversed(self.paths):
            with contextlib.suppress(OSError):
                p.unlink()
        self.paths.clear()
        if self._created is not None:  # the folders made for the purpose, if still empty
            p = self.folder
            while True:
                try:
                    p.rmdir()
                except OSError:
                    break
                if p == self._created:
                    break
                p = p.parent
            self._created = None


def _make_folder(folder: Path) -> Path | None:
    """Create ``folder`` (and missing parents); the outermost one created, if any."""
    if os.path.lexists(folder):
        if not folder.is_dir():
            raise SaveError(f"cannot save the attachments into {folder}: not a directory")
        return None
    outermost = folder
    while not os.path.lexists(outermost.parent) and outermost.parent != outermost:
        outermost = outermost.parent
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise SaveError(
            f"cannot save the attachments into {folder}: {exc.strerror or exc}"
        ) from None
    return outermost


def save_all(attachments: Sequence[tuple[str | None, bytes]], folder: str | Path) -> Saved:
    """Save every (name, data) into ``folder``, all or nothing; raises
    :class:`SaveError` (having left nothing behind) when one cannot be saved."""
    folder = Path(folder)
    saved = Saved(folder, _created=_make_folder(folder))
    current = ""  # the (safe) name of the attachment being saved, for the error
    try:
        saved._staging = Path(tempfile.mkdtemp(prefix=".secmsg-saving-", dir=folder))
        staged = []
        for i, (name, data) in enumerate(attachments, start=1):
            current = safe_name(name, i)
            path = saved._staging / str(i)
            _write(path, data)
            staged.append((path, current))
        taken: set[str] = (
            set()
        )  # names of this batch, compared as a case-insensitive file system would
        for path, name in staged:
            current = name
            for candidate in _candidates(name):
                if candidate.casefold() not in taken and _place(path, folder / candidate):
                    taken.add(candidate.casefold())
                    saved.paths.append(folder / candidate)
                    break
            else:
                raise SaveError(
                    f"cannot save the attachments into {folder}: no free name for {name!r}"
                )
        saved._clean_staging()
    except BaseException as exc:
        saved.undo()
        if isinstance(exc, OSError):
            what = f"{current}: " if current else ""
            raise SaveError(
                f"cannot save the attachments into {folder}: {what}{exc.strerror or exc} "
                "(nothing was saved)"
            ) from None
        raise
    return saved
