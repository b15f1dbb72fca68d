"""``secmsg lint``: the rules (docs/configuration.md, docs/decisions.md). Pure: the rules read
model objects through a compiled :class:`~secmsg_cli.engine.snapshot.Snapshot`
and the evaluation time is passed in; no store, no CLI, no clock.

Every finding has a stable code, a name, a severity, the object it is about and
a one-line reason. Codes never change meaning once released; new rules get new
codes.

==========  ===========================  ========  ==============================================================
code        name                         severity  meaning
==========  ===========================  ========  ==============================================================
SM001       invalid-config               error     the configuration file cannot be read or is invalid (one
                                                   finding per problem, with its location); nothing else is
                                                   checked until it is fixed
SM101       dangling-definition          error     a secure-messaging policy (option ``apply``) or a content
                                                   definition's Secure Messaging override names a definition
                                                   that does not exist
SM102       dangling-content-definition  error     a content-examination policy names a content definition
                                                   that does not exist
SM103       dangling-group               error     a policy target or a folder's ``publish_to`` names a group
                                                   that does not exist
SM104       dangling-attribute           error     a policy target names an attribute that no address has (for
                                                   instance after ``secmsg attribute unset``)
SM105       unsupported-regex            error     a content-examination regex that the linear-time matcher
                                                   (RE2) cannot run: a backreference, look-around, an atomic
                                                   group, a possessive quantifier, or a pattern too large;
                                                   refused when written, found in a store written before.
                                                   The definition fails closed until it is fixed
SM106       dangling-template            error     a definition names a notification template that does not
                                                   exist
SM107       template-without-link        error     a notification template whose HTML or text body has no
                                                   ``[portal_link]``: the recipient could not reach the message
SM108       unrenderable-html            error     a notification template's HTML that does not parse as
                                                   balanced markup: an end tag that closes nothing or the wrong
                                                   element, an element that needs an end tag left open, or a
                                                   tag or comment left unterminated
SM109       bad-logo                     error     a notification template's logo that is not a PNG, JPEG or
                                                   GIF image, is too large, or cannot be read
SM201       untriggerable-definition     warning   a definition that no policy or content definition uses and
                                                   that no sender can choose (its folder is published to
                                                   nobody, or only to empty groups): nothing can ever apply it
SM202       unused-content-definition    warning   a content definition that no content-examination policy uses
SM203       unused-template              warning   a notification template that no definition uses
SM301       ambiguous-policies           warning   two secure-messaging (or two bypass) policies with the same
                                                   key (override, from rank, to rank) that can both apply to
                                                   one sender/recipient pair at the same time: only the lower
                                                   id decides which wins (docs/decisions.md)
SM302       expired-policy               warning   a policy whose end has passed (at ``--at``, default now)
SM303       never-active-policy          warning   a policy that is disabled, or whose end is not after its
                                                   start: it never applies
SM304       bidirectional-override       warning   a bi-directional content-examination policy whose content
                                                   definition carries a Secure Messaging override: inbound
                                                   mail would be secured too (docs/decisions.md)
SM305       wrong-direction              warning   a secure-messaging policy whose ``to`` can only match
                                                   internal addresses, or whose ``from`` (envelope sender) can
                                                   only match external ones: it can never apply, as these
                                                   policies apply internal sender -> external recipient only
                                                   (docs/decisions.md)
SM306       unmatchable-target           warning   a policy target that no address can match: an attribute
                                                   value that no address has, or ``internal`` while no
                                                   internal domain is registered
SM401       unknown-banner-tag           warning   a definition's banner has a bracketed word that is not a
                                                   tag; it is printed as written (docs/decisions.md)
SM402       unknown-template-tag         warning   a notification template's subject, sender name, HTML or
                                                   text has a bracketed word that is not a tag; it is sent as
                                                   written (docs/configuration.md)
SM501       empty-group                  warning   a group with no members that a policy target or a folder's
                                                   ``publish_to`` uses
SM601       regex-dialect                warning   a content-examination regex that means something else in
                                                   RE2 than in Python's ``re``: ``\\d \\w \\s \\b`` are ASCII,
                                                   ``$`` is the very end of the text, ``{,n}`` is literal
==========  ===========================  ========  ==============================================================

Scheduled policies (start in the future) are not findings. Built-in
definitions are never reported by SM201. SM301 compares senders as one address
(the envelope sender and the header From are the same, as in ordinary mail);
it takes the time windows, source IP ranges, bi-directional policies and, for
secure-messaging policies, the internal -> external direction into account,
and ignores policies that are disabled or expired at the evaluation time. Whether
two targets overlap is decided with the engine's own matching
(:meth:`Snapshot.keys_of`) on the addresses and domains the configuration
names, plus one unregistered domain and one new subdomain of each wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

from secmsg_cli.engine.addresses import domain_of
from secmsg_cli.engine.render import NOTIFICATION_TAGS, TAGS, unknown_tags
from secmsg_cli.engine.snapshot import CompiledPolicy, Snapshot, target_key
from secmsg_cli.errors import InvalidInput, clip, did_you_mean
from secmsg_cli.model import EVERYONE, Folder, NotificationTemplate, Policy, Target, logo_type
from secmsg_cli.problems import Problem, diagnostic

__all__ = [
    "RULES",
    "SEVERITIES",
    "Finding",
    "Rule",
    "counts",
    "failed",
    "invalid_config",
    "lint",
    "sort_findings",
    "summary",
    "to_github",
    "to_sarif",
]

SEVERITIES = ("error", "warning")
EXCLUSIVE_KINDS = ("secure-messaging", "bypass")


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: str
    meaning: str


RULES: tuple[Rule, ...] = (
    Rule("SM001", "invalid-config", "error", "the configuration file cannot be read or is invalid"),
    Rule(
        "SM101",
        "dangling-definition",
        "error",
        "a policy or content definition names a missing definition",
    ),
    Rule(
        "SM102",
        "dangling-content-definition",
        "error",
        "a content-examination policy names a missing content definition",
    ),
    Rule(
        "SM103",
        "dangling-group",
        "error",
        "a policy target or folder publish_to names a missing group",
    ),
    Rule(
        "SM104", "dangling-attribute", "error", "a policy target names an attribute no address has"
    ),
    Rule(
        "SM105",
        "unsupported-regex",
        "error",
        "a content-examination regex the linear-time matcher cannot run",
    ),
    Rule(
        "SM106",
        "dangling-template",
        "error",
        "a definition names a missing notification template",
    ),
    Rule(
        "SM107",
        "template-without-link",
        "error",
        "a notification template body without [portal_link]",
    ),
    Rule(
        "SM108",
        "unrenderable-html",
        "error",
        "a notification template's HTML that is not balanced markup",
    ),
    Rule("SM109", "bad-logo", "error", "a template logo that is not a small PNG, JPEG or GIF"),
    Rule(
        "SM201",
        "untriggerable-definition",
        "warning",
        "a definition nothing uses and no sender can choose",
    ),
    Rule("SM202", "unused-content-definition", "warning", "a content definition no policy uses"),
    Rule("SM203", "unused-template", "warning", "a notification template no definition uses"),
    Rule(
        "SM301",
        "ambiguous-policies",
        "warning",
        "two exclusive policies tie on the key for the same pair",
    ),
    Rule("SM302", "expired-policy", "warning", "a policy whose end has passed"),
    Rule(
        "SM303",
        "never-active-policy",
        "warning",
        "a disabled policy, or one whose end is not after its start",
    ),
    Rule(
        "SM304",
        "bidirectional-override",
        "warning",
        "a bi-directional content policy with a Secure Messaging override",
    ),
    Rule(
        "SM305",
        "wrong-direction",
        "warning",
        "a secure-messaging policy that cannot match internal -> external",
    ),
    Rule("SM306", "unmatchable-target", "warning", "a policy target no address can match"),
    Rule(
        "SM401", "unknown-banner-tag", "warning", "a banner uses a bracketed word that is not a tag"
    ),
    Rule(
        "SM402",
        "unknown-template-tag",
        "warning",
        "a notification template uses a bracketed word that is not a tag",
    ),
    Rule("SM501", "empty-group", "warning", "an empty group used by a policy or folder publishing"),
    Rule(
        "SM601",
        "regex-dialect",
        "warning",
        "a regex that means something else in RE2 than in Python's re",
    ),
)
_RULE = {r.name: r for r in RULES}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: the ``file``, ``line`` and ``column`` it is at (None for
    a finding about the store, and where not known), a stable ``code`` and
    ``name``, its ``severity`` (``error`` or ``warning``), the ``object`` it is
    about and a one-line ``message``."""

    code: str
    name: str
    severity: str
    object: str | None
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    # where a configuration file writes what the finding is about: (section,
    # the object's name or path, field); lint FILE turns it into line:column
    place: tuple[str, str, str | None] | None = None

    def to_dict(self) -> dict[str, str | int | None]:
        """The fields, the place first (as JSON shows them)."""
        fields = asdict(self)
        return {k: fields[k] for k in ("file", "line", "column", *list(fields)[:5])}

    @property
    def text(self) -> str:
        """``PATH:LINE:COL: SEVERITY CODE object: message``, as every problem reads."""
        return diagnostic(
            self.file, self.line, self.column, self.severity, self.code, self.object, self.message
        )


