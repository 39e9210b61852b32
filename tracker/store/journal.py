"""Crash-safe file writes.

`write_atomic` replaces one file (temp file + rename). `commit` replaces many files as one
unit through a small journal: new contents are staged beside their targets, the journal
listing them is written atomically, then each stage is renamed into place. A run killed
before the journal exists changed nothing; a run killed after it is rolled forward by
`recover` at the start of the next run. Either way the next run behaves as if the killed
one had finished or never started.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
STAGE_SUFFIX = ".staged"


def _encode(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _unchanged(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: Path, content: str | bytes) -> bool:
    """Write `content` to `path` via a temp file + rename. Returns False when it was already there."""
    data = _encode(content)
    if _unchanged(path, data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _write_synced(Path(tmp), data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def commit(files: dict[Path, str | bytes | None], journal: Path) -> list[Path]:
    """Replace (or delete, for None) all `files` as one unit. Returns the paths that changed."""
    recover(journal)
    changes = {path: (None if content is None else _encode(content)) for path, content in files.items()}
    changes = {p: d for p, d in changes.items() if (d is None and p.exists()) or (d is not None and not _unchanged(p, d))}
    if not changes:
        return []
    plan = []
    for path, data in sorted(changes.items()):
        stage = None
        if data is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            stage = path.with_name(f".{path.name}{STAGE_SUFFIX}")
            _write_synced(stage, data)
        plan.append({"target": str(path), "stage": str(stage) if stage else None})
    write_atomic(journal, json.dumps(plan, indent=1))
    _apply(plan)
    journal.unlink()
    return sorted(changes)


def recover(journal: Path) -> None:
    """Finish a commit a killed run had promised (journal present), or do nothing."""
    if not journal.exists():
        return
    try:
        plan = json.loads(journal.read_text(encoding="utf-8"))
    except ValueError:
        # The journal is written atomically, so this is damage from outside: the staged files are not trusted.
        log.warning("ignoring unreadable commit journal %s", journal)
        journal.unlink()
        return
    log.warning("completing the file updates of an interrupted run (%d files)", len(plan))
    _apply(plan)
    journal.unlink()


def _apply(plan: list[dict]) -> None:
    for step in plan:
        target = Path(step["target"])
        if step["stage"] is None:
            target.unlink(missing_ok=True)
        elif Path(step["stage"]).exists():
            os.replace(step["stage"], target)


def remove_stale_stages(folder: Path) -> None:
    """Staged or temp files with no journal are leftovers of a run killed before it committed."""
    if folder.is_dir():
        for leftover in [*folder.rglob(f".*{STAGE_SUFFIX}"), *folder.rglob(".*.tmp")]:
            leftover.unlink(missing_ok=True)
