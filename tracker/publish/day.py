"""What `tracker publish` publishes for a day, read from the files the run left behind.

  digests/YYYY/MM/YYYY-MM-DD.md   the day's rendered digest (output.digest_dir)
  digests/YYYY/week-WW.md         the week's review, when the run wrote one
  data/                           the ledger, to count the day's new/revised papers
  .tracker/last_run.json          the run summary: failed topics, health, files for --commit
  .tracker/dry-run/DATE/          what `tracker run --dry-run` would have written (digest.md,
                                  last_run.json): `publish --dry-run` previews from these

Everything read from `.tracker/` is a cache written by our own run, but it is still redacted
before it can reach GitHub, and a damaged file is treated as missing (with a warning).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import TrackerError
from tracker.models import RunSummary
from tracker.project import LAST_RUN_FILE
from tracker.redact import redact

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayToPublish:
    date: str
    new_count: int
    revised_count: int
    digest_markdown: str
    digest_file: Path  # where the committed digest lives (also for a dry run's preview)
    summary: RunSummary | None  # the run summary for this date, if the run recorded one
    from_dry_run: bool = False  # read from .tracker/dry-run/DATE/


def gather_day(settings: Settings, date: str, *, dry_run: bool = False) -> DayToPublish:
    """Everything publishing needs for `date`; a dry run prefers what `run --dry-run` left."""
    from tracker.render.paths import digest_path

    digest_file = digest_path(settings.path(settings.output.digest_dir), date)
    preview = settings.project.dry_run_dir(date)
    if dry_run and ((preview / "digest.md").is_file() or (preview / LAST_RUN_FILE).is_file()):
        # what the dry run found: its summary (even when every topic failed and no digest was made)
        summary = read_summary(preview / LAST_RUN_FILE, date)
        new, revised = (summary.new_papers, summary.revised_papers) if summary else count_day(settings, date)
        markdown = read_text(preview / "digest.md") if (preview / "digest.md").is_file() else ""
        return DayToPublish(date, new, revised, markdown, digest_file, summary, from_dry_run=True)
    new, revised = count_day(settings, date)
    if digest_file.is_file():
        markdown = read_text(digest_file)
    elif new or revised:
        raise TrackerError(f"digest {digest_file} not found: run `tracker run --date {date}` before publishing")
    else:
        markdown = ""
    return DayToPublish(date, new, revised, markdown, digest_file, read_summary(settings.project.last_run, date))


def last_run_date(settings: Settings, today: str, *, recent_hours: float = 12.0) -> str:
    """The day `publish` without --date publishes: today, or the last run's day when that run
    was for yesterday (UTC) and wrote its summary in the last `recent_hours`.

    A publish just after midnight must post the day the run just did, not the new empty day (and
    not report that new day's missing run as a failure). A summary of yesterday written long ago
    is yesterday's run, restored from a cache: today's run died before writing one, and the
    health issue must say so."""
    path = settings.project.last_run
    try:
        ran = dt.date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["date"])
        age_hours = (time.time() - path.stat().st_mtime) / 3600
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # missing or damaged: a cache
        return today
    if ran == dt.date.fromisoformat(today) - dt.timedelta(days=1) and age_hours < recent_hours:
        log.info("publishing %s: the run that just finished was for that day", ran)
        return ran.isoformat()
    return today


def count_day(settings: Settings, date: str) -> tuple[int, int]:
    from tracker.models import papers_of_day
    from tracker.store.ledger import Ledger

    ledger = Ledger.load(settings.path(settings.output.data_dir), read_only=True)  # publishing never applies a journal
    new, revised = papers_of_day(ledger.papers.values(), date)
    return len(new), len(revised)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrackerError(f"cannot read {path}: {exc}") from None


def read_summary(path: Path, date: str) -> RunSummary | None:
    """The run summary at `path` if it is for `date`, every string in it redacted; else None."""
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:  # a damaged cache is a missing one
        log.warning("ignoring the run summary %s: %s", path, redact(str(exc)))
        return None
    if not isinstance(summary, dict):
        log.warning("ignoring the run summary %s: not a JSON object", path)
        return None
    summary = _redacted(summary)
    return RunSummary.from_dict(summary) if summary.get("date") == date else None


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {redact(str(k)): _redacted(v) for k, v in value.items()}
    return value


def failures(summary: RunSummary | None) -> list[tuple[str, str]]:
    """(topic, arXiv's message) for each topic that failed in the run, redacted."""
    return [(redact(t.name), redact(str(t.error))) for t in (summary.failed if summary else [])]


def health_summary(
    day: DayToPublish, *, outcome: str | None = None, problems: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    """The run's summary for the health issue, with what the workflow saw added.

    No summary for the day means the run died before writing one. `outcome` is the run step's
    outcome (GitHub Actions' success/failure/cancelled); `problems` are other steps' failures.
    """
    if day.summary is None:
        summary: dict[str, Any] = {
            "date": day.date,
            "topics": [],
            "error": "the run recorded no summary for this date (it failed early)",
        }
    else:
        summary = day.summary.to_dict()
    extra = [redact(p) for p in problems]
    if outcome in ("failure", "cancelled") and day.summary is not None and not _has_problem(day.summary):
        extra.insert(0, f"the run step ended with '{outcome}' after writing its summary; see the job log")
    if extra:
        summary["error"] = "; ".join([*([str(summary["error"])] if summary.get("error") else []), *extra])
    return summary


def _has_problem(summary: RunSummary) -> bool:
    return bool(summary.error) or bool(summary.failed)


def weekly_page(settings: Settings, date: str) -> Path:
    """`digests/YYYY/week-WW.md` for the ISO week `date` falls in."""
    year, week, _ = dt.date.fromisoformat(date).isocalendar()
    return settings.path(settings.output.digest_dir) / f"{year}" / f"week-{week:02d}.md"


def iso_week(date: str) -> str:
    year, week, _ = dt.date.fromisoformat(date).isocalendar()
    return f"{year}-W{week:02d}"


def repo_path(settings: Settings, path: Path) -> str:
    """`path` relative to the repository root (the config file's folder), POSIX style."""
    try:
        return Path(path).resolve().relative_to(settings.path(".").resolve()).as_posix()
    except ValueError:
        raise TrackerError(f"{path} is outside the config folder {settings.path('.')}; cannot commit it") from None
