"""``secmsg report run FILE``: the report of a corpus run, made from
``secmsg simulate fixtures/messages -o jsonl`` on the demo store (12 messages,
one of which, 08, has no recipients and is not decided), with exact figures;
the same from ``-o json`` and from stdin; notes by kind; bad input refused in
one line naming the line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FIXTURES
from tests.helpers import assert_error, ok

AT = "2026-11-27T10:00:00Z"
NOTES_EML = (
    b"From: alice.morgan@harborfinch.com\r\nTo: k.brennan@gmail.com\r\n"
    b"Subject: keys\r\nMessage-ID: <n1@harborfinch.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/plain; charset=x-no-such\r\n\r\nhello \xff\xfe\r\n--b\r\n"
    b"Content-Type: application/pkcs7-mime; name=smime.p7m\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n--b--\r\n"
)


def simulate(cli, *paths, output: str = "jsonl") -> str:
    r = cli("simulate", *paths, "--at", AT, "-o", output)
    assert r.exit_code in (0, 1), r.output  # 1: message 08 could not be decided
    return r.stdout


@pytest.fixture
def run_file(demo, tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(simulate(demo, FIXTURES / "messages"), encoding="utf-8")
    return path


def report(cli, *args, input=None) -> list[tuple]:
    r = ok(cli("report", "run", *args, "-o", "json", input=input))
    return [(x["section"], x["kind"], x["id"], x["key"], x["count"], x["share"]) for x in r.json]


EXPECTED = [
    ("total", None, None, "messages", 12, None),
    ("total", None, None, "recipients", 21, None),
    ("total", None, None, "undecided", 1, None),
    ("route", None, None, "inbox", 13, 0.619),
    ("route", None, None, "portal", 8, 0.381),
    ("trigger", None, None, "content", 6, 0.6667),
    ("trigger", None, None, "policy", 3, 0.3333),
    ("definition", None, None, "Legal/7-Day Expiry, Receipt", 4, 0.4444),
    ("definition", None, None, "Legal/Client Correspondence", 3, 0.3333),
    ("definition", None, None, "Finance/Statements, 2 Weeks", 2, 0.2222),
    ("policy", "content-examination", 7, "Confidential subjects, outbound", 4, 0.1905),
    (
        "policy",
        "secure-messaging",
        1,
        "Legal mail to partner counsel goes through the portal",
        2,
        0.0952,
    ),
    (
        "policy",
        "secure-messaging",
        3,
        "Finance mail to external recipients, from the office network",
        1,
        0.0476,
    ),
    ("policy", "bypass", 6, "Board mail to auditors is not secured", 1, 0.0476),
    ("policy", "content-examination", 8, "Card numbers leaving Finance", 1, 0.0476),
    ("policy", "content-examination", 9, "Privileged bodies, both ways with clients", 1, 0.0476),
    ("content_definition", None, None, "Confidential subject", 4, 0.1905),
    ("content_definition", None, None, "Card numbers in attachments", 1, 0.0476),
    ("content_definition", None, None, "Privileged body", 1, 0.0476),
]
NEVER = [
    ("never_fired", "secure-messaging", 2, "Anything to partner subdomains is secured", 0, None),
    (
        "never_fired",
        "secure-messaging",
        4,
        "Year-end audit season: everything to the auditors is secured",
        0,
        None,
    ),
    (
        "never_fired",
        "secure-messaging",
        5,
        "The IT administrator's mail is never secured by policy",
        0,
        None,
    ),
]


def test_a_run_counted_with_the_store_that_names_what_never_fired(demo, run_file):
    assert report(demo, run_file) == EXPECTED + NEVER


def test_json_output_and_stdin_give_the_same_report(demo, run_file, tmp_path):
    whole = tmp_path / "run.json"
    whole.write_text(simulate(demo, FIXTURES / "messages", output="json"), encoding="utf-8")
    assert report(demo, whole) == EXPECTED + NEVER
    assert report(demo, "-", input=run_file.read_text(encoding="utf-8")) == EXPECTED + NEVER


def test_without_a_store_the_never_fired_section_is_left_out_with_a_note(demo, run_file, tmp_path):
    r = ok(demo("report", "run", run_file, "--db", tmp_path / "none.db", "-o", "json"))
    assert [x["section"] for x in r.json].count("never_fired") == 0
    assert len(r.json) == len(EXPECTED)
    assert "no store" in r.stderr and "never fired" in r.stderr
    assert not (tmp_path / "none.db").exists()


def test_notes_by_kind(demo, tmp_path):
    eml = tmp_path / "notes.eml"
    eml.write_bytes(NOTES_EML)
    one = tmp_path / "one.json"  # -o json of one message: one pretty-printed object
    one.write_text(simulate(demo, eml, output="json"), encoding="utf-8")
    notes = [row for row in report(demo, one) if row[0] == "note"]
    assert notes == [
        ("note", None, None, "encrypted", 1, 1.0),
        ("note", None, None, "undecodable", 1, 1.0),
    ]


def test_the_table_has_bars_and_fits_80_columns(demo, run_file, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = ok(demo("report", "run", run_file)).stdout
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "│ portal │ 8     │  38.1% ████▋" in out
    assert out.rstrip().splitlines()[-1] == "12 messages, 21 recipients, 1 not decided"


def test_csv_escapes_text_from_the_run(demo, tmp_path):
    line = {
        "schema_version": 1,
        "source": "x.eml",
        "message": {"notes": []},
        "recipients": [
            {"route": "portal", "secure": True, "trigger": "user", "definition": "=HYPERLINK(1)"}
        ],
    }
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    text = ok(demo("report", "run", path, "-o", "csv")).stdout
    assert "definition,,,'=HYPERLINK(1),1,1.0" in text


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ("no simulate results",)),
        ("\n\n", ("no simulate results",)),
        (
            '{"schema_version": 1, "source": "a", "message": {}, "recipients": []}\nnot json\n',
            ("line 2", "not JSON"),
        ),
        ('[{"rule": "x"}]', ("line 1", "not a simulate result")),
        (
            '{"rule": "shadowed", "policy": 3}\n',
            ("line 1", "not a simulate result", "simulate -o jsonl"),
        ),
        ('{"summary": {}, "changes": []}\n', ("line 1", "--against")),
        ("\n\n[1, 2]\n", ("line 3", "a JSON int")),
        ('{\n  "schema_version": 1,\n  "source": \n}\n', ("line 4", "not JSON")),
        (
            '{"schema_version": 1, "source": "a", "message": {}, "recipients": [{"address": "x"}]}\n',
            ("line 1", "without a route"),
        ),
        (
            '{"schema_version": 1, "source": "a", "message": {}, "recipients": [{"route": "portal", "trigger": ["x"]}]}\n',
            ("line 1", "trigger is a JSON array"),
        ),
        (
            '{"schema_version": 1, "source": "a", "message": {}, "recipients": [{"route": "portal", "content": 3}]}\n',
            ("line 1", "content is a JSON number"),
        ),
        (
            '{"schema_version": 1, "source": "a", "message": {"notes": "x"}, "recipients": []}\n',
            ("line 1", "notes that are not a list"),
        ),
        ("[" * 100000 + "]" * 100000, ("line 1", "nested too deeply")),
        ('{"x": ' + "[" * 100000 + "]" * 100000 + "}\n", ("line 1", "nested too deeply")),
        # an integer past Python's 4300 digits: ValueError, not a JSONDecodeError
        ("\n" + '{"schema_version": ' + "9" * 5000 + "}\n", ("line 2", "number too long")),
        ('[{"schema_version": 1, "x": ' + "9" * 5000 + "}]", ("line 1", "number too long")),
    ],
)
def test_bad_input_is_one_line_naming_the_line(demo, tmp_path, content, fragments):
    path = tmp_path / "run.jsonl"
    path.write_text(content, encoding="utf-8")
    assert_error(demo("report", "run", path), 1, str(path), *fragments)


def test_a_missing_or_binary_file_is_one_line(demo, tmp_path):
    assert_error(demo("report", "run", tmp_path / "nope.jsonl"), 1, "no such file")
    binary = tmp_path / "run.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_error(demo("report", "run", binary), 1, "not UTF-8")


def test_a_policy_id_that_is_not_a_number_is_not_a_policy(demo, tmp_path):
    # JSON true equals 1 in Python: it must not count as policy 1 (nor hide
    # policy 1 from never_fired)
    result = {
        "schema_version": 1,
        "source": "a",
        "message": {"notes": []},
        "recipients": [
            {
                "route": "portal",
                "policy": {"kind": "secure-messaging", "id": True, "narrative": "x"},
            }
        ],
    }
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(result) + "\n", encoding="utf-8")
    rows = ok(demo("report", "run", path, "-o", "json")).json
    assert [r for r in rows if r["section"] == "policy"] == []
    assert 1 in [r["id"] for r in rows if r["section"] == "never_fired"]
