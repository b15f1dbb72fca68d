"""Content Examination: the match-list grammar (parse once) and scoring (docs/decisions.md).

Pure: the standard library and the RE2 matcher (:mod:`.patterns`). A content
definition's ``lines`` are parsed once into a :class:`MatchList` (every pattern
compiled, every error reported with its line number) and then evaluated
against many messages with :func:`evaluate`::

    >>> ml = parse_match_list(['2 confidential', '0 exclude draft'])
    >>> evaluate(ml, 2, [Component("subject", "subject", "Confidential: Q3")]).reason
    'score 2 ≥ 2, no exclusion'

Grammar, one entry per line (blank lines and lines whose first non-blank
character is ``#`` are ignored; there are no trailing comments)::

    WEIGHT[:MAX] TEXT                       word or phrase
    WEIGHT[:MAX] required TEXT              must be present for the definition to fire
    WEIGHT[:MAX] exclude TEXT               if present the definition does not fire
    WEIGHT[:MAX] regex PATTERN              RE2 regular expression, case-insensitive
    WEIGHT[:MAX] regex,cardnumber PATTERN   a match counts only if it is a card number
    WEIGHT[:MAX] hash MD5 NAME              an attachment whose MD5 equals MD5

Decisions where docs/decisions.md is silent:

* WEIGHT is an integer 0..1000, MAX an integer 1..1,000,000 (ASCII digits).
  MAX below WEIGHT is allowed: the line then contributes at most MAX.
* Keywords are case-insensitive and must be followed by something;
  ``1 required`` is an error (quote the word: ``1 "required"``), as is
  ``1 required regex x`` (required/exclude take TEXT only; quote the phrase).
* TEXT is quoted when it starts *and* ends with ``"``; the phrase is what lies
  between the first and the last quote (it may itself contain ``"``) with
  surrounding blanks trimmed. ``"top" secret`` is an error.
* A line is stripped of surrounding white space before it is read, so a
  regex PATTERN cannot end in a blank (write ``[ ]`` or ``\\s``); white space
  inside a PATTERN is kept. A NAME may be quoted; the quotes are removed.
* A regex is RE2 syntax, compiled case-insensitive (``^``/``$`` anchor the
  whole component unless the pattern says ``(?m)``; ``$`` is the very end).
  What RE2 cannot run in linear time (backreferences, look-around, atomic
  groups, possessive quantifiers) is refused with the construct named
  (:mod:`.patterns`). A regex that can match an empty string (``a*``, ``^``,
  ``\\b``) is rejected: it would match everywhere.
* ``regex,cardnumber``: each match's decimal digits (everything else removed)
  must number 13..19 and pass :func:`luhn_valid`; the first such match counts.
* Words and phrases match case-insensitively with Python's ``re.IGNORECASE``
  rules, bounded by ``(?<!\\w)`` and ``(?!\\w)`` (so ``C++`` and ``#secret``
  work); white space inside a phrase matches any run of white space.
* Searching is linear in the text whatever the lines: the ASCII words and
  phrases of every definition that may run are found in one RE2 pass per
  component (:class:`Scanner`), each distinct regex in one RE2 search of its
  own; a non-ASCII word or phrase is searched on its own with a pattern that
  cannot backtrack.
* A section that could not be read whole (``unscannable``, docs/limits-and-security.md) makes
  every definition that scans it fire, whatever it found: the message fails
  closed, never open.
* Scoring: ``required`` lines' weights count toward the score like any word;
  ``exclude`` lines contribute nothing. A ``hash`` line looks only at
  components' MD5s (attachments), text lines only at components' text.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from secmsg_cli.engine.patterns import (
    REGEX_BUDGET,
    PatternError,
    PatternSet,
    compile_user_regex,
    regex_width,
)
from secmsg_cli.vocab import SCAN_SECTIONS, ScanSection

__all__ = [
    "KINDS",
    "MAX_CAP",
    "MAX_WEIGHT",
    "SECTIONS",
    "Component",
    "ContentResult",
    "LineHit",
    "MatchLine",
    "MatchList",
    "MatchListError",
    "Scanner",
    "evaluate",
    "is_card_number",
    "luhn_valid",
    "parse_match_list",
    "validate_match_list",
]

Kind = Literal["word", "required", "exclude", "regex", "cardnumber", "hash"]
Section = ScanSection
#: What a component remembers of its searches: keyed by scanner (the keys it
#: found) and by the names of its text views (_VISIBLE, _VIEW, _UTF8, _FOLDED).
ComponentCache = dict[object, Any]
#: Makes the error of the line being parsed, from its reason.
_Fail = Callable[[str], "MatchListError"]

#: The parts of a message a content definition can scan, in message order.
SECTIONS: tuple[str, ...] = SCAN_SECTIONS
#: Every kind of match line.
KINDS: tuple[str, ...] = ("word", "required", "exclude", "regex", "cardnumber", "hash")
MAX_WEIGHT = 1000
MAX_CAP = 1_000_000

_SECTION_SET = frozenset(SECTIONS)
_TEXT_KEYWORDS: dict[str, Kind] = {"required": "required", "exclude": "exclude"}
_REGEX_KEYWORDS: dict[str, Kind] = {"regex": "regex", "regex,cardnumber": "cardnumber"}
_KEYWORDS = frozenset({*_TEXT_KEYWORDS, *_REGEX_KEYWORDS, "hash"})
_EXPECTED = (
    "expected WEIGHT[:MAX] followed by a word, phrase, required/exclude TEXT, "
    "regex PATTERN or hash MD5 NAME"
)
_WEIGHT_RE = re.compile(r"([0-9]+)(?::([0-9]+))?")
_MD5_RE = re.compile(r"[0-9a-fA-F]{32}")
# Strings on which a pattern that can match "nothing" shows itself.
_EMPTY_PROBES = ("", " ", "a", "Z", "0", "_", ".", "\n", "a b")
_CARD_MIN, _CARD_MAX = 13, 19


#: The key a scanner reports for a text it did not search with its regexes,
#: because the worst case of doing so exceeds :data:`REGEX_BUDGET`.
UNSEARCHED = "\x00unsearched"


class MatchListError(ValueError):
    """A malformed match-list line. ``str()`` is ``line N: reason``.

    ``line_no`` is 1-based and counts every input line (blank lines and
    comments included); ``reason`` says what was expected; ``line`` is the
    offending line as given.
    """

    def __init__(self, line_no: int, reason: str, line: str = "") -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason
        self.line = line

    def __reduce__(self) -> tuple[type[MatchListError], tuple[int, str, str]]:
        # keep the attributes through pickling
        return (type(self), (self.line_no, self.reason, self.line))


class Regex:
    """A Python regular expression of a non-ASCII word or phrase, compiled
    when first searched with (most are never needed by a given message).
    Written by :func:`_word_regex`, never by a user: it cannot backtrack
    more than linearly. Pickles as its source."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.source = source
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        c = self._compiled
        if c is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = self._compiled = re.compile(self.source, self.flags)
        return c

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def __reduce__(self) -> tuple[type[Regex], tuple[str, int]]:
        return (type(self), (self.source, self.flags))


