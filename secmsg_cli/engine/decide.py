"""``decide(snapshot, message, context)``: per recipient, whether a message is
secured, under which definition, triggered by what, and why (SPEC §4-§7).

Pure: no store, no clock (the time is in the context), no I/O. Every caller
(simulate, deliver, test, the corpus diff) uses this one function.

How a policy is judged is one function, :func:`judge`, used both for the
candidates found by key in the snapshot (the fast path) and, with
``explain=True``, for every policy of every kind (the explanation), so the two
can never disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from secmsg_cli.engine import render
from secmsg_cli.engine.addresses import AddressError, normalise_address
from secmsg_cli.engine.content import Component, ContentResult, evaluate
from secmsg_cli.engine.decision import (
    Banner,
    ContentOutcome,
    MessageDecision,
    PolicyRef,
    PortalRecord,
    RecipientDecision,
    Verdict,
)
from secmsg_cli.engine.message import DEFAULT_LIMITS, Limits
from secmsg_cli.engine.snapshot import CompiledContent, CompiledPolicy, Key, Snapshot
from secmsg_cli.model import Definition, Target
from secmsg_cli.vocab import FromPart, PolicyKind, Route, ScanSection, Trigger, VerdictStatus

__all__ = [
    "VIAS",
    "Banner",
    "ContentOutcome",
    "Context",
    "DecisionError",
    "MessageDecision",
    "PolicyRef",
    "PortalRecord",
    "RecipientDecision",
    "Verdict",
    "decide",
    "decision_time",
    "in_zone",
    "judge",
    "parties",
]

VIAS = ("gateway", "outlook", "mobile")

# Members looked up once: reading one from its enum class costs ~80 ns on
# Python 3.11 (a lookup through the metaclass), several times a module
# global; these are read per policy and recipient.
_KINDS = tuple(PolicyKind)  # iterating the enum class itself runs a generator
_SECURE_MESSAGING = PolicyKind.SECURE_MESSAGING
_BYPASS = PolicyKind.BYPASS
_CONTENT_EXAMINATION = PolicyKind.CONTENT_EXAMINATION
_INBOX = Route.INBOX
_USER, _CONTENT, _POLICY = Trigger.USER, Trigger.CONTENT, Trigger.POLICY
_SUBJECT, _HEADERS = ScanSection.SUBJECT, ScanSection.HEADERS
_BODY, _ATTACHMENTS = ScanSection.BODY, ScanSection.ATTACHMENTS
_ENVELOPE, _HEADER = FromPart.ENVELOPE, FromPart.HEADER
_INACTIVE, _NO_MATCH = VerdictStatus.INACTIVE, VerdictStatus.NO_MATCH


class DecisionError(ValueError):
    """The message cannot be decided (no sender, no recipient, a chosen
    definition that does not exist or is not available to the sender)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the message does not say, or what overrides it (SPEC §8.1)."""

    at: datetime
    mail_from: str | None = None
    rcpt: tuple[str, ...] = ()
    source_ip: str | None = None
    via: str | None = None  # None: outlook when a definition is chosen, else gateway
    definition: str | None = None
    explain: bool = False
    limits: Limits = DEFAULT_LIMITS  # only ``recipients`` is used here; the rest bound parsing


# --- describing targets -----------------------------------------------------


def describe_target(target: Target, *, negative: bool = False) -> str:
    """How an address relates to a target, for reasons: ``is in group Legal``
    (or, ``negative``, ``is not in group Legal``)."""
    t, v = target.type, target.value
    if t == "attribute":
        return f"{'does not have' if negative else 'has'} {target.name}={v}"
    verb = "is not" if negative else "is"
    if t == "everyone":
        return f"{verb} anyone"
    if t in ("internal", "external"):
        return f"{verb} {t}"
    if t == "domain":
        return (
            f"{verb} in a subdomain of {v[2:]}"
            if v and v.startswith("*.")
            else f"{verb} in domain {v}"
        )
    if t == "group":
        return f"{verb} in group {v}"
    return f"{verb} {v}"


# --- judging one policy -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """A (sender, recipient) pair as policies see it."""

    envelope: str
    header: str | None
    recipient: str
    source_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    source_ip_text: str | None
    at: datetime

    def senders(self, part: str) -> list[tuple[str, str]]:
        """(role, address) of the sender addresses a from_part looks at; for
        ``both`` the header From first (it is reported when both match)."""
        if part == _ENVELOPE:
            return [("envelope sender", self.envelope)]
        if part == _HEADER:
            return [("header From", self.header)] if self.header else []
        out = [("header From", self.header)] if self.header else []
        if self.envelope != self.header:
            out.append(("envelope sender", self.envelope))
        return out


def _match_side(
    snapshot: Snapshot, key: Key, candidates: list[tuple[str, str]]
) -> tuple[str, str] | None:
    for role, address in candidates:
        if key in snapshot.keys_of(address):
            return role, address
    return None


def judge(
    snapshot: Snapshot, cp: CompiledPolicy, pair: Pair, *, why: bool = True
) -> tuple[bool, str, str | None]:
    """Whether ``cp`` applies to the pair: (matched, reason, matched sender).

    The reason names the first failed condition and the value that failed it;
    with ``why=False`` (deciding, not explaining) a match has no reason text
    (the verdict is the same: one code decides both).
    """
    p = cp.policy
    status = cp.status(pair.at)
    if status != "active":
        when = {
            "scheduled": f"starts {p.start}",
            "expired": f"ended {p.end}",
            "disabled": "disabled",
        }[status]
        return False, f"inactive: {when}", None
    if p.kind == _SECURE_MESSAGING:
        if not snapshot.is_internal(pair.envelope):
            return (
                False,
                f"direction: sender {pair.envelope} is external (secure-messaging applies internal → external only)",
                None,
            )
        if snapshot.is_internal(pair.recipient):
            return (
                False,
                f"direction: recipient {pair.recipient} is internal (secure-messaging applies internal → external only)",
                None,
            )
    senders = pair.senders(p.from_part)
    matched_from = _match_side(snapshot, cp.from_key, senders)
    to_ok = cp.to_key in snapshot.keys_of(pair.recipient)
    swapped = False
    # SPEC §4.6: also the recipient as sender and the sender as recipient.
    if (
        not (matched_from and to_ok)
        and p.bidirectional
        and cp.from_key in snapshot.keys_of(pair.recipient)
    ):
        back = _match_side(snapshot, cp.to_key, senders)
        if back:
            matched_from, to_ok, swapped = back, True, True
    if not matched_from:
        if not senders:
            return (
                False,
                f"from: the message has no header From (addresses based on {p.from_part})",
                None,
            )
        shown = " / ".join(f"{role} {a}" for role, a in senders)
        return False, f"from: {shown} {describe_target(p.from_, negative=True)}", None
    if not to_ok:
        return False, f"to: recipient {pair.recipient} {describe_target(p.to, negative=True)}", None
    if cp.networks:
        if pair.source_ip is None:
            return (
                False,
                "source IP: unknown (the policy is limited to " + ", ".join(p.source_ips) + ")",
                None,
            )
        if not any(
            pair.source_ip.version == n.version and pair.source_ip in n for n in cp.networks
        ):
            return (
                False,
                f"source IP: {pair.source_ip_text} is not in {', '.join(p.source_ips)}",
                None,
            )
    if not why:
        return True, "", matched_from[1]
    if swapped:
        # SPEC §4.6: the recipient matched the from target, the sender the to target.
        return (
            True,
            f"matches with sender and recipient swapped (bi-directional): "
            f"recipient {pair.recipient} {describe_target(p.from_)} (the from target), "
            f"{matched_from[0]} {matched_from[1]} {describe_target(p.to)} (the to target)",
            matched_from[1],
        )
    return (
        True,
        f"matches: {matched_from[0]} {matched_from[1]} {describe_target(p.from_)}, "
        f"recipient {describe_target(p.to)}",
        matched_from[1],
    )


def _key_text(cp: CompiledPolicy) -> str:
    o, f, t = cp.key
    return f"(override {'yes' if o else 'no'}, from rank {f:g}, to rank {t:g})"


def choose(matched: Sequence[CompiledPolicy]) -> tuple[CompiledPolicy | None, dict[int, str]]:
    """SPEC §4.8: the greatest (override, from_rank, to_rank), ties to the
    lowest id. Returns the winner and, per losing policy, why it lost."""
    if not matched:
        return None, {}
    winner = max(matched, key=lambda cp: (cp.key, -cp.id))
    why: dict[int, str] = {}
    for cp in matched:
        if cp is winner:
            continue
        if cp.key == winner.key:
            why[cp.id] = (
                f"ambiguous: ties with policy {winner.id} on {_key_text(cp)}; the lower id wins"
            )
        elif cp.policy.override != winner.policy.override:
            why[cp.id] = f"lost to policy {winner.id}, which has policy override"
        else:
            why[cp.id] = (
                f"less specific than policy {winner.id}: {_key_text(cp)} < {_key_text(winner)}"
            )
    return winner, why


# --- content ----------------------------------------------------------------


class _Components:
    """A message's Content Examination components, built lazily per section,
    and what of each section could not be read."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self._by_section: dict[str, tuple[Component, ...]] = {}
        self._by_scan: dict[frozenset[str], list[Component]] = {}
        self._unread: dict[str, str | None] = {}

    def unscannable(self, scan: frozenset[str]) -> dict[str, str]:
        """Section -> what was not read, for the sections of ``scan`` (read first)."""
        out = {}
        for name in scan:
            if name not in self._unread:
                self.section(name)
                method = getattr(self.message, "unscannable", None)
                self._unread[name] = method(name) if method is not None else None
            unread = self._unread[name]
            if unread:
                out[name] = unread
        return out

    def section(self, name: str) -> tuple[Component, ...]:
        got = self._by_section.get(name)
        if got is not None:
            return got
        m = self.message
        if name == _SUBJECT:
            got = (Component("subject", _SUBJECT, m.subject or ""),)
        elif name == _HEADERS:
            # The subject is a component of its own (SPEC §6): the header block
            # leaves out the Subject: field it came from, so a subject word is
            # not counted twice; a second Subject: field stays in the block.
            lines = (m.headers_text or "").split("\n")
            first = next((i for i, ln in enumerate(lines) if ln[:8].lower() == "subject:"), None)
            if first is not None:
                del lines[first]
            got = (Component("headers", _HEADERS, "\n".join(lines)),)
        elif name == _BODY:
            texts = m.body_texts()
            sources = getattr(m, "body_sources", lambda: ())() or (None,) * len(texts)
            got = tuple(
                Component(
                    "body" if len(texts) == 1 else f"body[{i + 1}]",
                    _BODY,
                    _examined(t, src),
                )
                for i, (t, src) in enumerate(zip(texts, sources, strict=False))
            )
            # a named text part a client may show as the body is examined as body too
            got += tuple(c for c in self.section(_ATTACHMENTS) if c.also == _BODY)
        else:
            parts = []
            for i, a in enumerate(m.attachments()):
                label = a.filename or f"#{i + 1}"
                parts.append(
                    Component(
                        f"attachment:{label}",
                        _ATTACHMENTS,
                        _examined(a.text, getattr(a, "source", None)),
                        a.md5,
                        also=_BODY if getattr(a, "inline", False) else None,
                    )
                )
            got = tuple(parts)
        self._by_section[name] = got
        return got

    def for_scan(self, scan: frozenset[str]) -> list[Component]:
        out = self._by_scan.get(scan)
        if out is None:
            out = self._by_scan[scan] = []
            taken: set[int] = (
                set()
            )  # a component of two sections once (by identity: equal ones are distinct parts)
            for name in (_SUBJECT, _HEADERS, _BODY, _ATTACHMENTS):
                if name in scan:
                    for c in self.section(name):
                        if id(c) not in taken:
                            taken.add(id(c))
                            out.append(c)
        return out


