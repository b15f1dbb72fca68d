#!/usr/bin/env python3
"""How ``secmsg lint`` scales with the number of policies (issue 11).

    python bench/lint_scale.py [--sizes 1000,2000,4000,8000] [--runs 3] [--seed 7] [--workdir DIR]

For each size N, generates the configuration of ``bench/run.py`` (the same
directory of 200 groups and 10,000 members, 200 bypasses, 50 content
definitions) with N Secure Messaging policies, imports it with the real
``secmsg import`` and times ``secmsg lint`` on that store (a subprocess, wall
time, the best of ``--runs``). Prints one line per size with the time per
1,000 policies: near-linear scaling keeps that figure flat, a quadratic rule
doubles it with every doubling of N.

Absolute times on shared machines are noise; compare the columns.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import generate_config, run_secmsg


def best_lint_time(db: Path, runs: int) -> tuple[float, int]:
    best = float("inf")
    exit_code = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        r = run_secmsg(db, "lint", "--at", "2026-11-27T10:00:00+00:00", "-o", "json")
        best = min(best, time.perf_counter() - t0)
        exit_code = r.returncode
        if r.returncode not in (0, 3):
            raise SystemExit(
                f"lint exited {r.returncode}: {r.stderr.decode(errors='replace')[-500:]}"
            )
    return best, exit_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,2000,4000,8000", help="numbers of Secure Messaging policies"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated stores here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="secmsg-lint-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{'policies':>9} {'import s':>9} {'lint s':>8} {'s per 1k':>9}")
        for n in sizes:
            db = work / f"lint-{n}.db"
            cfg = work / f"lint-{n}.toml"
            cfg.write_text(generate_config(random.Random(args.seed), 1, n))
            db.unlink(missing_ok=True)
            t0 = time.perf_counter()
            r = run_secmsg(db, "import", str(cfg))
            imported = time.perf_counter() - t0
            if r.returncode != 0:
                raise SystemExit(f"import failed: {r.stderr.decode(errors='replace')[-500:]}")
            seconds, _ = best_lint_time(db, args.runs)
            print(f"{n:>9} {imported:>9.2f} {seconds:>8.2f} {seconds / n * 1000:>9.3f}", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