@dataclass(frozen=True, slots=True)
class MatchLine:
    """One parsed, compiled entry of a match list.

    ``term`` is what the line looks for: the word/phrase as written (quotes
    removed), the regex PATTERN, or the MD5 for ``hash`` lines. ``md5`` and
    ``label`` (the NAME) are set only for ``hash`` lines.

    How the line is searched (see :class:`Scanner`): an ASCII word or phrase
    by ``_word``, an RE2 pattern over the component's *word view* (its text
    lowered, each other character reduced to its class); a non-ASCII one by
    ``_regex`` (Python, ``re.IGNORECASE``) after checking that the folded
    ``_literals`` occur; a regex by ``_regex`` (RE2). ``_broken`` is set
    instead when a stored line cannot be compiled (written before the RE2
    dialect): the definition then fails closed.
    """

    line_no: int
    source: str
    weight: int
    max: int | None
    kind: Kind
    term: str
    md5: str | None = None
    label: str | None = None
    _regex: Any = field(default=None, compare=False, repr=False)
    _word: bytes | None = field(default=None, compare=False, repr=False)
    _literals: tuple[str, ...] = field(default=(), compare=False, repr=False)
    _broken: str | None = field(default=None, compare=False, repr=False)
    # Key under which a scanner reports this line as found: the same for
    # every line that searches for the same thing, in any definition.
    _key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind == "hash":
            key = f"h\x00{self.md5}"
        elif self.kind in ("regex", "cardnumber"):
            key = f"{'c' if self.kind == 'cardnumber' else 'p'}\x00{self.term}"
        elif self._word is not None:
            key = "w\x00" + self._word.decode("latin-1")
        else:
            key = f"u\x00{self._regex.source if self._regex is not None else self.term}"
        object.__setattr__(self, "_key", key)

    @property
    def pattern(self) -> Any:
        """The compiled regular expression of a ``regex`` line (RE2), else None."""
        return self._regex if self.kind in ("regex", "cardnumber") else None

    @property
    def scores(self) -> bool:
        """Whether a hit on this line adds to the score (all but ``exclude``)."""
        return self.kind != "exclude"

    @property
    def display(self) -> str:
        """What the line looks for, for people: the NAME of a hash, else the term."""
        return self.label if self.kind == "hash" and self.label is not None else self.term

    def points_for(self, components_found: int) -> tuple[int, bool]:
        """(points, capped) for a line found in ``components_found`` components."""
        if not self.scores:
            return 0, False
        points = self.weight * components_found
        if self.max is not None and points > self.max:
            return self.max, True
        return points, False


