"""Content Examination: the match-list grammar (parse once) and scoring (SPEC §6).

Pure: standard library only. A content definition's ``lines`` are parsed once
into a :class:`MatchList` (every pattern compiled, every error reported with
its line number) and then evaluated against many messages with
:func:`evaluate`::

    >>> ml = parse_match_list(['2 confidential', '0 exclude draft'])
    >>> evaluate(ml, 2, [Component("subject", "subject", "Confidential: Q3")]).reason
    'score 2 ≥ 2, no exclusion'

Grammar, one entry per line (blank lines and lines whose first non-blank
character is ``#`` are ignored; there are no trailing comments)::

    WEIGHT[:MAX] TEXT                       word or phrase
    WEIGHT[:MAX] required TEXT              must be present for the definition to fire
    WEIGHT[:MAX] exclude TEXT               if present the definition does not fire
    WEIGHT[:MAX] regex PATTERN              Python regular expression, case-insensitive
    WEIGHT[:MAX] regex,cardnumber PATTERN   a match counts only if it is a card number
    WEIGHT[:MAX] hash MD5 NAME              an attachment whose MD5 equals MD5

Decisions where SPEC §6 is silent:

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
* A regex is compiled with ``re.IGNORECASE`` only (``^``/``$`` anchor the
  whole component unless the pattern says ``(?m)``). A regex that can match an
  empty string (``a*``, ``^``, ``\\b``) is rejected: it would match everywhere.
* ``regex,cardnumber``: each match's decimal digits (everything else removed)
  must number 13..19 and pass :func:`luhn_valid`; the first such match counts.
* Words and phrases match case-insensitively with Python's ``re.IGNORECASE``
  rules, bounded by ``(?<!\\w)`` and ``(?!\\w)`` (so ``C++`` and ``#secret``
  work); white space inside a phrase matches any run of white space.
* Scoring: ``required`` lines' weights count toward the score like any word;
  ``exclude`` lines contribute nothing. A ``hash`` line looks only at
  components' MD5s (attachments), text lines only at components' text.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SECTIONS",
    "KINDS",
    "MAX_WEIGHT",
    "MAX_CAP",
    "MatchListError",
    "MatchLine",
    "MatchList",
    "parse_match_list",
    "validate_match_list",
    "Component",
    "LineHit",
    "ContentResult",
    "evaluate",
    "luhn_valid",
    "is_card_number",
]

Kind = Literal["word", "required", "exclude", "regex", "cardnumber", "hash"]
Section = Literal["subject", "headers", "body", "attachments"]

#: The parts of a message a content definition can scan, in message order.
SECTIONS: tuple[str, ...] = ("subject", "headers", "body", "attachments")
#: Every kind of match line.
KINDS: tuple[str, ...] = ("word", "required", "exclude", "regex", "cardnumber", "hash")
MAX_WEIGHT = 1000
MAX_CAP = 1_000_000

_SECTION_SET = frozenset(SECTIONS)
_TEXT_KEYWORDS = {"required": "required", "exclude": "exclude"}
_REGEX_KEYWORDS = {"regex": "regex", "regex,cardnumber": "cardnumber"}
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
_WORD_RUN = re.compile(r"\w+")


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

    def __reduce__(self):  # keep the attributes through pickling
        return (type(self), (self.line_no, self.reason, self.line))


class Regex:
    """A compiled regular expression, compiled when first searched with.

    A snapshot holds hundreds of word and phrase lines and one message is
    searched for few of them (most are ruled out by their words), so the
    lines' expressions, valid by construction, are compiled on demand: a
    one-message run does not pay for compiling them all. Pickles as its
    source.
    """

    __slots__ = ("source", "flags", "_compiled")

    def __init__(self, source: str, flags: int = 0, compiled: re.Pattern[str] | None = None) -> None:
        self.source = source
        self.flags = flags
        self._compiled = compiled

    @classmethod
    def of(cls, compiled: re.Pattern[str]) -> Regex:
        return cls(compiled.pattern, compiled.flags, compiled)

    @property
    def compiled(self) -> re.Pattern[str]:
        c = self._compiled
        if c is None:
            with warnings.catch_warnings():  # as when first compiled (a worker recompiles)
                warnings.simplefilter("ignore")
                c = self._compiled = re.compile(self.source, self.flags)
        return c

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)

    def __reduce__(self):
        return (type(self), (self.source, self.flags))


@dataclass(frozen=True, slots=True)
class MatchLine:
    """One parsed, compiled entry of a match list.

    ``term`` is what the line looks for: the word/phrase as written (quotes
    removed), the regex PATTERN, or the MD5 for ``hash`` lines. ``md5`` and
    ``label`` (the NAME) are set only for ``hash`` lines; ``pattern`` is the
    compiled expression (``None`` for ``hash`` lines).
    """

    line_no: int
    source: str
    weight: int
    max: int | None
    kind: Kind
    term: str
    md5: str | None = None
    label: str | None = None
    _regex: Regex | None = field(default=None, compare=False, repr=False)
    # Cheap, sound pre-filters (see "case folding" below). _literals: strings,
    # case-folded, that occur in a component's folded text whenever the line
    # matches there (non-ASCII terms; a regex's longest literal run). For an
    # ASCII word or phrase, _lowered is a case-sensitive twin of ``pattern``
    # searched in the component's lowered text instead, and _tokens the term's
    # lower-case \w runs, each of which is then a whole word of that text.
    _literals: tuple[str, ...] = field(default=(), compare=False, repr=False)
    _lowered: Regex | None = field(default=None, compare=False, repr=False)
    _tokens: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # Key under which a component remembers this line's search result: the
    # result depends only on the pattern and on whether it is a card number.
    _key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self._regex is None:
            key = f"h\x00{self.md5}"
        else:
            kind = "c" if self.kind == "cardnumber" else "p"
            key = f"{kind}{self._regex.flags}\x00{self._regex.source}"
        object.__setattr__(self, "_key", key)

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled expression (None for ``hash`` lines)."""
        return self._regex.compiled if self._regex is not None else None

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
    # For evaluate(): the lines with words (ASCII words and phrases) with the
    # set of their words, which a component must all have for the line to be
    # found there; the other lines but hashes (regex, non-ASCII terms), always
    # searched; the hash lines. And the result of finding nothing, by
    # activation score (the same for every message that has none of it).
    _worded: tuple[tuple[int, frozenset[str]], ...] = field(init=False, compare=False, repr=False)
    _always: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _hashes: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _nothing: dict = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        kinds = {ln.kind for ln in self.lines}
        object.__setattr__(self, "_has_required", "required" in kinds)
        object.__setattr__(self, "_has_exclude", "exclude" in kinds)
        worded, always, hashes = [], [], []
        for i, ln in enumerate(self.lines):
            if ln.kind == "hash":
                hashes.append(i)
            elif ln._tokens:
                worded.append((i, frozenset(ln._tokens)))
            else:
                always.append(i)
        object.__setattr__(self, "_worded", tuple(worded))
        object.__setattr__(self, "_always", tuple(always))
        object.__setattr__(self, "_hashes", tuple(hashes))
        object.__setattr__(self, "_nothing", {})

    @property
    def required(self) -> tuple[MatchLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == "required")

    @property
    def excludes(self) -> tuple[MatchLine, ...]:
        return tuple(ln for ln in self.lines if ln.kind == "exclude")

    def __iter__(self) -> Iterator[MatchLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


# --------------------------------------------------------------------------- parsing


def parse_match_list(lines: Iterable[str] | str) -> MatchList:
    """Parse and compile a match list; raise :class:`MatchListError` on the first bad line.

    ``lines`` is an iterable of lines (a trailing ``\\n``/``\\r\\n`` on each is
    ignored); a single string is split into lines.

    >>> parse_match_list(['# legal', '3:6 "attorney client"']).lines[0].max
    6
    """
    entries: list[MatchLine] = []
    source: list[str] = []
    for line_no, raw in enumerate(_iter_lines(lines), start=1):
        text = _line_text(line_no, raw)
        source.append(text)
        entry = _parse_line(line_no, text)
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


def _parse_line(line_no: int, raw: str) -> MatchLine | None:
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
    common = dict(line_no=line_no, source=line, weight=weight, max=cap)

    if keyword in _TEXT_KEYWORDS:
        kind = _TEXT_KEYWORDS[keyword]
        if not tail:
            raise fail(
                f"{head!r} needs TEXT (to match the word itself, quote it: {weight_token} \"{head}\")"
            )
        first = tail.split(None, 1)[0].lower()
        if first in _KEYWORDS:
            raise fail(
                f"{head} takes a word or phrase, not {first}; to match the phrase, "
                f"quote it: {weight_token} {head} \"{tail}\""
            )
        return _word_line(common, kind, _parse_text(tail, fail))

    if keyword in _REGEX_KEYWORDS:
        if not tail:
            raise fail(f"{head!r} needs a PATTERN")
        kind = _REGEX_KEYWORDS[keyword]
        pattern = _compile_regex(tail, fail)
        literal = _required_literal(pattern)
        return MatchLine(**common, kind=kind, term=tail, _regex=Regex.of(pattern),
                         _literals=(literal,) if literal else ())
    if keyword.startswith("regex,"):
        raise fail(
            f"unknown regex option {head!r}: expected 'regex PATTERN' or "
            "'regex,cardnumber PATTERN'"
        )

    if keyword == "hash":
        if not tail:
            raise fail("'hash' needs MD5 and NAME, e.g. 5 hash d41d8cd98f00b204e9800998ecf8427e report.pdf")
        md5, _, name = _split_first(tail)
        if not _MD5_RE.fullmatch(md5):
            raise fail(f"invalid MD5 {md5!r}: expected 32 hexadecimal digits")
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].strip()
        if not name:
            raise fail("'hash' needs a NAME after the MD5 (a label such as the file name)")
        return MatchLine(**common, kind="hash", term=md5.lower(), md5=md5.lower(), label=name)

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


