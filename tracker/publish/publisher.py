"""The use case behind `tracker publish` (and the scheduler's publish): plain steps, client passed in.

commit (optional) -> digest issue (linking the digest only if GitHub has it) -> weekly review
issue (when the week's page exists) -> health issue. `preview` is the dry run: the same title and
bodies, printed instead of sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from tracker.errors import TrackerError
from tracker.models import RunSummary
from tracker.publish import day as days
from tracker.publish.client import Api
from tracker.publish.commit import CommitResult, commit_files, git_blob_sha, remote_has
from tracker.publish.digest_issue import (
    WEEKLY_LABEL,
    digest_title,
    publish_digest,
    publish_weekly,
    render_issue_body,
    weekly_week,
)
from tracker.publish.health import HealthResult, health_problems, report_health
from tracker.publish.identity import record_in
from tracker.publish.issues import DIGEST, WEEKLY, PublishResult, issue_parts
from tracker.publish.split import body_size
from tracker.publish.tasks import as_task_list
from tracker.text import counted

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class PublishOptions:
    commit: bool = False  # first commit the tracker's files through the contents API
    health: bool = True  # report the run's health (today's run, not a re-published old day)
    branch: str | None = None  # where files are committed and linked (default: the default branch)
    run_url: str | None = None  # the workflow run, linked from the health issue
    outcome: str | None = None  # the run step's outcome, as GitHub Actions reports it
    problems: tuple[str, ...] = ()  # failures of other steps (e.g. the push), for the health issue


@dataclass(frozen=True)
class PublishReport:
    digest: PublishResult
    committed: CommitResult | None = None
    weekly: PublishResult | None = None
    health: HealthResult | None = None


def publish_day(settings: Settings, repo: Any, date: str, options: PublishOptions = PublishOptions()) -> PublishReport:
    """Commit (optional), digest issue, weekly issue, then health, which is reported even when an
    earlier step failed (naming that failure); the first failure is raised afterwards."""
    from tracker.store.lock import run_lock

    record_in(repo, settings.project.state_dir)  # the bot's login, when GitHub will not say it
    with run_lock(settings.project.state_dir, command="tracker publish"):  # a consistent snapshot, not a run's half
        day = days.gather_day(settings, date)
        files, deleted = managed_files(settings, day.summary) if options.commit else ({}, [])
    attempt = _Attempts(Api(repo))
    committed = attempt("committing the files", lambda: _commit(settings, repo, day, files, deleted, options))
    digest = attempt(
        "publishing the digest issue",
        lambda: publish_digest(
            repo,
            date=date,
            new_count=day.new_count,
            revised_count=day.revised_count,
            digest_markdown=day.digest_markdown,
            failures=days.failures(day.summary),
            digest_url=digest_url(settings, repo, day, options.branch, committed),
            label=settings.publish.label,
            empty_day=settings.publish.empty_day,
            template_dir=settings.project.templates_dir,
        ),
    )
    weekly = attempt("publishing the weekly review", lambda: _publish_week(settings, repo, date))
    health = None
    if options.health:
        problems = (*options.problems, *(str(error) for error in attempt.failed))
        summary = days.health_summary(day, outcome=options.outcome, problems=problems)
        health = attempt.api.call(
            "reporting the run's health",
            lambda: report_health(
                repo,
                summary,
                label=settings.publish.health_label,
                run_url=options.run_url,
            ),
        )
    if attempt.failed or digest is None:
        raise attempt.failed[0]
    return PublishReport(digest, committed, weekly, health)


class _Attempts:
    """Runs steps that may fail, keeping their one-line errors so later steps still run.

    Each step runs inside `Api.call`, so a library error no inner call caught is one line too."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.failed: list[TrackerError] = []

    def __call__(self, what: str, step: Callable[[], T]) -> T | None:
        try:
            return self.api.call(what, step)
        except TrackerError as exc:
            self.failed.append(TrackerError(f"{what}: {exc}"))
            return None


