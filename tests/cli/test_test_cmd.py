"""`secmsg test CASES.toml`: expectation cases, JUnit, JSON, coverage (SPEC §9, issue 6)."""

from __future__ import annotations

import textwrap
import tomllib
import xml.etree.ElementTree as ET
from datetime import UTC

import pytest

from tests.conftest import DEMO, FIXTURES

MESSAGES = FIXTURES / "messages"
M01 = MESSAGES / "01-confidential-subject-to-counsel.eml"
M03 = MESSAGES / "03-mixed-internal-external.eml"
M06 = MESSAGES / "06-rfc2047-non-ascii-names.eml"
M08 = MESSAGES / "08-no-recipient-headers.eml"
M10 = MESSAGES / "10-board-to-auditor-pdf.eml"

# Case 01 with the demo config at 2026-11-27T10:00Z: content policy 7 sends
# it to the portal under "Legal/7-Day Expiry, Receipt" (see fixtures/cases.toml).
CASE_01 = f"""
[[case]]
name = "counsel"
message = '{M01}'

[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
route = "portal"
policy = 7
"""


def write(tmp_path, text: str, name: str = "cases.toml"):
    path = tmp_path / name
    body = textwrap.dedent(text)
    if "[defaults]" not in body:
        body = "[defaults]\nat = 2026-11-27T10:00:00Z\n" + body
    path.write_text(body, encoding="utf-8")
    return path


def run(cli, path, *extra):
    return cli("test", path, "--config", DEMO, *extra)


def last_line(r) -> str:
    return r.stdout.rstrip("\n").splitlines()[-1]


# --- pass and fail ----------------------------------------------------------------


def test_passing_case_exits_0_with_the_summary_last(cli, tmp_path):
    r = run(cli, write(tmp_path, CASE_01))
    assert r.exit_code == 0, r.output
    assert "PASS  counsel" in r.stdout
    assert last_line(r) == "1 passed, 0 failed"


def test_quiet_prints_only_failures_and_the_summary(cli, tmp_path):
    r = cli("-q", "test", write(tmp_path, CASE_01), "--config", DEMO)
    assert r.exit_code == 0, r.output
    assert r.stdout == "1 passed, 0 failed\n"


def test_failing_case_shows_a_diff_and_exits_4(cli, tmp_path):
    path = write(
        tmp_path,
        CASE_01
        + f"""
[[case]]
name = "wrong route"
message = '{M01}'

[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
route = "inbox"
definition = "Legal/7-Day Expiry, Receipt"
policy = 1
""",
    )
    r = run(cli, path)
    assert r.exit_code == 4, r.output
    assert "PASS  counsel" in r.stdout
    assert "FAIL  wrong route" in r.stdout
    assert "m.okonkwo@lexpartners.com:" in r.stdout
    assert "route: expected inbox, got portal" in r.stdout
    assert "policy: expected 1, got 7 (Confidential subjects, outbound)" in r.stdout
    assert "definition:" not in r.stdout  # only the fields that differ
    assert "why: content policy 7" in r.stdout  # the engine's reason
    assert last_line(r) == "1 passed, 1 failed"