@dataclass(frozen=True, slots=True)
class MatchList:
    """A parsed match list: its entries and the original lines (comments kept)."""

    lines: tuple[MatchLine, ...]
    source: tuple[str, ...] = ()
    _has_required: bool = field(init=False, compare=False, repr=False)
    _has_exclude: bool = field(init=False, compare=False, repr=False)
    # For evaluate(): each text line's index by its search key (several lines
    # may share one), the hash lines, the first line that cannot run (if any),
    # this list's own scanner (when evaluated alone), and the result of
    # finding nothing, by activation score (the same for every message that
    # has none of it).
    _by_key: dict[str, tuple[int, ...]] = field(init=False, compare=False, repr=False)
    _hashes: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _broken: MatchLine | None = field(init=False, compare=False, repr=False)
    _own: list[Scanner] = field(init=False, compare=False, repr=False)
    _nothing: dict[int, ContentResult] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kinds = {ln.kind for ln in self.lines}
        object.__setattr__(self, "_has_required", "required" in kinds)
        object.__setattr__(self, "_has_exclude", "exclude" in kinds)
        by_key: dict[str, list[int]] = {}
        hashes = []
        for i, ln in enumerate(self.lines):
            if ln.kind == "hash":
                hashes.append(i)
            elif ln._broken is None:
                by_key.setdefault(ln._key, []).append(i)
                if ln.kind in ("regex", "cardnumber"):
                    by_key.setdefault(
                        UNSEARCHED, []
                    )  # a scanner's word that its regexes were not run
        object.__setattr__(self, "_by_key", {k: tuple(v) for k, v in by_key.items()})
        object.__setattr__(self, "_hashes", tuple(hashes))
        object.__setattr__(self, "_broken", next((ln for ln in self.lines if ln._broken), None))
        object.__setattr__(self, "_own", [])
        object.__setattr__(self, "_nothing", {})

    @property
    def required(self) -> tuple[MatchLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == "required")

    @property
    def excludes(self) -> tuple[MatchLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == "exclude")

    def nothing(self, activation_score: int) -> ContentResult:
        """The result of finding none of the lines (the same for every message
        that has none of them: made once per activation score)."""
        got = self._nothing.get(activation_score)
        if got is None:
            got = self._nothing[activation_score] = _result(
                self, activation_score, 0, [], list(self.required), [], None
            )
        return got

    def can_find(self, keys: frozenset[str]) -> bool:
        """Whether a text whose scanner found ``keys`` holds any of this list's
        text lines (False: :meth:`nothing` is its result, but for hashes)."""
        return not keys.isdisjoint(self._by_key)

    @property
    def scanner(self) -> Scanner:
        """A scanner of this list's lines alone (for evaluating it on its own)."""
        if not self._own:
            self._own.append(Scanner(self.lines))
        return self._own[0]

    def __iter__(self) -> Iterator[MatchLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


# --------------------------------------------------------------------------- parsing


def parse_match_list(lines: Iterable[str] | str, *, lenient: bool = False) -> MatchList:
    """Parse and compile a match list; raise :class:`MatchListError` on the first bad line.

    ``lines`` is an iterable of lines (a trailing ``\\n``/``\\r\\n`` on each is
    ignored); a single string is split into lines.

    ``lenient`` (for a configuration already stored, which may hold lines
    written before the current grammar, e.g. a regex RE2 refuses) keeps a bad
    line as a *broken* entry instead of raising: a definition with one fails
    closed (it fires, and says why) rather than stopping every decision.

    >>> parse_match_list(["# legal", '3:6 "attorney client"']).lines[0].max
    6
    """
    entries: list[MatchLine] = []
    source: list[str] = []
    for line_no, raw in enumerate(_iter_lines(lines), start=1):
        try:
            text = _line_text(line_no, raw)
            source.append(text)
            entry = _parse_line(line_no, text, probe=not lenient)
        except MatchListError as exc:
            if not lenient:
                raise
            text = str(raw).strip()
            entry = MatchLine(line_no, text, 0, None, "regex", text, _broken=exc.reason)
        if entry is not None:
            entries.append(entry)
    return MatchList(tuple(entries), tuple(source))


def validate_match_list(lines: Iterable[str] | str) -> list[MatchListError]:
    """Every error in a match list, in line order (empty when it is valid).

    For configuration validation that reports all problems at once; use
    :func:`parse_match_list` to get the compiled list.
    """
    errors: list[MatchListError] = []
    for line_no, raw in enumerate(_iter_lines(lines), start=1):
        try:
            _parse_line(line_no, _line_text(line_no, raw))
        except MatchListError as exc:
            errors.append(exc)
    return errors


def _iter_lines(lines: Iterable[str] | str) -> Iterable[object]:
    if isinstance(lines, str):
        return lines.splitlines()
    return lines


def _line_text(line_no: int, raw: object) -> str:
    if not isinstance(raw, str):
        raise MatchListError(line_no, f"expected a line of text, got {type(raw).__name__} {raw!r}")
    if raw.endswith("\r\n"):
        raw = raw[:-2]
    elif raw.endswith(("\n", "\r")):
        raw = raw[:-1]
    if "\n" in raw or "\r" in raw:
        raise MatchListError(line_no, "a line must not contain a line break", raw)
    return raw


def _parse_line(line_no: int, raw: str, *, probe: bool = True) -> MatchLine | None:
    line = raw.strip()
    if not line or line.startswith("#"):
        return None

    def fail(reason: str) -> MatchListError:
        return MatchListError(line_no, reason, raw)

    parts = line.split(None, 1)
    if len(parts) < 2:
        if _looks_numeric(parts[0]):
            _parse_weight(parts[0], fail)  # a bad weight is the more useful message
        raise fail(f"{_EXPECTED}; got {line!r}")
    weight_token, rest = parts
    if not _looks_numeric(weight_token):
        raise fail(f"{_EXPECTED}; got {line!r}")
    weight, cap = _parse_weight(weight_token, fail)

    head, _, tail = _split_first(rest)
    keyword = head.lower()
    # the fields every kind of line has
    common = functools.partial(MatchLine, line_no=line_no, source=line, weight=weight, max=cap)

    if keyword in _TEXT_KEYWORDS:
        kind = _TEXT_KEYWORDS[keyword]
        if not tail:
            raise fail(
                f'{head!r} needs TEXT (to match the word itself, quote it: {weight_token} "{head}")'
            )
        first = tail.split(None, 1)[0].lower()
        if first in _KEYWORDS:
            raise fail(
                f"{head} takes a word or phrase, not {first}; to match the phrase, "
                f'quote it: {weight_token} {head} "{tail}"'
            )
        return _word_line(common, kind, _parse_text(tail, fail))

    if keyword in _REGEX_KEYWORDS:
        if not tail:
            raise fail(f"{head!r} needs a PATTERN")
        kind = _REGEX_KEYWORDS[keyword]
        return common(kind=kind, term=tail, _regex=_compile_regex(tail, fail, probe))

    if keyword.startswith("regex,"):
        raise fail(
            f"unknown regex option {head!r}: expected 'regex PATTERN' or 'regex,cardnumber PATTERN'"
        )

    if keyword == "hash":
        if not tail:
            raise fail(
                "'hash' needs MD5 and NAME, e.g. 5 hash d41d8cd98f00b204e9800998ecf8427e report.pdf"
            )
        md5, _, name = _split_first(tail)
        if not _MD5_RE.fullmatch(md5):
            raise fail(f"invalid MD5 {md5!r}: expected 32 hexadecimal digits")
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].strip()
        if not name:
            raise fail("'hash' needs a NAME after the MD5 (a label such as the file name)")
        return common(kind="hash", term=md5.lower(), md5=md5.lower(), label=name)

    return _word_line(common, "word", _parse_text(rest, fail))