def _finding(
    name: str,
    obj: str | None,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    place: tuple[str, str, str | None] | None = None,
) -> Finding:
    """A finding; its text cut as every error is (a 1 MB value in a config
    file is named, not echoed whole: :func:`~secmsg_cli.errors.clip`)."""
    rule = _RULE[name]
    return Finding(
        rule.code,
        rule.name,
        rule.severity,
        clip(obj) if obj is not None else None,
        clip(" ".join(message.split())),
        file,
        line,
        column,
        place,
    )


# --- naming objects -----------------------------------------------------------


def _short(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def policy_label(p: Policy) -> str:
    return f"{p.kind} policy {p.id} ('{_short(p.narrative)}')"


def _rank(value: float) -> str:
    return f"{value:g}"


def _key_text(cp: CompiledPolicy) -> str:
    o, f, t = cp.key
    return f"(override {'yes' if o else 'no'}, from rank {_rank(f)}, to rank {_rank(t)})"


# --- the directory, as the rules need it ------------------------------------------


class _Directory:
    """What the rules ask of the directory, computed once from the snapshot."""

    def __init__(self, snapshot: Snapshot, folders: Iterable[Folder] = ()) -> None:
        self.snapshot = snapshot
        # The snapshot keys folders by lower-case path; names as written, for messages.
        self.folder_names = {d.folder.lower(): d.folder for d in snapshot.definitions.values()}
        self.folder_names.update((f.path.lower(), f.path) for f in folders)
        self.members: dict[str, tuple[set[str], set[str]]] = {
            g: (set(), set()) for g in snapshot.group_names
        }
        for address, groups in snapshot.address_groups.items():
            for g in groups:
                self.members.setdefault(g, (set(), set()))[0].add(address)
        for domain, groups in snapshot.domain_groups.items():
            for g in groups:
                self.members.setdefault(g, (set(), set()))[1].add(domain)
        self.attribute_names = {name for values in snapshot.attributes.values() for name in values}
        self.attribute_holders: dict[tuple[str, str], set[str]] = {}
        for address, values in snapshot.attributes.items():
            for name, value in values.items():
                self.attribute_holders.setdefault((name, value.lower()), set()).add(address)

    def folder(self, lower_path: str) -> str:
        return self.folder_names.get(lower_path, lower_path)

    def group_exists(self, name: str) -> bool:
        return name.lower() in self.snapshot.group_names

    def group_empty(self, name: str) -> bool:
        addresses, domains = self.members.get(name.lower(), (set(), set()))
        return not addresses and not domains

    def dangling(self, target: Target) -> bool:
        if target.type == "group":
            return not self.group_exists(target.value or "")
        if target.type == "attribute":
            return (target.name or "").lower() not in self.attribute_names
        return False

    # Witnesses: an address that matches every target given (engine semantics),
    # internal or external when asked. The candidates are the addresses and
    # domains the targets name, every internal domain, a new subdomain of each
    # wildcard and one unregistered domain: any address matching the targets
    # matches them exactly like one of these (matching depends only on the
    # address itself, its domain, that domain's suffixes and registration).

    def _candidates(self, targets: Sequence[Target]) -> Iterator[str]:
        addresses: list[str] = []
        domains: list[str] = sorted(self.snapshot.internal_domains)
        for t in targets:
            if t.type == "address" and t.value:
                addresses.append(t.value)
            elif t.type == "domain" and t.value:
                if t.value.startswith("*."):
                    domains += [t.value[2:], "sub." + t.value[2:]]
                else:
                    domains.append(t.value)
            elif t.type == "group":
                found, by_domain = self.members.get((t.value or "").lower(), (set(), set()))
                addresses += sorted(found)
                domains += sorted(by_domain)
            elif t.type == "attribute":
                addresses += sorted(
                    self.attribute_holders.get(
                        ((t.name or "").lower(), (t.value or "").lower()), ()
                    )
                )
        domains.append("external.invalid")
        seen: set[str] = set()
        for a in [*addresses, *(f"someone@{d}" for d in domains)]:
            if a not in seen:
                seen.add(a)
                yield a

    def witness(self, targets: Sequence[Target], where: str | None = None) -> str | None:
        keys = [target_key(t) for t in targets]
        for address in self._candidates(targets):
            internal = domain_of(address) in self.snapshot.internal_domains
            if (where == "internal" and not internal) or (where == "external" and internal):
                continue
            matched = self.snapshot.keys_of(address)
            if all(k in matched for k in keys):
                return address
        return None


# --- the rules ------------------------------------------------------------------------


def _all_policies(snapshot: Snapshot) -> list[CompiledPolicy]:
    return sorted((cp for cps in snapshot.policies.values() for cp in cps), key=lambda cp: cp.id)


def _dangling(snapshot: Snapshot, directory: _Directory) -> Iterator[Finding]:
    for cp in _all_policies(snapshot):
        p = cp.policy
        label = policy_label(p)
        if p.kind == "secure-messaging" and p.option == "apply":
            if not p.definition:
                yield _finding(
                    "dangling-definition",
                    label,
                    "option 'apply' but its definition no longer exists (removed outside secmsg?)",
                )
            elif snapshot.definition(p.definition) is None:
                yield _finding(
                    "dangling-definition",
                    label,
                    f"applies definition '{p.definition}', which does not exist",
                )
        if p.kind == "content-examination":
            if not p.content_definition:
                yield _finding(
                    "dangling-content-definition",
                    label,
                    "its content definition no longer exists (removed outside secmsg?)",
                )
            elif p.content_definition.lower() not in snapshot.content:
                yield _finding(
                    "dangling-content-definition",
                    label,
                    f"uses content definition '{p.content_definition}', which does not exist",
                )
        for side, target in (("from", p.from_), ("to", p.to)):
            if target.type == "group" and directory.dangling(target):
                yield _finding(
                    "dangling-group",
                    label,
                    f"{side} names group '{target.value}', which does not exist",
                )
            elif target.type == "attribute" and directory.dangling(target):
                yield _finding(
                    "dangling-attribute",
                    label,
                    f"{side} names attribute '{target.name}', which no address has: it never matches",
                )
    for cc in snapshot.content.values():
        sm = cc.definition.secure_messaging
        if sm and cc.secure_messaging is None:
            yield _finding(
                "dangling-definition",
                f"content definition '{cc.definition.name}'",
                f"its Secure Messaging override names definition '{sm}', which does not exist",
            )
    for folder, publish in sorted(snapshot.folder_publish.items()):
        for name in publish:
            if name.lower() != EVERYONE and not directory.group_exists(name):
                yield _finding(
                    "dangling-group",
                    f"folder '{directory.folder(folder)}'",
                    f"publish_to names group '{name}', which does not exist",
                )


def _untriggerable(snapshot: Snapshot, directory: _Directory) -> Iterator[Finding]:
    used = {
        cp.policy.definition.strip("/").lower()
        for cp in _all_policies(snapshot)
        if cp.policy.definition
    }
    used |= {
        cc.definition.secure_messaging.strip("/").lower()
        for cc in snapshot.content.values()
        if cc.definition.secure_messaging
    }
    for path, d in sorted(snapshot.definitions.items()):
        if d.builtin or path in used:
            continue
        publish = snapshot.folder_publish.get(d.folder.lower(), ())
        if any(name.lower() == EVERYONE for name in publish):
            continue
        live = [g for g in publish if directory.group_exists(g) and not directory.group_empty(g)]
        if live:
            continue
        how = (
            "is published to nobody"
            if not publish
            else "is published only to empty or missing group(s) "
            + ", ".join(f"'{g}'" for g in publish)
        )
        yield _finding(
            "untriggerable-definition",
            f"definition '{d.path}'",
            f"no policy or content definition uses it and its folder '{d.folder}' {how}, "
            "so no sender can choose it: nothing can ever apply it",
        )
    policy_uses = {
        cp.policy.content_definition.lower()
        for cp in snapshot.policies.get("content-examination", ())
        if cp.policy.content_definition
    }
    for name, cc in sorted(snapshot.content.items()):
        if name not in policy_uses:
            yield _finding(
                "unused-content-definition",
                f"content definition '{cc.definition.name}'",
                "no content-examination policy uses it, so it is never evaluated",
            )


def _never_active(cp: CompiledPolicy) -> bool:
    return not cp.policy.enabled or (
        cp.start is not None and cp.end is not None and cp.end <= cp.start
    )


def _expired(cp: CompiledPolicy, at: datetime) -> bool:
    return cp.end is not None and cp.end <= at


def _validity(snapshot: Snapshot, at: datetime) -> Iterator[Finding]:
    for cp in _all_policies(snapshot):
        p = cp.policy
        if not p.enabled:
            yield _finding(
                "never-active-policy",
                policy_label(p),
                "disabled: it never applies (delete it or enable it)",
            )
        elif _never_active(cp):
            yield _finding(
                "never-active-policy",
                policy_label(p),
                f"end {p.end} is not after start {p.start}: it is never active",
            )
        elif _expired(cp, at):
            yield _finding(
                "expired-policy",
                policy_label(p),
                f"expired: its end {p.end} has passed (at {at.astimezone(snapshot.tz).isoformat()})",
            )


def _bidirectional(snapshot: Snapshot) -> Iterator[Finding]:
    for cp in snapshot.policies.get("content-examination", ()):
        p = cp.policy
        if not p.bidirectional or cp.content is None:
            continue
        sm = cp.content.definition.secure_messaging
        if sm:
            yield _finding(
                "bidirectional-override",
                policy_label(p),
                f"bi-directional, and content definition '{cp.content.definition.name}' carries the "
                f"Secure Messaging override '{sm}': mail in the other direction is secured too; "
                "use a one-way policy per direction",
            )


def _targets(snapshot: Snapshot, directory: _Directory) -> Iterator[Finding]:
    for cp in _all_policies(snapshot):
        p = cp.policy
        label = policy_label(p)
        unmatchable = False
        for side, target in (("from", p.from_), ("to", p.to)):
            if directory.dangling(target) or (
                target.type == "group" and directory.group_empty(target.value or "")
            ):
                unmatchable = True  # SM103 / SM104 / SM501 say why
                continue
            if directory.witness([target]) is None:
                unmatchable = True
                if target.type == "internal":
                    why = "no internal domain is registered, so no address is internal"
                elif target.type == "attribute":
                    why = f"no address has {target.name}={target.value}"
                else:
                    why = "no address can match it"
                yield _finding(
                    "unmatchable-target", label, f"{side} {target}: {why}; the policy never matches"
                )
        if unmatchable or p.kind != "secure-messaging":
            continue
        if directory.witness([p.to], "external") is None:
            yield _finding(
                "wrong-direction",
                label,
                f"to {p.to} can only match internal addresses, but secure-messaging policies apply to "
                "external recipients only: it can never apply",
            )
        if p.from_part == "envelope" and directory.witness([p.from_], "internal") is None:
            yield _finding(
                "wrong-direction",
                label,
                f"from {p.from_} (envelope sender) can only match external addresses, but "
                "secure-messaging policies apply to internal senders only: it can never apply",
            )


def _windows_meet(a: CompiledPolicy, b: CompiledPolicy, at: datetime) -> bool:
    starts = [s for s in (a.start, b.start) if s is not None]
    ends = [e for e in (a.end, b.end) if e is not None]
    lo = max(starts) if starts else None
    hi = min(ends) if ends else None
    return not (hi is not None and (hi <= at or (lo is not None and hi <= lo)))


def _networks_meet(a: CompiledPolicy, b: CompiledPolicy) -> bool:
    if not a.networks or not b.networks:
        return True
    return any(x.version == y.version and x.overlaps(y) for x in a.networks for y in b.networks)


def _orientations(p: Policy) -> list[tuple[Target, Target]]:
    return [(p.from_, p.to), (p.to, p.from_)] if p.bidirectional else [(p.from_, p.to)]


def _shared_pair(
    directory: _Directory, a: CompiledPolicy, b: CompiledPolicy
) -> tuple[str, str] | None:
    """A (sender, recipient) pair both policies match, or None."""
    sm = a.policy.kind == "secure-messaging"
    for fa, ta in _orientations(a.policy):
        for fb, tb in _orientations(b.policy):
            sender = directory.witness([fa, fb], "internal" if sm else None)
            if sender is None:
                continue
            recipient = directory.witness([ta, tb], "external" if sm else None)
            if recipient is not None:
                return sender, recipient
    return None


class _Meets:
    """Which target keys can match one and the same address, found once for
    all the policies of a kind, so that SM301 compares only the pairs of
    policies that can meet instead of every pair (which made lint quadratic
    in policies).

    The addresses tried are the witness candidates of every target together
    (:meth:`_Directory._candidates`): the candidates of any pair of targets
    are among them, so when :func:`_shared_pair` would find a shared sender
    and recipient, both sides' keys meet here. Meeting is necessary, not
    sufficient: each pair found is still judged by ``_shared_pair`` itself,
    so the findings are exactly those of comparing every pair. For
    secure-messaging policies senders meet on internal addresses and
    recipients on external ones, as ``_shared_pair`` asks."""

    def __init__(self, directory: _Directory, policies: Sequence[Policy], sm: bool) -> None:
        snapshot = directory.snapshot
        targets = [t for p in policies for pair in _orientations(p) for t in pair]
        keys = {target_key(t) for t in targets}
        self.senders: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        self.recipients = {} if sm else self.senders
        for address in directory._candidates(targets):
            matched = snapshot.keys_of(address) & keys
            if not matched:
                continue
            side = self.senders
            if sm and domain_of(address) not in snapshot.internal_domains:
                side = self.recipients
            for k in matched:
                side.setdefault(k, set()).update(matched)

    def pairs(self, group: Sequence[CompiledPolicy]) -> list[tuple[int, int]]:
        """``(i, j)``, ``j < i``, for the policies of ``group`` that can meet,
        in the order of comparing every pair."""
        ways = [
            [(target_key(f), target_key(t)) for f, t in _orientations(cp.policy)] for cp in group
        ]
        # Candidates from one side (sender or recipient keys that meet), the
        # side that yields fewer; then both sides checked, per orientation.
        by_side = []
        for side, meets in ((0, self.senders), (1, self.recipients)):
            by_key: dict[tuple[str, ...], set[int]] = {}
            for i, w in enumerate(ways):
                for pair in w:
                    by_key.setdefault(pair[side], set()).add(i)
            cost = sum(
                len(members) * sum(len(by_key.get(k2, ())) for k2 in meets.get(k, ()))
                for k, members in by_key.items()
            )
            by_side.append((cost, side, by_key, meets))
        _, _, by_key, meets = min(by_side, key=lambda c: c[:2])
        found: set[tuple[int, int]] = set()
        for k, members in by_key.items():
            for k2 in meets.get(k, ()):
                for j in by_key.get(k2, ()):
                    found.update((i, j) for i in members if j < i)
        senders, recipients = self.senders, self.recipients
        return sorted(
            (i, j)
            for i, j in found
            if any(
                fb in senders.get(fa, ()) and tb in recipients.get(ta, ())
                for fa, ta in ways[i]
                for fb, tb in ways[j]
            )
        )


def _ambiguous(snapshot: Snapshot, directory: _Directory, at: datetime) -> Iterator[Finding]:
    for kind in EXCLUSIVE_KINDS:
        by_key: dict[tuple[bool, float, float], list[CompiledPolicy]] = {}
        for cp in snapshot.policies.get(kind, ()):
            if _never_active(cp) or _expired(cp, at):
                continue
            by_key.setdefault(cp.key, []).append(cp)
        groups = [group for group in by_key.values() if len(group) > 1]
        if not groups:
            continue
        meets = _Meets(
            directory, [cp.policy for group in groups for cp in group], kind == "secure-messaging"
        )
        for group in groups:
            group.sort(key=lambda cp: cp.id)
            for i, j in meets.pairs(group):
                b, a = group[i], group[j]
                if not (_windows_meet(a, b, at) and _networks_meet(a, b)):
                    continue
                pair = _shared_pair(directory, a, b)
                if pair is None:
                    continue
                yield _finding(
                    "ambiguous-policies",
                    policy_label(b.policy),
                    f"ties with {kind} policy {a.id} ('{_short(a.policy.narrative)}') on "
                    f"{_key_text(b)} and both can apply to the same mail (e.g. {pair[0]} → {pair[1]}): "
                    f"policy {a.id} wins only because its id is lower; make one more specific or use override",
                )


def _banners(snapshot: Snapshot) -> Iterator[Finding]:
    known = ", ".join(f"[{t}]" for t in TAGS)
    for _, d in sorted(snapshot.definitions.items()):
        if not d.banner:
            continue
        unknown = list(dict.fromkeys(unknown_tags(d.banner)))
        if unknown:
            shown = ", ".join(f"[{t}]" for t in unknown)
            yield _finding(
                "unknown-banner-tag",
                f"definition '{d.path}'",
                f"banner uses unknown tag(s) {shown}, printed as written (tags are {known})",
            )


# HTML elements without content (never closed) and those whose end tag may
# be left out (closed by what follows them, or by the end of the document).
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_OPTIONAL_END = frozenset(
    [
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "option",
        "optgroup",
        "colgroup",
        "caption",
        "html",
        "head",
        "body",
        "rb",
        "rt",
        "rtc",
        "rp",
    ]
)
_TAG_LEFT_OPEN = re.compile(r"<[A-Za-z/!?]")


class _Markup(HTMLParser):
    """The first reason HTML will not render as written (None when it
    does): balanced markup is every element that needs an end tag closed, in
    order, no end tag without its element, and no tag or comment left
    unterminated (the parser then hands it over as text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.problem: str | None = None

    def _fail(self, text: str) -> None:
        if self.problem is None:
            self.problem = text

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in _VOID:
            self.open.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        line = self.getpos()[0]
        if not any(t == tag for t, _ in self.open):
            self._fail(f"line {line}: </{tag}> closes no open <{tag}>")
            return
        while self.open:
            t, at = self.open.pop()
            if t == tag:
                return
            if t not in _OPTIONAL_END:
                self._fail(f"line {line}: </{tag}> closes <{tag}> while <{t}> (line {at}) is open")

    def handle_data(self, data: str) -> None:
        # inside <script> or <style> a "<" is their text, not markup
        if getattr(self, "cdata_elem", None) is None and _TAG_LEFT_OPEN.search(data):
            self._fail(f"line {self.getpos()[0]}: a tag or comment is not terminated")

    def finish(self, text: str) -> str | None:
        self.feed(text)
        if _TAG_LEFT_OPEN.search(self.rawdata):  # what the parser holds back: an unended tag
            self._fail(f"line {self.getpos()[0]}: a tag or comment is not terminated")
        self.close()
        left = [(t, at) for t, at in self.open if t not in _OPTIONAL_END]
        if left:
            self._fail(f"<{left[-1][0]}> (line {left[-1][1]}) is never closed")
        return self.problem


def html_problem(text: str) -> str | None:
    """Why ``text`` will not render as written, or None (:class:`_Markup`)."""
    return _Markup().finish(text)


def _templates(snapshot: Snapshot, templates: Sequence[NotificationTemplate]) -> Iterator[Finding]:
    known = ", ".join(f"[{t}]" for t in NOTIFICATION_TAGS)
    used = {
        d.notification_template.lower()
        for d in snapshot.definitions.values()
        if d.notification_template
    }
    names = {t.name.lower() for t in templates}
    for path, d in sorted(snapshot.definitions.items()):
        name = d.notification_template
        if name and name.lower() not in names:
            yield _finding(
                "dangling-template",
                f"definition '{d.path}'",
                f"names notification template '{name}', which does not exist"
                + did_you_mean(name, [t.name for t in templates]),
                place=("definitions", path, "notification_template"),
            )
    for t in templates:
        obj = f"notification template '{t.name}'"
        for part, label in (("html", "HTML"), ("text", "text")):
            if "[portal_link]" not in getattr(t, part):
                yield _finding(
                    "template-without-link",
                    obj,
                    f"its {label} body has no [portal_link]: the recipient could not reach the message",
                    place=("notification_templates", t.name, part),
                )
        problem = html_problem(t.html)
        if problem:
            yield _finding(
                "unrenderable-html",
                obj,
                f"its HTML will not render as written: {problem}",
                place=("notification_templates", t.name, "html"),
            )
        if t.logo_data is not None:
            try:
                logo_type(t.logo_data)
            except InvalidInput as exc:
                yield _finding(
                    "bad-logo", obj, str(exc), place=("notification_templates", t.name, "logo")
                )
        for part in ("subject", "sender_name", "html", "text"):
            unknown = list(dict.fromkeys(unknown_tags(getattr(t, part) or "", NOTIFICATION_TAGS)))
            if unknown:
                shown = ", ".join(f"[{u}]" for u in unknown)
                yield _finding(
                    "unknown-template-tag",
                    obj,
                    f"{part} uses unknown tag(s) {shown}, sent as written (tags are {known})",
                    place=("notification_templates", t.name, part),
                )
        if t.name.lower() not in used:
            yield _finding(
                "unused-template",
                obj,
                "no definition uses it (set notification_template on a definition)",
                place=("notification_templates", t.name, None),
            )


def _empty_groups(snapshot: Snapshot, directory: _Directory) -> Iterator[Finding]:
    users: dict[str, list[str]] = {}
    for cp in _all_policies(snapshot):
        for side, target in (("from", cp.policy.from_), ("to", cp.policy.to)):
            name = target.value or ""
            if target.type == "group" and directory.group_exists(name):
                users.setdefault(name.lower(), []).append(f"{policy_label(cp.policy)} ({side})")
    for folder, publish in sorted(snapshot.folder_publish.items()):
        parent = folder.rpartition("/")[0]
        inherited = set(snapshot.folder_publish.get(parent, ())) if parent else set()
        for name in publish:
            if name not in inherited and directory.group_exists(name):
                users.setdefault(name.lower(), []).append(
                    f"folder '{directory.folder(folder)}' (publish_to)"
                )
    for low, used_by in sorted(users.items()):
        if directory.group_empty(low):
            yield _finding(
                "empty-group",
                f"group '{snapshot.group_names[low]}'",
                f"has no members but is used by {', '.join(dict.fromkeys(used_by))}: it matches no one",
            )


def _regexes(snapshot: Snapshot) -> Iterator[Finding]:
    """SM105 for a stored line the engine cannot run, SM601 for a regex whose
    meaning changed with the RE2 dialect."""
    from secmsg_cli.engine.patterns import dialect_warnings

    for cc in sorted(snapshot.content.values(), key=lambda c: c.definition.id):
        obj = f"content definition '{cc.definition.name}'"
        for ln in cc.match_list.lines:
            if ln._broken is not None:
                yield _finding(
                    "unsupported-regex",
                    obj,
                    f"match line {ln.line_no}: {ln._broken}; "
                    "until it is fixed the definition fires on every message",
                )
            elif ln.kind in ("regex", "cardnumber"):
                for warning in dialect_warnings(ln.term):
                    yield _finding(
                        "regex-dialect",
                        obj,
                        f"match line {ln.line_no} '{_short(ln.term)}': {warning}",
                    )


def lint(
    snapshot: Snapshot,
    at: datetime,
    *,
    folders: Iterable[Folder] = (),
    templates: Sequence[NotificationTemplate] = (),
) -> list[Finding]:
    """Every finding of the configuration at the aware time ``at``, sorted.
    ``folders`` (optional) only gives folder paths as written, for the messages;
    ``templates`` are the notification templates (the engine does not read them)."""
    at = at.astimezone(UTC)
    directory = _Directory(snapshot, folders)
    findings: list[Finding] = []
    findings += _dangling(snapshot, directory)
    findings += _untriggerable(snapshot, directory)
    findings += _ambiguous(snapshot, directory, at)
    findings += _validity(snapshot, at)
    findings += _bidirectional(snapshot)
    findings += _targets(snapshot, directory)
    findings += _banners(snapshot)
    findings += _templates(snapshot, templates)
    findings += _empty_groups(snapshot, directory)
    findings += _regexes(snapshot)
    return sort_findings(findings)


def invalid_config(problems: Iterable[Problem | str], source: str) -> list[Finding]:
    """Findings from the problems of a configuration document that cannot be
    loaded: each with its place and its code (SM001 unless the problem has a
    rule's own, such as SM103 for a group that is not declared). A problem
    given as text only (the file cannot be read at all) is about the file."""
    by_code = {r.code: r.name for r in RULES}
    out = []
    for problem in problems:
        if isinstance(problem, str):
            out.append(_finding("invalid-config", None, problem, file=source))
            continue
        out.append(
            _finding(
                by_code.get(problem.code or "", "invalid-config"),
                problem.object,
                problem.message,
                file=problem.path or source,
                line=problem.line,
                column=problem.column,
            )
        )
    return out


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """By severity (errors first), then code, then place in the file;
    otherwise in the order found."""
    return sorted(
        findings,
        key=lambda f: (SEVERITIES.index(f.severity), f.code, f.line or 0, f.column or 0),
    )


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    out = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        out[f.severity] += 1
    return out


def summary(findings: Sequence[Finding]) -> str:
    c = counts(findings)

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(c['error'], 'error')}, {plural(c['warning'], 'warning')}"


def failed(findings: Sequence[Finding], strict: bool = False) -> bool:
    """Whether the configuration fails lint: any error (``strict``: any finding)."""
    return any(f.severity == "error" or strict for f in findings)


# --- formats for CI and code-scanning tools ---------------------------------------


def _workflow_data(text: str) -> str:
    """Escaped as GitHub Actions reads a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _workflow_property(text: str) -> str:
    """Escaped as GitHub Actions reads a property (``file=``, ``title=``)."""
    return _workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def _in_a_file(f: Finding) -> bool:
    return f.file is not None and f.file != "-"  # standard input is no file to annotate


def to_github(findings: Iterable[Finding]) -> list[str]:
    """One GitHub Actions workflow command per finding
    (``::error file=F,line=L,col=C,title=SM103 dangling-group::message``), so
    a workflow shows each finding on its line of the file; a finding about
    the store has no ``file``."""
    lines = []
    for f in findings:
        props = []
        if _in_a_file(f):
            props.append(f"file={_workflow_property(f.file or '')}")
            if f.line is not None:
                props.append(f"line={f.line}")
            if f.column is not None:
                props.append(f"col={f.column}")
        props.append(f"title={_workflow_property(f'{f.code} {f.name}')}")
        about = f"{f.object}: " if f.object else ""
        lines.append(f"::{f.severity} {','.join(props)}::{_workflow_data(about + f.message)}")
    return lines


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_sarif(findings: Sequence[Finding], version: str) -> dict[str, object]:
    """The findings as a SARIF 2.1.0 log (one run), the format code-scanning
    tools read: every rule with its code, name, meaning and level, and each
    finding with its rule, level, message and place (the file's line and
    column; the object it is about as a logical location)."""
    from urllib.parse import quote

    index = {r.code: i for i, r in enumerate(RULES)}
    results: list[dict[str, object]] = []
    for f in findings:
        result: dict[str, object] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": f.severity,
            "message": {"text": f.message},
        }
        location: dict[str, object] = {}
        if _in_a_file(f):
            physical: dict[str, object] = {"artifactLocation": {"uri": quote(f.file or "")}}
            if f.line is not None:
                region: dict[str, int] = {"startLine": f.line}
                if f.column is not None:
                    region["startColumn"] = f.column
                physical["region"] = region
            location["physicalLocation"] = physical
        if f.object:
            location["logicalLocations"] = [{"fullyQualifiedName": f.object}]
        if location:
            result["locations"] = [location]
        results.append(result)
    rules = [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.meaning},
            "defaultConfiguration": {"level": r.severity},
        }
        for r in RULES
    ]
    driver = {"name": "secmsg", "version": version, "rules": rules}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
