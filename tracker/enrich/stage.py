"""The model-backed stages of a run: embed, near-duplicates, relevance, themes, search index.

`make_enricher(settings)` returns the function `pipeline.run_daily` calls between merging
and rendering. It embeds every ledger paper whose text is not cached yet, then hands the
renderer what it needs (duplicate groups, a rank, a theme grouping) as `DigestHints`.
The encoder is loaded lazily, so commands that never embed never import torch.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tracker.config import Settings
from tracker.render.digest import Digest, ThemeGroup, papers_of_day
from tracker.store.ledger import Ledger
from tracker.models import Paper, RunSummary
from tracker.pipeline import DigestHints

log = logging.getLogger(__name__)
TOP_PICKS = 5


def make_enricher(settings: Settings, *, encoder=None) -> Callable[[Ledger, str, RunSummary], DigestHints]:
    """`encoder` may be handed in (tests use a deterministic fake); else it loads on first use."""
    state_dir = settings.path(settings.output.state_dir)
    loaded: list = [encoder] if encoder is not None else []

    def get_encoder():
        if not loaded:
            from tracker.enrich.embed import load_encoder

            loaded.append(load_encoder(settings.embedding.model, device=settings.embedding.device, cache_dir=state_dir))
        return loaded[0]

    def enrich(ledger: Ledger, today: str, summary: RunSummary) -> DigestHints:
        papers = sorted(ledger.papers.values(), key=lambda p: p.id)
        vectors, embedded = embed_all(papers, get_encoder(), state_dir, save=not summary.dry_run)
        summary.extra["embedded"] = embedded
        row = {p.id: i for i, p in enumerate(papers)}
        vector_of = lambda ps: vectors[[row[p.id] for p in ps]] if ps else vectors[:0]  # noqa: E731

        papers = score_relevance(settings, ledger, papers, vectors, get_encoder())
        relevance_on = any(p.relevance is not None for p in papers)
        duplicates = near_duplicates(settings, papers, vector_of, today)
        summary.extra["near_duplicates"] = sum(len(others) for others in duplicates.values())

        def finish(digest: Digest) -> Digest:
            grouped = group_by_theme(settings, digest, vector_of, relevance_on)
            summary.extra["clusters"] = len(grouped.themes)
            return grouped

        def on_committed() -> None:
            if not summary.dry_run:
                update_search_index(state_dir, get_encoder().model_name, papers, vectors)

        rank = (lambda p: (p.relevance or 0.0, p.updated or "", p.id)) if relevance_on else None
        return DigestHints(duplicates=duplicates, rank=rank, finish=finish, on_committed=on_committed)

    return enrich


def embed_all(papers: Sequence[Paper], encoder, state_dir: Path, *, save: bool = True) -> tuple[np.ndarray, int]:
    from tracker.enrich.embed import EmbeddingCache, embed_papers

    cache = EmbeddingCache(state_dir / "embeddings", encoder.model_name)
    vectors, embedded = embed_papers(list(papers), encoder, cache, save=save)
    log.info("embedded %d new or changed texts (%d cached)", embedded, len(papers) - embedded)
    return vectors, embedded


def near_duplicates(settings: Settings, papers: list[Paper], vector_of, today: str) -> dict[str, tuple[str, ...]]:
    """{representative id: other ids of the same work} for groups that touch today's papers."""
    from tracker.enrich.dedup import DEFAULT_THRESHOLD, find_near_duplicates

    new, revised = papers_of_day(papers, today)
    day = new + revised
    if not day:
        return {}
    day_ids = {p.id for p in day}
    older = [p for p in papers if p.id not in day_ids and p.topics]
    groups = find_near_duplicates(
        day, vector_of(day), settings.dedup.threshold or DEFAULT_THRESHOLD, against=(older, vector_of(older))
    )
    return {g.representative: tuple(g.duplicates) for g in groups}


def score_relevance(settings: Settings, ledger: Ledger, papers: list[Paper], vectors: np.ndarray, encoder) -> list[Paper]:
    """Every paper's similarity to the group's profile, stored in the ledger (None: no profile)."""
    from tracker.enrich.profile import profile_from_settings
    from tracker.enrich.relevance import score, with_relevance

    profile = profile_from_settings(settings)
    rows = {p.id: i for i, p in enumerate(papers)}
    # Profile papers are in the ledger (fetched by id), so their vectors are already cached.
    id_vectors = vectors[[rows[pid] for pid in profile.ids if pid in rows]]
    texts = [item.text for item in profile.texts]
    profile_vectors = np.vstack([id_vectors, encoder.encode(texts)]) if texts else id_vectors
    scored = with_relevance(papers, score(vectors, profile_vectors) if len(profile_vectors) else None)
    ledger.update(new for new, old in zip(scored, papers) if new.relevance != old.relevance)
    return scored


def group_by_theme(settings: Settings, digest: Digest, vector_of, relevance_on: bool) -> Digest:
    """Cluster the digest's kept new papers into labelled themes; add top picks by relevance."""
    from dataclasses import replace

    from tracker.enrich.cluster import cluster_themes

    items = {item.paper.id: item for item in digest.new}
    papers = [item.paper for item in digest.new]
    top = tuple(sorted(digest.new, key=lambda i: (-(i.paper.relevance or 0.0), i.paper.id))[:TOP_PICKS]) if relevance_on else ()
    if len(papers) < settings.themes.min_papers:
        return replace(digest, top_picks=top)
    key = (lambda p: p.relevance or 0.0) if relevance_on else None
    themes = cluster_themes(papers, vector_of(papers), min_papers=settings.themes.min_papers,
                            max_themes=settings.themes.max_themes, key=key)
    groups = tuple(ThemeGroup(t.label, tuple(items[pid] for pid in t.paper_ids)) for t in themes)
    return replace(digest, themes=groups if len(groups) > 1 else (), top_picks=top)


def update_search_index(state_dir: Path, model: str, papers: Sequence[Paper], vectors: np.ndarray) -> None:
    from tracker.store import index
    from tracker.enrich.embed import text_hash

    tracked = [i for i, p in enumerate(papers) if p.topics]
    if not tracked:
        return
    rows = [index.row_from_paper(papers[i], text_hash(papers[i])) for i in tracked]
    result = index.update(state_dir, model, vectors[tracked], rows)
    log.info("search index: %s", result.to_dict())


