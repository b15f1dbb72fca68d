"""Access tokens (SPEC §7.4): at least 128 bits from `secrets`, stored only as
a hash, compared in constant time; a wrong, truncated, spliced, another
recipient's or an expired token is refused with one and the same message."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from secmsg_cli.delivery import tokens as tk
from secmsg_cli.delivery.lifecycle import ACCESS_REFUSED, open_copy
from secmsg_cli.delivery.outbox import Outbox
from secmsg_cli.errors import Refused
from secmsg_cli.store.store import Store
from tests.delivery._helpers import T0, build_store, tokens, write_message

BOB, CAROL = "bob@partner.test", "carol@partner.test"


def test_a_new_token_has_256_random_bits_and_a_hash():
    token, token_id, digest = tk.new_token()
    assert tk.TOKEN_FORM.match(token)
    token_id2, secret = token.split(".")
    assert token_id2 == token_id and len(secret) == 43  # token_urlsafe(32): 32 bytes = 256 bits
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    others = {tk.new_token()[0] for _ in range(200)}
    assert len(others) == 200 and token not in others


def test_a_taken_id_is_drawn_again():
    seen = []

    def taken(i):
        seen.append(i)
        return len(seen) < 3

    _, token_id, _ = tk.new_token(taken)
    assert len(seen) == 3 and token_id == seen[-1]


def test_verify_compares_in_constant_time_even_for_unknown_ids(monkeypatch):
    calls = []
    real = tk.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tk.hmac, "compare_digest", spy)
    token, token_id, digest = tk.new_token()
    rows = {token_id: ("the copy", digest)}
    looked_up = []

    def find(i):
        looked_up.append(i)
        return rows.get(i)

    assert tk.verify(token, find) == "the copy"
    assert tk.verify("f" * 12 + "." + "A" * 43, find) is None
    assert tk.verify("garbage", find) is None
    assert (
        tk.verify(token_id + "." + "A" * 43, {token_id: ("the copy", None)}.get) is None
    )  # purged: no hash
    assert len(looked_up) == 3  # a malformed token is looked up too (an id no token has)
    assert len(calls) == 4  # the same comparison whether the id exists, is unknown or malformed


@pytest.fixture
def delivered(tmp_path, cli):
    db = tmp_path / "store.db"
    build_store(db)
    outbox = tmp_path / "outbox"
    r = cli(
        "--db",
        db,
        "deliver",
        write_message(tmp_path),
        "--definition",
        "T/Closed",
        "--at",
        T0,
        "--outbox",
        outbox,
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    store = Store(db)
    yield store, Outbox(outbox), tokens(outbox)
    store.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _swap_last(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_wrong_truncated_spliced_other_recipients_and_expired_tokens_get_one_message(delivered):
    store, outbox, toks = delivered
    bob, carol = toks[BOB], toks[CAROL]
    soon = _at("2026-11-27T11:00:00+00:00")
    assert open_copy(store, bob, soon, outbox).copy.recipient == BOB  # the real one works
    cases = {
        "wrong": (_swap_last(bob), soon, None),
        "truncated": (bob[:-5], soon, None),
        "id only": (bob.split(".")[0], soon, None),
        "empty": ("", soon, None),
        "spliced": (bob.split(".")[0] + "." + carol.split(".")[1], soon, None),
        "other recipient's": (carol, soon, BOB),  # Carol's token, signed in as Bob
        "expired": (bob, _at("2026-11-27T22:00:00+00:00"), None),  # T/Closed: 12 hours
    }
    messages = {}
    for name, (token, at, as_) in cases.items():
        with pytest.raises(Refused) as err:
            open_copy(store, token, at, outbox, as_=as_)
        messages[name] = str(err.value)
    assert set(messages.values()) == {ACCESS_REFUSED}, messages


def test_the_cli_refuses_them_identically(tmp_path, cli, delivered):
    store, outbox, toks = delivered
    db = store.path
    bob = toks[BOB]
    outputs = set()
    for token, at, extra in [
        (_swap_last(bob), "2026-11-27T11:00:00Z", ()),
        (bob[:20], "2026-11-27T11:00:00Z", ()),
        (toks[CAROL], "2026-11-27T11:00:00Z", ("--as", BOB)),
        (bob, "2026-11-28T11:00:00Z", ()),
    ]:
        r = cli("--db", db, "portal", "open", token, "--at", at, "--outbox", outbox.path, *extra)
        assert r.exit_code == 1 and r.stdout == "", r.output
        outputs.add(r.stderr)
    assert outputs == {f"error: {ACCESS_REFUSED}\n"}


def test_the_store_keeps_only_hashes(delivered):
    store, _, toks = delivered
    rows = store._q("SELECT recipient, token_id, token_hash FROM portal_copies")
    assert {r["recipient"] for r in rows} == set(toks)
    for r in rows:
        token = toks[r["recipient"]]
        assert r["token_id"] == token.split(".")[0]
        assert r["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in r["token_hash"]


# --- the same work whether the id exists or not; every refusal audited ---------------------------


def _calls_while_refused(store, outbox, token: str) -> list[tuple[str, str]]:
    """Every Python-level call made while ``token`` is refused (no timing: the call trace)."""
    import sys

    trace: list[tuple[str, str]] = []

    def profile(frame, event, arg):
        if event == "call":
            trace.append((event, frame.f_code.co_qualname))
        elif event == "c_call":
            trace.append((event, getattr(arg, "__qualname__", repr(arg))))

    sys.setprofile(profile)
    try:
        with pytest.raises(Refused):
            open_copy(store, token, _at("2026-11-27T11:00:00+00:00"), outbox)
    finally:
        sys.setprofile(None)
    return trace


def test_a_wrong_secret_for_an_existing_id_does_the_same_work_as_an_unknown_id(delivered):
    store, outbox, toks = delivered
    bob = toks[BOB]
    existing_id = _swap_last(bob)  # Bob's id, a wrong secret
    unknown_id = ("0" if bob[0] != "0" else "1") * 12 + bob[12:]
    for _ in range(2):  # warm: first calls import and cache
        (
            _calls_while_refused(store, outbox, existing_id),
            _calls_while_refused(store, outbox, unknown_id),
        )
    a = _calls_while_refused(store, outbox, existing_id)
    b = _calls_while_refused(store, outbox, unknown_id)
    assert a == b, next((i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    assert ("call", "PortalRecords.portal_token") in a  # the hash is fetched, never the copy
    assert ("call", "_copy") not in a
    # a malformed token (its form is no secret) is looked up all the same
    assert ("call", "PortalRecords.portal_token") in _calls_while_refused(
        store, outbox, "not a token"
    )


def _denials(store) -> list[dict]:
    return [r for r in store.audit_log() if r["action"] == "access-denied"]


def test_every_refused_token_is_audited_with_its_id_never_its_secret(delivered):
    store, outbox, toks = delivered
    bob, carol = toks[BOB], toks[CAROL]
    soon = _at("2026-11-27T11:00:00+00:00")
    cases = [
        (_swap_last(bob), soon, None, bob.split(".")[0], "invalid token"),
        ("0" * 12 + "." + "A" * 43, soon, None, "0" * 12, "invalid token"),
        (bob[:-5], soon, None, None, "invalid token"),  # malformed: nothing of it is kept
        ("", soon, None, None, "invalid token"),
        (carol, soon, BOB, carol.split(".")[0], "another recipient's token"),
        (bob, _at("2026-11-27T22:00:00+00:00"), None, bob.split(".")[0], "expired"),
    ]
    for token, at, as_, _, _ in cases:
        with pytest.raises(Refused):
            open_copy(store, token, at, outbox, as_=as_)
    rows = list(reversed(_denials(store)))
    assert [(r["kind"], r["object"], r["after"]["reason"], r["after"]["action"]) for r in rows] == [
        ("portal-token", token_id, reason, "open") for _, _, _, token_id, reason in cases
    ]
    assert rows[4]["after"]["as"] == BOB and rows[4]["after"]["portal_copy"] is not None
    assert rows[0]["after"].get("portal_copy") is None  # a wrong token does not say whose id it was
    text = repr(store.audit_log())
    for secret in (bob.split(".")[1], carol.split(".")[1], bob[:-5].split(".")[1]):
        assert secret not in text and secret[:10] not in text
    # and nothing else changed
    assert (
        store.portal_copy(store.portal_records.portal_token(bob.split(".")[0])[0]).read_at is None
    )


def test_recalled_and_purged_tokens_are_audited_too(delivered, cli):
    store, outbox, toks = delivered
    bob_copy = store.portal_copy(store.portal_records.portal_token(toks[BOB].split(".")[0])[0]).id
    r = cli("--db", store.path, "portal", "recall", str(bob_copy), "--at", "2026-11-27T10:30:00Z")
    assert r.exit_code == 0, r.output
    with pytest.raises(Refused):
        open_copy(store, toks[BOB], _at("2026-11-27T11:00:00+00:00"), outbox)
    assert _denials(store)[0]["after"]["reason"] == "recalled"


def test_the_cli_audits_the_refusal_and_audit_lists_it(delivered, cli):
    store, outbox, toks = delivered
    wrong = _swap_last(toks[BOB])
    r = cli(
        "--db",
        store.path,
        "portal",
        "open",
        wrong,
        "--at",
        "2026-11-27T11:00:00Z",
        "--outbox",
        outbox.path,
    )
    assert r.exit_code == 1 and r.stderr == f"error: {ACCESS_REFUSED}\n", r.output
    for verb in ("reply", "print"):
        extra = ("--body", "x") if verb == "reply" else ()
        r = cli(
            "--db",
            store.path,
            "portal",
            verb,
            wrong,
            *extra,
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox.path,
        )
        assert r.exit_code == 1 and r.stderr == f"error: {ACCESS_REFUSED}\n", r.output
    listed = cli("--db", store.path, "audit", "-n", "3", "-o", "json")
    assert [(a["action"], a["object"], a["after"]["action"]) for a in listed.json] == [
        ("access-denied", wrong.split(".")[0], verb) for verb in ("print", "reply", "open")
    ]
    table = cli("--db", store.path, "audit", "-n", "3")
    assert table.stdout.count("access-denied") == 3 and wrong.split(".")[1] not in table.stdout
