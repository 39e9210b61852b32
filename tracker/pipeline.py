"""One daily run: fetch every topic -> merge into the ledger -> (enrich) -> render -> write.

Only this module sequences the stages; each stage is a plain function on plain data.
Everything is computed in memory first; the ledger and all outputs are then written as one
unit (tracker.store.journal.commit), so a run killed at any moment leaves the previous files or
the new ones, and the next run finishes the job.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tracker.config import Settings, Topic, build_query
from tracker.render.digest import Digest, build_digest
from tracker.errors import SourceError, TrackerError
from tracker.sources.excludes import apply_excludes
from tracker.store.ledger import Change, Ledger, journal_path
from tracker.models import Paper, RunSummary, TopicResult, TopicSummary
from tracker.render.markdown import digest_path, environment, render_digest, render_readme, splice
from tracker.sources.api import ArxivAPISource
from tracker.sources.http import PoliteSession
from tracker.sources.rss import ArxivRSSSource, matches_keywords
from tracker.store.journal import commit, remove_stale_stages, write_atomic

log = logging.getLogger(__name__)
LAST_RUN_FILE = "last_run.json"


class NothingDone(TrackerError):
    """Every topic failed: nothing was written."""


@dataclass
class Sources:
    api: ArxivAPISource
    rss: ArxivRSSSource


def make_sources(settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> Sources:
    http = PoliteSession(
        delay_seconds=settings.arxiv.delay_seconds,
        retries=settings.arxiv.retries,
        timeout=settings.arxiv.timeout_seconds,
        backoff_seconds=settings.arxiv.backoff_seconds,
        sleep=sleep,
    )
    return Sources(
        api=ArxivAPISource(settings.api_url, http, page_size=settings.arxiv.page_size),
        rss=ArxivRSSSource(settings.rss_url, http),
    )


def today_utc() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


# --- fetch ------------------------------------------------------------------------------

def fetch_topic(topic: Topic, settings: Settings, ledger: Ledger, sources: Sources) -> tuple[list[Paper], int]:
    """The topic's papers after excludes, and how many the excludes dropped."""
    if topic.source == "rss":
        announce_types = topic.announce_types or settings.rss.announce_types
        papers = sources.rss.fetch_categories(topic.categories, announce_types)
        papers = [p for p in papers if matches_keywords(p, topic.keywords)]
    else:
        # First run backfills what the README can show, in whole pages so that a rerun's
        # first page is all known and stops at once; later runs page until known papers.
        backfill = not any(topic.name in p.topics for p in ledger.papers.values())
        page = settings.arxiv.page_size
        limit = -(-settings.output.readme_rows // page) * page if backfill else settings.arxiv.max_results_per_run
        papers = sources.api.fetch_query(build_query(topic), limit=limit, is_known=lambda p: ledger.knows(p, topic.name))
    kept, dropped = apply_excludes(papers, settings.exclude + topic.exclude, settings.exclude_categories + topic.exclude_categories)
    return kept, sum(dropped.values())


def fetch_all(settings: Settings, ledger: Ledger, sources: Sources) -> list[TopicResult]:
    results = []
    for topic in settings.topics:
        try:
            papers, dropped = fetch_topic(topic, settings, ledger, sources)
        except SourceError as exc:
            log.error("topic %s failed: %s", topic.name, exc)
            results.append(TopicResult(topic.name, error=str(exc)))
            continue
        log.info("topic %s: %d papers fetched", topic.name, len(papers))
        results.append(TopicResult(topic.name, tuple(papers), excluded=dropped))
    return results


def merge_all(ledger: Ledger, results: list[TopicResult], today: str) -> RunSummary:
    summary = RunSummary(date=today)
    changes: dict[str, Change] = {}
    for result in results:
        topic = TopicSummary(result.name, fetched=len(result.papers) + result.excluded, excluded=result.excluded, error=result.error)
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


def fetch_profile_papers(settings: Settings, ledger: Ledger, sources: Sources, today: str) -> None:
    """The group's own papers (profile ids) are fetched once by id and kept in the ledger, with no topic."""
    from tracker.enrich.profile import missing_ids, profile_from_settings

    if not settings.profile.papers and not settings.profile.bibtex:
        return
    profile = profile_from_settings(settings)
    missing = missing_ids(profile, ledger.papers)
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


# --- render -----------------------------------------------------------------------------

Enricher = Callable[[Ledger, str, RunSummary], "DigestHints"]


@dataclass
class DigestHints:
    """What the enrichment stages (embeddings, dedup, themes, relevance) add to a digest."""

    duplicates: dict[str, tuple[str, ...]] | None = None
    rank: Callable[[Paper], tuple] | None = None
    finish: Callable[[Digest], Digest] | None = None  # e.g. group into themes, add top picks
    on_committed: Callable[[], None] | None = None  # after the files are written: e.g. update the search index


def render_all(settings: Settings, ledger: Ledger, today: str, hints: DigestHints | None = None) -> dict[Path, str | None]:
    """Every output file's full content keyed by path (None: an archive page to delete).

    Reads only the current README (to keep what is outside our markers) and the archive folder.
    """
    hints = hints or DigestHints()
    out = settings.output
    env = environment(settings.path(out.templates_dir) if out.templates_dir else settings.path("templates"))
    readme_path = settings.path(out.readme)
    papers = list(ledger.papers.values())
    section, pages = render_readme(
        env, [t.name for t in settings.topics], papers,
        date=today, cap=out.readme_rows, readme_path=readme_path,
        archive_dir=settings.path(out.archive_dir), digest_dir=settings.path(out.digest_dir),
    )
    existing = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    files = {readme_path: splice(existing, section), **pages}
    kwargs = {"duplicates": hints.duplicates} if hints.duplicates else {}
    if hints.rank:
        kwargs["rank"] = hints.rank
    digest = build_digest(papers, today, out.digest_max_papers, **kwargs)
    if hints.finish:
        digest = hints.finish(digest)
    files[digest_path(settings.path(out.digest_dir), today)] = render_digest(env, digest, cap=out.digest_max_papers)
    files.update({stale: None for stale in stale_archive_pages(settings, set(files))})
    return files


def stale_archive_pages(settings: Settings, keep: set[Path]) -> list[Path]:
    """Archive pages we wrote earlier that no longer hold any row (e.g. after raising the cap)."""
    root = settings.path(settings.output.archive_dir)
    return [p for p in root.glob("*/*.md") if p not in keep] if root.is_dir() else []


def write_all(settings: Settings, files: dict[Path, str | None]) -> list[Path]:
    """Write the ledger and every output as one unit (see tracker.store.journal.commit)."""
    data_dir = settings.path(settings.output.data_dir)
    for folder in (data_dir, settings.path(settings.output.digest_dir), settings.path(settings.output.archive_dir)):
        remove_stale_stages(folder)
    return commit(files, journal_path(data_dir))


# --- the run ----------------------------------------------------------------------------

def run_daily(
    settings: Settings,
    *,
    sources: Sources,
    today: str,
    dry_run: bool = False,
    render: bool = True,
    enrich: Enricher | None = None,
) -> RunSummary:
    data_dir = settings.path(settings.output.data_dir)
    ledger = Ledger.load(data_dir)
    results = fetch_all(settings, ledger, sources)
    if all(r.error for r in results):
        details = "; ".join(f"{r.name}: {r.error}" for r in results)
        failed = RunSummary(date=today, topics=[TopicSummary(r.name, error=r.error) for r in results], dry_run=dry_run)
        if not dry_run:
            save_last_run(settings, failed, error="every topic failed")  # so the health issue can say so
        raise NothingDone(f"every topic failed, nothing was written ({details})")
    summary = merge_all(ledger, results, today)
    summary.dry_run = dry_run
    fetch_profile_papers(settings, ledger, sources, today)
    hints = enrich(ledger, today, summary) if enrich else None
    files = render_all(settings, ledger, today, hints) if render else {}
    if dry_run:
        summary.outputs = [str(p) for p in sorted(files)]
        return summary
    written = write_all(settings, {**ledger.files(data_dir), **files})
    summary.outputs = [str(p) for p in written]
    if hints and hints.on_committed:
        hints.on_committed()
    save_last_run(settings, summary)
    return summary


def render_only(settings: Settings, *, today: str, enrich: Enricher | None = None) -> list[Path]:
    ledger = Ledger.load(settings.path(settings.output.data_dir))
    hints = enrich(ledger, today, RunSummary(date=today)) if enrich else None
    return write_all(settings, render_all(settings, ledger, today, hints))


def save_last_run(settings: Settings, summary: RunSummary, *, error: str | None = None) -> None:
    """For `tracker publish` (run health) and for humans: the last run's summary, not committed."""
    data = summary.to_dict()
    if error:
        data["error"] = error
    path = settings.path(settings.output.state_dir) / LAST_RUN_FILE
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