def _examined(text: str | None, source: str | None) -> str | None:
    """What a component's lines are searched in: the text as read, and for
    HTML the tag-stripped source after it (whatever one view lost, the other
    keeps; a line still counts once per component)."""
    return text if source is None or text is None else f"{text}\n{source}"


class _ContentCache:
    def __init__(self, message: Any, snapshot: Snapshot) -> None:
        self.components = _Components(message)
        self.snapshot = snapshot
        self.results: dict[str, ContentResult] = {}  # by lower-case name
        # by content definition id: the lookup of every policy (ids are
        # stable, unlike id() of an object, which is reused once it is freed)
        self._by_definition: dict[int, ContentResult] = {}
        self._found_by_scan: dict[frozenset[str], frozenset[str]] = {}

    def result(self, cc: CompiledContent) -> ContentResult:
        got = self._by_definition.get(cc.definition.id)
        if got is None:
            ml = cc.match_list
            unread = self.components.unscannable(cc.scan)
            if (
                not unread
                and ml._broken is None
                and not ml._hashes
                and not ml.can_find(self._found(cc.scan))
            ):
                # The usual case: the message holds none of its lines (found
                # once per section for every definition): no need to score.
                got = ml.nothing(cc.definition.activation_score)
            else:
                got = evaluate(
                    ml,
                    cc.definition.activation_score,
                    self.components.for_scan(cc.scan),
                    cc.scan,
                    scanners=self.snapshot.scanner,
                    unscannable=unread,
                )
            self._by_definition[cc.definition.id] = self.results[cc.definition.name.lower()] = got
        return got

    def _found(self, scan: frozenset[str]) -> frozenset[str]:
        """The keys of every line found anywhere in the sections of ``scan``."""
        got = self._found_by_scan.get(scan)
        if got is None:
            keys: set[str] = set()
            for name in scan:
                scanner = self.snapshot.scanner(name)
                for c in self.components.section(name):
                    if c.text is not None:
                        keys.update(scanner.found(c.text, c._cache))
            got = self._found_by_scan[scan] = frozenset(keys)
        return got


