"""Path settings of keywords.yaml as the user means them: `~` and `$VAR`/`${VAR}` expanded.

Without this, `data_dir: ~/trk-data` creates a folder literally named `~` (and `$HOME/x` one
named `$HOME`). An undefined variable or unknown `~user` is a config problem naming the line;
an expanded absolute path inside the project folder becomes relative (so the "inside the
project" checks of tracker.config still hold), one outside it is refused by those checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# Every path-valued setting, by its place in the YAML document ("*" = each item of a list).
PATH_KEYS = (
    ("output", "readme"),
    ("output", "archive_dir"),
    ("output", "digest_dir"),
    ("output", "data_dir"),
    ("output", "state_dir"),
    ("output", "templates_dir"),
    ("profile", "bibtex"),
    ("profiles", "*", "bibtex"),
)
_VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


def expand_paths(data: dict, lines: dict[tuple, int], source: str, base_dir: Path) -> list[tuple[int, str]]:
    """Expand every path setting of `data` in place; (line, message) for each that cannot be."""
    problems = []
    for key in PATH_KEYS:
        for loc, value in _values_at(data, key):
            if not isinstance(value, str):
                continue  # pydantic reports the wrong type
            expanded, problem = expand(value, base_dir)
            if problem:
                line = lines.get(loc, 0)
                where = f"{source}:{line}" if line else source
                problems.append((line, f"{where}: `{'.'.join(map(str, loc))}`: {problem}"))
            else:
                _set(data, loc, expanded)
    return problems


def expand(value: str, base_dir: Path) -> tuple[str, str | None]:
    """(expanded path, None) or (value, why it cannot be expanded)."""
    for match in _VARIABLE.finditer(value):
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            return value, f"environment variable {match.group(0)!r} in {value!r} is not set"
    expanded = os.path.expandvars(value)
    if expanded.startswith("~"):
        expanded = os.path.expanduser(expanded)
        if expanded.startswith("~"):
            return value, f"cannot expand {value.split('/')[0]!r} in {value!r} (no such user, or no home folder)"
    if expanded != value and os.path.isabs(expanded):
        inside = Path(os.path.normpath(expanded))
        if inside == base_dir or base_dir in inside.parents:
            expanded = inside.relative_to(base_dir).as_posix() or "."
    return expanded, None


def _values_at(data: Any, key: tuple, loc: tuple = ()) -> list[tuple[tuple, Any]]:
    if not key:
        return [(loc, data)]
    head, rest = key[0], key[1:]
    if head == "*":
        items = list(enumerate(data)) if isinstance(data, list) else []
    else:
        items = [(head, data[head])] if isinstance(data, dict) and head in data else []
    return [found for name, child in items for found in _values_at(child, rest, loc + (name,))]


def _set(data: Any, loc: tuple, value: str) -> None:
    for name in loc[:-1]:
        data = data[name]
    data[loc[-1]] = value
