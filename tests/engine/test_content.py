"""Content Examination: match-list grammar and scoring (SPEC §6)."""

from __future__ import annotations

import pickle
import re
import sys

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmsg_cli.engine import content as C
from secmsg_cli.engine.content import (
    Component,
    ContentResult,
    LineHit,
    MatchList,
    MatchListError,
    evaluate,
    is_card_number,
    luhn_valid,
    parse_match_list,
    validate_match_list,
)

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # MD5 of b""
OTHER_MD5 = "0cc175b9c0f1b6a831c399e269772661"  # MD5 of b"a"
CARD_RE = r"\b(?:\d[ -]?){13,16}\b"
EXPECTED = (
    "expected WEIGHT[:MAX] followed by a word, phrase, required/exclude TEXT, "
    "regex PATTERN or hash MD5 NAME"
)


def subject(text: str) -> Component:
    return Component("subject", "subject", text)


def headers(text: str) -> Component:
    return Component("headers", "headers", text)


def body(text: str, name: str = "body") -> Component:
    return Component(name, "body", text)


def attachment(filename: str, text: str | None = None, md5: str | None = None) -> Component:
    return Component(f"attachment:{filename}", "attachments", text, md5)


def reference_found(term: str, text: str) -> bool:
    """SPEC §6 word/phrase matching, written the obvious (slow) way."""
    words = term.split()
    regex = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    return re.search(regex, text, re.IGNORECASE) is not None


def found_in(line: str, text: str) -> bool:
    """Whether a one-line match list finds its line in a one-component message."""
    result = evaluate(parse_match_list([line]), 1, [body(text)])
    return bool(result.hits)


# --------------------------------------------------------------------------- grammar: valid lines

VALID = [
    ("word", "5 confidential", dict(kind="word", weight=5, max=None, term="confidential")),
    ("weight-zero", "0 memo", dict(kind="word", weight=0, term="memo")),
    ("weight-1000", "1000 memo", dict(kind="word", weight=1000)),
    ("leading-zeros", "007 bond", dict(kind="word", weight=7, term="bond")),
    ("quoted-word", '1 "Confidential"', dict(kind="word", term="Confidential")),
    ("quoted-phrase", '3 "top secret"', dict(kind="word", term="top secret")),
    ("quoted-phrase-trimmed", '3 "  top secret "', dict(kind="word", term="top secret")),
    ("quoted-phrase-inner-quotes", '2 "the "x" file"', dict(kind="word", term='the "x" file')),
    ("unquoted-phrase", "2 top   secret", dict(kind="word", term="top   secret")),
    ("unquoted-inner-quote", '1 O"Brien', dict(kind="word", term='O"Brien')),
    ("punctuation-term", "1 C++", dict(kind="word", term="C++")),
    ("weight-max", "2:6 secret", dict(kind="word", weight=2, max=6, term="secret")),
    ("max-below-weight", "5:3 secret", dict(weight=5, max=3)),
    ("max-one", "5:1 secret", dict(weight=5, max=1)),
    (
        "surrounding-blanks-and-tab",
        "  4\tconfidential  ",
        dict(kind="word", weight=4, term="confidential", source="4\tconfidential"),
    ),
    ("required", "1 required privileged", dict(kind="required", weight=1, term="privileged")),
    (
        "required-quoted-phrase",
        '0 required "attorney client"',
        dict(kind="required", weight=0, term="attorney client"),
    ),
    (
        "required-unquoted-phrase",
        "1 required attorney client",
        dict(kind="required", term="attorney client"),
    ),
    ("required-weight-max", "2:4 required privileged", dict(kind="required", weight=2, max=4)),
    ("required-quoted-keyword", '1 required "regex x"', dict(kind="required", term="regex x")),
    ("exclude", "0 exclude draft", dict(kind="exclude", weight=0, term="draft")),
    ("exclude-phrase", "0 exclude not for release", dict(kind="exclude", term="not for release")),
    ("regex", r"4 regex \bproj-\d{3}\b", dict(kind="regex", weight=4, term=r"\bproj-\d{3}\b")),
    ("regex-keeps-inner-blanks", "1 regex top  secret", dict(kind="regex", term="top  secret")),
    ("regex-with-inline-flag", r"1 regex (?s)top.secret", dict(kind="regex")),
    (
        "cardnumber",
        rf"5 regex,cardnumber {CARD_RE}",
        dict(kind="cardnumber", weight=5, term=CARD_RE),
    ),
    (
        "hash",
        f"10 hash {EMPTY_MD5.upper()} quarterly report.pdf",
        dict(kind="hash", weight=10, md5=EMPTY_MD5, term=EMPTY_MD5, label="quarterly report.pdf"),
    ),
    ("hash-quoted-name", f'1 hash {EMPTY_MD5} "a b.pdf"', dict(kind="hash", label="a b.pdf")),
    ("keyword-REQUIRED", "1 REQUIRED foo", dict(kind="required", term="foo")),
    ("keyword-Exclude", "1 Exclude foo", dict(kind="exclude", term="foo")),
    ("keyword-REGEX", "1 REGEX fo+", dict(kind="regex", term="fo+")),
    ("keyword-Regex,CardNumber", r"1 Regex,CardNumber \d{16}", dict(kind="cardnumber")),
    ("keyword-HASH", f"1 HASH {EMPTY_MD5} f", dict(kind="hash", label="f")),
    ("quoted-keyword-is-a-word", '1 "required"', dict(kind="word", term="required")),
    ("quoted-regex-is-a-word", '1 "regex"', dict(kind="word", term="regex")),
    ("keyword-later-in-phrase", "1 not required", dict(kind="word", term="not required")),
    ("keyword-prefix-is-a-word", "1 hashed", dict(kind="word", term="hashed")),
]


