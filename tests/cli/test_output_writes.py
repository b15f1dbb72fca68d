"""Results that cannot be written are an error (SPEC §10): a full disk
(``/dev/full``), a file size limit (``ulimit -f``: Python ignores SIGXFSZ, so
a write gives EFBIG) give one line on stderr and exit 1, never exit 0 with
truncated output, in every command and on both paths of the console script
(the lean ``simulate`` and the Typer application), buffered or not
(``PYTHONUNBUFFERED``, common in containers). A reader that goes away
(``| head -1``) ends the command quietly with exit 1. ``export FILE`` and
``test --junit FILE`` leave no truncated file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO, FIXTURES, ROOT

pytestmark = [
    pytest.mark.skipif(
        not os.path.exists("/dev/full") or sys.platform == "win32",
        reason="POSIX: /dev/full and RLIMIT_FSIZE",
    ),
    pytest.mark.slow,  # a real process per case (ulimit, /dev/full, pipes)
]

MESSAGES = FIXTURES / "messages"
ONE = MESSAGES / "01-confidential-subject-to-counsel.eml"
AT = "2026-11-27T10:00:00Z"
LIMIT = 96 * 1024  # above the store's own files (its 32 KB -shm), below every output below
GENERATED = 600  # policies of each kind added to the demo, so that listings outgrow LIMIT
COPIES = 12  # of the fixture messages in the batch


def _policies() -> str:
    out = []
    for i in range(GENERATED):
        out.append(f"""
[[policies]]
id = {100 + i}
kind = "secure-messaging"
narrative = "Generated {i}: legal mail to counsel firm number {i} goes through the portal"
option = "apply"
definition = "Legal/Client Correspondence"
from = {{ type = "group", value = "Legal" }}
to = {{ type = "domain", value = "counsel{i}.example" }}

[[policies]]
id = {100 + GENERATED + i}
kind = "bypass"
narrative = "Generated {i}: board mail to auditor firm number {i} is not secured"
option = "disable"
from = {{ type = "group", value = "Board" }}
to = {{ type = "domain", value = "auditors{i}.example" }}
""")
    return "".join(out)


def _env(unbuffered: bool) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECMSG_DB", "SECMSG_DEBUG", "PYTHONUNBUFFERED")
    }
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SECMSG_ACTOR"] = "tester"
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


def secmsg(
    db: Path,
    *args,
    stdout=subprocess.PIPE,
    limit: int | None = None,
    unbuffered: bool = False,
    timeout: int = 300,
) -> subprocess.CompletedProcess:
    def limited() -> None:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(db), *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=_env(unbuffered),
        preexec_fn=limited if limit is not None else None,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The demo with 500 more policies of each of two kinds (and their audit
    rows), a batch of messages, and a store with no policy (where deliver
    writes results only)."""
    d = tmp_path_factory.mktemp("big")
    cfg = d / "big.toml"
    cfg.write_text(DEMO.read_text(encoding="utf-8") + _policies(), encoding="utf-8")
    db = d / "big.db"
    r = secmsg(db, "import", cfg)
    assert r.returncode == 0, r.stderr
    batch = d / "batch"
    batch.mkdir()
    for n in range(COPIES):
        for eml in MESSAGES.glob("*.eml"):
            if eml.name == "08-no-recipient-headers.eml":
                continue  # no recipient: an error row, and exit 1 for the whole batch
            shutil.copy(eml, batch / f"{n}-{eml.name}")
    plain = d / "plain.db"
    assert secmsg(plain, "init").returncode == 0
    return {"db": db, "batch": batch, "plain": plain}


# (store key, arguments): each prints more than LIMIT
COMMANDS = [
    ("db", ("export",)),
    ("db", ("export", "--format", "json")),
    ("db", ("policy", "list")),
    ("db", ("policy", "list", "-o", "json")),
    ("db", ("bypass", "list")),
    ("db", ("bypass", "list", "-o", "csv")),
    ("db", ("audit", "-n", "100000")),
    ("db", ("audit", "-n", "100000", "-o", "jsonl")),
    ("db", ("simulate", ONE, "--at", AT, "--explain", "-o", "json")),  # one message: the lean path
    ("db", ("simulate", ONE, "--at", AT, "--explain")),  # ... as a table
    ("db", ("simulate", "{batch}", "--at", AT, "-o", "json", "-j", "1")),  # a batch, in process
    ("db", ("simulate", "{batch}", "--at", AT, "-o", "jsonl", "-j", "2")),  # ... with workers
    ("db", ("simulate", "{batch}", "--at", AT, "-j", "1")),  # ... as tables
    ("db", ("simulate", "{batch}", "--at", AT, "-o", "json", "--coverage")),  # Typer's path
    ("plain", ("deliver", "{batch}", "--at", AT, "-o", "json")),
    ("plain", ("deliver", "{batch}", "--at", AT, "-o", "jsonl", "--explain")),
]
# ... and a few that print less, which a full disk refuses all the same
SMALL = [
    ("db", ("lint", "-o", "json")),
    ("db", ("account", "show")),
    ("db", ("db", "status", "-o", "csv")),
    ("db", ("definition", "list")),
    ("db", ("simulate", ONE, "--at", AT)),
    ("plain", ("deliver", ONE, "--at", AT, "-o", "json")),
    ("db", ("--version",)),
    ("db", ("policy", "--help")),
    ("db", ("test", FIXTURES / "cases.toml", "--config", DEMO)),
    ("db", ("plan", DEMO, "-o", "json")),
]