# One expectation per field, right and wrong, on cases whose outcome the SPEC fixes.
FIELDS = [
    # (message, recipient, field, right, wrong, shown in the diff)
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "route",
        '"portal"',
        '"inbox"',
        "route: expected inbox, got portal",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "secure",
        "true",
        "false",
        "secure: expected false, got true",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "internal",
        "false",
        "true",
        "internal: expected true, got false",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "definition",
        '"legal/7-day expiry, receipt"',
        '"Legal/Client Correspondence"',
        "definition: expected Legal/Client Correspondence, got Legal/7-Day Expiry, Receipt",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "definition",
        '"Legal/7-Day Expiry, Receipt"',
        '"none"',
        "definition: expected none, got Legal/7-Day Expiry, Receipt",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "trigger",
        '"content"',
        '"policy"',
        "trigger: expected policy, got content",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "policy",
        '"Confidential subjects, outbound"',
        '"Legal mail to partner counsel goes through the portal"',
        "policy: expected Legal mail to partner counsel goes through the portal, got 7 (Confidential subjects, outbound)",
    ),
    (M01, "m.okonkwo@lexpartners.com", "bypass", "false", "6", "bypass: expected 6, got none"),
    (
        M10,
        "olivia.grant@ledgerline-audit.com",
        "bypass",
        "6",
        '"none"',
        "bypass: expected none, got 6 (Board mail to auditors is not secured)",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "expires",
        "2026-12-04T10:00:00Z",
        '"2026-12-04T11:00:00+00:00"',
        "expires: expected 2026-12-04T11:00:00+00:00, got 2026-12-04T10:00:00+00:00",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "latest_expiry",
        '"2026-12-18T10:00:00"',
        '"none"',
        "latest_expiry: expected none, got 2026-12-18T10:00:00+00:00",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "allow_print",
        "false",
        "true",
        "allow_print: expected true, got false",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "read_receipt",
        "true",
        "false",
        "read_receipt: expected false, got true",
    ),
    (
        M01,
        "m.okonkwo@lexpartners.com",
        "banner_absent",
        "true",
        "false",
        "banner_absent: expected a banner, got no banner",
    ),
    (
        M06,
        "evan.price@harborfinch.co.uk",
        "banner_absent",
        "false",
        "true",
        "banner_absent: expected no banner, got banner",
    ),
    (
        M06,
        "evan.price@harborfinch.co.uk",
        "banner_contains",
        '["Zoë Ångström", "Müller GmbH"]',
        '["Zoë Ångström", "Mueller"]',
        "banner_contains: expected the banner to contain 'Mueller', got banner",
    ),
    (
        M06,
        "evan.price@harborfinch.co.uk",
        "expires",
        '"none"',
        "2026-12-04T10:00:00Z",
        "expires: expected 2026-12-04T10:00:00+00:00, got none (no portal record)",
    ),
    (
        M06,
        "evan.price@harborfinch.co.uk",
        "allow_print",
        "true",
        "false",
        None,
    ),  # no portal record: never passes
]


@pytest.mark.parametrize(
    "message, recipient, field, right, wrong, shown",
    FIELDS,
    ids=[f"{f[2]}-{i}" for i, f in enumerate(FIELDS)],
)
def test_each_expectation_field_passes_when_right_and_fails_when_wrong(
    cli, tmp_path, message, recipient, field, right, wrong, shown
):
    def case(value: str) -> str:
        return f"""
[[case]]
name = "c"
message = '{message}'
partial = true

[[case.expect]]
recipient = "{recipient}"
{field} = {value}
"""

    good = run(cli, write(tmp_path, case(right), "good.toml"))
    bad = run(cli, write(tmp_path, case(wrong), "bad.toml"))
    if shown is None:  # a value that cannot be right
        assert good.exit_code == 4, good.output
        assert "no portal record" in good.stdout
        return
    assert good.exit_code == 0, good.output
    assert bad.exit_code == 4, bad.output
    assert shown in bad.stdout, bad.output


def test_every_decided_recipient_needs_an_expectation_unless_partial(cli, tmp_path):
    case = f"""
[[case]]
name = "only counsel"
message = '{M03}'
{{partial}}
[[case.expect]]
recipient = "M.Okonkwo@LexPartners.com"
route = "portal"
"""
    strict = run(cli, write(tmp_path, case.format(partial=""), "strict.toml"))
    assert strict.exit_code == 4, strict.output
    assert (
        "j.herrera@clientco.example:\n    recipient: not expected, but decided: inbox, not secure"
        in strict.stdout
    )
    assert strict.stdout.count("recipient: not expected") == 4  # 5 unique recipients, 1 listed
    loose = run(cli, write(tmp_path, case.format(partial="partial = true"), "loose.toml"))
    assert loose.exit_code == 0, loose.output


def test_an_expected_recipient_that_is_not_decided_fails(cli, tmp_path):
    r = run(
        cli,
        write(
            tmp_path,
            CASE_01
            + """
[[case.expect]]
recipient = "someone@lexpartners.com"
secure = true
""",
        ),
    )
    assert r.exit_code == 4, r.output
    assert (
        "someone@lexpartners.com:\n    recipient: expected, but not a recipient of the message "
        "(recipients: m.okonkwo@lexpartners.com)" in r.stdout
    )