@pytest.mark.parametrize(("line", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_line(line, expected):
    parsed = parse_match_list([line])
    assert len(parsed.lines) == 1
    entry = parsed.lines[0]
    assert entry.line_no == 1
    for attr, value in expected.items():
        assert getattr(entry, attr) == value, attr
    if entry.kind in ("regex", "cardnumber"):
        assert (
            entry.pattern.search(entry.term) is not None or entry.pattern.programsize > 0
        )  # RE2, compiled
    else:
        assert entry.pattern is None
    if entry.kind != "hash":
        assert entry.md5 is None and entry.label is None


def test_blank_lines_and_comments_are_skipped_but_counted():
    lines = ["", "# heading", "   # indented comment", "\t", "5 x", "#5 y", "2 z"]
    parsed = parse_match_list(lines)
    assert [(ln.line_no, ln.term) for ln in parsed.lines] == [(5, "x"), (7, "z")]
    assert parsed.source == tuple(lines)
    assert len(parsed) == 2 and list(parsed) == list(parsed.lines)


def test_line_terminators_are_ignored_and_text_is_split():
    parsed = parse_match_list(["1 a\n", "2 b\r\n"])
    assert [ln.term for ln in parsed.lines] == ["a", "b"]
    assert parsed.source == ("1 a", "2 b")
    from_text = parse_match_list("1 a\n# c\n2 b\n")
    assert [(ln.line_no, ln.term) for ln in from_text.lines] == [(1, "a"), (3, "b")]


def test_empty_match_list():
    assert parse_match_list([]).lines == ()
    assert validate_match_list([]) == []


def test_required_and_excludes_properties():
    parsed = parse_match_list(["1 a", "1 required b", "0 exclude c", "1 required d"])
    assert [ln.term for ln in parsed.required] == ["b", "d"]
    assert [ln.term for ln in parsed.excludes] == ["c"]


def test_parsed_lists_are_values():
    a = parse_match_list(["1 a", "2 regex b+"])
    b = parse_match_list(["1 a", "2 regex b+"])
    assert a == b and hash(a.lines[0]) == hash(b.lines[0])
    assert a != parse_match_list(["1 a", "3 regex b+"])
    with pytest.raises(AttributeError):
        a.lines[0].weight = 9  # type: ignore[misc]


# --------------------------------------------------------------------------- grammar: errors

INVALID = [
    ("not-a-line", ["abc def"], 1, f"{EXPECTED}; got 'abc def'"),
    ("counts-blank-and-comment-lines", ["# c", "", "abc def"], 3, f"{EXPECTED}; got 'abc def'"),
    ("weight-only", ["5"], 1, f"{EXPECTED}; got '5'"),
    ("bare-dash", ["- item"], 1, f"{EXPECTED}; got '- item'"),
    ("weight-too-large", ["1001 x"], 1, "weight 1001 out of range 0..1000"),
    ("weight-far-too-large", ["9" * 5000 + " x"], 1, "out of range 0..1000"),
    ("weight-negative", ["-1 x"], 1, "invalid WEIGHT[:MAX] '-1'"),
    ("weight-plus-sign", ["+1 x"], 1, "invalid WEIGHT[:MAX] '+1'"),
    ("weight-decimal", ["1.5 x"], 1, "invalid WEIGHT[:MAX] '1.5'"),
    ("weight-only-bad", ["1.5"], 1, "invalid WEIGHT[:MAX] '1.5'"),
    ("max-zero", ["2:0 x"], 1, "MAX must be at least 1; got '2:0'"),
    ("max-missing", ["2: x"], 1, "invalid WEIGHT[:MAX] '2:'"),
    ("max-not-a-number", ["2:x y"], 1, "invalid WEIGHT[:MAX] '2:x'"),
    ("max-too-large", ["1:1000001 x"], 1, "MAX 1000001 out of range 1..1000000"),
    ("empty-quoted-phrase", ['3 ""'], 1, 'empty phrase ""'),
    ("blank-quoted-phrase", ['3 "   "'], 1, 'empty phrase ""'),
    ("unterminated-quote", ['3 "top secret'], 1, "unterminated quote in '\"top secret'"),
    ("lone-quote", ['3 "'], 1, "unterminated quote"),
    ("text-after-closing-quote", ['3 "top" secret'], 1, "unexpected text after the closing quote"),
    (
        "required-without-text",
        ["1 required"],
        1,
        """'required' needs TEXT (to match the word itself, quote it: 1 "required")""",
    ),
    ("exclude-without-text", ["1 EXCLUDE"], 1, "'EXCLUDE' needs TEXT"),
    ("required-empty-phrase", ['1 required ""'], 1, 'empty phrase ""'),
    ("required-unterminated-quote", ['1 required "x'], 1, "unterminated quote"),
    (
        "required-with-keyword",
        ["1 required regex x"],
        1,
        'required takes a word or phrase, not regex; to match the phrase, quote it: 1 required "regex x"',
    ),
    ("exclude-with-hash", ["1 exclude hash abc"], 1, "exclude takes a word or phrase, not hash"),
    ("regex-without-pattern", ["1 regex"], 1, "'regex' needs a PATTERN"),
    ("cardnumber-without-pattern", ["1 regex,cardnumber"], 1, "'regex,cardnumber' needs a PATTERN"),
    ("invalid-regex", ["1 regex a("], 1, "invalid regex 'a(': missing )"),
    ("invalid-cardnumber-regex", ["1 regex,cardnumber [0-9"], 1, "invalid regex '[0-9': missing ]"),
    ("regex-repeat-overflow", ["1 regex a{4294967296}"], 1, "invalid regex 'a{4294967296}'"),
    (
        "regex-repeat-over-1000",
        ["1 regex a{1001}"],
        1,
        "invalid regex 'a{1001}': invalid repetition {1001} (at most 1000",
    ),
    (
        "regex-nothing-to-repeat",
        ["1 regex *a"],
        1,
        "invalid regex '*a': nothing to repeat before *",
    ),
    # SPEC §6.1: what RE2 cannot run in linear time is refused, the construct named.
    (
        "regex-backreference",
        [r"1 regex (\w+) \1"],
        1,
        r"regex '(\\w+) \\1': the backreference \1 is not supported by the linear-time regex engine (RE2)",
    ),
    (
        "regex-named-backreference",
        ["1 regex (?P<w>a)(?P=w)"],
        1,
        "a named backreference (?P=name) is not supported",
    ),
    ("regex-lookahead", ["1 regex foo(?=bar)"], 1, "a lookahead (?=...) is not supported"),
    (
        "regex-negative-lookahead",
        ["1 regex foo(?!bar)"],
        1,
        "a negative lookahead (?!...) is not supported",
    ),
    ("regex-lookbehind", ["1 regex (?<=a)b"], 1, "a lookbehind (?<=...) is not supported"),
    (
        "regex-negative-lookbehind",
        ["1 regex (?<!a)b"],
        1,
        "a negative lookbehind (?<!...) is not supported",
    ),
    ("regex-atomic", ["1 regex (?>a+)b"], 1, "an atomic group (?>...) is not supported"),
    ("regex-possessive", ["1 regex a++b"], 1, "the possessive quantifier ++ is not supported"),
    (
        "regex-conditional",
        ["1 regex (a)?(?(1)b|c)"],
        1,
        "a conditional (?(...)...) is not supported",
    ),
    ("regex-verbose", ["1 regex (?x) a b"], 1, "the verbose flag (?x) is not supported"),
    (
        "regex-capital-z",
        [r"1 regex end\Z"],
        1,
        r"\Z (write \z for the end of the text) is not supported",
    ),
    ("regex-too-large", [r"1 regex (?:\pL{100}){10}"], 1, "too large to match in bounded time"),
    (
        "regex-matches-empty-star",
        ["1 regex a*"],
        1,
        "regex 'a*' matches the empty string, so it would match everywhere",
    ),
    ("regex-matches-empty-alternative", ["1 regex secret|"], 1, "matches the empty string"),
    ("regex-word-boundary-only", [r"1 regex \b"], 1, "matches the empty string"),
    ("regex-anchor-only", ["1 regex ^"], 1, "matches the empty string"),
    ("cardnumber-matches-empty", [r"1 regex,cardnumber \d*"], 1, "matches the empty string"),
    (
        "unknown-regex-option",
        ["1 regex,iban x"],
        1,
        "unknown regex option 'regex,iban': expected 'regex PATTERN' or 'regex,cardnumber PATTERN'",
    ),
    ("regex-comma-space", ["1 regex, cardnumber x"], 1, "unknown regex option 'regex,'"),
    ("hash-alone", ["1 hash"], 1, "'hash' needs MD5 and NAME"),
    (
        "hash-bad-md5",
        ["1 hash xyz file.pdf"],
        1,
        "invalid MD5 'xyz': expected 32 hexadecimal digits",
    ),
    ("hash-md5-too-long", [f"1 hash {EMPTY_MD5}0 f"], 1, "invalid MD5"),
    ("hash-md5-not-hex", ["1 hash " + "g" * 32 + " f"], 1, "invalid MD5"),
    ("hash-without-name", [f"1 hash {EMPTY_MD5}"], 1, "'hash' needs a NAME after the MD5"),
    ("hash-empty-quoted-name", [f'1 hash {EMPTY_MD5} ""'], 1, "'hash' needs a NAME"),
    ("not-a-string", ["1 ok", 5], 2, "expected a line of text, got int 5"),
    ("embedded-line-break", ["1 a\nb"], 1, "a line must not contain a line break"),
]


@pytest.mark.parametrize(
    ("lines", "line_no", "fragment"), [v[1:] for v in INVALID], ids=[v[0] for v in INVALID]
)
def test_malformed_line(lines, line_no, fragment):
    with pytest.raises(MatchListError) as info:
        parse_match_list(lines)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.line_no == line_no
    assert fragment in err.reason
    assert str(err) == f"line {line_no}: {err.reason}"
    # validate_match_list reports the same single error
    assert [(e.line_no, e.reason) for e in validate_match_list(lines)] == [(line_no, err.reason)]


def test_error_messages_in_full():
    with pytest.raises(MatchListError) as info:
        parse_match_list(["1 ok", "", "abc def"])
    assert str(info.value) == (
        "line 3: expected WEIGHT[:MAX] followed by a word, phrase, required/exclude TEXT, "
        "regex PATTERN or hash MD5 NAME; got 'abc def'"
    )
    with pytest.raises(MatchListError) as info:
        parse_match_list(["1 a", "1 b", "# c", "", "1 regex a("])
    assert str(info.value) == "line 5: invalid regex 'a(': missing )"
    assert info.value.line == "1 regex a("


def test_parse_stops_at_first_error_validate_reports_all():
    lines = ["abc", "1 ok", "1 regex a(", "# comment", '2 "x', "3:0 y"]
    with pytest.raises(MatchListError) as info:
        parse_match_list(lines)
    assert info.value.line_no == 1
    errors = validate_match_list(lines)
    assert [e.line_no for e in errors] == [1, 3, 5, 6]
    assert all(isinstance(e, MatchListError) for e in errors)
    assert validate_match_list(["1 ok", "# c", "2 required x"]) == []


def test_error_survives_pickling():
    err = MatchListError(4, "bad", "x y")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.line_no, copy.reason, copy.line, str(copy)) == (4, "bad", "x y", "line 4: bad")


# --------------------------------------------------------------------------- scoring table

SCORING = [
    # id, lines, activation score, components, expected score, expected fired
    (
        "word-boundary-not-inside-longer-word",
        ["1 confidential"],
        1,
        lambda: [body("our confidentiality agreement")],
        0,
        False,
    ),
    ("word-boundary-not-as-suffix", ["1 secret"], 1, lambda: [body("topsecret")], 0, False),
    ("word-between-punctuation", ["1 confidential"], 1, lambda: [body("(Confidential).")], 1, True),
    ("case-insensitive", ["1 SeCrEt"], 1, lambda: [body("SECRET stuff")], 1, True),
    ("unicode-letter-is-a-word-character", ["1 secret"], 1, lambda: [body("secretö")], 0, False),
    ("phrase-any-whitespace", ['1 "top secret"'], 1, lambda: [body("top\n\t  secret")], 1, True),
    ("phrase-non-breaking-space", ["1 top secret"], 1, lambda: [body("top\u00a0secret")], 1, True),
    (
        "phrase-needs-adjacent-words",
        ["1 top secret"],
        1,
        lambda: [body("top of the secret")],
        0,
        False,
    ),
    ("phrase-word-boundary", ['1 "top secret"'], 1, lambda: [body("top secretary")], 0, False),
    ("punctuation-term", ["1 C++"], 1, lambda: [body("we use C++ daily")], 1, True),
    ("punctuation-term-boundary", ["1 C++"], 1, lambda: [body("ObjC++ code")], 0, False),
    ("hashtag-term", ["1 #secret"], 1, lambda: [body("tagged #secret.")], 1, True),
    ("no-word-characters", ["1 $$$"], 1, lambda: [body("win $$$ now")], 1, True),
    ("once-per-component", ["2 secret"], 1, lambda: [body("secret secret secret")], 2, True),
    (
        "each-component-counts",
        ["2 secret"],
        1,
        lambda: [subject("secret"), body("Secret")],
        4,
        True,
    ),
    (
        "headers-component",
        ["2 secret"],
        1,
        lambda: [headers("X-Class: secret\nFrom: a@b.c")],
        2,
        True,
    ),
    (
        "cap-across-components",
        ["2:3 secret"],
        1,
        lambda: [subject("secret"), body("secret"), attachment("a.txt", "secret")],
        3,
        True,
    ),
    ("cap-not-reached", ["2:10 secret"], 1, lambda: [subject("secret"), body("secret")], 4, True),
    ("max-below-weight", ["5:3 x"], 1, lambda: [body("x")], 3, True),
    ("weights-add-up", ["1 alpha", "2 beta", "4 gamma"], 1, lambda: [body("alpha gamma")], 5, True),
    ("weight-zero-word", ["0 alpha"], 1, lambda: [body("alpha")], 0, False),
    ("threshold-reached-fires", ["3 secret"], 3, lambda: [body("secret")], 3, True),
    ("below-threshold", ["2 secret"], 5, lambda: [body("secret")], 2, False),
    (
        "required-weight-counts",
        ["2 required privileged", "1 secret"],
        3,
        lambda: [body("privileged secret")],
        3,
        True,
    ),
    (
        "required-missing",
        ["0 required privileged", "5 secret"],
        1,
        lambda: [body("secret")],
        5,
        False,
    ),
    (
        "required-in-another-component",
        ["0 required privileged", "5 secret"],
        5,
        lambda: [subject("privileged"), body("secret")],
        5,
        True,
    ),
    (
        "exclude-scores-nothing-and-blocks",
        ["5 exclude draft", "1 secret"],
        1,
        lambda: [body("draft secret")],
        1,
        False,
    ),
    ("exclude-absent", ["0 exclude draft", "1 secret"], 1, lambda: [body("secret")], 1, True),
    (
        "exclude-word-boundary",
        ["0 exclude draft", "1 secret"],
        1,
        lambda: [body("drafted secret")],
        1,
        True,
    ),
    ("regex", [r"3 regex \bproj-\d{3}\b"], 1, lambda: [body("see PROJ-123.")], 3, True),
    ("regex-no-match", [r"3 regex \bproj-\d{3}\b"], 1, lambda: [body("see proj-12")], 0, False),
    ("regex-case-insensitive", ["1 regex Sec+ret"], 1, lambda: [body("SECCRET")], 1, True),
    ("regex-once-per-component", ["2 regex \\d{3}"], 1, lambda: [body("123 456 789")], 2, True),
    (
        "regex-whole-component-anchor",
        ["1 regex ^secret"],
        1,
        lambda: [body("hello\nsecret")],
        0,
        False,
    ),
    ("regex-multiline-flag", ["1 regex (?m)^secret"], 1, lambda: [body("hello\nsecret")], 1, True),
    (
        "card-valid",
        [f"5 regex,cardnumber {CARD_RE}"],
        5,
        lambda: [body("card 4111 1111 1111 1111 exp 12/29")],
        5,
        True,
    ),
    (
        "card-invalid-luhn",
        [f"5 regex,cardnumber {CARD_RE}"],
        5,
        lambda: [body("card 4111 1111 1111 1112 exp 12/29")],
        0,
        False,
    ),
    (
        "card-dashes",
        [f"5 regex,cardnumber {CARD_RE}"],
        5,
        lambda: [body("4111-1111-1111-1111")],
        5,
        True,
    ),
    # Luhn-valid but 12 digits (the text has 13 more digits elsewhere) / 20 digits
    (
        "card-too-short",
        [r"5 regex,cardnumber \b\d+\b"],
        1,
        lambda: [body("411111111117 ref 1234567890123")],
        0,
        False,
    ),
    (
        "card-too-long",
        [r"5 regex,cardnumber \d+"],
        1,
        lambda: [body("41111111111111111115")],
        0,
        False,
    ),
    (
        "card-thirteen-digits",
        [r"5 regex,cardnumber \d+"],
        1,
        lambda: [body("4111111111119")],
        5,
        True,
    ),
    (
        "card-second-match-valid",
        [r"5 regex,cardnumber \d{16}"],
        1,
        lambda: [body("4111111111111112 and 4111111111111111")],
        5,
        True,
    ),
    (
        "plain-regex-ignores-luhn",
        [r"5 regex \d{16}"],
        1,
        lambda: [body("4111111111111112")],
        5,
        True,
    ),
    (
        "hash-matches-attachment",
        [f"7 hash {EMPTY_MD5.upper()} empty.txt"],
        7,
        lambda: [attachment("empty.txt", md5=EMPTY_MD5)],
        7,
        True,
    ),
    (
        "hash-attachment-md5-any-case",
        [f"7 hash {EMPTY_MD5} empty.txt"],
        7,
        lambda: [attachment("empty.txt", md5=EMPTY_MD5.upper())],
        7,
        True,
    ),
    (
        "hash-other-md5",
        [f"7 hash {EMPTY_MD5} empty.txt"],
        1,
        lambda: [attachment("a.txt", md5=OTHER_MD5)],
        0,
        False,
    ),
    (
        "hash-ignores-text",
        [f"7 hash {EMPTY_MD5} empty.txt"],
        1,
        lambda: [body(f"md5 is {EMPTY_MD5}"), attachment("x.txt", f"md5 {EMPTY_MD5}")],
        0,
        False,
    ),
    (
        "hash-per-attachment-capped",
        [f"2:3 hash {EMPTY_MD5} e"],
        1,
        lambda: [attachment("a", md5=EMPTY_MD5), attachment("b", md5=EMPTY_MD5)],
        3,
        True,
    ),
    (
        "binary-attachment-no-text-match",
        ["1 secret"],
        1,
        lambda: [attachment("x.bin", None, OTHER_MD5)],
        0,
        False,
    ),
    (
        "text-attachment-matches",
        ["1 secret"],
        1,
        lambda: [attachment("x.txt", "top secret")],
        1,
        True,
    ),
    ("no-components", ["1 secret"], 1, list, 0, False),
]


@pytest.mark.parametrize(
    ("lines", "activation", "make", "score", "fired"),
    [v[1:] for v in SCORING],
    ids=[v[0] for v in SCORING],
)
def test_scoring(lines, activation, make, score, fired):
    result = evaluate(parse_match_list(lines), activation, make())
    assert isinstance(result, ContentResult)
    assert (result.score, result.fired) == (score, fired), result.reason
    assert result.score == sum(h.points for h in result.hits)
    assert result.activation_score == activation


# --------------------------------------------------------------------------- result details


def test_hits_record_components_points_and_cap():
    ml = parse_match_list(["2:3 secret", "1 required privileged", "0 exclude draft", "1 absent"])
    result = evaluate(
        ml, 1, [subject("Secret"), body("secret, privileged"), attachment("n.txt", "a draft")]
    )
    assert result.hits == (
        LineHit(1, "2:3 secret", "word", ("subject", "body"), 3, True),
        LineHit(2, "1 required privileged", "required", ("body",), 1, False),
        LineHit(3, "0 exclude draft", "exclude", ("attachment:n.txt",), 0, False),
    )
    assert result.excluded_by == (ml.lines[2],)
    assert result.missing_required == ()
    assert (result.score, result.fired) == (4, False)


def test_missing_required_lists_the_lines():
    ml = parse_match_list(["1 required a", "1 required b", "1 required c"])
    result = evaluate(ml, 1, [body("b")])
    assert result.missing_required == (ml.lines[0], ml.lines[2])
    assert result.reason == "required line 1 'a', line 3 'c' not found"


REASONS = [
    (
        "fired-with-required-and-exclusion",
        ["1 required privileged", "5 secret", "0 exclude draft"],
        5,
        "privileged secret",
        "score 6 ≥ 5, required present, no exclusion",
    ),
    ("fired-plain", ["2 secret"], 1, "secret", "score 2 ≥ 1"),
    (
        "fired-with-exclusion-only",
        ["2 secret", "0 exclude draft"],
        1,
        "secret",
        "score 2 ≥ 1, no exclusion",
    ),
    ("below-threshold", ["2 secret"], 5, "secret", "score 2 < 5"),
    (
        "excluded",
        ["5 secret", "# c", "", "0 exclude draft"],
        1,
        "draft secret",
        "excluded by line 4 'draft'",
    ),
    (
        "excluded-twice",
        ["0 exclude draft", "0 exclude wip"],
        0,
        "wip draft",
        "excluded by line 1 'draft', line 2 'wip'",
    ),
    (
        "required-missing",
        ["5 secret", "1 required privileged"],
        1,
        "secret",
        "required line 2 'privileged' not found",
    ),
    (
        "everything-wrong",
        ["1 required privileged", "2 secret", "0 exclude draft"],
        5,
        "draft",
        "excluded by line 3 'draft'; required line 1 'privileged' not found; score 0 < 5",
    ),
]


@pytest.mark.parametrize(
    ("lines", "activation", "text", "reason"), [v[1:] for v in REASONS], ids=[v[0] for v in REASONS]
)
def test_reason(lines, activation, text, reason):
    result = evaluate(parse_match_list(lines), activation, [body(text)])
    assert result.reason == reason
    assert result.fired is ("≥" in reason)


# --------------------------------------------------------------------------- scan


SCAN = [
    ("all-by-default", None, 1 + 2 + 4 + 8),
    ("subject-only", frozenset({"subject"}), 1),
    ("headers-only", frozenset({"headers"}), 2),
    ("body-only", frozenset({"body"}), 4),
    ("attachments-only", frozenset({"attachments"}), 8),
    ("subject-and-attachments", frozenset({"subject", "attachments"}), 1 + 8),
    ("nothing", frozenset(), 0),
]


@pytest.mark.parametrize(("scan", "score"), [v[1:] for v in SCAN], ids=[v[0] for v in SCAN])
def test_scan_selects_sections(scan, score):
    ml = parse_match_list(["1 alpha", "2 beta", "4 gamma", f"8 hash {EMPTY_MD5} empty"])
    components = [
        subject("alpha"),
        headers("X-Note: beta"),
        body("gamma"),
        attachment("empty", None, EMPTY_MD5),
    ]
    assert evaluate(ml, 1, components, scan).score == score


def test_scan_restricted_to_subject_ignores_body():
    ml = parse_match_list(["5 confidential"])
    components = [subject("Quarterly numbers"), body("This is confidential.")]
    assert evaluate(ml, 5, components, frozenset({"subject"})).fired is False
    assert evaluate(ml, 5, components).fired is True


def test_unknown_scan_section_is_an_error():
    with pytest.raises(ValueError, match=r"unknown scan section.*'attachment'"):
        evaluate(parse_match_list(["1 a"]), 1, [], frozenset({"attachment"}))


# --------------------------------------------------------------------------- components


def test_component_validation():
    with pytest.raises(ValueError, match="unknown section 'attachment'"):
        Component("x", "attachment", "t")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only attachments have an MD5"):
        Component("body", "body", "t", EMPTY_MD5)
    with pytest.raises(ValueError, match="invalid MD5"):
        Component("attachment:x", "attachments", None, "xyz")
    assert Component("attachment:x", "attachments", None, EMPTY_MD5.upper()).md5 == EMPTY_MD5
    assert Component("s", "subject", "a") == Component("s", "subject", "a")


def test_component_reused_across_definitions_keeps_kinds_apart():
    """One message is evaluated against many definitions; results remembered
    for one line must never leak into a different kind of line."""
    comp = body("ref 4111111111111112")  # 16 digits, fails Luhn
    plain = parse_match_list([r"1 regex \d{16}"])
    card = parse_match_list([r"1 regex,cardnumber \d{16}"])
    assert evaluate(plain, 1, [comp]).score == 1
    assert evaluate(card, 1, [comp]).score == 0
    assert evaluate(plain, 1, [comp]).score == 1
    comp2 = body("ref 4111111111111112")
    assert evaluate(card, 1, [comp2]).score == 0
    assert evaluate(plain, 1, [comp2]).score == 1


def test_component_reused_gives_same_results_as_fresh():
    defs = [
        parse_match_list(["1 secret", "2 required top secret", r"3 regex sec\w+"]),
        parse_match_list(["1 SECRET", "0 exclude top", "2 Zürich"]),
        parse_match_list(["5 top secret", "1 zürich"]),
    ]
    text = "Top  secret: ZÜRICH office"
    shared = [subject("secret"), body(text)]
    for ml in defs + defs:
        fresh = evaluate(ml, 1, [subject("secret"), body(text)])
        assert evaluate(ml, 1, shared) == fresh


# --------------------------------------------------------------------------- Unicode case rules

UNICODE = [
    # id, line, text, found  (found must also agree with plain re.IGNORECASE)
    ("long-s", "1 secret", "ſecret", True),
    ("kelvin-sign", "1 kelvin", "\u212aelvin", True),
    ("dotted-capital-i", "1 istanbul", "İstanbul", True),
    ("dotless-i", "1 izmir", "ızmir", True),
    ("sharp-s-is-not-ss", "1 strasse", "STRAßE", False),
    ("sharp-s-capital", "1 straße", "STRASSE STRAẞE", True),
    ("non-ascii-term", "1 Zürich", "office: ZÜRICH", True),
    ("greek-sigma-variants", "1 ΟΔΟΣ", "οδοσ", True),
    ("greek-final-sigma", "1 ΟΔΟΣ", "οδος", True),
    ("accent-matters", "1 cafe", "Café", False),
    ("accented-term", "1 café", "CAFÉ au lait", True),
    ("ligature-is-one-character", "1 finance", "\ufb01nance", False),
    ("non-ascii-phrase", "1 geschäft geheim", "GESCHÄFT\u2003GEHEIM", True),
    ("ascii-term-in-non-ascii-text", "1 secret", "“Secret” — ſo", True),
]


@pytest.mark.parametrize(
    ("line", "text", "found"), [v[1:] for v in UNICODE], ids=[v[0] for v in UNICODE]
)
def test_unicode_case_rules_follow_re_ignorecase(line, text, found):
    term = line.split(None, 1)[1]
    assert reference_found(term, text) is found
    assert found_in(line, text) is found


def _all_characters() -> str:
    return "".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)


