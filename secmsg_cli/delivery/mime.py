"""A byte-level view of a message's MIME structure, read without recursion,
and the header writing of the messages the system composes.

The banner-stamped inbox copy (:func:`secmsg_cli.delivery.compose.stamp_banner`)
must be written for every message that the engine decides, however it is
built: 8-bit bytes in any header or file name, hundreds of thousands of
nested parts, megabytes of RFC 2047 encoded words. Re-generating such a
message with :mod:`email.generator` recurses once per nesting level and
refolds every header (time growing faster than the header), so the copy is
not re-generated at all: :func:`walk` finds where each part's header block
and body lie in the original bytes, in one iterative pass, and the copy is
the original bytes with only the stamped body parts (and the top-level
header fields the system changes) replaced.

The walk follows the engine's reading of a message
(:mod:`secmsg_cli.engine.message`): body parts are text/plain and text/html
leaves with no file name and no ``attachment`` disposition; an attached
message (``message/*``) is one attachment and is not read into; containers
nested deeper than the engine reads (``max_depth``) are opaque. Everything it
does not understand is opaque too, and is copied as it came.

Headers the system writes from text that came from a message (subjects,
display names, message ids, file names) are folded here in time linear in
their length (:class:`Folded`), never by the standard library's folder.

Pure: bytes in, bytes out; standard library only.
"""

from __future__ import annotations

import base64
import email.utils
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secmsg_cli.engine.message import (
    decode_bytes,
    decode_header_words,
    split_param_segments,
    transfer_decode,
    transfer_encoding,
)
from secmsg_cli.engine.render import line_of

if TYPE_CHECKING:
    import email.policy

__all__ = [
    "Folded",
    "Part",
    "addresses",
    "decode_text",
    "decoded_body",
    "field_value",
    "filename",
    "header",
    "header_filename",
    "ids_field",
    "msg_ids",
    "normalise",
    "param",
    "split_params",
    "unstructured",
    "walk",
]

# a header field's first line: a name of printable ASCII but ":", then ":"
_FIELD_NAME = re.compile(rb"[!-9;-~]+[ \t]*:")
_OBSOLETE_FROM = re.compile(rb"From[ \t]*:")  # "From  : ..." is a header field, not an mbox line
_FOLD = re.compile(rb"\r?\n(?=[ \t])")

BODY, ATTACHMENT, MESSAGE, CONTAINER, OPAQUE = (
    "body",
    "attachment",
    "message",
    "container",
    "opaque",
)


@dataclass(slots=True)
class Part:
    """One MIME entity of a message: where it lies in the bytes, and what it is.

    ``fields`` are the spans of its header fields, each with its lower-cased
    name; a field's span includes its continuation lines and final line end.
    The body starts after the blank line that ends the header block, or
    without one at the first line that is not a header field."""

    start: int
    body_start: int
    end: int
    depth: int
    fields: list[tuple[str, int, int]]
    ctype: str = "text/plain"
    kind: str = OPAQUE
    children: list[Part] = field(default_factory=list)


def _read_fields(data: bytes, start: int, end: int) -> tuple[list[tuple[str, int, int]], int, int]:
    """The header fields of the entity at ``data[start:end]``, where the
    header block ends, and where the body starts."""
    fields: list[tuple[str, int, int]] = []
    pos = start
    while pos < end:
        nl = data.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        line = data[pos:line_end]
        if line in (b"\n", b"\r\n"):
            return fields, pos, line_end
        if line[:1] in (b" ", b"\t") and fields:
            name, s, _ = fields[-1]
            fields[-1] = (name, s, line_end)
        else:
            m = _FIELD_NAME.match(line)
            if m is None:
                return fields, pos, pos  # no blank line: the body starts here
            fields.append(
                (line[: m.end() - 1].rstrip(b" \t").decode("latin-1").lower(), pos, line_end)
            )
        pos = line_end
    return fields, end, end


def field_value(data: bytes, span: tuple[str, int, int]) -> str:
    """A field's value, unfolded, as Latin-1 text (one character per byte)."""
    _, start, end = span
    raw = data[start:end]
    raw = raw[raw.index(b":") + 1 :]
    return _FOLD.sub(b"", raw).strip().decode("latin-1")


