"""``secmsg simulate`` as a user sees it (SPEC §8, §10, §11).

Inputs (files, several files, ``-``, directories, mbox files), every context
option, ``--explain``, ``--max-size``, batch behaviour (error rows, summary,
exit code), the JSON schema of SPEC §8.2 key for key, and that nothing is
written to the store. Expected values are worked out from SPEC §4-§7 and
fixtures/demo.toml, not copied from the output.
"""

from __future__ import annotations

import hashlib
import json
import mailbox
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

MESSAGES = FIXTURES / "messages"
AT = "2026-11-27T10:00:00+00:00"

RESTRICTED = "Legal/Restricted/Privileged, No Print, 12 Hours"
AUDITORS = (
    "--rcpt",
    "olivia.grant@ledgerline-audit.com",
    "--rcpt",
    "samir.haddad@ledgerline-audit.com",
    "--rcpt",
    "ben.okafor@harborfinch.com",
)

# SPEC §8.2, key for key. notification also carries the portal URL: SPEC §7.3
# names it as part of the notification that would be sent.
TOP_KEYS = {"schema_version", "source", "message", "recipients", "explain"}
ERROR_KEYS = {"schema_version", "source", "error"}
MESSAGE_KEYS = {
    "message_id",
    "subject",
    "header_from",
    "envelope_from",
    "source_ip",
    "at",
    "via",
    "notes",
}
RECIPIENT_KEYS = {
    "address",
    "internal",
    "route",
    "secure",
    "trigger",
    "definition",
    "policy",
    "bypass",
    "content",
    "banner",
    "portal",
}
POLICY_KEYS = {"kind", "id", "narrative"}
CONTENT_KEYS = {"policy_id", "content_definition", "score", "fired"}
BANNER_KEYS = {"html", "text"}
PORTAL_KEYS = {
    "expires",
    "latest_expiry",
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "read_receipt",
    "notification",
}
NOTIFICATION_KEYS = {"to", "subject", "portal_url"}
EXPLAIN_KEYS = {"kind", "id", "name", "recipient", "verdict", "reason"}
VERDICTS = {
    "won",
    "lost",
    "no-match",
    "inactive",
    "bypassed",
    "evaluated",
    "fired",
    "not-fired",
    "chosen",
}

SUMMARY = re.compile(
    r"^(\d+) message\(s\): (\d+) secure recipient\(s\), (\d+) portal cop(?:y|ies), (\d+) error\(s\)$"
)


def msg(name: str) -> str:
    """The path of a demo message by its number or file name."""
    if len(name) == 2:
        (found,) = MESSAGES.glob(f"{name}-*.eml")
        return str(found)
    return str(MESSAGES / name)


@pytest.fixture
def sim(demo):
    """``sim(*args)``: ``secmsg simulate *args`` against the demo store."""

    def run(*args, input=None):
        return demo("simulate", *args, input=input)

    return run


def one(sim, *args):
    """A single message decided successfully: its JSON object."""
    r = sim(*args, "-o", "json")
    assert r.exit_code == 0, r.output
    doc = r.json
    assert isinstance(doc, dict), r.output
    return doc


def by_address(doc) -> dict:
    return {r["address"].lower(): r for r in doc["recipients"]}


def summary(stderr: str) -> tuple[int, int, int, int]:
    lines = [line for line in stderr.splitlines() if SUMMARY.match(line)]
    assert len(lines) == 1, f"expected one summary line on stderr, got: {stderr!r}"
    return tuple(int(g) for g in SUMMARY.match(lines[0]).groups())


def one_line_error(r, *fragments: str) -> None:
    """A clean failure (SPEC §11): exit 1, one line on stderr naming the input."""
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: "), r.output
    assert r.stderr.count("\n") == 1, r.output
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.output
    for fragment in fragments:
        assert fragment in r.stderr, r.output


