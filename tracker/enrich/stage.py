"""The model-backed stages of a run, as plain functions on plain data.

`pipeline.run_daily` calls them in order: embed → relevance → duplicates → (digest) → themes.
Each takes the papers and their vectors and returns data; none writes a file or mutates
its inputs. The encoder is loaded lazily (`LazyEncoder`), so commands that never embed
never import torch, and a run with nothing new loads no model at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tracker.config import Settings
from tracker.enrich.embed import embed_papers
from tracker.enrich.relevance import Relevance
from tracker.models import Paper, papers_of_day

if TYPE_CHECKING:
    from tracker.enrich.trends import TrendReport, Window
    from tracker.store.vectors import VectorStore

log = logging.getLogger(__name__)


def load_document_encoder(settings: Settings):
    """The configured document encoder: `embedding.model` on `embedding.device`, `embedding.batch_size` texts a batch.

    The one place an encoder for papers is built (run, render, index, explain, trends)."""
    from tracker.enrich.encoders import load_encoder

    emb = settings.project.embedding
    return load_encoder(emb.model, device=emb.device, batch_size=emb.batch_size)


class LazyEncoder:
    """Loads the configured encoder on first use (tests hand in a ready one)."""

    def __init__(self, settings: Settings, encoder=None):
        self._settings = settings
        self._encoder = encoder

    @property
    def model_name(self) -> str:
        return self._encoder.model_name if self._encoder is not None else self._settings.embedding.model

    def get(self):
        if self._encoder is None:
            self._encoder = load_document_encoder(self._settings)
        return self._encoder

    @property
    def dim(self) -> int:
        return int(self.get().dim)

    def encode(self, texts: Sequence[str], **kwargs) -> np.ndarray:
        encoder = self.get()
        return np.asarray(
            encoder.encode(list(texts), **kwargs) if kwargs else encoder.encode(list(texts)), dtype=np.float32
        )


@dataclass(frozen=True)
class Embedded:
    """Every ledger paper (sorted by id) and its vector, row for row."""

    papers: tuple[Paper, ...]
    vectors: np.ndarray
    embedded: int  # texts embedded by this run (the rest came from the store)
    store: VectorStore | None = None  # the vector store they came from (saved after the run's files are committed)

    def of(self, papers: Sequence[Paper]) -> np.ndarray:
        rows = {p.id: i for i, p in enumerate(self.papers)}
        return self.vectors[[rows[p.id] for p in papers]] if papers else self.vectors[:0]


# --- embed ------------------------------------------------------------------------------


def embed(settings: Settings, papers: Sequence[Paper], encoder: LazyEncoder) -> Embedded:
    """Vectors for every paper, embedding only texts the vector store does not hold yet."""
    papers = sorted(papers, key=lambda p: p.id)
    store = open_store(settings, encoder)
    vectors, embedded = embed_papers(store, papers, encoder)
    log.info("embedded %d new or changed texts (%d from the store)", embedded, len(papers) - embedded)
    return Embedded(tuple(papers), vectors, embedded, store)


def open_store(settings: Settings, encoder: LazyEncoder):
    from tracker.store.vectors import VectorStore

    return VectorStore.open(settings.project.state_dir, encoder.model_name)


def save_vectors(embedded: Embedded) -> None:
    """After the run's files are committed: keep the new vectors; search sees them from now on."""
    if embedded.store is not None:
        embedded.store.save()


# --- relevance --------------------------------------------------------------------------


def score_relevance(settings: Settings, embedded: Embedded, encoder: LazyEncoder, profiles: Sequence) -> Relevance:
    """Every paper scored against each profile (a classifier per profile, or similarity when it
    has too few examples); empty when no profile or tick is configured."""
    from tracker.enrich.profile import relevance_inputs
    from tracker.enrich.relevance import score_profiles

    inputs = relevance_inputs(settings, encoder.encode, profiles=profiles)
    if inputs.empty:
        return Relevance()
    return score_profiles(embedded.papers, embedded.vectors, inputs.profiles, inputs.profile_vectors, inputs.feedback)