# --- the decision -------------------------------------------------------------


def in_zone(at: datetime, tz: tzinfo) -> datetime:
    """``at`` as an aware time: a time without an offset is in the account
    time zone ``tz`` (SPEC §8.1)."""
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def decision_time(at: datetime, tz: tzinfo) -> datetime:
    """The time a message is decided at, in UTC (:func:`in_zone` first).

    All arithmetic (validity, expiry) is in UTC: wall-clock arithmetic in the
    account zone would make "12h" 13 hours across a clock change. A time that
    cannot be held in UTC and in ``tz`` is a :class:`DecisionError`."""
    at = in_zone(at, tz)
    try:
        at = at.astimezone(UTC)
        at.astimezone(tz)
    except OverflowError:
        raise DecisionError(
            f"time {at.isoformat()} out of range: it must fall within the years 1-9999, in UTC "
            "and in the account time zone"
        ) from None
    return at


def _normalise(value: str, what: str) -> str:
    try:
        return normalise_address(value)
    except AddressError as exc:
        raise DecisionError(f"{what}: {exc}") from None


def parties(
    message: Any, mail_from: str | None = None, rcpt: Sequence[str] = ()
) -> tuple[str, str | None, list[str]]:
    """The addresses a decision is about: (envelope sender, header From,
    recipients), from the message unless given (``--mail-from``, ``--rcpt``).
    Every address the policies are matched against is one of these."""
    envelope = (
        _normalise(mail_from, "--mail-from")
        if mail_from
        else (message.envelope_from or message.header_from)
    )
    if not envelope:
        raise DecisionError(
            "no sender: the message has no Return-Path or From address (give --mail-from)"
        )
    if rcpt:
        recipients: list[str] = []
        for r in rcpt:
            a = _normalise(r, "--rcpt")
            if a not in recipients:
                recipients.append(a)
    else:
        recipients = list(message.recipients)
    if not recipients:
        raise DecisionError("no recipients: the message has no To, Cc or Bcc address (give --rcpt)")
    return envelope, message.header_from, recipients