def test_context_options_reach_the_engine(cli, tmp_path):
    # rcpt / source_ip / at / definition / via / mail_from, each changing the outcome.
    r = run(
        cli,
        write(
            tmp_path,
            f"""
[[case]]
name = "rcpt, source_ip, at"
message = '{M08}'
rcpt = "olivia.grant@ledgerline-audit.com"
source_ip = "198.51.100.40"
at = "2027-02-01T10:00:00"

[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
policy = 4
expires = "2028-02-01T10:00:00Z"

[[case]]
name = "mail_from"
message = '{M08}'
rcpt = ["olivia.grant@ledgerline-audit.com"]
mail_from = "dana.whitfield@harborfinch.com"
at = 2027-02-01T10:00:00Z

[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
secure = false
bypass = 6

[[case]]
name = "definition and via"
message = '{M10}'
definition = "Default/All Recipients"
via = "gateway"

[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
trigger = "user"

[[case.expect]]
recipient = "ben.okafor@harborfinch.com"
route = "portal"
""",
        ),
    )
    assert r.exit_code == 0, r.output
    assert last_line(r) == "3 passed, 0 failed"


def test_inline_messages_are_real_rfc5322(cli, tmp_path):
    from secmsg_cli.engine.message import parse_message
    from secmsg_cli.testing import build_inline

    data = build_inline(
        {
            "headers": [
                "Received: from relay (relay [203.0.113.9]) by gw",
                "From: Zoë <zoe.angstrom@harborfinch.co.uk>",
                "To: a@clientco.example, b@clientco.example",
                "Subject: Müller – Änderungen",
            ],
            "body": "plain body\n",
            "html": "<p>html <b>body</b></p>",
            "attachments": [{"filename": "x.csv", "content": "1,2\n", "content_type": "text/csv"}],
        }
    )
    assert b"Subject: =?utf-8?" in data  # RFC 2047 on the wire
    m = parse_message(data)
    assert m.subject == "Müller – Änderungen"
    assert m.header_from == "zoe.angstrom@harborfinch.co.uk"
    assert list(m.recipients) == ["a@clientco.example", "b@clientco.example"]
    assert m.source_ip == "203.0.113.9"
    assert [a.filename for a in m.attachments()] == ["x.csv"]
    assert any("html body" in t for t in m.body_texts())

    r = run(
        cli,
        write(
            tmp_path,
            """
[[case]]
name = "inline"

[case.inline]
headers = { From = "alice.morgan@harborfinch.com", To = ["x@clientco.example", "y@clientco.example"], Subject = "Hello" }
body = "This is privileged & confidential.\\n"

[[case.expect]]
recipient = "x@clientco.example"
policy = 9

[[case.expect]]
recipient = "y@clientco.example"
policy = 9
""",
        ),
    )
    assert r.exit_code == 0, r.output


# --- errors expected and unexpected ---------------------------------------------------


def test_error_contains(cli, tmp_path):
    r = run(
        cli,
        write(
            tmp_path,
            f"""
[[case]]
name = "refused"
message = '{M08}'
error_contains = "NO RECIPIENTS"

[[case]]
name = "not refused"
message = '{M01}'
error_contains = "no recipients"
""",
        ),
    )
    assert r.exit_code == 4, r.output
    assert "PASS  refused" in r.stdout
    assert "FAIL  not refused" in r.stdout
    assert (
        "error: expected an error containing 'no recipients', got no error: decided 1 recipient(s)"
        in r.stdout
    )
    assert last_line(r) == "1 passed, 1 failed"


def test_an_unexpected_engine_error_is_an_error(cli, tmp_path):
    r = run(
        cli,
        write(
            tmp_path,
            f"""
[[case]]
name = "no rcpt"
message = '{M08}'

[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
secure = true
""",
        ),
    )
    assert r.exit_code == 4, r.output
    assert "ERROR no rcpt" in r.stdout
    assert "error: no recipients" in r.stdout
    assert last_line(r) == "0 passed, 1 failed"


# --- JUnit and JSON --------------------------------------------------------------------


