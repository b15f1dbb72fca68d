"""``secmsg portal serve``: the Secure Messaging Portal as a web app
(docs/portal.md, "The portal in a browser").

A Starlette app over the store and the same lifecycle functions as the
``portal`` commands (:mod:`secmsg_cli.delivery.lifecycle`): every rule (who
may read, reply, print, until when) is decided there, every action is one
store transaction, and its mail reaches the outbox after the commit. This
module only carries requests to it and pages back:

- ``GET {base}?token=T``, the notification's link: the token is checked
  (:func:`lifecycle.check_access`: a refusal is audited) and a page says
  whom the message is from, with a button that opens it. Link scanners
  fetch every link of a mail as it arrives, and press no button: they do
  not read the message before its recipient (marked read, a read receipt,
  a recall no longer possible). A browser with a session of that token
  goes straight on to the message.
- ``POST {base}/open``, that button (only from a page of the portal, by
  ``Sec-Fetch-Site`` or ``Origin``): the token is checked again and
  exchanged for a session, kept in this process's memory (the cookie holds
  the session's random id, never the token); the cookie is HttpOnly,
  SameSite=Strict, scoped to the portal's path, Secure over https or when
  the account's ``portal_url`` is https (a TLS proxy in front), and lives
  :attr:`Settings.session_seconds` after its last use (at most
  :attr:`Settings.session_max_seconds`). The answer leads to ``{base}/``,
  a URL without the token.
- ``GET {base}/``: the message (``lifecycle.open_copy``: marks it read, the
  read receipt); ``POST {base}/reply``: a reply or reply to all
  (``lifecycle.reply``); ``GET {base}/print``: the printable page
  (``lifecycle.print_copy``); ``GET {base}/attachment/N``: the message's
  Nth attachment, as a download (``lifecycle.download``); each refused as
  the command line refuses it. HEAD is refused everywhere (:func:`_get`).
- Every form of a session carries its CSRF token, compared in constant
  time (the open page's form carries the token itself).
- A client whose token checks fail :attr:`Settings.attempts` times within
  :attr:`Settings.window_seconds` is refused without a check for that long;
  each refused check is audited by the lifecycle, each suspension once.
- Every answer: a Content-Security-Policy allowing nothing but the page's
  own style sheet (by its hash) and forms posted to the portal, no framing;
  ``Referrer-Policy: no-referrer`` (the open page: ``strict-origin``, so
  that its POST's Origin is not "null"), ``X-Content-Type-Options: nosniff``,
  ``Cache-Control: no-store``.

Nothing of ``portal open --as`` is exposed: the session is its token's only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from secmsg_cli.delivery import lifecycle
from secmsg_cli.delivery.outbox import OutboxDeferred, OutboxError
from secmsg_cli.errors import InvalidInput, NotFound, Refused, SecmsgError
from secmsg_cli.store.store import Store
from secmsg_cli.web import pages

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from secmsg_cli.delivery.outbox import Outbox
    from secmsg_cli.store.portal import PortalCopy

__all__ = ["COOKIE", "Settings", "base_path", "create_app", "security_headers"]

COOKIE = "secmsg_portal"
# sessions one token may have at once (browsers, devices): its oldest ends first
SESSIONS_PER_TOKEN = 5
T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Settings:
    """How the portal runs. ``clock`` gives the time of every action (the
    command's ``--at`` fixes it, for tests and demonstrations); ``monotonic``
    measures sessions and throttling (real seconds, whatever ``clock`` says)."""

    db: Path
    outbox: Outbox
    clock: Callable[[], datetime]
    session_seconds: int = 15 * 60
    session_max_seconds: int = 2 * 3600
    attempts: int = 5
    window_seconds: int = 15 * 60
    max_sessions: int = 10_000
    max_clients: int = 10_000
    monotonic: Callable[[], float] = time.monotonic


def _origin(url: str) -> str:
    """``scheme://host[:port]`` as a browser's Origin header gives it: lower
    case, without the scheme's default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def base_path(portal_url: str) -> str:
    """The path the portal is served under: that of the account's
    ``portal_url`` (``https://h/secure`` -> ``/secure``), without a final slash."""
    return urlsplit(portal_url).path.rstrip("/")


# --- sessions and throttling (this process's memory) ----------------------------------


@dataclass(slots=True)
class _Session:
    token: str
    csrf: str
    started: float
    used: float
    notice: str | None = None


@dataclass(slots=True)
class _Sessions:
    settings: Settings
    lock: threading.Lock = field(default_factory=threading.Lock)
    by_id: dict[str, _Session] = field(default_factory=dict)

    def _alive(self, s: _Session, now: float) -> bool:
        st = self.settings
        return now - s.used < st.session_seconds and now - s.started < st.session_max_seconds

    def new(self, token: str) -> str:
        now = self.settings.monotonic()
        with self.lock:
            # One token keeps only its latest sessions: else whoever holds one
            # valid link could open it until every other recipient's session
            # had been pushed out by the cap below.
            mine = [k for k, s in self.by_id.items() if s.token == token]
            for k in mine[: max(0, len(mine) - SESSIONS_PER_TOKEN + 1)]:
                del self.by_id[k]
            if len(self.by_id) >= self.settings.max_sessions:
                self.by_id = {k: s for k, s in self.by_id.items() if self._alive(s, now)}
                while len(self.by_id) >= self.settings.max_sessions:  # the oldest go first
                    self.by_id.pop(next(iter(self.by_id)))
            sid = secrets.token_urlsafe(32)
            self.by_id[sid] = _Session(token, secrets.token_urlsafe(32), now, now)
            return sid

    def get(self, sid: str | None) -> _Session | None:
        if not sid:
            return None
        now = self.settings.monotonic()
        with self.lock:
            s = self.by_id.get(sid)
            if s is None:
                return None
            if not self._alive(s, now):
                del self.by_id[sid]
                return None
            s.used = now
            return s


@dataclass(slots=True)
class _Throttle:
    """Refused checks per client, within the window. Only clients with a
    failure in the window are remembered, at most ``max_clients`` of them
    (those whose last failure is oldest are forgotten first): a client with
    many addresses must not grow the server's memory without end."""

    settings: Settings
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self.failures.get(client)
        if q is None:
            return deque()
        while q and now - q[0] >= self.settings.window_seconds:
            q.popleft()
        if not q:
            del self.failures[client]
        return q

    def wait(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: now)."""
        now = self.settings.monotonic()
        with self.lock:
            q = self._recent(client, now)
            if len(q) < self.settings.attempts:
                return 0
            return max(1, int(self.settings.window_seconds - (now - q[0])) + 1)

    def fail(self, client: str) -> int:
        """Count a refused check; the number of failures in the window."""
        now = self.settings.monotonic()
        with self.lock:
            q = self._recent(client, now)
            self.failures.pop(client, None)
            # in the order of their latest failure: the first are those to forget
            while len(self.failures) >= self.settings.max_clients:
                del self.failures[next(iter(self.failures))]
            q.append(now)
            self.failures[client] = q  # last: the order is that of the latest failure
            return len(q)


# --- responses ------------------------------------------------------------------------


def _csp(style_sources: str) -> str:
    return (
        f"default-src 'none'; style-src {style_sources}; img-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def security_headers(app: ASGIApp) -> ASGIApp:
    """Every answer gets the portal's security headers (a route may give its
    own Content-Security-Policy: the print page, for its style sheet)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"content-security-policy", _csp(pages.style_hash()).encode()),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


