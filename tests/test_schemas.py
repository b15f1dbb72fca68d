"""The JSON Schemas shipped in secmsg_cli/schemas/ describe what secmsg reads
and writes: every fixture and exported configuration, every cases file, and
the JSON of simulate (fixtures and the shared corpus), lint, plan and apply
validate; documents that are wrong in type, carry an unknown field or miss a
required one do not; and the schemas name exactly the fields the code reads."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tomllib
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from secmsg_cli import corpus_diff
from tests.conftest import CORPUS, DEMO, FIXTURES

NAMES = ("config", "cases", "simulate", "lint", "plan", "report")
AT = "2026-11-27T10:00:00Z"


def schema(name: str) -> dict:
    text = resources.files("secmsg_cli.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def problems(name: str, doc) -> list[str]:
    """Every way ``doc`` is not valid under schema ``name``. For simulate's
    results the definition that applies is checked directly, so that a
    failure names the field rather than "not valid under any of"."""
    s = schema(name)
    if name == "simulate" and isinstance(doc, list):
        return [p for item in doc for p in problems(name, item)]
    if name == "simulate" and isinstance(doc, dict):
        part = next((k for k in ("error", "coverage", "summary") if k in doc), "result")
        part = {"summary": "diff"}.get(part, part)
        s = {"$ref": f"#/$defs/{part}", "$defs": s["$defs"]}
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(s).iter_errors(doc)
    ]


def as_json(value):
    """A TOML document as a JSON Schema sees it: dates and times as ISO 8601
    strings (what editors do with a schema for TOML)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def toml(path) -> dict:
    return as_json(tomllib.loads(path.read_text("utf-8")))


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_draft_2020_12_schema(name):
    s = schema(name)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(s)
    assert s["title"].startswith("secmsg")


# --- configuration ------------------------------------------------------------------


def test_the_demo_configuration_and_its_export_validate(demo, cli):
    assert problems("config", toml(DEMO)) == []
    assert cli("user", "add", "alice.morgan@harborfinch.com").exit_code == 0
    r = cli("export", "--format", "json")
    assert r.exit_code == 0, r.output
    exported = json.loads(r.stdout)
    assert exported["policies"] and exported["content_definitions"] and exported["users"]
    assert problems("config", exported) == []


def test_the_config_schema_names_the_fields_the_reader_accepts():
    from secmsg_cli import config, model

    s = schema("config")
    props = s["properties"]
    assert set(props) == set(config.KNOWN_SECTIONS)
    assert set(props["account"]["properties"]) == set(model.ACCOUNT_FIELDS)
    fields = {
        "domains": config.DOMAIN_FIELDS,
        "users": config.USER_FIELDS,
        "groups": config.GROUP_FIELDS,
        "attributes": config.ATTRIBUTE_FIELDS,
        "folders": config.FOLDER_FIELDS,
        "definitions": config.DEFINITION_FIELDS,
        "content_definitions": model.CONTENT_DEFINITION_FIELDS,
    }
    for section, names in fields.items():
        assert set(props[section]["items"]["properties"]) == set(names), section
    assert set(s["$defs"]["policy"]["properties"]) == set(model.POLICY_FIELDS)
    assert set(s["$defs"]["target"]["properties"]["type"]["enum"]) == set(model.TARGET_TYPES)


GOOD_POLICY = {
    "kind": "secure-messaging",
    "narrative": "Partners",
    "definition": "Legal/7-Day Expiry, Receipt",
    "to": {"type": "domain", "value": "partner.com"},
}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"account": {"max_retention_days": "ten"}}, "is not of type 'integer'"),
        ({"account": {"edition": "platinum"}}, "is not one of"),
        ({"account": {"colour": "blue"}}, "Additional properties"),
        ({"domains": [{"type": "local"}]}, "'name' is a required property"),
        ({"users": [{"name": "a@example.com"}]}, "'address' is a required property"),
        ({"users": ["a@example.com"]}, "is not of type 'object'"),
        ({"groups": [{"name": "Board", "members": "ceo@example.com"}]}, "is not of type 'array'"),
        ({"definitions": [{"folder": "Legal", "description": "X", "expire_after": "soon"}]}, ""),
        ({"content_definitions": [{"name": "C", "activation_score": 0}]}, "minimum"),
        ({"policies": [{**GOOD_POLICY, "colour": "blue"}]}, "Additional properties"),
        ({"policies": [{**GOOD_POLICY, "to": {"type": "domain"}}]}, "'value' is a required"),
        ({"policies": [{k: v for k, v in GOOD_POLICY.items() if k != "definition"}]}, ""),
        ({"policies": [{**GOOD_POLICY, "bidirectional": True}]}, ""),
        ({"policies": [{"kind": "content-examination", "narrative": "n"}]}, "content_definition"),
        ({"policies": [{**GOOD_POLICY, "kind": "bypass"}]}, ""),
        ({"unknown_section": []}, "Additional properties"),
    ],
)
def test_the_config_schema_rejects_what_import_rejects(doc, fragment, cli, tmp_path):
    found = problems("config", doc)
    assert found, doc
    assert any(fragment in p for p in found), found
    # and the product itself refuses the same document
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), "utf-8")
    r = cli("lint", path)
    assert r.exit_code == 3, r.output


