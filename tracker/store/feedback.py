"""The group's ticks from the daily issue, versioned with the ledger in `data/feedback.jsonl`.

One JSON object per liked paper, sorted by id, e.g.
`{"id": "2401.01234", "issue": 12, "ticked": "2026-11-29"}`: the canonical (versionless) id,
the date it was first seen ticked and the issue it was ticked in. Fields this module does not
know are kept on rewrite. A bad line is skipped with a warning naming `file:line`, so a hand
edit gone wrong never stops a run; a missing file means no feedback yet.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path

from tracker.arxiv_ids import canonical_id
from tracker.errors import TrackerError
from tracker.store.conflicts import read_committed
from tracker.store.journal import write_atomic

log = logging.getLogger(__name__)
FEEDBACK_FILE = "feedback.jsonl"


def feedback_path(settings) -> Path:
    """data/feedback.jsonl: in the data folder, so the group's taste is versioned with the ledger."""
    return settings.path(settings.output.data_dir) / FEEDBACK_FILE


def load_feedback(path: Path) -> dict[str, str]:
    """Canonical arXiv id → ISO date it was first seen ticked."""
    return {paper: record["ticked"] for paper, record in load_feedback_records(path).items()}


def load_feedback_records(path: Path) -> dict[str, dict]:
    """Canonical arXiv id → its whole record (id, ticked, optional issue, unknown fields kept)."""
    data = read_committed(path, "feedback file")
    if data is None:
        return {}
    records: dict[str, dict] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = _parse_line(raw)
        except ValueError as exc:
            log.warning("%s:%d: skipped feedback line: %s", path, number, exc)
            continue
        records[record["id"]] = _merge(records.get(record["id"]), record)
    return records


def save_feedback(path: Path, entries: Mapping[str, str | Mapping]) -> bool:
    """Write `entries` (id → ticked date, or id → record) atomically, one sorted line per paper.

    Byte-stable: the same entries always give the same bytes. Returns False when the file
    already held exactly that.
    """
    records: dict[str, dict] = {}
    for paper, value in entries.items():
        record = {"ticked": value} if isinstance(value, str) else dict(value)
        record["id"] = paper
        record = _validate(record)
        records[record["id"]] = _merge(records.get(record["id"]), record)
    lines = [_dump(records[paper]) for paper in sorted(records)]
    return write_atomic(path, "".join(line + "\n" for line in lines))


def _dump(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(", ", ": "))


def _parse_line(raw: bytes) -> dict:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from exc
    except (RecursionError, ValueError):  # nested deeper than the parser's stack; an integer of 5,000 digits
        raise ValueError("not a feedback record") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return _validate(record)


def _validate(record: dict) -> dict:
    """Check the known fields and canonicalise the id; raises ValueError naming the field."""
    paper, ticked, issue = record.get("id"), record.get("ticked"), record.get("issue")
    if not isinstance(paper, str):
        raise ValueError(f"'id' must be an arXiv id string, got {paper!r}")
    try:
        paper = canonical_id(paper)
    except TrackerError as exc:
        raise ValueError(f"'id': {exc}") from exc
    if not isinstance(ticked, str) or not _is_iso_date(ticked):
        raise ValueError(f"'ticked' must be a date YYYY-MM-DD, got {ticked!r}")
    if issue is not None and (isinstance(issue, bool) or not isinstance(issue, int) or issue < 1):
        raise ValueError(f"'issue' must be a positive issue number, got {issue!r}")
    return {**record, "id": paper}


def _is_iso_date(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _merge(old: dict | None, new: dict) -> dict:
    """Two records of one paper (say `2401.01234` and `2401.01234v2`): the earliest tick wins."""
    if old is None:
        return new
    first, second = sorted((old, new), key=lambda record: record["ticked"])
    return {**second, **first}