def _split_first(text: str) -> tuple[str, str, str]:
    """('head', ' ', 'tail') splitting on the first run of white space."""
    parts = text.split(None, 1)
    if len(parts) == 1:
        return parts[0], "", ""
    return parts[0], " ", parts[1].strip()


def _looks_numeric(token: str) -> bool:
    """Whether a token was meant as WEIGHT[:MAX] (so a bad one gets a specific message)."""
    if token[0] in "+-":
        token = token[1:]
    return token[:1].isdigit()


def _parse_weight(token: str, fail: _Fail) -> tuple[int, int | None]:
    m = _WEIGHT_RE.fullmatch(token)
    if not m:
        raise fail(
            f"invalid WEIGHT[:MAX] {token!r}: WEIGHT is an integer 0..{MAX_WEIGHT}, "
            f"MAX an integer 1..{MAX_CAP}"
        )
    w_digits, m_digits = m.group(1), m.group(2)
    w_digits = w_digits.lstrip("0") or "0"
    if len(w_digits) > 4 or int(w_digits) > MAX_WEIGHT:
        raise fail(f"weight {w_digits} out of range 0..{MAX_WEIGHT}")
    cap: int | None = None
    if m_digits is not None:
        m_digits = m_digits.lstrip("0") or "0"
        if m_digits == "0":
            raise fail(f"MAX must be at least 1; got {token!r}")
        if len(m_digits) > 7 or int(m_digits) > MAX_CAP:
            raise fail(f"MAX {m_digits} out of range 1..{MAX_CAP}")
        cap = int(m_digits)
    return int(w_digits), cap


def _parse_text(text: str, fail: _Fail) -> str:
    """The word or phrase of TEXT, quotes removed; errors for bad quoting."""
    if text.startswith('"'):
        if len(text) == 1 or '"' not in text[1:]:
            raise fail(f"unterminated quote in {text!r}")
        if not text.endswith('"'):
            raise fail(f"unexpected text after the closing quote in {text!r}")
        text = text[1:-1].strip()
        if not text:
            raise fail('empty phrase ""')
    return text


def _word_line(common: Callable[..., MatchLine], kind: Kind, term: str) -> MatchLine:
    words = term.split()
    if term.isascii():
        return common(kind=kind, term=term, _word=_word_pattern([w.lower() for w in words]))
    literals = sorted({_fold(w) for w in words}, key=len, reverse=True)
    return common(
        kind=kind,
        term=term,
        _regex=Regex(_word_regex(words), re.IGNORECASE),
        _literals=tuple(literals),
    )


