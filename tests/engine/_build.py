"""Small in-memory configurations and messages for the decision tests.

``world(...)`` builds a :class:`~secmsg_cli.engine.snapshot.Snapshot` straight
from model objects (no store): a fixed directory (below) plus whatever a case
adds. Targets are written in their CLI form (``group:Legal``,
``domain:*.partner.com``, ``attribute:Role=Auditor``) and validated with the
same :func:`~secmsg_cli.validate.check_target` the store uses; addresses and
members are normalised as the store normalises them.

The directory every case starts from::

    internal domains   example.com, eu.example.com   (mail.example.com is NOT internal)
    group Legal        alice@example.com, ann@eu.example.com, @legal.example.com
    group Partners     bob@eu.partner.com, @vendor.com
    group Board        ceo@example.com
    attributes         alice@example.com, ann@eu.example.com: Department=Legal
                       bob@eu.partner.com: Role=Auditor
    folders            Default (everyone; the two built-ins), Legal (everyone),
                       Legal/Restricted (Board), Legal/Restricted/Deep (inherits),
                       Closed (nobody), Closed/Open (everyone)
    definitions        Legal/Seven (7d, +14d, receipt), Legal/Restricted/Board Only,
                       Legal/Restricted/Deep/Inner, Closed/Shut, Closed/Open/Ajar,
                       Legal/Print (print, reply-all without reply, never expires)
    content            "Confidential" (1 confidential, subject only) -> Legal/Seven
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTPUTF8
from zoneinfo import ZoneInfo

from secmsg_cli.engine.addresses import normalise_address, normalise_domain, normalise_member
from secmsg_cli.engine.durations import parse_duration
from secmsg_cli.engine.message import Message, parse_message
from secmsg_cli.engine.snapshot import Snapshot, build_snapshot
from secmsg_cli.model import (
    BUILTIN_ALL,
    BUILTIN_EXTERNAL,
    BUILTIN_FOLDER,
    EVERYONE,
    Account,
    ContentDefinition,
    Definition,
    Folder,
    Group,
    Policy,
)
from secmsg_cli.validate import check_target

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

DOMAINS = ("example.com", "eu.example.com")
GROUPS = {
    "Legal": ("alice@example.com", "ann@eu.example.com", "@legal.example.com"),
    "Partners": ("bob@eu.partner.com", "@vendor.com"),
    "Board": ("ceo@example.com",),
}
ATTRIBUTES = (
    ("alice@example.com", "Department", "Legal"),
    ("ann@eu.example.com", "Department", "Legal"),
    ("bob@eu.partner.com", "Role", "Auditor"),
)
# path -> own publish list (None: inherits the parent's; (): nobody)
FOLDERS: dict[str, tuple[str, ...] | None] = {
    BUILTIN_FOLDER: (EVERYONE,),
    "Legal": (EVERYONE,),
    "Legal/Restricted": ("Board",),
    "Legal/Restricted/Deep": None,
    "Closed": (),
    "Closed/Open": (EVERYONE,),
}


def definition(path: str, id: int = 0, **settings) -> Definition:
    """``definition("Legal/Seven", expire_after="7d")``; durations as text."""
    folder, _, description = path.rpartition("/")
    for name in ("expire_after", "max_extension"):
        if isinstance(settings.get(name), str):
            settings[name] = parse_duration(settings[name])
    return Definition(id=id, folder=folder, description=description, **settings)


DEFINITIONS = (
    definition(
        f"{BUILTIN_FOLDER}/{BUILTIN_ALL}", 1, allow_reply_all=True, routing="all", builtin=True
    ),
    definition(f"{BUILTIN_FOLDER}/{BUILTIN_EXTERNAL}", 2, allow_reply_all=True, builtin=True),
    definition(
        "Legal/Seven",
        3,
        expire_after="7d",
        max_extension="14d",
        read_receipt=True,
        banner="<p>Secure message from [sender]: [subject]</p>",
    ),
    definition("Legal/Restricted/Board Only", 4),
    definition("Legal/Restricted/Deep/Inner", 5),
    definition("Closed/Shut", 6),
    definition("Closed/Open/Ajar", 7),
    definition("Legal/Print", 8, allow_print=True, allow_reply=False, allow_reply_all=True),
)

CONTENT = (
    ContentDefinition(1, "Confidential", 1, ("subject",), ("1 confidential",), "Legal/Seven"),
)


def target(text: str):
    return check_target(text)


def policy(kind: str, id: int, frm: str = "everyone", to: str = "everyone", **fields) -> Policy:
    narrative = fields.pop("narrative", f"{kind} {id}")
    if "source_ips" in fields:
        fields["source_ips"] = tuple(fields["source_ips"])
    return Policy(id=id, kind=kind, narrative=narrative, from_=target(frm), to=target(to), **fields)


def sm(
    id: int,
    frm: str = "everyone",
    to: str = "everyone",
    definition: str | None = "Legal/Seven",
    option: str = "apply",
    **fields,
) -> Policy:
    """A Secure Messaging policy (``option="no-action"`` drops the definition)."""
    if option == "no-action":
        definition = None
    return policy("secure-messaging", id, frm, to, option=option, definition=definition, **fields)


def bp(
    id: int, frm: str = "everyone", to: str = "everyone", option: str = "disable", **fields
) -> Policy:
    """A Secure Messaging Bypass policy."""
    return policy("bypass", id, frm, to, option=option, **fields)


def ce(
    id: int, frm: str = "everyone", to: str = "everyone", cd: str = "Confidential", **fields
) -> Policy:
    """A Content Examination policy."""
    return policy("content-examination", id, frm, to, content_definition=cd, **fields)


def cdef(
    id: int,
    name: str,
    lines: Sequence[str],
    *,
    score: int = 1,
    scan: Sequence[str] = ("subject", "headers", "body", "attachments"),
    sm: str | None = "Legal/Seven",
) -> ContentDefinition:
    return ContentDefinition(id, name, score, tuple(scan), tuple(lines), sm)


def _folders(own: Mapping[str, tuple[str, ...] | None]) -> list[Folder]:
    """Folders with their effective publish lists (SPEC §3.1: a folder without
    a list of its own inherits its parent's; the root publishes to nobody)."""
    paths = sorted(own, key=lambda p: p.count("/"))
    ids = {p: i + 1 for i, p in enumerate(paths)}
    out = []
    for p in paths:
        q: str | None = p
        effective: tuple[str, ...] = ()
        while q:
            if own.get(q) is not None:
                effective = own[q]  # type: ignore[assignment]
                break
            q = q.rpartition("/")[0] or None
        parent = p.rpartition("/")[0]
        out.append(Folder(ids[p], p, ids.get(parent), own[p], effective))
    return out


def world(
    *,
    policies: Iterable[Policy] = (),
    content: Iterable[ContentDefinition] = (),
    definitions: Iterable[Definition] = (),
    groups: Mapping[str, Sequence[str]] | None = None,
    attributes: Iterable[tuple[str, str, str]] = (),
    folders: Mapping[str, tuple[str, ...] | None] | None = None,
    domains: Sequence[str] = DOMAINS,
    **account,
) -> Snapshot:
    """The base directory plus what a case adds; ``account`` fields as keywords
    (``bypass_scope="all"``, ``timezone="Asia/Tokyo"``)."""
    acct = Account(**account)
    all_groups = dict(GROUPS)
    all_groups.update(groups or {})
    all_folders = dict(FOLDERS)
    all_folders.update(folders or {})
    extra_cd = list(content)
    names = {c.name.lower() for c in extra_cd}
    return build_snapshot(
        account=acct,
        tz=ZoneInfo(acct.timezone),
        domains=[normalise_domain(d) for d in domains],
        groups=[
            Group(i + 1, name, tuple(normalise_member(m) for m in members))
            for i, (name, members) in enumerate(all_groups.items())
        ],
        attributes=[(normalise_address(a), n, v) for a, n, v in (*ATTRIBUTES, *attributes)],
        folders=_folders(all_folders),
        definitions=[*DEFINITIONS, *definitions],
        content_definitions=[*(c for c in CONTENT if c.name.lower() not in names), *extra_cd],
        policies=policies,
    )


def eml(
    frm: str | None = "alice@example.com",
    to: str | Sequence[str] | None = "bob@eu.partner.com",
    *,
    subject: str = "Quarterly figures",
    return_path: str | None = None,
    cc: str | None = None,
    body: str = "Hello,\nsee attached.\n",
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    received: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    from_name: str | None = None,
) -> Message:
    """An in-memory message, serialised to bytes and read back by
    :func:`parse_message` exactly as ``simulate`` reads a file.
    ``attachments``: (filename, content type, bytes)."""
    m = EmailMessage()
    if return_path:
        m["Return-Path"] = f"<{return_path}>"
    if received:
        m["Received"] = received
    if frm:
        m["From"] = f"{from_name} <{frm}>" if from_name else frm
    if to:
        m["To"] = to if isinstance(to, str) else ", ".join(to)
    if cc:
        m["Cc"] = cc
    m["Subject"] = subject
    m["Message-ID"] = "<case@example.com>"
    for name, value in (headers or {}).items():
        m[name] = value
    m.set_content(body)
    if html is not None:
        m.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return parse_message(m.as_bytes(policy=SMTPUTF8))  # UTF-8 addresses stay readable (RFC 6532)