def with_scores(papers: Sequence[Paper], scores: dict[str, float], today: str) -> list[Paper]:
    """The papers whose stored relevance should change: today's news, and papers never scored.

    A paper keeps the score it had when it was news: the model is retrained every run, and
    rewriting every record's score daily would turn each commit into a whole-ledger diff.
    """

    def due(p: Paper) -> bool:
        return p.relevance is None or p.first_seen == today or p.revised_on == today

    return [
        p.with_changes(relevance=scores[p.id])
        for p in papers
        if p.id in scores and due(p) and p.relevance != scores[p.id]
    ]


def rank_by_relevance(paper: Paper) -> tuple:
    return (paper.relevance or 0.0, paper.updated or "", paper.id)


# --- duplicates -------------------------------------------------------------------------


def near_duplicates(settings: Settings, embedded: Embedded, today: str) -> dict[str, tuple[str, ...]]:
    """{representative id: other ids of the same work} for groups that touch today's papers."""
    from tracker.enrich.dedup import DEFAULT_THRESHOLD, find_near_duplicates

    new, revised = papers_of_day(embedded.papers, today)
    day = new + revised
    if not day:
        return {}
    day_ids = {p.id for p in day}
    older = [p for p in embedded.papers if p.id not in day_ids and p.topics]
    threshold = settings.dedup.threshold or DEFAULT_THRESHOLD
    groups = find_near_duplicates(day, embedded.of(day), threshold, against=(older, embedded.of(older)))
    return {g.representative: tuple(g.duplicates) for g in groups}


# --- themes -----------------------------------------------------------------------------


def day_themes(
    settings: Settings,
    papers: Sequence[Paper],
    embedded: Embedded,
    *,
    relevance_on: bool,
    encoder: LazyEncoder | None = None,
) -> tuple:
    """The day's kept new papers clustered into labelled themes (tracker.enrich.cluster.Theme),
    ordered by relevance when on; () below `themes.min_papers`.

    Labels are re-ranked with `encoder` (one batch of phrases) against the whole ledger's phrases."""
    from tracker.enrich.background import label_context
    from tracker.enrich.cluster import cluster_themes, text

    if len(papers) < settings.themes.min_papers:
        return ()
    key = (lambda p: p.relevance or 0.0) if relevance_on else None
    return tuple(
        cluster_themes(
            papers,
            embedded.of(papers),
            min_papers=settings.themes.min_papers,
            max_themes=settings.themes.max_themes,
            key=key,
            context=label_context(encoder, (text(p) for p in embedded.papers)),
        )
    )


# --- the week's trends (for the weekly review) ----------------------------------------------


def week_trends(
    papers: Sequence[Paper], vectors: np.ndarray | None, today: str, weeks: int = 4, encoder: LazyEncoder | None = None
) -> tuple[Window, TrendReport | None]:
    """(the last `weeks` weeks' window of papers, its themes' trends or None without `vectors`).

    Row i of `vectors` embeds papers[i]. Within a theme, papers go by relevance when scored;
    `encoder` re-ranks the labels (as `tracker trends`). No clustering for a first week."""
    from tracker.enrich.background import label_context
    from tracker.enrich.cluster import text
    from tracker.enrich.trends import find_trends, select_window

    window = select_window(papers, today, weeks)
    if vectors is None or not any(w.tracked for w in window.weeks[:-1]):
        return window, None
    relevance_on = any(p.relevance is not None for p in window.papers)
    key = (lambda p: p.relevance or 0.0) if relevance_on else None
    rows = {p.id: k for k, p in enumerate(papers)}
    report = find_trends(
        window,
        np.asarray(vectors)[[rows[p.id] for p in window.papers]],
        key=key,
        context=label_context(encoder, (text(p) for p in papers)),
    )
    return window, report