def _word_regex(words: list[str]) -> str:
    r"""``(?<!\w)w1\s+w2(?!\w)``, written with the look-behind after the first
    character (``w(?<!\w.)1...``): the same matches, but the regex engine can
    then skip ahead to candidate first characters (several times faster).
    Only literals, white-space runs and zero-width checks: whatever the text,
    a search takes time linear in it."""
    first = words[0]
    body = r"\s+".join([re.escape(first[1:])] + [re.escape(w) for w in words[1:]])
    return rf"{re.escape(first[0])}(?<!\w.){body}(?!\w)"


# The word view (see "case folding" below) is Latin-1 bytes: ASCII as in the
# lowered text, every other character reduced to its class. Python's \w and \s
# over ASCII, written out for RE2 (whose \s lacks \v and \x1c-\x1f).
_VIEW_WORD, _VIEW_SPACE, _VIEW_OTHER = 0x80, 0x20, 0x81
_NOT_WORD = rb"[^0-9A-Za-z_\x80]"
_SPACE_RUN = rb"[\t\n\x0b\x0c\r \x1c-\x1f]+"


# Every ASCII character but letters and digits as an RE2 hex escape (\x2e).
_RE2_ESCAPES = {c: f"\\x{c:02x}" for c in range(128) if not chr(c).isalnum()}


def _word_pattern(words: list[str]) -> bytes:
    """The RE2 pattern (bytes) of an ASCII word or phrase, lowered, on the word view:
    the words joined by white-space runs, with a non-word character (or an
    end of the text) on both sides."""
    body = _SPACE_RUN.join(w.translate(_RE2_ESCAPES).encode("ascii") for w in words)
    return rb"(?:\A|" + _NOT_WORD + rb")" + body + rb"(?:" + _NOT_WORD + rb"|\z)"


def _compile_regex(source: str, fail: _Fail, probe: bool = True) -> Any:
    """A ``regex`` line's PATTERN compiled by RE2, or the line's error.
    ``probe``: check that it cannot match the empty string (done when the
    line is written; a stored line is not probed again at every load)."""
    try:
        pattern = compile_user_regex(source)
    except PatternError as exc:
        prefix = "regex" if exc.unsupported else "invalid regex"
        raise fail(f"{prefix} {_quote_pattern(source)}: {exc}") from None
    for text in _EMPTY_PROBES if probe else ():
        for m in pattern.finditer(text):
            if m.start() == m.end():
                raise fail(
                    f"regex {_quote_pattern(source)} matches the empty string, so it would match "
                    "everywhere; make it match at least one character"
                )
    return pattern


def _quote_pattern(source: str) -> str:
    return repr(source if len(source) <= 80 else source[:80] + "...")


# --------------------------------------------------------------------------- case folding
#
# Words and phrases follow re.IGNORECASE exactly; two views of a component's
# text make that fast without changing a single result:
#
# * _fold (casefold, after mapping İ and ı to i) sends characters that
#   re.IGNORECASE treats as equal to equal strings, character by character, so
#   "every folded word of the term occurs in the folded text" is a necessary
#   condition for the term to match: a sound pre-filter for any term.
# * _lower (lower, after mapping İ, ı and ſ to i, i, s) keeps the text's length
#   and each character's \w / \s class, and maps a character to an ASCII one
#   exactly when re.IGNORECASE lets it match that ASCII letter (İ ı K ſ). So an
#   ASCII term matches case-insensitively in the text exactly when its
#   lower-case form matches case-sensitively in the lowered text. The *word
#   view* goes one step further: every non-ASCII character of the lowered text
#   (which can no longer be part of an ASCII term) becomes one byte saying
#   whether it is a word character, white space or neither, so that all the
#   ASCII terms are searched by RE2 in one pass over bytes.
#
# tests/engine/test_content.py checks these claims over every code point.
_FOLD_FIXES = {0x130: "i", 0x131: "i"}
_LOWER_FIXES = {0x130: "i", 0x131: "i", 0x17F: "s"}


def _fold(text: str) -> str:
    if "\u0130" in text or "\u0131" in text:
        text = text.translate(_FOLD_FIXES)
    return text.casefold()


def _lower(text: str) -> str:
    if not text.isascii() and ("\u0130" in text or "\u0131" in text or "\u017f" in text):
        text = text.translate(_LOWER_FIXES)
    return text.lower()


class _Table(dict[int, int | None]):
    """A str.translate table filled as characters are met: ``classify(cp)``
    gives a character's replacement (None removes it)."""

    def __init__(self, classify: Callable[[int], int | None]) -> None:
        super().__init__()
        self._classify = classify

    def __missing__(self, cp: int) -> int | None:
        value = self[cp] = self._classify(cp)
        return value


