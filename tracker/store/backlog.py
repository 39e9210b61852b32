"""`data/backlog.json`: per topic, the windows of papers still to fetch (tracker.sources.catchup).

Committed with the ledger and written by the same journaled commit, so a fresh checkout (a CI
runner) resumes where the last run stopped. A file the tracker cannot read, including one with
git conflict markers, stops the run with one line naming it: dropping it would silently lose
the papers it points to (deleting it by hand is the way to forget a backlog).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Iterable

from tracker.errors import TrackerError
from tracker.sources.catchup import Window
from tracker.store.conflicts import read_committed

log = logging.getLogger(__name__)
BACKLOG_FILE = "backlog.json"
_NOTE = "Papers each topic still has to fetch (arxiv.max_results_per_run was reached); written by paper-tracker."

Backlog = dict[str, list[Window]]


def backlog_path(data_dir: Path) -> Path:
    return data_dir / BACKLOG_FILE


def load_backlog(path: Path) -> Backlog:
    data = read_committed(path, "the backlog file")
    if data is None:
        return {}
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _damaged(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _damaged(path, f"not JSON ({exc.msg})", exc.lineno) from None
    except RecursionError:
        raise _damaged(path, "JSON nested too deeply") from None
    topics = doc.get("topics") if isinstance(doc, dict) else None
    if not isinstance(topics, dict):
        raise _damaged(path, "expected an object with a `topics` object")
    return {str(name): [_window(path, name, item) for item in _list(path, name, windows)] for name, windows in topics.items()}


def backlog_files(path: Path, backlog: Backlog, topics: Iterable[str]) -> dict[Path, bytes]:
    """The backlog file's content for the run's commit ({} while there has never been a backlog;
    once there has, the file stays, with no topics when all are caught up: a run deletes no data file)."""
    configured = set(topics)
    for gone in sorted(set(backlog) - configured):
        log.warning("%s: topic %r is no longer configured; its %d papers still to fetch are forgotten",
                    path, gone, sum(w.remaining or 0 for w in backlog[gone]))
    kept = {name: windows for name, windows in sorted(backlog.items()) if name in configured and windows}
    if not kept and not path.exists():
        return {}
    doc = {"note": _NOTE, "topics": {name: [_dump(w) for w in windows] for name, windows in kept.items()}}
    return {path: (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")}


def _dump(window: Window) -> dict[str, Any]:
    return {"query": window.query, "before": window.before, "after": window.after, "skip": window.skip,
            "remaining": window.remaining}


def _list(path: Path, name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise _damaged(path, f"topic {name!r}: expected a list of windows")
    return value


def _window(path: Path, name: str, item: Any) -> Window:
    if not isinstance(item, dict) or not _is_time(item.get("before")) or not (item.get("after") is None or _is_time(item["after"])):
        raise _damaged(path, f"topic {name!r}: a window needs `before` (and `after` or null) as ISO times like 2026-11-19T10:00:00Z")
    if not isinstance(item.get("query"), str) or not item["query"].strip():
        raise _damaged(path, f"topic {name!r}: a window needs the `query` it was found in")
    skip, remaining = item.get("skip", 0), item.get("remaining")
    if not _count(skip) or not (remaining is None or _count(remaining)):
        raise _damaged(path, f"topic {name!r}: `skip` and `remaining` must be whole numbers from 0")
    return Window(query=item["query"], before=item["before"], after=item.get("after"), skip=skip, remaining=remaining)


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        return dt.datetime.fromisoformat(value.removesuffix("Z")).year >= 1991
    except ValueError:
        return False


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9


def _damaged(path: Path, why: str, line: int | None = None) -> TrackerError:
    where = f"{path}:{line}" if line else str(path)
    return TrackerError(f"{where}: cannot read the backlog file: {why}; fix it, or delete it to forget the "
                        "papers still to fetch; nothing was written")
