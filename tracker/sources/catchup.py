"""A topic's backlog: papers beyond `arxiv.max_results_per_run` are fetched by the next runs.

A run reads a topic newest first (by last-updated time) until a page of known papers, or until
the per-run cap. When the cap cuts it short, what lies between the oldest paper read and the
newest paper the ledger already had is a gap: a `Window` of last-updated times. The window is
remembered (tracker.store.backlog, committed with the ledger) and each later run, after reading
the new head, pages through the open windows with what is left of the cap, narrowing each one
to below the oldest paper read, until it is empty. Windows are queried by date range, so no
query ever pages past arXiv's 10,000-result offset limit however large the backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tracker.models import Paper
from tracker.sources.api import ArxivAPISource, Fetched, window_clause


@dataclass(frozen=True)
class Window:
    """Papers of a topic not fetched yet: last updated from `after` to `before` (ISO UTC, minute
    precision, both included; `after` None: since arXiv began)."""

    query: str  # the topic's query (one part of it, when split) the gap was found in
    before: str
    after: str | None = None
    skip: int = 0  # matches at the start of the window already read (when one minute holds more than a run)
    remaining: int | None = None  # papers left in it, as last counted

    @property
    def search(self) -> str:
        return f"({self.query}) AND {window_clause(self.after, self.before)}"


@dataclass(frozen=True)
class TopicFetch:
    papers: list[Paper]
    windows: list[Window]  # still open after this run, newest first


def fetch_topic_queries(
    api: ArxivAPISource,
    queries: list[str],
    *,
    cap: int,
    is_known: Callable[[Paper], bool],
    newest_known: Callable[[], str | None],
    windows: list[Window],
    backfill: bool = False,
) -> TopicFetch:
    """The new head of each query first (the cap shared between them), then the open windows,
    within `cap` papers taken in all.

    `newest_known()`: the last-updated time of the topic's newest paper already in the ledger
    (asked only when a gap opens). `backfill` (a topic's first run) reads only the cap's worth on
    purpose: no window is opened."""
    papers: list[Paper] = []
    budget, opened = cap, []
    for query in queries:
        head = api.fetch(query, limit=max(1, -(-cap // len(queries))), is_known=is_known)
        papers += head.papers
        budget -= head.taken  # a page of known papers is not taken in
        if head.more and not backfill and head.oldest:
            # Known papers met among the head's pages may be newer than the gap: then no lower bound.
            newest = newest_known()
            after = newest if newest and newest[:16] < head.oldest[:16] else None
            opened.append(Window(query=query, before=head.oldest, after=after))
    windows = opened + windows
    still_open = []
    for window in windows:
        if budget <= 0:
            still_open.append(window)
            continue
        # A page of known papers below the window's top minute is where the ledger's papers resume.
        below_known = lambda p, top=window.before[:16]: is_known(p) and (p.updated or "")[:16] < top  # noqa: E731
        part = api.fetch(window.search, limit=budget, offset=window.skip, is_known=below_known)
        papers += part.papers
        budget -= part.taken
        if part.more:
            still_open.append(_narrowed(window, part))
    counted = [_counted(api, w) for w in still_open]
    return TopicFetch(papers, [w for w in counted if w.remaining != 0])  # emptied since (its papers revised)


def _narrowed(window: Window, part: Fetched) -> Window:
    """The part of `window` below what was just read (the oldest minute read is read again)."""
    if part.oldest is None or part.oldest[:16] >= window.before[:16]:  # one minute holds more than a run
        return replace(window, skip=window.skip + part.read, remaining=part.more)
    return replace(window, before=part.oldest, skip=0, remaining=part.more)


def _counted(api: ArxivAPISource, window: Window) -> Window:
    """A window whose size is unknown is counted (one small request), so the run can say how many remain."""
    if window.remaining is not None:
        return window
    return replace(window, remaining=max(0, api.count(window.search) - window.skip))
