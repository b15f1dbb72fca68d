#!/usr/bin/env python3
"""secmsg benchmark: ``portal list`` filters and ``report`` at 10,000 vs 100,000
portal copies (issue 15). Ratios, measured side by side on one machine.

    python bench/portal_scale.py [--small N] [--large N] [--runs N] [--workdir DIR] [--plans]

Two stores are made with ``secmsg init`` and ``secmsg import
fixtures/demo.toml``, then filled by direct SQL inserts (a bench shortcut: the
rows are shaped as ``deliver`` writes them). Both have the same daily traffic,
100 copies a day, the large one over ten times the history, the way a store
grows; so every question about "now" has an answer of the same size in both
(the copies still unread, those expiring next week, last month's reports),
and so has a needle domain with 50 copies spread over the whole history. What
the figures show is whether finding that answer costs the size of the store
(a full scan: ~10x) or not (an index: ~1x).

Each command runs as a subprocess (wall time, best of ``--runs``, default 5),
start-up included, as a person at a terminal sees it. Goal: time at 100k /
time at 10k <= 3 for each. The reports over the whole history (no --since)
are printed too, for information: they count every copy, in SQL, and grow
with the store by nature. ``--plans`` prints SQLite's query plan of each
list filter.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SECMSG, verdict  # the house's secmsg command and verdicts (bench/run.py)

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PER_DAY = 100
NEEDLE = "needle.example"
DEFINITIONS = (  # the demo's, with their expiry in days
    ("Legal/7-Day Expiry, Receipt", 7),
    ("Legal/Client Correspondence", 30),
    ("Finance/Statements, 2 Weeks", 14),
)
TRIGGERS = ("content", "policy", "user")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def secmsg(db: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, SECMSG_ACTOR="bench")
    env.pop("SECMSG_DEBUG", None)
    return subprocess.run(
        [*SECMSG, "-q", "--db", str(db), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def build(db: Path, copies: int, seed: int) -> None:
    """A store of ``copies`` portal copies, ``PER_DAY`` a day up to ``AT``."""
    if db.exists():
        db.unlink()
    for args in (("init",), ("import", str(ROOT / "fixtures" / "demo.toml"))):
        r = secmsg(db, *args)
        if r.returncode:
            raise SystemExit(f"bench: secmsg {args[0]} failed: {r.stderr.decode()[-500:]}")
    rng = random.Random(seed)
    days = copies // PER_DAY
    start = AT - timedelta(days=days)
    needles = set(rng.sample(range(copies), 50))
    messages: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []
    i = 0
    while i < copies:
        mid = len(messages) + 1
        sent = start + timedelta(seconds=int(i * 86400 / PER_DAY))
        sender = f"user{rng.randrange(500)}@harborfinch.com"
        messages.append(
            (mid, f"<m{mid}@harborfinch.com>", sender, sender, None, f"Subject {mid}", iso(sent),
             "gateway", None, b"x", 1, "0" * 64)
        )  # fmt: skip
        for _ in range(rng.choice((1, 1, 2, 3))):
            if i >= copies:
                break
            definition, days_valid = DEFINITIONS[rng.randrange(len(DEFINITIONS))]
            expires = sent + timedelta(days=days_valid)
            domain = NEEDLE if i in needles else f"partner{rng.randrange(2000)}.example"
            age = AT - sent
            # people open most copies within a day; the rest expire unread
            # and a sweep marks them; the last day's are mostly still unread
            opened = rng.random() < (0.3 if age < timedelta(days=1) else 0.8)
            read_at = iso(sent + timedelta(minutes=rng.randrange(1, 1440))) if opened else None
            if read_at is not None and read_at > iso(AT):
                read_at = None
            expired_at = iso(expires) if expires <= AT and read_at is None else None
            ended = rng.random()
            recalled = (
                iso(sent + timedelta(minutes=5)) if ended < 0.005 and read_at is None else None
            )
            revoked = iso(sent + timedelta(hours=2)) if 0.005 <= ended < 0.01 else None
            i += 1
            rows.append(
                (i, mid, f"r{i}@{domain}", 0, definition, "{}", 0, 1, 0, 0, iso(sent), iso(expires),
                 iso(expires), iso(expires + timedelta(days=14)), iso(sent + timedelta(days=2555)),
                 read_at, recalled, revoked, expired_at, f"{i:012x}", "0" * 64,
                 TRIGGERS[rng.randrange(3)])
            )  # fmt: skip
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO portal_messages (id, message_id, sender, header_from, header_from_name, subject, "
            "sent, via, source, raw, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            messages,
        )
        conn.executemany(
            "INSERT INTO portal_copies (id, message_ref, recipient, internal, definition, settings, "
            "allow_print, allow_reply, allow_reply_all, read_receipt, sent, expires, original_expires, "
            "latest_expiry, retention_end, read_at, recalled_at, revoked_at, expired_at, token_id, "
            "token_hash, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO audit (at, actor, action, kind, object) VALUES (?, 'admin', ?, 'portal-copy', ?)",
            [
                (r[16] or r[17], "recall" if r[16] else "revoke", str(r[0]))
                for r in rows
                if r[16] or r[17]
            ],
        )
        conn.execute("ANALYZE")


def commands() -> list[tuple[str, list[str], bool]]:
    """(name, arguments, counted toward the goal)."""
    at = ["--at", iso(AT)]
    month = ["--since", (AT - timedelta(days=30)).date().isoformat()]
    week = (AT + timedelta(days=7)).date().isoformat()
    return [
        ("list --recipient @domain", ["portal", "list", "--recipient", f"@{NEEDLE}", *at], True),
        ("list --status unread", ["portal", "list", "--status", "unread", *at], True),
        (
            "list --expires-before (next week)",
            ["portal", "list", "--expires-after", iso(AT), "--expires-before", week, *at],
            True,
        ),
        ("report messages (month)", ["report", "messages", *month], True),
        ("report reads (month)", ["report", "reads", *month, *at], True),
        ("report expiring --days 7", ["report", "expiring", "--days", "7", *at], True),
        ("report ended (month)", ["report", "ended", *month, *at], True),
        ("report senders (month)", ["report", "senders", *month], True),
        ("report messages (all)", ["report", "messages"], False),
        ("report reads (all)", ["report", "reads", *at], False),
        ("report ended (all)", ["report", "ended", *at], False),
        ("report senders (all)", ["report", "senders"], False),
    ]


def best(db: Path, args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = secmsg(db, *args, "-o", "json")
        times.append(time.perf_counter() - t0)
        if r.returncode:
            raise SystemExit(f"bench: {' '.join(args)} failed: {r.stderr.decode()[-500:]}")
    return min(times)


def rows_of(db: Path, args: list[str]) -> int:
    out = subprocess.run(
        [*SECMSG, "-q", "--db", str(db), *args, "-o", "json"], capture_output=True, check=True
    )
    return len(json.loads(out.stdout))


def plans(db: Path) -> None:
    """SQLite's plan for each list filter (what the indexes of m006 are for)."""
    sys.path.insert(0, str(ROOT))
    from secmsg_cli.store.portal import _COPY_SQL, CopyFilter

    conn = sqlite3.connect(db)
    for name, where in (
        ("--recipient @domain", CopyFilter(recipient=f"@{NEEDLE}")),
        ("--status unread", CopyFilter(statuses=("unread",), at=AT)),
        ("--expires-before", CopyFilter(expires_after=AT, expires_before=AT + timedelta(days=7))),
        ("--sender", CopyFilter(sender="user1@harborfinch.com")),
    ):
        condition, values = where.where()
        plan = conn.execute(f"EXPLAIN QUERY PLAN {_COPY_SQL} WHERE {condition}", values).fetchall()
        print(f"plan {name}: " + "; ".join(row[-1] for row in plan))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10_000, help="copies in the small store")
    ap.add_argument("--large", type=int, default=100_000, help="copies in the large store")
    ap.add_argument("--runs", type=int, default=5, help="runs of each command (best is kept)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the stores here")
    ap.add_argument("--plans", action="store_true", help="print the query plans")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="secmsg-portal-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        dbs = {}
        for label, n in (("small", args.small), ("large", args.large)):
            t0 = time.perf_counter()
            dbs[label] = work / f"portal-{n}.db"
            build(dbs[label], n, args.seed)
            print(f"setup: {n:,} portal copies in {time.perf_counter() - t0:.1f}s", flush=True)
        if args.plans:
            plans(dbs["large"])
        met = True
        for name, cmd, goal in commands():
            small = best(dbs["small"], cmd, args.runs)
            large = best(dbs["large"], cmd, args.runs)
            ratio = large / small
            n_small, n_large = rows_of(dbs["small"], cmd), rows_of(dbs["large"], cmd)
            ok = ratio <= 3
            met = met and (ok or not goal)
            tail = verdict(ok) if goal else "(for information)"
            print(
                f"{name:<34} {small * 1000:6.0f} vs {large * 1000:6.0f} ms "
                f"({n_small} vs {n_large} rows)  ratio {ratio:.2f}x -> {tail}",
                flush=True,
            )
        print("all goals met" if met else "some goals NOT MET")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
