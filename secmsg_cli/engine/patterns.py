"""The regular-expression dialect of Content Examination: RE2, matched in time
linear in the text whatever the pattern (docs/limits-and-security.md).

The engine's one dependency beyond the standard library is ``google-re2``
(the ``re2`` module): a sender writes the text, an administrator writes the
pattern, and no combination of the two may stall a decision, which Python's
backtracking ``re`` cannot promise (``(a+)+$`` takes seconds on 25 characters).

This module is where the dialect lives:

* :func:`compile_user_regex` compiles a ``regex`` line's PATTERN the way the
  engine runs it (case-insensitive, UTF-8), or raises :class:`PatternError`
  naming the construct RE2 refuses (backreferences, look-around, atomic groups,
  possessive quantifiers, ...) in words an administrator can act on;
* :func:`dialect_warnings` names what a pattern written for Python's ``re``
  would now mean differently (``\\d`` is ASCII, ``$`` is the very end, ...);
* :class:`PatternSet` finds which of many patterns occur in a text in one
  pass (an ``RE2::Set``), with a guard that never lets a failed pass read as
  "nothing found".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import re2

__all__ = [
    "MAX_PROGRAM_SIZE",
    "MAX_WIDTH",
    "REGEX_BUDGET",
    "UNSUPPORTED",
    "PatternError",
    "PatternSet",
    "compile_user_regex",
    "dialect_warnings",
    "regex_width",
    "user_options",
]

#: The phrase every refusal of an unsupported construct contains (lint files
#: those problems under a code of their own).
UNSUPPORTED = "is not supported by the linear-time regex engine (RE2)"
#: A compiled pattern's size, in RE2 instructions (UTF-8), above which it is refused.
MAX_PROGRAM_SIZE = 10_000
#: A pattern's *width*: its size compiled for single-byte text, about the most
#: automaton states a search can have alive at once. On crafted text a search
#: costs up to ~10 ns per character per unit of width (RE2 stays linear, but
#: ``a[ab]{1000}c`` is 1006 wide: ~8 s per MB), so wider patterns are refused...
MAX_WIDTH = 2500
#: ... and a text whose length times the total width of the regexes to search
#: in it exceeds this is not searched with them: it is unscannable (~20 s at
#: worst; 10 MB of text under regexes 200 wide in all).
REGEX_BUDGET = 2_000_000_000
_TOO_LARGE = (
    f"the pattern is too large to match in bounded time ({{size}} RE2 instructions; at most "
    f"{MAX_PROGRAM_SIZE}): use fewer or smaller counted repetitions; it {UNSUPPORTED}"
)
# A Set's memory budget (RE2's default is 8 MiB): room for the DFA states of
# hundreds of lines, so a pass rarely has to rebuild them.
_SET_MEMORY = 64 << 20


class PatternError(ValueError):
    """A pattern the engine cannot run; ``str()`` says why in one line.
    ``unsupported`` is true when the pattern is valid elsewhere (Python's
    ``re``, PCRE) but uses what linear-time matching cannot do, or is too large."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def user_options() -> re2.Options:
    """The options every ``regex`` line is compiled with: case-insensitive,
    UTF-8, quiet (RE2 would log errors to stderr)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


# What RE2 refuses, by the start of RE2's own error text, in an administrator's words.
_REFUSED_OPERATORS = (
    ("(?=", "a lookahead (?=...)"),
    ("(?!", "a negative lookahead (?!...)"),
    ("(?<=", "a lookbehind (?<=...)"),
    ("(?<!", "a negative lookbehind (?<!...)"),
    ("(?>", "an atomic group (?>...)"),
    ("(?(", "a conditional (?(...)...)"),
    ("(?P=", "a named backreference (?P=name)"),
    ("(?P>", "a recursive call (?P>name)"),
    ("(?#", "a comment group (?#...)"),
    ("(?x", "the verbose flag (?x)"),
    ("(?a", "the ASCII flag (?a) (RE2's \\d \\w \\s \\b are ASCII already)"),
    ("(?u", "the flag (?u) (write the pattern without it)"),
    ("(?L", "the locale flag (?L)"),
)
_ESCAPE_HINTS = {
    "Z": "\\Z (write \\z for the end of the text)",
    "u": "the escape \\u (write \\x{HHHH})",
    "U": "the escape \\U (write \\x{HHHHHH})",
    "N": "the escape \\N{...} (write the character, or \\x{HHHH})",
    "G": "the escape \\G",
    "K": "the escape \\K",
    "R": "the escape \\R (write (?:\\r\\n|\\n|\\r))",
    "e": "the escape \\e (write \\x1b)",
    "c": "the escape \\c",
    "h": "the escape \\h (write [ \\t])",
}


def _explain(source: str, error: str) -> str:
    """RE2's error text, as one line that names the construct."""
    if error.startswith("invalid perl operator: "):
        op = error.removeprefix("invalid perl operator: ")
        for prefix, what in _REFUSED_OPERATORS:
            if op.startswith(prefix) or (prefix.startswith(op) and source.find(prefix) >= 0):
                return f"{what} {UNSUPPORTED}"
        return f"the group {op}... {UNSUPPORTED}"
    if error.startswith("bad repetition operator: ") and error[-1:] == "+":
        op = error.removeprefix("bad repetition operator: ")
        return f"the possessive quantifier {op} {UNSUPPORTED} (drop the final +)"
    if error.startswith("invalid escape sequence: \\"):
        esc = error.removeprefix("invalid escape sequence: \\")
        if esc[:1].isdigit():
            return f"the backreference \\{esc} {UNSUPPORTED}"
        hint = _ESCAPE_HINTS.get(esc[:1])
        if hint:
            return f"{hint} {UNSUPPORTED}"
        return f"invalid escape \\{esc}"
    if error.startswith("invalid repetition size: "):
        size = error.removeprefix("invalid repetition size: ")
        return f"invalid repetition {size} (at most 1000, and {{n,m}} needs n <= m)"
    for prefix, plain in (
        ("missing ): ", "missing )"),
        ("missing ]: ", "missing ]"),
        ("unexpected ): ", "unmatched )"),
        ("no argument for repetition operator: ", "nothing to repeat before "),
    ):
        if error.startswith(prefix):
            return plain + (error.removeprefix(prefix) if plain.endswith(" ") else "")
    if error == "trailing \\":
        return "a trailing backslash"
    return error


