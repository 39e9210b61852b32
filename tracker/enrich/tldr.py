"""The one-line TL;DR of each paper, computed once per paper version and kept in its ledger record.

`tldr` holds the line and `tldr_source` where it came from: "extractive" (tracker.enrich.tldr_model:
no key, no network) or "llm:<model>" (the optional `summaries.llm`). A record keeps its TL;DR until
a newer version arrives: tracker.store.merging.merge builds a revision from the source's record,
which has none, so the next `add_tldrs` computes the new version's. Records from before TL;DRs
are not rewritten for one (their shard's bytes stay as they are): `shown_tldr` computes theirs
when a page shows them, without storing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tracker.models import Paper
from tracker.store.ledger_index import Entry

EXTRACTIVE = "extractive"
Summarise = Callable[[str, str], str]  # (title, abstract) -> one line


def extractive(title: str, abstract: str) -> str:
    from tracker.enrich.tldr_model import extractive_tldr

    return extractive_tldr(title, abstract)


def add_tldrs(papers: Iterable[Paper], summarise: Summarise = extractive) -> list[Paper]:
    """The papers that lack a TL;DR for their version, each with one (papers that have one: left out)."""
    done = []
    for paper in papers:
        if paper.tldr:
            continue
        line = " ".join(summarise(paper.title, paper.abstract).split())
        if line:  # an empty abstract gives none: the record stays as it was
            done.append(paper.with_changes(tldr=line, tldr_source=EXTRACTIVE))
    return done


def shown_tldr(paper: Paper) -> str:
    """What a page shows: the stored TL;DR, or (an older record) one computed now and not stored."""
    return paper.tldr or " ".join(extractive(paper.title, paper.abstract).split())


def recorded_on(entries: Iterable[tuple[str, Entry]], today: str) -> list[str]:
    """Ids of the ledger entries (tracker.store.Ledger.entries: no record parsed) a run on `today`
    recorded: first seen or revised that day."""
    return [pid for pid, entry in entries if today in (entry.first_seen, entry.revised_on)]
