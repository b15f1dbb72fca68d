"""SM301 (ambiguous policies) compares only the pairs of policies whose
targets can meet (issue 11: lint was quadratic in policies). The findings must
be exactly those of comparing every pair of the same key, which this file
keeps as the reference (:func:`_ambiguous_every_pair`, the algorithm as it
was) and compares on random configurations built to overlap often: small
directories, every kind of target, wildcards, @domain members, empty groups,
time windows, source IP ranges, bi-directional policies, overrides."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from secmsg_cli import lint
from secmsg_cli.engine.snapshot import build_snapshot
from secmsg_cli.model import Account, Definition, Folder, Group, Policy, Target

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
INTERNAL_DOMAINS = ("corp.example", "eu.corp.example")
EXTERNAL_DOMAINS = ("partner.example", "sub.partner.example", "other.example")
PEOPLE = [
    f"{name}@{domain}"
    for domain in INTERNAL_DOMAINS + EXTERNAL_DOMAINS
    for name in ("ann", "bob", "cy")
]
NETWORKS = (
    "203.0.113.0/24",
    "203.0.113.128/25",
    "198.51.100.0/24",
    "2001:db8::/32",
    "2001:db8:1::/48",
)


def _ambiguous_every_pair(snapshot, directory, at):
    """The reference: SM301 as it was, every pair of policies with the same key."""
    for kind in lint.EXCLUSIVE_KINDS:
        by_key = {}
        for cp in snapshot.policies.get(kind, ()):
            if lint._never_active(cp) or lint._expired(cp, at):
                continue
            by_key.setdefault(cp.key, []).append(cp)
        for group in by_key.values():
            group.sort(key=lambda cp: cp.id)
            for i, b in enumerate(group):
                for a in group[:i]:
                    if not (lint._windows_meet(a, b, at) and lint._networks_meet(a, b)):
                        continue
                    pair = lint._shared_pair(directory, a, b)
                    if pair is None:
                        continue
                    yield lint._finding(
                        "ambiguous-policies",
                        lint.policy_label(b.policy),
                        f"ties with {kind} policy {a.id} ('{lint._short(a.policy.narrative)}') on "
                        f"{lint._key_text(b)} and both can apply to the same mail (e.g. {pair[0]} → {pair[1]}): "
                        f"policy {a.id} wins only because its id is lower; make one more specific or use override",
                    )


KINDS = ("everyone", "internal", "external", "domain", "wildcard", "group", "attribute", "address")


def _target(rng: random.Random, groups: list[Group], kinds: list[str]) -> Target:
    kind = rng.choice(kinds)
    if kind in ("everyone", "internal", "external"):
        return Target(kind)
    if kind == "domain":
        return Target(
            "domain", rng.choice(INTERNAL_DOMAINS + EXTERNAL_DOMAINS + ("nowhere.example",))
        )
    if kind == "wildcard":
        return Target("domain", "*." + rng.choice(("partner.example", "corp.example", "example")))
    if kind == "group":
        return Target("group", rng.choice([g.name for g in groups] + ["Missing"]))
    if kind == "attribute":
        return Target(
            "attribute", rng.choice(("Legal", "Finance", "Nobody")), rng.choice(("Dept", "Role"))
        )
    return Target("address", rng.choice([*PEOPLE, "zed@elsewhere.example"]))


def _window(rng: random.Random) -> tuple[str | None, str | None]:
    def moment(days: int) -> str:
        return (AT + timedelta(days=days)).isoformat()

    shape = rng.randrange(6)
    if shape < 3:
        return None, None
    if shape == 3:
        return moment(rng.randrange(-30, 30)), None
    if shape == 4:
        return None, moment(rng.randrange(-5, 60))
    start = rng.randrange(-30, 30)
    return moment(start), moment(start + rng.randrange(-2, 20))


def random_config(seed: int, policies: int | None = None):
    rng = random.Random(seed)
    groups = []
    for g in range(rng.randrange(1, 5)):
        members = set(rng.sample(PEOPLE, rng.randrange(0, 5)))
        if rng.random() < 0.3:
            members.add("@" + rng.choice(INTERNAL_DOMAINS + EXTERNAL_DOMAINS))
        groups.append(Group(g + 1, f"G{g}", tuple(sorted(members))))
    attributes = [
        (address, rng.choice(("Dept", "Role")), rng.choice(("Legal", "Finance")))
        for address in rng.sample(PEOPLE, rng.randrange(0, 6))
    ]
    count = policies if policies is not None else rng.randrange(1, 45)
    # Few kinds of target per configuration, so that many policies share a key
    # (override, from rank, to rank) and are compared.
    from_kinds, to_kinds = (
        rng.sample(KINDS, rng.randrange(1, 4)),
        rng.sample(KINDS, rng.randrange(1, 4)),
    )
    policies = []
    for pid in range(1, count + 1):
        kind = rng.choice(("secure-messaging", "bypass"))
        start, end = _window(rng)
        policies.append(
            Policy(
                pid,
                kind,
                f"policy {pid} " + "x" * rng.randrange(0, 60),
                option="apply"
                if kind == "secure-messaging"
                else rng.choice(("disable", "no-action")),
                definition="Sec/D" if kind == "secure-messaging" else None,
                from_=_target(rng, groups, from_kinds),
                to=_target(rng, groups, to_kinds),
                enabled=rng.random() < 0.95,
                start=start,
                end=end,
                override=rng.random() < 0.1,
                bidirectional=kind == "bypass" and rng.random() < 0.3,
                source_ips=tuple(rng.sample(NETWORKS, rng.choice((0, 0, 0, 1, 2)))),
            )
        )
    domains = INTERNAL_DOMAINS[: rng.randrange(0, 3)]
    return build_snapshot(
        account=Account(),
        tz=UTC,
        domains=domains,
        groups=groups,
        attributes=attributes,
        folders=(Folder(1, "Sec", None, ("everyone",), ("everyone",)),),
        definitions=(Definition(1, "Sec", "D"),),
        content_definitions=(),
        policies=policies,
    )


def test_pairs_that_can_meet_give_exactly_the_findings_of_every_pair(monkeypatch):
    fired = Counter()
    for seed in range(400):
        snapshot = random_config(seed)
        fast = lint.lint(snapshot, AT)
        with monkeypatch.context() as m:
            m.setattr(lint, "_ambiguous", _ambiguous_every_pair)
            reference = lint.lint(snapshot, AT)
        assert fast == reference, f"seed {seed}"
        fired.update(f.object.split()[0] for f in reference if f.code == "SM301")
    # the comparison means something: many ambiguous pairs of both kinds
    assert fired["secure-messaging"] > 300 and fired["bypass"] > 1000, fired


@pytest.mark.parametrize("seed", range(3))
def test_a_larger_configuration_gives_the_same_findings(monkeypatch, seed):
    """300 policies over the same small directory: most pairs are compared."""
    snapshot = random_config(10_000 + seed, policies=300)
    fast = lint.lint(snapshot, AT)
    monkeypatch.setattr(lint, "_ambiguous", _ambiguous_every_pair)
    reference = lint.lint(snapshot, AT)
    assert fast == reference
    assert sum(f.code == "SM301" for f in reference) > 50