def test_fold_maps_ignorecase_equivalents_together():
    """The pre-filter is sound only if characters re.IGNORECASE treats as equal
    fold to equal strings. Checked against the regex engine's own tables."""
    try:
        import _sre
        from re import _casefix
    except ImportError:  # pragma: no cover - another Python implementation
        pytest.skip("CPython regex internals not available")
    for cp in range(sys.maxunicode + 1):
        lo = _sre.unicode_tolower(cp)
        if lo != cp:
            assert C._fold(chr(cp)) == C._fold(chr(lo)), hex(cp)
    for lo, others in _casefix._EXTRA_CASES.items():
        for other in others:
            assert C._fold(chr(lo)) == C._fold(chr(other)), (hex(lo), hex(other))


def test_lower_keeps_length_classes_and_ascii_partners():
    """The ASCII fast path is exact only if lowering keeps every position, each
    character's \\w and \\s class, and maps to an ASCII letter exactly the
    characters re.IGNORECASE matches with that letter."""
    text = _all_characters()
    low = C._lower(text)
    assert len(low) == len(text)
    for cls in (r"\w", r"\s"):
        assert [m.start() for m in re.finditer(cls, text)] == [
            m.start() for m in re.finditer(cls, low)
        ], cls
    for letter in "abcdefghijklmnopqrstuvwxyz":
        matched = set(re.findall(letter, text, re.IGNORECASE))
        lowered_to = (
            {text[i] for i in range(len(low)) if low[i] == letter} if letter in "iks" else None
        )
        if lowered_to is not None:
            assert matched == lowered_to, letter
        else:
            assert matched == {letter, letter.upper()}
            assert low.count(letter) == 2, letter
    non_ascii_to_ascii = {
        c for c, lc in zip(text, low, strict=True) if lc.isascii() and not c.isascii()
    }
    assert non_ascii_to_ascii == {"\u0130", "\u0131", "\u017f", "\u212a"}