def _ids(cases):
    return [
        " ".join(str(a) for a in args)
        .replace(str(ONE), "one.eml")
        .replace(str(AT), "AT")
        .replace(str(FIXTURES), "fixtures")
        for _, args in cases
    ]


IDS = _ids(COMMANDS)


def _args(big, args) -> list[str]:
    return [str(a).format(batch=big["batch"]) for a in args]


@pytest.mark.parametrize(("store", "args"), COMMANDS + SMALL, ids=IDS + _ids(SMALL))
def test_a_full_disk_is_an_error(big, store, args):
    with open("/dev/full", "w") as full:
        r = secmsg(big[store], *_args(big, args), stdout=full)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err.endswith("error: cannot write the output: No space left on device\n"), err
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(("store", "args"), COMMANDS, ids=IDS)
def test_a_file_size_limit_is_an_error(big, tmp_path, store, args, unbuffered):
    out = tmp_path / "out"
    whole = secmsg(big[store], *_args(big, args), stdout=subprocess.PIPE, unbuffered=unbuffered)
    assert whole.returncode == 0, whole.stderr
    assert len(whole.stdout) > LIMIT  # the case would prove nothing otherwise
    with out.open("wb") as fh:
        r = secmsg(big[store], *_args(big, args), stdout=fh, limit=LIMIT, unbuffered=unbuffered)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err.endswith("error: cannot write the output: File too large\n"), err
    assert err.count("error:") == 1 and "Traceback" not in err and "Exception ignored" not in err
    assert (
        out.stat().st_size == LIMIT
    )  # what was written, up to the limit: the rest was refused, not lost quietly


@pytest.mark.parametrize(
    ("store", "args"),
    [
        ("db", ("policy", "list")),
        ("db", ("export",)),
        ("db", ("audit", "-n", "100000", "-o", "json")),
        ("db", ("simulate", "{batch}", "--at", AT, "-o", "jsonl", "-j", "1")),
        ("plain", ("deliver", "{batch}", "--at", AT, "-o", "jsonl")),
    ],
    ids=["policy-list", "export", "audit", "simulate-lean", "deliver"],
)
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_a_reader_that_goes_away_ends_the_command_quietly(big, store, args, unbuffered):
    proc = subprocess.Popen(
        [sys.executable, "-m", "secmsg_cli", "--db", str(big[store]), *_args(big, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(unbuffered),
    )
    assert proc.stdout.readline()  # as `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    assert proc.wait(timeout=300) == 1, err
    assert err.count("\n") <= 1 and "Traceback" not in err and "Exception ignored" not in err, err


def test_export_to_a_file_over_the_limit_leaves_the_old_file(big, tmp_path):
    target = tmp_path / "secmsg.toml"
    target.write_text("# the previous export\n")
    os.chmod(target, 0o640)
    r = secmsg(big["db"], "export", target, limit=LIMIT)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err == f"error: cannot write {target}: File too large\n"
    assert target.read_text() == "# the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secmsg.toml"]  # no temporary file left
    r = secmsg(big["db"], "-q", "export", target)
    assert r.returncode == 0, r.stderr
    assert "Generated 499" in target.read_text()
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)  # the replaced file's mode is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secmsg.toml"]


def test_junit_over_the_limit_leaves_no_truncated_report(tmp_path):
    report = tmp_path / "report.xml"
    whole = secmsg(
        tmp_path / "unused.db", "test", FIXTURES / "cases.toml", "--config", DEMO, "--junit", report
    )
    assert whole.returncode == 0, whole.stderr
    size = report.stat().st_size
    report.unlink()
    r = secmsg(
        tmp_path / "unused.db",
        "test",
        FIXTURES / "cases.toml",
        "--config",
        DEMO,
        "--junit",
        report,
        limit=size - 1,
    )
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err.endswith(f"error: cannot write {report}: File too large\n"), err
    assert not report.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [("policy", "list", "-o", "json"), ("simulate", ONE, "--at", AT, "-o", "json"), ("export",)],
    ids=["policy-list", "simulate-lean", "export"],
)
def test_a_closed_standard_output_is_an_error_and_the_store_is_not_written(big, args):
    """``secmsg ... >&-``: descriptor 1 is free, and the store's file may get
    it; the results must be refused, not written there."""
    db = big["db"]
    before = db.read_bytes()
    r = subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "--db", str(db), *map(str, args)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(False),
        preexec_fn=lambda: os.close(1),
        timeout=300,
    )
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err == "error: cannot write the output: standard output is closed\n"
    assert db.read_bytes() == before
