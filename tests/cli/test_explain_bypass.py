"""--explain and a failing case's "why:" never contradict the route (issue 12
point 6): a bypass that removed only the policy trigger says so and what still
secures the copy; a bi-directional match with sender and recipient swapped
says which side matched which target."""

from __future__ import annotations

from tests.conftest import DEMO, FIXTURES

AT = "2026-11-27T10:00:00Z"
M01 = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
M09 = FIXTURES / "messages" / "09-multipart-alternative-html.eml"
# A Board member (bypass 6: Board -> Role=Auditor, disable) sends message 01,
# whose subject fires content policy 7, to an auditor.
BOARD_TO_AUDITOR = (
    "--mail-from",
    "dana.whitfield@harborfinch.com",
    "--rcpt",
    "olivia.grant@ledgerline-audit.com",
)
KEPT = (
    "removes only the policy trigger (bypass scope policy): the copy is still secured by "
    "the content trigger (content policy 7)"
)


def _verdicts(doc, recipient=None):
    recipient = recipient or doc["recipients"][0]["address"]
    return {(v["kind"], v["id"]): v for v in doc["explain"] if v["recipient"] == recipient}


def test_a_bypass_that_left_the_copy_secured_says_so(demo):
    r = demo("simulate", M01, *BOARD_TO_AUDITOR, "--at", AT, "--explain", "-o", "json")
    assert r.exit_code == 0, r.output
    (rcpt,) = r.json["recipients"]
    assert (rcpt["route"], rcpt["trigger"], rcpt["bypass"]["id"]) == ("portal", "content", 6)
    bypass = _verdicts(r.json)[("bypass", 6)]
    assert bypass["verdict"] == "won"
    assert bypass["reason"].endswith("; " + KEPT)
    assert "disables Secure Messaging" not in bypass["reason"]
    table = demo("simulate", M01, *BOARD_TO_AUDITOR, "--at", AT, "--explain")
    flat = " ".join(table.stdout.split())
    assert "bypass policy 6 ('Board mail to auditors is not secured') matched but " + KEPT in flat
    assert "disables Secure Messaging" not in flat


def test_a_failing_case_says_why_the_bypassed_recipient_is_secured(demo, tmp_path):
    cases = tmp_path / "cases.toml"
    cases.write_text(
        f"""[[case]]
name = "board mail to the auditor is plain"
message = '{M01}'
mail_from = "dana.whitfield@harborfinch.com"
rcpt = ["olivia.grant@ledgerline-audit.com"]
at = {AT}

[[case.expect]]
recipient = "olivia.grant@ledgerline-audit.com"
route = "inbox"
""",
        encoding="utf-8",
    )
    r = demo("test", cases)
    assert r.exit_code == 4, r.output
    flat = " ".join(r.stdout.split())
    assert "route: expected inbox, got portal" in flat
    assert "why: content policy 7" in flat and KEPT in flat


def test_the_bypass_of_an_unsecured_copy_still_disables(demo):
    r = demo(
        "simulate",
        FIXTURES / "messages" / "10-board-to-auditor-pdf.eml",
        "--at",
        AT,
        "--explain",
        "-o",
        "json",
    )
    bypass = _verdicts(r.json)[("bypass", 6)]
    assert bypass["reason"].endswith("; disables Secure Messaging")
    assert r.json["recipients"][0]["secure"] is False


def test_a_swapped_bidirectional_match_names_each_side(demo):
    # A client writes to a partner: content policy 9 (internal -> clientco.example,
    # bi-directional) matches with sender and recipient swapped.
    r = demo(
        "simulate",
        M09,
        "--mail-from",
        "p.client@clientco.example",
        "--rcpt",
        "alice.morgan@harborfinch.com",
        "--at",
        AT,
        "--explain",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    reason = _verdicts(r.json)[("content-examination", 9)]["reason"]
    assert reason.startswith(
        "matches with sender and recipient swapped (bi-directional): "
        "recipient alice.morgan@harborfinch.com is internal (the from target), "
        "envelope sender p.client@clientco.example is in domain clientco.example (the to target)"
    )
    assert "p.client@clientco.example is internal" not in reason


def test_the_demo_has_bypass_scope_policy():
    assert 'bypass_scope = "policy"' in DEMO.read_text(encoding="utf-8")