def test_junit_xml_parses_back_with_counts_names_and_diffs(cli, tmp_path):
    path = write(
        tmp_path,
        CASE_01
        + f"""
[[case]]
name = "wrong <route> & co"
message = '{M01}'

[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
route = "inbox"

[[case]]
name = "engine error"
message = '{M08}'

[[case.expect]]
recipient = "x@example.com"
""",
    )
    report = tmp_path / "out" / "report.xml"
    report.parent.mkdir()
    r = run(cli, path, "--junit", report)
    assert r.exit_code == 4, r.output
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["counsel", "wrong <route> & co", "engine error"]
    assert all(float(c.get("time")) >= 0 for c in cases)
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert "route: expected inbox, got portal" in failure.text
    assert "1 expectation not met" in failure.get("message")
    error = cases[2].find("error")
    assert error is not None and "no recipients" in error.get("message")


def test_junit_is_written_when_everything_passes(cli, tmp_path):
    report = tmp_path / "report.xml"
    r = run(cli, write(tmp_path, CASE_01), "--junit", report)
    assert r.exit_code == 0, r.output
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")


def _only_suite(report):
    root = ET.parse(report).getroot()
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    return suites[0]


def test_an_invalid_cases_file_still_writes_the_junit_report(cli, tmp_path):
    """CI's "publish the test report" step needs a report to show, not none."""
    path = write(
        tmp_path,
        f"""
[[case]]
name = "a"
message = '{M01}'
colour = "red"

[[case.expect]]
recipient = "x@y.z"
route = "sideways"
""",
    )
    report = tmp_path / "report.xml"
    r = run(cli, path, "--junit", report)
    assert r.exit_code == 3, r.output
    suite = _only_suite(report)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    (case,) = suite.findall("testcase")
    error = case.find("error")
    assert error is not None
    assert "2 problems" in error.get("message")
    assert "unknown key 'colour'" in error.text and "'sideways' is not one of" in error.text


@pytest.mark.parametrize("what", ["unreadable", "bad-toml", "bad-config"])
def test_a_cases_run_that_cannot_start_writes_one_errored_testcase(cli, tmp_path, what):
    cases, config = write(tmp_path, CASE_01), DEMO
    if what == "unreadable":
        cases = tmp_path / "nope.toml"
    elif what == "bad-toml":
        cases.write_text("[[case]\nname = 1\n", encoding="utf-8")
    else:
        config = tmp_path / "bad.toml"
        config.write_text("[[policies]]\nkind = 'secure-messaging'\n", encoding="utf-8")
    report = tmp_path / "report.xml"
    r = cli("test", cases, "--config", config, "--junit", report)
    assert r.exit_code == 3, r.output
    (case,) = _only_suite(report).findall("testcase")
    error = case.find("error")
    assert error is not None and error.get("message"), what
    first = r.stderr.splitlines()[0].removeprefix("error: ")
    assert first in error.get("message")  # the problem itself, not only how many
    report_text = error.get("message") + "\n" + (error.text or "")
    for line in r.stderr.splitlines():
        assert line.removeprefix("error: ").strip().removeprefix("- ") in report_text, line


# --- --run REGEX ------------------------------------------------------------------------

THREE = (
    CASE_01
    + CASE_01.replace('name = "counsel"', 'name = "counsel again"')
    + f"""
[[case]]
name = "auditor, wrong on purpose"
message = '{M01}'

[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
route = "inbox"
"""
)


def test_run_selects_cases_by_name_with_a_search(cli, tmp_path):
    path = write(tmp_path, THREE)
    assert run(cli, path).exit_code == 4  # the third case fails
    report = tmp_path / "report.xml"
    r = run(cli, path, "--run", "couns", "--junit", report)
    assert r.exit_code == 0, r.output
    assert "PASS  counsel " in r.stdout and "PASS  counsel again" in r.stdout
    assert "auditor" not in r.stdout
    assert last_line(r) == "2 passed, 0 failed (2 of 3 cases selected by --run)"
    suite = _only_suite(report)
    assert suite.get("tests") == "2"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"run": "couns", "selected": "2 of 3"}
    r = run(cli, path, "--run", "again$|^aud")
    assert r.exit_code == 4, r.output
    assert last_line(r) == "1 passed, 1 failed (2 of 3 cases selected by --run)"
    r = run(cli, path, "--run", "AUDITOR", "-o", "json")
    assert r.exit_code == 1 and r.stdout == "", r.output  # case-sensitive: none selected


