"""Several processes writing one store at once (issue 7 §3, SPEC §2/§11).

8 processes x 100 writes, started together: none fails with "database is
locked" (busy timeout + ``BEGIN IMMEDIATE``), no write is lost, and every write
has its audit row. Each worker is a small Python loop over
:class:`secmsg_cli.store.store.Store` (the CLI would spend the time on start-up,
not on the contention this test is about); the CLI path is covered by a
smaller mixed run through ``secmsg`` subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from secmsg_cli.store.store import Store

pytestmark = pytest.mark.slow  # processes writing the store at once

PROCS = 8
WRITES = 100

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from secmsg_cli.store.store import Store

    db, go, wid, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = Store(db, create=True)    # every process creates (or opens) and may migrate on its own
    deadline = time.monotonic() + 60
    while not go.exists():            # start together: the most contention
        if time.monotonic() > deadline:
            sys.exit("never started")
        time.sleep(0.001)
    for i in range(n):
        if i % 2:
            store.set_attributes(f"w{wid}.{i}@example.com", {"Worker": str(wid)})
        else:
            store.create_group(f"w{wid}-g{i}", [f"w{wid}.{i}@example.com"])
    store.close()
    """
)


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, SECMSG_ACTOR="tester")
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SECMSG_DEBUG", None)
    return env


def _run_together(cmds: list[list[str]], go: Path) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        for c in cmds
    ]
    time.sleep(0.5)  # let them all start and open the store
    go.touch()
    results = []
    for p, c in zip(procs, cmds, strict=True):
        try:
            out, err = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError(f"a writer hung: {c}") from None
        results.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return results


def test_eight_processes_times_a_hundred_writes(tmp_path):
    db = tmp_path / "shared.db"  # not created yet: the processes race to create and migrate it
    go = tmp_path / "go"
    cmds = [
        [sys.executable, "-c", WORKER, str(db), str(go), str(w), str(WRITES)] for w in range(PROCS)
    ]
    results = _run_together(cmds, go)
    for r in results:
        err = r.stderr.decode(errors="replace")
        assert "locked" not in err and "busy" not in err, err
        assert r.returncode == 0, err
    with Store(db) as store:
        groups = {g.name for g in store.groups()}
        expected_groups = {f"w{w}-g{i}" for w in range(PROCS) for i in range(0, WRITES, 2)}
        assert groups == expected_groups
        attrs = {(r["address"], r["value"]) for r in store.attributes(name="Worker")}
        expected_attrs = {
            (f"w{w}.{i}@example.com", str(w)) for w in range(PROCS) for i in range(1, WRITES, 2)
        }
        assert attrs == expected_attrs
        assert len(groups) + len(attrs) == PROCS * WRITES
        audit = store.audit_log()
        writes = [a for a in audit if a["kind"] in ("group", "attribute")]
        assert len(writes) == PROCS * WRITES, len(writes)
        assert store.check() == []


def test_cli_processes_writing_at_once(tmp_path):
    """The same through the real CLI: 8 ``secmsg`` processes x (init + 5 commands) each."""
    db = tmp_path / "cli.db"
    go = tmp_path / "go"
    script = textwrap.dedent(
        """
        import subprocess, sys, time
        from pathlib import Path
        db, go, wid = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
        while not go.exists():
            time.sleep(0.001)
        # Every process initialises (only init, import and apply create a store): they race to create it.
        r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", db, "init"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"init: exit {r.returncode}: {r.stderr}")
        for i in range(5):
            r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", db, "group", "create",
                                f"c{wid}-{i}", "--member", f"c{wid}.{i}@example.com"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"exit {r.returncode}: {r.stderr}")
        """
    )
    cmds = [[sys.executable, "-c", script, str(db), str(go), str(w)] for w in range(PROCS)]
    results = _run_together(cmds, go)
    for r in results:
        err = r.stderr.decode(errors="replace")
        assert "locked" not in err, err
        assert r.returncode == 0, err
    with Store(db) as store:
        assert {g.name for g in store.groups()} == {
            f"c{w}-{i}" for w in range(PROCS) for i in range(5)
        }
        assert len([a for a in store.audit_log() if a["kind"] == "group"]) == PROCS * 5


def test_readers_racing_the_first_init_see_a_store_or_none(tmp_path):
    """Commands that do not create a store, started with a first ``init``:
    each sees the whole new store or "no store", never a half-made one, an
    internal error or a lock error; and none of them creates it."""
    db = tmp_path / "new" / "store.db"
    go = tmp_path / "go"
    script = textwrap.dedent(
        """
        import subprocess, sys, time
        from pathlib import Path
        db, go, command = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
        while not go.exists():
            time.sleep(0.001)
        outcomes = []
        for _ in range(3):
            r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", db, *command],
                               capture_output=True, text=True)
            outcomes.append(r.returncode)
            if r.returncode not in (0, 1) or (r.returncode == 1 and not r.stderr.startswith("error: no store at")):
                sys.exit(f"exit {r.returncode}: {r.stderr}")
        print(" ".join(map(str, outcomes)))
        """
    )
    readers = [
        ["domain", "list", "-o", "json"],
        ["db", "status", "-o", "json"],
        ["audit", "-o", "json"],
    ]
    cmds = [
        [sys.executable, "-c", script, str(db), str(go), *readers[w % len(readers)]]
        for w in range(4)
    ]
    cmds.append([sys.executable, "-c", script, str(db), str(go), "init"])
    results = _run_together(cmds, go)
    for r in results:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert results[-1].stdout.split() == [b"0"] * 3  # init always succeeds
    with Store(db) as store:
        assert store.is_empty() and store.audit_log() == []


def test_opening_a_second_store_keeps_the_first_ones_locks(tmp_path):
    """Closing any file handle on the database drops every POSIX lock this
    process holds on it, those of a connection still open included: opening
    a Store must not read the file through a handle of its own. (With one
    Store held open while another was opened and closed, a delivery by
    another process then left this process reading the store as malformed.)"""
    from secmsg_cli.store.store import Store
    from tests.conftest import DEMO, FIXTURES

    db = tmp_path / "s.db"
    env = {**os.environ, "SECMSG_DB": str(db)}

    def secmsg(*args: str | Path) -> None:
        subprocess.run([sys.executable, "-m", "secmsg_cli", "-q", *map(str, args)], env=env,
                       check=True, capture_output=True, timeout=60)  # fmt: skip

    secmsg("import", DEMO)
    held = Store(db)
    held.account()
    with Store(db) as other:
        other.account()
    secmsg("account", "set", "--name", "Changed elsewhere")
    message = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
    secmsg("deliver", message, "--outbox", tmp_path / "outbox")
    with Store(db) as again:
        assert again.account().name == "Changed elsewhere"
        assert again.portal_records.portal_copy(1).recipient == "m.okonkwo@lexpartners.com"
    assert held.account().name == "Changed elsewhere"
    held.close()
