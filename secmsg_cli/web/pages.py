"""The Secure Messaging Portal's pages, as the recipient sees them
(docs/portal.md, "The portal in a browser").

Pure functions of what they show: no store, no request, no clock. The web
app (:mod:`secmsg_cli.web.app`) serves them, ``secmsg preview`` writes them
to files, and both get the same page for the same copy.

- Templates are Jinja2 (``templates/``), autoescaped: every value from a
  message is HTML-escaped, and names, addresses and subjects sit in ``<bdi>``
  so that a right-to-left override in them cannot reorder the page around.
- The message's own HTML is shown only after :func:`sanitise` (nh3, a
  maintained sanitiser): no script, style, event handler, form, frame, meta
  or image (remote content would tell the sender the message was read, and
  where); links keep only http(s) and mailto targets and get
  ``rel="noopener noreferrer"``. Without an HTML part the text is shown in
  ``<pre>``.
- The style sheet is inline, one ``<style>`` element whose hash
  (:func:`style_hash`) the portal's Content-Security-Policy allows: the page
  needs no other request, and a page written to a file (preview) looks the
  same. No page has any script: everything works without JavaScript.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
import nh3
from markupsafe import Markup

from secmsg_cli.delivery.compose import fmt_time

if TYPE_CHECKING:
    from secmsg_cli.delivery.compose import View
    from secmsg_cli.store.portal import PortalCopy

__all__ = [
    "MAX_REPLY",
    "ended_page",
    "mail_page",
    "message_page",
    "notice_page",
    "open_page",
    "refused_page",
    "reply_page",
    "sanitise",
    "style_hash",
]

MAX_REPLY = 100_000  # characters a reply typed in the portal may have

# What of the message's HTML is kept: nh3's defaults (a conservative list of
# text markup) without images; attributes as nh3 allows them (no style, no
# event handler); link targets only these schemes.
_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "map", "area"}
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in _TAGS}
_SCHEMES = {"http", "https", "mailto"}


_CLEAN: dict[str, Any] = {
    "tags": _TAGS,
    "attributes": _ATTRIBUTES,
    "url_schemes": _SCHEMES,
    "link_rel": "noopener noreferrer",
    "strip_comments": True,
}


@functools.cache
def _cleaner() -> Callable[[str], str]:
    # nh3.clean converts its options anew on every call (20 us: 2 s for a
    # message of 100,000 HTML parts, each sanitised on its own); a Cleaner
    # (newer nh3) converts them once.
    if hasattr(nh3, "Cleaner"):
        return nh3.Cleaner(**_CLEAN).clean
    return functools.partial(nh3.clean, **_CLEAN)


def sanitise(markup: str) -> str:
    """The message's HTML reduced to safe text markup (see the module's notes)."""
    return _cleaner()(markup)


def _body_html(view: View) -> Markup | None:
    """The message's HTML parts, each sanitised on its own (a part's open
    comment, script or link then ends with it and cannot hide or swallow
    the parts after it); None when no part is HTML."""
    if not view.html_parts:
        return None
    return Markup("\n".join(sanitise(part) for part in view.html_parts))


@functools.cache
def _css() -> str:
    return resources.files(__package__).joinpath("portal.css").read_text(encoding="utf-8")


@functools.cache
def style_hash() -> str:
    """The CSP source that allows the pages' one ``<style>`` element."""
    digest = hashlib.sha256(_css().encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def size(n: int) -> str:
    """A file's size as a person reads it, in the units the command line
    takes (``--max-size 50MB``: 1 KB = 1024 bytes): ``350 bytes``, ``9.5 KB``,
    ``120 KB``, ``2.3 MB``."""
    if n < 1024:
        return "1 byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}" if value < 9.95 else f"{value:,.0f} {unit}"


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = size
    return env


def _render(template: str, page: str, **values: Any) -> str:
    return _env().get_template(template).render(css=Markup(_css()), page=page, **values)


def message_page(
    *,
    copy: PortalCopy,
    view: View,
    at: datetime,
    tz: tzinfo,
    actions: Mapping[str, bool],
    expired: bool,
    csrf: str | None = None,
    base: str = "",
) -> str:
    """The portal page of ``copy`` at ``at``, as its recipient sees it.
    ``actions`` is what the recipient may do (``lifecycle.actions``). A copy
    that was revoked or recalled, or that expired and may no longer be viewed,
    gets the page saying so instead. ``csrf`` is the form token of the
    recipient's session; without one the page is a static preview, its forms
    shown disabled. ``base`` is the portal's path (the forms post there)."""
    if copy.revoked_at is not None:
        return ended_page(copy=copy, state="revoked", tz=tz, base=base)
    if copy.recalled_at is not None or copy.purged_at is not None:
        return ended_page(copy=copy, state="recalled", tz=tz, base=base)
    if not actions.get("view", False):
        return ended_page(copy=copy, state="expired", tz=tz, base=base)
    return _render(
        "message.html",
        "message",
        copy=copy,
        view=view,
        body_html=_body_html(view),
        sent=view.date or fmt_time(copy.sent, tz),
        expires=fmt_time(copy.expires, tz, never="no expiry date"),
        expired=expired,
        actions={k: bool(actions.get(k)) for k in ("view", "print", "reply", "reply_all")},
        csrf=csrf,
        preview=csrf is None,
        base=base,
        max_reply=MAX_REPLY,
    )


def ended_page(*, copy: PortalCopy, state: str, tz: tzinfo, base: str = "") -> str:
    """The page of a copy that can no longer be viewed: ``expired``,
    ``recalled`` (or purged) or ``revoked``. Shown only to whoever holds the
    copy's own token (a wrong one gets :func:`refused_page`)."""
    if state == "expired":
        title = "This secure message has expired"
        lines = [
            f"It was available until {fmt_time(copy.expires, tz)} and can no longer be viewed.",
            "Ask the sender to send it again if you still need it.",
        ]
    elif state == "revoked":
        assert copy.revoked_at is not None
        title = "This secure message was revoked"
        lines = [
            f"It was revoked on {fmt_time(copy.revoked_at, tz)} and can no longer be viewed.",
        ]
    else:
        title = "This secure message is no longer available"
        lines = ["The sender withdrew it. It can no longer be viewed."]
    return _render("state.html", state, title=title, lines=lines, base=base, back=False)


def refused_page(*, base: str = "") -> str:
    """The one page for a link that does not open a message: a wrong,
    truncated or unknown token says nothing about whether its id exists."""
    return _render(
        "state.html",
        "refused",
        title="This link does not open a secure message",
        lines=[
            "The link may be incomplete, or the message may have expired or been withdrawn.",
            "Open the link in your notification email again, exactly as it was sent.",
        ],
        base=base,
        back=False,
    )


def notice_page(*, page: str, title: str, lines: list[str], base: str = "", back: bool) -> str:
    """A page that only says something: a reply sent, an action refused, a
    session ended, too many attempts."""
    return _render("state.html", page, title=title, lines=lines, base=base, back=back)


def open_page(*, copy: PortalCopy, token: str | None, base: str = "") -> str:
    """What the notification's link shows: who the message is from and for,
    and a button that opens it (a POST of the token). Link scanners fetch
    every link in a mail as it arrives; they do not press buttons, so the
    message is not marked read, and no read receipt goes out, before the
    recipient opens it. Without a token, a preview: the button disabled."""
    return _render(
        "open.html",
        "open",
        sender=copy.reply_to,
        recipient=copy.recipient,
        token=token,
        read_receipt=copy.read_receipt,
        unread=copy.read_at is None,
        base=base,
    )


def reply_page(
    *,
    copy: PortalCopy,
    actions: Mapping[str, bool],
    csrf: str,
    body: str = "",
    error: str | None = None,
    base: str = "",
) -> str:
    """The reply form on its own, with the text typed so far and what was wrong with it."""
    return _render(
        "reply.html",
        "reply",
        copy=copy,
        actions={k: bool(actions.get(k)) for k in ("view", "print", "reply", "reply_all")},
        csrf=csrf,
        body=body,
        error=error,
        base=base,
        max_reply=MAX_REPLY,
    )


def mail_page(*, view: View) -> str:
    """A banner-stamped inbox copy as the internal recipient's mail client
    would show it (``secmsg preview``): its HTML sanitised as the portal's
    is, since the page is opened in the administrator's browser."""
    return _render(
        "mail.html",
        "mail",
        view=view,
        body_html=_body_html(view),
    )
