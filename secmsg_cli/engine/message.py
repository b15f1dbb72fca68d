"""Raw message bytes -> :class:`Message`: envelope, headers and lazily decoded parts.

Pure: standard library only (plus :mod:`.addresses`). The one entry point is
:func:`parse_message`; the only exception it raises is :class:`MessageError`
(CONTRIBUTING.md: a malformed or huge ``.eml`` file gets a one-line error, never a
traceback).

What is read eagerly, and what lazily
-------------------------------------
``parse_message`` runs the standard library's MIME parser once
(``email.policy.compat32``, which never raises on header access) and reads
the envelope and address fields, the subject, the top-most ``Received:``
header's source IP (docs/output.md) and the decoded header block, and collects
the parser's notes on the MIME structure. Sorting the parts into bodies and
attachments, transfer-decoding, charset decoding, HTML reduction and MD5
hashing happen only when :meth:`Message.body_texts` or
:meth:`Message.attachments` is first called; the results are cached in a
private holder object (``Message`` itself is a frozen, slotted dataclass, so
it cannot use ``functools.cached_property``). Notes from that lazy work are
kept apart, in :meth:`Message.content_defects`, so that :attr:`Message.defects`
does not change after construction.

Tolerance
---------
Whatever the standard library can still read is read: a broken header gives
an empty value and a note in :attr:`Message.defects`, an invalid address is
skipped with a note, a part in an unknown charset is decoded as UTF-8, then
Windows-1252, then Latin-1 (which never fails). Hostile input is bounded:
MIME nesting is capped (:class:`Limits`) while the standard parser runs (its
cost grows with depth times lines), MIME parameters are split in linear time
(the standard splitter is quadratic), address headers and the ``Received:``
scan have length limits, and HTML is made safe for ``html.parser`` (which is
quadratic on unterminated markup) before it is reduced to text.

Failing closed
--------------
What a limit keeps from being read (parts nested too deep or past the number
of parts, text past the size of a component, a part that could not be
decoded) is *unscannable*: :meth:`Message.unscannable` says, per section
(subject, headers, body, attachments), what was not read, so that a content
definition examining that section can fire instead of passing the message as
clean (docs/limits-and-security.md). Every such event is also a note.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import email.message
import email.parser
import email.utils
import functools
import io
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from secmsg_cli.vocab import ScanSection

from .addresses import AddressError, normalise_address

if TYPE_CHECKING:
    import email.generator

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_NESTING",
    "Address",
    "Attachment",
    "Limits",
    "Message",
    "MessageError",
    "decode_header_words",
    "html_source_text",
    "html_to_text",
    "parse_message",
]

#: MIME containers (multipart/*, message/*) nested deeper than this are not read (the default).
MAX_NESTING = 50


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a message is examined (docs/limits-and-security.md); what lies beyond is
    unscannable (content definitions that examine it fail closed) and noted.

    ``depth``: MIME containers nested deeper are not read. ``parts``: MIME
    leaves (bodies and attachments) past this many are not read.
    ``text_bytes``: decoded bytes read per component (the subject, the header
    block, each body part, each text attachment). ``recipients``: recipients
    decided per message (the rest are named in the notes).
    """

    depth: int = MAX_NESTING
    parts: int = 1000
    text_bytes: int = 10 * 1024 * 1024
    recipients: int = 1000

    def __post_init__(self) -> None:
        for name in ("depth", "parts", "text_bytes", "recipients"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = Limits()

# Limits that keep hostile input to bounded time; all generous for real mail.
_MAX_RECIPIENTS_CHARS = 512 * 1024  # characters of To + Cc + Bcc together (~10,000+ addresses)
_MAX_SENDER_FIELD = 16 * 1024  # characters of From / Return-Path
_MAX_PARAM_HEADER = 64 * 1024  # characters of a Content-Type / -Disposition value
_MAX_RECEIVED_SCAN = 4096  # characters of the top-most Received: header examined
_MAX_NOTES = 100  # defect notes kept; the rest are counted
_MAX_QUOTED = 80  # characters of a bad value quoted in a note


class MessageError(ValueError):
    """A message that cannot be read; the text is one line, ``cannot read message: ...``."""


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox of an address header: decoded display name and normalised address."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment. ``md5`` is the hex digest of the transfer-decoded bytes;
    ``text`` is the decoded text for ``text/*`` (HTML reduced to text; and the
    readable text of an attached message), ``None`` for binary content.
    ``source``: for HTML, the text of its source with every tag removed (see
    :meth:`Message.body_sources`). ``inline``: a named text/plain or text/html
    part without an ``attachment`` disposition, which a mail client may show
    as the body as well."""

    filename: str | None
    content_type: str
    size: int
    md5: str
    text: str | None
    source: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed message. Build one with :func:`parse_message`.

    Constructed by hand (for instance in tests of other engine modules) it
    has no MIME parts: :meth:`body_texts` and :meth:`attachments` return ``()``.
    ``recipients`` is always derived from ``to``, ``cc`` and ``bcc``.
    """

    envelope_from: str | None = None
    header_from: str | None = None
    header_from_name: str | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    date: str | None = None
    source_ip: str | None = None
    headers_text: str = ""
    defects: tuple[str, ...] = ()
    #: Recipient addresses in To/Cc/Bcc that were not read (past the length
    #: limit of the address headers), estimated from their "@" signs.
    recipients_unread: int = 0
    recipients: tuple[str, ...] = field(init=False)
    _parts: _Parts | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: dict[str, None] = {}
        for addr in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(addr.address, None)
        object.__setattr__(self, "recipients", tuple(seen))

    def body_texts(self) -> tuple[str, ...]:
        """Each body part as text: text/plain decoded with its charset,
        text/html decoded and reduced by :func:`html_to_text`. Computed on
        first call, then cached."""
        return self._parts.body_texts() if self._parts is not None else ()

    def body_sources(self) -> tuple[str | None, ...]:
        """Per body part (as :meth:`body_texts`): for HTML, the text of its
        source with every tag removed and entities decoded, else None.
        Examined beside the reduced text, so that what a browser would show
        but the reduction lost (a comment or ``<script>`` a browser ends
        where html.parser does not) is examined all the same."""
        if self._parts is None:
            return ()
        self._parts.body_texts()
        return self._parts._sources or ()

    def attachments(self) -> tuple[Attachment, ...]:
        """Each attachment, decoded and hashed on first call, then cached."""
        return self._parts.attachments() if self._parts is not None else ()

    def content_defects(self) -> tuple[str, ...]:
        """Notes of what was tolerated while decoding bodies and attachments
        (unknown charsets, undecodable text). Decodes them if not done yet."""
        return self._parts.notes() if self._parts is not None else ()

    def unscannable(self, section: str) -> str | None:
        """What of ``section`` (subject, headers, body, attachments) could not
        be read, in one line; None when all of it was. Reads (decodes) the
        section first if it has not been read yet."""
        if self._parts is None:
            return None
        if section == ScanSection.BODY:
            self.body_texts()
        elif section == ScanSection.ATTACHMENTS:
            self.attachments()
        return self._parts._unread.get(section)

    def notes(self) -> tuple[str, ...]:
        """Every note so far: :attr:`defects`, then those of the decoding done
        until now (reading a section can add some; nothing is decoded here)."""
        if self._parts is None:
            return self.defects
        later = self._parts._notes.result()
        return (
            self.defects + tuple(n for n in later if n not in self.defects)
            if later
            else self.defects
        )


# --------------------------------------------------------------------------
# Notes (defects)


class _Notes:
    __slots__ = ("_dropped", "_items", "_seen")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._seen: set[str] = set()
        self._dropped = 0

    def add(self, note: str) -> None:
        note = " ".join(note.split())  # one line, always
        if note in self._seen:
            return
        if len(self._items) >= _MAX_NOTES:
            self._dropped += 1
            return
        self._seen.add(note)
        self._items.append(note)

    def result(self) -> tuple[str, ...]:
        if self._dropped:
            return (*self._items, f"... and {self._dropped} more notes")
        return tuple(self._items)


def _quote(value: str) -> str:
    if len(value) > _MAX_QUOTED:
        value = value[:_MAX_QUOTED] + "..."
    return repr(value)


def _unexpected(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return (
        f"unexpected error ({type(exc).__name__}: {text})"
        if text
        else f"unexpected error ({type(exc).__name__})"
    )


# --------------------------------------------------------------------------
# Charsets and text


_CHARSET_ALIASES = {
    # Labels seen in real mail that Python does not know, or knows as a subset.
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "ucs-2": "utf-16",
    "iso-10646-ucs-2": "utf-16-be",
    "iso-8859-1": "cp1252",  # WHATWG: what mail labelled Latin-1 really is
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
}
# Text codecs that are not character sets a message may meaningfully declare.
_REFUSED_CODECS = frozenset(
    {
        "idna",
        "punycode",
        "unicode-escape",
        "raw-unicode-escape",
        "undefined",
        "mbcs",
        "oem",
        "charmap",
    }
)
_CHARSET_NAME = re.compile(r"[a-z0-9][a-z0-9._:+()-]{0,39}")


@functools.lru_cache(maxsize=256)
def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None if unknown or unsafe."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not _CHARSET_NAME.fullmatch(name):
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


_BOMS = {
    "utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
    "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE),
}


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 ``format=flowed`` text as the reader sees it: a line that ends
    in a space (other than the signature separator ``-- ``) continues on the
    next; with ``delsp=yes`` that space is removed too. A leading space that
    protects a line (space-stuffing) is removed."""
    out: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            pending += line[:-1] if delsp else line
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return "\n".join(out)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data``; the flag is False when the text had to be guessed
    (unknown charset, or bytes that do not fit the declared one).

    Order: the declared charset; UTF-8; the declared charset with
    replacement characters; Windows-1252; Latin-1 (never fails). Latin-1 and
    Windows-1252 keep every byte as one character, so Western words in
    mislabelled mail stay matchable.
    """
    codec = _codec(charset)
    if codec in ("utf-16", "utf-32") and not data.startswith(_BOMS[codec]):
        # RFC 2781: without a byte-order mark, big-endian (Python's codec assumes little)
        codec += "-be"
    if codec is not None:
        # any codec failure (not only UnicodeDecodeError) means: try the next
        with contextlib.suppress(Exception):
            return data.decode(codec), True
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("utf-8"), charset is None
    if codec is not None and codec != "ascii":
        with contextlib.suppress(Exception):
            return data.decode(codec, "replace"), False
    try:
        return data.decode("cp1252"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), False


def _to_bytes(text: str) -> bytes:
    """Bytes back from parser text: surrogate escapes become the original bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def _unix_lines(text: str) -> str:
    return text.replace("\r\n", "\n") if "\r" in text else text


def _header_text(raw: object) -> tuple[str, bool]:
    """A raw header value as text: 8-bit bytes read as UTF-8 (RFC 6532), else
    Latin-1; unfolded. The flag is False when the Latin-1 fallback was used."""
    value = str(raw)
    ok = True
    if not value.isascii():
        data = value.encode("utf-8", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("latin-1")
            ok = False
    if "\n" in value or "\r" in value:
        value = _LINE_BREAKS.sub("", value)
    return value, ok


# RFC 2047 encoded word. The charset and text cannot contain "?", which keeps
# the scan linear on hostile input; white space inside the text is tolerated.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_NOT_BASE64_OR_PADDING = re.compile(r"[^A-Za-z0-9+/=\s]")


def decode_header_words(text: str) -> tuple[str, bool]:
    """Decode RFC 2047 encoded words in ``text``.

    Returns the decoded text and whether everything decoded cleanly (a false
    flag means an unknown charset or a broken word was tolerated). Adjacent
    words in one charset are joined before decoding, so a character split
    across words survives; white space between encoded words is dropped.
    Never raises.
    """
    if "=?" not in text:
        return text, True
    out: list[str] = []
    ok = True
    pending_charset: str | None = None
    pending = bytearray()
    pos = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending_charset, ok
        if pending_charset is not None:
            decoded, fine = decode_bytes(bytes(pending), pending_charset)
            ok = ok and fine
            out.append(decoded)
            pending.clear()
            pending_charset = None

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between and not (last_was_word and between.isspace()):
            flush()
            out.append(between)
        charset = m.group(1).split("*", 1)[0].lower()  # RFC 2231 language suffix
        encoding = m.group(2).lower()
        word = m.group(3)
        try:
            if encoding == "q":
                raw = binascii.a2b_qp(word.encode("utf-8", "surrogateescape"), header=True)
            else:
                if _NOT_BASE64_OR_PADDING.search(word):
                    ok = False
                b64 = _NOT_BASE64.sub("", word)
                if len(b64) % 4 == 1:
                    b64 = b64[:-1]
                    ok = False
                raw = binascii.a2b_base64(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            flush()
            out.append(m.group(0))
            ok = False
            pos = m.end()
            last_was_word = False
            continue
        if pending_charset is not None and charset != pending_charset:
            flush()
        pending_charset = charset
        pending += raw
        pos = m.end()
        last_was_word = True
    flush()
    out.append(text[pos:])
    return "".join(out), ok


# --------------------------------------------------------------------------
# HTML


_SKIP_TAGS = frozenset({"script", "style"})
_CELL_TAGS = frozenset({"td", "th"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "table", "tbody", "tfoot", "thead", "title", "tr", "ul", "body", "html",
    }
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
_DECLARATION = re.compile(r"<[!?][^<>]*>")
# A "<" that does not open a tag closed before the next "<" is text.
_STRAY_LT = re.compile(r"<(?![A-Za-z/][^<>]*>)")


# The standard library modules only some messages need (HTML bodies,
# attachments, attached messages) are imported on first use: start-up is
# paid by every run, they are not.


def _md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _bytes_generator() -> type[email.generator.BytesGenerator]:
    import email.generator

    return email.generator.BytesGenerator


@functools.cache
def _text_extractor_class() -> type:
    from html.parser import HTMLParser

    class _TextExtractor(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.out: list[str] = []
            self._skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in _SKIP_TAGS:
                self._skip += 1
            elif tag in _BLOCK_TAGS:
                self.out.append("\n")
            elif tag in _CELL_TAGS:
                self.out.append(" ")

        def handle_endtag(self, tag: str) -> None:
            if tag in _SKIP_TAGS:
                if self._skip:
                    self._skip -= 1
            elif tag in _BLOCK_TAGS:
                self.out.append("\n")
            elif tag in _CELL_TAGS:
                self.out.append(" ")

        def handle_data(self, data: str) -> None:
            if not self._skip:
                self.out.append(_WHITESPACE.sub(" ", data))

    return _TextExtractor


def _strip_comments(html: str) -> str:
    if "<!--" not in html:
        return html
    parts: list[str] = []
    pos = 0
    while True:
        start = html.find("<!--", pos)
        if start < 0:
            parts.append(html[pos:])
            break
        parts.append(html[pos:start])
        end = html.find("-->", start + 4)
        if end < 0:  # an unterminated comment runs to the end, as in browsers
            break
        pos = end + 3
    return "".join(parts)


_ANY_TAG = re.compile(r"<[^<>]*>")


def html_source_text(html: str) -> str:
    """HTML with every tag removed (nothing put in their place) and entities
    decoded: a crude reading that keeps whatever :func:`html_to_text` might
    lose where a browser and html.parser disagree (comments ended by
    ``--!>``, ``<script>`` inside an attribute or a ``<textarea>``), and
    joins words that inline markup splits (``confi<b></b>dential``). Linear."""
    import html as html_module

    return html_module.unescape(_ANY_TAG.sub("", html))


def html_to_text(html: str) -> str:
    """Reduce HTML to text: drop ``<script>``/``<style>`` content and
    comments, turn block elements and ``<br>`` into line breaks, unescape
    entities, collapse white space (one line per block, no blank lines).
    Linear time on any input; never raises.
    """
    # html.parser rescans unterminated markup (comments, declarations, "<"
    # without ">") on every step, which is quadratic on hostile input. Remove
    # or escape every construct that could be unterminated first.
    safe = _strip_comments(html)
    safe = _DECLARATION.sub(" ", safe)
    safe = _STRAY_LT.sub("&lt;", safe)
    parser = _text_extractor_class()()
    try:
        parser.feed(safe)
        parser.close()
        text = "".join(parser.out)
    except Exception:  # noqa: BLE001 - html.parser is not documented never to raise
        text = re.sub(r"<[^<>]*>", " ", safe)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------
# The standard parser, hardened


_PARAM_TOKEN = re.compile(r'\\"|"|;')


def split_param_segments(value: str) -> list[str]:
    """A MIME header value split at the semicolons outside quoted strings,
    as the standard library's parser splits it (a quote escaped as ``\\"``
    does not end a quoted string), in linear time. Shared by the parser and
    delivery, so both see the same parameters."""
    segments: list[str] = []
    start = 0
    quoted = False
    for m in _PARAM_TOKEN.finditer(value):
        token = m.group()
        if token == '"':
            quoted = not quoted
        elif token == ";" and not quoted:
            segments.append(value[start : m.start()])
            start = m.end()
    segments.append(value[start:])
    return segments


def _split_params(value: str) -> list[str]:
    """``email.message._parseparam`` in linear time (the original re-counts
    quotes from the start for every ";" and re-slices the string)."""
    out = []
    for seg in split_param_segments(value):
        if "=" in seg:
            name, _, val = seg.partition("=")
            seg = name.strip().lower() + "=" + val.strip()
        out.append(seg.strip())
    return out


class _SafeMessage(email.message.Message):
    """``email.message.Message`` (compat32) that caps nesting depth and parses
    MIME parameters in linear time without raising.

    The feed parser asks each new part for its content type before deciding
    whether to descend; a container deeper than the depth limit answers
    ``text/plain``, so its content is read as one opaque part (marked
    ``_secmsg_capped``, noted in ``defects`` and never read) instead of
    nesting further.
    """

    _secmsg_depth = 0
    _secmsg_capped = False
    _secmsg_max_depth = MAX_NESTING  # set per parser (see _parser)

    def attach(self, payload: email.message.Message | str) -> None:
        if isinstance(payload, _SafeMessage):
            payload._secmsg_depth = self._secmsg_depth + 1
        super().attach(payload)

    def get_content_type(self) -> str:
        ctype = super().get_content_type()
        if self._secmsg_depth >= self._secmsg_max_depth and ctype.partition("/")[0] in (
            "multipart",
            "message",
        ):
            self._secmsg_capped = True
            return "text/plain"
        return ctype

    def _get_params_preserve(self, failobj: object, header: str) -> object:
        # THE SEAM for MIME parameters: email.message.Message's public
        # get_param(), get_params(), get_filename(), get_boundary() and
        # get_content_charset() all read parameters through this private
        # method (so since Python 2). Overriding it here, once, buys parameter
        # parsing in linear time that never raises: the original is quadratic
        # in the header's length (a crafted 1 MB Content-Type took seconds)
        # and lets decode_params raise (TypeError on mixed RFC 2231
        # continuations, ValueError on huge numbers). tests/engine/
        # test_message_seam.py fails loudly if the standard library stops
        # calling it. The raw value, not self.get(): for a value with 8-bit
        # bytes get() returns a Header whose str() turns those bytes into U+FFFD.
        wanted = header.lower()
        value = next((v for k, v in self.raw_items() if k.lower() == wanted), None)
        if value is None:
            return failobj
        text = str(value)[:_MAX_PARAM_HEADER]
        params = []
        for p in _split_params(text):
            name, sep, val = p.partition("=")
            params.append((name.strip(), val.strip()) if sep else (p.strip(), ""))
        try:
            return email.utils.decode_params(params)
        except Exception:  # noqa: BLE001 - broken RFC 2231 parameters: keep the plain ones
            return params[:1] + [(n, v) for n, v in params[1:] if "*" not in n]


@functools.lru_cache(maxsize=8)
def _parser(max_depth: int) -> email.parser.BytesParser:
    """The parser that caps nesting at ``max_depth``. Its default policy is
    compat32 (importing email.policy for it would also load the header
    registry this module never uses)."""
    capped = type("_SafeMessage", (_SafeMessage,), {"_secmsg_max_depth": max_depth})
    return email.parser.BytesParser(_class=capped)


def _children(part: email.message.Message) -> list[email.message.Message]:
    """The parts a multipart (or message/*) part holds; [] for a leaf."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, email.message.Message)]


def _param_text(part: email.message.Message, name: str) -> str:
    """A Content-Type parameter (``format``, ``delsp``), "" when absent.

    An RFC 2231-encoded value (``format*=us-ascii''flowed``) comes back as a
    (charset, language, text) tuple, not text: the callers' ``.lower()``
    then fails and the part is reported as not read (fails closed). That is
    today's behaviour, kept by this cast; reading such a value is a change
    of its own."""
    return cast(str, part.get_param(name, "", "content-type") or "")


# --------------------------------------------------------------------------
# Addresses


def _salvage(addr: str) -> str | None:
    """``Big Bug bb@bug.com`` (a name without angle brackets): the last word
    that is a valid address, or None."""
    for word in reversed(addr.split()):
        if "@" in word:
            try:
                return normalise_address(word)
            except AddressError:
                return None
    return None


# Fast path for the common shapes ("a@x.com", "Name <a@x.com>"): a header
# without quotes, comments, groups, routes or escapes splits safely on commas.
# Anything else goes to email.utils.getaddresses (pure Python, ~1 us a character).
_COMPLEX_ADDRESS_CHARS = re.compile(r'["()\\:;\[\]]')
_SIMPLE_MAILBOX = re.compile(r"\s*(?:([^<>@]*?)\s*<([^<>]*)>|([^<>\s]+))\s*")


def _split_addresses(values: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        if _COMPLEX_ADDRESS_CHARS.search(value):
            return email.utils.getaddresses(values)
        for segment in value.split(","):
            if not segment or segment.isspace():
                continue
            m = _SIMPLE_MAILBOX.fullmatch(segment)
            if m is None:
                return email.utils.getaddresses(values)
            if m.group(3) is not None:
                pairs.append(("", m.group(3)))
            else:
                pairs.append((" ".join(m.group(1).split()), m.group(2).strip()))
    return pairs


@functools.lru_cache(maxsize=4096)
def _normalised(addr: str) -> str:
    return normalise_address(addr)  # addresses repeat across a batch


def _read_addresses(
    label: str,
    values: list[str],
    limit: int,
    notes: _Notes,
    unread: list[int] | None = None,
    overall: int | None = None,
) -> list[Address]:
    """The mailboxes of all ``values`` of one header, groups expanded, invalid
    ones skipped with a note. Reads at most ``limit`` characters; ``unread[0]``
    counts the addresses (``@`` signs) left unread."""
    total = sum(len(v) for v in values)
    if total > limit:
        kept: list[str] = []
        room = limit
        for v in values:
            if room <= 0:
                break
            if len(v) > room:
                cut = v.rfind(",", 0, room)
                v = v[: cut if cut > 0 else room]
            kept.append(v)
            room -= len(v)
        left = sum(v.count("@") for v in values) - sum(v.count("@") for v in kept)
        if unread is not None:
            unread[0] += max(left, 1)
        shared = " (To, Cc and Bcc together)" if label in ("To", "Cc", "Bcc") else ""
        notes.add(
            f"{label}: address headers past the limit of {overall or limit} characters read{shared}: "
            f"about {left} more address{'' if left == 1 else 'es'} not read"
        )
        values = kept
    out: list[Address] = []
    for name, addr in _split_addresses(values):
        if not addr:
            if name.strip():
                notes.add(f"{label}: skipped {_quote(name)}: not an address")
            continue
        try:
            normalised = _normalised(addr)
        except AddressError:
            salvaged = _salvage(addr)
            if salvaged is None:
                notes.add(f"{label}: skipped invalid address {_quote(addr)}")
                continue
            normalised = salvaged
            notes.add(f"{label}: read {_quote(addr)} as {normalised!r}")
        decoded, fine = decode_header_words(name) if name else ("", True)
        if not fine:
            notes.add(f"{label}: display name {_quote(name)} could not be fully decoded")
        out.append(Address(" ".join(decoded.split()), normalised))
    return out


# --------------------------------------------------------------------------
# Received: source IP


_RECEIVED_TOKEN = re.compile(r"[()]|;|(?<=[\s)\]])(?:by|via|with|id|for)(?=[\s(])", re.IGNORECASE)
_FROM_KEYWORD = re.compile(r"\s*from(?=[\s(\[])", re.IGNORECASE)
_OPEN_COMMENT = re.compile(r"\s*\(")
_BRACKETED = re.compile(r"\[([^\[\]\s]*)\]")
_WORD_SPLIT = re.compile(r"[\s=,]+")
_HELO_PARAM = re.compile(r"\b(?:helo|ehlo)=\S*", re.IGNORECASE)
_HELO_WORDS = re.compile(r"\b(?:helo|ehlo)\b", re.IGNORECASE)


def _ip_of(token: str) -> str | None:
    t = token.strip("[]()<>,;'\"?")
    if len(t) > 64 or not t:
        return None
    if t[:5].lower() == "ipv6:":
        t = t[5:]
    t = t.partition("%")[0]
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        host, sep, port = t.rpartition(":")  # 192.0.2.1:25
        if not (sep and "." in host and port.isdigit()):
            return None
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _source_ip(value: str) -> str | None:
    """The IP in the ``from`` clause of one Received: header value.

    Preference: a bracketed address literal (``[203.0.113.5]``, the receiving
    server's record of the TCP peer), then an address in a comment
    (qmail's ``(HELO x) (192.0.2.1)``, ``(IPv6:...)``), then the from-domain
    itself when it is an address. What follows ``HELO``/``EHLO``/``helo=`` is
    chosen by the sending client and is never taken.
    """
    s = value[:_MAX_RECEIVED_SCAN]
    pos = 0
    while True:  # leading comments such as "(qmail 123 invoked from network)"
        m = _OPEN_COMMENT.match(s, pos)
        if not m:
            break
        depth = 1
        i = m.end()
        while i < len(s) and depth:
            depth += {"(": 1, ")": -1}.get(s[i], 0)
            i += 1
        pos = i
    m = _FROM_KEYWORD.match(s, pos)
    if not m:
        return None
    # Split the clause, up to its first top-level keyword or ";", into bare
    # text and top-level comments, in order.
    segments: list[tuple[bool, str]] = []  # (is_comment, text)
    depth = 0
    seg_start = m.end()
    end = len(s)
    for tok in _RECEIVED_TOKEN.finditer(s, m.end()):
        t = tok.group()
        if t == "(":
            if depth == 0:
                segments.append((False, s[seg_start : tok.start()]))
                seg_start = tok.end()
            depth += 1
        elif t == ")":
            if depth == 1:
                segments.append((True, s[seg_start : tok.start()]))
                seg_start = tok.end()
            depth = max(depth - 1, 0)
        elif depth == 0:
            end = tok.start()
            break
    segments.append((depth > 0, s[seg_start:end]))
    evidence = []
    for is_comment, text in segments:
        text = _HELO_PARAM.sub(" ", text)
        if is_comment:
            text = _HELO_WORDS.split(text, 1)[0]
        evidence.append((is_comment, text))
    for _, text in evidence:
        for lit in _BRACKETED.finditer(text):
            ip = _ip_of(lit.group(1))
            if ip:
                return ip
    for is_comment, text in evidence:
        if is_comment:
            for word in _WORD_SPLIT.split(text):
                ip = _ip_of(word)
                if ip:
                    return ip
    words = evidence[0][1].split()
    return _ip_of(words[0]) if words else None


# --------------------------------------------------------------------------
# MIME structure


_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "a multipart part declares no boundary; its body was read as text",
    "StartBoundaryNotFoundDefect": "a multipart boundary never appears in the body",
    "CloseBoundaryNotFoundDefect": "a multipart part is not closed by its boundary",
    "FirstHeaderLineIsContinuationDefect": "the first header line is a continuation line",
    "MisplacedEnvelopeHeaderDefect": "a 'From ' envelope line appears among the headers",
    "MissingHeaderBodySeparatorDefect": "a line that is not a header ended the header block",
    "MultipartInvariantViolationDefect": "a part claims to be multipart but is not",
    "InvalidMultipartContentTransferEncodingDefect": "a multipart part has an invalid Content-Transfer-Encoding",
    "InvalidBase64PaddingDefect": "base64 content has incorrect padding",
    "InvalidBase64CharactersDefect": "base64 content contains invalid characters",
    "InvalidBase64LengthDefect": "base64 content has an invalid length",
}


def _describe_defect(defect: object) -> str:
    name = type(defect).__name__
    text = _DEFECT_TEXT.get(name)
    if text is None:
        doc = (type(defect).__doc__ or name).strip().splitlines()[0]
        text = doc.rstrip(".")
    return f"MIME: {text}"


def _filename(part: email.message.Message) -> str | None:
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = part.get_param(param, None, header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, text)
            name, _ = decode_bytes(_to_bytes(str(value[2])), value[0] or None)
        else:
            name, _ = _header_text(value)
            name, _ = decode_header_words(name)
        name = " ".join(name.split()).strip("\"'")
        if name:
            return name
    return None


def _disposition(part: email.message.Message) -> str | None:
    for name, value in part.raw_items():
        if name.lower() == "content-disposition":
            return str(value).partition(";")[0].strip().lower() or None
    return None


# Entries of the attachment list, decoded lazily by _Parts.
_LEAF, _EMBEDDED, _STATUS = "leaf", "message", "status"


class _Spec:
    __slots__ = ("bodies", "content_type", "filename", "inline", "inner", "kind", "part")

    def __init__(
        self,
        kind: str,
        part: email.message.Message,
        filename: str | None,
        content_type: str,
        inner: email.message.Message | None = None,
        inline: bool = False,
    ) -> None:
        self.inline = inline
        self.kind = kind
        self.part = part
        self.filename = filename
        self.content_type = content_type
        self.inner = inner
        self.bodies: list[email.message.Message] = []


class _Unread:
    """What could not be read, per section (docs/limits-and-security.md: unscannable); each
    entry is also a note."""

    __slots__ = ("_by_section", "_notes")

    def __init__(self, notes: _Notes, by_section: dict[str, list[str]] | None = None) -> None:
        self._by_section: dict[str, list[str]] = {} if by_section is None else by_section
        self._notes = notes

    def noting_to(self, notes: _Notes) -> _Unread:
        """The same record, its notes going to ``notes`` (the lazy decoding's)."""
        return _Unread(notes, self._by_section)

    def add(self, sections: tuple[str, ...], what: str) -> None:
        what = " ".join(what.split())
        self._notes.add(what)
        for section in sections:
            found = self._by_section.setdefault(section, [])
            if what not in found and len(found) < 5:
                found.append(what)

    def get(self, section: str) -> str | None:
        found = self._by_section.get(section)
        return "; ".join(found) if found else None


_CONTENT = (ScanSection.BODY, ScanSection.ATTACHMENTS)  # where a MIME part's text may belong
# Content types whose content is encrypted (or signed opaquely): not readable text.
_ENCRYPTED = {
    "application/pkcs7-mime": "S/MIME",
    "application/x-pkcs7-mime": "S/MIME",
    "multipart/encrypted": "encrypted (PGP/MIME)",
    "application/pgp-encrypted": "encrypted (PGP/MIME)",
}


def _structure_notes(root: email.message.Message, notes: _Notes, unread: _Unread) -> None:
    """Record the parser's defects and the nesting cap (cheap: no decoding)."""
    stack = [root]
    while stack:
        part = stack.pop()
        for defect in getattr(part, "defects", ()):
            notes.add(_describe_defect(defect))
        if isinstance(part, _SafeMessage) and part._secmsg_capped:
            unread.add(
                _CONTENT,
                f"MIME parts nested more than {part._secmsg_max_depth} levels deep were not read",
            )
        if part.is_multipart():
            stack.extend(reversed(_children(part)))


def _classify(
    root: email.message.Message, notes: _Notes, unread: _Unread, max_parts: int
) -> tuple[list[email.message.Message], list[_Spec]]:
    """Sort the leaves into body parts and attachments, in document order.

    Body parts are text/plain and text/html leaves without a filename or an
    ``attachment`` disposition (and multiparts without a boundary, read as
    text). Every other leaf is an attachment, text/* ones included (so
    text/calendar or text/rfc822-headers are examined as attachment text).
    A message/* part is an attachment whose text is the embedded message's
    header block and body parts; its other leaves are attachments in turn.
    Past ``max_parts`` parts, the rest is counted, not read (unscannable).
    """
    bodies: list[email.message.Message] = []
    specs: list[_Spec] = []
    stack: list[tuple[email.message.Message, _Spec | None]] = [(root, None)]
    taken = skipped = 0
    while stack:
        part, owner = stack.pop()
        if getattr(part, "_secmsg_capped", False):
            continue
        try:
            ctype = part.get_content_type()
            maintype = ctype.partition("/")[0]
            if ctype in _ENCRYPTED:
                unread.add(
                    _CONTENT,
                    f"the message holds {_ENCRYPTED[ctype]} content ({ctype}), "
                    "which cannot be examined",
                )
            if (
                part.is_multipart() and maintype != "message"
            ):  # multipart/*: its children are the parts
                for child in reversed(_children(part)):
                    stack.append((child, owner))
                continue
            if taken >= max_parts:
                skipped += 1
                continue
            taken += 1
            if part.is_multipart():  # message/*: one part, its text the embedded message's
                children = _children(part)
                encoding = transfer_encoding(_raw_header(part, "content-transfer-encoding"))
                if encoding not in ("", "7bit", "8bit", "binary"):
                    # MIME forbids it, and the parser read the encoded text as the message
                    unread.add(
                        (ScanSection.ATTACHMENTS,),
                        f"an attached message ({ctype}) is {encoding}-encoded, "
                        "which MIME does not allow; it was not read",
                    )
                if ctype == "message/delivery-status":
                    specs.append(_Spec(_STATUS, part, None, ctype))
                else:
                    inner = children[0] if children else None
                    spec = _Spec(_EMBEDDED, part, _filename(part), ctype, inner)
                    specs.append(spec)
                    if inner is not None:
                        stack.append((inner, spec))
                continue
            filename = _filename(part)
            shown = ctype in ("text/plain", "text/html") and _disposition(part) != "attachment"
            body_like = (
                shown or maintype == "multipart"
            ) and not filename  # multipart without boundary: raw text
            if body_like:
                (owner.bodies if owner is not None else bodies).append(part)
            else:  # a named text part a client may show inline: an attachment and body alike
                specs.append(_Spec(_LEAF, part, filename, ctype, inline=shown and owner is None))
        except Exception as exc:  # noqa: BLE001 - one odd part must not lose the others
            unread.add(_CONTENT, f"a MIME part could not be read ({_unexpected(exc)})")
    if skipped:
        unread.add(
            _CONTENT, f"{skipped} MIME part(s) past the limit of {max_parts} parts were not read"
        )
    return bodies, specs


def transfer_encoding(value: str | None) -> str:
    """The Content-Transfer-Encoding token of a header value: its first word,
    lower-cased, without comments or parameters (``" Base64 (c)"`` is
    ``base64``; the standard library compares the whole value and would read
    such a body as it stands)."""
    if not value:
        return ""
    value = re.sub(r"\([^()]*\)", " ", value)
    token = re.split(r"[\s;]+", value.strip(), maxsplit=1)[0]
    return token.lower()


# every byte but base64's alphabet and "=" (deleted by bytes.translate: a
# tenth of the time of a regular expression's sub on a large attachment)
_BASE64_KEPT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_BASE64_JUNK = bytes(b for b in range(256) if b not in _BASE64_KEPT)
_PADDING_RUN = re.compile(rb"=+")
_QP_TRAILING_BLANKS = re.compile(rb"[ \t]+(?=\r?\n|\r|$)")


def transfer_decode(encoding: str, body: bytes) -> tuple[bytes, str | None]:
    """``body`` with its transfer ``encoding`` (see :func:`transfer_encoding`)
    undone, leniently, as mail clients read it; and a note when something had
    to be tolerated. Shared by the parser and delivery.

    base64: characters outside the alphabet are skipped; padding in the
    middle ends one chunk and the next is decoded on its own (concatenated
    encodings), never silently dropped. quoted-printable: blanks before a
    line end are removed first (RFC 2045), so ``=`` followed by blanks is a
    soft line break.
    """
    if encoding == "base64":
        clean = body.translate(None, _BASE64_JUNK)
        note = (
            None
            if len(clean) == len(body.translate(None, b" \t\r\n"))
            else "base64 content has characters outside the base64 alphabet; they were skipped"
        )
        unpadded = clean.rstrip(b"=")
        if b"=" not in unpadded:  # padding at the end only, if any: one chunk
            chunks = [unpadded] if unpadded else []
        else:
            chunks = [c for c in _PADDING_RUN.split(clean) if c]
        if len(chunks) > 1:
            note = "base64 content continues after its padding; each part was decoded"
        out = []
        for chunk in chunks:
            if len(chunk) % 4 == 1:
                chunk = chunk[:-1]
            out.append(binascii.a2b_base64(chunk + b"=" * (-len(chunk) % 4)))
        return b"".join(out), note
    if encoding == "quoted-printable":
        return binascii.a2b_qp(_QP_TRAILING_BLANKS.sub(b"", body)), None
    return body, None


_UUENCODINGS = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def _decoded_payload(
    part: email.message.Message, notes: _Notes | None = None, what: str = ""
) -> bytes:
    """A leaf's bytes, its transfer encoding undone (:func:`transfer_decode`)."""
    encoding = transfer_encoding(_raw_header(part, "content-transfer-encoding"))
    if encoding in _UUENCODINGS:
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""
    # The payload as parsed (8-bit bytes kept as surrogate escapes): what
    # get_payload(decode=False) returns after replacing those bytes with U+FFFD.
    raw = getattr(part, "_payload", None)
    body = _to_bytes(raw) if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
    data, note = transfer_decode(encoding, body)
    if note and notes is not None:
        notes.add(f"{what}: {note}" if what else note)
    return data


def _raw_header(part: email.message.Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _charset_of(part: email.message.Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # noqa: BLE001
        return None


def _headers_text(msg: email.message.Message) -> str:
    """The header block of an embedded message or status block, decoded."""
    lines = []
    for name, raw in msg.raw_items():
        value, _ = _header_text(raw)
        value, _ = decode_header_words(value)
        lines.append(f"{name}: {value.strip()}")
    return "\n".join(lines)


class _Parts:
    """The lazily decoded bodies and attachments of one message (a cache)."""

    __slots__ = (
        "_attachments",
        "_body_texts",
        "_layout",
        "_limits",
        "_notes",
        "_root",
        "_sources",
        "_unread",
    )

    def __init__(self, root: email.message.Message | None, limits: Limits, unread: _Unread) -> None:
        self._root = root
        self._limits = limits
        self._layout: tuple[list[email.message.Message], list[_Spec]] | None = None
        self._body_texts: tuple[str, ...] | None = None
        self._sources: tuple[str | None, ...] | None = None
        self._attachments: tuple[Attachment, ...] | None = None
        self._notes = _Notes()
        self._unread = unread.noting_to(self._notes)

    def _parts(self) -> tuple[list[email.message.Message], list[_Spec]]:
        if self._layout is None:
            self._layout = (
                _classify(self._root, self._notes, self._unread, self._limits.parts)
                if self._root is not None
                else ([], [])
            )
        return self._layout

    def _capped(self, data: bytes, section: str, what: str) -> bytes:
        """At most ``text_bytes`` of a component's bytes; the rest is unscannable."""
        limit = self._limits.text_bytes
        if len(data) <= limit:
            return data
        self._unread.add(
            (section,), f"{what} has {len(data)} bytes; only the first {limit} were read"
        )
        return data[:limit]

    def _leaf_text(self, part: email.message.Message, what: str, section: str) -> str:
        return self._leaf_views(part, what, section)[0]

    def _leaf_views(
        self, part: email.message.Message, what: str, section: str
    ) -> tuple[str, str | None]:
        """The leaf's text, and for HTML the tag-stripped source (else None)."""
        charset = _charset_of(part)
        data = self._capped(_decoded_payload(part, self._notes, what), section, what)
        text, ok = decode_bytes(data, charset)
        if not ok:
            shown = _quote(charset) if charset else "no charset"
            self._notes.add(
                f"{what}: text in {shown} could not be decoded exactly; read with a fallback"
            )
        if "-----BEGIN PGP MESSAGE-----" in text:
            self._unread.add(
                (section,), f"{what} holds a PGP-encrypted message, which cannot be examined"
            )
        if part.get_content_type() == "text/html":
            return html_to_text(text), html_source_text(text)
        text = _unix_lines(text)
        if _param_text(part, "format").lower() == "flowed":
            text = unflow(text, delsp=_param_text(part, "delsp").lower() == "yes")
        return text, None

    def body_texts(self) -> tuple[str, ...]:
        if self._body_texts is None:
            out, sources = [], []
            for i, part in enumerate(self._parts()[0], start=1):
                what = f"body part {i}"
                try:
                    text, source = self._leaf_views(part, what, ScanSection.BODY)
                except Exception as exc:  # noqa: BLE001 - the part is unscannable, the others are read
                    self._unread.add(
                        (ScanSection.BODY,), f"{what} could not be read ({_unexpected(exc)})"
                    )
                    continue
                out.append(text)
                sources.append(source)
            self._body_texts, self._sources = tuple(out), tuple(sources)
        return self._body_texts

    def attachments(self) -> tuple[Attachment, ...]:
        if self._attachments is None:
            out = []
            for i, spec in enumerate(self._parts()[1], start=1):
                what = (
                    f"attachment {_quote(spec.filename)}" if spec.filename else f"attachment #{i}"
                )
                try:
                    out.append(self._attachment(spec, what))
                except Exception as exc:  # noqa: BLE001 - the part is unscannable, the others are read
                    self._unread.add(
                        (ScanSection.ATTACHMENTS,), f"{what} could not be read ({_unexpected(exc)})"
                    )
            self._attachments = tuple(out)
        return self._attachments

    def notes(self) -> tuple[str, ...]:
        self.body_texts()
        self.attachments()
        return self._notes.result()

    def _attachment(self, spec: _Spec, what: str) -> Attachment:
        source = None
        if spec.kind == _LEAF:
            data = _decoded_payload(spec.part, self._notes, what)
            text = None
            if spec.content_type.startswith("text/"):
                charset = _charset_of(spec.part)
                text, ok = decode_bytes(self._capped(data, ScanSection.ATTACHMENTS, what), charset)
                if spec.content_type == "text/html":  # examined as read, and as written
                    text, source = html_to_text(text), html_source_text(text)
                else:
                    text = _unix_lines(text)
                if not ok:
                    self._notes.add(
                        f"{what}: text could not be decoded exactly; read with a fallback"
                    )
        elif spec.kind == _STATUS:
            blocks = spec.part.get_payload()
            text = "\n\n".join(
                _headers_text(b) for b in blocks if isinstance(b, email.message.Message)
            )
            data = text.encode("utf-8", "surrogatepass")
            text = self._capped_text(text, what)
        else:
            texts = []
            if spec.inner is not None:
                texts.append(_headers_text(spec.inner))
                for body in spec.bodies:
                    texts.append(
                        self._leaf_text(body, f"{what} (attached message)", ScanSection.ATTACHMENTS)
                    )
            text = self._capped_text("\n\n".join(texts), what)
            data = self._flatten(spec.inner) if spec.inner is not None else b""
            if not data and text:
                data = text.encode("utf-8", "surrogatepass")
        return Attachment(
            filename=spec.filename,
            content_type=spec.content_type,
            size=len(data),
            md5=_md5(data),
            text=text,
            source=source,
            inline=spec.inline,
        )

    def _capped_text(self, text: str, what: str) -> str:
        limit = self._limits.text_bytes
        if len(text) <= limit:  # characters: at least as many bytes
            return text
        data = text.encode("utf-8", "surrogatepass")
        if len(data) <= limit:
            return text
        return self._capped(data, ScanSection.ATTACHMENTS, what).decode("utf-8", "ignore")

    @staticmethod
    def _flatten(msg: email.message.Message) -> bytes:
        # The embedded message re-serialised (LF line ends): its MD5 can
        # differ from that of the original file's bytes.
        buf = io.BytesIO()
        try:
            _bytes_generator()(buf, mangle_from_=False, maxheaderlen=0).flatten(msg)
        except Exception:  # noqa: BLE001 - unusual charsets; fall back to the text
            return b""
        return buf.getvalue()


# --------------------------------------------------------------------------
# Entry point


_OBSOLETE_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.MULTILINE)
_BLANK_LINE = re.compile(rb"(?:\r\n|\n|\r(?!\n))[ \t]*(?:\r\n|\n|\r(?!\n))")


def _first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    if not found:
        return None
    return found[0].strip() or None


def parse_message(
    data: bytes, *, max_size: int | None = None, limits: Limits = DEFAULT_LIMITS
) -> Message:
    """Parse raw message bytes (RFC 5322 / MIME) into a :class:`Message`.

    >>> m = parse_message(b"From: Ann <ann@example.com>\\nTo: bob@partner.com\\n\\nhi\\n")
    >>> m.header_from, m.header_from_name, m.recipients, m.body_texts()
    ('ann@example.com', 'Ann', ('bob@partner.com',), ('hi\\n',))

    Raises :class:`MessageError` (and nothing else) when the input is not
    bytes, is larger than ``max_size``, is empty or has no header fields.
    ``limits`` bound what is examined (:class:`Limits`).
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise MessageError(f"cannot read message: expected bytes, got {type(data).__name__}")
    if max_size is not None and len(data) > max_size:
        raise MessageError(
            f"cannot read message: {len(data)} bytes exceeds the limit of {max_size} bytes"
        )
    if not data or data.isspace():
        raise MessageError("cannot read message: the input is empty")
    try:
        return _parse(data, limits)
    except MessageError:
        raise
    except Exception as exc:
        raise MessageError(f"cannot read message: {_unexpected(exc)}") from exc


def _parse(data: bytes, limits: Limits) -> Message:
    notes = _Notes()
    unread = _Unread(notes)
    parser = _parser(limits.depth)
    try:
        root = parser.parsebytes(data)
        structured = True
    except RecursionError:  # only if the caller's stack is already deep
        root = parser.parsebytes(data, headersonly=True)
        structured = False
        unread.add(_CONTENT, "the MIME structure was too deep to read; only the headers were read")
    items = list(root.raw_items())
    if not items and _OBSOLETE_NAME.match(data):
        # RFC 5322 §4.5 obsolete syntax "Subject  : text": accepted by
        # removing the white space before the colon in the header block.
        end = _BLANK_LINE.search(data)
        head = data[: end.start()] if end else data
        data = _OBSOLETE_NAME.sub(rb"\1:", head) + data[len(head) :]
        root = parser.parsebytes(data, headersonly=not structured)
        items = list(root.raw_items())
        if items:
            notes.add(
                "header names followed by white space before ':' (obsolete syntax) were accepted"
            )
    if not items:
        raise MessageError(
            "cannot read message: no header fields found (expected lines such as 'From: ...' before a blank line)"
        )

    values: dict[str, list[str]] = {}
    subjects: list[str] = []
    text_lines: list[str] = []
    for name, raw in items:
        value, ok = _header_text(raw)
        key = name.lower()
        values.setdefault(key, []).append(value)
        decoded, ok2 = decode_header_words(value)
        if not ok:
            notes.add(f"{name}: header contains 8-bit bytes that are not UTF-8; read as Latin-1")
        if not ok2:
            notes.add(f"{name}: header could not be fully decoded")
        text_lines.append(f"{name}: {decoded.strip()}")
        if key == "subject":
            subjects.append(decoded)

    # Envelope sender: the top-most Return-Path; "<>" is the null sender.
    envelope_from = None
    return_path = values.get("return-path")
    if return_path:
        rp = return_path[0].strip()
        if rp and rp.replace(" ", "") != "<>":
            found = _read_addresses("Return-Path", [rp], _MAX_SENDER_FIELD, notes)
            envelope_from = found[0].address if found else None

    header_from = header_from_name = None
    if "from" in values:
        senders = _read_addresses("From", values["from"], _MAX_SENDER_FIELD, notes)
        if senders:
            header_from = senders[0].address
            header_from_name = senders[0].name or None
            if len(senders) > 1:
                notes.add(f"From: {len(senders)} addresses; the first was used")

    budget = max(_MAX_RECIPIENTS_CHARS, 256 * limits.recipients)  # shared by To, Cc and Bcc
    recipient_fields = []
    unread_recipients = [0]
    for label in ("To", "Cc", "Bcc"):
        field_values = values.get(label.lower(), [])
        recipient_fields.append(
            _read_addresses(
                label,
                field_values,
                budget,
                notes,
                unread_recipients,
                max(_MAX_RECIPIENTS_CHARS, 256 * limits.recipients),
            )
        )
        budget = max(budget - sum(len(v) for v in field_values), 0)
    to, cc, bcc = recipient_fields

    if len(subjects) > 1:
        notes.add(f"Subject: {len(subjects)} headers; the first was used")
    subject = subjects[0] if subjects else ""
    if len(subject) > limits.text_bytes:
        unread.add(
            (ScanSection.SUBJECT,),
            f"the subject has {len(subject)} characters; only the first "
            f"{limits.text_bytes} were read",
        )
        subject = subject[: limits.text_bytes]
    subject = " ".join(subject.split())
    headers_text = "\n".join(text_lines)
    if len(headers_text) > limits.text_bytes:
        unread.add(
            (ScanSection.HEADERS,),
            f"the header block has {len(headers_text)} characters; only the first "
            f"{limits.text_bytes} were read",
        )
        headers_text = headers_text[: limits.text_bytes]

    received = values.get("received")
    source_ip = _source_ip(received[0]) if received else None

    if structured:
        _structure_notes(root, notes, unread)

    return Message(
        envelope_from=envelope_from,
        header_from=header_from,
        header_from_name=header_from_name,
        to=tuple(to),
        cc=tuple(cc),
        bcc=tuple(bcc),
        subject=subject,
        message_id=_first(values, "message-id"),
        in_reply_to=_first(values, "in-reply-to"),
        date=_first(values, "date"),
        source_ip=source_ip,
        headers_text=headers_text,
        defects=notes.result(),
        recipients_unread=unread_recipients[0],
        _parts=_Parts(root if structured else None, limits, unread),
    )