def decide(snapshot: Snapshot, message: Any, context: Context) -> MessageDecision:
    """Decide every recipient of ``message`` (SPEC §5) at ``context.at``."""
    envelope, header, recipients = parties(message, context.mail_from, context.rcpt)
    ip, ip_text = _source_ip(context.source_ip or message.source_ip)
    via = context.via or ("outlook" if context.definition else "gateway")
    if via not in VIAS:
        raise DecisionError(f"invalid via {via!r}: expected one of {', '.join(VIAS)}")
    at = decision_time(context.at, snapshot.tz)
    user_def = _chosen_definition(snapshot, context.definition, envelope)

    notes: list[str] = []
    undecided = getattr(message, "recipients_unread", 0)
    limit = context.limits.recipients
    if len(recipients) > limit:
        rest = recipients[limit:]
        recipients = recipients[:limit]
        undecided += len(rest)
        named = ", ".join(rest[:10]) + (f" and {len(rest) - 10} more" if len(rest) > 10 else "")
        notes.append(f"recipients: {len(rest)} past the limit of {limit} were not decided: {named}")

    content = _ContentCache(message, snapshot)
    explain: list[Verdict] = []
    scope = _Scope(
        snapshot,
        user_def,
        content,
        senders_by_part={
            FromPart.ENVELOPE: [envelope],
            FromPart.HEADER: [header] if header else [],
            FromPart.BOTH: [a for a in dict.fromkeys([header, envelope]) if a],
        },
        explain_all=context.explain,
    )
    decisions = [
        _decide_recipient(scope, Pair(envelope, header, rcpt, ip, ip_text, at), explain)
        for rcpt in recipients
    ]
    if context.explain:
        explain.extend(_explain_content(snapshot, content))
    try:
        decisions = [render.finish(snapshot, d, envelope, message, at, via) for d in decisions]
    except render.OutOfRange as exc:
        raise DecisionError(str(exc)) from None
    # Every part is read for the notes, whatever this configuration examined:
    # what was skipped or could not be read is said the same way every time.
    read_all = getattr(message, "content_defects", None)
    if read_all is not None:
        read_all()
    read_notes = getattr(message, "notes", None)
    notes = [*(read_notes() if read_notes is not None else getattr(message, "defects", ())), *notes]
    if context.explain:
        explain.extend(Verdict("message", 0, "notes", None, VerdictStatus.NOTE, n) for n in notes)
    return MessageDecision(
        message_id=message.message_id,
        subject=message.subject or "",
        header_from=header,
        header_from_name=getattr(message, "header_from_name", None),
        envelope_from=envelope,
        source_ip=str(ip) if ip else None,
        at=at,
        via=via,
        user_definition=user_def,
        recipients=tuple(decisions),
        explain=tuple(explain),
        content_results=dict(content.results),
        notes=tuple(notes),
        undecided=undecided,
    )