def _commit(
    settings: Settings,
    repo: Any,
    day: days.DayToPublish,
    files: dict[str, bytes],
    deleted: list[str],
    options: PublishOptions,
) -> CommitResult | None:
    if not options.commit:
        return None
    return commit_files(
        repo,
        files,
        deleted=deleted,
        message=f"arXiv digest {day.date}",
        branch=options.branch,
        readme=days.repo_path(settings, settings.path(settings.output.readme)),
    )


def publish_health_only(
    settings: Settings, repo: Any, summary: Mapping[str, Any], run_url: str | None = None
) -> HealthResult:
    record_in(repo, settings.project.state_dir)
    return report_health(repo, summary, label=settings.publish.health_label, run_url=run_url)


def _publish_week(settings: Settings, repo: Any, date: str) -> PublishResult | None:
    page = days.weekly_page(settings, date)
    if not page.is_file():
        return None
    text = days.read_text(page)
    if weekly_week(text) != days.iso_week(date):
        log.warning("%s does not start with '# Weekly review %s'; not publishing it", page, days.iso_week(date))
        return None
    return publish_weekly(repo, page=text, week=days.iso_week(date), label=WEEKLY_LABEL)


def digest_url(
    settings: Settings, repo: Any, day: days.DayToPublish, branch: str | None, committed: CommitResult | None
) -> str | None:
    """A link to the digest on GitHub, only when GitHub holds exactly our digest file."""
    if day.from_dry_run or not day.digest_file.is_file():
        return None
    path = days.repo_path(settings, day.digest_file)
    data = day.digest_file.read_bytes()
    from github.GithubObject import NotSet

    if committed is not None:
        present = committed.remote.get(path) == git_blob_sha(data)
    else:
        try:
            present = remote_has(repo, path, data, ref=branch or NotSet)
        except TrackerError as exc:  # the issue goes out anyway, just without the link
            log.warning("cannot tell whether GitHub holds %s (%s); not linking it", path, exc)
            present = False
    if not present:
        log.info("GitHub does not hold %s as written; the issue will not link it", path)
        return None
    ref = branch or repo.default_branch
    return f"{repo.html_url}/blob/{quote(ref, safe='')}/{quote(path)}"


def managed_files(settings: Settings, summary: RunSummary | None) -> tuple[dict[str, bytes], list[str]]:
    """The tracker's files by repository path, and the paths the run deleted (for --commit).

    README, every ledger/feedback file under data_dir, every digest page and feed under
    digest_dir, and the archive pages the tracker wrote; never a link, nothing outside the
    repository, nothing under the state folder.
    """
    from tracker.render.paths import archive_marker
    from tracker.slugs import topic_slug

    root = settings.path(".").resolve()
    out = settings.output
    found: set[Path] = {settings.path(out.readme)}
    found |= _files(settings.path(out.data_dir), ("*.jsonl",))
    found |= _files(settings.path(out.digest_dir), ("*.md", "*.xml"))
    for topic in settings.topics:
        folder = settings.path(out.archive_dir) / topic_slug(topic.name)
        marker = archive_marker(topic_slug(topic.name))
        found |= {p for p in _files(folder, ("*.md",), recursive=False) if _first_line(p) == marker}
    # The run summary is a cache file: trusted only to name files of the kinds the tracker writes.
    listed = [settings.path(p) for p in (summary.outputs if summary else []) if "\0" not in p]
    listed = [p for p in listed if _tracker_kind(settings, p)]
    found |= {p for p in listed if p.is_file()}
    state = settings.project.state_dir.resolve()
    files = {
        days.repo_path(settings, p): p.read_bytes() for p in sorted(found) if p.is_file() and _inside(p, root, state)
    }
    deleted = [
        days.repo_path(settings, p) for p in listed if not p.exists() and not p.is_symlink() and _inside(p, root, state)
    ]
    return files, deleted


