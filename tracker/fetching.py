"""The fetch half of a run: every topic from arXiv (with its backlog), merged into the ledger.

tracker.pipeline sequences the run; this module owns the sources it builds, the per-topic fetch
(a failing topic fails alone), the merge into the ledger, the group's own papers by id, and what
the run reports about caps (backlogs still to fetch, fields cut to their caps).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from tracker.arxiv_query import build_queries
from tracker.config import Settings, Topic
from tracker.errors import ArxivUnreachable, SourceError
from tracker.models import Paper, RunSummary, TopicResult, TopicSummary
from tracker.progress import progress
from tracker.sources.api import ArxivAPISource
from tracker.sources.catchup import fetch_topic_queries
from tracker.sources.excludes import apply_excludes
from tracker.sources.http import PoliteSession
from tracker.sources.rss import ArxivRSSSource, matches_keywords
from tracker.store.backlog import Backlog
from tracker.store.ledger import Change, Ledger

log = logging.getLogger(__name__)


@dataclass
class Sources:
    api: ArxivAPISource
    rss: ArxivRSSSource


def make_sources(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Sources:
    http = PoliteSession.from_settings(settings.arxiv, sleep=sleep)  # deadline and wait budget too
    return Sources(
        api=ArxivAPISource(settings.api_url, http, page_size=settings.arxiv.page_size),
        rss=ArxivRSSSource(settings.rss_url, http),
    )


def fetch_topic(
    topic: Topic, settings: Settings, ledger: Ledger, sources: Sources, backlog: Backlog
) -> tuple[list[Paper], int]:
    """The topic's papers after excludes, and how many the excludes dropped. Updates `backlog`."""
    if topic.source == "rss":
        announce_types = topic.announce_types or settings.rss.announce_types
        papers = sources.rss.fetch_categories(topic.categories, announce_types)
        papers = [p for p in papers if matches_keywords(p, topic.keywords)]
    else:
        # First run backfills what the README can show, in whole pages so that a rerun's
        # first page is all known and stops at once; later runs page until known papers.
        # Papers past the per-run cap are fetched by the next runs (tracker.sources.catchup).
        backfill = not ledger.has_topic(topic.name)
        page = settings.arxiv.page_size
        limit = -(-settings.output.readme_rows // page) * page if backfill else settings.arxiv.max_results_per_run
        fetched = fetch_topic_queries(
            sources.api,
            build_queries(topic),
            cap=limit,
            is_known=lambda p: ledger.knows(p, topic.name),
            newest_known=lambda: newest_updated(ledger, topic.name),
            windows=backlog.get(topic.name, []),
            backfill=backfill,
        )
        backlog[topic.name] = fetched.windows
        papers = fetched.papers
    kept, dropped = apply_excludes(
        papers, settings.exclude + topic.exclude, settings.exclude_categories + topic.exclude_categories
    )
    return kept, sum(dropped.values())


def newest_updated(ledger: Ledger, topic: str) -> str | None:
    """The last-updated time of the topic's newest paper in the ledger: where a backlog window ends."""
    return max((e.updated for _, e in ledger.entries() if topic in e.topics and e.updated), default=None)


def fetch_all(settings: Settings, ledger: Ledger, sources: Sources, backlog: Backlog) -> list[TopicResult]:
    results = []
    with progress(len(settings.topics), "fetching", "topics") as bar:
        for topic in settings.topics:
            bar.set_postfix_str(topic.name)
            results.append(fetch_one(topic, settings, ledger, sources, backlog))
            bar.update()
    return results


def fetch_one(topic: Topic, settings: Settings, ledger: Ledger, sources: Sources, backlog: Backlog) -> TopicResult:
    """The topic's result; a source error is recorded in it (arXiv unreachable stops the run)."""
    try:
        papers, dropped = fetch_topic(topic, settings, ledger, sources, backlog)
    except ArxivUnreachable:
        raise
    except SourceError as exc:
        log.error("topic %s failed: %s", topic.name, exc)
        return TopicResult(topic.name, error=str(exc))
    log.info("topic %s: %d papers fetched", topic.name, len(papers))
    return TopicResult(topic.name, tuple(papers), excluded=dropped)


def merge_all(ledger: Ledger, results: list[TopicResult], today: str) -> RunSummary:
    summary = RunSummary(date=today)
    changes: dict[str, Change] = {}
    for result in results:
        topic = TopicSummary(
            result.name, fetched=len(result.papers) + result.excluded, excluded=result.excluded, error=result.error
        )
        for paper in result.papers:
            change = ledger.record(paper, result.name, today)
            topic.new += change is Change.NEW
            topic.revised += change is Change.REVISED
            if change in (Change.NEW, Change.REVISED):
                changes[paper.id] = change
        summary.topics.append(topic)
    summary.new_papers = sum(c is Change.NEW for c in changes.values())
    summary.revised_papers = sum(c is Change.REVISED for c in changes.values())
    return summary


def fetch_profile_papers(ledger: Ledger, sources: Sources, today: str, profiles: list) -> None:
    """The group's own papers (profile ids) are fetched once by id and kept in the ledger, with no topic."""
    from tracker.enrich.profile import merge_profiles, missing_ids

    missing = missing_ids(merge_profiles(profiles), ledger.papers)
    if not missing:
        return
    try:
        found = sources.api.fetch_ids(missing)
    except SourceError as exc:
        log.warning("profile papers not fetched (%s); relevance uses the rest of the profile", exc)
        return
    for paper in found:
        ledger.record(paper, None, today)
    for unknown in sorted(set(missing) - {p.id for p in found}):
        log.warning("profile.papers: %s is not on arXiv; skipped", unknown)


def report_backlog(summary: RunSummary, backlog: Backlog, cap: int) -> None:
    """Topics with papers still to fetch: in the summary (--json, digest, health issue) and a warning each."""
    for name, windows in backlog.items():
        remaining = sum(w.remaining or 0 for w in windows)
        if windows:
            summary.backlog[name] = remaining
            log.warning(
                "topic %s: %d more papers are still to be fetched (arxiv.max_results_per_run is %d); "
                "the next runs catch up",
                name,
                remaining,
                cap,
            )


def report_shortened(summary: RunSummary, ledger: Ledger) -> None:
    """Values cut to the field caps (tracker.models.FIELD_CAPS) this run: counted, and a warning each field."""
    for name, count in sorted(ledger.shortened.items()):
        summary.shortened[name] = count
        log.warning(
            "%d %s values were longer than the tracker keeps (tracker.models.FIELD_CAPS) and were cut, marked …",
            count,
            name,
        )
