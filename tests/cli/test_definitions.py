"""`secmsg definition ...`: every field of SPEC §3.2, durations, built-ins and
editions (SPEC §3.3)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.helpers import assert_error, ok, snapshot

ACCEPTED = "90m, 12h, 7d, 2w, 1y or '7 days'"


def show(cli, ref: str) -> dict:
    return ok(cli("definition", "show", ref, "-o", "json")).json


@pytest.fixture
def legal(cli):
    ok(cli("folder", "create", "Legal"))
    return cli


# --- create, show, list ------------------------------------------------------------


def test_create_with_defaults(legal):
    r = ok(legal("definition", "create", "Legal/Plain", "-o", "json"))
    assert {k: v for k, v in r.json.items() if k != "id"} == {
        "path": "Legal/Plain",
        "folder": "Legal",
        "description": "Plain",
        "allow_print": False,
        "allow_reply": True,
        "allow_reply_all": False,
        "allow_reply_all_effective": False,
        "expire_after": "never",
        "max_extension": "0d",
        "read_receipt": False,
        "banner": None,
        "notification_template": None,
        "routing": "external",
        "builtin": False,
    }
    assert show(legal, "Legal/Plain") == r.json


def test_create_with_every_field(legal):
    r = ok(
        legal(
            "definition",
            "create",
            "Legal/7-Day Expiry, Receipt",
            "--print",
            "--reply",
            "--reply-all",
            "--expire-after",
            "7d",
            "--max-extension",
            "14d",
            "--read-receipt",
            "--banner",
            "<p>Secure message from [sender]: [subject]</p>",
        )
    )
    assert "Legal/7-Day Expiry, Receipt" in r.stdout
    d = show(legal, "Legal/7-Day Expiry, Receipt")
    assert (
        d["allow_print"],
        d["allow_reply"],
        d["allow_reply_all"],
        d["allow_reply_all_effective"],
    ) == (True, True, True, True)
    assert (d["expire_after"], d["max_extension"], d["read_receipt"]) == ("7d", "14d", True)
    assert d["banner"] == "<p>Secure message from [sender]: [subject]</p>"
    assert d["routing"] == "external" and d["builtin"] is False


def test_banner_from_a_file(legal, tmp_path):
    banner = tmp_path / "banner.html"
    banner.write_text('<div class="x">Über [sender]\nsecond line</div>', encoding="utf-8")
    ok(legal("definition", "create", "Legal/Filed", "--banner-file", banner))
    assert show(legal, "Legal/Filed")["banner"] == '<div class="x">Über [sender]\nsecond line</div>'


def test_banner_errors(legal, tmp_path):
    before = snapshot(legal)
    assert_error(
        legal(
            "definition", "create", "Legal/X", "--banner", "a", "--banner-file", tmp_path / "b.html"
        ),
        1,
        "--banner",
        "--banner-file",
    )
    assert_error(
        legal("definition", "create", "Legal/X", "--banner-file", tmp_path / "missing.html"),
        1,
        "missing.html",
    )
    assert_error(
        legal("definition", "create", "Legal/X", "--banner", "x" * 20001), 1, "banner", "20000"
    )
    assert snapshot(legal) == before


def test_reply_all_is_stored_as_given_but_effective_only_with_reply(legal):
    r = ok(
        legal("definition", "create", "Legal/No Reply", "--no-reply", "--reply-all", "-o", "json")
    )
    assert (
        r.json["allow_reply"],
        r.json["allow_reply_all"],
        r.json["allow_reply_all_effective"],
    ) == (False, True, False)
    # the list reports the effective value
    table = ok(legal("definition", "list", "--folder", "Legal", "-o", "json")).json
    assert table[0]["allow_reply_all_effective"] is False
    # turning reply on makes the stored reply-all effective again
    r = ok(legal("definition", "update", "Legal/No Reply", "--reply", "-o", "json"))
    assert (r.json["allow_reply_all"], r.json["allow_reply_all_effective"]) == (True, True)
    # and it was never lost in the export
    assert '"allow_reply_all": true' in ok(legal("export", "--format", "json")).stdout


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("7d", "7d"),
        ("12h", "12h"),
        ("2w", "2w"),
        ("1y", "1y"),
        ("90m", "90m"),
        ("7 days", "7d"),
        ("30", "30d"),
        ("never", "never"),
        ("NEVER", "never"),
        (" 3 Weeks ", "3w"),
        ("1 year", "1y"),
    ],
    ids=lambda v: v.strip().replace(" ", "_"),
)
def test_durations(legal, text, stored):
    r = ok(legal("definition", "create", "Legal/D", "--expire-after", text, "-o", "json"))
    assert r.json["expire_after"] == stored
    if stored != "never":
        r = ok(legal("definition", "update", "Legal/D", "--max-extension", text, "-o", "json"))
        assert r.json["max_extension"] == stored


@pytest.mark.parametrize(
    "text",
    ["7x", "-1d", "1.5d", "d", "7 dayz", "seven days", "7d 12h", "", "٣d", "1000000000d"],
    ids=[
        "unit",
        "negative",
        "fraction",
        "no-number",
        "typo",
        "words",
        "compound",
        "empty",
        "arabic-digit",
        "too-many-digits",
    ],
)
def test_bad_durations_name_the_accepted_forms(legal, text):
    before = snapshot(legal)
    r = legal("definition", "create", "Legal/D", "--expire-after", text)
    assert_error(r, 1, "invalid expire_after", repr(text), ACCEPTED, "bare number is days", "never")
    assert snapshot(legal) == before


def test_expire_after_zero_is_refused_but_no_extension_is_fine(legal):
    before = snapshot(legal)
    assert_error(
        legal("definition", "create", "Legal/D", "--expire-after", "0d"),
        1,
        "invalid expire_after '0d'",
        "longer than 0",
    )
    assert snapshot(legal) == before
    r = ok(
        legal(
            "definition",
            "create",
            "Legal/D",
            "--expire-after",
            "1d",
            "--max-extension",
            "0d",
            "-o",
            "json",
        )
    )
    assert r.json["max_extension"] == "0d"


def test_max_extension_cannot_be_never(legal):
    assert_error(
        legal("definition", "create", "Legal/D", "--max-extension", "never"),
        1,
        "invalid max_extension",
        "'never'",
        ACCEPTED,
    )


def test_durations_beyond_a_century_are_refused(legal):
    assert_error(
        legal("definition", "create", "Legal/D", "--expire-after", "101y"), 1, "101y", "100 years"
    )


def test_creating_in_the_root_is_refused(legal):
    before = snapshot(legal)
    for path in ("Orphan", "/Orphan", "Orphan/"):
        assert_error(legal("definition", "create", path), 1, "root folder")
    assert snapshot(legal) == before


def test_creating_in_a_missing_folder_is_not_found(legal):
    assert_error(legal("definition", "create", "Nowhere/X"), 1, "Nowhere", "not found")
    assert_error(legal("definition", "create", "Legal/Sub/X"), 1, "Legal/Sub", "not found")


def test_duplicate_description_in_a_folder_is_refused(legal):
    ok(legal("definition", "create", "Legal/7-Day"))
    ok(legal("folder", "create", "Finance"))
    ok(legal("definition", "create", "Finance/7-Day"))  # another folder: fine
    before = snapshot(legal)
    assert_error(
        legal("definition", "create", "legal/7-DAY", "--print"), 1, "already exists", "Legal"
    )
    assert snapshot(legal) == before


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("Legal/Tab\there", "control"),
        ("Legal/" + "x" * 201, "longer than"),
        ("Legal/ ", "FOLDER/DESCRIPTION"),
    ],
    ids=["control", "too-long", "blank"],
)
def test_invalid_descriptions(legal, path, fragment):
    assert_error(legal("definition", "create", path), 1, fragment)


def test_list_all_and_by_folder(demo):
    r = ok(demo("definition", "list", "-o", "json"))
    paths = [d["path"] for d in r.json]
    assert paths == [
        "Default/All Recipients",
        "Default/External Recipients",
        "Finance/Audit Evidence, 1 Year",
        "Finance/Statements, 2 Weeks",
        "HR/Personnel, Silent",
        "HR/Archive/Retained, Never Expires",
        "Legal/7-Day Expiry, Receipt",
        "Legal/Client Correspondence",
        "Legal/Restricted/Privileged, No Print, 12 Hours",
        "Templates/Auto-Secure Outbound",
    ]
    kinds = {d["path"]: d["banner_kind"] for d in r.json}
    assert kinds["HR/Personnel, Silent"] == "hidden"
    assert kinds["Legal/7-Day Expiry, Receipt"] == "custom"
    assert kinds["Legal/Client Correspondence"] == "standard"
    legal = ok(demo("definition", "list", "--folder", "legal", "-o", "json")).json
    assert [d["path"] for d in legal] == [
        "Legal/7-Day Expiry, Receipt",
        "Legal/Client Correspondence",
    ]
    assert_error(demo("definition", "list", "--folder", "Nowhere"), 1, "Nowhere")


def test_list_table(demo):
    r = ok(demo("definition", "list"))
    assert "Legal/Restricted/Privileged, No Print, 12 Hours" in r.stdout
    assert "reply all" in r.stdout and "expires" in r.stdout


def test_address_by_id_and_by_path_case_insensitively(demo):
    d = show(demo, "legal/restricted/PRIVILEGED, NO PRINT, 12 HOURS")
    assert d["path"] == "Legal/Restricted/Privileged, No Print, 12 Hours"
    assert (d["expire_after"], d["allow_reply"], d["allow_print"]) == ("12h", False, False)
    assert show(demo, str(d["id"])) == d
    assert show(demo, f" {d['id']} ") == d
    assert_error(demo("definition", "show", "99999"), 1, "99999", "not found")
    assert_error(demo("definition", "show", "Legal/Nope"), 1, "Legal/Nope", "not found")
    assert_error(demo("definition", "show", "Nope"), 1, "Nope")


# --- update and delete ------------------------------------------------------------


def test_update_settings_rename_and_move(legal):
    ok(legal("folder", "create", "Archive"))
    ok(legal("definition", "create", "Legal/Draft", "--banner", "<p>x</p>", "--expire-after", "7d"))
    r = ok(
        legal(
            "definition",
            "update",
            "legal/draft",
            "--print",
            "--no-reply",
            "--reply-all",
            "--expire-after",
            "2w",
            "--max-extension",
            "12h",
            "--read-receipt",
            "--no-banner",
            "--description",
            "Final",
            "--folder",
            "archive",
            "-o",
            "json",
        )
    )
    d = r.json
    assert d["path"] == "Archive/Final"
    assert (
        d["allow_print"],
        d["allow_reply"],
        d["allow_reply_all"],
        d["allow_reply_all_effective"],
    ) == (True, False, True, False)
    assert (d["expire_after"], d["max_extension"], d["read_receipt"], d["banner"]) == (
        "2w",
        "12h",
        True,
        None,
    )
    assert_error(legal("definition", "show", "Legal/Draft"), 1, "not found")
    entry = legal("audit", "-o", "json").json[0]
    assert (entry["action"], entry["kind"], entry["object"]) == (
        "update",
        "definition",
        "Legal/Draft",
    )
    assert entry["before"]["expire_after"] == "7d" and entry["after"]["expire_after"] == "2w"


def test_update_refusals_write_nothing(legal):
    ok(legal("definition", "create", "Legal/A"))
    ok(legal("definition", "create", "Legal/B"))
    before = snapshot(legal)
    assert_error(legal("definition", "update", "Legal/A"), 1, "nothing to change")
    assert_error(
        legal("definition", "update", "Legal/A", "--description", "b"), 1, "already exists"
    )
    assert_error(
        legal("definition", "update", "Legal/A", "--description", "x/y"), 1, "'/' is not allowed"
    )
    assert_error(legal("definition", "update", "Legal/A", "--folder", "Nowhere"), 1, "Nowhere")
    assert_error(legal("definition", "update", "Legal/A", "--folder", "/"), 1, "root")
    assert_error(
        legal("definition", "update", "Legal/A", "--expire-after", "soon"), 1, "soon", ACCEPTED
    )
    assert_error(
        legal("definition", "update", "Legal/A", "--banner", "x", "--no-banner"), 1, "--no-banner"
    )
    assert_error(
        legal("definition", "update", "Legal/Nope", "--print"), 1, "Legal/Nope", "not found"
    )
    assert snapshot(legal) == before


def test_delete(legal):
    d = ok(legal("definition", "create", "Legal/A", "-o", "json")).json
    ok(legal("definition", "create", "Legal/B"))
    r = ok(legal("definition", "delete", str(d["id"])))
    assert "Legal/A" in r.stdout
    ok(legal("definition", "delete", "LEGAL/b"))
    assert ok(legal("definition", "list", "--folder", "Legal", "-o", "json")).json == []
    assert_error(legal("definition", "delete", "Legal/A"), 1, "not found")
    log = legal("audit", "-o", "json").json
    assert [(e["action"], e["object"]) for e in log[:2]] == [
        ("delete", "Legal/B"),
        ("delete", "Legal/A"),
    ]
    assert log[1]["before"]["description"] == "A" and log[1]["after"] is None


@pytest.mark.parametrize("ref", ["Default/All Recipients", "default/external recipients", "1", "2"])
@pytest.mark.parametrize(
    "args",
    [
        ("update", "--print"),
        ("update", "--description", "Renamed"),
        ("update", "--folder", "Legal"),
        ("update", "--expire-after", "7d"),
        ("delete",),
    ],
    ids=["print", "rename", "move", "expiry", "delete"],
)
def test_builtins_are_read_only(legal, ref, args):
    before = snapshot(legal)
    r = legal("definition", args[0], ref, *args[1:])
    assert_error(r, 1, "built-in", "read-only", "Default/")
    assert snapshot(legal) == before


# --- editions -------------------------------------------------------------------------


def test_lite_edition_refuses_create_naming_the_edition(legal):
    ok(legal("account", "set", "--edition", "lite"))
    before = snapshot(legal)
    assert_error(legal("definition", "create", "Legal/X"), 1, "edition", "lite")
    assert snapshot(legal) == before
    # the built-ins are still there and usable
    assert len(ok(legal("definition", "list", "-o", "json")).json) == 2


def test_lite_edition_refuses_update_naming_the_edition(legal, _isolated_store):
    ok(legal("definition", "create", "Legal/X"))
    # A store that is already lite with a custom definition cannot be reached
    # through the CLI (switching is refused); make one directly.
    with sqlite3.connect(_isolated_store) as conn:
        conn.execute("UPDATE account SET edition = 'lite'")
    conn.close()
    before = snapshot(legal)
    assert_error(legal("definition", "update", "Legal/X", "--print"), 1, "edition", "lite")
    assert snapshot(legal) == before


def test_full_edition_allows_many_definitions(legal):
    for i in range(12):
        ok(legal("definition", "create", f"Legal/D{i}"))
    assert len(ok(legal("definition", "list", "--folder", "Legal", "-o", "json")).json) == 12
