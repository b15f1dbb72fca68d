"""The regex dialect of Content Examination: RE2 (SPEC §6.1)."""

from __future__ import annotations

import pytest

from secmsg_cli.engine.patterns import (
    MAX_PROGRAM_SIZE,
    UNSUPPORTED,
    PatternError,
    PatternSet,
    compile_user_regex,
    dialect_warnings,
)

REFUSED = [
    # id, pattern, what the one-line error names
    ("backreference", r"(\w)\1", r"the backreference \1"),
    ("named-backreference", r"(?P<x>a)(?P=x)", "a named backreference (?P=name)"),
    ("lookahead", r"a(?=b)", "a lookahead (?=...)"),
    ("negative-lookahead", r"a(?!b)", "a negative lookahead (?!...)"),
    ("lookbehind", r"(?<=a)b", "a lookbehind (?<=...)"),
    ("negative-lookbehind", r"(?<!a)b", "a negative lookbehind (?<!...)"),
    ("atomic", r"(?>a|ab)c", "an atomic group (?>...)"),
    ("possessive-star", r"a*+b", "the possessive quantifier *+"),
    ("possessive-count", r"a{2}+b", "the possessive quantifier {2}+"),
    ("conditional", r"(a)?(?(1)b|c)", "a conditional"),
    ("verbose", r"(?x) a b", "the verbose flag (?x)"),
    ("ascii-flag", r"(?a)\w+", "the ASCII flag (?a)"),
    ("capital-z", r"end\Z", r"write \z for the end of the text"),
    ("too-large", r"(?:\pL{20}){10}", "too large to match in bounded time"),
]


@pytest.mark.parametrize(
    ("pattern", "named"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_what_rE2_cannot_run_is_refused_with_the_construct_named(pattern, named):
    with pytest.raises(PatternError) as info:
        compile_user_regex(pattern)
    assert named in str(info.value)
    assert UNSUPPORTED in str(info.value) and info.value.unsupported
    assert "\n" not in str(info.value)


INVALID = [
    ("unclosed-group", "a(", "missing )"),
    ("unclosed-class", "[a", "missing ]"),
    ("stray-paren", "a)", "unmatched )"),
    ("nothing-to-repeat", "*a", "nothing to repeat before *"),
    ("huge-count", "a{99999999999}", "invalid repetition {99999999999}"),
    ("count-over-1000", "a{1001}", "invalid repetition {1001}"),
    ("nul", "a\x00b", "NUL"),
]


@pytest.mark.parametrize(
    ("pattern", "named"), [r[1:] for r in INVALID], ids=[r[0] for r in INVALID]
)
def test_invalid_patterns_are_errors_not_refusals(pattern, named):
    with pytest.raises(PatternError) as info:
        compile_user_regex(pattern)
    assert named in str(info.value) and not info.value.unsupported


def test_the_issues_catastrophic_patterns_compile_and_run_in_linear_time():
    # (Python's re takes seconds on 25 characters of the first; RE2 does not
    # backtrack. Time is measured by bench/run.py, not here.)
    for pattern in (
        r"(a+)+$",
        r"\b(\d+[ -]?)+\d{4}\b",
        r"[\w.+-]+@[\w-]+\.[\w.-]+",
        r"\w+\s+confidential",
    ):
        rx = compile_user_regex(pattern)
        assert rx.programsize <= MAX_PROGRAM_SIZE
        assert rx.search("a" * 5000 + "!") is None or pattern != r"(a+)+$"


def test_matching_is_case_insensitive_and_unicode():
    assert compile_user_regex("straße").search("STRAẞE") is not None
    assert compile_user_regex(r"\bproj-\d+").search("see PROJ-12") is not None


WARNINGS = [
    ("digit-is-documented-not-warned", r"\d{4}", []),
    ("card-number-boundaries", r"\b(?:\d[ -]?){13,19}\b", []),
    ("word-boundaries-around-letters", r"\bIBAN\b", ["\\b is an ASCII word boundary"]),
    ("word", r"\w+@", ["\\w matches ASCII letters"]),
    ("space", r"a\sb", ["\\s matches ASCII white space only"]),
    ("boundary", r"\bfoo", ["\\b is an ASCII word boundary"]),
    ("dollar", r"foo$", ["$ matches only at the very end"]),
    ("dollar-multiline", r"(?m)foo$", []),
    ("dollar-in-class", r"[$]5", []),
    ("escaped-dollar", r"\$5", []),
    ("empty-min-count", r"x{,3}", ["{,3} is literal text in RE2"]),
    ("plain", r"confidential|secret", []),
    ("class-escapes", r"[\w-]", ["\\w matches ASCII letters"]),
    ("unicode-class", r"\pL+", []),
    ("hex-escape", r"\x{41}d", []),
]


@pytest.mark.parametrize(
    ("pattern", "expected"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS]
)
def test_dialect_warnings_name_what_would_change_meaning(pattern, expected):
    found = dialect_warnings(pattern)
    assert len(found) == len(expected), found
    for fragment, warning in zip(expected, found, strict=True):
        assert warning.startswith(fragment), warning


def test_a_pattern_set_reports_every_pattern_found_in_one_pass():
    s = PatternSet(["secret", r"proj-\d+", "zz"], case_sensitive=False)
    assert s.search(b"A SECRET and proj-7") == [0, 1]
    assert s.search(b"nothing") == []
    assert PatternSet([], case_sensitive=False).search(b"x") == []


def test_a_pattern_set_survives_pickling():
    import pickle

    s = PatternSet([b"ab", b"c\x80"], case_sensitive=True, latin1=True)
    again = pickle.loads(pickle.dumps(s))
    assert again.search(b"xx c\x80 ab") == [0, 1]
