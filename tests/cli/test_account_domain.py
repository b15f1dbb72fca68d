"""`secmsg init`, `db path|status`, `account show|set` and `domain add|list|remove`
(SPEC §2, §10, §11)."""

from __future__ import annotations

import pytest


def snapshot(cli) -> tuple[dict, str]:
    """Everything a failed command must leave alone: object and audit counts,
    and the whole exported configuration."""
    status = cli("db", "status", "-o", "json")
    assert status.exit_code == 0, status.output
    exported = cli("export", "--format", "json")
    assert exported.exit_code == 0, exported.output
    return status.json, exported.stdout


def assert_error(r, code: int, *fragments: str) -> None:
    """A clean failure: exit code, one line on stderr starting 'error: ' that
    mentions every fragment, nothing on stdout, no traceback."""
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: "), r.output
    assert r.stderr.count("\n") == 1, r.output
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.output)
    assert r.stdout == "", r.output


# --- init, db path, db status ------------------------------------------------


def test_init_creates_the_store_with_builtins(bare_cli, _isolated_store):
    cli = bare_cli
    assert not _isolated_store.exists()
    r = cli("init")
    assert r.exit_code == 0, r.output
    assert "Initialised" in r.stdout and str(_isolated_store) in r.stdout
    assert _isolated_store.exists()
    defs = cli("definition", "list", "-o", "json").json
    assert {(d["path"], d["routing"], d["builtin"]) for d in defs} == {
        ("Default/All Recipients", "all", True),
        ("Default/External Recipients", "external", True),
    }
    folders = cli("folder", "list", "-o", "json").json
    assert [(f["path"], f["publish_to"]) for f in folders] == [("Default", ["everyone"])]


def test_init_is_idempotent(cli):
    assert cli("init").exit_code == 0
    assert cli("domain", "add", "example.com").exit_code == 0
    before = snapshot(cli)
    again = cli("init")
    assert again.exit_code == 0, again.output
    assert "already initialised" in again.stdout
    assert snapshot(cli) == before


def test_init_quiet_prints_nothing(cli):
    r = cli("-q", "init")
    assert r.exit_code == 0, r.output
    assert r.stdout == ""


def test_builtin_definitions_have_the_spec_settings(cli):
    for path in ("Default/All Recipients", "Default/External Recipients"):
        d = cli("definition", "show", path, "-o", "json").json
        assert (
            d["allow_print"],
            d["allow_reply"],
            d["allow_reply_all"],
            d["expire_after"],
            d["read_receipt"],
            d["banner"],
        ) == (False, True, True, "never", False, None), d


def test_db_path_follows_env_and_option_and_creates_nothing(bare_cli, _isolated_store, tmp_path):
    cli = bare_cli
    r = cli("db", "path")
    assert r.exit_code == 0, r.output
    assert r.stdout == f"{_isolated_store}\n"
    other = tmp_path / "sub" / "other.db"
    r = cli("--db", other, "db", "path")
    assert r.stdout == f"{other}\n"
    assert not _isolated_store.exists() and not other.exists()


def test_db_status_reports_path_schema_and_counts(demo, _isolated_store):
    from secmsg_cli.store.migrations import SCHEMA_VERSION

    s = demo("db", "status", "-o", "json").json
    assert s["path"] == str(_isolated_store)
    assert s["schema_version"] == SCHEMA_VERSION
    assert (s["account"], s["edition"]) == ("Harbor & Finch LLP", "full")
    assert (s["domains"], s["groups"], s["attributes"]) == (
        3,
        6,
        24,
    )  # 24 name=value pairs of 12 addresses
    assert s["folders"] == 7  # Default + 6 declared
    assert s["definitions"] == 10  # 2 built-ins + 8 declared
    assert s["audit_entries"] > 0


def test_global_db_option_beats_env(cli, _isolated_store, tmp_path):
    other = tmp_path / "other.db"
    assert cli("--db", other, "init").exit_code == 0
    assert cli("--db", other, "domain", "add", "example.com").exit_code == 0
    assert other.exists()
    assert cli("--db", other, "domain", "list", "-o", "json").json[0]["name"] == "example.com"
    assert cli("domain", "list", "-o", "json").json == []