def _source_ip(
    text: str | None,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, str | None]:
    """The source IP (an IPv4-mapped IPv6 address as the IPv4 host it is, as
    in parse_message) and its text; (None, None) when unknown."""
    try:
        ip = ipaddress.ip_address(text) if text else None
    except ValueError:
        raise DecisionError(
            f"invalid source IP {text!r}: expected an IPv4 or IPv6 address"
        ) from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, str(ip.ipv4_mapped)
    return ip, text


def _chosen_definition(snapshot: Snapshot, chosen: str | None, sender: str) -> Definition | None:
    """The definition the sender chose (``--definition``), which must exist
    and be published to the sender; None when none was chosen."""
    if not chosen:
        return None
    definition = snapshot.definition(chosen)
    if definition is None:
        raise DecisionError(f"definition {chosen!r} not found")
    if not snapshot.available_to(definition, sender):
        publish = ", ".join(snapshot.folder_publish.get(definition.folder.lower(), ())) or "nobody"
        raise DecisionError(
            f"definition {definition.path!r} is not available to {sender}: "
            f"folder {definition.folder!r} is published to {publish}"
        )
    return definition


def _explain_content(snapshot: Snapshot, content: _ContentCache) -> list[Verdict]:
    """A verdict for every content definition: fired or not, and the lines found."""
    out = []
    for cc in sorted(snapshot.content.values(), key=lambda c: c.definition.id):
        res = content.result(cc)
        hits = (
            "; ".join(
                f"line {h.line_no} {h.source!r} in {', '.join(h.components)} (+{h.points}{', capped' if h.capped else ''})"
                for h in res.hits
            )
            or "no line found"
        )
        out.append(
            Verdict(
                "content-definition",
                cc.definition.id,
                cc.definition.name,
                None,
                VerdictStatus.FIRED if res.fired else VerdictStatus.NOT_FIRED,
                f"{res.reason}; {hits}",
            )
        )
    return out


# --- one recipient ------------------------------------------------------------


# The three records below are NamedTuples, not dataclasses: as private,
# immutable records they read the same, and a NamedTuple class costs a tenth
# of a frozen dataclass to create at import (start-up is paid by every run).


class _Scope(NamedTuple):
    """What is the same for every recipient of one message."""

    snapshot: Snapshot
    user_def: Definition | None
    content: _ContentCache
    senders_by_part: Mapping[str, Sequence[str]]  # the sender addresses per from_part
    explain_all: bool


class _Firing(NamedTuple):
    """A content-examination policy whose definition fired with a Secure
    Messaging override: a candidate for the content trigger."""

    score: int
    key: tuple[bool, float, float]
    policy: CompiledPolicy

    @property
    def rank(self) -> tuple[int, tuple[bool, float, float], int]:
        """Highest score first, then the most specific policy, then the lowest id."""
        return (self.score, self.key, -self.policy.id)