def _view_class(cp: int) -> int:
    r"""For the word view: ASCII stays, any other character becomes its class
    (as Python's re sees \w and \s)."""
    if cp < 0x80:
        return cp
    ch = chr(cp)
    return _VIEW_WORD if ch.isalnum() or ch == "_" else _VIEW_SPACE if ch.isspace() else _VIEW_OTHER


def _visible_char(cp: int) -> int | None:
    """None for what a reader cannot see but a word search would trip over:
    NUL, soft hyphens, zero-width spaces, word joiners, direction marks and
    overrides, tag characters and other format characters (``confi\u00addential``
    reads as "confidential"). Zero-width (non-)joiners stay: some scripts
    spell words with them."""
    if cp < 0x80:
        return None if cp == 0 else cp
    if cp in (0x200C, 0x200D):
        return cp
    import unicodedata

    hidden = (
        unicodedata.category(chr(cp)) == "Cf"
        or cp in _FILLERS
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
    )
    return None if hidden else cp


# Default-ignorable characters outside category Cf (combining grapheme joiner, Hangul fillers, ...).
_FILLERS = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164, 0xFFA0}
)
_CLASSES = _Table(_view_class)
_INVISIBLE = _Table(_visible_char)


def visible(text: str) -> str:
    """``text`` as examined: without the characters a reader does not see."""
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    return text.translate(_INVISIBLE)


def _regex_view(text: str) -> bytes:
    """What regexes are searched in: the visible text in NFKC (so that
    full-width digits are digits and a no-break or thin space is a space),
    as UTF-8."""
    if text.isascii():
        return text.encode("ascii")
    import unicodedata

    return unicodedata.normalize("NFKC", text).encode("utf-8", "surrogatepass")


def _word_view(text: str) -> bytes:
    """The bytes the ASCII words and phrases are searched in (see above)."""
    low = _lower(text)
    if low.isascii():
        return low.encode("ascii")
    return low.translate(_CLASSES).encode("latin-1")


# --------------------------------------------------------------------------- components

# Cache keys of a component's derived texts.
_FOLDED = "\x00folded"
_VISIBLE = "\x00visible"
_VIEW = "\x00view"
_UTF8 = "\x00utf8"


@dataclass(frozen=True, slots=True)
class Component:
    """One examinable part of a message (docs/decisions.md).

    ``name`` says where it came from (``subject``, ``headers``, ``body``,
    ``attachment:report.csv``); ``section`` is one of :data:`SECTIONS` and is
    what a definition's ``scan`` selects; ``text`` is ``None`` for a binary
    attachment (it then counts only for ``hash`` lines); ``md5`` (attachments
    only) is stored lower-case. ``also`` names another section the component
    belongs to as well: a named text part that a mail client may show as the
    body or as an attachment is examined by definitions of either (and
    counted once by a definition that scans both).

    A component remembers, privately, which patterns it has been searched
    for, so that the content definitions evaluated against one message scan
    each text once per distinct pattern.
    """

    name: str
    section: Section
    text: str | None = None
    md5: str | None = None
    also: str | None = None
    sections: frozenset[str] = field(init=False, compare=False, repr=False)
    _cache: ComponentCache = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in (self.section, self.also):
            if name is not None and name not in _SECTION_SET:
                raise ValueError(f"unknown section {name!r}: expected one of {', '.join(SECTIONS)}")
        object.__setattr__(self, "sections", frozenset(n for n in (self.section, self.also) if n))
        if self.md5 is not None:
            if self.section != ScanSection.ATTACHMENTS:
                raise ValueError(f"component {self.name!r}: only attachments have an MD5")
            if not isinstance(self.md5, str) or not _MD5_RE.fullmatch(self.md5):
                raise ValueError(f"component {self.name!r}: invalid MD5 {self.md5!r}")
            object.__setattr__(self, "md5", self.md5.lower())


