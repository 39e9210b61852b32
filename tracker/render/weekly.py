"""The weekly review: `digests/YYYY/week-WW.md`, written by the first run of each ISO week.

Written on the first run on or after `weekly.weekday` (1 = Monday) of an ISO week that finds no
review for that week yet, so a skipped Monday is made up on Tuesday and a second run changes
nothing. It covers the 7 days up to that run (the weeks of `tracker trends --date <run date>`)
and is named after the week it was issued in, as `tracker publish` expects: its first line is
`# Weekly review YYYY-Www`. It holds the rising themes with their best papers and a Mermaid chart
of them, the week's top picks by relevance, and the new papers per topic. Nothing is written
until the tracker has run for a week (there is nothing to compare with before).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.enrich.trends import Trend, TrendReport, Window
from tracker.models import Paper
from tracker.render.charts import Chart, Series, week_label, xychart

if TYPE_CHECKING:
    from tracker.config import Settings

RISING_SHOWN = 5
BEST_PAPERS = 3
TOP_PICKS = 5


@dataclass(frozen=True)
class RisingTheme:
    trend: Trend
    best: tuple[Paper, ...]  # this week's best papers of the theme
    more: int  # this week's other papers of the theme
    counts: tuple[int, ...]  # papers per tracked week, oldest first (weeks before the tracker ran are not zeros)


@dataclass(frozen=True)
class TopicCount:
    name: str
    this_week: int
    before: tuple[int, ...]  # the earlier tracked weeks, oldest first


@dataclass(frozen=True)
class WeeklyReview:
    week: str  # "2026-W13"
    start: str
    end: str
    new_papers: int
    weeks: int  # weeks compared (this one included)
    embedded: bool  # False: no vectors, so no themes
    rising: tuple[RisingTheme, ...]
    chart: Chart | None
    top_picks: tuple[Paper, ...]
    topics: tuple[TopicCount, ...]
    tracked_before: int  # earlier weeks the tracker was running
    why: dict[str, str] = field(default_factory=dict)  # top pick id -> the group's example it is closest to


def weekly_settings(settings: Settings) -> tuple[bool, int, int]:
    """(enabled, weekday, weeks) from `weekly:` in the config (defaults: on, Monday, 4)."""
    weekly = getattr(settings, "weekly", None)
    return (getattr(weekly, "enabled", True), getattr(weekly, "weekday", 1), getattr(weekly, "weeks", 4))


def review_path(digest_dir: Path, day: str) -> Path:
    """`digests/YYYY/week-WW.md` for the ISO week `day` falls in."""
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return digest_dir / f"{year}" / f"week-{week:02d}.md"


def iso_week(day: str) -> str:
    year, week, _ = dt.date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def review_due(settings: Settings, today: str) -> tuple[Path, int] | None:
    """(the review's path, weeks to compare) when this run should write the week's review (see above)."""
    enabled, weekday, weeks = weekly_settings(settings)
    path = review_path(settings.path(settings.output.digest_dir), today)
    if not enabled or dt.date.fromisoformat(today).isoweekday() < weekday or path.exists():
        return None
    return path, weeks


def render_review(env: Any, review: WeeklyReview, why: Callable[[str], str | None] | None = None) -> str:
    """The review's Markdown; `why(id)` names what a top pick is closest to (Relevance.why)."""
    if why is not None:
        review = replace(review, why={p.id: reason for p in review.top_picks if (reason := why(p.id))})
    return env.get_template("weekly.md.j2").render(r=review)


def build_review(
    window: Window, report: TrendReport | None, today: str, *, topics: Sequence[str] = ()
) -> WeeklyReview | None:
    """The review of the 7 days ending `today` from the window of papers and its themes' trends
    (tracker.enrich.stage.week_trends; `report` None: no vectors, so no themes). None when the
    tracker was not running before those days: a first week has nothing to be compared with."""
    if not any(w.tracked for w in window.weeks[:-1]):
        return None
    by_id = {p.id: p for p in window.papers}
    tracked = [w.tracked for w in window.weeks]
    rising = tuple(
        RisingTheme(
            t,
            tuple(by_id[i] for i in t.papers[:BEST_PAPERS]),
            max(0, len(t.papers) - BEST_PAPERS),
            _tracked_only(t.weekly_counts, tracked),
        )
        for t in (report.rising if report else [])[:RISING_SHOWN]
    )
    this_week = [p for p, w in zip(window.papers, window.week, strict=True) if w == window.this_week]
    picks = sorted((p for p in this_week if p.relevance is not None), key=lambda p: (-(p.relevance or 0.0), p.id))
    last = window.weeks[-1]
    return WeeklyReview(
        week=iso_week(today),
        start=last.start,
        end=last.end,
        new_papers=len(this_week),
        weeks=len(window.weeks),
        embedded=report is not None,
        rising=rising,
        chart=rising_chart(report, rising) if report and rising else None,
        top_picks=tuple(picks[:TOP_PICKS]),
        topics=topic_counts(window, topics),
        tracked_before=sum(w.tracked for w in window.weeks[:-1]),
    )


def topic_counts(window, topics: Sequence[str]) -> tuple[TopicCount, ...]:
    counts = {name: [0] * len(window.weeks) for name in topics}
    for paper, week in zip(window.papers, window.week, strict=True):
        for name in paper.topics:
            if name in counts:
                counts[name][week] += 1
    tracked = [w.tracked for w in window.weeks]
    return tuple(TopicCount(name, c[-1], _tracked_only(c[:-1], tracked)) for name, c in counts.items())


def _tracked_only(counts: Sequence[int], tracked: Sequence[bool]) -> tuple[int, ...]:
    """The counts of the weeks the tracker ran: a week before it started is unknown, not zero."""
    return tuple(int(c) for c, on in zip(counts, tracked, strict=False) if on)  # `tracked` may go on (this week)


def rising_chart(report: TrendReport, rising: Sequence[RisingTheme]) -> Chart:
    """The rising themes' papers per tracked week; the last week ends on the run date, so it is complete."""
    weeks = [w for w in report.weeks if w.tracked]
    labels = [week_label(dt.date.fromisoformat(w.start)) for w in weeks]
    series = [Series(r.trend.label, r.counts) for r in rising]
    return xychart(f"Papers per week in the rising themes, {weeks[0].start} to {report.end}", labels, series)
