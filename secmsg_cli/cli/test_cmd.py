"""``secmsg test CASES.toml``: run expectation cases against the store or a
config file (SPEC §9); the cases-file format is described in
:mod:`secmsg_cli.testing`.

Output: one PASS / FAIL / ERROR line per case (ERROR: the engine could not
decide a message the case expected to be decided), the expected-vs-actual
diff of every failure, then the line ``N passed, M failed`` (M counts failures
and errors). ``-o json`` prints the list of case results (with ``--coverage``:
``{"cases": [...], "coverage": {...}}``); the summary line then goes to stderr.
``--junit FILE`` writes JUnit XML whatever the outcome.

Exit codes (SPEC §10): 0 every case passed; 4 a case failed, or the coverage
is below ``--min-coverage``; 3 the cases file (or ``--config`` file) is invalid.
"""

from __future__ import annotations

import sys
from datetime import UTC
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._output import console, to_json, warn, write_file
from secmsg_cli.cli._values import printable

if TYPE_CHECKING:
    from secmsg_cli.coverage import CoverageReport

FAILED_EXIT = 4


class TestOutput(str, Enum):
    __test__ = False  # not a pytest test class

    table = "table"
    json = "json"


_LABEL = {
    "passed": ("PASS", "green"),
    "failed": ("FAIL", "bold red"),
    "error": ("ERROR", "bold red"),
}


def _print_results(results: list[Any], quiet: bool) -> None:
    """Results for people; case names and the values in a diff (a subject,
    a banner) come from files and messages: control characters escaped."""
    from rich.text import Text

    out = console()
    for r in results:
        if r.passed and quiet:
            continue
        label, style = _LABEL[r.status]
        line = Text()
        line.append(f"{label:<5} ", style=style)
        line.append(printable(r.case.name))
        line.append(f"  ({printable(r.case.source)})", style="dim")
        out.print(line, soft_wrap=True)
        if not r.passed:
            for text in r.diff().splitlines():
                style = "dim" if text.lstrip().startswith("why:") else ""
                out.print(Text(printable(text), style=style), soft_wrap=True)


def print_coverage(report: CoverageReport, unit: str) -> None:
    from rich.text import Text

    from secmsg_cli.cli._output import print_table

    out = console()
    print_table(
        out,
        ["kind", "id", "name", f"{unit}s", "recipients", "note"],
        [
            [
                Text(row.kind),
                Text(str(row.id)),
                Text(printable(row.name)),
                Text(str(row.decided)),
                Text(str(row.recipients)),
                Text("never decided", style="bold yellow") if not row.covered else Text(""),
            ]
            for row in report.rows
        ],
        title=Text("coverage"),
        drop=["recipients", "name"],
    )
    out.print(
        Text(
            f"coverage: {report.covered} of {report.total} policies and content definitions decided "
            f"at least one {unit} ({report.percent:.1f}%)"
        ),
        soft_wrap=True,
    )


def run_tests(
    ctx: typer.Context,
    cases: Annotated[
        str,
        typer.Argument(help="The expectation cases file (TOML); see docs/cases.md for the format."),
    ],
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Test this config file (TOML/JSON) in a temporary store instead of the store.",
        ),
    ] = None,
    junit: Annotated[
        str | None,
        typer.Option("--junit", metavar="FILE", help="Also write a JUnit XML report to FILE."),
    ] = None,
    output: Annotated[
        TestOutput, typer.Option("--output", "-o", help="table or json.", case_sensitive=False)
    ] = TestOutput.table,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage",
            help="List every policy and content definition with how many cases it decided.",
        ),
    ] = False,
    min_coverage: Annotated[
        float | None,
        typer.Option(
            "--min-coverage",
            metavar="PCT",
            min=0,
            max=100,
            help="Exit 4 when fewer than PCT% of policies and content definitions decided a case.",
        ),
    ] = None,
) -> None:
    """Run expectation cases through the engine; exit 4 when any fails.

    secmsg test fixtures/cases.toml --config fixtures/demo.toml --junit report.xml
    secmsg test cases.toml --coverage --min-coverage 90
    """
    from datetime import datetime

    from secmsg_cli import testing
    from secmsg_cli.coverage import Coverage

    cases_file = testing.load_cases(cases)
    if config is not None:
        from secmsg_cli.config import load_file

        store = load_file(config)
        try:
            snapshot = store.snapshot()
        finally:
            store.close()
    else:
        snapshot = open_store(ctx).snapshot()
        if not any(snapshot.policies.values()):
            warn(
                "the store has no policies, so only the built-in defaults decide; "
                "to test a config file, give --config FILE"
            )

    cov = Coverage() if coverage or min_coverage is not None else None
    results = testing.run_cases(snapshot, cases_file.cases, cov)
    report = cov.report(snapshot) if cov is not None else None
    passed = sum(1 for r in results if r.passed)
    failed = len(results) - passed
    if junit is not None:
        write_file(
            junit,
            testing.junit_xml(results, suite=cases, file=cases, timestamp=datetime.now(UTC)),
        )
    quiet = state(ctx).quiet
    summary = f"{passed} passed, {failed} failed"
    if output is TestOutput.json:
        docs = [r.to_json() for r in results]
        doc = docs if report is None else {"cases": docs, "coverage": report.to_json()}
        sys.stdout.write(to_json(doc) + "\n")
        if not quiet:
            sys.stderr.write(summary + "\n")
    else:
        _print_results(results, quiet)
        if report is not None:
            print_coverage(report, "case")
        sys.stdout.write(summary + "\n")
    below = False
    if min_coverage is not None and report is not None and report.percent < min_coverage:
        below = True
        never = ", ".join(f"{r.kind} {r.id}" for r in report.never)
        sys.stderr.write(
            f"error: coverage {report.percent:.1f}% is below --min-coverage {min_coverage:g}% "
            f"(never decided: {never})\n"
        )
    if failed or below:
        raise typer.Exit(FAILED_EXIT)


def register(app: typer.Typer) -> None:
    app.command("test")(run_tests)