class Scanner:
    """Finds, in one pass per text, which of many lines occur in it.

    Built from the lines of every content definition that may examine a
    section (or of one match list): the ASCII words and phrases are one RE2
    set searched in the text's word view, the regexes another searched in the
    text itself (a card-number line's matches are then checked with Luhn one
    by one, only when its pattern occurs); non-ASCII words and phrases are
    searched one by one after a pre-filter. :meth:`found` returns the keys
    (``MatchLine._key``) of the lines found, and remembers them on the
    component: each text is read once per scanner, however many definitions
    then score it. The sets are compiled on first use; a scanner pickles as
    its lines.
    """

    __slots__ = (
        "_cards",
        "_lines",
        "_others",
        "_regex_keys",
        "_regexes",
        "_width",
        "_word_keys",
        "_words",
    )

    def __init__(self, lines: Iterable[MatchLine]) -> None:
        self._lines = tuple(lines)
        self._words: PatternSet | None = None

    def _build(self) -> None:
        word_patterns: dict[bytes, str] = {}
        regexes: dict[str, list[str]] = {}
        cards: dict[str, Any] = {}
        others: dict[str, MatchLine] = {}
        for ln in self._lines:
            if ln.kind == "hash" or ln._broken is not None:
                continue
            if ln._word is not None:
                word_patterns.setdefault(ln._word, ln._key)
            elif ln.kind in ("regex", "cardnumber"):
                keys = regexes.setdefault(ln.term, [])
                if ln._key not in keys:
                    keys.append(ln._key)
                if ln.kind == "cardnumber":
                    cards[ln._key] = ln._regex
            else:
                others.setdefault(ln._key, ln)
        self._word_keys = tuple(word_patterns.values())
        self._regex_keys = tuple(tuple(v) for v in regexes.values())
        self._width = sum(regex_width(r) for r in regexes)
        # one search per regex: a set would not fall back to RE2's NFA on a
        # pattern that needs exponentially many states (patterns.PatternSet)
        self._regexes = PatternSet(list(regexes), case_sensitive=False, together=False)
        self._cards = cards
        self._others = tuple(others.items())
        self._words = PatternSet(list(word_patterns), case_sensitive=True, latin1=True)

    def found(self, text: str, cache: ComponentCache) -> frozenset[str]:
        """The keys of the lines found in ``text`` (``cache``: the component's)."""
        got: frozenset[str] | None = cache.get(self)
        if got is not None:
            return got
        if self._words is None:
            self._build()
        words, regexes = self._words, self._regexes
        assert words is not None and regexes is not None  # built above
        keys: list[str] = []
        seen = cache.get(_VISIBLE)
        if seen is None:
            seen = cache[_VISIBLE] = visible(text)
        text = seen
        if len(words):
            view = cache.get(_VIEW)
            if view is None:
                view = cache[_VIEW] = _word_view(text)
            keys.extend(self._word_keys[i] for i in words.search(view))
        if len(regexes):
            data = cache.get(_UTF8)
            if data is None:
                data = cache[_UTF8] = _regex_view(text)
            if len(data) * self._width > REGEX_BUDGET:
                # not searched: its worst case would take too long (fails closed)
                keys.append(UNSEARCHED)
            else:
                for i in regexes.search(data):
                    for key in self._regex_keys[i]:
                        card = self._cards.get(key)
                        if card is None or _has_card_number(card, data):
                            keys.append(key)
        for key, line in self._others:
            if _found_unicode(line, text, cache):
                keys.append(key)
        got = cache[self] = frozenset(keys)
        return got

    def __reduce__(self) -> tuple[type[Scanner], tuple[tuple[MatchLine, ...]]]:
        return (Scanner, (self._lines,))


def _has_card_number(pattern: Any, data: bytes) -> bool:
    """Whether a match of ``pattern`` in ``data`` (UTF-8) is a card number."""
    return any(is_card_number(m.group().decode("utf-8", "replace")) for m in pattern.finditer(data))


def _found_unicode(line: MatchLine, text: str, cache: ComponentCache) -> bool:
    """A non-ASCII word or phrase: its folded words must all occur in the
    folded text before its pattern is searched."""
    folded = cache.get(_FOLDED)
    if folded is None:
        folded = cache[_FOLDED] = _fold(text)
    for literal in line._literals:
        if literal not in folded:
            return False
    return line._regex.search(text) is not None


