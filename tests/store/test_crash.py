"""Crash safety (issue 7 §4, SPEC §11): a ``secmsg import`` / ``secmsg apply``
killed with SIGKILL in the middle of its transaction leaves the store exactly as
it was before the command, and sound (``db check``); a ``secmsg deliver`` (one
transaction per message) leaves every message delivered whole or not at all.

The process is killed once its write-ahead log has grown (it is writing); if
it finished before the kill, the test retries with a bigger file. After the
kill the store must be either untouched (the expected case) or, if the kill
came after the commit, completely written; a partial store fails the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secmsg_cli.store.store import Store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

WAL_GROWN = 256 * 1024  # bytes of WAL: the transaction is under way
START_SIZE = 3000  # groups (and as many attributes) in the first attempt
ATTEMPTS = 4


def _config(n: int, tag: str = "big") -> str:
    out = ['[account]', f'name = "Crash {tag}"', "", "[[domains]]", 'name = "crash.example"', 'type = "local"', ""]
    for i in range(n):
        members = ", ".join(f'"{tag}{i}.{k}@crash.example"' for k in range(5))
        out += ["[[groups]]", f'name = "{tag}-group-{i:06d}"', f"members = [{members}]", ""]
        out += ["[[attributes]]", f'address = "{tag}{i}@crash.example"',
                f'values = {{ Department = "D{i % 13}", Role = "R{i % 7}" }}', ""]
    return "\n".join(out) + "\n"


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, SECMSG_ACTOR="tester")
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SECMSG_DEBUG", None)
    return env


def _state(db: Path) -> tuple:
    from secmsg_cli.config import export_document

    with Store(db) as store:
        assert store.check() == [], store.check()
        return store.counts(), export_document(store), [dict(a) for a in store.audit_log()]


def _kill_mid_command(db: Path, args: list[str]) -> bool:
    """Run ``secmsg --db DB ARGS`` and SIGKILL it once its WAL has grown.
    True if it was killed, False if it finished first."""
    wal = Path(f"{db}-wal")
    start = wal.stat().st_size if wal.exists() else 0
    proc = subprocess.Popen([sys.executable, "-m", "secmsg_cli", "--db", str(db), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size - start > WAL_GROWN:
            break
        time.sleep(0.005)
    if proc.poll() is not None:
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        assert proc.returncode == 0, err
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return True


def _crash_test(tmp_path: Path, make_store, args_for) -> None:
    n = START_SIZE
    for attempt in range(ATTEMPTS):
        work = tmp_path / f"attempt{attempt}"
        work.mkdir()
        db = work / "store.db"
        make_store(db)
        before = _state(db)
        cfg = work / "big.toml"
        cfg.write_text(_config(n))
        killed = _kill_mid_command(db, args_for(cfg))
        after = _state(db)  # opens the store: recovers the WAL, checks integrity
        counts = after[0]
        complete = counts["groups"] >= n and counts["attributes"] >= n
        if killed and not complete:
            assert after == before, "the killed command left a partial store"
            # and the store still takes writes
            with Store(db) as store:
                store.create_group("after-the-crash", ["x@crash.example"])
            return
        # finished (or committed) before the kill: all of it is there; retry bigger
        assert complete, counts
        n *= 3
    pytest.fail(f"the command always finished before it could be killed (last size {n // 3})")


def test_import_killed_mid_transaction_leaves_the_store_empty(tmp_path):
    def make_store(db: Path) -> None:
        Store(db, create=True).close()  # created and migrated, empty

    _crash_test(tmp_path, make_store, lambda cfg: ["import", str(cfg)])


def test_apply_killed_mid_transaction_leaves_the_store_as_it_was(tmp_path):
    def make_store(db: Path) -> None:
        small = db.with_name("small.toml")
        small.write_text(_config(20, tag="small"))
        r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", str(db), "import", str(small)],
                           capture_output=True, text=True, env=_env(), timeout=300)
        assert r.returncode == 0, r.stderr

    _crash_test(tmp_path, make_store, lambda cfg: ["apply", str(cfg), "--yes"])


def test_db_check_after_a_crash_through_the_cli(tmp_path):
    """``secmsg db check`` on a store whose import was killed: sound, exit 0."""
    n = START_SIZE
    for attempt in range(ATTEMPTS):
        db = tmp_path / f"store{attempt}.db"
        Store(db, create=True).close()
        cfg = tmp_path / f"big{n}.toml"
        cfg.write_text(_config(n))
        if _kill_mid_command(db, ["import", str(cfg)]):
            break
        n *= 3
    else:
        pytest.fail("the import always finished before it could be killed")
    r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", str(db), "db", "check"],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    with Store(db) as store:
        assert store.is_empty()


def test_deliver_killed_mid_batch_leaves_each_message_whole(tmp_path):
    """``deliver`` commits message by message (a bad message must not stop a
    batch): killed in the middle, every message is delivered completely (its
    portal copy, its audit entry, its outbox file) or not at all."""
    import shutil
    import sqlite3

    from tests.conftest import DEMO, FIXTURES

    db, box = tmp_path / "store.db", tmp_path / "outbox"
    r = subprocess.run([sys.executable, "-m", "secmsg_cli", "--db", str(db), "import", str(DEMO)],
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    batch = tmp_path / "batch"
    batch.mkdir()
    one = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"  # one portal recipient
    for i in range(3000):
        shutil.copyfile(one, batch / f"m{i:05d}.eml")
    proc = subprocess.Popen([sys.executable, "-m", "secmsg_cli", "-q", "--db", str(db), "deliver", str(batch),
                             "--at", "2026-11-27T10:00:00Z", "--outbox", str(box), "-o", "jsonl"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    new = box / "new"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if new.is_dir() and sum(1 for _ in new.iterdir()) >= 50:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "deliver finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()

    with Store(db) as store:
        assert store.check() == []
        deliveries = [a for a in store.audit_log() if a["action"] == "deliver"]
    with sqlite3.connect(db) as conn:
        messages = conn.execute("SELECT count(*) FROM portal_messages").fetchone()[0]
        copies = conn.execute("SELECT count(*) FROM portal_copies").fetchone()[0]
    assert 50 <= len(deliveries) < 3000
    assert messages == copies == len(deliveries)
    listed = {f["file"] for a in deliveries for f in a["after"]["outbox"]}
    published = {p.name for p in new.iterdir()}
    assert listed <= published  # what was committed was published
    assert len(published - listed) <= 1  # at most the message in flight (its commit did not land)
    assert len(list((box / "tmp").iterdir())) <= 1  # the one in flight, never visible to readers