def test_run_selecting_nothing_is_an_error_not_a_green_run(cli, tmp_path):
    path = write(tmp_path, THREE)
    report = tmp_path / "report.xml"
    r = run(cli, path, "--run", "nobody", "--junit", report)
    assert r.exit_code == 1, r.output
    assert r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: --run 'nobody' selects none of the 3 case(s)")
    (case,) = _only_suite(report).findall("testcase")
    assert "selects none" in case.find("error").get("message")


def test_an_invalid_run_regex_is_a_usage_error(cli, tmp_path):
    r = run(cli, write(tmp_path, THREE), "--run", "coun(sel")
    assert r.exit_code == 2, r.output
    assert "not a valid regular expression" in r.stderr and "Traceback" not in r.stderr


def test_json_output_is_a_list_of_case_results(cli, tmp_path):
    path = write(
        tmp_path,
        CASE_01
        + f"""
[[case]]
name = "wrong"
message = '{M01}'

[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
secure = false
""",
    )
    r = run(cli, path, "-o", "json")
    assert r.exit_code == 4, r.output
    docs = r.json
    assert isinstance(docs, list) and [d["name"] for d in docs] == ["counsel", "wrong"]
    assert [d["status"] for d in docs] == ["passed", "failed"]
    assert docs[0]["mismatches"] == []
    assert docs[1]["mismatches"] == [
        {
            "recipient": "m.okonkwo@lexpartners.com",
            "field": "secure",
            "expected": False,
            "actual": True,
        }
    ]
    assert docs[1]["decision"]["recipients"][0]["definition"] == "Legal/7-Day Expiry, Receipt"
    assert r.stderr.strip() == "1 passed, 1 failed"


# --- invalid cases files -------------------------------------------------------------------

INVALID = [
    (
        "unknown-case-key",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nrout = 'portal'\n[[case.expect]]\nrecipient = 'x@y.z'\n",
        [":6:1: error case 'a': unknown key 'rout'"],
    ),
    (
        "unknown-expect-key",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\nrecipient = 'x@y.z'\nbanner = 'x'\n",
        [":8:1: error case 'a': unknown key 'banner' in [[case.expect]]"],
    ),
    ("unknown-top-key", "[[cases]]\nname = 'a'\n", ["unknown key 'cases'"]),
    (
        "unknown-default",
        "[defaults]\nwhen = 1\n[[case]]\nname = 'a'\n",
        [":2:1: error [defaults]: unknown key 'when'"],
    ),
    (
        "missing-name",
        f"[[case]]\nmessage = '{M01}'\n[[case.expect]]\nrecipient = 'x@y.z'\n",
        ["case #1: missing 'name'"],
    ),
    (
        "duplicate-name",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nerror_contains = 'x'\n"
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nerror_contains = 'x'\n",
        ["case 'a': duplicate name (also case #1)"],
    ),
    ("no-message", "[[case]]\nname = 'a'\nerror_contains = 'x'\n", ["case 'a': no message"]),
    (
        "message-and-inline",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nerror_contains = 'x'\n[case.inline]\nbody = 'x'\n",
        ["case 'a': give exactly one of 'message'"],
    ),
    (
        "missing-message",
        "[[case]]\nname = 'a'\nmessage = 'nope.eml'\nerror_contains = 'x'\n",
        ["case 'a': message: nope.eml not found"],
    ),
    (
        "nothing-to-check",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n",
        ["case 'a': nothing to check"],
    ),
    (
        "both-checks",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nerror_contains = 'x'\n[[case.expect]]\nrecipient = 'x@y.z'\n",
        ["give either error_contains or [[case.expect]]"],
    ),
    (
        "bad-trigger",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\nrecipient = 'x@y.z'\ntrigger = 'bypass'\n",
        [":8:1: error case 'a': trigger: 'bypass' is not one of user, content, policy, none"],
    ),
    (
        "bad-route",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\nrecipient = 'x@y.z'\nroute = 'outbox'\n",
        ["route: 'outbox' is not one of portal, inbox"],
    ),
    (
        "bad-secure",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\nrecipient = 'x@y.z'\nsecure = 'yes'\n",
        ["secure: expected true or false, got a string"],
    ),
    (
        "missing-recipient",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\nroute = 'portal'\n",
        ["expect #1: missing 'recipient'"],
    ),
    (
        "bad-rcpt",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nrcpt = ['not an address']\nerror_contains = 'x'\n",
        ["case 'a': rcpt[0]:"],
    ),
    (
        "bad-ip",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nsource_ip = '10.0.0.300'\nerror_contains = 'x'\n",
        ["source_ip: invalid address '10.0.0.300'"],
    ),
    (
        "bad-via",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nvia = 'fax'\nerror_contains = 'x'\n",
        ["via: 'fax' is not one of gateway, outlook, mobile"],
    ),
    (
        "bad-at",
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\nat = 'tomorrow'\nerror_contains = 'x'\n",
        ["at: invalid datetime 'tomorrow'"],
    ),
    (
        "inline-mime-header",
        "[[case]]\nname = 'a'\nerror_contains = 'x'\n[case.inline]\n"
        "headers = { 'Content-Type' = 'text/html' }\n",
        ["Content-Type is set from body"],
    ),
    (
        "inline-unknown-key",
        "[[case]]\nname = 'a'\nerror_contains = 'x'\n[case.inline]\nsubject = 'x'\n",
        [":7:1: error case 'a': unknown key 'subject' in [case.inline]"],
    ),
    ("invalid-toml", "[[case]\nname = 'a'\n", [":1:7: error SM001 the table header needs"]),
    ("no-cases", "# nothing\n", ["no cases"]),
]


