"""The lint rules (secmsg_cli.lint) on configurations built from model
objects: each rule fires on a minimal case and keeps quiet on its near misses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from secmsg_cli import lint
from secmsg_cli.engine.snapshot import build_snapshot
from secmsg_cli.model import (
    Account,
    ContentDefinition,
    Definition,
    Folder,
    Group,
    NotificationTemplate,
    Policy,
    Target,
)

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
INTERNAL = Target("internal")
EXTERNAL = Target("external")
EVERYONE = Target("everyone")


def dom(value: str) -> Target:
    return Target("domain", value)


def grp(value: str) -> Target:
    return Target("group", value)


def attr(name: str, value: str) -> Target:
    return Target("attribute", value, name)


def addr(value: str) -> Target:
    return Target("address", value)


def sm(pid: int, frm: Target = INTERNAL, to: Target = EXTERNAL, **kw) -> Policy:
    kw.setdefault("option", "apply")
    if kw["option"] == "apply":
        kw.setdefault("definition", "Sec/D")
    return Policy(pid, "secure-messaging", f"policy {pid}", from_=frm, to=to, **kw)


def bp(pid: int, frm: Target = INTERNAL, to: Target = EXTERNAL, **kw) -> Policy:
    kw.setdefault("option", "disable")
    return Policy(pid, "bypass", f"bypass {pid}", from_=frm, to=to, **kw)


def ce(
    pid: int, cd: str | None = "CD", frm: Target = INTERNAL, to: Target = EVERYONE, **kw
) -> Policy:
    return Policy(
        pid, "content-examination", f"content {pid}", content_definition=cd, from_=frm, to=to, **kw
    )


SEC = Folder(1, "Sec", None, ("everyone",), ("everyone",))
D = Definition(1, "Sec", "D")
STAFF = Group(1, "Staff", ("alice@corp.example", "bob@corp.example"))
PARTNERS = Group(2, "Partners", ("@partner.example", "carol@other.example"))


def snap(
    *,
    domains=("corp.example",),
    groups=(STAFF, PARTNERS),
    attributes=(),
    folders=(SEC,),
    definitions=(D,),
    content=(),
    policies=(),
):
    return build_snapshot(
        account=Account(),
        tz=UTC,
        domains=domains,
        groups=groups,
        attributes=attributes,
        folders=folders,
        definitions=definitions,
        content_definitions=content,
        policies=policies,
    )


def run(at: datetime = AT, templates=(), **kw) -> list[lint.Finding]:
    return lint.lint(snap(**kw), at, templates=templates)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


CD = ContentDefinition(1, "CD", lines=("1 secret",))
CD_SM = ContentDefinition(2, "CD", lines=("1 secret",), secure_messaging="Sec/D")


# --- every rule on model objects: (config, expected codes, fragment of an object) ---------

CASES = [
    ("clean", {}, [], None),
    (
        "dangling definition path",
        dict(policies=[sm(1, definition="Sec/Gone")]),
        ["SM101"],
        "policy 1",
    ),
    (
        "dangling definition lost (apply, none)",
        dict(policies=[Policy(1, "secure-messaging", "p", option="apply")]),
        ["SM101"],
        "policy 1",
    ),
    (
        "dangling override",
        dict(
            content=[ContentDefinition(1, "CD", lines=("1 x",), secure_messaging="Sec/Gone")],
            policies=[ce(1)],
        ),
        ["SM101"],
        "content definition 'CD'",
    ),
    ("dangling content definition", dict(policies=[ce(1, cd="Gone")]), ["SM102"], "policy 1"),
    ("dangling content definition lost", dict(policies=[ce(1, cd=None)]), ["SM102"], "policy 1"),
    ("dangling group in policy", dict(policies=[sm(1, frm=grp("Gone"))]), ["SM103"], "policy 1"),
    (
        "dangling group in publish_to",
        dict(folders=[Folder(1, "Sec", None, ("Gone",), ("Gone",))], policies=[sm(1)]),
        ["SM103"],
        "folder 'Sec'",
    ),
    (
        "dangling attribute",
        dict(policies=[sm(1, to=attr("Role", "Auditor"))]),
        ["SM104"],
        "policy 1",
    ),
    (
        "untriggerable definition (nobody)",
        dict(
            folders=[SEC, Folder(2, "Hidden", None, (), ())],
            definitions=[D, Definition(2, "Hidden", "H")],
        ),
        ["SM201"],
        "definition 'Hidden/H'",
    ),
    (
        "untriggerable definition (empty group)",
        dict(
            groups=[STAFF, Group(3, "Nobody")],
            folders=[SEC, Folder(2, "Hidden", None, ("Nobody",), ("Nobody",))],
            definitions=[D, Definition(2, "Hidden", "H")],
        ),
        ["SM201", "SM501"],
        "definition 'Hidden/H'",
    ),
    ("unused content definition", dict(content=[CD]), ["SM202"], "content definition 'CD'"),
    ("ambiguous: identical targets", dict(policies=[sm(1), sm(2)]), ["SM301"], "policy 2"),
    (
        "ambiguous: overlapping groups",
        dict(
            groups=[STAFF, Group(3, "Legal", ("bob@corp.example",))],
            policies=[sm(1, frm=grp("Staff")), sm(2, frm=grp("Legal"))],
        ),
        ["SM301"],
        "policy 2",
    ),
    (
        "ambiguous: nested wildcards",
        dict(policies=[sm(1, to=dom("*.partner.example")), sm(2, to=dom("*.eu.partner.example"))]),
        ["SM301"],
        "policy 2",
    ),
    (
        "ambiguous: bypass",
        dict(policies=[bp(5), bp(6, frm=INTERNAL, to=EXTERNAL, option="no-action")]),
        ["SM301"],
        "bypass policy 6",
    ),
    (
        "ambiguous: bi-directional bypass, swapped",
        dict(
            policies=[
                bp(1, frm=dom("corp.example"), to=dom("partner.example"), bidirectional=True),
                bp(2, frm=dom("partner.example"), to=dom("corp.example")),
            ]
        ),
        ["SM301"],
        "bypass policy 2",
    ),
    (
        "ambiguous: one window inside the other",
        dict(policies=[sm(1, start="2026-01-01"), sm(2, start="2026-06-01", end="2026-12-31")]),
        ["SM301"],
        "policy 2",
    ),
    (
        "ambiguous: overlapping source ranges",
        dict(policies=[sm(1, source_ips=("10.0.0.0/8",)), sm(2, source_ips=("10.1.0.0/16",))]),
        ["SM301"],
        "policy 2",
    ),
    ("expired", dict(policies=[sm(1, end="2026-01-01")]), ["SM302"], "policy 1"),
    ("disabled", dict(policies=[sm(1, enabled=False)]), ["SM303"], "policy 1"),
    (
        "empty window",
        dict(policies=[sm(1, start="2027-01-02", end="2027-01-01")]),
        ["SM303"],
        "policy 1",
    ),
    (
        "bi-directional with override",
        dict(content=[CD_SM], policies=[ce(1, bidirectional=True)]),
        ["SM304"],
        "policy 1",
    ),
    ("to internal", dict(policies=[sm(1, to=INTERNAL)]), ["SM305"], "policy 1"),
    (
        "to an internal domain",
        dict(policies=[sm(1, to=dom("corp.example"))]),
        ["SM305"],
        "policy 1",
    ),
    (
        "to an internal address",
        dict(policies=[sm(1, to=addr("alice@corp.example"))]),
        ["SM305"],
        "policy 1",
    ),
    (
        "to a group of internal people",
        dict(policies=[sm(1, to=grp("Staff"))]),
        ["SM305"],
        "policy 1",
    ),
    (
        "to an attribute only internal people have",
        dict(
            attributes=[("alice@corp.example", "Role", "Partner")],
            policies=[sm(1, to=attr("Role", "Partner"))],
        ),
        ["SM305"],
        "policy 1",
    ),
    ("from external", dict(policies=[sm(1, frm=EXTERNAL)]), ["SM305"], "policy 1"),
    (
        "from a group of external domains",
        dict(policies=[sm(1, frm=grp("Partners"))]),
        ["SM305"],
        "policy 1",
    ),
    (
        "both ways wrong",
        dict(policies=[sm(1, frm=EXTERNAL, to=INTERNAL)]),
        ["SM305", "SM305"],
        "policy 1",
    ),
    (
        "attribute value nobody has",
        dict(
            attributes=[("x@partner.example", "Role", "Auditor")],
            policies=[bp(1, to=attr("Role", "Auditer"))],
        ),
        ["SM306"],
        "policy 1",
    ),
    (
        "internal without internal domains",
        dict(domains=(), policies=[ce(1)], content=[CD]),
        ["SM306"],
        "policy 1",
    ),
    (
        "unknown banner tag",
        dict(definitions=[Definition(1, "Sec", "D", banner="<p>[sendr] [subject] [Sender]</p>")]),
        ["SM401"],
        "definition 'Sec/D'",
    ),
    (
        "empty group in a policy",
        dict(groups=[STAFF, Group(3, "Nobody")], policies=[sm(1, frm=grp("Nobody"))]),
        ["SM501"],
        "group 'Nobody'",
    ),
    # a store written before the RE2 dialect may hold a regex RE2 refuses
    (
        "unsupported regex in a stored definition",
        dict(
            content=[ContentDefinition(1, "CD", lines=("1 secret", r"2 regex (\w)\1"))],
            policies=[ce(1)],
        ),
        ["SM105"],
        "content definition 'CD'",
    ),
    (
        "regex whose meaning changed",
        dict(
            content=[
                ContentDefinition(1, "CD", lines=(r"2 regex confidential$", r"1 regex \w+ only"))
            ],
            policies=[ce(1)],
        ),
        ["SM601", "SM601"],
        "content definition 'CD'",
    ),
]

# notification templates (docs/configuration.md)
LINK_HTML = '<p><a href="[portal_link]">Open</a></p>'
T_OK = NotificationTemplate(1, "Brand", "From [sender_name]", LINK_HTML, "Open: [portal_link]")
D_T = Definition(2, "Sec", "T", notification_template="Brand")
CASES += [
    (
        "template missing",
        dict(definitions=[D, replace(D_T, notification_template="Bran")]),
        ["SM106"],
        "definition 'Sec/T'",
    ),
    ("template fine and used", dict(definitions=[D, D_T], templates=[T_OK]), [], None),
    (
        "template without link in html and text",
        dict(definitions=[D, D_T], templates=[replace(T_OK, html="<p>x</p>", text="x")]),
        ["SM107", "SM107"],
        "notification template 'Brand'",
    ),
    (
        "template html unbalanced",
        dict(definitions=[D, D_T], templates=[replace(T_OK, html=LINK_HTML + "</div>")]),
        ["SM108"],
        "notification template 'Brand'",
    ),
    (
        "template logo not an image",
        dict(definitions=[D, D_T], templates=[replace(T_OK, logo="l.png", logo_data=b"<svg/>")]),
        ["SM109"],
        "notification template 'Brand'",
    ),
    ("template unused", dict(templates=[T_OK]), ["SM203"], "notification template 'Brand'"),
    (
        "template unknown tag",
        dict(definitions=[D, D_T], templates=[replace(T_OK, subject="[sendr] [portal_url]")]),
        ["SM402"],
        "notification template 'Brand'",
    ),
]


@pytest.mark.parametrize(
    "config,expected,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(config, expected, fragment):
    found = run(**config)
    assert sorted(codes(found)) == sorted(expected), found
    if fragment:
        assert any(fragment in f.object for f in found), found


NEAR_MISSES = [
    ("different keys", dict(policies=[sm(1), sm(2, frm=grp("Staff"))])),
    ("different override", dict(policies=[sm(1), sm(2, override=True)])),
    (
        "disjoint groups",
        dict(
            groups=[STAFF, Group(3, "Legal", ("dan@corp.example",))],
            policies=[sm(1, frm=grp("Staff")), sm(2, frm=grp("Legal"))],
        ),
    ),
    ("disjoint domains", dict(policies=[sm(1, to=dom("a.example")), sm(2, to=dom("b.example"))])),
    (
        "sibling wildcards",
        dict(policies=[sm(1, to=dom("*.a.example")), sm(2, to=dom("*.b.example"))]),
    ),
    (
        "disjoint attribute values",
        dict(
            attributes=[
                ("x@partner.example", "Role", "Auditor"),
                ("y@partner.example", "Role", "Counsel"),
            ],
            policies=[sm(1, to=attr("Role", "Auditor")), sm(2, to=attr("Role", "Counsel"))],
        ),
    ),
    (
        "groups overlapping only internally (secure-messaging recipients are external)",
        dict(
            groups=[
                Group(3, "A", ("alice@corp.example", "x@partner.example")),
                Group(4, "B", ("alice@corp.example", "y@partner.example")),
            ],
            policies=[sm(1, to=grp("A")), sm(2, to=grp("B"))],
        ),
    ),
    ("windows apart", dict(policies=[sm(1, end="2027-01-31"), sm(2, start="2027-02-01")])),
    (
        "a shared window already past",
        dict(policies=[sm(1, end="2026-06-30"), sm(2, start="2026-01-01")]),
        ["SM302"],
    ),
    (
        "source ranges apart",
        dict(policies=[sm(1, source_ips=("10.0.0.0/8",)), sm(2, source_ips=("192.168.0.0/16",))]),
    ),
    (
        "source ranges of different families",
        dict(policies=[sm(1, source_ips=("10.0.0.0/8",)), sm(2, source_ips=("2001:db8::/32",))]),
    ),
    ("one disabled", dict(policies=[sm(1), sm(2, enabled=False)]), ["SM303"]),
    ("content-examination is cumulative", dict(content=[CD], policies=[ce(1), ce(2)])),
    ("scheduled is fine", dict(policies=[sm(1, start="2099-01-01")])),
    ("ends later", dict(policies=[sm(1, end="2026-11-27")])),
    ("bi-directional without override", dict(content=[CD], policies=[ce(1, bidirectional=True)])),
    ("one-way with override", dict(content=[CD_SM], policies=[ce(1)])),
    (
        "to a subdomain of an internal domain is external",
        dict(policies=[sm(1, to=dom("*.corp.example"))]),
    ),
    ("to a group with an external member", dict(policies=[sm(1, to=grp("Partners"))])),
    (
        "from an external group, header From",
        dict(policies=[sm(1, frm=grp("Partners"), from_part="header")]),
    ),
    ("bypass may go either way", dict(policies=[bp(1, frm=EXTERNAL, to=INTERNAL)])),
    (
        "definition used by a policy",
        dict(
            folders=[SEC, Folder(2, "Hidden", None, (), ())],
            definitions=[D, Definition(2, "Hidden", "H")],
            policies=[sm(1, definition="Hidden/H")],
        ),
    ),
    (
        "definition used by a content definition",
        dict(
            folders=[SEC, Folder(2, "Hidden", None, (), ())],
            definitions=[D, Definition(2, "Hidden", "H")],
            content=[ContentDefinition(1, "CD", lines=("1 x",), secure_messaging="Hidden/H")],
            policies=[ce(1)],
        ),
    ),
    (
        "folder published to a group with members",
        dict(
            folders=[SEC, Folder(2, "Hidden", None, ("Staff",), ("Staff",))],
            definitions=[D, Definition(2, "Hidden", "H")],
        ),
    ),
    (
        "built-ins in an unpublished folder",
        dict(
            folders=[Folder(1, "Default", None, (), ())],
            definitions=[Definition(1, "Default", "All Recipients", routing="all", builtin=True)],
        ),
    ),
    (
        "known tags",
        dict(
            definitions=[
                Definition(
                    1,
                    "Sec",
                    "D",
                    banner="[sender] [sender_name] [subject] [sent] "
                    "[expires] [definition] [portal_url] [1]",
                )
            ]
        ),
    ),
    ("empty group nobody uses", dict(groups=[STAFF, Group(3, "Nobody")])),
    (
        "regexes RE2 reads as Python did",
        dict(
            content=[
                ContentDefinition(
                    1,
                    "CD",
                    lines=(
                        r"5 regex,cardnumber \b(?:\d[ -]?){13,19}\b",
                        r"1 regex (?m)^total: \d+$",
                    ),
                )
            ],
            policies=[ce(1)],
        ),
    ),
]


@pytest.mark.parametrize(
    "config,expected",
    [(c[1], c[2] if len(c) > 2 else []) for c in NEAR_MISSES],
    ids=[c[0] for c in NEAR_MISSES],
)
def test_near_miss(config, expected):
    assert codes(run(**config)) == expected


def test_the_expiry_depends_on_the_evaluation_time():
    config = dict(policies=[sm(1, end="2026-12-31")])
    assert (
        codes(run(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), **config)) == []
    )  # the end day is included
    assert codes(run(datetime(2027, 1, 1, 0, 0, tzinfo=UTC), **config)) == ["SM302"]


def test_a_tie_reports_the_loser_names_the_winner_and_an_example_pair():
    (finding,) = run(
        policies=[
            sm(1, frm=grp("Staff"), to=dom("partner.example")),
            sm(2, frm=grp("Staff"), to=dom("partner.example")),
        ]
    )
    assert finding.object == "secure-messaging policy 2 ('policy 2')"
    assert "ties with secure-messaging policy 1" in finding.message
    assert "(override no, from rank 4, to rank 3.5)" in finding.message
    assert "alice@corp.example → someone@partner.example" in finding.message


def test_three_way_tie_reports_each_pair_once():
    found = run(policies=[sm(1), sm(2), sm(3)])
    assert [(f.code, f.object) for f in found] == [
        ("SM301", "secure-messaging policy 2 ('policy 2')"),
        ("SM301", "secure-messaging policy 3 ('policy 3')"),
        ("SM301", "secure-messaging policy 3 ('policy 3')"),
    ]


def test_unknown_tags_are_named_once_each():
    (finding,) = run(definitions=[Definition(1, "Sec", "D", banner="[sendr] [sendr] [Subject]")])
    assert "[sendr], [Subject]" in finding.message


def test_findings_are_sorted_errors_first_then_by_code():
    found = run(policies=[sm(3, enabled=False), sm(1, definition="Sec/Gone"), sm(2, to=INTERNAL)])
    assert [(f.severity, f.code) for f in found] == [
        ("error", "SM101"),
        ("warning", "SM303"),
        ("warning", "SM305"),
    ]


def test_sort_findings_puts_errors_first_then_codes_and_keeps_the_order_found():
    def f(code, severity, obj):
        return lint.Finding(code, "n", severity, obj, "r")

    scrambled = [
        f("SM501", "warning", "a"),
        f("SM302", "warning", "b"),
        f("SM104", "error", "c"),
        f("SM302", "warning", "a"),
        f("SM001", "error", "d"),
    ]
    assert [(x.code, x.object) for x in lint.sort_findings(scrambled)] == [
        ("SM001", "d"),
        ("SM104", "c"),
        ("SM302", "b"),
        ("SM302", "a"),
        ("SM501", "a"),
    ]


def test_finding_shape_and_severities_come_from_the_rule_table():
    rules = {r.code: r for r in lint.RULES}
    assert len(rules) == len(lint.RULES)
    for _, config, _expected, _ in CASES:
        for f in run(**config):
            assert (f.name, f.severity) == (rules[f.code].name, rules[f.code].severity)
            assert "\n" not in f.message and f.message
            assert list(f.to_dict()) == [
                "file",
                "line",
                "column",
                "code",
                "name",
                "severity",
                "object",
                "message",
            ]
            assert f.file is None and f.line is None  # about a store, not a file


def test_every_rule_except_invalid_config_is_exercised_here():
    fired = {code for _, _, expected, _ in CASES for code in expected}
    assert fired == {r.code for r in lint.RULES} - {"SM001"}


def test_every_code_is_in_the_module_docstring():
    for r in lint.RULES:
        assert f"{r.code}       {r.name}" in lint.__doc__, r.code


def test_long_narratives_are_shortened_in_the_object():
    p = Policy(1, "secure-messaging", "x" * 100, option="no-action", to=INTERNAL)
    (finding,) = run(policies=[p])
    assert finding.object.endswith("…')") and len(finding.object) < 90


@pytest.mark.parametrize(
    "findings,strict,expected",
    [
        ([], False, False),
        ([], True, False),
        ([lint.Finding("SM302", "expired-policy", "warning", "o", "r")], False, False),
        ([lint.Finding("SM302", "expired-policy", "warning", "o", "r")], True, True),
        ([lint.Finding("SM101", "dangling-definition", "error", "o", "r")], False, True),
    ],
)
def test_failed(findings, strict, expected):
    assert lint.failed(findings, strict) is expected


def test_summary_counts_and_plurals():
    w = lint.Finding("SM302", "expired-policy", "warning", "o", "r")
    e = lint.Finding("SM101", "dangling-definition", "error", "o", "r")
    assert lint.summary([]) == "0 errors, 0 warnings"
    assert lint.summary([e, w, w]) == "1 error, 2 warnings"


def test_invalid_config_keeps_each_problems_place_and_code():
    from secmsg_cli.problems import Problem

    found = lint.invalid_config(
        [
            Problem(
                "unknown group 'Legl'",
                path="cfg.toml",
                line=40,
                column=1,
                code="SM103",
                object="policies[2] (Partners)",
            ),
            Problem(
                "invalid timezone 'Mars/Base'",
                path="cfg.toml",
                line=3,
                column=1,
                code="SM001",
                object="account",
            ),
            "not UTF-8 text (byte 5)",
        ],
        "cfg.toml",
    )
    assert [(f.code, f.name, f.severity) for f in found] == [
        ("SM103", "dangling-group", "error"),
        ("SM001", "invalid-config", "error"),
        ("SM001", "invalid-config", "error"),
    ]
    assert (found[0].file, found[0].line, found[0].column) == ("cfg.toml", 40, 1)
    assert (found[0].object, found[0].message) == ("policies[2] (Partners)", "unknown group 'Legl'")
    assert (
        found[0].text == "cfg.toml:40:1: error SM103 policies[2] (Partners): unknown group 'Legl'"
    )
    assert (found[2].file, found[2].line, found[2].object) == ("cfg.toml", None, None)
    assert found[2].text == "cfg.toml: error SM001 not UTF-8 text (byte 5)"