def _parse_weight(token: str, fail) -> tuple[int, int | None]:
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


def _parse_text(text: str, fail) -> str:
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


def _word_line(common: dict, kind: str, term: str) -> MatchLine:
    words = term.split()
    pattern = Regex(_word_regex(words), re.IGNORECASE)
    if term.isascii():
        low = [w.lower() for w in words]
        tokens = sorted(set(_WORD_RUN.findall(" ".join(low))), key=len, reverse=True)
        return MatchLine(**common, kind=kind, term=term, _regex=pattern,
                         _lowered=Regex(_word_regex(low)), _tokens=tuple(tokens))
    literals = sorted({_fold(w) for w in words}, key=len, reverse=True)
    return MatchLine(**common, kind=kind, term=term, _regex=pattern,
                     _literals=tuple(literals))


def _word_regex(words: list[str]) -> str:
    r"""``(?<!\w)w1\s+w2(?!\w)``, written with the look-behind after the first
    character (``w(?<!\w.)1...``): the same matches, but the regex engine can
    then skip ahead to candidate first characters (several times faster)."""
    first = words[0]
    body = r"\s+".join([re.escape(first[1:])] + [re.escape(w) for w in words[1:]])
    return rf"{re.escape(first[0])}(?<!\w.){body}(?!\w)"


