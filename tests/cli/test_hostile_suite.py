"""The hostile-input set (tests/hostile/generate.py) through the real processes.

Each message must get a decision or a one-line error, never a traceback, in
bounded time (the subprocess timeout is a hang detector, not a timing test);
what ``simulate`` cannot read makes the definitions that examine it fire
(fail closed); nothing is dropped without a note; ``deliver`` delivers what
``simulate`` decides, recipient for recipient, or refuses with one line; and
text from the message never reaches the terminal as control characters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile import generate

pytestmark = pytest.mark.slow  # every generated hostile message through real processes

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds: only a safety net against hangs
CASES = {c.name: c for c in generate.cases()}


def secmsg(db: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SECMSG_ACTOR="tester", PYTHONPATH=str(ROOT), COLUMNS="120")
    env.pop("SECMSG_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "-q", "--db", str(db), *args],
        input=input,
        capture_output=True,
        timeout=TIMEOUT,
        env=env,
    )


def assert_clean(r: subprocess.CompletedProcess) -> None:
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode in (0, 1), f"exit {r.returncode}: {err[-2000:]}"
    for text in (r.stdout.decode("utf-8", "replace"), err):
        assert "Traceback" not in text and "internal error" not in text, text[-3000:]
    assert len(err.strip().splitlines()) <= 1, err[-2000:]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The generated set and a store of hostile.toml (the demo + the patterns)."""
    out = tmp_path_factory.mktemp("hostile")
    generate.write(out / "set")
    db = out / "hostile.db"
    r = secmsg(db, "import", str(out / "set" / "hostile.toml"))
    assert r.returncode == 0, r.stderr
    return out / "set", db


@pytest.fixture(scope="module")
def simulated(hostile):
    """Every case's ``simulate -o json`` document."""
    directory, db = hostile
    docs = {}
    plain = [n for n, c in CASES.items() if not c.args]
    r = secmsg(
        db,
        "simulate",
        *(str(directory / f"{n}.eml") for n in plain),
        "--at",
        generate.AT,
        "-o",
        "jsonl",
    )
    assert_clean(r)
    for line in r.stdout.splitlines():
        doc = json.loads(line)
        docs[Path(doc["source"]).stem] = doc
    for name, case in CASES.items():
        if case.args:
            r = secmsg(
                db,
                "simulate",
                str(directory / f"{name}.eml"),
                *case.args,
                "--at",
                generate.AT,
                "-o",
                "json",
            )
            assert_clean(r)
            docs[name] = json.loads(r.stdout)
    assert set(docs) == set(CASES)
    return docs


@pytest.mark.parametrize("name", list(CASES))
def test_simulate_decides_or_refuses_in_one_line(simulated, name):
    doc, expect = simulated[name], CASES[name].expect
    assert doc["schema_version"] == 1
    if "error" in expect:
        assert expect["error"] in doc["error"], doc
        return
    assert "error" not in doc, doc["error"]
    by_address = {r["address"]: r for r in doc["recipients"]}
    for address in expect.get("secure", ()):
        assert by_address[address]["secure"], by_address[address]
    if "recipients" in expect:
        assert len(doc["recipients"]) == expect["recipients"]
    if "note" in expect:
        assert any(expect["note"] in n for n in doc["message"]["notes"]), doc["message"]["notes"]
    if "unscannable" in expect:
        found = [c.get("unscannable") or "" for r in doc["recipients"] for c in r["content"]]
        assert any(expect["unscannable"] in u for u in found), found


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "deliver" in c.expect])
def test_deliver_delivers_what_simulate_decides(hostile, simulated, tmp_path, name):
    directory, db = hostile
    case = CASES[name]
    store = tmp_path / "store.db"
    store.write_bytes(db.read_bytes())
    r = secmsg(
        store,
        "deliver",
        str(directory / f"{name}.eml"),
        *case.args,
        "--at",
        generate.AT,
        "--outbox",
        str(tmp_path / "outbox"),
        "-o",
        "json",
    )
    assert_clean(r)
    doc = json.loads(r.stdout)
    if case.expect["deliver"] != "ok":
        assert r.returncode == 1 and case.expect["deliver"] in doc["error"], doc
        assert not any((tmp_path / "outbox" / "new").glob("*")), (
            "a refused message must leave nothing behind"
        )
        return
    assert r.returncode == 0 and "error" not in doc, doc.get("error")
    decided = {
        x["address"]: (x["route"], x["secure"], x["definition"])
        for x in simulated[name]["recipients"]
    }
    delivered = {
        x["address"]: (x["route"], x["secure"], x["definition"]) for x in doc["recipients"]
    }
    assert delivered == decided
    portal = [a for a, (route, secure, _) in decided.items() if route == "portal" and secure]
    assert len(doc["portal_ids"]) == len(portal)


def test_no_control_character_reaches_the_terminal(hostile):
    directory, db = hostile
    r = secmsg(
        db,
        "simulate",
        str(directory / "terminal-escapes.eml"),
        str(directory / "8-bit-headers.eml"),
        "--at",
        generate.AT,
        "--explain",
    )
    assert_clean(r)
    assert b"\x1b" not in r.stdout and b"\r" not in r.stdout and b"\x07" not in r.stdout
    assert b"\\x1b]0;pwned" in r.stdout  # shown, escaped


def test_a_directory_with_a_fifo_and_a_dangling_link_names_them_and_does_not_hang(
    hostile, tmp_path
):
    _directory, db = hostile
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.eml").write_bytes(CASES["depth-49"].data)
    os.mkfifo(corpus / "b-fifo.eml")
    (corpus / "c-dangling.eml").symlink_to(tmp_path / "nowhere.eml")
    (corpus / "d-loop").symlink_to(corpus)  # a directory loop is not followed
    r = secmsg(db, "simulate", str(corpus), "--at", generate.AT, "-o", "jsonl")
    assert_clean(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(d["source"]).name for d in docs] == ["a.eml", "b-fifo.eml", "c-dangling.eml"]
    assert "recipients" in docs[0]
    assert "not a regular file" in docs[1]["error"] and "no such file" in docs[2]["error"]
    assert r.returncode == 1