class _Judged(NamedTuple):
    """Everything that decided one recipient, as the explanation reports it."""

    recipient: str
    verdicts: Mapping[
        str, Mapping[int, tuple[VerdictStatus | None, str]]
    ]  # kind -> id -> (status, reason)
    bypass: CompiledPolicy | None
    bypass_why: Mapping[int, str]
    disabling: bool  # the winning bypass disables Secure Messaging
    sm_winner: CompiledPolicy | None
    sm_why: Mapping[int, str]
    trigger: Trigger | None
    content_winner: CompiledPolicy | None
    firing: tuple[_Firing, ...]
    bypassed_user: bool
    bypassed_content: bool
    kept: str | None  # why a disabling bypass (scope policy) left the copy secured
    outcomes: Mapping[int, ContentOutcome]  # by content-examination policy id
    reasons: tuple[str, ...]


def _evaluate_kind(
    scope: _Scope,
    kind: PolicyKind,
    pair: Pair,
    verdicts: dict[int, tuple[VerdictStatus | None, str]],
) -> list[CompiledPolicy]:
    """The policies of ``kind`` that apply to the pair. With
    ``scope.explain_all`` every policy is judged and its verdict recorded;
    otherwise only the candidates found by key, and one policy per signature
    (policies with equal signatures match the same pairs)."""
    snapshot = scope.snapshot
    matched = []
    if scope.explain_all:
        for cp in snapshot.policies.get(kind, ()):
            ok, reason, _ = judge(snapshot, cp, pair)
            if ok:
                matched.append(cp)
            # None: matched; choosing among those that matched gives the verdict
            verdicts[cp.id] = (
                None if ok else _INACTIVE if reason.startswith("inactive") else _NO_MATCH,
                reason,
            )
        return matched
    judged: dict[tuple[object, ...], bool] = {}
    for cp in snapshot.candidates(kind, scope.senders_by_part, pair.recipient):
        applies = judged.get(cp.signature)
        if applies is None:
            applies = judged[cp.signature] = judge(snapshot, cp, pair, why=False)[0]
        if applies:
            matched.append(cp)
    return matched


def _content_outcomes(
    scope: _Scope, matched: Sequence[CompiledPolicy]
) -> tuple[list[ContentOutcome], list[_Firing]]:
    """Each matching content-examination policy evaluated, and those that
    fired with a Secure Messaging override."""
    outcomes: list[ContentOutcome] = []
    firing: list[_Firing] = []
    for cp in matched:
        cc = cp.content
        if cc is None:
            continue
        res = scope.content.result(cc)
        sm = cc.secure_messaging
        outcomes.append(
            ContentOutcome(
                cp.id,
                cp.policy.narrative,
                cc.definition.name,
                res.score,
                res.fired,
                sm.path if sm else None,
                res.reason,
                res.unscannable,
            )
        )
        if res.fired and sm is not None:
            firing.append(_Firing(res.score, cp.key, cp))
    return outcomes, firing


def _decide_recipient(scope: _Scope, pair: Pair, explain: list[Verdict]) -> RecipientDecision:
    snapshot = scope.snapshot
    rcpt = pair.recipient
    verdicts: dict[str, dict[int, tuple[VerdictStatus | None, str]]] = {k: {} for k in _KINDS}

    # Bypass (exclusive): removes the policy trigger, with bypass_scope=all every trigger.
    bypass, bypass_why = choose(_evaluate_kind(scope, _BYPASS, pair, verdicts[_BYPASS]))
    disabling = bypass if bypass is not None and bypass.policy.option == "disable" else None
    disabling_all = disabling if snapshot.account.bypass_scope == "all" else None
    # Content Examination (cumulative).
    ce = _CONTENT_EXAMINATION
    outcomes, firing = _content_outcomes(scope, _evaluate_kind(scope, ce, pair, verdicts[ce]))
    firing.sort(key=lambda f: f.rank, reverse=True)
    content_winner = firing[0].policy if firing else None
    # Secure Messaging policies (exclusive).
    sm = _SECURE_MESSAGING
    sm_winner, sm_why = choose(_evaluate_kind(scope, sm, pair, verdicts[sm]))

    # The triggers in order (SPEC §5): the sender's choice, content, policy.
    got = _Triggers()
    if scope.user_def is not None:
        got.user(scope.user_def, disabling_all)
    if content_winner is not None and got.trigger is None:
        got.content(content_winner, scope.content, disabling_all)
    if sm_winner is not None and got.trigger is None:
        got.secure_messaging(sm_winner, disabling)
    if not got.reasons:
        got.nothing(bypass)
    elif disabling is not None and got.trigger is not None:
        got.kept_despite(disabling)  # bypass scope policy: the copy is secured all the same

    if scope.explain_all:
        judged = _Judged(
            recipient=rcpt,
            verdicts=verdicts,
            bypass=bypass,
            bypass_why=bypass_why,
            disabling=disabling is not None,
            sm_winner=sm_winner,
            sm_why=sm_why,
            trigger=got.trigger,
            content_winner=content_winner,
            firing=tuple(firing),
            bypassed_user=got.bypassed_user,
            bypassed_content=got.bypassed_content,
            kept=got.kept,
            outcomes={o.policy_id: o for o in outcomes},
            reasons=tuple(got.reasons),
        )
        explain.extend(_explain_policies(snapshot, judged))
        explain.extend(_explain_user(scope.user_def, judged))

    return RecipientDecision(
        address=rcpt,
        internal=snapshot.is_internal(rcpt),
        route=_INBOX,
        secure=got.definition is not None,
        trigger=got.trigger,
        definition=got.definition,
        policy=got.policy,
        bypass=PolicyRef.of(bypass) if bypass is not None else None,
        content=tuple(outcomes),
        reason="; ".join(got.reasons),
    )