def ts(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() is not None, (
        f"{text!r} has no UTC offset"
    )
    return moment


# --- inputs -----------------------------------------------------------------


def test_single_file_prints_one_object_and_no_summary(sim):
    path = msg("01")
    r = sim(path, "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.output
    doc = r.json
    assert isinstance(doc, dict)
    assert doc["source"] == path
    assert doc["message"]["subject"] == "Confidential: Project Heron - revised term sheet"
    assert [x["address"] for x in doc["recipients"]] == ["m.okonkwo@lexpartners.com"]
    assert r.stderr == ""


def test_several_files_print_an_array_in_order(sim):
    paths = [msg("03"), msg("01")]
    r = sim(*paths, "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.output
    docs = r.json
    assert isinstance(docs, list)
    assert [d["source"] for d in docs] == paths
    assert [d["message"]["envelope_from"] for d in docs] == [
        "farah.nasser@harborfinch.com",
        "alice.morgan@harborfinch.com",
    ]
    # 03: m.okonkwo by policy 1; 01: m.okonkwo by content policy 7. Both portal.
    assert summary(r.stderr) == (2, 2, 2, 0)


def test_stdin_is_one_message(sim):
    data = Path(msg("01")).read_bytes()
    r = sim("-", "--at", AT, "-o", "json", input=data)
    assert r.exit_code == 0, r.output
    doc = r.json
    assert isinstance(doc, dict), "one message on stdin is one object, not an array"
    assert doc["source"] == "-"
    from_file = one(sim, msg("01"), "--at", AT)
    assert doc["recipients"] == from_file["recipients"]
    assert doc["message"] == from_file["message"]


def test_stdin_with_a_file_is_an_array(sim):
    data = Path(msg("02")).read_bytes()
    r = sim(msg("01"), "-", "--at", AT, "-o", "json", input=data)
    assert r.exit_code == 0, r.output
    assert [d["source"] for d in r.json] == [msg("01"), "-"]
    assert r.json[1]["message"]["envelope_from"] == "carla.diaz@harborfinch.com"


def test_directory_every_eml_below_sorted(sim, tmp_path):
    top = tmp_path / "mail"
    (top / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(msg("01"), top / "b.eml")
    shutil.copy(msg("03"), top / "sub" / "deeper" / "c.eml")
    shutil.copy(msg("02"), top / "sub" / "a.eml")
    shutil.copy(msg("04"), top / "a.eml")
    (top / "notes.txt").write_text("not a message\n")
    shutil.copy(msg("05"), top / "sub" / "readme.md")
    r = sim(top, "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.output
    docs = r.json
    expected = [
        top / "a.eml",
        top / "b.eml",
        top / "sub" / "a.eml",
        top / "sub" / "deeper" / "c.eml",
    ]
    assert [d["source"] for d in docs] == [str(p) for p in expected]
    assert [d["message"]["envelope_from"] for d in docs] == [
        "ben.okafor@harborfinch.com",
        "alice.morgan@harborfinch.com",
        "carla.diaz@harborfinch.com",
        "farah.nasser@harborfinch.com",
    ]


def test_a_directory_of_one_message_is_still_an_array(sim, tmp_path):
    shutil.copy(msg("01"), tmp_path / "only.eml")
    r = sim(tmp_path, "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.output
    assert isinstance(r.json, list) and len(r.json) == 1


def test_the_demo_directory(sim):
    r = sim(MESSAGES, "--at", AT, "-o", "jsonl")
    assert r.exit_code == 1, r.output  # 08 has no recipients without --rcpt
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["source"] for d in docs] == [str(p) for p in sorted(MESSAGES.glob("*.eml"))]
    errors = [d for d in docs if "error" in d]
    assert [Path(d["source"]).name for d in errors] == ["08-no-recipient-headers.eml"]
    assert set(errors[0]) == ERROR_KEYS
    messages, secure, portal, nerrors = summary(r.stderr)
    assert (messages, nerrors) == (12, 1)
    assert secure == sum(x["secure"] for d in docs if "error" not in d for x in d["recipients"])
    assert portal == sum(
        x["route"] == "portal" for d in docs if "error" not in d for x in d["recipients"]
    )


def test_an_empty_directory_is_an_error_row(sim, tmp_path):
    (tmp_path / "empty").mkdir()
    r = sim(tmp_path / "empty", msg("01"), "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output
    first, second = r.json
    assert set(first) == ERROR_KEYS and "no messages in this directory" in first["error"]
    assert second["recipients"][0]["secure"] is True


def _mbox(path: Path, *names: str) -> Path:
    box = mailbox.mbox(str(path))
    for name in names:
        box.add(Path(msg(name)).read_bytes())
    box.flush()
    box.close()
    return path


def test_mbox_file_every_message(sim, tmp_path):
    box = _mbox(tmp_path / "archive", "01", "08", "03")
    r = sim(box, "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output  # the second message has no recipients
    docs = r.json
    assert [d["source"] for d in docs] == [f"{box}#1", f"{box}#2", f"{box}#3"]
    assert set(docs[1]) == ERROR_KEYS and "no recipients" in docs[1]["error"]
    assert docs[0]["message"]["message_id"] == "<20261126091405.4A21@harborfinch.com>"
    assert docs[0]["recipients"][0]["definition"] == "Legal/7-Day Expiry, Receipt"
    assert (
        by_address(docs[2])["m.okonkwo@lexpartners.com"]["definition"]
        == "Legal/Client Correspondence"
    )
    assert summary(r.stderr) == (3, 2, 2, 1)


def test_an_eml_file_with_an_envelope_from_line_is_one_message(sim, tmp_path):
    """A saved .eml often starts with the mbox "From " line; it is still one
    message, not an mbox to split at every body line starting with "From "."""
    raw = Path(msg("01")).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    path = tmp_path / "saved.eml"
    path.write_bytes(
        b"From alice.morgan@harborfinch.com Thu Nov 26 09:14:07 2026\n"
        + head
        + b"\n\n"
        + b"From the desk of Alice Morgan.\n\n"
        + body
    )
    r = sim(path, "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.output
    doc = r.json
    assert isinstance(doc, dict) and doc["source"] == str(path)
    assert doc["recipients"][0]["definition"] == "Legal/7-Day Expiry, Receipt"
    # and the same as when found in a directory
    r2 = sim(tmp_path, "--at", AT, "-o", "json")
    assert r2.exit_code == 0, r2.output
    assert r2.json[0]["recipients"] == doc["recipients"]


def test_jsonl_one_object_per_line(sim):
    r = sim(msg("01"), msg("02"), msg("03"), "--at", AT, "-o", "jsonl")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    docs = [json.loads(line) for line in lines]
    assert [d["source"] for d in docs] == [msg("01"), msg("02"), msg("03")]
    assert all(set(d) == TOP_KEYS for d in docs)


def test_jsonl_single_file_is_one_line(sim):
    r = sim(msg("01"), "--at", AT, "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 1
    assert json.loads(r.stdout)["source"] == msg("01")


def test_table_output_for_people(sim):
    r = sim(msg("06"), "--at", AT)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for address in (
        "jose.mueller@clientco.example",
        "j.weiss@clientco.example",
        "evan.price@harborfinch.co.uk",
    ):
        assert address in out
    assert "portal" in out and "inbox" in out and "external" in out and "internal" in out
    assert "Legal/7-Day Expiry, Receipt" in out
    assert "banner for evan.price@harborfinch.co.uk" in out
    assert "Secure message from Zoë Ångström <zoe.angstrom@harborfinch.co.uk>" in out
    assert "portal records" in out
    assert "2026-12-04T10:00:00+00:00" in out  # 7 days after sending
    assert "explanation" not in out
    assert not out.lstrip().startswith(("{", "["))


def test_table_explain_shows_an_explanation_table(sim):
    r = sim(msg("10"), "--at", "2027-02-01T10:00:00Z", "--explain")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "explanation" in out
    for word in ("bypassed", "won", "no-match", "content-definition", "not-fired", "Role=Auditor"):
        assert word in out, word


def test_table_error_rows_print_paths_as_written(sim, tmp_path):
    """Paths are text, not Rich markup: "[x]" is kept and "[/y]" does not crash."""
    odd = tmp_path / "x[" / "y]"
    odd.mkdir(parents=True)
    (odd / "m.eml").write_bytes(b"Subject: no sender\n\nbody\n")
    (tmp_path / "x[" / "bad[red].eml").write_bytes(b"Subject: no sender\n\nbody\n")
    r = sim(tmp_path / "x[", msg("01"), "--at", AT)
    assert r.exit_code == 1, r.output
    assert "internal error" not in r.stderr
    assert f"{tmp_path}/x[/y]/m.eml  error: no sender" in r.stdout
    assert f"{tmp_path}/x[/bad[red].eml  error: no sender" in r.stdout


def test_table_output_does_not_pass_escape_sequences_to_the_terminal(sim, tmp_path):
    import base64

    subject = "Confidential \x1b[31mRED\x1b]0;title\x07 \x9b2J end"
    encoded = base64.b64encode(subject.encode()).decode()
    path = tmp_path / "esc.eml"
    path.write_bytes(
        f"From: alice.morgan@harborfinch.com\nTo: ben.okafor@harborfinch.com\n"
        f"Subject: =?utf-8?b?{encoded}?=\n\nhi\n".encode()
    )
    r = sim(path, "--at", AT)
    assert r.exit_code == 0, r.output
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in r.stdout
    assert "RED" in r.stdout  # the banner (with [subject]) is still shown
    doc = one(sim, path, "--at", AT)
    assert doc["message"]["subject"] == subject  # JSON keeps the exact value


def test_a_missing_file_in_a_batch_is_an_error_row(sim, tmp_path):
    missing = tmp_path / "nope.eml"
    r = sim(msg("01"), missing, msg("02"), "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output
    docs = r.json
    assert [d["source"] for d in docs] == [msg("01"), str(missing), msg("02")]
    assert set(docs[1]) == ERROR_KEYS
    assert docs[1]["schema_version"] == 1
    assert "no such file" in docs[1]["error"]
    assert "error" not in docs[0] and "error" not in docs[2]
    assert summary(r.stderr) == (3, 1, 1, 1)


def test_a_missing_single_file_is_an_error(sim, tmp_path):
    r = sim(tmp_path / "nope.eml", "--at", AT)
    one_line_error(r, "nope.eml", "no such file")


def test_a_bad_message_in_a_batch_the_rest_go_on(sim, tmp_path):
    bad = tmp_path / "garbage.eml"
    bad.write_bytes(b"\x00\xff\xfe not a message at all \x00\n")
    r = sim(msg("01"), bad, msg("08"), msg("03"), "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output
    docs = r.json
    assert len(docs) == 4
    for doc in (docs[1], docs[2]):
        assert set(doc) == ERROR_KEYS, doc
        assert doc["schema_version"] == 1 and doc["error"]
    assert docs[1]["source"] == str(bad)
    assert "no recipients" in docs[2]["error"]
    assert set(docs[0]) == TOP_KEYS and set(docs[3]) == TOP_KEYS
    assert summary(r.stderr) == (4, 2, 2, 2)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_batch_errors_in_table_output(sim):
    r = sim(msg("01"), msg("08"), "--at", AT)
    assert r.exit_code == 1, r.output
    assert "08-no-recipient-headers.eml" in r.stdout and "no recipients" in r.stdout
    assert "m.okonkwo@lexpartners.com" in r.stdout
    assert summary(r.stderr) == (2, 1, 1, 1)


def test_single_message_error_in_table_output_is_one_line(sim):
    r = sim(msg("08"), "--at", AT)
    one_line_error(r, "08-no-recipient-headers.eml", "no recipients", "--rcpt")
    assert r.stdout == ""


def test_single_message_error_in_json_is_an_error_object(sim):
    r = sim(msg("08"), "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output
    assert r.json == {
        "schema_version": 1,
        "source": msg("08"),
        "error": "no recipients: the message has no To, Cc or Bcc address (give --rcpt)",
    }


def test_quiet_suppresses_the_summary(demo):
    r = demo("-q", "simulate", msg("01"), msg("02"), "--at", AT, "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert len(r.stdout.splitlines()) == 2


def test_summary_counts_secure_recipients_and_portal_copies(sim):
    # 06: two external portal copies + evan's secure inbox copy (3 secure, 2 portal);
    # 02: nothing secure; 12: one portal copy (policy 3).
    r = sim(msg("06"), msg("02"), msg("12"), "--at", AT, "-o", "jsonl")
    assert r.exit_code == 0, r.output
    assert summary(r.stderr) == (3, 4, 3, 0)
    r = sim(msg("02"), msg("12"), "--at", AT, "-o", "jsonl")
    assert "1 portal copy," in r.stderr


# --- context options ---------------------------------------------------------


def test_mail_from_overrides_the_return_path(sim):
    default = one(sim, msg("07"), "--at", AT)
    assert default["message"]["envelope_from"] == "evan.price@harborfinch.co.uk"
    assert by_address(default)["r.santos@lexpartners.com"]["policy"]["id"] == 1
    doc = one(sim, msg("07"), "--at", AT, "--mail-from", "Ivan.Petrov@HarborFinch.com")
    assert doc["message"]["envelope_from"].lower() == "ivan.petrov@harborfinch.com"
    assert (
        doc["message"]["header_from"] == "evan.price@harborfinch.co.uk"
    )  # the header is not changed
    santos = by_address(doc)["r.santos@lexpartners.com"]
    # policy 1 keys on the envelope sender (group Legal): Ivan is not in it;
    # policy 5 (Role=Administrator -> everyone, no-action) decides instead.
    assert santos["secure"] is False and santos["route"] == "inbox"
    assert santos["policy"] == {
        "kind": "secure-messaging",
        "id": 5,
        "narrative": "The IT administrator's mail is never secured by policy",
    }


def test_mail_from_supplies_a_missing_sender(sim, tmp_path):
    path = tmp_path / "nosender.eml"
    path.write_bytes(b"To: m.okonkwo@lexpartners.com\nSubject: Confidential notes\n\nhello\n")
    r = sim(path, "--at", AT)
    one_line_error(r, "no sender", "--mail-from")
    doc = one(sim, path, "--at", AT, "--mail-from", "alice.morgan@harborfinch.com")
    assert doc["message"]["envelope_from"] == "alice.morgan@harborfinch.com"
    assert doc["message"]["header_from"] is None
    assert doc["recipients"][0]["trigger"] == "content"


def test_mail_from_invalid_is_a_one_line_error(sim):
    r = sim(msg("01"), "--at", AT, "--mail-from", "not an address")
    one_line_error(r, "not an address")
    assert r.stdout == ""


def test_rcpt_overrides_headers_is_repeatable_and_deduplicated(sim):
    doc = one(
        sim,
        msg("01"),
        "--at",
        AT,
        "--rcpt",
        "K.Brennan@Gmail.com",
        "--rcpt",
        "ben.okafor@harborfinch.com",
        "--rcpt",
        "k.brennan@gmail.com",
        "--rcpt",
        "BEN.OKAFOR@harborfinch.com",
    )
    addresses = [r["address"].lower() for r in doc["recipients"]]
    assert addresses == ["k.brennan@gmail.com", "ben.okafor@harborfinch.com"]
    brennan, ben = doc["recipients"]
    assert (brennan["internal"], brennan["route"], brennan["trigger"]) == (
        False,
        "portal",
        "content",
    )
    assert (ben["internal"], ben["route"], ben["trigger"]) == (True, "inbox", "content")
    assert ben["banner"] is not None and ben["portal"] is None


def test_rcpt_gives_recipients_to_a_message_without_any(sim):
    doc = one(sim, msg("08"), "--at", AT, *AUDITORS)
    assert [r["address"] for r in doc["recipients"]] == [
        "olivia.grant@ledgerline-audit.com",
        "samir.haddad@ledgerline-audit.com",
        "ben.okafor@harborfinch.com",
    ]


def test_rcpt_invalid_is_a_one_line_error(sim):
    r = sim(msg("01"), "--at", AT, "--rcpt", "bob@")
    one_line_error(r, "bob@")


def test_source_ip_default_is_the_top_received_header(sim):
    assert one(sim, msg("01"), "--at", AT)["message"]["source_ip"] == "203.0.113.10"
    assert one(sim, msg("07"), "--at", AT)["message"]["source_ip"] == "2001:db8:4f::25"
    assert one(sim, msg("11"), "--at", AT)["message"]["source_ip"] == "192.0.2.41"


def test_source_ip_overrides_and_changes_the_decision(sim):
    default = by_address(one(sim, msg("12"), "--at", AT))["treasury@mail.lexpartners.com"]
    assert (default["policy"]["id"], default["definition"]) == (3, "Finance/Statements, 2 Weeks")
    doc = one(sim, msg("12"), "--at", AT, "--source-ip", "198.51.100.40")
    assert doc["message"]["source_ip"] == "198.51.100.40"
    moved = by_address(doc)["treasury@mail.lexpartners.com"]
    # policy 3 is limited to the office networks; policy 2 (*.lexpartners.com) is left.
    assert (moved["policy"]["id"], moved["definition"]) == (2, "Default/External Recipients")
    v6 = one(sim, msg("12"), "--at", AT, "--source-ip", "2001:DB8:0:0::1")
    assert v6["message"]["source_ip"] == "2001:db8::1"
    assert by_address(v6)["treasury@mail.lexpartners.com"]["policy"]["id"] == 3  # in 2001:db8::/32


@pytest.mark.parametrize("bad", ["not-an-ip", "203.0.113.300", "10.0.0.0/8", ""])
def test_source_ip_invalid_is_a_one_line_error(sim, bad):
    r = sim(msg("01"), "--at", AT, "--source-ip", bad)
    one_line_error(r, "--source-ip")
    assert r.stdout == ""


def test_at_with_offset_is_kept_and_shown_in_account_time(sim):
    doc = one(sim, msg("01"), "--at", "2026-07-01T10:00:00+05:00")
    at = ts(doc["message"]["at"])
    assert at == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
    assert doc["message"]["at"] == "2026-07-01T06:00:00+01:00"  # Europe/London, summer time
    portal = doc["recipients"][0]["portal"]
    assert ts(portal["expires"]) == at + timedelta(days=7)
    z = one(sim, msg("01"), "--at", "2026-11-27T10:00:00Z")
    assert z["message"]["at"] == "2026-11-27T10:00:00+00:00"


def test_at_without_offset_is_account_time(sim):
    summer = one(sim, msg("01"), "--at", "2026-07-01T10:00:00")
    assert summer["message"]["at"] == "2026-07-01T10:00:00+01:00"
    assert ts(summer["message"]["at"]) == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    winter = one(sim, msg("01"), "--at", "2026-11-27T10:00:00")
    assert winter["message"]["at"] == "2026-11-27T10:00:00+00:00"
    date_only = one(sim, msg("01"), "--at", "2026-07-01")
    assert date_only["message"]["at"] == "2026-07-01T00:00:00+01:00"


def test_at_default_is_now(sim):
    before = datetime.now(UTC) - timedelta(seconds=5)
    doc = one(sim, msg("01"))
    after = datetime.now(UTC) + timedelta(seconds=5)
    assert before <= ts(doc["message"]["at"]) <= after


def test_at_decides_which_policies_are_active(sim):
    """Policy 4 runs 2027-01-01 .. 2027-03-31 (date-only end: through 24:00
    London time, which is BST on 31 March 2027)."""
    args = (
        msg("08"),
        "--rcpt",
        "olivia.grant@ledgerline-audit.com",
        "--source-ip",
        "198.51.100.40",
    )

    def olivia(at):
        return one(sim, *args, "--at", at)["recipients"][0]

    assert olivia("2026-12-31T23:59:59Z")["secure"] is False
    assert olivia("2027-01-01T00:00:00")["policy"]["id"] == 4
    assert olivia("2027-03-31T23:30:00+01:00")["policy"]["id"] == 4
    assert olivia("2027-03-31T23:30:00Z")["secure"] is False  # 00:30 on 1 April in London


def test_expiry_is_elapsed_time_however_at_is_written(sim):
    """20:00 BST on 24 Oct 2026 + 12 hours crosses the end of summer time:
    12 hours later is 07:00 GMT, whether --at is written in account time,
    with an offset or in UTC."""
    args = (msg("10"), "--definition", RESTRICTED, "--via", "gateway")
    for at in ("2026-10-24T20:00:00", "2026-10-24T20:00:00+01:00", "2026-10-24T19:00:00Z"):
        doc = one(sim, *args, "--at", at)
        assert doc["message"]["at"] == "2026-10-24T20:00:00+01:00", at
        olivia, ben = doc["recipients"]
        assert olivia["portal"]["expires"] == "2026-10-25T07:00:00+00:00", at
        assert olivia["portal"]["latest_expiry"] == "2026-10-25T07:00:00+00:00", at
        assert "on 2026-10-24 20:00 BST" in ben["banner"]["text"], at
        assert "External access ends 2026-10-25 07:00 GMT" in ben["banner"]["text"], at


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01", "27/11/2026 10:00", ""])
def test_at_invalid_is_a_one_line_error(sim, bad):
    r = sim(msg("01"), "--at", bad)
    one_line_error(r, "--at")
    assert r.stdout == ""


def test_via_default_gateway_and_banner_rules(sim):
    def evan(*extra):
        doc = one(sim, msg("06"), "--at", AT, *extra)
        return doc["message"]["via"], by_address(doc)["evan.price@harborfinch.co.uk"]["banner"]

    via, banner = evan()
    assert via == "gateway"
    assert banner["html"].startswith("<p>Secure message from ")  # the definition's custom banner
    assert evan("--via", "gateway")[1] == banner
    for app in ("outlook", "mobile", "Outlook"):
        via, other = evan("--via", app)
        assert via == app.lower()
        # SPEC §7.2: the custom banner is not used by Outlook or mobile
        assert other["html"].startswith(
            '<div class="secmsg-banner">This message was sent securely by '
            "zoe.angstrom@harborfinch.co.uk using Secure Messaging."
        )


def test_via_invalid_is_a_one_line_error(sim):
    r = sim(msg("01"), "--at", AT, "--via", "fax")
    one_line_error(r, "--via", "'fax'", "gateway", "outlook", "mobile")
    assert r.stdout == ""


def test_definition_chosen_by_the_sender(sim):
    doc = one(sim, msg("10"), "--at", AT, "--definition", RESTRICTED)
    assert doc["message"]["via"] == "outlook"  # the default with --definition
    olivia, ben = doc["recipients"]
    for r in (olivia, ben):
        assert (r["secure"], r["trigger"], r["definition"]) == (True, "user", RESTRICTED)
    # bypass 6 (Board -> Role=Auditor) matches Olivia but, with bypass_scope =
    # policy, removes only the policy trigger.
    assert olivia["bypass"]["id"] == 6
    assert olivia["route"] == "portal" and olivia["banner"] is None
    assert ts(olivia["portal"]["expires"]) == ts(AT) + timedelta(hours=12)
    assert ben["route"] == "inbox" and ben["portal"] is None
    assert "secmsg-banner" in ben["banner"]["html"]  # outlook: the standard banner
    gateway = one(sim, msg("10"), "--at", AT, "--definition", RESTRICTED, "--via", "gateway")
    assert gateway["message"]["via"] == "gateway"
    assert by_address(gateway)["ben.okafor@harborfinch.com"]["banner"]["html"].startswith(
        '<div class="hf-banner">'
    )


def test_definition_unknown_is_a_one_line_error(sim):
    r = sim(msg("01"), "--at", AT, "--definition", "Legal/No Such Thing")
    one_line_error(r, "Legal/No Such Thing", "not found")
    assert r.stdout == ""


def test_definition_not_published_to_the_sender(sim):
    # Legal/Restricted is published to the Board; Farah is not on it.
    r = sim(msg("03"), "--at", AT, "--definition", RESTRICTED)
    one_line_error(r, RESTRICTED, "farah.nasser@harborfinch.com")
    r = sim(msg("03"), "--at", AT, "--definition", RESTRICTED, "-o", "json")
    assert r.exit_code == 1, r.output
    assert set(r.json) == ERROR_KEYS
    assert RESTRICTED in r.json["error"] and "farah.nasser@harborfinch.com" in r.json["error"]


def test_definition_not_published_in_a_batch_is_one_error_row(sim):
    # Alice is on the Board (allowed), Farah is not.
    r = sim(msg("01"), msg("03"), "--at", AT, "--definition", RESTRICTED, "-o", "json")
    assert r.exit_code == 1, r.output
    alice, farah = r.json
    assert alice["recipients"][0]["trigger"] == "user"
    assert set(farah) == ERROR_KEYS and "farah.nasser@harborfinch.com" in farah["error"]
    assert summary(r.stderr) == (2, 1, 1, 1)


def test_definition_availability_uses_the_mail_from(sim):
    r = sim(
        msg("03"),
        "--at",
        AT,
        "--definition",
        RESTRICTED,
        "--mail-from",
        "dana.whitfield@harborfinch.com",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    assert all(x["trigger"] == "user" for x in r.json["recipients"])


# --- --explain ---------------------------------------------------------------


def _ids(demo, group: str) -> set[int]:
    r = demo(group, "list", "-o", "json")
    assert r.exit_code == 0, r.output
    return {row["id"] for row in r.json}


@pytest.mark.parametrize(
    "extra", [(), ("--definition", "Legal/Client Correspondence")], ids=["plain", "user"]
)
def test_explain_covers_every_policy_and_content_definition(demo, sim, extra):
    policies = {
        kind: _ids(demo, group)
        for kind, group in (
            ("secure-messaging", "policy"),
            ("bypass", "bypass"),
            ("content-examination", "content-policy"),
        )
    }
    content_defs = _ids(demo, "content-definition")
    assert policies == {
        "secure-messaging": {1, 2, 3, 4, 5},
        "bypass": {6},
        "content-examination": {7, 8, 9},
    }
    assert content_defs == {1, 2, 3}
    doc = one(sim, msg("03"), "--at", AT, "--explain", *extra)
    recipients = [r["address"] for r in doc["recipients"]]
    assert len(recipients) == 5
    entries = doc["explain"]
    for e in entries:
        assert set(e) == EXPLAIN_KEYS, e
        assert e["verdict"] in VERDICTS, e
        assert isinstance(e["reason"], str) and e["reason"].strip(), e
    for rcpt in recipients:
        for kind, ids in policies.items():
            got = sorted(e["id"] for e in entries if e["recipient"] == rcpt and e["kind"] == kind)
            assert got == sorted(ids), (rcpt, kind, got)
    message_level = [e for e in entries if e["recipient"] is None]
    assert sorted(e["id"] for e in message_level if e["kind"] == "content-definition") == sorted(
        content_defs
    )
    users = [e for e in entries if e["kind"] == "user"]
    if extra:
        assert sorted(e["recipient"] for e in users) == sorted(recipients)
        assert all(
            e["verdict"] == "chosen" and e["name"] == "Legal/Client Correspondence" for e in users
        )
    else:
        assert users == []


def test_explain_verdicts_tell_why(sim):
    doc = one(sim, msg("01"), "--at", AT, "--explain")
    v = {
        (e["kind"], e["id"]): e
        for e in doc["explain"]
        if e["recipient"] == "m.okonkwo@lexpartners.com"
    }
    assert v["content-examination", 7]["verdict"] == "won"
    assert (
        v["secure-messaging", 1]["verdict"] == "lost"
    )  # it matches, but the content trigger comes first
    assert "content" in v["secure-messaging", 1]["reason"]
    assert v["secure-messaging", 4]["verdict"] == "inactive"
    assert "2027-01-01" in v["secure-messaging", 4]["reason"]
    assert v["secure-messaging", 2]["verdict"] == "no-match"  # the apex is not a subdomain
    assert v["secure-messaging", 3]["verdict"] == "no-match"
    assert "Finance" in v["secure-messaging", 3]["reason"]
    defs = {e["id"]: e for e in doc["explain"] if e["kind"] == "content-definition"}
    assert defs[1]["verdict"] == "fired" and "Confidential" in defs[1]["reason"]
    assert defs[2]["verdict"] == "not-fired"


def test_explain_source_ip_reason(sim):
    doc = one(sim, msg("12"), "--at", AT, "--source-ip", "198.51.100.40", "--explain")
    p3 = next(e for e in doc["explain"] if e["kind"] == "secure-messaging" and e["id"] == 3)
    assert p3["verdict"] == "no-match"
    assert "198.51.100.40" in p3["reason"] and "203.0.113.0/24" in p3["reason"]


def test_without_explain_the_explanation_is_empty(sim):
    assert one(sim, msg("03"), "--at", AT)["explain"] == []


# --- --max-size ----------------------------------------------------------------


def test_max_size_refuses_a_larger_file_and_the_batch_goes_on(sim):
    small, large = msg("08"), msg("01")  # 721 and 1268 bytes
    assert Path(small).stat().st_size < 1000 < Path(large).stat().st_size
    r = sim(large, small, "--at", AT, "--max-size", "1000", *AUDITORS, "-o", "json")
    assert r.exit_code == 1, r.output
    refused, decided = r.json
    assert set(refused) == ERROR_KEYS and refused["source"] == large
    assert "1000" in refused["error"] and "--max-size" in refused["error"]
    assert set(decided) == TOP_KEYS


def test_max_size_units(sim):
    r = sim(msg("01"), "--at", AT, "--max-size", "1KB", "-o", "json")
    assert r.exit_code == 1 and "error" in r.json, r.output
    r = sim(msg("01"), "--at", AT, "--max-size", "2KB", "-o", "json")
    assert r.exit_code == 0 and "error" not in r.json, r.output


def test_max_size_refuses_without_reading_the_file_whole(sim, tmp_path):
    huge = tmp_path / "huge.eml"
    with huge.open("wb") as fh:  # sparse: 64 GiB that take no disk
        fh.write(Path(msg("01")).read_bytes())
        fh.truncate(64 * 1024**3)
    if huge.stat().st_blocks * 512 > 1024**2:
        pytest.skip("this file system does not make sparse files")
    r = sim(huge, msg("01"), "--at", AT, "-o", "json")
    assert r.exit_code == 1, r.output
    refused, decided = r.json
    assert refused["source"] == str(huge) and "--max-size" in refused["error"]
    assert "error" not in decided


def test_max_size_on_stdin(sim):
    r = sim("-", "--at", AT, "--max-size", "1000", "-o", "json", input=Path(msg("01")).read_bytes())
    assert r.exit_code == 1, r.output
    assert r.json["source"] == "-" and "--max-size" in r.json["error"]


def test_max_size_in_an_mbox(sim, tmp_path):
    box = _mbox(tmp_path / "box.mbox", "08", "01", "08")
    r = sim(box, "--at", AT, "--max-size", "1000", *AUDITORS, "-o", "json")
    assert r.exit_code == 1, r.output
    docs = r.json
    assert [("error" in d) for d in docs] == [False, True, False]
    assert docs[1]["source"] == f"{box}#2" and "--max-size" in docs[1]["error"]


@pytest.mark.parametrize("bad", ["lots", "0", "-5", "10XB"])
def test_max_size_invalid_is_a_one_line_error(sim, bad):
    r = sim(msg("01"), "--at", AT, "--max-size", bad)
    one_line_error(r, "--max-size")


# --- nothing is written ---------------------------------------------------------


def test_nothing_is_written_to_the_store(demo, sim, tmp_path, _isolated_store):
    def state():
        audit = demo("audit", "-n", "100000", "-o", "json")
        status = demo("db", "status", "-o", "json")
        assert audit.exit_code == 0 and status.exit_code == 0, audit.output + status.output
        return len(audit.json), status.json

    before = state()
    digest = hashlib.sha256(Path(_isolated_store).read_bytes()).hexdigest()
    box = _mbox(tmp_path / "box", "01", "03")
    runs = [
        (MESSAGES, "--at", AT, "-o", "jsonl", "--explain"),
        (msg("10"), "--at", AT, "--definition", RESTRICTED, "--explain"),
        (msg("03"), "--definition", RESTRICTED),  # an error
        (
            box,
            "-",
            "--mail-from",
            "ivan.petrov@harborfinch.com",
            *AUDITORS,
            "--source-ip",
            "10.1.2.3",
            "--via",
            "mobile",
            "-o",
            "json",
        ),
    ]
    for args in runs:
        r = sim(*args, input=Path(msg("06")).read_bytes())
        assert r.exit_code in (0, 1), r.output
    assert state() == before
    assert hashlib.sha256(Path(_isolated_store).read_bytes()).hexdigest() == digest
    assert (
        not Path(str(_isolated_store) + "-wal").exists()
        or Path(str(_isolated_store) + "-wal").stat().st_size == 0
    )


# --- the JSON schema (SPEC §8.2) ---------------------------------------------


def _check_schema(doc) -> None:
    assert set(doc) == TOP_KEYS
    assert doc["schema_version"] == 1
    assert isinstance(doc["source"], str)
    m = doc["message"]
    assert set(m) == MESSAGE_KEYS
    ts(m["at"])
    assert m["via"] in ("gateway", "outlook", "mobile")
    assert isinstance(doc["recipients"], list) and doc["recipients"]
    for r in doc["recipients"]:
        assert set(r) == RECIPIENT_KEYS, sorted(r)
        assert isinstance(r["internal"], bool) and isinstance(r["secure"], bool)
        assert r["route"] in ("portal", "inbox")
        assert r["trigger"] in (None, "user", "content", "policy")
        assert (r["definition"] is None) == (not r["secure"]) == (r["trigger"] is None)
        for ref in (r["policy"], r["bypass"]):
            assert ref is None or set(ref) == POLICY_KEYS
        for c in r["content"]:
            assert (
                set(c) == CONTENT_KEYS
                and isinstance(c["fired"], bool)
                and isinstance(c["score"], int)
            )
        if r["banner"] is not None:
            assert set(r["banner"]) == BANNER_KEYS
            assert r["route"] == "inbox" and r["internal"] and r["secure"]
        if r["route"] == "portal":
            p = r["portal"]
            assert set(p) == PORTAL_KEYS
            assert set(p["notification"]) == NOTIFICATION_KEYS
            assert p["notification"]["to"] == r["address"]
            assert p["notification"]["subject"] == "You've been sent a secure message"
            assert p["notification"]["portal_url"] == "https://secure.harborfinch.com/portal"
            for flag in ("allow_print", "allow_reply", "allow_reply_all", "read_receipt"):
                assert isinstance(p[flag], bool)
            if r["internal"]:
                assert p["expires"] is None and p["latest_expiry"] is None
            else:
                assert ts(p["expires"]) <= ts(p["latest_expiry"])
        else:
            assert r["portal"] is None
    assert isinstance(doc["explain"], list)


def test_json_schema_key_for_key(sim):
    doc = one(sim, msg("06"), "--at", AT)
    _check_schema(doc)
    jose = by_address(doc)["jose.mueller@clientco.example"]
    assert jose["portal"] == {
        "expires": "2026-12-04T10:00:00+00:00",
        "latest_expiry": "2026-12-18T10:00:00+00:00",
        "allow_print": False,
        "allow_reply": True,
        "allow_reply_all": False,
        "read_receipt": True,
        "notification": {
            "to": "jose.mueller@clientco.example",
            "subject": "You've been sent a secure message",
            "portal_url": "https://secure.harborfinch.com/portal",
        },
    }
    assert jose["policy"] == {
        "kind": "content-examination",
        "id": 7,
        "narrative": "Confidential subjects, outbound",
    }
    evan = by_address(doc)["evan.price@harborfinch.co.uk"]
    assert set(evan["banner"]) == BANNER_KEYS and evan["portal"] is None


@pytest.mark.parametrize(
    "extra",
    [
        (),
        ("--definition", "Default/All Recipients", "--via", "gateway"),
        ("--definition", RESTRICTED, "--mail-from", "dana.whitfield@harborfinch.com", "--explain"),
    ],
    ids=["plain", "all-recipients", "restricted"],
)
def test_json_schema_on_every_demo_message(sim, extra):
    r = sim(MESSAGES, "--at", AT, "-o", "json", *extra)
    docs = r.json
    assert len(docs) == 12
    for doc in docs:
        if "error" in doc:
            assert set(doc) == ERROR_KEYS and doc["schema_version"] == 1
        else:
            _check_schema(doc)


def test_times_are_iso_8601_with_offset(sim):
    doc = one(sim, msg("08"), "--at", "2026-07-15T12:00:00", *AUDITORS)
    assert doc["message"]["at"] == "2026-07-15T12:00:00+01:00"
    olivia = doc["recipients"][0]["portal"]
    # Statements, 2 Weeks: 14 days, extendable by 14 more.
    assert olivia["expires"] == "2026-07-29T12:00:00+01:00"
    assert olivia["latest_expiry"] == "2026-08-12T12:00:00+01:00"
    for value in (doc["message"]["at"], olivia["expires"], olivia["latest_expiry"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", value), value


def test_internal_portal_copy_never_expires_and_is_unrestricted(sim):
    # All Recipients routes internal recipients to the portal unless sent via Outlook.
    doc = one(
        sim, msg("03"), "--at", AT, "--definition", "Default/All Recipients", "--via", "gateway"
    )
    alice = by_address(doc)["alice.morgan@harborfinch.com"]
    assert alice["route"] == "portal" and alice["banner"] is None
    assert alice["portal"]["expires"] is None and alice["portal"]["latest_expiry"] is None
    assert (
        alice["portal"]["allow_print"],
        alice["portal"]["allow_reply"],
        alice["portal"]["allow_reply_all"],
    ) == (True, True, True)
    outlook = one(sim, msg("03"), "--at", AT, "--definition", "Default/All Recipients")
    alice = by_address(outlook)["alice.morgan@harborfinch.com"]
    assert alice["route"] == "inbox" and alice["banner"] is not None and alice["portal"] is None


def test_json_is_written_plainly(sim):
    """No wrapping console: a long subject stays on one line of JSON."""
    r = sim(msg("06"), "--at", AT, "-o", "jsonl")
    assert r.exit_code == 0
    assert len(r.stdout.splitlines()) == 1
    assert "für Müller" in r.stdout  # not \u-escaped