def header(data: bytes, part: Part, name: str) -> str | None:
    """The unfolded value of the part's first field ``name`` (lower-case), or None."""
    for span in part.fields:
        if span[0] == name:
            return field_value(data, span)
    return None


def split_params(value: str) -> list[str]:
    """``value`` split at the semicolons outside quoted strings, stripped:
    exactly the engine's split, so deliver sees the parameters simulate saw."""
    return [s.strip() for s in split_param_segments(value)]


def _params(value: str | None) -> list[tuple[str, str]]:
    if not value:
        return []
    out = []
    for seg in split_params(value)[1:]:
        name, sep, val = seg.partition("=")
        if sep:
            out.append((name.strip().lower(), val.strip()))
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def param(data: bytes, part: Part, field: str, name: str) -> str | None:
    """A plain (not RFC 2231 encoded) parameter of a header field, unquoted."""
    for key, val in _params(header(data, part, field)):
        if key == name:
            return _unquote(val)
    return None


def _content_type(value: str | None, default: str) -> str:
    if not value:
        return default
    ctype = split_params(value)[0].strip().lower()
    maintype, sep, subtype = ctype.partition("/")
    if not sep or not maintype or not subtype or any(c.isspace() for c in ctype):
        return "text/plain"  # what the standard library makes of an invalid type
    return ctype


def _text(raw: str) -> str:
    """Latin-1 text of raw bytes: UTF-8 when the bytes are UTF-8 (RFC 6532)."""
    if raw.isascii():
        return raw
    data = raw.encode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def filename(data: bytes, part: Part) -> str | None:
    """The file name of a part (Content-Disposition ``filename``, else
    Content-Type ``name``): RFC 2231 and RFC 2047 decoded, 8-bit bytes read
    as UTF-8 or else Windows-1252, white space at the ends removed. Never raises."""
    for field_name, wanted in (("content-disposition", "filename"), ("content-type", "name")):
        params = [
            (k, v)
            for k, v in _params(header(data, part, field_name))
            if k.split("*", 1)[0] == wanted
        ]
        if not params:
            continue
        name = None
        if any("*" in k for k, _ in params):
            try:
                decoded = email.utils.decode_params([("", ""), *params])[1:]
                for key, val in decoded:
                    if key == wanted:
                        name = _unquote(
                            email.utils.collapse_rfc2231_value(
                                val, errors="replace", fallback_charset="utf-8"
                            )
                        )
                        break
            except Exception:  # noqa: BLE001 - broken RFC 2231 continuations: the plain value, if any
                name = None
        if name is None:
            plain = [v for k, v in params if k == wanted]
            if not plain:
                continue
            name = decode_header_words(_text(_unquote(plain[0])))[0]
        elif not all(v.isascii() for _, v in params):  # raw 8-bit bytes, not %-escaped
            name = _text(name) if all(ord(c) < 256 for c in name) else name
        name = name.strip()  # as written inside (shown escaped, saved under a safe name)
        if name:
            return name
    return None


def _has_filename(data: bytes, part: Part) -> bool:
    """Whether the part is named, as the engine decides it (its decoded name,
    white space collapsed and quotes stripped, is not empty): deliver and
    the portal sort bodies from attachments exactly as simulate does."""
    name = filename(data, part)
    return bool(name and " ".join(name.split()).strip("\"'"))


def _delimiters(
    data: bytes, boundary: bytes, start: int, end: int
) -> Iterator[tuple[int, int, bool]]:
    """Delimiter lines of ``boundary`` in ``data[start:end]``: (start of the
    line end before it, or of the line itself at ``start``; end of the
    line; whether it is the close delimiter)."""
    mark = b"--" + boundary
    pos = start
    first = True
    while True:
        if first and data.startswith(mark, start, end):
            at, line_start = start, start
        else:
            at = data.find(b"\n" + mark, pos, end)
            if at < 0:
                return
            line_start = at + 1
            if at > start and data[at - 1 : at] == b"\r":
                at -= 1
        first = False
        after = line_start + len(mark)
        nl = data.find(b"\n", after, end)
        line_end = end if nl < 0 else nl + 1
        rest = data[after:line_end].rstrip(b"\r\n")
        close = rest.startswith(b"--")
        if close:
            rest = rest[2:]
        if rest.strip(b" \t") == b"":
            yield at, line_end, close
            if close:
                return
        pos = line_end - 1 if nl >= 0 else end


