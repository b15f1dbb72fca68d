"""Portal access tokens (docs/portal.md).

A token is ``<id>.<secret>``: ``id`` is 12 random hex digits, not secret, used
only to find the copy; ``secret`` is ``secrets.token_urlsafe(32)`` (256 bits).
The store keeps the id and the SHA-256 of the whole token, never the token
itself; the token appears only in the notification written to the outbox.
Verification compares hashes with :func:`hmac.compare_digest` (constant
time), and does the same work whether or not the id exists, so a wrong,
truncated or spliced token cannot be told apart by its answer or its time:
the lookup is made even for a malformed token (with an id no copy has), it
fetches only what the comparison needs (a copy id and a hash, never the
copy), and an unknown id is compared against a dummy hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import TypeVar

__all__ = ["TOKEN_FORM", "new_token", "split_token", "token_hash", "verify"]

_ID_HEX = 12
TOKEN_FORM = re.compile(rf"^([0-9a-f]{{{_ID_HEX}}})\.([A-Za-z0-9_-]{{43}})$")
# compared against when no copy has the id, so that both paths do the same work
_DUMMY = hashlib.sha256(b"secmsg: no such token").hexdigest()
_NO_ID = "-" * _ID_HEX  # looked up for a malformed token: no token has it

T = TypeVar("T")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(taken: Callable[[str], bool] = lambda _id: False) -> tuple[str, str, str]:
    """A fresh token: (token, id, hash). ``taken(id)`` says whether an id is
    already in use (a collision of 48 random bits: drawn again)."""
    while True:
        token_id = secrets.token_hex(_ID_HEX // 2)
        if not taken(token_id):
            break
    token = f"{token_id}.{secrets.token_urlsafe(32)}"
    return token, token_id, token_hash(token)


def split_token(token: str) -> str | None:
    """The id of a well-formed token, else None."""
    m = TOKEN_FORM.match(token.strip()) if isinstance(token, str) else None
    return m.group(1) if m else None


def verify(token: str, find: Callable[[str], tuple[T, str | None] | None]) -> T | None:
    """What ``token`` gives access to, else None. ``find(id)`` returns
    ``(what, stored hash)`` for the copy whose token has that id, else None;
    it should cost the same whether or not there is one (fetch the hash, not
    the copy: see :meth:`secmsg_cli.store.portal.PortalRecords.portal_token`)."""
    token = token.strip() if isinstance(token, str) else ""
    token_id = split_token(token)
    # no branch on whether the id exists before the comparison: the same calls either way
    found, stored = find(token_id or _NO_ID) or (None, None)
    ok = hmac.compare_digest(token_hash(token), stored or _DUMMY)
    return found if ok and found is not None else None
