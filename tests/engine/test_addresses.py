"""Addresses and domains: normalisation (case, IDNA), errors that name the
input, internal/external (SPEC §1, §2)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from secmsg_cli.engine.addresses import (
    AddressError,
    display_domain,
    domain_of,
    is_internal,
    normalise_address,
    normalise_domain,
    normalise_member,
)

DOMAINS = [
    ("example.com", "example.com"),
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    (" example.com ", "example.com"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("BÜCHER.DE", "xn--bcher-kva.de"),
    ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),
    ("mail.bücher.de", "mail.xn--bcher-kva.de"),
    ("例え.jp", "xn--r8jz45g.jp"),
    ("a-b.c-d.example", "a-b.c-d.example"),
    ("123.example", "123.example"),
]


@pytest.mark.parametrize(("text", "expected"), DOMAINS, ids=[t.strip() for t, _ in DOMAINS])
def test_normalise_domain(text, expected):
    assert normalise_domain(text) == expected
    assert normalise_domain(expected) == expected


BAD_DOMAINS = [
    ("", "expected a name"),
    ("localhost", "at least two labels"),
    ("a..b", "empty label"),
    (".example.com", "empty label"),
    ("exa mple.com", "white space"),
    ("-x.com", "hyphen"),
    ("x-.com", "hyphen"),
    ("ex_ample.com", "letters, digits"),
    ("example.123", "numeric"),
    ("x" * 64 + ".com", "1-63"),
    (".".join(["a" * 60] * 5), "253"),
    ("xn--zzzzzz-.com", "punycode"),
    ("a@b.com", "letters, digits"),
]


@pytest.mark.parametrize(
    ("text", "reason"), BAD_DOMAINS, ids=[t[:20] or "empty" for t, _ in BAD_DOMAINS]
)
def test_bad_domains_name_the_input_and_the_reason(text, reason):
    with pytest.raises(AddressError) as info:
        normalise_domain(text)
    message = str(info.value)
    assert message.startswith("invalid domain")
    assert reason in message
    assert repr(text)[:20] in message


ADDRESSES = [
    ("alice@example.com", "alice@example.com"),
    ("Alice.Morgan@Example.COM", "alice.morgan@example.com"),
    ("<bob@example.com>", "bob@example.com"),
    (" < bob@example.com > ", "bob@example.com"),
    ("bob+tag@bücher.de", "bob+tag@xn--bcher-kva.de"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ('"john doe"@example.com', '"john doe"@example.com'),
    ('"a@b"@example.com', '"a@b"@example.com'),
    ("zoë@example.com", "zoë@example.com"),
    ("x@example.com.", "x@example.com"),
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES, ids=[t.strip() for t, _ in ADDRESSES])
def test_normalise_address(text, expected):
    assert normalise_address(text) == expected
    assert normalise_address(expected) == expected


BAD_ADDRESSES = [
    ("", "expected local@domain"),
    ("alice", "expected local@domain"),
    ("@example.com", "empty local part"),
    ("alice@", "invalid domain"),
    ("alice@localhost", "two labels"),
    ("al ice@example.com", "not a valid mailbox"),
    ("alice..b@example.com", "not a valid mailbox"),
    (".alice@example.com", "not a valid mailbox"),
    ("a(b)@example.com", "not a valid mailbox"),
    ("x" * 65 + "@example.com", "64 octets"),
    ("ann\udcff@example.com", "not valid Unicode"),
    ("<>", "expected local@domain"),
]


@pytest.mark.parametrize(
    ("text", "reason"), BAD_ADDRESSES, ids=[t[:20] or "empty" for t, _ in BAD_ADDRESSES]
)
def test_bad_addresses_name_the_input_and_the_reason(text, reason):
    with pytest.raises(AddressError) as info:
        normalise_address(text)
    message = str(info.value)
    assert message.startswith("invalid address")
    assert reason in message


def test_the_local_part_length_is_checked_after_lower_casing():
    # 'İ' (2 octets) lower-cases to 'i̇' (3 octets): 32 of them fit before, not after
    text = "İ" * 32 + "@example.com"
    with pytest.raises(AddressError, match="64 octets"):
        normalise_address(text)
    assert normalise_address("İ" * 21 + "@example.com") == "i̇" * 21 + "@example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Board.Example.com", "@board.example.com"),
        (" @bücher.de", "@xn--bcher-kva.de"),
        ("CEO@Example.com", "ceo@example.com"),
    ],
    ids=["domain", "idna-domain", "address"],
)
def test_normalise_member(text, expected):
    assert normalise_member(text) == expected


@pytest.mark.parametrize(
    "text", ["@", "@nodot", "@exa mple.com", "nobody"], ids=["at", "nodot", "space", "plain"]
)
def test_bad_members(text):
    with pytest.raises(AddressError):
        normalise_member(text)


def test_display_domain():
    assert display_domain("xn--bcher-kva.de") == "bücher.de"
    assert display_domain("example.com") == "example.com"


def test_internal_means_exactly_a_registered_domain():
    internal = frozenset({"example.com", "xn--bcher-kva.de"})
    assert is_internal(normalise_address("Ann@Example.com"), internal)
    assert is_internal(normalise_address("ann@bücher.de"), internal)
    assert not is_internal("ann@mail.example.com", internal)  # subdomains are not internal
    assert not is_internal("ann@example.com.evil.net", internal)
    assert not is_internal("ann@example.org", internal)
    assert domain_of("ann@mail.example.com") == "mail.example.com"


# --- properties ------------------------------------------------------------------------

any_text = st.text(
    alphabet=st.characters(exclude_categories=()), max_size=80
)  # surrogates included
address_like = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(alphabet=st.characters(exclude_categories=()), max_size=70),
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"[A-Za-z0-9ü-]{1,20}(\.[A-Za-z0-9ü-]{1,20}){1,3}", fullmatch=True),
    ),
)


@given(st.one_of(any_text, address_like))
@example("İ" * 32 + "@example.com")
@example("\udcff@example.com")
def test_normalise_address_raises_only_address_error_and_is_idempotent(text):
    try:
        normalised = normalise_address(text)
    except AddressError:
        return
    assert normalise_address(normalised) == normalised
    assert normalised == normalised.strip()
    assert "@" in normalised


@given(
    st.one_of(
        any_text,
        st.from_regex(r"[A-Za-zÀ-ÿ0-9-]{1,30}(\.[A-Za-z0-9-]{1,10}){1,3}\.?", fullmatch=True),
    )
)
def test_normalise_domain_raises_only_address_error_and_is_idempotent(text):
    try:
        normalised = normalise_domain(text)
    except AddressError:
        return
    assert normalise_domain(normalised) == normalised
    assert normalised.isascii() and normalised == normalised.lower()


@given(st.one_of(any_text, st.builds(lambda d: "@" + d, any_text)))
def test_normalise_member_raises_only_address_error_and_is_idempotent(text):
    try:
        normalised = normalise_member(text)
    except AddressError:
        return
    assert normalise_member(normalised) == normalised
