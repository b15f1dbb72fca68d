"""``secmsg notification-template`` and a definition's choice of template,
and templates under plan/apply (renames, --prune)."""

from __future__ import annotations

import json

import pytest

from tests.delivery.test_notification_templates import CONFIG, PNG


@pytest.fixture
def account(bare_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "logo.png").write_bytes(PNG)
    (tmp_path / "secmsg.toml").write_text(CONFIG, encoding="utf-8")
    assert bare_cli("import", "secmsg.toml").exit_code == 0
    return bare_cli


def test_list_show_and_remove(account):
    rows = json.loads(account("notification-template", "list", "-o", "json").stdout)
    assert [(r["name"], r["logo"], r["logo_bytes"], r["definitions"]) for r in rows] == [
        ("Branded", "brand/logo.png", len(PNG), ["Legal/7 days"])
    ]
    shown = json.loads(account("notification-template", "show", "branded", "-o", "json").stdout)
    assert shown["subject"] == "[sender_name] sent you: [subject]"
    assert "[portal_link]" in shown["html"] and "[portal_link]" in shown["text"]
    r = account("notification-template", "remove", "Branded")
    assert r.exit_code == 1
    assert r.stderr == (
        "error: notification template 'Branded' is in use by definition(s) Legal/7 days\n"
    )
    r = account("definition", "update", "Legal/7 days", "--builtin-notification", "-o", "json")
    assert json.loads(r.stdout)["notification_template"] is None
    assert account("notification-template", "remove", "Branded").exit_code == 0
    assert json.loads(account("notification-template", "list", "-o", "json").stdout) == []
    audit = account("audit", "-o", "json")
    assert "notification-template" in audit.stdout


def test_a_definition_chooses_a_template_by_name(account):
    r = account(
        "definition", "create", "Legal/New", "--notification-template", "BRANDED", "-o", "json"
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["notification_template"] == "Branded"
    r = account("definition", "update", "Legal/New", "--notification-template", "Brandd")
    assert r.exit_code != 0
    assert r.stderr == "error: notification template 'Brandd' not found; did you mean 'Branded'?\n"
    r = account(
        "definition",
        "update",
        "Legal/New",
        "--notification-template",
        "Branded",
        "--builtin-notification",
    )
    assert r.exit_code != 0 and "not both" in r.stderr


def test_show_of_a_missing_template_is_one_line(account):
    r = account("notification-template", "show", "Nope")
    assert r.exit_code != 0
    assert r.stderr == "error: notification template 'Nope' not found\n"


def test_renaming_a_template_in_the_file_moves_its_definitions(account, tmp_path):
    renamed = CONFIG.replace('name = "Branded"', 'name = "Brand 2"').replace(
        'notification_template = "Branded"', 'notification_template = "Brand 2"'
    )
    (tmp_path / "secmsg.toml").write_text(renamed, encoding="utf-8")
    plan = json.loads(account("plan", "secmsg.toml", "--prune", "-o", "json").stdout)
    assert sorted((c["action"], c["kind"], c["object"]) for c in plan["changes"]) == [
        ("create", "notification-template", "Brand 2"),
        ("delete", "notification-template", "Branded"),
        ("update", "definition", "Legal/7 days"),
    ]
    r = account("apply", "secmsg.toml", "--prune", "--yes")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(account("notification-template", "list", "-o", "json").stdout)
    assert [(r["name"], r["definitions"]) for r in rows] == [("Brand 2", ["Legal/7 days"])]
    assert "No changes" in account("plan", "secmsg.toml", "--prune").stdout


def test_a_template_kept_without_prune_and_deleted_with_it(account, tmp_path):
    without = CONFIG.split("[[notification_templates]]")[0] + CONFIG.split(
        'Until [expires].\n"""\n'
    )[1].replace('notification_template = "Branded"\n', "")
    (tmp_path / "secmsg.toml").write_text(without, encoding="utf-8")
    r = account("apply", "secmsg.toml", "--yes")
    assert r.exit_code == 0, r.stderr
    assert "1 object(s) in the store but not in secmsg.toml are kept" in r.stderr
    r = account("apply", "secmsg.toml", "--prune", "--yes")
    assert r.exit_code == 0, r.stderr
    assert json.loads(account("notification-template", "list", "-o", "json").stdout) == []
