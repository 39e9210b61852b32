"""What the site shows, as plain data: every searchable paper in site order, days, topics, picks, themes.

Reads the ledger's papers and their vectors (tracker.enrich.stage.embed: the vector store, embedding
only what it lacks, saving nothing). Site order is newest first (date, then id), so a topic's or a
day's list of positions is already in display order. Pure apart from that one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tracker.enrich.tldr import shown_tldr
from tracker.models import Paper
from tracker.render.latex import readable

if TYPE_CHECKING:
    from tracker.config import Settings

PICKS = 5  # per profile, on the front page
PROFILE_SHARE = 0.1  # the profile filter keeps a profile's best-scored tenth of the papers
TLDR_CHARS = 300


@dataclass
class Catalogue:
    papers: list[Paper]  # site order
    vectors: np.ndarray  # row i is papers[i]
    topics: list[str]
    profiles: list[str] = field(default_factory=list)
    profile_members: dict[str, list[int]] = field(default_factory=dict)  # name -> positions
    picks: list[dict[str, Any]] = field(default_factory=list)  # [{profile, method, positions}]
    themes: dict[str, Any] = field(default_factory=dict)

    @property
    def latest_day(self) -> str:
        return max((p.first_seen or p.date for p in self.papers), default="")

    def positions(self, ids: Sequence[str]) -> list[int]:
        """Site positions of `ids`, in the given order (ids not on the site are left out)."""
        where = {p.id: i for i, p in enumerate(self.papers)}
        return [where[pid] for pid in ids if pid in where]


def title(paper: Paper) -> str:
    """The title as the digest shows it: LaTeX made readable (the page sets it as text)."""
    return readable(paper.title)


def tldr(paper: Paper) -> str:
    """The TL;DR the digest shows (the stored one, or computed now for an older record), capped."""
    text = " ".join(readable(shown_tldr(paper)).split())
    return text if len(text) <= TLDR_CHARS else text[: TLDR_CHARS - 1].rstrip() + "…"


def build_catalogue(settings: Settings, ledger_papers: Sequence[Paper], encoder: Any = None) -> Catalogue:
    """Every paper with a topic (what `tracker search` searches), with vectors, picks and themes."""
    from tracker.enrich.stage import LazyEncoder, embed

    lazy = LazyEncoder(settings, encoder)
    embedded = embed(settings, list(ledger_papers), lazy)
    listed = [p for p in embedded.papers if p.topics]
    listed.sort(key=lambda p: (p.date, p.id), reverse=True)
    catalogue = Catalogue(listed, embedded.of(listed), sorted({t for p in listed for t in p.topics}))
    _add_relevance(catalogue, settings, embedded, lazy)
    _add_themes(catalogue)
    return catalogue


def _add_relevance(catalogue: Catalogue, settings: Settings, embedded: Any, lazy: Any) -> None:
    """Each profile's picks among the latest day's papers, and its members for the profile filter."""
    from tracker.enrich.profile import profiles_from_settings
    from tracker.enrich.stage import score_relevance

    relevance = score_relevance(settings, embedded, lazy, profiles_from_settings(settings))
    latest = catalogue.latest_day
    today = [
        i
        for i, p in enumerate(catalogue.papers)
        if (p.first_seen or p.date) == latest and p.id not in relevance.own_ids
    ]
    for scored in relevance.profiles:
        name = scored.name or "group"
        value = [scored.scores.get(p.id, 0.0) for p in catalogue.papers]
        catalogue.profiles.append(name)
        keep = max(1, round(len(value) * PROFILE_SHARE))
        catalogue.profile_members[name] = sorted(np.argsort([-v for v in value], kind="stable")[:keep].tolist())
        best = sorted(today, key=lambda i: (-value[i], i))[:PICKS]
        catalogue.picks.append({"profile": name, "method": scored.method, "positions": best})


def _add_themes(catalogue: Catalogue, weeks: int = 4) -> None:
    """The rising themes of the weeks ending on the latest day (tracker.enrich.trends), with counts to chart."""
    from tracker.enrich.trends import find_trends, select_window

    if not catalogue.latest_day:
        return
    window = select_window(catalogue.papers, catalogue.latest_day, weeks)
    rows = {p.id: i for i, p in enumerate(catalogue.papers)}
    vectors = catalogue.vectors[[rows[p.id] for p in window.papers]] if window.papers else catalogue.vectors[:0]
    report = find_trends(window, vectors) if len(window.papers) else None
    weeks_out = [{"start": w.start, "end": w.end, "tracked": w.tracked} for w in (report.weeks if report else ())]
    themes = [
        {
            "label": t.label,
            "terms": list(t.terms),
            "counts": list(t.weekly_counts),
            "growth": t.growth,
            "rising": bool(t.rising),
            "positions": catalogue.positions(t.papers),
        }
        for t in (report.themes if report else ())
    ]
    catalogue.themes = {"end": catalogue.latest_day, "weeks": weeks_out, "themes": themes}