def _compile_regex(source: str, fail) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning: possible nested set
            pattern = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise fail(f"invalid regex {source!r}: {exc}") from None
    except (OverflowError, RecursionError, ValueError, TypeError) as exc:
        raise fail(f"invalid regex {source!r}: {exc}") from None
    for probe in _EMPTY_PROBES:
        for m in pattern.finditer(probe):
            if m.start() == m.end():
                raise fail(
                    f"regex {source!r} matches the empty string, so it would match "
                    "everywhere; make it match at least one character"
                )
    return pattern


def _required_literal(pattern: re.Pattern[str]) -> str | None:
    """The longest run of plain characters at the top level of ``pattern``
    (``\\bproj-\\d+`` -> ``proj-``), case-folded: every match contains it, so a
    text without it need not be searched. ``None`` when there is no run of at
    least two characters (or the parser is not the one this was written for).
    """
    try:
        from re import _constants, _parser  # CPython's own parser (3.11+)

        tree = _parser.parse(pattern.pattern, pattern.flags)
        literal_op = _constants.LITERAL
        best = run = ""
        for op, arg in tree:  # top-level items only: each is consumed by every match
            if op is literal_op:
                run += chr(arg)
            else:
                best, run = max(best, run, key=len), ""
        best = max(best, run, key=len)
    except Exception:  # an internal API: no pre-filter rather than a wrong one
        return None
    return _fold(best) if len(best) >= 2 else None