def normalise(raw: bytes) -> bytes:
    """LF line ends, without a leading mbox ``From `` separator line."""
    data = raw.replace(b"\r\n", b"\n")
    if data.startswith(b"From ") and not _OBSOLETE_FROM.match(data):
        nl = data.find(b"\n")
        data = data[nl + 1 :] if nl >= 0 else b""
    return data


def _child_spans(data: bytes, part: Part) -> Iterator[tuple[int, int]] | None:
    """Where each child of a multipart lies, lazily; None when it has no
    boundary or no delimiter line (then it is read as one opaque part)."""
    boundary = param(data, part, "content-type", "boundary")
    if not boundary:
        return None
    mark = boundary.rstrip().encode("latin-1", "replace")
    if next(_delimiters(data, mark, part.body_start, part.end), None) is None:
        return None

    def spans() -> Iterator[tuple[int, int]]:
        begin = None
        for at, line_end, close in _delimiters(data, mark, part.body_start, part.end):
            if begin is not None:
                yield begin, max(at, begin)
            begin = None if close else line_end
        if begin is not None:
            yield begin, part.end

    return spans()


def walk(data: bytes, max_depth: int, max_parts: int | None = None) -> Part:
    """The MIME tree of ``data`` (LF or CRLF line ends), built iteratively,
    in document order.

    Containers at ``max_depth`` or deeper, multiparts without a boundary or
    without any delimiter line, and attached messages are not read into.
    After ``max_parts`` leaves (or as many containers), the rest of the
    message is not read: it stays bytes, outside every part."""
    root = _entity(data, 0, len(data), 0, "text/plain")
    budget = {"leaves": max_parts, "containers": max_parts}
    stack: list[tuple[Part, Iterator[tuple[int, int]]]] = []

    def enter(part: Part) -> None:
        spans = _child_spans(data, part) if part.depth < max_depth else None
        if spans is None:
            part.kind = OPAQUE
        else:
            stack.append((part, spans))

    if root.kind == CONTAINER:
        enter(root)
    while stack:
        part, spans = stack[-1]
        span = next(spans, None)
        if span is None:
            stack.pop()
            continue
        default = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
        child = _entity(data, span[0], span[1], part.depth + 1, default)
        kind = "containers" if child.kind == CONTAINER else "leaves"
        left = budget[kind]
        if left is not None:
            if left <= 0:
                break
            budget[kind] = left - 1
        part.children.append(child)
        if child.kind == CONTAINER:
            enter(child)
    return root


def _entity(data: bytes, start: int, end: int, depth: int, default: str) -> Part:
    fields, _, body_start = _read_fields(data, start, end)
    part = Part(start, body_start, end, depth, fields)
    part.ctype = _content_type(header(data, part, "content-type"), default)
    maintype = part.ctype.partition("/")[0]
    if maintype == "multipart":
        part.kind = CONTAINER
    elif maintype == "message":
        part.kind = MESSAGE
    else:
        disposition = (
            (header(data, part, "content-disposition") or "").partition(";")[0].strip().lower()
        )
        body = (
            part.ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and not _has_filename(data, part)
        )
        part.kind = BODY if body else ATTACHMENT
    return part


def leaves(root: Part) -> Iterator[Part]:
    """Every part that is not a container, in document order."""
    stack = [root]
    while stack:
        part = stack.pop()
        if part.kind == CONTAINER:
            stack.extend(reversed(part.children))
        else:
            yield part


def decoded_body(data: bytes, part: Part) -> bytes:
    """The part's body with its transfer encoding undone, exactly as the
    engine undoes it (leniently)."""
    body = data[part.body_start : part.end]
    return transfer_decode(
        transfer_encoding(header(data, part, "content-transfer-encoding")), body
    )[0]


def decode_text(data: bytes, charset: str | None) -> str:
    """Text of a body, decoded exactly as the engine decodes it (its charset,
    else UTF-8, else Windows-1252, else Latin-1)."""
    return decode_bytes(data, charset)[0]


def charset(data: bytes, part: Part) -> str | None:
    value = param(data, part, "content-type", "charset")
    return value.strip().strip("\"'") or None if value else None


# --- writing headers -----------------------------------------------------------------------