# --------------------------------------------------------------------------- Luhn

LUHN = [
    ("visa-test-number", "4111111111111111", True),
    ("last-digit-off", "4111111111111112", False),
    ("classic-example", "79927398713", True),
    ("classic-example-off", "79927398710", False),
    ("single-zero", "0", True),
    ("empty", "", False),
    ("not-digits", "4111-1111", False),
    ("letters", "abc", False),
]


@pytest.mark.parametrize(("digits", "valid"), [v[1:] for v in LUHN], ids=[v[0] for v in LUHN])
def test_luhn_valid(digits, valid):
    assert luhn_valid(digits) is valid


def _reference_luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += sum(int(d) for d in str(n))
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=1, max_size=25))
def test_luhn_agrees_with_reference(digits):
    assert luhn_valid(digits) is _reference_luhn(digits)


CARDS = [
    ("spaces", "4111 1111 1111 1111", True),
    ("dashes", "4111-1111-1111-1111", True),
    ("luhn-fails", "4111 1111 1111 1112", False),
    ("twelve-digits-luhn-valid", "4111 1111 1117", False),
    ("thirteen-digits", "4111 1111 1111 9", True),
    ("nineteen-digits", "6011 0000 0000 0000 001", True),
    ("nineteen-digits-luhn-fails", "6011 0000 0000 0000 004", False),
    ("twenty-digits-luhn-valid", "4111 1111 1111 1111 1115", False),
]