def _tracker_kind(settings: Settings, path: Path) -> bool:
    """A path the tracker itself writes: the README, a ledger shard, a digest page or feed, a topic's archive page."""
    from tracker.slugs import topic_slug

    out = settings.output
    path = Path(os.path.abspath(path))
    folder = lambda name: Path(os.path.abspath(settings.path(name)))  # noqa: E731
    archives = {folder(out.archive_dir) / topic_slug(t.name) for t in settings.topics}
    return (
        path == folder(out.readme)
        or (path.suffix == ".jsonl" and folder(out.data_dir) in path.parents)
        or (path.suffix in (".md", ".xml") and folder(out.digest_dir) in path.parents)
        or (path.suffix == ".md" and path.parent in archives)
    )


def _files(folder: Path, patterns: tuple[str, ...], *, recursive: bool = True) -> set[Path]:
    if folder.is_symlink() or not folder.is_dir():
        return set()
    found = set()
    for pattern in patterns:
        found |= set(folder.rglob(pattern) if recursive else folder.glob(pattern))
    return {p for p in found if not p.name.startswith(".")}


def _inside(path: Path, root: Path, state: Path) -> bool:
    """Inside the repository with no symlink on the way down, and not in the state folder."""
    absolute = Path(os.path.abspath(path))
    try:
        parts = absolute.relative_to(root).parts
    except ValueError:
        return False
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            return False
    return bool(parts) and absolute != state and state not in absolute.parents


def _first_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline(500).rstrip("\r\n")
    except OSError:
        return ""


def preview(settings: Settings, date: str, repo_name: str | None, *, health: bool) -> str:
    """What a publish would send for `date` (title and every part in full), without a network."""
    day = days.gather_day(settings, date, dry_run=True)
    target = repo_name or "(no repository set)"
    source = f" (from the dry run in {settings.project.dry_run_dir(date)})" if day.from_dry_run else ""
    lines = []
    if day.new_count == 0 and day.revised_count == 0 and settings.publish.empty_day == "skip":
        lines.append(f"{date}: nothing new{source}; would open no issue in {target} (publish.empty_day: skip)")
    else:
        body = render_issue_body(
            date=date,
            new_count=day.new_count,
            revised_count=day.revised_count,
            digest_markdown=day.digest_markdown if day.new_count or day.revised_count else "",
            failures=days.failures(day.summary),
            template_dir=settings.project.templates_dir,
        )
        lines.append(
            f"would publish to {target} [{settings.publish.label}]{source}: {digest_title(date, day.new_count)!r}"
        )
        lines += _parts_text(issue_parts(DIGEST, date, as_task_list(body)))
    lines += _weekly_preview(settings, date)
    if health:
        lines.append(_health_preview(settings, day))
    return "\n".join(lines)


def _parts_text(parts: list[str]) -> list[str]:
    sizes = " + ".join(f"{body_size(p):,}" for p in parts)
    lines = [f"{counted(len(parts), 'part')}: {sizes} characters (issue body, then comments)"]
    for n, part in enumerate(parts, start=1):
        lines += [f"----- part {n}/{len(parts)} -----", part.rstrip("\n")]
    return lines


def _weekly_preview(settings: Settings, date: str) -> list[str]:
    page = days.weekly_page(settings, date)
    week = days.iso_week(date)
    if not page.is_file():
        return []
    text = days.read_text(page)
    if weekly_week(text) != week:
        return [f"weekly: {page} does not start with '# Weekly review {week}'; would not publish it"]
    body = text.split("\n", 1)[1] if "\n" in text else ""
    return [
        f"weekly: would publish [{WEEKLY_LABEL}]: 'Weekly review {week}'",
        *_parts_text(issue_parts(WEEKLY, week, body.strip("\n"))),
    ]


def _health_preview(settings: Settings, day: days.DayToPublish) -> str:
    label = settings.publish.health_label
    if day.summary is None:
        return f"health: no run summary for {day.date} yet; publishing now would report the run as failed"
    problems = health_problems(days.health_summary(day))
    if problems:
        named = "; ".join(f"{topic}: {error}" for topic, error in problems)
        return f"health: would open/update a [{label}] issue: {named}"
    return f"health: the run was clean; would close an open [{label}] issue, if any"
