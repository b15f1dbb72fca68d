"""Access tokens (SPEC §7.4): at least 128 bits from `secrets`, stored only as
a hash, compared in constant time; a wrong, truncated, spliced, another
recipient's or an expired token is refused with one and the same message."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

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
    rows = {token_id: {"hash": digest}}
    assert tk.verify(token, rows.get, lambda r: r["hash"]) is rows[token_id]
    assert tk.verify("f" * 12 + "." + "A" * 43, rows.get, lambda r: r["hash"]) is None
    assert tk.verify("garbage", rows.get, lambda r: r["hash"]) is None
    assert len(calls) == 3  # the same comparison whether the id exists, is unknown or malformed


@pytest.fixture
def delivered(tmp_path, cli):
    db = tmp_path / "store.db"
    build_store(db)
    outbox = tmp_path / "outbox"
    r = cli("--db", db, "deliver", write_message(tmp_path), "--definition", "T/Closed", "--at", T0,
            "--outbox", outbox, "-o", "json")
    assert r.exit_code == 0, r.output
    store = Store(db)
    yield store, Outbox(outbox), tokens(outbox)
    store.close()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


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
    for token, at, extra in [(_swap_last(bob), "2026-11-27T11:00:00Z", ()),
                             (bob[:20], "2026-11-27T11:00:00Z", ()),
                             (toks[CAROL], "2026-11-27T11:00:00Z", ("--as", BOB)),
                             (bob, "2026-11-28T11:00:00Z", ())]:
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