@pytest.mark.parametrize(("text", "valid"), [v[1:] for v in CARDS], ids=[v[0] for v in CARDS])
def test_is_card_number(text, valid):
    digits = "".join(ch for ch in text if ch.isdigit())
    assert (
        13 <= len(digits) <= 19 and _reference_luhn(digits)
    ) is valid  # the table itself is right
    assert is_card_number(text) is valid


# --------------------------------------------------------------------------- properties

_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(st.text(max_size=60), max_size=8))
def test_random_lines_only_raise_match_list_error(lines):
    try:
        parsed = parse_match_list(lines)
    except MatchListError as err:
        errors = validate_match_list(lines)
        assert errors and errors[0].line_no == err.line_no and errors[0].reason == err.reason
        assert 1 <= err.line_no <= len(lines)
        assert "\n" not in str(err)
    else:
        assert validate_match_list(lines) == []
        assert isinstance(parsed, MatchList)


_weights = st.sampled_from(["0", "1", "5", "2:3", "1000", "1001", "-1", "3:0", "x", "7:"])
_keywords = st.sampled_from(
    [
        "",
        "required ",
        "exclude ",
        "regex ",
        "regex,cardnumber ",
        "hash ",
        "REGEX ",
        "regex,foo ",
        '"',
    ]
)
_bodies = st.one_of(
    st.text(
        alphabet=st.sampled_from(list('ab sSecrt"\\()[]*+?|^$.{}-0123456789 \tİıſ')), max_size=20
    ),
    st.just(f"{EMPTY_MD5} x.pdf"),
    st.just(CARD_RE),
)
_line = st.builds(lambda w, k, b: f"{w} {k}{b}", _weights, _keywords, _bodies)
_texts = st.text(alphabet=st.sampled_from(list("ab sSecrt \n\t0123456789-İıſ.ß")), max_size=80)


