"""``secmsg preview``: what each recipient of a message would get, as files a
browser opens, before anything is sent (docs/portal.md, "Preview").

The files come from the same functions ``deliver`` and the portal use, so a
preview is what they would produce for the same decision at the same time:

- a portal recipient: the notification (``notification.eml``, and its HTML
  and text parts) from :func:`lifecycle.notification_for`, the page its
  link shows (``open.html``, :func:`secmsg_cli.web.pages.open_page`), and
  the portal page from :func:`secmsg_cli.web.pages.message_page` for the copy that
  :func:`lifecycle.copy_values` describes (its forms shown disabled);
- an internal inbox recipient of a secure message: the banner-stamped copy
  (``inbox-copy.eml``) from :class:`compose.InboxCopies`, and a page of it
  as a mail client would show it (its HTML sanitised as the portal's is);
- a recipient not secured gets nothing from the system, and the index says so.

Nothing is written to the store, and no token is made: the link in a
notification carries the word ``preview`` where the recipient's token
would be. The folder is written all or nothing (:func:`write`).
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from secmsg_cli.delivery import compose, lifecycle
from secmsg_cli.delivery.attachments import safe_name
from secmsg_cli.engine.message import DEFAULT_LIMITS, Limits
from secmsg_cli.errors import InvalidInput, SecmsgError
from secmsg_cli.store.portal import PortalCopy

if TYPE_CHECKING:
    from email.message import EmailMessage

    from secmsg_cli.engine.decide import MessageDecision, RecipientDecision
    from secmsg_cli.engine.snapshot import Snapshot
    from secmsg_cli.model import NotificationTemplate
    from secmsg_cli.store.store import Store

__all__ = ["MARKER", "PREVIEW_TOKEN", "Preview", "PreviewFile", "build", "write"]

PREVIEW_TOKEN = "preview"  # where a real notification's link carries the token
MARKER = ".secmsg-preview"  # names the files of a preview folder: --replace removes only those


@dataclass(frozen=True, slots=True)
class PreviewFile:
    recipient: str | None  # None: the index
    kind: str
    name: str  # relative to the preview folder, / separated
    data: bytes


@dataclass(frozen=True, slots=True)
class Shown:
    """One recipient of the preview and what the system would do for them."""

    address: str
    route: str | None
    secure: bool
    definition: str | None
    folder: str | None  # their sub-folder, None when the system sends them nothing


@dataclass(frozen=True, slots=True)
class Preview:
    recipients: tuple[Shown, ...]
    files: tuple[PreviewFile, ...]

    @property
    def first(self) -> PreviewFile | None:
        """The page to open first: the first recipient's portal page or
        inbox copy, else the index."""
        pages = [f for f in self.files if f.kind in ("portal-page", "inbox-copy-page")]
        return pages[0] if pages else next((f for f in self.files if f.kind == "index"), None)


def _copy(
    snapshot: Snapshot, decision: MessageDecision, r: RecipientDecision, n: int
) -> PortalCopy:
    """The copy ``deliver`` would retain for ``r``, in memory only."""
    values = lifecycle.copy_values(snapshot, decision, r)
    return PortalCopy(
        id=n,
        message_ref=0,
        sender=decision.envelope_from,
        header_from=decision.header_from,
        header_from_name=decision.header_from_name,
        subject=decision.subject,
        message_id=decision.message_id,
        original_expires=values["expires"],
        extended_seconds=0,
        extensions=(),
        read_at=None,
        recalled_at=None,
        revoked_at=None,
        expired_at=None,
        purged_at=None,
        token_id=PREVIEW_TOKEN,
        token_hash=None,
        **values,
    )


_IMAGE_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}


def _parts(note: EmailMessage, folder: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """The notification's HTML and text parts, as UTF-8 bytes, and its inline
    images (a template's logo) as files beside them: the HTML refers to each
    by file name instead of by ``cid:``, so that a browser shows it."""
    html_part = note.get_body(("html",))
    text_part = note.get_body(("plain",))
    page = html_part.get_content() if html_part is not None else ""
    images: list[tuple[str, bytes]] = []
    for part in note.walk():
        cid, ctype = part["Content-ID"], part.get_content_type()
        if cid is None or ctype not in _IMAGE_EXT:
            continue
        name = (
            f"image{len(images) + 1}{_IMAGE_EXT[ctype]}" if images else f"logo{_IMAGE_EXT[ctype]}"
        )
        ref = html.escape("cid:" + str(cid).strip().strip("<>"), quote=True)
        page = page.replace(f'src="{ref}"', f'src="{name}"')
        images.append((f"{folder}/{name}", bytes(part.get_content())))
    text = text_part.get_content() if text_part is not None else ""
    # A part carries its charset in its Content-Type, which a file loses: the
    # byte-order mark tells a browser the file is UTF-8 (the markup is unchanged).
    return page.encode("utf-8-sig"), text.encode("utf-8-sig"), images


def build(
    store: Store,
    snapshot: Snapshot,
    decision: MessageDecision,
    raw: bytes,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Preview:
    """Every file of the preview of ``decision`` (made on ``raw``). Reads the
    store (the definitions' notification templates); writes nothing."""
    from secmsg_cli.web import pages

    host = compose.portal_host(snapshot.account.portal_url)
    tz = snapshot.tz
    at = decision.at
    view = compose.read_view(raw)
    expired_view = snapshot.account.expired_view
    templates: dict[str, NotificationTemplate] = {}
    inbox: compose.InboxCopies | None = None
    files: list[PreviewFile] = []
    shown: list[Shown] = []
    width = len(str(len(decision.recipients)))
    for n, r in enumerate(decision.recipients, 1):
        folder = f"{n:0{width}d}-{safe_name(r.address, n)}"
        definition = r.definition.path if r.definition is not None else None
        had = len(files)
        if r.route == "portal" and r.portal is not None:
            note = lifecycle.notification_for(
                store,
                snapshot,
                decision,
                r,
                token=PREVIEW_TOKEN,
                portal_id=n,
                host=host,
                templates=templates,
            )
            page_html, text, images = _parts(note, folder)
            copy = _copy(snapshot, decision, r, n)
            page = pages.message_page(
                copy=copy,
                view=view,
                at=at,
                tz=tz,
                actions=lifecycle.actions(copy, at, expired_view),
                expired=copy.is_expired(at),
            )
            files += [
                PreviewFile(
                    r.address, "notification", f"{folder}/notification.eml", compose.to_bytes(note)
                ),
                PreviewFile(
                    r.address, "notification-html", f"{folder}/notification.html", page_html
                ),
                PreviewFile(r.address, "notification-text", f"{folder}/notification.txt", text),
                PreviewFile(
                    r.address,
                    "open-page",
                    f"{folder}/open.html",
                    pages.open_page(copy=copy, token=None).encode("utf-8"),
                ),
                PreviewFile(
                    r.address, "portal-page", f"{folder}/portal.html", page.encode("utf-8")
                ),
                *(PreviewFile(r.address, "notification-image", n, data) for n, data in images),
            ]
        elif r.secure and r.route == "inbox":
            inbox = inbox or compose.InboxCopies(raw, limits=limits)
            stamped = inbox.copy(r.banner, r.address)
            page = pages.mail_page(view=compose.read_view(stamped))
            files += [
                PreviewFile(r.address, "inbox-copy", f"{folder}/inbox-copy.eml", stamped),
                PreviewFile(
                    r.address, "inbox-copy-page", f"{folder}/inbox-copy.html", page.encode("utf-8")
                ),
            ]
        shown.append(
            Shown(r.address, r.route, r.secure, definition, folder if len(files) > had else None)
        )
    index = _index(decision, shown, files, tz)
    return Preview(tuple(shown), (PreviewFile(None, "index", "index.html", index), *files))


_WHAT = {
    "notification": "notification (.eml)",
    "notification-html": "notification, HTML part",
    "notification-text": "notification, text part",
    "notification-image": "notification, inline image",
    "open-page": "the notification link's page (Open the message)",
    "portal-page": "the portal page",
    "inbox-copy": "banner-stamped copy (.eml)",
    "inbox-copy-page": "banner-stamped copy, as a mail client shows it",
}


def _index(
    decision: MessageDecision, shown: list[Shown], files: list[PreviewFile], tz: object
) -> bytes:
    """A page linking every file, recipient by recipient."""
    e = html.escape
    rows = []
    for s in shown:
        links = "".join(
            f'<li><a href="{e(quote(f.name, safe="/@"), quote=True)}">{e(_WHAT[f.kind])}</a></li>'
            for f in files
            if f.recipient == s.address
        )
        what = (
            f"{e(s.route or '')}, {e(s.definition or '')}"
            if s.secure
            else "not secure: the mail system delivers it as sent, nothing from Secure Messaging"
        )
        rows.append(
            f"<tr><td><bdi>{e(s.address)}</bdi></td><td>{what}</td>"
            f"<td>{'<ul>' + links + '</ul>' if links else ''}</td></tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "<title>Preview - Secure Messaging</title>\n"
        "<style>body{font-family:sans-serif;margin:1em;max-width:60em}"
        "td,th{text-align:left;vertical-align:top;padding:.3em .6em}"
        "ul{margin:0;padding-left:1.2em}</style>\n</head>\n<body>\n"
        f"<h1>Preview: <bdi>{e(decision.subject or '(no subject)')}</bdi></h1>\n"
        f"<p>From <bdi>{e(decision.header_from or decision.envelope_from)}</bdi>, "
        f"as if sent {e(compose.fmt_time(decision.at, tz))}. Nothing was sent or stored.</p>\n"  # type: ignore[arg-type]
        "<table>\n<tr><th>Recipient</th><th>What the system does</th><th>Files</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>\n</body>\n</html>\n"
    ).encode("utf-8")


def _not_written(folder: Path) -> str | None:
    """The first entry of ``folder`` (an earlier preview) that its
    :data:`MARKER` does not list, nor a folder of what it lists: something
    added since, which ``--replace`` must not remove. None when there is none."""
    try:
        listed = set((folder / MARKER).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeError):
        return MARKER
    known = {MARKER} | listed
    for name in listed:
        parts = name.split("/")
        known.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for root, dirs, files in os.walk(folder):  # links are listed, never followed
        for name in sorted(dirs) + sorted(files):
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel not in known:
                return rel
    return None


def write(preview: Preview, folder: str | Path, *, replace: bool = False) -> Path:
    """Write the preview into ``folder``, all or nothing: the files go into a
    fresh private folder beside it, which then takes its name. ``folder``
    must not exist, or be empty, or (with ``replace``) hold an earlier
    preview and nothing else (what its marker lists), which is removed only
    once the new one is complete. Nothing is written through a link."""
    target = Path(folder)
    if target.is_symlink():
        raise InvalidInput(f"--out {target}: is a link; give a folder path")
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"--out {target}: exists and is not a folder")
    old = target.is_dir() and any(target.iterdir())
    marker = target / MARKER
    if old and not (replace and marker.is_file() and not marker.is_symlink()):
        raise InvalidInput(
            f"--out {target}: the folder is not empty"
            + (
                " and holds no earlier preview"
                if replace
                else "; give a new folder, or --replace to replace an earlier preview"
            )
        )
    if old:
        added = _not_written(target)
        if added is not None:
            raise InvalidInput(
                f"--out {target}: holds {added!r}, which no preview wrote; --replace removes "
                "only an earlier preview: move it away, or give a new folder"
            )
    parent = target.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".secmsg-preview-", dir=parent))
    except OSError as exc:
        raise SecmsgError(
            f"cannot write the preview into {target}: {exc.strerror or exc}"
        ) from None
    trash = None
    try:
        for f in preview.files:
            path = staging / f.name
            path.parent.mkdir(exist_ok=True)
            with open(path, "xb") as fh:
                fh.write(f.data)
        (staging / MARKER).write_text(
            "".join(f.name + "\n" for f in preview.files), encoding="utf-8"
        )
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would keep a browser run as another user out
        if target.is_dir():
            if old:
                trash = Path(tempfile.mkdtemp(prefix=".secmsg-preview-old-", dir=parent))
                os.replace(target, trash / "old")
            else:
                target.rmdir()
        os.replace(staging, target)
    except OSError as exc:
        if trash is not None and not target.exists():
            os.replace(trash / "old", target)  # the earlier preview stays as it was
        shutil.rmtree(staging, ignore_errors=True)
        raise SecmsgError(
            f"cannot write the preview into {target}: {exc.strerror or exc}"
        ) from None
    finally:
        if trash is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(trash)
    return target
