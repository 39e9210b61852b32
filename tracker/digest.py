"""Choose what goes into a day's digest: select, rank, cap, group; then add themes and picks. Pure.

The digest model lives here, between enrich and render: enrichment returns plain data (scores,
themes, relevance), this module assembles the digest from it, and render only draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tracker.enrich.relevance import TOP_PICKS
from tracker.models import Paper, papers_of_day


@dataclass(frozen=True)
class DigestItem:
    paper: Paper
    duplicates: tuple[str, ...] = ()  # other arXiv ids of the same work


@dataclass(frozen=True)
class ThemeGroup:
    label: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Pick:
    item: DigestItem
    score: float  # the profile's score (0-1), not the paper's best over profiles
    why: str | None = None  # the profile's example it is closest to ("close to ..."), when known


@dataclass(frozen=True)
class ProfilePicks:
    """One profile's top picks of the day (with_picks)."""

    name: str  # "" for the single unnamed `profile:`
    method: str  # "classifier" or "similarity" (the fallback)
    picks: tuple[Pick, ...]


@dataclass(frozen=True)
class Digest:
    date: str
    new: tuple[DigestItem, ...]  # after the cap, in display order
    revised: tuple[DigestItem, ...]
    new_total: int
    revised_total: int
    themes: tuple[ThemeGroup, ...] = ()  # the kept new papers grouped by theme, when clustered
    notes: tuple[str, ...] = field(default=())
    failures: tuple[tuple[str, str], ...] = ()  # (topic, arXiv's message) for each topic that failed today
    left_out_in_readme: int | None = None  # of `left_out`, how many a README table shows (None: not computed)
    profile_picks: tuple[ProfilePicks, ...] = ()  # top picks per profile; the group's own papers never
    own_papers: tuple[DigestItem, ...] = ()  # the group's papers (profile or ticked) in today's news

    @property
    def left_out(self) -> int:
        return self.new_total - len(self.new) + self.revised_total - len(self.revised)

    @property
    def left_out_in_archives(self) -> int | None:
        """Left-out papers found only on archive pages (None: not computed)."""
        return None if self.left_out_in_readme is None else self.left_out - self.left_out_in_readme

    @property
    def is_empty(self) -> bool:
        return not self.new_total and not self.revised_total


def with_papers(digest: Digest, papers: Mapping[str, Paper]) -> Digest:
    """`digest` showing these newer records of its papers (by id), wherever each appears."""
    if not papers:
        return digest

    def items(entries: Iterable[DigestItem]) -> tuple[DigestItem, ...]:
        return tuple(replace(i, paper=papers.get(i.paper.id, i.paper)) for i in entries)

    return replace(
        digest,
        new=items(digest.new),
        revised=items(digest.revised),
        own_papers=items(digest.own_papers),
        themes=tuple(replace(t, items=items(t.items)) for t in digest.themes),
        profile_picks=tuple(
            replace(pp, picks=tuple(replace(pick, item=items([pick.item])[0]) for pick in pp.picks))
            for pp in digest.profile_picks
        ),
    )


def by_date(paper: Paper) -> tuple:
    """Rank key, higher first: the latest version's time, then id (deterministic ties)."""
    return (paper.updated or "", paper.id)


def build_digest(
    papers: Iterable[Paper],
    date: str,
    cap: int,
    *,
    rank: Callable[[Paper], tuple] = by_date,
    duplicates: dict[str, Sequence[str]] | None = None,
    failures: Iterable[tuple[str, str]] = (),
    readme_rows: int | None = None,
    topics: Sequence[str] | None = None,
) -> Digest:
    """Select the day's papers, hide duplicates behind their representative, rank and cap.

    The cap keeps the best-ranked new papers first; revised papers fill what room is left.
    `failures` are the topics that could not be fetched, with arXiv's message. With
    `readme_rows` (the README cap) and the configured `topics`, the digest can say where the
    papers it leaves out are shown: in a README table or only on an archive page.
    """
    papers = list(papers)
    new, revised = papers_of_day(papers, date)
    duplicates = duplicates or {}
    hidden = {other for others in duplicates.values() for other in others}
    new_items = [
        DigestItem(p, tuple(duplicates.get(p.id, ())))
        for p in sorted(new, key=rank, reverse=True)
        if p.id not in hidden
    ]
    revised_items = [DigestItem(p) for p in sorted(revised, key=rank, reverse=True) if p.id not in hidden]
    kept_new = new_items[:cap]
    kept_revised = revised_items[: max(cap - len(kept_new), 0)]
    left_out = [i.paper for i in new_items[len(kept_new) :] + revised_items[len(kept_revised) :]]
    in_readme = None
    if readme_rows is not None:
        shown = readme_table_ids(papers, readme_rows, topics)
        in_readme = sum(1 for p in left_out if p.id in shown)
    return Digest(
        date=date,
        new=tuple(kept_new),
        revised=tuple(kept_revised),
        new_total=len(new_items),
        revised_total=len(revised_items),
        failures=tuple((str(topic), str(message)) for topic, message in failures),
        left_out_in_readme=in_readme,
    )


def readme_table_ids(papers: Iterable[Paper], rows: int, topics: Sequence[str] | None = None) -> set[str]:
    """Ids in some topic's README table: its newest `rows` papers (as tracker.render.markdown lays them out).

    `topics`: the configured topics (None: every topic any paper has).
    """
    by_topic: dict[str, list[Paper]] = {}
    for paper in papers:
        for topic in paper.topics:
            by_topic.setdefault(topic, []).append(paper)
    names = by_topic if topics is None else [t for t in topics if t in by_topic]
    return {p.id for name in names for p in sorted(by_topic[name], key=by_date, reverse=True)[:rows]}


def with_themes(digest: Digest, themes: Iterable[Any]) -> Digest:
    """`digest` with its new papers grouped by these themes (each has `label` and `paper_ids`).

    A single theme says nothing, so fewer than two leave the digest ungrouped.
    """
    items = {item.paper.id: item for item in digest.new}
    groups = tuple(ThemeGroup(t.label, tuple(items[pid] for pid in t.paper_ids)) for t in themes)
    return replace(digest, themes=groups if len(groups) > 1 else ())


def with_picks(digest: Digest, relevance: Any, n: int = TOP_PICKS) -> Digest:
    """`digest` with each profile's top `n` new papers (tracker.enrich.relevance.Relevance scores).

    The group's own papers (profile papers, ticked papers) are never picks: they are listed in
    `own_papers` when they are in today's news (new or revised).
    """
    candidates = [item for item in digest.new if item.paper.id not in relevance.own_ids]
    picks = []
    for profile in relevance.profiles:
        if not profile.scores:
            continue
        value = profile.scores
        best = sorted(candidates, key=lambda item: (-value.get(item.paper.id, 0.0), item.paper.id))[:n]
        picks.append(
            ProfilePicks(
                profile.name,
                profile.method,
                tuple(
                    Pick(item, round(value.get(item.paper.id, 0.0), 4), relevance.why(item.paper.id, profile))
                    for item in best
                ),
            )
        )
    own = tuple(item for item in digest.new + digest.revised if item.paper.id in relevance.own_ids)
    return replace(digest, profile_picks=tuple(picks), own_papers=own)