# --------------------------------------------------------------------------- cards


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` (decimal digits only, at least one) passes the Luhn check.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not digits or not digits.isdecimal():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """Whether the decimal digits of ``text`` (separators removed) are 13..19
    digits passing the Luhn check: the test of a ``regex,cardnumber`` match."""
    digits = "".join(ch for ch in text if ch.isdecimal())
    return _CARD_MIN <= len(digits) <= _CARD_MAX and luhn_valid(digits)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class LineHit:
    """Where one line was found and what it added (0 for ``exclude`` lines)."""

    line_no: int
    source: str
    kind: Kind
    components: tuple[str, ...]
    points: int
    capped: bool


@dataclass(frozen=True, slots=True)
class ContentResult:
    """The verdict of one content definition on one message.

    ``hits`` lists every line found at least once, in line order;
    ``missing_required`` the ``required`` lines found nowhere; ``excluded_by``
    the ``exclude`` lines found; ``reason`` one line for the explanation.
    ``unscannable`` says what could not be examined (a section of the message
    not read whole, or a line that cannot run) when the definition fired
    because of it (docs/limits-and-security.md: it fails closed); None otherwise.
    """

    score: int
    activation_score: int
    fired: bool
    missing_required: tuple[MatchLine, ...]
    excluded_by: tuple[MatchLine, ...]
    hits: tuple[LineHit, ...]
    reason: str
    unscannable: str | None = None


def evaluate(
    match_list: MatchList,
    activation_score: int,
    components: Sequence[Component],
    scan: frozenset[str] | None = None,
    *,
    scanners: Callable[[str], Scanner] | None = None,
    unscannable: Mapping[str, str] | None = None,
) -> ContentResult:
    """Score ``components`` against ``match_list`` (docs/decisions.md).

    Only components whose section is in ``scan`` are examined (``None``: all).
    Each line adds its WEIGHT once per component in which it is found; MAX
    caps that line's total over all components. ``required`` lines score like
    words (their weight counts); ``exclude`` lines score nothing. ``hash``
    lines compare attachment MD5s; other lines search component text.

    The definition fires when score ≥ ``activation_score``, every ``required``
    line was found and no ``exclude`` line was found. The reason names every
    failed condition (exclusion, then missing required lines, then score).

    It also fires, whatever it found, when a scanned section is in
    ``unscannable`` (section -> what was not read) or one of its lines cannot
    run: what could not be examined might have held anything (docs/limits-and-security.md).

    ``scanners`` gives the scanner of a section (one shared by every
    definition that examines it, so each text is read once for all of them);
    by default the match list's own.
    """
    if scan is not None:
        unknown = scan - _SECTION_SET
        if unknown:
            raise ValueError(
                f"unknown scan section(s) {', '.join(sorted(map(repr, unknown)))}: "
                f"expected {', '.join(SECTIONS)}"
            )
    closed = _fails_closed(match_list, scan, unscannable)

    lines = match_list.lines
    by_key = match_list._by_key
    found_in: dict[int, list[str]] = {}
    unsearched: list[str] = []
    md5s: list[tuple[str, str]] = []
    for c in components:
        if scan is not None and c.sections.isdisjoint(scan):
            continue
        if c.md5 is not None:
            md5s.append((c.name, c.md5))
        if c.text is None or not by_key:
            continue
        if scanners is None:
            scanner = match_list.scanner
        else:  # the scanner of a section of both the component and the scan holds all of this list's lines
            section = c.section if scan is None or c.section in scan else c.also
            assert section is not None  # the component is in a section of the scan
            scanner = scanners(section)
        for key in scanner.found(c.text, c._cache):
            if key == UNSEARCHED and key in by_key:
                unsearched.append(c.name)
            for i in by_key.get(key, ()):
                found_in.setdefault(i, []).append(c.name)
    for i in match_list._hashes:
        names = [name for name, md5 in md5s if md5 == lines[i].md5]
        if names:
            found_in[i] = names
    if unsearched:
        what = (
            f"the regexes were not run on {', '.join(unsearched)}: its length times their width exceeds "
            "the examination budget"
        )
        closed = what if closed is None else f"{closed}; {what}"
    if not found_in and closed is None:
        return match_list.nothing(activation_score)

    score = 0
    hits: list[LineHit] = []
    excluded: list[MatchLine] = []
    for i in sorted(found_in):  # each line's components in the components' order
        line = lines[i]
        found = tuple(found_in[i])
        if line.kind == "exclude":
            excluded.append(line)
        points, capped = line.points_for(len(found))
        score += points
        hits.append(LineHit(line.line_no, line.source, line.kind, found, points, capped))
    missing = (
        [ln for i, ln in enumerate(lines) if ln.kind == "required" and i not in found_in]
        if match_list._has_required
        else []
    )
    return _result(match_list, activation_score, score, hits, missing, excluded, closed)


def _fails_closed(
    match_list: MatchList, scan: frozenset[str] | None, unscannable: Mapping[str, str] | None
) -> str | None:
    """What keeps this definition from examining the message, if anything."""
    what = []
    broken = match_list._broken
    if broken is not None:
        what.append(f"match line {broken.line_no} cannot run ({broken._broken})")
    if unscannable:
        for section in SECTIONS:
            if section in unscannable and (scan is None or section in scan):
                what.append(unscannable[section])
    return "; ".join(what) if what else None


def _result(
    match_list: MatchList,
    activation_score: int,
    score: int,
    hits: list[LineHit],
    missing: list[MatchLine],
    excluded: list[MatchLine],
    closed: str | None,
) -> ContentResult:
    fired = score >= activation_score and not missing and not excluded
    reason = _reason(match_list, score, activation_score, missing, excluded)
    if closed is not None:
        reason = f"unscannable: {closed}; fired to fail closed (what was read: {reason})"
    return ContentResult(
        score=score,
        activation_score=activation_score,
        fired=fired or closed is not None,
        missing_required=tuple(missing),
        excluded_by=tuple(excluded),
        hits=tuple(hits),
        reason=reason,
        unscannable=closed,
    )


def _describe(lines: Sequence[MatchLine]) -> str:
    return ", ".join(f"line {ln.line_no} '{ln.display}'" for ln in lines)


def _reason(
    match_list: MatchList,
    score: int,
    activation_score: int,
    missing: Sequence[MatchLine],
    excluded: Sequence[MatchLine],
) -> str:
    failed: list[str] = []
    if excluded:
        failed.append(f"excluded by {_describe(excluded)}")
    if missing:
        failed.append(f"required {_describe(missing)} not found")
    if score < activation_score:
        failed.append(f"score {score} < {activation_score}")
    if failed:
        return "; ".join(failed)
    parts = [f"score {score} ≥ {activation_score}"]
    if match_list._has_required:
        parts.append("required present")
    if match_list._has_exclude:
        parts.append("no exclusion")
    return ", ".join(parts)