@_SETTINGS
@given(
    st.lists(st.one_of(_line, st.text(max_size=30)), max_size=6),
    st.integers(min_value=0, max_value=20),
    st.lists(st.tuples(st.sampled_from(C.SECTIONS), _texts), max_size=4),
    st.one_of(st.none(), st.frozensets(st.sampled_from(C.SECTIONS))),
)
def test_parse_and_evaluate_never_crash(lines, activation, parts, scan):
    try:
        ml = parse_match_list(lines)
    except MatchListError:
        return
    components = [
        Component(f"{section}:{i}", section, text, EMPTY_MD5 if section == "attachments" else None)
        for i, (section, text) in enumerate(parts)
    ]
    result = evaluate(ml, activation, components, scan)
    assert result.score == sum(h.points for h in result.hits) >= 0
    assert result.fired == (
        result.score >= activation and not result.missing_required and not result.excluded_by
    )
    assert "\n" not in result.reason
    examined = {c.name for c in components if scan is None or c.section in scan}
    assert all(set(h.components) <= examined for h in result.hits)


_tricky = st.sampled_from(list("aAbsSſkK\u212aiIİıσςΣßẞéÉ-+#_0 \t\n\u00a0"))


@_SETTINGS
@given(st.data())
def test_word_matching_agrees_with_plain_ignorecase_regex(data):
    """The pre-filters and the lowered-text fast path never change a result."""
    text = data.draw(st.text(alphabet=_tricky, max_size=40), label="text")
    if data.draw(st.booleans(), label="term from text") and text.split():
        start = data.draw(st.integers(0, len(text) - 1))
        term = text[start : start + data.draw(st.integers(1, 12))]
        term = "".join(ch.swapcase() if data.draw(st.booleans()) else ch for ch in term)
    else:
        term = data.draw(st.text(alphabet=_tricky, min_size=1, max_size=6), label="term")
    term = term.replace("\n", " ").strip()  # one line; any white space run matches
    if not term:
        return
    line = f'1 "{term}"'
    assert found_in(line, text) is reference_found(term, text), (term, text)


