"""Problems found in a document or an object, collected rather than raised
one at a time, and where in the document's text each one is.

- :class:`Source` is the text of a TOML or JSON document and the position of
  every table, array element and key in it, by path
  (``("policies", 2, "definition")``): :meth:`Source.locate`.
- :class:`Problem` is one problem with its parts as separate fields: the
  file, line and column, a severity, a code when there is one, the object it
  is about, the field and the message. :attr:`Problem.text` is how it reads.
- :class:`Problems` collects them: for a whole document (a configuration
  file, a cases file) or for the fields of one object (model validation),
  with :meth:`Problems.within` naming the part of the document a validator
  works on, and :meth:`Problems.raise_if_any` turning them into one error.

The configuration file, the cases file of ``secmsg test`` and the model's
validators all report through this one collector, so a problem is described
the same way wherever it was found. Like the model, this module imports
nothing of the package but :mod:`secmsg_cli.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from secmsg_cli.errors import ConfigError, SecmsgError, did_you_mean

__all__ = [
    "InvalidDocument",
    "Location",
    "Path",
    "Problem",
    "Problems",
    "Severity",
    "Source",
    "count_line",
    "diagnostic",
    "did_you_mean",
]

T = TypeVar("T")

Path = tuple[str | int, ...]
"""Where a value is in a document: table and key names, array indexes."""

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Location:
    """A position in a text: line and column, both counted from 1."""

    line: int
    column: int


# --- where things are in a document's text ---------------------------------------


class Source:
    """The text of a TOML or JSON document, to point at the line (and column)
    of a problem. TOML is read the way people write it: ``[table]`` and
    ``[[array]]`` headers and one ``key = value`` per line, with keys written
    inline (``key = { ... }``, ``key = [ ... ]``) located at their key; JSON
    is scanned member by member, following nesting and strings."""

    def __init__(self, name: str, text: str, fmt: str) -> None:
        self.name = name
        self.text = text
        self.fmt = fmt
        self._positions: dict[Path, Location] | None = None

    @property
    def positions(self) -> dict[Path, Location]:
        """The position of every table, array element and key, by path (read once)."""
        if self._positions is None:
            scan = _json_positions if self.fmt == "json" else _toml_positions
            self._positions = scan(self.text)
        return self._positions

    def position(self, path: Path) -> Location | None:
        """Where exactly ``path`` is written, or None."""
        return self.positions.get(tuple(path))

    def locate(self, path: Path) -> Location | None:
        """Where ``path`` is, or else the nearest enclosing table, element or
        key that is written (a key inside an inline table is found at the
        line of that table's key); None when not even the top-level entry is."""
        positions = self.positions
        path = tuple(path)
        for end in range(len(path), 0, -1):
            found = positions.get(path[:end])
            if found is not None:
                return found
        return None


_TOML_HEADER = re.compile(r"^(\s*)(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")
_TOML_KEY = re.compile(r"^(\s*)(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_-]+))\s*=")


def _header_parts(name: str) -> list[str]:
    """``case . "expect"`` -> ``["case", "expect"]`` (dots inside quotes kept)."""
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", name)
    return [p.strip().strip("\"'").strip() for p in parts if p.strip()]


def _toml_positions(text: str) -> dict[Path, Location]:
    positions: dict[Path, Location] = {}
    counts: dict[Path, int] = {}  # the number of elements of each array of tables so far
    arrays: set[Path] = set()  # the arrays of tables seen, by their path without indexes
    table: Path = ()
    for no, line in enumerate(text.splitlines(), start=1):
        header = _TOML_HEADER.match(line)
        if header:
            at = Location(no, len(header.group(1)) + 1)
            parts = _header_parts(header.group(3))
            path: Path = ()
            bare: Path = ()
            for part in parts[:-1]:
                path, bare = (*path, part), (*bare, part)
                if bare in arrays:  # inside the latest element of an array of tables
                    path = (*path, counts[path] - 1)
            if not parts:
                continue
            path, bare = (*path, parts[-1]), (*bare, parts[-1])
            if header.group(2) == "[[":
                arrays.add(bare)
                positions.setdefault(path, at)  # the array: its first element
                counts[path] = counts.get(path, 0) + 1
                path = (*path, counts[path] - 1)
            positions.setdefault(path, at)
            table = path
            continue
        key = _TOML_KEY.match(line)
        if key:
            name = key.group(2) or key.group(3) or key.group(4)
            positions.setdefault((*table, name), Location(no, len(key.group(1)) + 1))
    return positions


def _json_positions(text: str) -> dict[Path, Location]:
    """The position of every member and array element of a JSON text, by path
    (``("policies", 1, "from")``): a small scanner that follows nesting and
    strings, so nested objects never shift the numbering."""
    out: dict[Path, Location] = {}
    stack: list[list[str | int | None]] = []  # ["obj", key] or ["arr", index]
    line, line_start, i, n = 1, 0, 0, len(text)

    def path() -> Path:
        return tuple(frame[1] for frame in stack if frame[1] is not None)

    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            line_start = i + 1
        elif ch == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                chars.append(text[j] if j < n else "")
                j += 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if stack and stack[-1][0] == "obj" and k < n and text[k] == ":":
                stack[-1][1] = "".join(chars)
                out.setdefault(path(), Location(line, i - line_start + 1))
            newlines = text.count("\n", i, j)
            if newlines:
                line += newlines
                line_start = text.rindex("\n", i, j) + 1
            i = j
        elif ch in "{[":
            if stack and stack[-1][0] == "arr":
                out.setdefault(path(), Location(line, i - line_start + 1))
            stack.append(["obj", None] if ch == "{" else ["arr", 0])
        elif ch in "}]":
            if stack:
                stack.pop()
        elif ch == "," and stack and stack[-1][0] == "arr":
            index = stack[-1][1]
            stack[-1][1] = (index if isinstance(index, int) else 0) + 1
        i += 1
    return out


# --- problems ----------------------------------------------------------------------


def diagnostic(
    path: str | None,
    line: int | None,
    column: int | None,
    severity: str,
    code: str | None,
    about: str | None,
    message: str,
) -> str:
    """One problem as one line, the shape compilers use and editors and CI
    read: ``PATH:LINE:COL: SEVERITY CODE object: message`` (``PATH:LINE:``
    without a column, ``PATH:`` without a line, no place when the problem is
    not in a file; no code when it has none)."""
    where = [str(part) for part in (path, line, column) if part is not None]
    if line is None or path is None:
        where = where[:1] if path is not None else []
    head = " ".join(part for part in (severity, code) if part)
    place = f"{':'.join(where)}: " if where else ""
    return f"{place}{head} {f'{about}: ' if about else ''}{message}"


def count_line(name: str, n: int) -> str:
    """``FILE: 3 problems``: what closes a list of problems."""
    return f"{name}: {n} problem{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, its parts kept apart: the document (``path``) and the
    position in it when known, a ``severity``, a ``code`` when the problem has
    one, the ``object`` it is about as the document names it (``policies[2]
    (Partners)``, ``case 'a'``), the ``field`` of that object and the ``message``."""

    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = "error"
    code: str | None = None
    object: str | None = None
    field: str | None = None

    @property
    def text(self) -> str:
        """The problem as one line: :func:`diagnostic`."""
        return diagnostic(
            self.path, self.line, self.column, self.severity, self.code, self.object, self.message
        )

    def __str__(self) -> str:
        return self.text


class InvalidDocument(ConfigError):
    """A document with problems (exit 3): ``problems`` as text, as every
    :class:`~secmsg_cli.errors.ConfigError` carries them, and ``found``, the
    :class:`Problem` records themselves. Its message only counts them
    (``FILE: 2 problems``): the error boundary prints each problem once, on
    its own line, before it."""

    def __init__(self, message: str, found: Sequence[Problem] = ()) -> None:
        super().__init__(message, problems=[p.text for p in found])
        self.found = tuple(found)


class Problems:
    """A collector: validators add every problem they find instead of raising
    the first. A view made by :meth:`within` adds to the same list, at a part
    of the document and about an object."""

    def __init__(
        self,
        source: Source | None = None,
        *,
        catch: tuple[type[Exception], ...] = (SecmsgError, ValueError),
        code: str | None = None,
    ) -> None:
        self.source = source
        self.code = code  # the code of a problem added without one of its own
        self.catch = catch  # what :meth:`check` records as a problem rather than raises
        self.items: list[Problem] = []
        self.at: Path = ()
        self.object: str | None = None

    def within(self, *at: str | int, object: str | None = None) -> Problems:
        """A view of this collector for the part of the document at ``at``
        (relative to this view), about ``object``."""
        view = Problems(self.source, catch=self.catch, code=self.code)
        view.items = self.items
        view.at = (*self.at, *at)
        view.object = object if object is not None else self.object
        return view

    def add(
        self,
        field: str | None,
        message: str,
        *,
        severity: Severity = "error",
        code: str | None = None,
    ) -> None:
        """Record ``message`` about ``field`` of this view's object (None: the
        object itself), with ``code`` (else the collector's own code)."""
        path = self.at if field is None else (*self.at, field)
        where = self.source.locate(path) if self.source is not None and path else None
        self.items.append(
            Problem(
                message,
                path=self.source.name if self.source is not None else None,
                line=where.line if where else None,
                column=where.column if where else None,
                severity=severity,
                code=code or self.code,
                object=self.object,
                field=field,
            )
        )

    def check(self, field: str | None, fn: Callable[..., T], *args: object) -> T | None:
        """``fn(*args)``, or None with its error recorded as a problem about ``field``."""
        try:
            return fn(*args)
        except self.catch as exc:
            self.add(field, str(exc))
            return None

    def extend(self, found: Iterable[Problem]) -> None:
        """Record problems found without a place (by a model validator), each
        at its field of this view."""
        for problem in found:
            self.add(problem.field, problem.message, severity=problem.severity, code=problem.code)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.items)

    def texts(self) -> list[str]:
        return [p.text for p in self.items]

    def summary(self, name: str) -> str:
        """The line that closes the list of problems: the document and how many."""
        return count_line(name, len(self.items))

    def raise_if_any(self, name: str | None = None) -> None:
        """Raise :class:`InvalidDocument` listing every problem, if there is one."""
        if self.items:
            label = name if name is not None else self.source.name if self.source else "<input>"
            raise InvalidDocument(self.summary(label), self.items)