_PRINTABLE = re.compile(r"[ -~]*")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_LONGEST_WORD = 900  # a word that cannot be folded stays under RFC 5322's 998 characters a line


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 ``B`` encoded words of at most 75 characters (UTF-8, split
    at character boundaries)."""
    data = text.encode("utf-8", "replace")
    words, pos = [], 0
    while pos < len(data):
        stop = min(pos + 45, len(data))
        while stop < len(data) and (data[stop] & 0xC0) == 0x80:  # not inside a character
            stop -= 1
        words.append("=?utf-8?b?" + base64.b64encode(data[pos:stop]).decode("ascii") + "?=")
        pos = stop
    return words


def _fold_words(name: str, words: Iterable[str]) -> str:
    """``Name: w1 w2 ...`` with a line break before a word that would take a
    line past 78 characters (linear: each word is placed once)."""
    out: list[str] = [name + ":"]
    width = len(name) + 1
    for word in words:
        if width + 1 + len(word) > 78 and width > 1:
            out.append("\n ")
            width = 1
        else:
            out.append(" ")
            width += 1
        out.append(word)
        width += len(word)
    return "".join(out) + "\n"


def _needs_encoding(text: str) -> bool:
    return (
        not _PRINTABLE.fullmatch(text)
        or "=?" in text
        or any(len(w) > _LONGEST_WORD for w in text.split(" "))
    )


def unstructured(name: str, text: str) -> Folded:
    """An unstructured header field (Subject, X-...): as written when it is
    printable ASCII, else RFC 2047 encoded; folded."""
    text = line_of(text)
    if not _needs_encoding(text):
        return Folded(text, name, _fold_words(name, text.split(" ") if text else []))
    return Folded(text, name, _fold_words(name, _encoded_words(text)))


def _phrase(display: str) -> list[str]:
    display = line_of(display)
    if not display:
        return []
    if not _needs_encoding(display):
        if _ATOM_PHRASE.fullmatch(display) and "  " not in display:
            return display.split(" ")
        quoted = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= _LONGEST_WORD:
            return [quoted]
    return _encoded_words(display)


def addresses(name: str, pairs: Sequence[tuple[str | None, str]]) -> Folded:
    """An address list field, one ``display name <addr>`` per entry; a
    display name that is not plain ASCII is RFC 2047 encoded. A non-ASCII
    address is written in UTF-8 (RFC 6532)."""
    words: list[str] = []
    for i, (display, address) in enumerate(pairs):
        phrase = _phrase(display or "")
        spec = address.replace("\r", "").replace("\n", "")
        if phrase:
            words.extend(phrase)
            words.append(f"<{spec}>")
        else:
            words.append(spec)
        if i < len(pairs) - 1:
            words[-1] += ","
    shown = ", ".join(f"{d} <{a}>" if d else a for d, a in pairs)
    return Folded(shown, name, _fold_words(name, words))


_MSG_ID = re.compile(r"<[!-;=?-~]{1,900}>")


def msg_ids(text: str | None) -> list[str]:
    """The well-formed message ids (``<...>``, printable ASCII) in ``text``."""
    return _MSG_ID.findall(text or "")


def ids_field(name: str, ids: Sequence[str]) -> Folded:
    """A field of message ids (In-Reply-To, References), one fold per id."""
    return Folded(" ".join(ids), name, _fold_words(name, ids))


def header_filename(name: str) -> str:
    """A file name that the standard library can put in a MIME parameter:
    bytes of an undecodable name (surrogate escapes) read as UTF-8 or
    Windows-1252, control characters and path separators replaced."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp1252", "replace")
    return (
        "".join("_" if (ord(c) < 32 or c in "/\\\x7f") else c for c in name)[:255] or "attachment"
    )


class Folded(str):
    """A header value folded here (see :func:`unstructured`, :func:`addresses`).

    The standard library's email policies write a header value that has a
    ``name`` attribute by calling its ``fold(policy=...)`` (documented in
    :meth:`email.policy.EmailPolicy.fold`), so the value is written as it
    is folded here instead of being refolded; as a ``str`` it is the text
    that was folded."""

    name: str
    _lines: str

    def __new__(cls, text: str, name: str, lines: str) -> Folded:
        self = super().__new__(cls, text)
        self.name = name
        self._lines = lines
        return self

    def fold(self, *, policy: email.policy.Policy) -> str:
        return self._lines.replace("\n", policy.linesep)