# --------------------------------------------------------------------------- case folding
#
# Words and phrases follow re.IGNORECASE exactly; two cheaper views of a
# component's text make that fast without changing a single result:
#
# * _fold (casefold, after mapping İ and ı to i) sends characters that
#   re.IGNORECASE treats as equal to equal strings, character by character, so
#   "every folded word of the term occurs in the folded text" is a necessary
#   condition for the term to match: a sound pre-filter for any term.
# * _lower (lower, after mapping İ, ı and ſ to i, i, s) keeps the text's length
#   and each character's \w / \s class, and maps a character to an ASCII one
#   exactly when re.IGNORECASE lets it match that ASCII letter (İ ı K ſ). So an
#   ASCII term matches case-insensitively in the text exactly when its
#   lower-case form matches case-sensitively in the lowered text, which is a
#   much faster search. The lowered term's \w runs are then whole \w runs
#   ("words") of the lowered text, found by set look-up before searching.
#
# tests/engine/test_content.py checks both claims over every code point.
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


# --------------------------------------------------------------------------- components

# Cache keys of a component's derived texts (line keys start with a letter).
_FOLDED = "\x00folded"
_LOWERED = "\x00lowered"
_DIGITS = "\x00digits"
_WORDS = "\x00words"


@dataclass(frozen=True, slots=True)
class Component:
    """One examinable part of a message (SPEC §6).

    ``name`` says where it came from (``subject``, ``headers``, ``body``,
    ``attachment:report.csv``); ``section`` is one of :data:`SECTIONS` and is
    what a definition's ``scan`` selects; ``text`` is ``None`` for a binary
    attachment (it then counts only for ``hash`` lines); ``md5`` (attachments
    only) is stored lower-case.

    A component remembers, privately, which patterns it has been searched
    for, so that the content definitions evaluated against one message scan
    each text once per distinct pattern.
    """

    name: str
    section: Section
    text: str | None = None
    md5: str | None = None
    _cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.section not in _SECTION_SET:
            raise ValueError(f"unknown section {self.section!r}: expected one of {', '.join(SECTIONS)}")
        if self.md5 is not None:
            if self.section != "attachments":
                raise ValueError(f"component {self.name!r}: only attachments have an MD5")
            if not isinstance(self.md5, str) or not _MD5_RE.fullmatch(self.md5):
                raise ValueError(f"component {self.name!r}: invalid MD5 {self.md5!r}")
            object.__setattr__(self, "md5", self.md5.lower())


def _lower_text(text: str, cache: dict) -> str:
    lowered = cache.get(_LOWERED)
    if lowered is None:
        lowered = cache[_LOWERED] = _lower(text)
    return lowered


# ASCII bytes that are not \w (all but letters, digits and "_") -> space.
_ASCII_NON_WORD = bytes(c if c < 128 and (chr(c).isalnum() or c == 0x5F) else 0x20 for c in range(256))


def _words(text: str, cache: dict) -> frozenset[str]:
    """The words (runs of word characters) of ``text``, lowered (``cache``: the component's)."""
    words = cache.get(_WORDS)
    if words is None:
        lowered = _lower_text(text, cache)
        if lowered.isascii():  # the same runs, split in C (twice as fast)
            found = lowered.encode("ascii").translate(_ASCII_NON_WORD).decode("ascii").split()
        else:
            found = _WORD_RUN.findall(lowered)
        words = cache[_WORDS] = frozenset(found)
    return words


def _search(line: MatchLine, text: str, cache: dict) -> bool:
    """Whether ``line`` is found in ``text`` (``cache``: the component's)."""
    if line._lowered is not None:  # ASCII word or phrase
        if line._tokens and not _words(text, cache).issuperset(line._tokens):
            return False
        return line._lowered.search(_lower_text(text, cache)) is not None
    pattern = line._regex
    assert pattern is not None
    if line._literals:  # non-ASCII word or phrase, or a regex with a literal run
        folded = cache.get(_FOLDED)
        if folded is None:
            folded = cache[_FOLDED] = _fold(text)
        for literal in line._literals:
            if literal not in folded:
                return False
    if line.kind == "cardnumber":
        if _decimal_digits(text, cache) < _CARD_MIN:
            return False
        return any(is_card_number(m.group()) for m in pattern.finditer(text))
    return pattern.search(text) is not None


