"""`data/backlog.jsonl`: per topic, the windows of papers still to fetch (tracker.sources.catchup).

Committed with the ledger and written by the same journaled commit, so a fresh checkout (a CI
runner) resumes where the last run stopped. A file the tracker cannot read, including one with
git conflict markers, stops the run with one line naming it: dropping it would silently lose
the papers it points to (deleting it by hand is the way to forget a backlog).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError
from tracker.sources.catchup import Window
from tracker.store.conflicts import read_committed

log = logging.getLogger(__name__)
BACKLOG_FILE = "backlog.jsonl"  # a .jsonl under data/: committed like the ledger (also by `publish --commit`)

Backlog = dict[str, list[Window]]


def backlog_path(data_dir: Path) -> Path:
    return data_dir / BACKLOG_FILE


def load_backlog(path: Path) -> Backlog:
    """Topic -> its open windows, newest first; one JSON object per line, e.g.
    `{"topic": "LLMs", "query": "...", "before": "2026-11-19T10:00:00Z", "after": null, "skip": 0,
    "remaining": 812}`."""
    data = read_committed(path, "the backlog file")
    backlog: Backlog = {}
    for number, raw in enumerate((data or b"").split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _damaged(path, number, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise _damaged(path, number, f"not JSON ({exc.msg})") from None
        except RecursionError:
            raise _damaged(path, number, "JSON nested too deeply") from None
        if not isinstance(item, dict) or not isinstance(item.get("topic"), str):
            raise _damaged(path, number, "expected an object with a `topic`")
        backlog.setdefault(item["topic"], []).append(_window(path, number, item))
    return backlog


def backlog_files(path: Path, backlog: Backlog, topics: Iterable[str]) -> dict[Path, bytes]:
    """The backlog file's content for the run's commit ({} while there has never been a backlog;
    once there has, the file stays, empty when all are caught up: a run deletes no data file)."""
    configured = set(topics)
    for gone in sorted(set(backlog) - configured):
        log.warning(
            "%s: topic %r is no longer configured; its %d papers still to fetch are forgotten",
            path,
            gone,
            sum(w.remaining or 0 for w in backlog[gone]),
        )
    lines = [
        _dump(name, window) for name, windows in sorted(backlog.items()) if name in configured for window in windows
    ]
    if not lines and not path.exists():
        return {}
    return {path: "".join(line + "\n" for line in lines).encode("utf-8")}


def _dump(topic: str, window: Window) -> str:
    return json.dumps(
        {
            "topic": topic,
            "query": window.query,
            "before": window.before,
            "after": window.after,
            "skip": window.skip,
            "remaining": window.remaining,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _window(path: Path, line: int, item: dict) -> Window:
    if not isinstance(item.get("query"), str) or not item["query"].strip():
        raise _damaged(path, line, "a window needs the `query` it was found in")
    if not _is_time(item.get("before")) or not (item.get("after") is None or _is_time(item["after"])):
        raise _damaged(
            path, line, "a window needs `before` (and `after` or null) as ISO times like 2026-11-19T10:00:00Z"
        )
    skip, remaining = item.get("skip", 0), item.get("remaining")
    if not _count(skip) or not (remaining is None or _count(remaining)):
        raise _damaged(path, line, "`skip` and `remaining` must be whole numbers from 0")
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


def _damaged(path: Path, line: int, why: str) -> TrackerError:
    return TrackerError(
        f"{path}:{line}: cannot read the backlog file: {why}; fix the line, or delete it to forget "
        "those papers still to fetch; nothing was written"
    )