@pytest.mark.parametrize(
    "text, fragments", [(t, f) for _, t, f in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_invalid_cases_file_exits_3_naming_the_problem(cli, tmp_path, text, fragments):
    path = tmp_path / "cases.toml"
    # at is given for all but the defaults test, which has its own [defaults]
    path.write_text(
        text
        if text.startswith(("[defaults]", "[[case]\n", "# nothing"))
        else "[defaults]\nat = 2026-11-27T10:00:00Z\n" + text,
        encoding="utf-8",
    )
    r = run(cli, path)
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines()[-1].startswith(f"error: {path}"), r.output
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)
    assert r.stdout == ""


def test_an_expected_expiry_needs_a_fixed_time(cli, tmp_path):
    path = tmp_path / "cases.toml"
    path.write_text(
        f"[[case]]\nname = 'a'\nmessage = '{M01}'\n[[case.expect]]\n"
        "recipient = 'm.okonkwo@lexpartners.com'\nexpires = 2026-12-04T10:00:00Z\n",
        encoding="utf-8",
    )
    r = run(cli, path)
    assert r.exit_code == 3, r.output
    assert ":6:1: error case 'a': an expected expiry needs a fixed time" in r.stderr


def test_every_problem_is_listed(cli, tmp_path):
    path = write(
        tmp_path,
        f"""
[[case]]
name = "a"
message = '{M01}'
colour = "red"

[[case.expect]]
recipient = "x@y.z"
route = "sideways"
""",
    )
    r = run(cli, path)
    assert r.exit_code == 3, r.output
    colour, route, last = r.stderr.splitlines()  # each problem once, then the count
    assert last == f"error: {path}: 2 problems"
    assert colour.startswith(f"{path}:7:1: error case 'a': unknown key 'colour'")
    assert route.startswith(f"{path}:11:1: error case 'a': route: 'sideways' is not one of portal")


def test_missing_cases_file_exits_3(cli, tmp_path):
    r = run(cli, tmp_path / "nope.toml")
    assert r.exit_code == 3, r.output
    assert "cannot read cases file" in r.stderr


def test_message_paths_are_relative_to_the_cases_file(cli, tmp_path, monkeypatch):
    sub = tmp_path / "ci"
    (sub / "mail").mkdir(parents=True)
    (sub / "mail" / "m.eml").write_bytes(M01.read_bytes())
    write(sub, CASE_01.replace(f"'{M01}'", "'mail/m.eml'"))
    monkeypatch.chdir(tmp_path)
    r = run(cli, "ci/cases.toml")
    assert r.exit_code == 0, r.output


# --- the store or a config file ---------------------------------------------------------


def test_config_file_runs_without_creating_the_store(bare_cli, tmp_path, _isolated_store):
    r = run(bare_cli, write(tmp_path, CASE_01))
    assert r.exit_code == 0, r.output
    assert not _isolated_store.exists()


def test_without_config_the_store_is_used(cli, tmp_path):
    path = write(tmp_path, CASE_01)
    empty = cli("test", path)  # a new, empty store: no policy secures anything
    assert empty.exit_code == 4, empty.output
    assert "route: expected portal, got inbox" in empty.stdout
    assert cli("import", DEMO).exit_code == 0
    loaded = cli("test", path)
    assert loaded.exit_code == 0, loaded.output


def test_config_wins_over_the_store(demo, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('[account]\nname = "Empty"\n', encoding="utf-8")
    path = write(tmp_path, CASE_01)
    assert demo("test", path).exit_code == 0
    r = demo("test", path, "--config", other)
    assert r.exit_code == 4, r.output


def test_invalid_config_file_exits_3(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[policies]]\nkind = 'secure-messaging'\n", encoding="utf-8")
    r = cli("test", write(tmp_path, CASE_01), "--config", bad)
    assert r.exit_code == 3, r.output


# --- coverage -----------------------------------------------------------------------------

COVERAGE_CASES = f"""
[[case]]
name = "01"
message = '{M01}'
partial = true
[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
policy = 7

[[case]]
name = "03"
message = '{M03}'
partial = true
[[case.expect]]
recipient = "m.okonkwo@lexpartners.com"
policy = 1

[[case]]
name = "06"
message = '{M06}'
partial = true
[[case.expect]]
recipient = "evan.price@harborfinch.co.uk"
policy = 7

[[case]]
name = "10"
message = '{M10}'
partial = true
[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
bypass = 6

# content definitions 1 (score 1) and 3 (score 3) both fire; policy 9 wins.
[[case]]
name = "two fire"
[case.inline]
headers = {{ From = "alice.morgan@harborfinch.com", To = "x@clientco.example", Subject = "Confidential" }}
body = "privileged & confidential"
[[case.expect]]
recipient = "x@clientco.example"
policy = 9

[[case]]
name = "refused"
message = '{M08}'
error_contains = "no recipients"
"""


def test_coverage_counts_cases_and_recipients(cli, tmp_path):
    r = run(cli, write(tmp_path, COVERAGE_CASES), "--coverage", "-o", "json")
    assert r.exit_code == 0, r.output
    doc = r.json
    assert [c["status"] for c in doc["cases"]] == ["passed"] * 6
    cov = doc["coverage"]
    rows = {(row["kind"], row["id"]): (row["decided"], row["recipients"]) for row in cov["rows"]}
    assert rows == {
        ("secure-messaging", 1): (1, 1),
        ("secure-messaging", 2): (0, 0),
        ("secure-messaging", 3): (0, 0),
        ("secure-messaging", 4): (0, 0),
        ("secure-messaging", 5): (0, 0),
        ("bypass", 6): (1, 1),
        ("content-examination", 7): (2, 4),  # 01: 1 recipient, 06: 3
        ("content-examination", 8): (0, 0),
        ("content-examination", 9): (1, 1),
        ("content-definition", 1): (3, 5),  # fired in "two fire" too, though 9 won
        ("content-definition", 2): (0, 0),
        ("content-definition", 3): (1, 1),
    }
    assert (cov["covered"], cov["total"], cov["units"]) == (6, 12, 5)
    assert cov["percent"] == 50.0


def test_coverage_table_flags_what_never_decided(cli, tmp_path):
    r = run(cli, write(tmp_path, COVERAGE_CASES), "--coverage")
    assert r.exit_code == 0, r.output
    flagged = [line for line in r.stdout.splitlines() if "never decided" in line]
    assert len(flagged) == 6
    assert any("Card numbers in attachments" in line for line in flagged)
    assert not any("Confidential subject " in line for line in flagged)
    assert (
        "coverage: 6 of 12 policies and content definitions decided at least one case (50.0%)"
        in r.stdout
    )
    assert last_line(r) == "6 passed, 0 failed"


def test_coverage_report_directly():
    from datetime import datetime

    from secmsg_cli.config import load_file
    from secmsg_cli.coverage import Coverage
    from secmsg_cli.engine.decide import Context, decide
    from secmsg_cli.engine.message import parse_message

    store = load_file(str(DEMO))
    snapshot = store.snapshot()
    store.close()
    cov = Coverage()
    assert cov.report(snapshot).percent == 0.0
    at = datetime(2026, 11, 27, 10, tzinfo=UTC)
    for _ in range(2):
        cov.add(decide(snapshot, parse_message(M01.read_bytes()), Context(at=at)))
    report = cov.report(snapshot)
    assert report.units == 2
    assert [(r.kind, r.id, r.decided) for r in report.rows if r.covered] == [
        ("content-examination", 7, 2),
        ("content-definition", 1, 2),
    ]
    assert len(report.never) == 10
    assert round(report.percent, 2) == 16.67


@pytest.mark.parametrize("pct, code", [("50", 0), ("0", 0), ("50.1", 4), ("100", 4)])
def test_min_coverage(cli, tmp_path, pct, code):
    r = run(cli, write(tmp_path, COVERAGE_CASES), "--min-coverage", pct)
    assert r.exit_code == code, r.output
    assert last_line(r) == "6 passed, 0 failed"  # every case passed; only coverage decides
    if code:
        assert f"error: coverage 50.0% is below --min-coverage {pct}%" in r.stderr
        assert "secure-messaging 2" in r.stderr
    else:
        assert r.stderr == ""


def test_min_coverage_out_of_range_is_a_usage_error(cli, tmp_path):
    r = run(cli, write(tmp_path, CASE_01), "--min-coverage", "101")
    assert r.exit_code == 2, r.output


# --- the demo cases --------------------------------------------------------------------------


def test_fixture_cases_pass_against_the_demo(bare_cli, tmp_path, _isolated_store):
    cli = bare_cli
    report = tmp_path / "report.xml"
    r = cli(
        "test",
        FIXTURES / "cases.toml",
        "--config",
        DEMO,
        "--junit",
        report,
        "--min-coverage",
        "100",
    )
    assert r.exit_code == 0, r.output
    doc = tomllib.loads((FIXTURES / "cases.toml").read_text(encoding="utf-8"))
    n = len(doc["case"])
    assert last_line(r) == f"{n} passed, 0 failed"
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == (str(n), "0", "0")
    assert not _isolated_store.exists()


def test_fixture_cases_cover_every_demo_message():
    doc = tomllib.loads((FIXTURES / "cases.toml").read_text(encoding="utf-8"))
    used = {case["message"].rsplit("/", 1)[-1] for case in doc["case"] if "message" in case}
    assert used == {p.name for p in MESSAGES.glob("*.eml")}
    on_08 = [c for c in doc["case"] if c.get("message", "").endswith("08-no-recipient-headers.eml")]
    assert any("no recipients" in c.get("error_contains", "") for c in on_08)
    assert any(c.get("rcpt") for c in on_08)


def test_fixture_cases_fail_when_the_config_changes(cli, tmp_path):
    # A change that alters routing must turn the build red: drop policy 3.
    text = DEMO.read_text(encoding="utf-8")
    start = text.index("[[policies]]\nid = 3")
    end = text.index("[[policies]]\nid = 4")
    changed = tmp_path / "changed.toml"
    changed.write_text(text[:start] + text[end:], encoding="utf-8")
    r = cli("test", FIXTURES / "cases.toml", "--config", changed)
    assert r.exit_code == 4, r.output
    assert "FAIL  12 subdomain recipient: policy 3 is more specific than policy 2" in r.stdout
    assert (
        "policy: expected 3 (no policy with this id in the configuration), "
        "got 2 (Anything to partner subdomains is secured)" in r.stdout
    )
    n = len(tomllib.loads((FIXTURES / "cases.toml").read_text(encoding="utf-8"))["case"])
    assert last_line(r) == f"{n - 5} passed, 5 failed"