def _page(html: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _print_response(html: str) -> Response:
    """The printable page as ``portal print`` writes it, its own style sheet
    allowed by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode("utf-8")).digest()).decode() + "'"
        for m in _STYLE.findall(html)
    )
    return _page(html, headers={"Content-Security-Policy": _csp(hashes or "'none'")})


def _download_response(data: bytes, name: str) -> Response:
    """An attachment as a download, never shown in the portal's own origin:
    whatever type the sender gave it, it goes out as octet-stream, to be
    saved (``attachment``), and sandboxed should a browser render it anyway.
    ``name`` is already a plain file name (``attachments.safe_name``); the
    ASCII ``filename`` is for old browsers, ``filename*`` carries it whole."""
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


# a reply form: its text (each character at most 12 bytes once encoded) and the rest
MAX_FORM_BYTES = pages.MAX_REPLY * 12 + 4096


async def _limited_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is longer than ``limit`` bytes
    (read no further: a huge body is not held in memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# --- the app -------------------------------------------------------------------------


def _get(path: str, endpoint: Handler) -> Route:
    """A route for GET only. Starlette answers HEAD wherever it answers GET,
    by running the GET handler and dropping the body: a HEAD of the message
    (link checkers and proxies send them, browsers never do) would mark it
    read, send the read receipt, audit a print or a download nobody got.
    HEAD is refused (405) instead."""
    route = Route(path, endpoint, methods=["GET"])
    if route.methods is not None:  # always: methods were given
        route.methods.discard("HEAD")
    return route


def create_app(settings: Settings) -> Starlette:
    """The portal app for the store at ``settings.db``, served under the
    path of the account's ``portal_url`` (read once, here)."""
    with Store(settings.db) as store:
        portal_url = store.account().portal_url
    base = base_path(portal_url)
    # Recipients reach the portal at portal_url: when that is https, the
    # cookie is Secure although the request came over http (from the TLS
    # proxy in front, which the portal cannot tell from anyone else).
    https = urlsplit(portal_url).scheme.lower() == "https"
    portal_origin = _origin(portal_url)
    sessions = _Sessions(settings)
    throttle = _Throttle(settings)
    cookie_path = base or "/"

    one_at_a_time = threading.Lock()

    def with_store(fn: Callable[[Store], T]) -> T:
        # One connection per request, in its thread, and one request at a
        # time: the store takes one writer anyway. Mail that an earlier
        # action committed but could not move into the outbox's new/ (a full
        # disk) goes out first, as soon as the outbox can be written again.
        with one_at_a_time, Store(settings.db) as store:
            with contextlib.suppress(OutboxError):  # still not writable: the action says so
                lifecycle.recover_outbox(store, settings.outbox)
            return fn(store)

    async def run(fn: Callable[[Store], T]) -> T:
        return await run_in_threadpool(with_store, fn)

    def ended(denied: lifecycle.AccessDenied, store: Store) -> Response:
        """The answer to a refused access: what became of the copy, to
        whoever holds its token; the one refusal page to anyone else."""
        copy = denied.copy
        if copy is None:
            return _page(pages.refused_page(base=base), 403)
        state = {"revoked": "revoked", "expired": "expired"}.get(denied.reason, "recalled")
        return _page(
            pages.ended_page(copy=copy, state=state, tz=store.account_tz(), base=base), 410
        )

    def notice(
        page: str,
        title: str,
        *lines: str,
        status: int,
        back: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return _page(
            pages.notice_page(page=page, title=title, lines=list(lines), base=base, back=back),
            status,
            headers,
        )

    def signed_out() -> Response:
        return notice(
            "signed-out",
            "Open the link in your notification again",
            "Your session has ended, or this browser has not opened the message yet.",
            status=401,
            back=False,
        )

    def fetched_by_a_page(request: Request, *, download: bool = False) -> Response | None:
        # Fetch metadata: SameSite=Strict sends the cookie with any request
        # from the same site (another port of the host, another host of the
        # domain), so an <img> or <iframe> there could open or print the
        # message: marked read, a read receipt, a print nobody saw. Only a
        # page the browser shows opens them (a browser that sends no such
        # header is let through); a download, also as the browser's own
        # download ("Save link as": a navigation to no document), which a
        # page of another origin cannot start. Not a speculative fetch
        # (speculation rules in a page of the same site: Chromium fetches or
        # renders unseen as a navigation to a document, with the cookie and
        # Sec-Fetch-Site "none"); it fetches again when the user goes there.
        mode = request.headers.get("sec-fetch-mode", "navigate")
        dest = request.headers.get("sec-fetch-dest", "document")
        speculative = "prefetch" in request.headers.get("sec-purpose", "").lower()
        if (
            not speculative
            and mode == "navigate"
            and (dest == "document" or (download and dest == "empty"))
        ):
            return None
        return notice(
            "not-a-page",
            "Open the message in your browser",
            "The message opens only as a page of its own.",
            status=403,
            back=False,
        )

    def signed_in(
        *, page: bool, download: bool = False
    ) -> Callable[[Callable[[Request, _Session], Awaitable[Response]]], Handler]:
        """A route for the holder of a session (else: open the link again),
        given that session; with ``page``, only as a page the browser shows
        (or, with ``download``, downloads)."""

        def wrap(fn: Callable[[Request, _Session], Awaitable[Response]]) -> Handler:
            async def handler(request: Request) -> Response:
                session = sessions.get(request.cookies.get(COOKIE))
                if session is None:
                    return signed_out()
                if (
                    page
                    and (not_a_page := fetched_by_a_page(request, download=download)) is not None
                ):
                    return not_a_page
                return await fn(request, session)

            return handler

        return wrap

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def checked(request: Request, token: str) -> Response | PortalCopy:
        """The copy ``token`` opens, or the answer refusing it: a client
        with too many refused tokens waits; each refusal is audited and
        counted against the client (:class:`_Throttle`)."""
        client = client_of(request)

        def throttled() -> Response | None:
            wait = throttle.wait(client)
            if not wait:
                return None
            return notice(
                "throttled",
                "Too many attempts",
                "Too many links that do not open a message came from here. Try again later.",
                status=429,
                back=False,
                headers={"Retry-After": str(wait)},
            )

        suspended = throttled()  # answered without waiting for the store
        if suspended is not None:
            return suspended
        at = settings.clock()

        def check(store: Store) -> Response | PortalCopy:
            # Asked again here, where checks are done one at a time: links
            # sent all at once all passed the question above before any failed.
            suspended = throttled()
            if suspended is not None:
                return suspended
            try:
                return lifecycle.check_access(store, token, at, "open")
            except lifecycle.AccessDenied as denied:
                if denied.copy is None:
                    failures = throttle.fail(client)
                    if failures == settings.attempts:
                        lifecycle.refuse_throttled(store, client, at, failures)
                return ended(denied, store)
            except InvalidInput:  # a clock before the message was sent
                return _page(pages.refused_page(base=base), 403)

        return await run(check)

    async def landing(request: Request) -> Response:
        # The notification's link. It shows a page whose button opens the
        # message (open_): link scanners, which fetch every link of a mail
        # as it arrives, would otherwise read it first (marked read, a read
        # receipt to the sender, and a recall no longer possible).
        tokens = request.query_params.getlist("token")
        if not tokens:
            return await message(request)
        # Only the link a browser shows as a page is checked: an image or
        # frame of a wrong link, in any page or mail the recipient's browser
        # shows, would be counted against the recipient's address.
        if (not_a_page := fetched_by_a_page(request)) is not None:
            return not_a_page
        token = tokens[-1]
        copy = await checked(request, token)
        if isinstance(copy, Response):
            return copy
        session = sessions.get(request.cookies.get(COOKIE))
        if session is not None and hmac.compare_digest(session.token.encode(), token.encode()):
            return RedirectResponse(f"{base}/", status_code=303)  # open in this browser already
        # strict-origin: the button's POST then says it comes from the
        # portal (Origin; with no-referrer it is "null", as from anywhere)
        return _page(
            pages.open_page(copy=copy, token=token, base=base),
            headers={"Referrer-Policy": "strict-origin"},
        )

    def from_the_portal(request: Request) -> bool:
        # Whether a page of the portal sent this POST, as the browser says:
        # Sec-Fetch-Site; Origin, which browsers sent on a POST before they
        # sent Sec-Fetch-Site (its origin as the browser reached it, or that
        # of portal_url: a TLS proxy in front does not pass it on as the
        # host). A client that sends neither is no browser another site can
        # make post a form.
        if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True
        own = _origin(f"{request.url.scheme}://{request.url.netloc}")
        return _origin(origin) in {own, portal_origin} and origin != "null"

    async def form_of(
        request: Request, limit: int, *, too_large: str, back: bool
    ) -> dict[str, str] | Response:
        """A posted form's fields (URL-encoded, at most ``limit`` bytes, read
        no further), or the answer refusing it."""
        if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"
        ):
            return notice("bad-form", "The form could not be read", status=400, back=back)
        raw = await _limited_body(request, limit)
        if raw is None:
            return notice("bad-form", too_large, status=413, back=back)
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))

    async def open_(request: Request) -> Response:
        # The open page's button: the token is exchanged for a session, and
        # the browser led on to the message at a URL without the token.
        # Only a page of this portal posts it (from_the_portal): another
        # site cannot sign a browser in to a message of its choosing.
        if not from_the_portal(request):
            return notice(
                "not-a-page",
                "Open the link in your notification again",
                "The message opens from the link in your notification email.",
                status=403,
                back=False,
            )
        form = await form_of(request, 4096, too_large="The form could not be read", back=False)
        if isinstance(form, Response):
            return form
        token = form.get("token", "")
        copy = await checked(request, token)
        if isinstance(copy, Response):
            return copy
        response = RedirectResponse(f"{base}/", status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.new(token),
            max_age=settings.session_max_seconds,
            path=cookie_path,
            secure=https or request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @signed_in(page=True)
    async def message(request: Request, session: _Session) -> Response:
        at = settings.clock()

        def show(store: Store) -> Response:
            try:
                opened = lifecycle.open_copy(store, session.token, at, settings.outbox)
            except lifecycle.AccessDenied as denied:
                return ended(denied, store)
            return _page(
                pages.message_page(
                    copy=opened.copy,
                    view=opened.view,
                    at=at,
                    tz=store.account_tz(),
                    actions=opened.actions,
                    expired=opened.expired,
                    csrf=session.csrf,
                    base=base,
                )
            )

        return await run(show)

    @signed_in(page=False)
    async def reply(request: Request, session: _Session) -> Response:
        form = await form_of(request, MAX_FORM_BYTES, too_large="The reply is too long", back=True)
        if isinstance(form, Response):
            return form
        if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
            return notice(
                "csrf",
                "The form has expired",
                "Open the message again and send your reply from there.",
                status=403,
            )
        # Counted as the textarea's maxlength counts it: a line break is one
        # character, though the browser sends it as two (CRLF).
        body = form.get("body", "").replace("\r\n", "\n")
        all_ = form.get("all") == "1"
        at = settings.clock()

        def refused() -> Response:
            what = "Reply to all" if all_ else "Replying"
            return notice(
                "refused-action",
                f"{what} is not allowed",
                f"{what} is not allowed for this message.",
                status=403,
            )

        def send(store: Store) -> Response:
            # a reply that cannot be sent as it is comes back in its form, with
            # what is wrong (never cut short); but only to whoever may reply
            if not body.strip():  # the lifecycle refuses it too, in the command line's words
                problem, status = "The reply is empty.", 400
            elif len(body) > pages.MAX_REPLY:
                problem = (
                    f"The reply is too long: {len(body):,} characters, at most {pages.MAX_REPLY:,}."
                )
                status = 413
            else:
                problem = None
            if problem is not None:
                try:
                    copy = lifecycle.check_access(store, session.token, at, "reply")
                except lifecycle.AccessDenied as denied:
                    return ended(denied, store)
                except Refused:  # expired, and may only be viewed now
                    return refused()
                acts = lifecycle.actions(copy, at, store.account().expired_view)
                if not acts["reply"] or (all_ and not acts["reply_all"]):
                    return refused()
                page = pages.reply_page(
                    copy=copy,
                    actions=acts,
                    csrf=session.csrf,
                    body=body if body.strip() else "",
                    error=problem,
                    base=base,
                )
                return _page(page, status)
            try:
                done = lifecycle.reply(store, session.token, body, at, settings.outbox, all_=all_)
            except lifecycle.AccessDenied as denied:
                return ended(denied, store)
            except Refused:
                return refused()
            session.notice = "Your reply was sent to " + ", ".join((*done.to, *done.cc)) + "."
            return RedirectResponse(f"{base}/sent", status_code=303)

        return await run(send)

    @signed_in(page=False)
    async def sent(request: Request, session: _Session) -> Response:
        text, session.notice = session.notice, None
        if text is None:
            return RedirectResponse(f"{base}/", status_code=303)
        return notice("sent", "Reply sent", text, status=200)

    @signed_in(page=True)
    async def print_(request: Request, session: _Session) -> Response:
        at = settings.clock()

        def printed(store: Store) -> Response:
            try:
                done = lifecycle.print_copy(store, session.token, at, settings.outbox)
            except lifecycle.AccessDenied as denied:
                return ended(denied, store)
            except Refused:
                return notice(
                    "refused-action",
                    "Printing is not allowed",
                    "Printing is not allowed for this message.",
                    status=403,
                )
            return _print_response(done.html)

        return await run(printed)

    @signed_in(page=True, download=True)
    async def attachment(request: Request, session: _Session) -> Response:
        number = request.path_params["number"]
        at = settings.clock()

        def downloaded(store: Store) -> Response:
            try:
                done = lifecycle.download(store, session.token, at, settings.outbox, number)
            except lifecycle.AccessDenied as denied:
                return ended(denied, store)
            except NotFound:
                return notice("no-attachment", "There is no such attachment", status=404)
            return _download_response(done.attachment.data, done.name)

        return await run(downloaded)

    async def failed(request: Request, exc: Exception) -> Response:
        # one line for whoever runs the portal (a SecmsgError's text names no token)
        sys.stderr.write(f"error: {' '.join(str(exc).split())}\n")
        if isinstance(exc, OutboxDeferred):  # done: trying again would do it twice
            return notice(
                "deferred",
                "Done",
                "What you did is recorded. The email it sends waits in the portal's outbox "
                "and goes out as soon as the outbox can be written again: do not send it again.",
                status=202,
            )
        return notice(
            "unavailable",
            "The portal cannot answer now",
            "Try again in a moment.",
            status=503,
            back=False,
        )

    routes = [
        _get(f"{base}/", landing),
        Route(f"{base}/open", open_, methods=["POST"]),
        Route(f"{base}/reply", reply, methods=["POST"]),
        _get(f"{base}/sent", sent),
        _get(f"{base}/print", print_),
        _get(f"{base}/attachment/{{number:int}}", attachment),
    ]
    if base:
        routes.append(_get(base, landing))

    async def crashed(request: Request, exc: Exception) -> Response:
        # Starlette logs the exception (uvicorn's error log: no URL, no token)
        return notice(
            "unavailable",
            "The portal cannot answer now",
            "Try again in a moment.",
            status=500,
            back=False,
        )

    return _Portal(routes=routes, exception_handlers={SecmsgError: failed, Exception: crashed})


class _Portal(Starlette):
    """Starlette with the security headers outermost: middleware added the
    usual way sits inside Starlette's ServerErrorMiddleware, and the answer
    to an unexpected exception (500) would go out without them."""

    def build_middleware_stack(self) -> ASGIApp:
        return security_headers(super().build_middleware_stack())
