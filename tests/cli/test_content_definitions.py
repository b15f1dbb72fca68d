"""Content Examination definitions through the CLI (SPEC §6, §10, §11):
``secmsg content-definition create|list|show|update|delete``."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.helpers import audit_log, ok, refused, state

ALL_SCAN = ["subject", "headers", "body", "attachments"]


def show(cli, ref: str) -> dict:
    return ok(cli("content-definition", "show", ref, "-o", "json")).json


@pytest.fixture
def legal(cli):
    """A store with a folder and a definition to use as Secure Messaging override."""
    ok(cli("folder", "create", "Legal"))
    ok(cli("definition", "create", "Legal/7-Day Expiry", "--expire-after", "7d"))
    return cli


# --- create ------------------------------------------------------------------------------------


def test_create_with_repeated_lines_keeps_them_in_order(cli):
    lines = [
        "# what makes a message confidential",
        '2 "confidential"',
        "1:3 secret",
        "",
        "5 regex,cardnumber \\b(?:\\d[ -]?){13,16}\\b",
        "0 exclude newsletter",
    ]
    args = [a for line in lines for a in ("--line", line)]
    cd = ok(cli("content-definition", "create", "Confidential", *args, "-o", "json")).json
    assert cd == {
        "id": 1,
        "name": "Confidential",
        "activation_score": 1,
        "scan": ALL_SCAN,
        "lines": lines,
        "secure_messaging": None,
    }
    assert show(cli, "Confidential") == cd
    assert show(cli, "1") == cd
    assert show(cli, "confidential") == cd


def test_create_short_option_and_table_confirmation(cli):
    r = ok(cli("content-definition", "create", "Short", "-l", "1 word"))
    assert r.stdout == "Created content definition 'Short' (id 1).\n"
    assert ok(cli("-q", "content-definition", "create", "Quiet", "-l", "1 word")).stdout == ""


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        ('# comment\n1 foo\n\n2:4 "bar baz"\n', ["# comment", "1 foo", "", '2:4 "bar baz"']),
        ("1 foo\r\n2 bar\r\n", ["1 foo", "2 bar"]),
        ("\ufeff1 foo\n2 bar", ["1 foo", "2 bar"]),
        ('1 café\n1 "naïve approach"\n', ["1 café", '1 "naïve approach"']),
        (
            "3 regex \\d{3}-\\d{4}\n5 hash d41d8cd98f00b204e9800998ecf8427e empty.txt\n",
            ["3 regex \\d{3}-\\d{4}", "5 hash d41d8cd98f00b204e9800998ecf8427e empty.txt"],
        ),
    ],
    ids=["comments-and-blank", "crlf", "byte-order-mark", "unicode", "regex-and-hash"],
)
def test_create_from_lines_file(cli, tmp_path, content, lines):
    path = tmp_path / "lines.txt"
    path.write_bytes(content.encode("utf-8"))
    cd = ok(
        cli("content-definition", "create", "From file", "--lines-file", path, "-o", "json")
    ).json
    assert cd["lines"] == lines


@pytest.mark.parametrize(
    ("score", "expected"),
    [("1", 1), ("2", 2), ("50", 50), ("100", 100)],
    ids=["min", "two", "middle", "max"],
)
def test_score_within_bounds(cli, score, expected):
    cd = ok(
        cli("content-definition", "create", "S", "-l", "1 x", "--score", score, "-o", "json")
    ).json
    assert cd["activation_score"] == expected
    alias = ok(
        cli(
            "content-definition",
            "create",
            "T",
            "-l",
            "1 x",
            "--activation-score",
            score,
            "-o",
            "json",
        )
    ).json
    assert alias["activation_score"] == expected


@pytest.mark.parametrize(
    ("score", "code", "fragments"),
    [
        ("0", 1, ["activation_score", "1..100"]),
        ("101", 1, ["activation_score", "1..100"]),
        ("-1", 1, ["activation_score", "1..100"]),
        ("1000", 1, ["1..100"]),
        ("abc", 2, ["--score"]),
        ("2.5", 2, ["--score"]),
    ],
    ids=["zero", "101", "negative", "1000", "word", "fraction"],
)
def test_score_out_of_bounds(cli, score, code, fragments):
    before = state(cli)
    refused(
        cli("content-definition", "create", "S", "-l", "1 x", "--score", score),
        *fragments,
        code=code,
    )
    assert state(cli) == before


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        ([], ALL_SCAN),
        (["subject"], ["subject"]),
        (["attachments", "subject"], ["subject", "attachments"]),  # canonical order
        (["BODY", "Headers"], ["headers", "body"]),
        (["body", "body"], ["body"]),
        (["attachments", "body", "headers", "subject"], ALL_SCAN),
    ],
    ids=["default-all", "one", "reordered", "case", "duplicate", "all-given"],
)
def test_scan_values(cli, scan, expected):
    args = [a for s in scan for a in ("--scan", s)]
    cd = ok(cli("content-definition", "create", "Scan", "-l", "1 x", *args, "-o", "json")).json
    assert cd["scan"] == expected


@pytest.mark.parametrize(
    "bad", ["footer", "attachment", "", "all"], ids=["footer", "singular", "empty", "all"]
)
def test_scan_rejects_unknown_sections(cli, bad):
    before = state(cli)
    refused(
        cli("content-definition", "create", "Scan", "-l", "1 x", "--scan", "body", "--scan", bad),
        "scan",
        "subject, headers, body, attachments",
    )
    assert state(cli) == before


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Legal/7-Day Expiry", "Legal/7-Day Expiry"),
        ("legal/7-day expiry", "Legal/7-Day Expiry"),
        ("Default/External Recipients", "Default/External Recipients"),
        ("Default/All Recipients", "Default/All Recipients"),
        ("ID", "Legal/7-Day Expiry"),
    ],
    ids=["path", "path-case", "builtin-external", "builtin-all", "by-id"],
)
def test_secure_messaging_override(legal, ref, expected):
    if ref == "ID":
        ref = str(ok(legal("definition", "show", "Legal/7-Day Expiry", "-o", "json")).json["id"])
    cd = ok(
        legal(
            "content-definition",
            "create",
            "SM",
            "-l",
            "1 x",
            "--secure-messaging",
            ref,
            "-o",
            "json",
        )
    ).json
    assert cd["secure_messaging"] == expected


@pytest.mark.parametrize(
    ("ref", "fragments"),
    [
        ("Legal/Nope", ["definition 'Legal/Nope' not found"]),
        ("999", ["definition 999 not found"]),
        ("NoSlash", ["'NoSlash'", "FOLDER/DESCRIPTION"]),
    ],
    ids=["missing-path", "missing-id", "not-a-path"],
)
def test_secure_messaging_override_must_exist(legal, ref, fragments):
    before = state(legal)
    refused(
        legal("content-definition", "create", "SM", "-l", "1 x", "--secure-messaging", ref),
        *fragments,
    )
    assert state(legal) == before


# --- bad lines ------------------------------------------------------------------------------------

BAD_LINES = [
    (["bad line"], 1, "expected WEIGHT[:MAX] followed by a word, phrase"),
    (["1 foo", "bad line"], 2, "expected WEIGHT[:MAX]"),
    (["# comment", "", "x 1"], 3, "expected WEIGHT[:MAX]"),
    (["1"], 1, "expected WEIGHT[:MAX]"),
    (["1:0 foo"], 1, "MAX must be at least 1"),
    (["2:1x foo"], 1, "invalid WEIGHT[:MAX] '2:1x'"),
    (["-1 foo"], 1, "invalid WEIGHT[:MAX] '-1'"),
    (["2000 foo"], 1, "out of range 0..1000"),
    (["1 regex"], 1, "needs a PATTERN"),
    (["1 required"], 1, "needs TEXT"),
    (["1 exclude"], 1, "needs TEXT"),
    (["1 hash xyz report.pdf"], 1, "invalid MD5 'xyz'"),
    (["1 hash d41d8cd98f00b204e9800998ecf8427e"], 1, "needs a NAME"),
    (['1 "unterminated'], 1, "unterminated quote"),
    (['1 "phrase" tail'], 1, "after the closing quote"),
    (['1 ""'], 1, "empty phrase"),
    (["1 regex,luhn \\d+"], 1, "unknown regex option 'regex,luhn'"),
    (["1 foo", "2 bar", "1 regex (unclosed"], 3, "invalid regex '(unclosed'"),
    (["1 regex a{2,1}"], 1, "invalid regex"),
    (["1 regex,cardnumber [0-9"], 1, "invalid regex"),
]


@pytest.mark.parametrize(
    ("lines", "line_no", "expected"), BAD_LINES, ids=[f"{'|'.join(b[0])}" for b in BAD_LINES]
)
def test_bad_line_names_its_number_and_what_was_expected(cli, lines, line_no, expected):
    before = state(cli)
    args = [a for line in lines for a in ("--line", line)]
    refused(
        cli("content-definition", "create", "Bad", *args),
        "content definition 'Bad'",
        f"line {line_no}: ",
        expected,
    )
    assert state(cli) == before


def test_bad_line_in_a_lines_file_counts_comments_and_blank_lines(cli, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("# header\n\n1 fine\n# more\nbroken\n", encoding="utf-8")
    before = state(cli)
    refused(
        cli("content-definition", "create", "Bad", "--lines-file", path), "line 5: ", "'broken'"
    )
    assert state(cli) == before


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["no match lines"]),
        (["--line", "# only a comment"], ["no match lines"]),
        (["--line", "   "], ["no match lines"]),
        (["--line", "1 x", "--lines-file", "LINES"], ["--line or --lines-file, not both"]),
        (["--lines-file", "MISSING"], ["cannot read lines file", "missing.txt"]),
        (["--lines-file", "LATIN1"], ["cannot read lines file", "latin1.txt"]),
    ],
    ids=["no-lines", "only-comment", "blank", "both-sources", "missing-file", "not-utf8"],
)
def test_line_sources_errors(cli, tmp_path, args, fragments):
    (tmp_path / "lines.txt").write_text("1 x\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("1 café\n".encode("latin-1"))
    paths = {
        "LINES": tmp_path / "lines.txt",
        "MISSING": tmp_path / "missing.txt",
        "LATIN1": tmp_path / "latin1.txt",
    }
    args = [str(paths.get(a, a)) for a in args]
    before = state(cli)
    refused(cli("content-definition", "create", "Lines", *args), *fragments)
    assert state(cli) == before


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("tab\there", "control characters"),
        ("x" * 201, "longer than 200"),
    ],
    ids=["empty", "blank", "control", "long"],
)
def test_bad_name(cli, name, fragment):
    before = state(cli)
    refused(
        cli("content-definition", "create", name, "-l", "1 x"), "content definition name", fragment
    )
    assert state(cli) == before


@pytest.mark.parametrize(
    "again",
    ["Confidential", "confidential", "  CONFIDENTIAL  "],
    ids=["same", "lower", "padded-upper"],
)
def test_duplicate_name_is_refused(cli, again):
    ok(cli("content-definition", "create", "Confidential", "-l", "1 x"))
    before = state(cli)
    refused(cli("content-definition", "create", again, "-l", "1 y"), "already exists")
    assert state(cli) == before


# --- update ----------------------------------------------------------------------------------------

UPDATES = [
    (["--score", "7"], {"activation_score": 7}),
    (["--scan", "subject", "--scan", "body"], {"scan": ["subject", "body"]}),
    (["--line", "2 privileged", "--line", "1 secret"], {"lines": ["2 privileged", "1 secret"]}),
    (["--name", "Renamed"], {"name": "Renamed"}),
    (["--name", "CONFIDENTIAL"], {"name": "CONFIDENTIAL"}),  # a change of case only
    (
        ["--secure-messaging", "Default/All Recipients"],
        {"secure_messaging": "Default/All Recipients"},
    ),
    (["--no-secure-messaging"], {"secure_messaging": None}),
    (["--score", "3", "--name", "Both"], {"activation_score": 3, "name": "Both"}),
]


@pytest.mark.parametrize(("args", "changed"), UPDATES, ids=[" ".join(u[0]) for u in UPDATES])
def test_update_changes_only_what_is_given(legal, args, changed):
    before = ok(
        legal(
            "content-definition",
            "create",
            "Confidential",
            "-l",
            "1 confidential",
            "--scan",
            "subject",
            "--score",
            "2",
            "--secure-messaging",
            "Legal/7-Day Expiry",
            "-o",
            "json",
        )
    ).json
    after = ok(legal("content-definition", "update", "Confidential", *args, "-o", "json")).json
    assert after == {**before, **changed}
    assert show(legal, str(before["id"])) == after
    entry = audit_log(legal)[0]
    assert (entry["action"], entry["kind"], entry["object"]) == (
        "update",
        "content-definition",
        "Confidential",
    )
    assert entry["after"]["name"] == after["name"]


def test_update_lines_from_file_and_table_output(cli, tmp_path):
    ok(cli("content-definition", "create", "C", "-l", "1 x"))
    path = tmp_path / "new.txt"
    path.write_text("# new\n3 y\n", encoding="utf-8")
    r = ok(cli("content-definition", "update", "C", "--lines-file", path))
    assert r.stdout == "Updated content definition 'C' (id 1).\n"
    assert show(cli, "C")["lines"] == ["# new", "3 y"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--line", "1 ok", "--line", "oops"], ["line 2: ", "expected WEIGHT[:MAX]"]),
        (["--line", "1 regex [a-"], ["line 1: ", "invalid regex"]),
        (["--score", "0"], ["1..100"]),
        (["--scan", "footer"], ["'footer'"]),
        (["--name", "Other"], ["'Other' already exists"]),
        (["--name", " "], ["cannot be empty"]),
        (["--secure-messaging", "Legal/Nope"], ["'Legal/Nope' not found"]),
        (["--secure-messaging", "Legal/7-Day Expiry", "--no-secure-messaging"], ["not both"]),
        (["--line", "# nothing"], ["no match lines"]),
        ([], ["nothing to change"]),
    ],
    ids=[
        "bad-line",
        "bad-regex",
        "score",
        "scan",
        "name-taken",
        "name-empty",
        "missing-override",
        "override-both",
        "no-lines",
        "nothing",
    ],
)
def test_invalid_update_is_refused_and_writes_nothing(legal, args, fragments):
    ok(legal("content-definition", "create", "Confidential", "-l", "1 x"))
    ok(legal("content-definition", "create", "Other", "-l", "1 y"))
    before = state(legal)
    refused(legal("content-definition", "update", "Confidential", *args), *fragments)
    assert state(legal) == before


def test_update_missing_is_not_found(cli):
    refused(cli("content-definition", "update", "Ghost", "--score", "2"), "'Ghost' not found")


# --- delete -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["Confidential", "confidential", "1"], ids=["name", "case", "id"])
def test_delete(cli, ref):
    ok(cli("content-definition", "create", "Confidential", "-l", "1 x"))
    r = ok(cli("content-definition", "delete", ref))
    assert r.stdout == "Deleted content definition 'Confidential'.\n"
    assert ok(cli("content-definition", "list", "-o", "json")).json == []
    entry = audit_log(cli)[0]
    assert (entry["action"], entry["kind"], entry["object"], entry["after"]) == (
        "delete",
        "content-definition",
        "Confidential",
        None,
    )
    assert entry["before"]["lines"] == ["1 x"]


def test_delete_in_use_lists_the_policies(cli):
    ok(cli("content-definition", "create", "Confidential", "-l", "1 x"))
    ok(cli("content-policy", "create", "First user", "-c", "Confidential"))
    ok(cli("content-policy", "create", "Second user", "-c", "1", "--bidirectional"))
    before = state(cli)
    refused(
        cli("content-definition", "delete", "Confidential"),
        "'Confidential' is in use",
        "content-examination policy 1 ('First user')",
        "content-examination policy 2 ('Second user')",
    )
    assert state(cli) == before


def test_delete_missing_is_not_found(cli):
    before = state(cli)
    refused(cli("content-definition", "delete", "Ghost"), "'Ghost' not found")
    assert state(cli) == before


# --- show and list ----------------------------------------------------------------------------------


def test_show_table_lists_the_lines_numbered(legal):
    ok(
        legal(
            "content-definition",
            "create",
            "Confidential",
            "--score",
            "4",
            "--scan",
            "subject",
            "-l",
            "# comment",
            "-l",
            '2 "top secret"',
            "--secure-messaging",
            "Legal/7-Day Expiry",
        )
    )
    out = ok(legal("content-definition", "show", "Confidential")).stdout
    for label, value in [
        ("name", "Confidential"),
        ("activation_score", "4"),
        ("scan", "subject"),
        ("secure_messaging", "Legal/7-Day Expiry"),
    ]:
        assert re.search(rf"^{label}\s+{re.escape(value)}\s*$", out, re.M), (label, out)
    assert re.search(r"1\s+[┃│]\s+# comment", out) and re.search(
        r'2\s+[┃│]\s+2 "top secret"', out
    ), out


def test_list_json_table_and_csv(legal):
    ok(
        legal(
            "content-definition", "create", "zeta", "-l", "1 z", "-l", "# c", "-l", "", "-l", "2 y"
        )
    )
    ok(
        legal(
            "content-definition",
            "create",
            "Alpha",
            "-l",
            "1 a",
            "--scan",
            "body",
            "--score",
            "9",
            "--secure-messaging",
            "Legal/7-Day Expiry",
        )
    )
    rows = ok(legal("content-definition", "list", "-o", "json")).json
    assert [r["name"] for r in rows] == ["Alpha", "zeta"]  # by name, case-insensitively
    assert rows[0] == {
        "id": 2,
        "name": "Alpha",
        "activation_score": 9,
        "scan": ["body"],
        "lines": ["1 a"],
        "secure_messaging": "Legal/7-Day Expiry",
        "line_count": 1,
    }
    assert rows[1]["line_count"] == 2  # comments and blank lines are not match lines
    table = ok(legal("content-definition", "list")).stdout
    header = next(line for line in table.splitlines() if " id " in line)
    assert [c.strip() for c in re.split(r"[┃│]", header) if c.strip()] == [
        "id",
        "name",
        "score",
        "scan",
        "lines",
        "secure messaging",
    ]
    parsed = list(
        csv.DictReader(io.StringIO(ok(legal("content-definition", "list", "-o", "csv")).stdout))
    )
    assert [(r["name"], r["activation_score"], r["secure_messaging"]) for r in parsed] == [
        ("Alpha", "9", "Legal/7-Day Expiry"),
        ("zeta", "1", ""),
    ]


def test_empty_list(cli):
    r = ok(cli("content-definition", "list"))
    assert r.stdout == "" and "no content definitions" in r.stderr
    assert ok(cli("content-definition", "list", "-o", "json")).json == []


def test_show_missing_is_not_found(cli):
    refused(cli("content-definition", "show", "Ghost"), "'Ghost' not found")


# --- audit and the override's definition ------------------------------------------------------------


def test_create_is_audited(legal):
    before = len(audit_log(legal))
    ok(
        legal(
            "content-definition",
            "create",
            "C",
            "-l",
            "1 x",
            "--secure-messaging",
            "Legal/7-Day Expiry",
        )
    )
    log = audit_log(legal)
    assert len(log) == before + 1
    assert (log[0]["action"], log[0]["kind"], log[0]["object"], log[0]["before"]) == (
        "create",
        "content-definition",
        "C",
        None,
    )
    assert log[0]["after"]["secure_messaging"] == "Legal/7-Day Expiry"


def test_override_definition_in_use_cannot_be_deleted(legal):
    ok(
        legal(
            "content-definition",
            "create",
            "C",
            "-l",
            "1 x",
            "--secure-messaging",
            "Legal/7-Day Expiry",
        )
    )
    before = state(legal)
    refused(legal("definition", "delete", "Legal/7-Day Expiry"), "in use", "content definition 'C'")
    refused(legal("folder", "delete", "Legal", "--recursive"), "in use", "content definition 'C'")
    assert state(legal) == before
    ok(legal("content-definition", "update", "C", "--no-secure-messaging"))
    ok(legal("definition", "delete", "Legal/7-Day Expiry"))


def test_override_follows_a_definition_rename(legal):
    ok(
        legal(
            "content-definition",
            "create",
            "C",
            "-l",
            "1 x",
            "--secure-messaging",
            "Legal/7-Day Expiry",
        )
    )
    ok(legal("definition", "update", "Legal/7-Day Expiry", "--description", "Week"))
    assert show(legal, "C")["secure_messaging"] == "Legal/Week"