def compile_user_regex(source: str) -> re2._Regexp:
    """Compile a ``regex`` line's PATTERN as the engine runs it, or raise
    :class:`PatternError` (one line: what is wrong, and what to write instead).

    >>> compile_user_regex(r"\\bproj-\\d{3}\\b").search("PROJ-123") is not None
    True
    >>> compile_user_regex(r"(\\w)\\1")
    Traceback (most recent call last):
    ...
    secmsg_cli.engine.patterns.PatternError: the backreference \\1 is not supported by the linear-time regex engine (RE2)
    """
    if "\x00" in source:
        raise PatternError("a pattern must not contain a NUL character (write \\x00)")
    huge = _HUGE_REPEAT.search(source)
    if huge:  # RE2 would read a count too large to parse as literal text
        raise PatternError(
            f"invalid repetition {huge.group()} (at most 1000, and {{n,m}} needs n <= m)"
        )
    try:
        compiled = re2.compile(source, user_options())
    except re2.error as exc:
        text = exc.args[0] if exc.args else ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        why = _explain(source, " ".join(str(text).split()))
        if why.startswith("pattern too large"):
            why = _TOO_LARGE.format(size=f"over {MAX_PROGRAM_SIZE}")
        raise PatternError(why, unsupported=UNSUPPORTED in why) from None
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
        raise PatternError(str(exc) or type(exc).__name__) from None
    size = compiled.programsize
    if size > MAX_PROGRAM_SIZE:
        raise PatternError(_TOO_LARGE.format(size=size), unsupported=True)
    width = regex_width(source)
    if width > MAX_WIDTH:
        raise PatternError(
            f"the pattern is too wide to match in bounded time ({width} automaton states at once; at most "
            f"{MAX_WIDTH}): use smaller counted repetitions (a proximity of .{{0,1000}} is about 2,000); "
            f"it {UNSUPPORTED}",
            unsupported=True,
        )
    return compiled