@_SETTINGS
@given(
    st.text(alphabet=st.sampled_from(list("abSſİıσς-_0")), min_size=2, max_size=5),
    st.sampled_from(["{}", r"\b{}", r"{}\d*x", r"(?:z|y){}", r"[ab]{}\b", r"{}$", r"(?m)^{}"]),
    st.text(alphabet=st.sampled_from(list("aAbBsSſkİıiIσςΣ-_0 xyz\n")), max_size=30),
)
def test_a_regex_line_is_found_exactly_where_re2_finds_it(literal, shape, text):
    """The scanner agrees with a plain RE2 search of the pattern in the text
    as examined (invisible characters removed, NFKC: ``ſ`` is an ``s``)."""
    import unicodedata

    from secmsg_cli.engine.patterns import user_options

    pattern = shape.format(re.escape(literal))
    try:
        ml = parse_match_list([f"1 regex {pattern}"])
    except MatchListError:
        return
    expected = (
        re2.compile(pattern, user_options()).search(unicodedata.normalize("NFKC", text)) is not None
    )
    assert bool(evaluate(ml, 1, [body(text)]).hits) is expected


def test_a_failed_set_pass_is_redone_pattern_by_pattern(monkeypatch):
    """RE2's set reports "nothing" when its pass fails (out of memory): the
    scanner must not read that as "nothing found" (it would fail open)."""
    from secmsg_cli.engine import patterns

    ml = parse_match_list(
        ["1 confidential", r"1 regex \bproj-\d+", r"5 regex,cardnumber \b(?:\d[ -]?){13,19}\b"]
    )
    text = "Confidential: PROJ-17, card 4111 1111 1111 1111"
    expected = evaluate(ml, 1, [body(text)])
    assert [h.line_no for h in expected.hits] == [1, 2, 3]

    class FailingSet:
        def Match(self, data):
            return []

    original = patterns.PatternSet.__init__

    def failing(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self._set is not None:
            self._set = FailingSet()

    monkeypatch.setattr(patterns.PatternSet, "__init__", failing)
    again = parse_match_list(
        ["1 confidential", r"1 regex \bproj-\d+", r"5 regex,cardnumber \b(?:\d[ -]?){13,19}\b"]
    )
    assert evaluate(again, 1, [body(text)]) == expected


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=0x2100)))
def test_the_word_view_keeps_ascii_and_each_characters_class(text):
    view = C._word_view(text)
    low = C._lower(text)
    assert len(view) == len(low) == len(text)
    for ch, byte in zip(low, view, strict=True):
        if ch.isascii():
            assert byte == ord(ch)
        elif re.match(r"\w", ch):
            assert byte == 0x80
        elif re.match(r"\s", ch):
            assert byte == 0x20
        else:
            assert byte == 0x81