def _decimal_digits(text: str, cache: dict) -> int:
    """How many decimal digits ``text`` has (ASCII digits fast; others counted)."""
    count = cache.get(_DIGITS)
    if count is None:
        if text.isascii():
            count = sum(text.count(d) for d in "0123456789")
        else:
            count = sum(1 for ch in text if ch.isdecimal())
        cache[_DIGITS] = count
    return count


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
    """

    score: int
    activation_score: int
    fired: bool
    missing_required: tuple[MatchLine, ...]
    excluded_by: tuple[MatchLine, ...]
    hits: tuple[LineHit, ...]
    reason: str


def evaluate(
    match_list: MatchList,
    activation_score: int,
    components: Sequence[Component],
    scan: frozenset[str] | None = None,
) -> ContentResult:
    """Score ``components`` against ``match_list`` (SPEC §6).

    Only components whose section is in ``scan`` are examined (``None``: all).
    Each line adds its WEIGHT once per component in which it is found; MAX
    caps that line's total over all components. ``required`` lines score like
    words (their weight counts); ``exclude`` lines score nothing. ``hash``
    lines compare attachment MD5s; other lines search component text.

    The definition fires when score ≥ ``activation_score``, every ``required``
    line was found and no ``exclude`` line was found. The reason names every
    failed condition (exclusion, then missing required lines, then score).
    """
    if scan is not None:
        unknown = scan - _SECTION_SET
        if unknown:
            raise ValueError(
                f"unknown scan section(s) {', '.join(sorted(map(repr, unknown)))}: "
                f"expected {', '.join(SECTIONS)}"
            )

    texts: list[tuple[str, str, dict]] = []
    md5s: list[tuple[str, str]] = []
    for c in components:
        if scan is None or c.section in scan:
            if c.text is not None:
                texts.append((c.name, c.text, c._cache))
            if c.md5 is not None:
                md5s.append((c.name, c.md5))
    # Where each line is found, text by text (so each line's components come
    # in the components' order). A line with words is searched only in a
    # text that has all its words (most lines of most definitions, on most
    # messages, are not).
    lines = match_list.lines
    worded, always = match_list._worded, match_list._always
    found_in: dict[int, list[str]] = {}
    for name, text, cache in texts:
        if worded:
            words = _words(text, cache)
            searched = [i for i, need in worded if need <= words]
        else:
            searched = []
        if always:
            searched.extend(always)
        for i in searched:
            line = lines[i]
            key = line._key
            # Each component remembers its result per distinct pattern, so
            # the definitions evaluated against one message share the work.
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = _search(line, text, cache)
            if hit:
                found_in.setdefault(i, []).append(name)
    for i in match_list._hashes:
        names = [name for name, md5 in md5s if md5 == lines[i].md5]
        if names:
            found_in[i] = names
    if not found_in:
        nothing = match_list._nothing.get(activation_score)
        if nothing is None:
            nothing = match_list._nothing[activation_score] = _result(
                match_list, activation_score, 0, [], list(match_list.required), [])
        return nothing

    score = 0
    hits: list[LineHit] = []
    excluded: list[MatchLine] = []
    for i in sorted(found_in):
        line = lines[i]
        found = tuple(found_in[i])
        if line.kind == "exclude":
            excluded.append(line)
        points, capped = line.points_for(len(found))
        score += points
        hits.append(LineHit(line.line_no, line.source, line.kind, found, points, capped))
    missing = [ln for i, ln in enumerate(lines) if ln.kind == "required" and i not in found_in] \
        if match_list._has_required else []
    return _result(match_list, activation_score, score, hits, missing, excluded)


def _result(match_list: MatchList, activation_score: int, score: int, hits: list[LineHit],
            missing: list[MatchLine], excluded: list[MatchLine]) -> ContentResult:
    fired = score >= activation_score and not missing and not excluded
    return ContentResult(
        score=score,
        activation_score=activation_score,
        fired=fired,
        missing_required=tuple(missing),
        excluded_by=tuple(excluded),
        hits=tuple(hits),
        reason=_reason(match_list, score, activation_score, missing, excluded),
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
