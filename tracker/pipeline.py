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
from dataclasses import replace
from pathlib import Path

from tracker.config import Settings
from tracker.digest import Digest, build_digest, with_papers, with_picks, with_themes
from tracker.enrich.profile import profiles_from_settings
from tracker.enrich.stage import (
    LazyEncoder,
    day_themes,
    near_duplicates,
    rank_by_relevance,
    save_vectors,
    score_relevance,
    week_trends,
    with_scores,
)
from tracker.enrich.stage import embed as embed_stage
from tracker.enrich.tldr import add_tldrs, recorded_on
from tracker.enrich.tldr_llm import llm_tldrs
from tracker.errors import ArxivUnreachable, TrackerError, UsageError
from tracker.fetching import (  # noqa: F401 (make_sources, Sources: the run's entry points use them from here)
    Sources,
    fetch_all,
    fetch_profile_papers,
    make_sources,
    merge_all,
    report_backlog,
    report_shortened,
)
from tracker.models import Paper, RunSummary, TopicResult, TopicSummary
from tracker.project import LAST_RUN_FILE
from tracker.redact import redact
from tracker.render.digest_data import digest_data_path, digest_json
from tracker.render.feed import digest_feed
from tracker.render.feed import repository as feed_repository
from tracker.render.markdown import digest_path, render_digest
from tracker.render.plan import digest_papers, environment_for, render_tables_of_run, save_render_state
from tracker.render.weekly import build_review, render_review, review_due
from tracker.store.backlog import backlog_files, backlog_path, load_backlog
from tracker.store.journal import commit, remove_stale_stages, write_atomic
from tracker.store.ledger import Ledger, journal_path
from tracker.store.lock import run_lock

log = logging.getLogger(__name__)