def test_a_definition_that_finds_nothing_gives_the_same_result_every_time():
    ml = parse_match_list(['2 required "wire transfer"', '1 "invoice"', "1 regex \\bIBAN\\b"])
    nothing = [Component("body", "body", "nothing to see here")]
    first, second = (
        evaluate(ml, 2, nothing),
        evaluate(ml, 2, [Component("subject", "subject", "hello")]),
    )
    assert first is second  # shared: immutable
    assert (first.score, first.fired, [ln.term for ln in first.missing_required]) == (
        0,
        False,
        ["wire transfer"],
    )
    assert first.reason == "required line 1 'wire transfer' not found; score 0 < 2"
    found = evaluate(ml, 2, [Component("body", "body", "Invoice and wire\n transfer, IBAN")])
    assert (found.score, found.fired, [h.line_no for h in found.hits]) == (4, True, [1, 2, 3])


# --------------------------------------------------------------------------- failing closed (SPEC §6.1)

FAIL_CLOSED = [
    # id, lines, scan, unscannable, fired, reason fragment
    (
        "unread-body-fires",
        ['3 "privileged & confidential"'],
        frozenset({"body"}),
        {"body": "body part 1 has 12 bytes; only the first 10 were read"},
        True,
        "unscannable: body part 1 has 12 bytes; only the first 10 were read; fired to fail closed",
    ),
    (
        "unread-section-not-scanned",
        ['3 "privileged"'],
        frozenset({"subject"}),
        {"body": "MIME parts nested more than 50 levels deep were not read"},
        False,
        "score 0 < 3",
    ),
    (
        "scan-all-includes-it",
        ['3 "privileged"'],
        None,
        {"attachments": "attachment #2 could not be read"},
        True,
        "unscannable: attachment #2 could not be read",
    ),
    (
        "an-exclusion-cannot-keep-it-open",
        ["1 secret", '0 exclude "press release"'],
        frozenset({"body"}),
        {"body": "x"},
        True,
        "what was read: excluded by line 2 'press release'",
    ),
    (
        "a-missing-required-cannot-either",
        ["1 required wire"],
        frozenset({"body"}),
        {"body": "x"},
        True,
        "what was read: required line 1 'wire' not found",
    ),
]


@pytest.mark.parametrize(
    ("lines", "scan", "unscannable", "fired", "fragment"),
    [c[1:] for c in FAIL_CLOSED],
    ids=[c[0] for c in FAIL_CLOSED],
)
def test_a_section_not_read_whole_makes_the_definition_fire(
    lines, scan, unscannable, fired, fragment
):
    text = "a press release, nothing secret-free here"
    result = evaluate(parse_match_list(lines), 3, [body(text)], scan, unscannable=unscannable)
    assert result.fired is fired
    assert fragment in result.reason
    assert (result.unscannable is not None) is fired


def test_a_stored_line_rE2_refuses_makes_the_definition_fail_closed():
    lines = ["1 confidential", r"5 regex (?<=IBAN )\w+"]
    with pytest.raises(MatchListError):
        parse_match_list(lines)
    ml = parse_match_list(lines, lenient=True)
    assert ml.lines[1]._broken and "lookbehind" in ml.lines[1]._broken
    result = evaluate(ml, 10, [body("nothing of interest")])
    assert result.fired and result.unscannable.startswith("match line 2 cannot run (regex")
    # what it can examine is still examined
    assert [h.line_no for h in evaluate(ml, 10, [body("Confidential")]).hits] == [1]


def test_one_scanner_serves_many_definitions_and_reads_each_text_once():
    a = parse_match_list(["1 confidential", r"1 regex \bproj-\d+"])
    b = parse_match_list(['2 "Confidential"', "1 secret"])
    scanner = C.Scanner([*a.lines, *b.lines])
    comp = body("CONFIDENTIAL: proj-9")
    ra = evaluate(a, 1, [comp], scanners=lambda section: scanner)
    rb = evaluate(b, 1, [comp], scanners=lambda section: scanner)
    assert [h.line_no for h in ra.hits] == [1, 2] and [h.line_no for h in rb.hits] == [1]
    assert scanner in comp._cache  # one pass, remembered on the component
    assert ra == evaluate(a, 1, [body("CONFIDENTIAL: proj-9")]) and rb == evaluate(
        b, 1, [body("CONFIDENTIAL: proj-9")]
    )


def test_a_scanner_survives_pickling():
    ml = parse_match_list(
        ["1 confidential", "1 Zürich", r"5 regex,cardnumber \b(?:\d[ -]?){13,19}\b"]
    )
    scanner = pickle.loads(pickle.dumps(C.Scanner(ml.lines)))
    assert len(scanner.found("confidential ZÜRICH 4111 1111 1111 1111", {})) == 3


def test_a_text_too_long_for_the_regexes_worst_case_fails_closed(monkeypatch):
    """A regex costs at most ~10 ns per character per unit of width on
    crafted text; past the examination budget the text is not searched with
    the regexes, and a definition with regex lines fires instead."""
    monkeypatch.setattr(C, "REGEX_BUDGET", 1000)
    ml = parse_match_list(["1 confidential", r"5 regex \bproj-\d+"])
    words_only = parse_match_list(["1 confidential"])
    short, long = body("proj-7"), body("x " * 1000 + "confidential")
    assert [h.line_no for h in evaluate(ml, 5, [short]).hits] == [2]
    result = evaluate(ml, 5, [long])
    assert result.fired and "the regexes were not run on body" in result.unscannable
    assert [h.line_no for h in result.hits] == [1]  # the words were still searched
    assert not evaluate(
        words_only, 5, [body("x " * 1000 + "confidential")]
    ).fired  # no regex: nothing to fail


def test_a_pattern_too_wide_for_bounded_time_is_refused():
    with pytest.raises(MatchListError) as info:
        parse_match_list(["1 regex a" + "[ab]{1000}" * 3 + "c"])
    assert "too wide to match in bounded time" in info.value.reason
    parse_match_list(
        [r"1 regex (?s)confidential.{0,1000}client"]
    )  # a wide proximity is still allowed