def test_a_valid_policy_validates():
    assert problems("config", {"policies": [GOOD_POLICY]}) == []


# --- cases --------------------------------------------------------------------------


def test_the_fixture_cases_file_validates():
    doc = toml(FIXTURES / "cases.toml")
    assert len(doc["case"]) > 10
    assert problems("cases", doc) == []


def test_the_cases_schema_names_the_keys_the_reader_accepts():
    from secmsg_cli import testing

    s = schema("cases")
    case = s["$defs"]["case"]["properties"]
    assert set(s["properties"]) == set(testing.TOP_KEYS)
    assert set(case) == set(testing.CASE_KEYS)
    assert set(s["properties"]["defaults"]["properties"]) == set(testing.CONTEXT_KEYS)
    assert set(s["$defs"]["expect"]["properties"]) == set(testing.EXPECT_KEYS)
    assert set(case["inline"]["properties"]) == set(testing.INLINE_KEYS)
    attachment = case["inline"]["properties"]["attachments"]["items"]["properties"]
    assert set(attachment) == set(testing.ATTACHMENT_KEYS)


CASE = {
    "name": "c",
    "message": "m.eml",
    "expect": [{"recipient": "a@b.example", "route": "portal"}],
}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"case": [{**CASE, "colour": 1}]}, "Additional properties"),
        ({"case": [{k: v for k, v in CASE.items() if k != "name"}]}, "'name' is a required"),
        ({"case": [{**CASE, "expect": [{"route": "portal"}]}]}, "expect"),
        ({"case": [{**CASE, "expect": [{"recipient": "a@b.example", "route": "mars"}]}]}, ""),
        ({"case": [{**CASE, "partial": "yes"}]}, "is not of type 'boolean'"),
        ({"case": [{k: v for k, v in CASE.items() if k != "message"}]}, ""),
        ({"case": [{**CASE, "inline": {"body": "x"}}]}, ""),
        ({"case": [{**CASE, "error_contains": "no recipients"}]}, ""),
        ({"defaults": {"via": "pigeon"}}, "is not one of"),
        ({"cases": []}, "Additional properties"),
    ],
)
def test_the_cases_schema_rejects_what_secmsg_test_rejects(doc, fragment, cli, tmp_path):
    found = problems("cases", doc)
    assert found, doc
    assert any(fragment in p for p in found), found
    (tmp_path / "m.eml").write_bytes((FIXTURES / "messages" / "02-internal-only.eml").read_bytes())
    import tomli_w

    path = tmp_path / "cases.toml"
    path.write_text(tomli_w.dumps(doc), "utf-8")
    r = cli("test", path, "--config", DEMO)
    assert r.exit_code == 3, r.output


# --- outputs ------------------------------------------------------------------------


def test_simulate_json_of_every_demo_message_validates(demo, cli):
    r = cli("simulate", FIXTURES / "messages", "--at", AT, "-o", "json", "--explain")
    assert r.exit_code in (0, 1), r.output
    results = json.loads(r.stdout)
    assert len(results) == len(list((FIXTURES / "messages").glob("*.eml")))
    assert any("error" in x for x in results) and any(x.get("recipients") for x in results)
    assert problems("simulate", results) == []
    for one in results:
        assert problems("simulate", one) == []
    single = cli(
        "simulate",
        FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml",
        "--at",
        AT,
        "-o",
        "json",
    )
    assert problems("simulate", single.json) == []