class NothingDone(TrackerError):
    """Every topic failed: nothing was written. Carries the failed run's summary (for --json)."""

    def __init__(self, message: str, *, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary


def today_utc() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


# --- fetch ------------------------------------------------------------------------------


def record_tldrs(ledger: Ledger, today: str) -> None:
    """A TL;DR for each paper this run recorded (new or revised) that has none for its version yet."""
    recorded = (ledger.get(pid) for pid in recorded_on(ledger.entries(), today))
    ledger.update(add_tldrs(paper for paper in recorded if paper is not None))


# --- render -----------------------------------------------------------------------------


def make_digest(
    settings: Settings,
    papers: list[Paper],
    today: str,
    summary: RunSummary,
    *,
    duplicates=None,
    relevance_on: bool = False,
) -> Digest:
    kwargs = {"duplicates": duplicates} if duplicates else {}
    if relevance_on:
        kwargs["rank"] = rank_by_relevance
    digest = build_digest(
        papers,
        today,
        settings.output.digest_max_papers,
        **kwargs,
        failures=[(t.name, redact(t.error or "")) for t in summary.failed],
        readme_rows=settings.output.readme_rows,
        topics=[t.name for t in settings.topics],
    )
    return replace(digest, notes=digest.notes + run_notes(summary))


def run_notes(summary: RunSummary) -> tuple[str, ...]:
    """What a cap held back this run, said in the digest (never silently)."""
    notes = [
        f"{count} more papers for topic {name} are still being fetched; caught up over the next runs."
        for name, count in sorted(summary.backlog.items())
    ]
    notes += [
        f"{count} {name} values were longer than the tracker keeps and were cut (marked …)."
        for name, count in sorted(summary.shortened.items())
    ]
    return tuple(notes)


def render_all(
    settings: Settings, ledger: Ledger, today: str, digest: Digest, *, full: bool = False
) -> dict[Path, str | None]:
    """Every output file that can change, its full content keyed by path (None: an archive page to delete).

    The README and archive pages come from tracker.render.plan: only those this run's ledger
    changes can reach (every one with `full`), reading only the records they show.
    """
    out = settings.output
    env = environment_for(settings)
    files = render_tables_of_run(settings, env, ledger, today, full=full)
    files[digest_path(settings.path(out.digest_dir), today)] = render_digest(env, digest, cap=out.digest_max_papers)
    files[digest_data_path(settings.path(out.digest_dir), today)] = digest_json(digest)  # for notify and the site
    return files


def with_feed(settings: Settings, files: dict[Path, str | None]) -> dict[Path, str | None]:
    """`files` plus the Atom feed over the digests and weekly reviews, these files included."""
    repo, server = feed_repository(settings.publish.repo)  # in Actions, the workflow's repository
    feed = digest_feed(
        settings.path(settings.output.digest_dir), settings.base_dir, repo=repo, server=server, pending=files
    )
    return {**files, feed[0]: feed[1]}


def after_commit(settings: Settings, ledger: Ledger, files: dict[Path, str | None] | None) -> None:
    """Caches describing what was just committed, for the next run (`files`: the outputs, if rendered).

    A fetch that renders nothing saves neither: both keep describing the last render, so the next
    run renders what the fetch added."""
    if files is not None:
        ledger.save_index()
        save_render_state(settings, ledger, files)


def write_all(settings: Settings, files: dict[Path, str | bytes | None]) -> list[Path]:
    """Write the ledger and every output as one unit (see tracker.store.journal.commit)."""
    data_dir = settings.path(settings.output.data_dir)
    for folder in (data_dir, settings.path(settings.output.digest_dir), settings.path(settings.output.archive_dir)):
        remove_stale_stages(folder)
    return commit(files, journal_path(data_dir), root=settings.base_dir)  # nothing outside the project


# --- the run ----------------------------------------------------------------------------


def run_daily(settings: Settings, *, dry_run: bool = False, **kwargs) -> RunSummary:
    """A run holds the run lock throughout (tracker.store.lock); a dry run changes no file, so needs none."""
    if dry_run:
        return _run_daily(settings, dry_run=True, **kwargs)
    command = "tracker run" if kwargs.get("render", True) else "tracker fetch"
    with run_lock(settings.project.state_dir, command=command):
        return _run_daily(settings, **kwargs)


def _run_daily(
    settings: Settings,
    *,
    sources: Sources,
    today: str,
    dry_run: bool = False,
    render: bool = True,
    embed: bool = True,
    encoder=None,
) -> RunSummary:
    """fetch → ledger → embed → relevance → duplicates → digest → themes → render → commit → vectors.

    `embed=False` skips the model-backed stages; `encoder` hands in a ready encoder (tests).
    """
    data_dir = settings.path(settings.output.data_dir)
    # A dry run reads a pending commit, never applies it. The index spares parsing unneeded shards.
    ledger = Ledger.load(data_dir, read_only=dry_run, index=settings.project.ledger_index)
    backlog = load_backlog(backlog_path(data_dir))
    try:
        results = fetch_all(settings, ledger, sources, backlog)
    except ArxivUnreachable as exc:  # offline or arXiv down: say so at once, not once per topic
        results = [TopicResult(t.name, error=str(exc)) for t in settings.topics]
        failed = RunSummary(date=today, topics=[TopicSummary(r.name, error=r.error) for r in results], dry_run=dry_run)
        if not dry_run:
            save_last_run(settings, failed, error=str(exc))
        raise NothingDone(str(exc), summary=failed) from None
    if all(r.error for r in results):
        failed = RunSummary(date=today, topics=[TopicSummary(r.name, error=r.error) for r in results], dry_run=dry_run)
        if not dry_run:
            save_last_run(settings, failed, error="every topic failed")  # so the health issue can say so
        details = "; ".join(f"{r.name}: {r.error}" for r in results)
        raise NothingDone(f"every topic failed, nothing was written ({details})", summary=failed)
    summary = merge_all(ledger, results, today)
    summary.dry_run = dry_run
    report_backlog(summary, backlog, settings.arxiv.max_results_per_run)
    profiles = profiles_from_settings(settings)  # once per run: BibTeX read and its warnings logged once
    fetch_profile_papers(ledger, sources, today, profiles)
    record_tldrs(ledger, today)
    report_shortened(summary, ledger)

    files: dict[Path, str | None] = {}
    embedded = None
    if render:
        encoder = lazy_encoder(settings, embed, encoder)
        digest, embedded, why, scored = enriched_digest(settings, ledger, today, summary, encoder, profiles)
        ledger.update(scored)  # the records rendered and committed carry the day's scores
        digest = with_llm_tldrs(settings, ledger, digest, summary, dry_run=dry_run)
        files = render_all(settings, ledger, today, digest)
        files.update(
            weekly_review_files(  # the week's review, on the week's first run
                settings,
                embedded.papers if embedded else ledger.papers.values(),
                embedded.vectors if embedded else None,
                today,
                why=why,
                encoder=encoder,
            )
        )
        files = with_feed(settings, files)
    if dry_run:
        summary.outputs = [str(p) for p in sorted(files)]
        save_dry_run_preview(settings, summary, files)
        return summary
    backlog_file = backlog_files(backlog_path(data_dir), backlog, [t.name for t in settings.topics])
    written = write_all(settings, {**ledger.files(data_dir), **backlog_file, **files})
    after_commit(settings, ledger, files if render else None)
    summary.outputs = [str(p) for p in written]
    if embedded is not None:
        save_vectors(embedded)
    save_last_run(settings, summary)
    return summary


def lazy_encoder(settings: Settings, embed: bool, encoder=None) -> LazyEncoder | None:
    """None when the model-backed stages are off (`--no-embed`, or `embedding.enabled: false` without a
    handed-in encoder)."""
    if not embed or (encoder is None and not settings.embedding.enabled):
        return None
    return LazyEncoder(settings, encoder)


def enriched_digest(
    settings: Settings, ledger: Ledger, today: str, summary: RunSummary, encoder: LazyEncoder | None, profiles: list
):
    """embed → relevance → duplicates → digest → themes → picks. Reads the ledger, never changes it.

    Returns the digest, the embedded papers (None without an encoder), `why(id)`: the group's
    example a paper is closest to (None without relevance), and the records whose stored relevance
    score changes (tracker.enrich.stage.with_scores), for the caller to put in the ledger."""
    if encoder is None:  # the digest needs only the day's papers and the README rows: parse no other shard
        return make_digest(settings, digest_papers(settings, ledger, today), today, summary), None, None, []
    papers = sorted(ledger.papers.values(), key=lambda p: p.id)
    embedded = embed_stage(settings, papers, encoder)
    summary.extra["embedded"] = embedded.embedded
    relevance = score_relevance(settings, embedded, encoder, profiles)
    scored = with_scores(papers, relevance.best(), today)
    rescored = {paper.id: paper for paper in scored}
    papers = [rescored.get(paper.id, paper) for paper in papers]
    embedded = replace(embedded, papers=tuple(papers))
    duplicates = near_duplicates(settings, embedded, today)
    summary.extra["near_duplicates"] = sum(len(others) for others in duplicates.values())
    relevance_on = bool(relevance.profiles)
    digest = make_digest(settings, papers, today, summary, duplicates=duplicates, relevance_on=relevance_on)
    themes = day_themes(
        settings, [item.paper for item in digest.new], embedded, relevance_on=relevance_on, encoder=encoder
    )
    digest = with_themes(digest, themes)
    summary.extra["clusters"] = len(digest.themes)
    return with_picks(digest, relevance), embedded, (relevance.why if relevance.profiles else None), scored


def weekly_review_files(settings: Settings, papers, vectors, today: str, why=None, encoder=None) -> dict[Path, str]:
    """{path: Markdown} of the week's review when this run should write it (tracker.render.weekly), else {}.

    `vectors` (row i embeds papers[i]) may be None: the review then has counts and picks, no themes."""
    due = review_due(settings, today)
    if due is None:
        return {}
    path, weeks = due
    review = build_review(
        *week_trends(papers, vectors, today, weeks, encoder), today, topics=[t.name for t in settings.topics]
    )
    return {} if review is None else {path: render_review(environment_for(settings), review, why)}


def with_llm_tldrs(settings: Settings, ledger: Ledger, digest: Digest, summary: RunSummary, *, dry_run: bool) -> Digest:
    """The digest's papers with LLM TL;DRs (`summaries.llm`), stored in the ledger so a rerun sends nothing.

    Failures keep the extractive lines and are named in the summary's `llm` entry (the health issue)."""
    llm = settings.summaries.llm
    if llm is None or digest.is_empty:
        return digest
    if dry_run:
        summary.extra["llm"] = {"model": llm.model, "skipped": "dry run: nothing sent"}
        return digest
    improved, report = llm_tldrs([item.paper for item in (*digest.new, *digest.revised)], llm)
    ledger.update(improved)
    summary.extra["llm"] = report.to_dict()
    digest = with_papers(digest, {paper.id: paper for paper in improved})
    if report.over_cap:  # never silently: the reader sees why some lines are extractive
        note = (
            f"Extractive TL;DR kept for {report.over_cap} of the papers below: at most "
            f"{llm.max_papers_per_run} a day are summarised by {llm.model} (summaries.llm.max_papers_per_run)."
        )
        digest = replace(digest, notes=(*digest.notes, note))
    return digest


def render_only(
    settings: Settings, *, today: str | None = None, embed: bool = True, encoder=None
) -> tuple[str, list[Path]]:
    """Re-render from the ledger: the day `today`, or (None) the latest day that has papers. (day, files)."""
    with run_lock(settings.project.state_dir, command="tracker render"):
        ledger = Ledger.load(settings.path(settings.output.data_dir), index=settings.project.ledger_index)
        today = render_day(ledger, today, today_utc())
        digest, _, _, scored = enriched_digest(
            settings,
            ledger,
            today,
            RunSummary(date=today),
            lazy_encoder(settings, embed, encoder),
            profiles_from_settings(settings),
        )
        ledger.update(scored)
        files = with_feed(settings, render_all(settings, ledger, today, digest, full=True))  # every page re-rendered
        written = write_all(settings, {**ledger.files(settings.path(settings.output.data_dir)), **files})
        after_commit(settings, ledger, files)
        return today, written


def render_day(ledger: Ledger, asked: str | None, now: str) -> str:
    """The day to render: `asked` if the ledger can have papers for it, else a UsageError; without one,
    the latest day with papers (an empty today would only write an empty digest)."""
    days = sorted(
        {day for _, entry in ledger.entries() if entry.topics for day in (entry.first_seen, entry.revised_on) if day}
    )
    if asked is None:
        return days[-1] if days else now
    if asked > now:
        raise UsageError(f"--date {asked} is after today ({now}); nothing can have been fetched for it yet")
    if days and asked < days[0]:
        raise UsageError(f"--date {asked} is before the ledger's first run ({days[0]}); nothing was fetched then")
    return asked


def save_dry_run_preview(settings: Settings, summary: RunSummary, files: dict[Path, str | None]) -> None:
    folder = settings.project.dry_run_dir(summary.date)  # for `tracker publish --dry-run` (a cache)
    digest = files.get(digest_path(settings.path(settings.output.digest_dir), summary.date))
    try:
        if digest is not None:
            write_atomic(folder / "digest.md", digest)
        write_atomic(folder / LAST_RUN_FILE, redact(json.dumps(summary.to_dict(), indent=2, sort_keys=True)) + "\n")
    except OSError as exc:  # a cache (helper-J): a damaged or full .tracker/ must not fail the dry run
        log.warning("could not save the dry run's preview in %s (%s); `publish --dry-run` will not see it", folder, exc)


def save_last_run(settings: Settings, summary: RunSummary, *, error: str | None = None) -> None:
    """For `tracker publish` (run health) and for humans: the last run's summary, not committed."""
    data = replace(summary, error=error).to_dict() if error else summary.to_dict()
    path = settings.project.last_run
    try:
        write_atomic(path, redact(json.dumps(data, indent=2, sort_keys=True)) + "\n")
    except OSError as exc:  # a cache: the run's files are already committed, so this must not fail the run
        log.warning("could not save %s (%s); `tracker publish` will not see this run's health", path, exc)