@functools.lru_cache(maxsize=1024)  # checked when a line is parsed, summed again by its scanner
def regex_width(source: str) -> int:
    """The width of a pattern (see :data:`MAX_WIDTH`): its RE2 program for
    single-byte text, where a character class is a few instructions whatever
    it holds; for a pattern with characters past U+00FF, its UTF-8 program."""
    options = user_options()
    options.encoding = re2.Options.Encoding.LATIN1
    try:
        return int(re2.compile(source.encode("latin-1"), options).programsize)
    except (UnicodeEncodeError, re2.error):
        return int(re2.compile(source, user_options()).programsize)


# --------------------------------------------------------------------------- dialect

_HUGE_REPEAT = re.compile(r"(?<!\\)\{(?:\d{5,}(?:,\d*)?|\d*,\d{5,})\}")
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]*)(?:-[a-zA-Z]*)?[:)]")


def dialect_warnings(source: str) -> list[str]:
    """What ``source`` means differently under RE2 than under Python's ``re``
    (empty when nothing): one sentence each, for lint.

    RE2's ``\\d \\w \\s \\b`` (and their negations) are ASCII-only, ``$``
    without ``(?m)`` matches only at the very end of the text (Python's also
    before a final newline), and ``x{,n}`` is the literal text ``{,n}``
    (Python's means ``{0,n}``).

    Warned about where mail shows the difference: ``\\w``, ``\\s`` (a
    no-break space is common in text from HTML), ``\\b`` in a pattern about
    letters (an accented letter next to the word), ``$`` and ``{,n}``. Not
    ``\\d`` (digits of other scripts are rare in mail; the documentation
    says so), nor ``\\b`` in a pattern of digits (card numbers).
    """
    found: dict[str, str] = {}
    multiline = any("m" in m.group(1) for m in _FLAG_GROUP.finditer(source))
    i, n = 0, len(source)
    in_class = False
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            esc = source[i + 1]
            if esc in "wW":
                found.setdefault(
                    "w",
                    "\\w matches ASCII letters, digits and _ only "
                    "(Python's re also matches accented and other scripts' letters)",
                )
            elif esc in "sS":
                found.setdefault(
                    "s",
                    "\\s matches ASCII white space only (Python's re also matches "
                    "no-break and other Unicode spaces)",
                )
            elif esc in "bB" and not in_class and _about_letters(source):
                found.setdefault(
                    "b",
                    "\\b is an ASCII word boundary (Python's re also treats accented "
                    "letters as word characters)",
                )
            if esc in "xpP" and i + 2 < n and source[i + 2] == "{":
                close = source.find("}", i + 3)
                i = close + 1 if close > 0 else n
                continue
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "[" and source.startswith("[:", i):
                close = source.find(":]", i + 2)
                if close > 0:
                    i = close + 2
                    continue
            i += 1
            continue
        if ch == "[":
            in_class = True
            i += 1
            if i < n and source[i] == "^":
                i += 1
            if i < n and source[i] == "]":  # a leading ] is a literal
                i += 1
            continue
        if ch == "$" and not multiline:
            found.setdefault(
                "$",
                "$ matches only at the very end of the text (Python's re also matches "
                "before a final newline); write \\n?$ or (?m)$ if that was meant",
            )
        elif ch == "{" and re.match(r"\{,\d+\}", source[i:]):
            found.setdefault(
                "{",
                f"{source[i : source.index('}', i) + 1]} is literal text in RE2 "
                "(Python's re reads it as {0,n}): write {0,n}",
            )
        i += 1
    return list(found.values())


