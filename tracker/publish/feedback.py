"""`tracker feedback`: read members' ticks in recent digest issues into data/feedback.jsonl.

Each paper in a digest issue is a task-list item; a member ticks what they liked. This reads the
issue body and the bot's continuation comments of every digest issue the bot opened in the last
N days (never a member's issue quoting a digest), adds
each ticked paper (canonical id, the date its tick was first seen, the issue), and removes a
paper a member unticked in the issue it came from. Ticks in older issues are never touched.
Anything that is not a well-formed item for a paper in the ledger is skipped with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.publish.client import READ_ISSUES, Api
from tracker.publish.identity import record_in
from tracker.publish.issues import DIGEST, our_comments, own_issues
from tracker.publish.tasks import task_items
from tracker.store.feedback import feedback_path, load_feedback_records, save_feedback

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Ticks:
    """What the issues say: ticked paper -> first issue ticked in; unticked paper -> issues."""

    ticked: dict[str, int] = field(default_factory=dict)
    unticked: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    issues: list[int] = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class FeedbackReport:
    issues: tuple[int, ...]  # digest issues read
    added: tuple[str, ...]
    removed: tuple[str, ...]
    liked: int  # papers in the feedback file afterwards
    skipped: int  # items skipped with a warning
    path: Path


def sync_feedback(repo: Any, settings: Settings, *, days: int, today: str) -> FeedbackReport:
    """Update the feedback file from the digest issues of the `days` days up to `today`."""
    from tracker.store.ledger import Ledger
    from tracker.store.lock import run_lock

    record_in(repo, settings.project.state_dir)  # the bot's login, when GitHub will not say it
    known = set(Ledger.load(settings.path(settings.output.data_dir), read_only=True).papers)
    ticks = read_ticks(repo, settings.publish.label, since=_days_before(today, days), known=known)
    path = feedback_path(settings)
    with run_lock(settings.project.state_dir, command="tracker feedback"):  # never beside a run's write
        records = load_feedback_records(path)
        added, removed = apply_ticks(records, ticks, today)
        if records or path.exists():  # no empty file in the repository before the first tick
            save_feedback(path, records)
    return FeedbackReport(tuple(ticks.issues), tuple(added), tuple(removed), len(records), ticks.skipped, path)


def read_ticks(repo: Any, label: str, *, since: str, known: set[str]) -> Ticks:
    """Ticked and unticked papers in the digest issues for days from `since` on."""
    api = Api(repo, needs=READ_ISSUES)
    start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.timezone.utc)
    issues = api.call("listing recent digest issues", lambda: list(own_issues(repo, "all", label, since=start)))
    ticks = Ticks()
    for issue in sorted(issues, key=lambda i: i.number):
        key = DIGEST.key_of(issue)
        if key is None or key < since:
            continue
        ticks.issues.append(issue.number)
        texts = [(f"#{issue.number}", issue.body or "")]
        texts += [
            (f"#{issue.number} (comment {c.id})", c.body or "")
            for c in our_comments(api, issue, DIGEST.part_mark.format(key=key))
        ]
        for where, text in texts:
            _read_items(ticks, issue.number, where, text, known)
    return ticks


def _read_items(ticks: Ticks, number: int, where: str, text: str, known: set[str]) -> None:
    for item in task_items(text):
        problem = _problem(item, known)
        if problem or item.paper is None:  # (a missing paper is always a problem)
            if item.checked:  # an unticked item we cannot read changes nothing
                log.warning("%s line %d: %s; skipped: %s", where, item.line, problem, item.text)
                ticks.skipped += 1
            continue
        if item.checked:
            ticks.ticked.setdefault(item.paper, number)
        else:
            ticks.unticked[item.paper].add(number)


def _problem(item: Any, known: set[str]) -> str | None:
    if item.link is None:
        return "a ticked item without an arXiv link"
    if item.paper is None:
        return f"{item.link!r} is not an arXiv id"
    if item.paper not in known:
        return f"{item.paper} is not in the ledger"
    return None


def apply_ticks(records: dict[str, dict], ticks: Ticks, today: str) -> tuple[list[str], list[str]]:
    """Add newly ticked papers; drop papers unticked in the issue they were ticked in."""
    added = []
    for paper, number in sorted(ticks.ticked.items()):
        if paper not in records:
            records[paper] = {"id": paper, "ticked": today, "issue": number}
            added.append(paper)
    removed = []
    for paper in sorted(records):
        if paper not in ticks.ticked and records[paper].get("issue") in ticks.unticked.get(paper, ()):
            del records[paper]
            removed.append(paper)
    return added, removed


def _days_before(today: str, days: int) -> str:
    return (dt.date.fromisoformat(today) - dt.timedelta(days=days)).isoformat()
