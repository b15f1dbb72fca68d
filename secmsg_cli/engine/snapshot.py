"""The Snapshot: the whole configuration, loaded once and compiled into
lookups, so that deciding a message makes no store queries and looks policies
up by key instead of scanning them (ARCHITECTURE: "lookups, not scans").

Pure: built from model objects by :func:`build_snapshot`; the store only
gathers those objects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from secmsg_cli.engine.addresses import domain_of
from secmsg_cli.engine.content import MatchList, Scanner, parse_match_list
from secmsg_cli.engine.select import bound, status_between
from secmsg_cli.model import (
    EVERYONE,
    Account,
    ContentDefinition,
    Definition,
    Folder,
    Group,
    Policy,
    Target,
)
from secmsg_cli.vocab import PolicyKind

__all__ = [
    "TARGET_RANK",
    "CompiledContent",
    "CompiledPolicy",
    "Snapshot",
    "build_snapshot",
    "target_key",
]

# docs/decisions.md: rank of a target, least to most specific.
TARGET_RANK = {
    "everyone": 1.0,
    "internal": 2.0,
    "external": 2.0,
    "wildcard": 3.0,
    "domain": 3.5,
    "group": 4.0,
    "attribute": 5.0,
    "address": 6.0,
}
# Addresses whose target keys a snapshot remembers (senders and recipients
# recur across a batch); then it starts again. ~1 KB each: memory stays flat
# however large the batch.
KEYS_MEMO_SIZE = 8192

Key = tuple[str, ...]


def target_rank(target: Target) -> float:
    if target.type == "domain" and (target.value or "").startswith("*."):
        return TARGET_RANK["wildcard"]
    return TARGET_RANK[target.type]


def target_key(target: Target) -> Key:
    """The lookup key of a target; an address has one key per target it can match."""
    t = target.type
    if t in ("everyone", "internal", "external"):
        return (t,)
    if t == "domain":
        value = target.value or ""
        return ("wildcard", value[2:]) if value.startswith("*.") else ("domain", value)
    if t == "group":
        return ("group", (target.value or "").lower())
    if t == "attribute":
        return ("attribute", (target.name or "").lower(), (target.value or "").lower())
    return ("address", target.value or "")


@dataclass(frozen=True, slots=True)
class CompiledContent:
    """A content definition with its match list parsed once."""

    definition: ContentDefinition
    match_list: MatchList
    scan: frozenset[str]
    secure_messaging: Definition | None


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with what deciding needs prepared: bounds, networks, ranks,
    the definition or content definition it refers to."""

    policy: Policy
    start: datetime | None
    end: datetime | None
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    from_rank: float
    to_rank: float
    definition: Definition | None = None
    content: CompiledContent | None = None
    # target_key of the from and to targets, from the policy
    from_key: Key = field(init=False, repr=False, compare=False)
    to_key: Key = field(init=False, repr=False, compare=False)
    # Everything whether the policy matches a pair depends on: policies with
    # equal signatures match the same pairs (decide judges one per signature).
    signature: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = self.policy
        object.__setattr__(self, "from_key", target_key(p.from_))
        object.__setattr__(self, "to_key", target_key(p.to))
        object.__setattr__(
            self,
            "signature",
            (
                p.kind,
                p.enabled,
                self.start,
                self.end,
                p.from_part,
                self.from_key,
                self.to_key,
                p.bidirectional,
                self.networks,
            ),
        )

    @property
    def id(self) -> int:
        return self.policy.id

    @property
    def key(self) -> tuple[bool, float, float]:
        """docs/decisions.md: the greatest (override, from_rank, to_rank) wins."""
        return (self.policy.override, self.from_rank, self.to_rank)

    def status(self, at: datetime) -> str:
        return status_between(self.policy.enabled, self.start, self.end, at)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The immutable, compiled configuration of one account."""

    account: Account
    tz: tzinfo
    internal_domains: frozenset[str]
    group_names: Mapping[str, str]  # lower-case name -> display name
    address_groups: Mapping[str, frozenset[str]]  # address -> lower-case group names
    domain_groups: Mapping[str, frozenset[str]]  # domain (of @domain members) -> group names
    attributes: Mapping[str, Mapping[str, str]]  # address -> {lower name: value}
    definitions: Mapping[str, Definition]  # lower-case path -> definition
    folder_publish: Mapping[
        str, tuple[str, ...]
    ]  # lower-case folder path -> effective publish list
    content: Mapping[str, CompiledContent]  # lower-case name -> compiled content definition
    policies: Mapping[str, tuple[CompiledPolicy, ...]]  # kind -> policies by id
    # lower-case notification template name -> its subject (with tags), for the
    # portal record's notification subject
    notification_subjects: Mapping[str, str]
    # kind -> (from_part, from key) -> to key -> policies; bi-directional
    # policies also in _bidi, looked up with the pair swapped.
    _index: Mapping[str, Mapping[tuple[str, Key], Mapping[Key, tuple[CompiledPolicy, ...]]]] = (
        field(repr=False)
    )
    _bidi: Mapping[str, Mapping[tuple[str, Key], Mapping[Key, tuple[CompiledPolicy, ...]]]] = field(
        repr=False
    )
    _used_keys: Mapping[str, frozenset[Key]] = field(repr=False)
    # Memo of keys_of: addresses recur across a batch. Bounded; not part of the value.
    _keys_memo: dict[str, frozenset[Key]] = field(default_factory=dict, repr=False, compare=False)
    # The scanner of each section, built on first use (not part of the value).
    _scanners: dict[object, Scanner] = field(default_factory=dict, repr=False, compare=False)

    # --- the directory ------------------------------------------------------

    def is_internal(self, address: str) -> bool:
        return domain_of(address) in self.internal_domains

    def groups_of(self, address: str) -> frozenset[str]:
        """Lower-case names of the groups containing ``address`` (directly or by @domain)."""
        direct = self.address_groups.get(address, frozenset())
        by_domain = self.domain_groups.get(domain_of(address), frozenset())
        return direct | by_domain if by_domain else direct

    def attribute(self, address: str, name: str) -> str | None:
        return self.attributes.get(address, {}).get(name.lower())

    def keys_of(self, address: str) -> frozenset[Key]:
        """Every target key ``address`` matches (docs/decisions.md)."""
        memo = self._keys_memo.get(address)
        if memo is None:
            if len(self._keys_memo) >= KEYS_MEMO_SIZE:
                self._keys_memo.clear()
            memo = self._keys_memo[address] = frozenset(self._compute_keys(address))
        return memo

    def _compute_keys(self, address: str) -> set[Key]:
        domain = domain_of(address)
        keys: set[Key] = {
            ("everyone",),
            ("internal",) if domain in self.internal_domains else ("external",),
            ("domain", domain),
            ("address", address),
        }
        labels = domain.split(".")
        for i in range(1, len(labels)):  # *.x matches any subdomain depth, not the apex
            keys.add(("wildcard", ".".join(labels[i:])))
        for g in self.groups_of(address):
            keys.add(("group", g))
        for name, value in self.attributes.get(address, {}).items():
            keys.add(("attribute", name, value.lower()))
        return keys

    def target_matches(self, target: Target, address: str) -> bool:
        return target_key(target) in self.keys_of(address)

    def scanner(self, section: str) -> Scanner:
        """One scanner for the lines of every content definition that
        examines ``section``: each text of the section is read once for all
        of them (docs/decisions.md: content examination)."""
        got = self._scanners.get(section)
        if got is None:
            examining = tuple(
                cc
                for cc in sorted(self.content.values(), key=lambda c: c.definition.id)
                if section in cc.scan
            )
            # Sections examined by the same definitions (usually all of them)
            # share one scanner: its sets are compiled, and warmed, once.
            same = ("definitions", *(cc.definition.id for cc in examining))
            got = self._scanners.get(same)
            if got is None:
                got = self._scanners[same] = Scanner(
                    [ln for cc in examining for ln in cc.match_list.lines]
                )
            self._scanners[section] = got
        return got

    # --- definitions ----------------------------------------------------------

    def definition(self, path: str) -> Definition | None:
        return self.definitions.get(path.strip().strip("/").lower())

    def available_to(self, definition: Definition, sender: str) -> bool:
        """docs/configuration.md: the folder's effective publish list has everyone or a
        group containing the sender."""
        publish = self.folder_publish.get(definition.folder.lower(), ())
        if EVERYONE in publish:
            return True
        groups = self.groups_of(sender)
        return any(g.lower() in groups for g in publish)

    # --- policies -------------------------------------------------------------

    def candidates(
        self, kind: str, senders: Mapping[str, Sequence[str]], recipient: str
    ) -> list[CompiledPolicy]:
        """Policies of ``kind`` whose targets can match the pair, found by key.

        ``senders`` maps each from_part to the sender addresses it uses
        (``envelope`` -> [envelope], ``header`` -> [header From], ``both`` ->
        both). Bi-directional policies are also found with the pair swapped.
        The result is a superset check for :func:`decide`, which verifies each
        candidate with the same code the explanation uses.
        """
        index, bidi, used = (
            self._index.get(kind, {}),
            self._bidi.get(kind, {}),
            self._used_keys.get(kind, frozenset()),
        )
        if not index:
            return []
        r_keys = self.keys_of(recipient) & used
        found: dict[int, CompiledPolicy] = {}
        for part, addresses in senders.items():
            s_keys: set[Key] = set()
            for a in addresses:
                s_keys |= self.keys_of(a) & used
            for sk in s_keys:
                by_to = index.get((part, sk))
                if by_to:
                    for rk in r_keys:
                        for cp in by_to.get(rk, ()):
                            found[cp.id] = cp
            if bidi:
                for rk in r_keys:
                    swapped = bidi.get((part, rk))  # the recipient as the from target
                    if swapped:
                        for sk in s_keys:
                            for cp in swapped.get(sk, ()):
                                found[cp.id] = cp
        return [found[i] for i in sorted(found)]


def _effective_publish(folders: Iterable[Folder]) -> dict[str, tuple[str, ...]]:
    return {f.path.lower(): tuple(f.effective_publish_to) for f in folders}


def build_snapshot(
    *,
    account: Account,
    tz: tzinfo,
    domains: Iterable[str],
    groups: Iterable[Group],
    attributes: Iterable[tuple[str, str, str]],
    folders: Iterable[Folder],
    definitions: Iterable[Definition],
    content_definitions: Iterable[ContentDefinition],
    policies: Iterable[Policy],
    notification_subjects: Mapping[str, str] | None = None,
) -> Snapshot:
    """Compile the configuration into a :class:`Snapshot`. ``notification_subjects``:
    each notification template's subject, by name."""
    address_groups: dict[str, set[str]] = {}
    domain_groups: dict[str, set[str]] = {}
    group_names: dict[str, str] = {}
    for g in groups:
        low = g.name.lower()
        group_names[low] = g.name
        for m in g.members:
            if m.startswith("@"):
                domain_groups.setdefault(m[1:], set()).add(low)
            else:
                address_groups.setdefault(m, set()).add(low)
    attrs: dict[str, dict[str, str]] = {}
    for address, name, value in attributes:
        attrs.setdefault(address, {})[name.lower()] = value
    defs = {d.path.lower(): d for d in definitions}
    content: dict[str, CompiledContent] = {}
    for cd in content_definitions:
        sm = defs.get(cd.secure_messaging.lower()) if cd.secure_messaging else None
        # lenient: a line stored before the current grammar (a regex RE2
        # refuses) makes its definition fail closed rather than every decision fail.
        content[cd.name.lower()] = CompiledContent(
            cd, parse_match_list(cd.lines, lenient=True), frozenset(cd.scan), sm
        )

    by_kind: dict[str, list[CompiledPolicy]] = {kind.value: [] for kind in PolicyKind}
    index: dict[str, dict[tuple[str, Key], dict[Key, list[CompiledPolicy]]]] = {
        k: {} for k in by_kind
    }
    bidi: dict[str, dict[tuple[str, Key], dict[Key, list[CompiledPolicy]]]] = {
        k: {} for k in by_kind
    }
    used: dict[str, set[Key]] = {k: set() for k in by_kind}
    for p in sorted(policies, key=lambda p: p.id):
        cp = CompiledPolicy(
            policy=p,
            start=bound(p.start, tz, end=False),
            end=bound(p.end, tz, end=True),
            networks=tuple(ipaddress.ip_network(n) for n in p.source_ips),
            from_rank=target_rank(p.from_),
            to_rank=target_rank(p.to),
            definition=defs.get(p.definition.lower()) if p.definition else None,
            content=content.get(p.content_definition.lower()) if p.content_definition else None,
        )
        by_kind[p.kind].append(cp)
        fk, tk = cp.from_key, cp.to_key
        used[p.kind] |= {fk, tk}
        index[p.kind].setdefault((p.from_part, fk), {}).setdefault(tk, []).append(cp)
        if p.bidirectional:
            # found when the recipient matches the from target and a sender the to target
            bidi[p.kind].setdefault((p.from_part, fk), {}).setdefault(tk, []).append(cp)
    return Snapshot(
        account=account,
        tz=tz,
        internal_domains=frozenset(domains),
        group_names=group_names,
        address_groups={a: frozenset(g) for a, g in address_groups.items()},
        domain_groups={d: frozenset(g) for d, g in domain_groups.items()},
        attributes=attrs,
        definitions=defs,
        folder_publish=_effective_publish(folders),
        content=content,
        policies={k: tuple(v) for k, v in by_kind.items()},
        notification_subjects={k.lower(): v for k, v in (notification_subjects or {}).items()},
        _index={
            k: {key: {tk: tuple(v) for tk, v in by_to.items()} for key, by_to in idx.items()}
            for k, idx in index.items()
        },
        _bidi={
            k: {key: {tk: tuple(v) for tk, v in by_to.items()} for key, by_to in idx.items()}
            for k, idx in bidi.items()
        },
        _used_keys={k: frozenset(v) for k, v in used.items()},
    )