# --- account ------------------------------------------------------------------


def test_account_defaults(cli):
    r = cli("account", "show", "-o", "json")
    assert r.exit_code == 0, r.output
    assert r.json == {
        "name": "",
        "edition": "full",
        "max_retention_days": 3650,
        "timezone": "UTC",
        "portal_url": "https://portal.invalid/secure",
        "bypass_scope": "policy",
        "expired_view": False,
    }


def test_account_set_every_setting(cli):
    r = cli(
        "account",
        "set",
        "--name",
        "Example Corp",
        "--edition",
        "LITE",
        "--max-retention-days",
        "365",
        "--timezone",
        "Europe/London",
        "--portal-url",
        "https://secure.example.com/portal",
        "--bypass-scope",
        "all",
        "--expired-view",
    )
    assert r.exit_code == 0, r.output
    assert "Updated account" in r.stdout
    assert cli("account", "show", "-o", "json").json == {
        "name": "Example Corp",
        "edition": "lite",
        "max_retention_days": 365,
        "timezone": "Europe/London",
        "portal_url": "https://secure.example.com/portal",
        "bypass_scope": "all",
        "expired_view": True,
    }
    r = cli("account", "set", "--no-expired-view", "--edition", "full", "-o", "json")
    assert r.exit_code == 0, r.output
    assert (r.json["expired_view"], r.json["edition"], r.json["name"]) == (
        False,
        "full",
        "Example Corp",
    )


def test_account_set_is_audited_with_before_and_after(cli):
    assert cli("account", "set", "--timezone", "Europe/Paris").exit_code == 0
    entry = cli("audit", "-o", "json").json[0]
    assert (entry["action"], entry["kind"], entry["actor"]) == ("update", "account", "tester")
    assert entry["before"]["timezone"] == "UTC"
    assert entry["after"]["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("option", "value", "names"),
    [
        ("--timezone", "Mars/Olympus", "Mars/Olympus"),
        ("--timezone", "Europe", "Europe"),  # a directory of the tz database, not a zone
        ("--timezone", "../../etc/passwd", "passwd"),
        ("--timezone", "", "timezone"),
        ("--edition", "pro", "pro"),
        ("--max-retention-days", "0", "max_retention_days"),
        ("--max-retention-days", "36501", "max_retention_days"),
        ("--max-retention-days", "ten", "ten"),
        ("--max-retention-days", "1.5", "1.5"),
        ("--portal-url", "ftp://portal.example.com", "ftp://portal.example.com"),
        ("--portal-url", "portal.example.com", "portal.example.com"),
        ("--portal-url", "https://", "portal_url"),
        ("--bypass-scope", "sometimes", "sometimes"),
    ],
    ids=lambda v: v if isinstance(v, str) and v else "empty",
)
def test_account_set_invalid_values_are_refused_and_nothing_is_written(cli, option, value, names):
    cli("init")
    before = snapshot(cli)
    r = cli("account", "set", option, value, "--name", "Changed")
    assert_error(r, 1, names, f"invalid {option.lstrip('-').replace('-', '_')}")
    assert snapshot(cli) == before


def test_account_set_without_settings_is_an_error(cli):
    assert_error(cli("account", "set"), 1, "nothing to change")


def test_switching_to_lite_with_custom_definitions_is_refused(cli):
    assert cli("folder", "create", "Legal").exit_code == 0
    assert cli("definition", "create", "Legal/Custom").exit_code == 0
    before = snapshot(cli)
    r = cli("account", "set", "--edition", "lite")
    assert_error(r, 1, "lite", "custom definition")
    assert snapshot(cli) == before
    assert cli("account", "show", "-o", "json").json["edition"] == "full"


def test_switching_to_lite_with_only_builtins_is_allowed(cli):
    r = cli("account", "set", "--edition", "lite", "-o", "json")
    assert r.exit_code == 0, r.output
    assert r.json["edition"] == "lite"


