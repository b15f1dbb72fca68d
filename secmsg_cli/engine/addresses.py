"""Email addresses and domains: validation, normalisation, internal/external.

Pure: standard library only. Every address the product stores or compares goes
through :func:`normalise_address` (lower-case, domain IDNA-encoded), so that
``Bob@Bücher.DE`` and ``bob@xn--bcher-kva.de`` are the same address (docs/decisions.md:
addresses compare case-insensitively throughout).
"""

from __future__ import annotations

import re

__all__ = [
    "AddressError",
    "display_domain",
    "domain_of",
    "is_internal",
    "normalise_address",
    "normalise_domain",
    "normalise_member",
]


class AddressError(ValueError):
    """An address or domain that cannot be used; the message says why."""


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5322 dot-atom local part; RFC 6532 allows UTF-8 beyond ASCII.
# (Any non-ASCII character, spelt [^\x00-\x7f]: as the range \u0080-\U0010ffff
# inside the class it took 5 ms to compile, on every start.)
_ATEXT = r"(?:[a-z0-9!#$%&'*+/=?^_`{|}~\-]|[^\x00-\x7f])"
_LOCAL = re.compile(rf"^{_ATEXT}+(?:\.{_ATEXT}+)*$")
_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\r\n]|\\.)*"$')


def normalise_domain(value: object) -> str:
    """Return the canonical (lower-case, ASCII/IDNA) form of a domain name.

    Raises :class:`AddressError` naming the problem.
    """
    if not isinstance(value, str):
        raise AddressError(f"invalid domain {value!r}: expected text")
    raw = value.strip().rstrip(".")
    if not raw:
        raise AddressError(f"invalid domain {value!r}: expected a name such as example.com")
    if any(ch.isspace() for ch in raw):
        raise AddressError(f"invalid domain {value!r}: contains white space")
    labels = raw.split(".")
    out: list[str] = []
    for label in labels:
        if not label:
            raise AddressError(f"invalid domain {value!r}: empty label")
        if label.isascii():
            ascii_label = label.lower()
        else:
            try:
                ascii_label = label.encode("idna").decode("ascii").lower()
            except UnicodeError:
                raise AddressError(
                    f"invalid domain {value!r}: label {label!r} is not a valid internationalised name"
                ) from None
        if ascii_label.startswith("xn--"):
            try:
                ascii_label.encode("ascii").decode("idna")
            except UnicodeError:
                raise AddressError(
                    f"invalid domain {value!r}: label {label!r} is not valid punycode"
                ) from None
        if not _LABEL.match(ascii_label):
            raise AddressError(
                f"invalid domain {value!r}: label {label!r} must be 1-63 letters, digits "
                "or hyphens, not starting or ending with a hyphen"
            )
        out.append(ascii_label)
    if len(out) < 2:
        raise AddressError(
            f"invalid domain {value!r}: expected at least two labels, such as example.com"
        )
    if out[-1].isdigit():
        raise AddressError(f"invalid domain {value!r}: the top-level label cannot be numeric")
    domain = ".".join(out)
    if len(domain) > 253:
        raise AddressError(f"invalid domain {value!r}: longer than 253 characters")
    return domain


def display_domain(domain: str) -> str:
    """The Unicode form of a canonical domain, for people."""
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


def normalise_address(value: object) -> str:
    """Return the canonical form ``local@domain`` of an email address.

    The local part is lower-cased (addresses compare case-insensitively,
    docs/decisions.md) and the domain is IDNA-normalised. Angle brackets around the
    address are tolerated. Raises :class:`AddressError` naming the problem.
    """
    if not isinstance(value, str):
        raise AddressError(f"invalid address {value!r}: expected text")
    raw = value.strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].strip()
    if not raw:
        raise AddressError(f"invalid address {value!r}: expected local@domain")
    if "@" not in raw:
        raise AddressError(f"invalid address {value!r}: expected local@domain")
    local, _, domain = raw.rpartition("@")
    if not local:
        raise AddressError(f"invalid address {value!r}: empty local part")
    local = local.lower()  # before the length check: lower() can lengthen it ('İ' -> 'i̇')
    try:
        octets = len(local.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, e.g. an undecodable command-line byte
        raise AddressError(f"invalid address {value!r}: local part is not valid Unicode") from None
    if octets > 64:
        raise AddressError(f"invalid address {value!r}: local part longer than 64 octets")
    if not (_LOCAL.match(local) or _QUOTED_LOCAL.match(local)):
        raise AddressError(
            f"invalid address {value!r}: local part {local!r} is not a valid mailbox name"
        )
    try:
        domain = normalise_domain(domain)
    except AddressError as exc:
        raise AddressError(f"invalid address {value!r}: {exc}") from None
    return f"{local}@{domain}"


def normalise_member(value: str) -> str:
    """A group member: an address, or ``@domain`` meaning every address of it."""
    raw = value.strip() if isinstance(value, str) else value
    if isinstance(raw, str) and raw.startswith("@"):
        try:
            return "@" + normalise_domain(raw[1:])
        except AddressError as exc:
            raise AddressError(f"invalid member {value!r}: {exc}") from None
    return normalise_address(raw)


def domain_of(address: str) -> str:
    """The domain part of a normalised address."""
    return address.rpartition("@")[2]


def is_internal(address: str, internal_domains: frozenset[str] | set[str]) -> bool:
    """docs/decisions.md: internal iff the address's domain equals a registered internal
    domain (subdomains are not internal unless registered themselves)."""
    return domain_of(address) in internal_domains