class _Triggers:
    """One recipient's triggers, tried in order: what secured the copy (if
    anything), why, and which trigger a disabling bypass removed. Each step
    is given the bypass that removes it (None: none does)."""

    __slots__ = (
        "bypassed_content",
        "bypassed_user",
        "definition",
        "kept",
        "policy",
        "reasons",
        "trigger",
    )

    def __init__(self) -> None:
        self.trigger: Trigger | None = None
        self.definition: Definition | None = None
        self.policy: PolicyRef | None = None
        self.reasons: list[str] = []
        self.bypassed_user = False
        self.bypassed_content = False
        self.kept: str | None = None

    def user(self, chosen: Definition, removed_by: CompiledPolicy | None) -> None:
        if removed_by is not None:
            self.bypassed_user = True
            self.reasons.append(
                f"the sender chose {chosen.path!r} but {_disabled_by(removed_by)} (bypass scope all)"
            )
        else:
            self.trigger, self.definition = _USER, chosen
            self.reasons.append(f"the sender chose {chosen.path!r}")

    def content(
        self, winner: CompiledPolicy, results: _ContentCache, removed_by: CompiledPolicy | None
    ) -> None:
        cc = winner.content
        assert cc is not None  # only policies with a content definition fire
        if removed_by is not None:
            self.bypassed_content = True
            self.reasons.append(
                f"content policy {winner.id} fired but {_disabled_by(removed_by)} (bypass scope all)"
            )
            return
        self.trigger, self.definition = _CONTENT, cc.secure_messaging
        self.policy = PolicyRef.of(winner)
        res = results.result(cc)
        found = (
            f"fired to fail closed (unscannable: {res.unscannable})"
            if res.unscannable
            else f"scored {res.score}"
        )
        self.reasons.append(
            f"content policy {winner.id} ({winner.policy.narrative!r}): "
            f"{cc.definition.name!r} {found}"
        )

    def secure_messaging(self, winner: CompiledPolicy, removed_by: CompiledPolicy | None) -> None:
        if removed_by is not None:
            self.reasons.append(
                f"secure-messaging policy {winner.id} matched but {_disabled_by(removed_by)}"
            )
        elif winner.policy.option == "apply" and winner.definition is not None:
            self.trigger, self.definition = _POLICY, winner.definition
            self.policy = PolicyRef.of(winner)
            self.reasons.append(
                f"secure-messaging policy {winner.id} ({winner.policy.narrative!r}) applies {winner.definition.path!r}"
            )
        else:
            self.policy = PolicyRef.of(winner)
            self.reasons.append(
                f"secure-messaging policy {winner.id} ({winner.policy.narrative!r}) takes no action"
            )

    def kept_despite(self, bypass: CompiledPolicy) -> None:
        """A disabling bypass matched but the copy is secured by the user or
        content trigger (with bypass scope policy it removes only the policy
        trigger): say so, lest "disables Secure Messaging" contradict the route."""
        if self.trigger == _USER:
            assert self.definition is not None  # the user trigger: the sender's choice
            by = f"the user trigger (the sender chose {self.definition.path!r})"
        else:
            assert self.policy is not None  # the content trigger: its policy
            by = f"the content trigger (content policy {self.policy.id})"
        self.kept = f"removes only the policy trigger (bypass scope policy): the copy is still secured by {by}"
        self.reasons.append(
            f"bypass policy {bypass.id} ({bypass.policy.narrative!r}) matched but {self.kept}"
        )

    def nothing(self, bypass: CompiledPolicy | None) -> None:
        self.reasons.append(
            "no trigger: no definition chosen, no content rule fired, no secure-messaging policy applies"
        )
        if bypass is not None:
            self.reasons.append(
                f"bypass policy {bypass.id} ({bypass.policy.option}) matched, with nothing to remove"
            )


