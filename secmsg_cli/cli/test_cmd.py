"""``secmsg test CASES.toml``: run expectation cases against the store or a
config file (SPEC §9); the cases-file format is described in
:mod:`secmsg_cli.testing`.

Output: one PASS / FAIL / ERROR line per case (ERROR: the engine could not
decide a message the case expected to be decided), the expected-vs-actual
diff of every failure, then the line ``N passed, M failed`` (M counts failures
and errors). ``-o json`` prints the list of case results (with ``--coverage``:
``{"cases": [...], "coverage": {...}}``); the summary line then goes to stderr.
``--junit FILE`` writes JUnit XML whatever the outcome: when the cases cannot
run, one errored testcase naming the problem. ``--run REGEX`` keeps the cases
whose name the expression finds (``re.search``).

Exit codes (SPEC §10): 0 every case passed; 4 a case failed, or the coverage
is below ``--min-coverage``; 3 the cases file (or ``--config`` file) is invalid;
1 ``--run`` selected no case; 2 an invalid ``--run`` expression.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._output import console, to_json, write_file
from secmsg_cli.cli._values import printable
from secmsg_cli.errors import SecmsgError

if TYPE_CHECKING:
    from secmsg_cli.config import Config
    from secmsg_cli.coverage import CoverageReport
    from secmsg_cli.engine.snapshot import Snapshot

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


def _print_results(results: list[Any], quiet: bool, *, stderr: bool = False) -> None:
    """Results for people; case names and the values in a diff (a subject,
    a banner) come from files and messages: control characters escaped."""
    from rich.text import Text

    out = console(stderr=stderr)
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
    from rich.table import Table
    from rich.text import Text

    out = console()
    table = Table(title=Text("coverage"), header_style="bold")
    for col in ("kind", "id", "name", f"{unit}s", "recipients", ""):
        table.add_column(col, overflow="fold")
    for row in report.rows:
        flag = Text("never decided", style="bold yellow") if not row.covered else Text("")
        table.add_row(
            Text(row.kind),
            Text(str(row.id)),
            Text(printable(row.name)),
            Text(str(row.decided)),
            Text(str(row.recipients)),
            flag,
        )
    out.print(table)
    out.print(
        Text(
            f"coverage: {report.covered} of {report.total} policies and content definitions decided "
            f"at least one {unit} ({report.percent:.1f}%)"
        ),
        soft_wrap=True,
    )


def _pattern(value: str | None) -> re.Pattern[str] | None:
    """--run REGEX: a Python regular expression; an invalid one is a usage error."""
    if value is None:
        return None
    try:
        return re.compile(value)
    except re.error as exc:
        raise typer.BadParameter(f"{value!r} is not a valid regular expression ({exc})") from None


def _config_snapshot(file: str) -> Snapshot:
    """FILE, validated and imported into a private in-memory store."""
    from secmsg_cli import testing
    from secmsg_cli.config import read_file, validate_document

    doc, source = read_file(file)
    return testing.config_snapshot(validate_document(doc, source), file)


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
        typer.Option(
            "--junit",
            metavar="FILE",
            help="Also write a JUnit XML report to FILE (also when the cases cannot run).",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="REGEX",
            help="Run only the cases whose name this regular expression finds (Python syntax).",
        ),
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
    secmsg test cases.toml --run 'counsel|auditor'
    """
    from datetime import datetime

    from secmsg_cli import testing
    from secmsg_cli.coverage import Coverage

    pattern = _pattern(run)
    started = datetime.now(UTC)
    properties = {"run": run} if run is not None else {}

    def not_run(message: str, problems: list[str]) -> None:
        if junit is not None:
            report = testing.junit_not_run(
                message,
                problems,
                suite=cases,
                file=cases,
                timestamp=started,
                properties=properties,
            )
            write_file(junit, report)

    try:
        cases_file = testing.load_cases(cases)
        snapshot = _config_snapshot(config) if config is not None else open_store(ctx).snapshot()
        selected = cases_file.cases
        if pattern is not None:
            selected = testing.select_cases(selected, pattern)
            if not selected:
                raise SecmsgError(
                    f"--run {run!r} selects none of the {len(cases_file.cases)} case(s) "
                    f"in {cases}: nothing was tested"
                )
    except SecmsgError as exc:
        not_run(str(exc), list(getattr(exc, "problems", [])))
        raise
    if pattern is not None:
        properties["selected"] = f"{len(selected)} of {len(cases_file.cases)}"

    cov = Coverage() if coverage or min_coverage is not None else None
    results = testing.run_cases(snapshot, selected, cov)
    report = cov.report(snapshot) if cov is not None else None
    passed = sum(1 for r in results if r.passed)
    failed = len(results) - passed
    if junit is not None:
        write_file(
            junit,
            testing.junit_xml(
                results, suite=cases, file=cases, timestamp=started, properties=properties
            ),
        )
    quiet = state(ctx).quiet
    summary = f"{passed} passed, {failed} failed"
    if pattern is not None:
        summary += f" ({len(selected)} of {len(cases_file.cases)} cases selected by --run)"
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


def test_before_change(cases: str, cfg: Config, file: str, *, quiet: bool) -> None:
    """``apply``/``plan FILE --test CASES``: run CASES against FILE in a private
    in-memory store, as ``test CASES --config FILE`` does; when a case fails,
    print the failures (on stderr: stdout is the plan's) and stop with exit 4
    before anything is planned or changed."""
    from secmsg_cli import testing

    cases_file = testing.load_cases(cases)
    results = testing.run_cases(testing.config_snapshot(cfg, file), cases_file.cases)
    failed = sum(1 for r in results if not r.passed)
    if failed:
        _print_results(results, True, stderr=True)
        raise SecmsgError(
            f"{failed} of {len(results)} case(s) in {cases} failed against {file}: "
            "nothing was changed",
            exit_code=FAILED_EXIT,
        )
    if not quiet:
        sys.stderr.write(f"{len(results)} case(s) in {cases} passed against {file}.\n")


def register(app: typer.Typer) -> None:
    app.command("test")(run_tests)
