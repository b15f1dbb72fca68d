"""A snapshot for a few addresses (``Store.snapshot(addresses)``, what a
one-message ``simulate`` loads) decides exactly as the whole one for those
addresses: every fixture and corpus message, with the demo store, as is and
with other senders, recipients and a chosen definition."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from secmsg_cli.config import load_file
from secmsg_cli.engine.decide import Context, DecisionError, decide, parties
from secmsg_cli.engine.message import MessageError, parse_message
from secmsg_cli.engine.render import decision_to_json
from tests.conftest import CORPUS, DEMO, FIXTURES

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

MESSAGES = sorted((FIXTURES / "messages").glob("*.eml")) + sorted(CORPUS.rglob("*.eml"))
# Senders and recipients of every kind the demo's policies target: groups
# (Legal, Finance, Board, Auditors, Partner Counsel), attributes
# (Role=Administrator / Auditor), @domain members, internal, external,
# wildcard subdomains, the bi-directional client domain.
SENDERS = [
    None,
    "alice.morgan@harborfinch.com",
    "ben.okafor@harborfinch.com",
    "dana.whitfield@harborfinch.com",
    "ivan.petrov@harborfinch.com",
    "someone@board.harborfinch.com",
    "general.counsel@clientco.example",
    "nobody@elsewhere.example",
]
RECIPIENTS = [
    (),
    ("counsel@lexpartners.com", "x@mail.lexpartners.com", "y@eu.lexpartners.com"),
    ("olivia.grant@ledgerline-audit.com",),
    ("ops@clientco.example", "alice.morgan@harborfinch.com"),
    ("a@b.example",),
]
DEFINITIONS = [
    None,
    "Legal/Restricted/Privileged, No Print, 12 Hours",
    "Legal/Client Correspondence",
]


@pytest.fixture(scope="module")
def store():
    s = load_file(str(DEMO))
    yield s
    s.close()


def _json(snapshot, message, context, source):
    try:
        return decision_to_json(decide(snapshot, message, context), source, snapshot.tz)
    except DecisionError as exc:
        return {"error": str(exc)}


def test_the_demo_has_what_these_senders_stand_for(store):
    full = store.snapshot()
    keys = set().union(
        *(full.keys_of(a) for a in SENDERS[1:] + [r for rs in RECIPIENTS for r in rs])
    )
    for expected in (
        ("group", "legal"),
        ("group", "finance"),
        ("group", "board"),
        ("group", "auditors"),
        ("group", "partner counsel"),
        ("attribute", "role", "administrator"),
        ("attribute", "role", "auditor"),
        ("wildcard", "lexpartners.com"),
    ):
        assert expected in keys, expected
    for d in DEFINITIONS[1:]:
        assert full.definition(d) is not None, d


@pytest.mark.slow  # every message of the fixtures and the corpus
@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_a_scoped_snapshot_decides_as_the_whole_one(store, path):
    try:
        message = parse_message(path.read_bytes())
    except MessageError:
        pytest.skip("not a message the engine can read (simulate reports it)")
    full = store.snapshot()
    compared = 0
    for mail_from, rcpt in itertools.product(SENDERS, RECIPIENTS):
        try:
            envelope, header, recipients = parties(message, mail_from, rcpt)
        except DecisionError:
            continue
        scoped = store.snapshot([a for a in (envelope, header, *recipients) if a])
        assert len(scoped.policies["secure-messaging"]) <= len(full.policies["secure-messaging"])
        for definition in DEFINITIONS:
            context = Context(at=AT, mail_from=mail_from, rcpt=tuple(rcpt), definition=definition)
            assert _json(scoped, message, context, path.name) == _json(
                full, message, context, path.name
            )
            compared += 1
    assert compared or not message.recipients


def test_a_scoped_snapshot_holds_only_what_its_addresses_need(store):
    full = store.snapshot()
    n = lambda s: sum(len(v) for v in s.policies.values())  # noqa: E731
    outsiders = store.snapshot(["nobody@elsewhere.example", "a@b.example"])
    assert not outsiders.address_groups and not outsiders.attributes and n(outsiders) == 0
    scoped = store.snapshot(["alice.morgan@harborfinch.com", "a@b.example"])
    assert set(scoped.address_groups) == {"alice.morgan@harborfinch.com"}
    assert scoped.groups_of("alice.morgan@harborfinch.com") == full.groups_of(
        "alice.morgan@harborfinch.com"
    )
    assert set(scoped.attributes) == {"alice.morgan@harborfinch.com"}
    assert set(scoped.definitions) == set(
        full.definitions
    )  # a chosen definition is checked against all
    assert 0 < n(scoped) < n(full)
    assert set(scoped.content) < set(full.content)  # only those its policies use


CASES = """
[account]
name = "Case Corp"

[[domains]]
name = "case.example"
type = "local"

[[groups]]
name = "Équipe Légale"
members = ["zoé@case.example", "@branch.case.example"]

[[attributes]]
address = "zoé@case.example"
values = { Department = "ÉTUDES", Role = "Lead" }

[[policies]]
kind = "secure-messaging"
narrative = "group with a non-ASCII name, written in another case"
option = "apply"
definition = "Default/External Recipients"
from = { type = "group", value = "ÉQUIPE Légale" }  # (SQLite lower() would not fold É)
to = { type = "domain", value = "*.partner.example" }

[[policies]]
kind = "bypass"
narrative = "attribute in other cases"
option = "disable"
from = { type = "attribute", name = "department", value = "études" }
to = { type = "address", value = "ceo@partner.example" }

[[policies]]
kind = "secure-messaging"
narrative = "someone else's"
option = "apply"
definition = "Default/All Recipients"
from = { type = "address", value = "other@case.example" }
to = { type = "external" }
"""


@pytest.mark.parametrize(
    "sender, recipient, expected",
    [
        (
            "zoé@case.example",
            "x@eu.partner.example",
            {"group with a non-ASCII name, written in another case"},
        ),
        (
            "someone@branch.case.example",
            "x@eu.partner.example",
            {"group with a non-ASCII name, written in another case"},
        ),
        ("zoé@case.example", "ceo@partner.example", {"attribute in other cases"}),
        ("nobody@case.example", "x@eu.partner.example", set()),
    ],
)
def test_case_and_non_ascii_names_are_matched_as_the_engine_matches_them(
    tmp_path, sender, recipient, expected
):
    cfg = tmp_path / "cases.toml"
    cfg.write_text(CASES, encoding="utf-8")
    store = load_file(str(cfg))
    try:
        scoped = store.snapshot([sender, recipient])
        assert {cp.policy.narrative for kind in scoped.policies.values() for cp in kind} == expected
        full = store.snapshot()
        message = parse_message(
            f"From: {sender}\r\nTo: {recipient}\r\nSubject: hi\r\n\r\nbody\r\n".encode()
        )
        context = Context(at=AT)
        assert _json(scoped, message, context, "m") == _json(full, message, context, "m")
    finally:
        store.close()