def _disabled_by(bypass: CompiledPolicy) -> str:
    return f"bypass policy {bypass.id} disables Secure Messaging"


def _explain_user(user_def: Definition | None, judged: _Judged) -> list[Verdict]:
    """The sender's own choice of definition, if any: chosen or bypassed."""
    if user_def is None:
        return []
    return [
        Verdict(
            "user",
            user_def.id,
            user_def.path,
            judged.recipient,
            VerdictStatus.BYPASSED if judged.bypassed_user else VerdictStatus.CHOSEN,
            judged.reasons[0],
        )
    ]


def _explain_policies(snapshot: Snapshot, judged: _Judged) -> list[Verdict]:
    """A verdict for every policy of every kind, for one recipient."""
    out = []
    for kind in _KINDS:
        for cp in snapshot.policies.get(kind, ()):
            status, reason = judged.verdicts[kind].get(
                cp.id, (_NO_MATCH, "not a candidate for this pair")
            )
            if status is None:
                status, reason = _VERDICT_OF_MATCHED[kind](cp, reason, judged)
            out.append(
                Verdict(
                    kind,
                    cp.id,
                    cp.policy.narrative,
                    judged.recipient,
                    status,
                    reason,
                )
            )
    return out


def _matched_bypass(cp: CompiledPolicy, reason: str, judged: _Judged) -> tuple[VerdictStatus, str]:
    if cp is not judged.bypass:
        return VerdictStatus.LOST, judged.bypass_why.get(cp.id, reason)
    if judged.kept is not None:
        effect = judged.kept
    else:
        effect = "disables Secure Messaging" if judged.disabling else "takes no action"
    return VerdictStatus.WON, f"{reason}; {effect}"


def _matched_secure_messaging(
    cp: CompiledPolicy, reason: str, judged: _Judged
) -> tuple[VerdictStatus, str]:
    if cp is not judged.sm_winner:
        return VerdictStatus.LOST, judged.sm_why.get(cp.id, reason)
    if judged.trigger in (Trigger.USER, Trigger.CONTENT):
        return VerdictStatus.LOST, f"{reason}; the {judged.trigger} trigger comes first"
    if judged.disabling:
        assert judged.bypass is not None
        return VerdictStatus.BYPASSED, f"{reason}; removed by bypass policy {judged.bypass.id}"
    return VerdictStatus.WON, reason


def _matched_content(cp: CompiledPolicy, reason: str, judged: _Judged) -> tuple[VerdictStatus, str]:
    outcome = judged.outcomes.get(cp.id)
    if outcome is not None:
        reason = f"{reason}; {outcome.content_definition!r}: {outcome.reason}"
    winner = judged.content_winner
    if cp is winner and judged.trigger == Trigger.CONTENT:
        return VerdictStatus.WON, reason
    if cp is winner and judged.bypassed_content:
        assert judged.bypass is not None
        return (
            VerdictStatus.BYPASSED,
            f"{reason}; removed by bypass policy {judged.bypass.id} (bypass scope all)",
        )
    if any(f.policy is cp for f in judged.firing):
        assert winner is not None  # the first of those that fired
        return VerdictStatus.LOST, (
            f"{reason}; fired, but the user trigger comes first"
            if judged.trigger == Trigger.USER
            else f"{reason}; fired, but policy {winner.id} has a higher score or is more specific"
        )
    cc = cp.content
    if cc is not None and cc.secure_messaging is None:
        reason = f"{reason}; its content definition has no Secure Messaging override"
    return VerdictStatus.EVALUATED, reason


#: How a policy that matched fares, per kind: (verdict, reason).
_VERDICT_OF_MATCHED: Mapping[
    str, Callable[[CompiledPolicy, str, _Judged], tuple[VerdictStatus, str]]
] = {
    PolicyKind.BYPASS: _matched_bypass,
    PolicyKind.SECURE_MESSAGING: _matched_secure_messaging,
    PolicyKind.CONTENT_EXAMINATION: _matched_content,
}
