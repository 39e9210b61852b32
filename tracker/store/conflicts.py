"""Git conflict markers in a committed data file: a one-line error, never data to keep or merge.

A `git merge` or `git pull` that stopped half-way leaves `<<<<<<<`, `|||||||`, `=======` and
`>>>>>>>` lines in a ledger shard, data/feedback.jsonl or the backlog file. Reading on would
keep the markers forever or pick one side silently, so the run stops before writing anything
and names the first marker's file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from tracker.errors import TrackerError

_MARKER = re.compile(rb"^(?:<{7}|\|{7}|>{7})(?:[ \t].*)?\r?$|^={7}[ \t]*\r?$", re.MULTILINE)


class ConflictMarkers(TrackerError):
    """A committed data file holds an unresolved git merge conflict."""


def refuse_conflict_markers(path: Path, data: bytes) -> None:
    """Raise ConflictMarkers naming `path:line` of the first marker line in `data`, if any."""
    found = _MARKER.search(data)
    if found is None:
        return
    line = data.count(b"\n", 0, found.start()) + 1
    marker = found.group().strip()[:7].decode("ascii")
    raise ConflictMarkers(
        f"{path}:{line}: git conflict marker {marker!r}: finish the merge (keep the lines of both "
        f"sides, remove the markers) and run again; nothing was written"
    )


def read_committed(path: Path, what: str) -> bytes | None:
    """The bytes of a committed data file (None when there is none yet), refused with one line
    when it cannot be read or holds conflict markers. `what` names it in messages."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TrackerError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    refuse_conflict_markers(path, data)
    return data