def test_simulate_jsonl_with_coverage_and_the_difference_report_validate(demo, cli, tmp_path):
    r = cli("simulate", FIXTURES / "messages", "--at", AT, "-o", "jsonl", "--coverage")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == len(list((FIXTURES / "messages").glob("*.eml")))
    coverage = json.loads(r.stderr.strip().splitlines()[-1])
    assert "coverage" in coverage
    for line in [*lines, coverage]:
        assert problems("simulate", line) == [], line
    other = tmp_path / "other.toml"
    other.write_text(DEMO.read_text("utf-8").replace('expire_after = "7d"', 'expire_after = "3d"'))
    r = cli("simulate", FIXTURES / "messages", "--at", AT, "-o", "json", "--against", other)
    report = json.loads(r.stdout)
    assert report["changes"], report  # the 7-day definition's expiry moved
    assert problems("simulate", report) == []
    outcome = schema("simulate")["$defs"]["outcome"]
    assert tuple(outcome["properties"]) == corpus_diff.FIELDS == tuple(outcome["required"])


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is absent ({CORPUS})")
def test_simulate_jsonl_of_the_shared_corpus_validates(demo, cli):
    r = cli("simulate", CORPUS, "--at", AT, "-o", "jsonl", "--explain", "--jobs", "1")
    lines = r.stdout.splitlines()
    assert len(lines) > 10
    v = validator("simulate")
    bad = []
    for line in lines:
        doc = json.loads(line)
        bad += [f"{doc.get('source')}: {e.message}" for e in v.iter_errors(doc)]
    assert bad == []


def test_the_simulate_schema_rejects_a_changed_result(demo, cli):
    r = cli(
        "simulate",
        FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml",
        "--at",
        AT,
        "-o",
        "json",
    )
    good = r.json
    assert problems("simulate", good) == []
    wrong_type = copy.deepcopy(good)
    wrong_type["recipients"][0]["secure"] = "yes"
    unknown = copy.deepcopy(good)
    unknown["recipients"][0]["colour"] = "blue"
    missing = copy.deepcopy(good)
    del missing["message"]["notes"]
    version = copy.deepcopy(good)
    version["schema_version"] = 2
    for doc in (wrong_type, unknown, missing, version):
        assert problems("simulate", doc), doc


def test_lint_json_validates_and_a_changed_finding_does_not(demo, cli):
    r = cli("lint", "-o", "json")
    findings = r.json
    assert findings
    assert problems("lint", findings) == []
    assert problems("lint", [{**findings[0], "severity": "fatal"}])
    assert problems("lint", [{k: v for k, v in findings[0].items() if k != "code"}])
    assert problems("lint", [{**findings[0], "line": "7"}])
    assert problems("lint", [{**findings[0], "reason": "x"}])  # the field is message now


def test_lint_json_of_an_invalid_file_validates_with_its_places(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[groups]]\nname = "Legal"\n\n[[folders]]\npath = "X"\npublish_to = ["Legl"]\n'
    )
    r = cli("lint", path, "-o", "json")
    assert r.exit_code == 3, r.output
    assert problems("lint", r.json) == []
    ((place, code),) = [((f["file"], f["line"], f["column"]), f["code"]) for f in r.json]
    assert (place, code) == ((str(path), 6, 1), "SM103")


def test_plan_and_apply_json_validate(demo, cli, tmp_path):
    text = DEMO.read_text("utf-8").replace('expire_after = "7d"', 'expire_after = "8d"', 1)
    text = text.replace('[[domains]]\nname = "notify.harborfinch.com"\ntype = "send-only"\n', "")
    text += '\n[[domains]]\nname = "new.example"\n'
    other = tmp_path / "other.toml"
    other.write_text(text, "utf-8")
    plan = cli("plan", other, "-o", "json", "--prune")
    assert plan.exit_code == 0, plan.output
    assert {c["action"] for c in plan.json["changes"]} == {"create", "update", "delete"}
    assert problems("plan", plan.json) == []
    kept = cli("plan", other, "-o", "json")
    assert kept.json["kept"]
    assert problems("plan", kept.json) == []
    applied = cli("apply", other, "-o", "json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert applied.json["applied"] is True
    assert problems("plan", applied.json) == []
    assert problems("plan", {**plan.json, "summary": {"create": -1, "update": 0, "delete": 0}})
    assert problems("plan", {k: v for k, v in plan.json.items() if k != "kept"})


@pytest.mark.parametrize("name", NAMES)
def test_secmsg_schema_prints_the_shipped_schema_without_a_store(name, bare_cli, _isolated_store):
    r = bare_cli("schema", name)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == schema(name)
    assert not _isolated_store.exists()  # no store is needed, none is created


def test_secmsg_schema_lists_the_schemas_and_refuses_an_unknown_one(bare_cli):
    r = bare_cli("schema")
    assert r.exit_code == 0, r.output
    assert [line.split()[0] for line in r.stdout.splitlines()] == list(NAMES)
    bad = bare_cli("schema", "yaml")
    assert bad.exit_code == 2
    assert "yaml" in bad.stderr and bad.stdout == ""
