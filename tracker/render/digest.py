"""Choose what goes into a day's digest: select, rank, cap, group. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from tracker.models import Paper


@dataclass(frozen=True)
class DigestItem:
    paper: Paper
    duplicates: tuple[str, ...] = ()  # other arXiv ids of the same work


@dataclass(frozen=True)
class ThemeGroup:
    label: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Digest:
    date: str
    new: tuple[DigestItem, ...]  # after the cap, in display order
    revised: tuple[DigestItem, ...]
    new_total: int
    revised_total: int
    themes: tuple[ThemeGroup, ...] = ()  # the kept new papers grouped by theme, when clustered
    top_picks: tuple[DigestItem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def left_out(self) -> int:
        return self.new_total - len(self.new) + self.revised_total - len(self.revised)

    @property
    def is_empty(self) -> bool:
        return not self.new_total and not self.revised_total


def by_date(paper: Paper) -> tuple:
    """Rank key, higher first: the latest version's time, then id (deterministic ties)."""
    return (paper.updated or "", paper.id)


def papers_of_day(papers: Iterable[Paper], date: str) -> tuple[list[Paper], list[Paper]]:
    """New papers first seen on `date`, and known papers revised on `date`.

    Papers with no topic (e.g. the group's own profile papers, fetched by id) are not news.
    """
    new, revised = [], []
    for paper in papers:
        if not paper.topics:
            continue
        if paper.first_seen == date:
            new.append(paper)
        elif paper.revised_on == date:
            revised.append(paper)
    return new, revised


def build_digest(
    papers: Iterable[Paper],
    date: str,
    cap: int,
    *,
    rank: Callable[[Paper], tuple] = by_date,
    duplicates: dict[str, Sequence[str]] | None = None,
) -> Digest:
    """Select the day's papers, hide duplicates behind their representative, rank and cap.

    The cap keeps the best-ranked new papers first; revised papers fill what room is left.
    """
    new, revised = papers_of_day(papers, date)
    duplicates = duplicates or {}
    hidden = {other for others in duplicates.values() for other in others}
    new_items = [DigestItem(p, tuple(duplicates.get(p.id, ()))) for p in sorted(new, key=rank, reverse=True) if p.id not in hidden]
    revised_items = [DigestItem(p) for p in sorted(revised, key=rank, reverse=True) if p.id not in hidden]
    kept_new = new_items[:cap]
    kept_revised = revised_items[: max(cap - len(kept_new), 0)]
    return Digest(
        date=date,
        new=tuple(kept_new),
        revised=tuple(kept_revised),
        new_total=len(new_items),
        revised_total=len(revised_items),
    )