def _about_letters(source: str) -> bool:
    """Whether a pattern matches letters (so a word boundary next to an
    accented letter could matter), as opposed to digits and punctuation."""
    bare = re.sub(r"\\[pPx]\{[^}]*\}|\\[^wW]", "", source)  # escapes but \w name no letters
    return bool(re.search(r"[A-Za-z]|\\[wW]", bare))


# --------------------------------------------------------------------------- sets


class PatternSet:
    """Which of many patterns occur in a text, found in one pass.

    ``patterns`` are RE2 sources (``str`` for UTF-8 text, ``bytes`` for
    Latin-1 text, as ``latin1``). :meth:`search` returns the indexes of the
    patterns found in ``data`` (bytes), in increasing order.

    An ``RE2::Set`` reports "nothing" both when nothing matched and when its
    pass failed (out of memory), and Python's binding cannot tell the two
    apart; an empty pattern, which matches every text, is therefore added
    first, and a pass that does not report it is done again pattern by
    pattern (each of which falls back to RE2's NFA on its own). A set RE2
    cannot compile at all is searched pattern by pattern from the start.

    ``together=False`` searches pattern by pattern always: for patterns an
    administrator writes, which may need exponentially many automaton states
    on crafted text (``a[ab]{100}c``). A single search then falls back to
    RE2's NFA, a set never does: the set can be several times slower, linear
    all the same. (Words and phrases never do that: they go together.)
    """

    __slots__ = ("_options", "_patterns", "_set", "_singles", "_together")

    def __init__(
        self,
        patterns: Sequence[str | bytes],
        *,
        case_sensitive: bool,
        latin1: bool = False,
        together: bool = True,
    ) -> None:
        self._patterns = tuple(patterns)
        self._together = together
        options = re2.Options()
        options.case_sensitive = case_sensitive
        options.log_errors = False
        options.never_capture = True
        if latin1:
            options.encoding = re2.Options.Encoding.LATIN1
        self._options = options
        self._set: re2.Set | None = None
        self._singles: list[re2._Regexp] | None = None
        if not self._patterns or not together:
            return
        big = re2.Options()
        for name in re2.Options.NAMES:
            setattr(big, name, getattr(options, name))
        big.max_mem = _SET_MEMORY
        pattern_set = re2.Set.SearchSet(big)
        try:
            pattern_set.Add(b"" if latin1 else "")
            for p in self._patterns:
                pattern_set.Add(p)
            pattern_set.Compile()
        except re2.error:
            return  # searched one by one
        self._set = pattern_set

    def __len__(self) -> int:
        return len(self._patterns)

    def search(self, data: bytes) -> list[int]:
        if not self._patterns:
            return []
        if self._set is not None:
            found = self._set.Match(data)
            if found and found[0] == 0:
                return sorted(i - 1 for i in found[1:])
        return self._one_by_one(data)

    def _one_by_one(self, data: bytes) -> list[int]:
        singles = self._singles
        if singles is None:
            singles = self._singles = [re2.compile(p, self._options) for p in self._patterns]
        return [i for i, rx in enumerate(singles) if rx.search(data) is not None]

    def __reduce__(
        self,
    ) -> tuple[Callable[..., PatternSet], tuple[tuple[str | bytes, ...], bool, bool, bool]]:
        # a worker rebuilds it (RE2 objects do not pickle)
        latin1 = self._options.encoding == re2.Options.Encoding.LATIN1
        return (
            _rebuild_set,
            (self._patterns, self._options.case_sensitive, latin1, self._together),
        )


def _rebuild_set(
    patterns: Sequence[str | bytes], case_sensitive: bool, latin1: bool, together: bool = True
) -> PatternSet:
    return PatternSet(patterns, case_sensitive=case_sensitive, latin1=latin1, together=together)