# --- domains ------------------------------------------------------------------


def test_domain_add_list_remove(cli):
    r = cli("domain", "add", "Example.COM", "--type", "remote")
    assert r.exit_code == 0, r.output
    assert "example.com" in r.stdout
    assert cli("domain", "add", "send.example.com", "-t", "send-only").exit_code == 0
    assert cli("domain", "add", "local.example.org").exit_code == 0
    listed = cli("domain", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert [(d["name"], d["type"]) for d in listed.json] == [
        ("example.com", "remote"),
        ("local.example.org", "local"),
        ("send.example.com", "send-only"),
    ]
    r = cli("domain", "remove", "EXAMPLE.com")
    assert r.exit_code == 0, r.output
    assert [d["name"] for d in cli("domain", "list", "-o", "json").json] == [
        "local.example.org",
        "send.example.com",
    ]


def test_domain_idna_is_stored_in_ascii_and_displayed_in_unicode(cli):
    r = cli("domain", "add", "bücher.de", "-o", "json")
    assert r.exit_code == 0, r.output
    assert r.json == {"name": "xn--bcher-kva.de", "type": "local", "display": "bücher.de"}
    assert cli("domain", "list", "-o", "json").json == [r.json]
    # the same domain, written either way, is a duplicate and can be removed either way
    assert_error(cli("domain", "add", "XN--BCHER-KVA.DE"), 1, "xn--bcher-kva.de", "already")
    assert_error(cli("domain", "add", "BÜCHER.de"), 1, "already")
    assert cli("domain", "remove", "Bücher.DE").exit_code == 0
    assert cli("domain", "list", "-o", "json").json == []


def test_domain_duplicate_is_refused_and_nothing_written(cli):
    assert cli("domain", "add", "example.com").exit_code == 0
    before = snapshot(cli)
    assert_error(
        cli("domain", "add", "example.com.", "--type", "remote"), 1, "example.com", "already"
    )
    assert snapshot(cli) == before


@pytest.mark.parametrize(
    "bad",
    [
        "not a domain",
        "localhost",
        "a..b.com",
        "-bad.com",
        "bad-.com",
        "example.123",
        "exa_mple.com",
        "x" * 64 + ".com",
        "@example.com",
        "user@example.com",
        "xn--zz.com",
        ".",
        "",
    ],
    ids=[
        "space",
        "one-label",
        "empty-label",
        "leading-hyphen",
        "trailing-hyphen",
        "numeric-tld",
        "underscore",
        "long-label",
        "at-sign",
        "address",
        "bad-punycode",
        "dot",
        "empty",
    ],
)
def test_domain_add_invalid_is_refused(cli, bad):
    cli("init")
    before = snapshot(cli)
    r = cli("domain", "add", "--", bad)
    assert_error(r, 1, f"invalid domain {bad!r}")  # names the input exactly as given
    assert snapshot(cli) == before


def test_domain_add_invalid_type_names_the_accepted_types(cli):
    assert_error(
        cli("domain", "add", "example.com", "--type", "hosted"),
        1,
        "hosted",
        "local, remote, send-only",
    )
    assert cli("domain", "list", "-o", "json").json == []


def test_domain_remove_unknown_is_not_found(cli):
    assert cli("domain", "add", "example.com").exit_code == 0
    assert_error(cli("domain", "remove", "example.org"), 1, "example.org")
    assert_error(cli("domain", "remove", "not a domain"), 1, "invalid domain")
    assert len(cli("domain", "list", "-o", "json").json) == 1


def test_domain_writes_are_audited(cli):
    cli("domain", "add", "example.com", "-t", "remote")
    cli("domain", "remove", "example.com")
    log = cli("audit", "-o", "json").json
    assert [(e["action"], e["kind"], e["object"]) for e in log[:2]] == [
        ("delete", "domain", "example.com"),
        ("create", "domain", "example.com"),
    ]
    assert log[1]["after"] == {"name": "example.com", "type": "remote"}
    assert log[0]["before"] == {"name": "example.com", "type": "remote"} and log[0]["after"] is None
