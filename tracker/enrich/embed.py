"""What a paper's vector is made of: one text per paper, used by every stage that embeds a paper.

The vector store (tracker.store.vectors) keys vectors by `text_hash`, so `embed_papers` embeds a
paper again only when this text changes. Encoders live in tracker.enrich.encoders.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from tracker.linalg import unit_rows
from tracker.model_files import same_model
from tracker.progress import progress
from tracker.store.vectors import VectorStore

log = logging.getLogger(__name__)

_SENTENCE_END = (".", "?", "!", ":", ";")
ENCODE_BATCH = 64  # texts per encode call: progress moves every batch (the encoder batches inside too)


def embed_text(paper: Any) -> str:
    """Title and abstract as one text, whitespace collapsed: "Title. Abstract" (either may be empty).

    The title is closed with a full stop unless it already ends a sentence ("Why X?").
    """
    title = " ".join((getattr(paper, "title", "") or "").split())
    abstract = " ".join((getattr(paper, "abstract", "") or "").split())
    if not (title and abstract):
        return title or abstract
    return f"{title} {abstract}" if title.endswith(_SENTENCE_END) else f"{title}. {abstract}"


def text_hash(paper_or_text: Any) -> str:
    """Short content hash of a paper's embedded text (or of a text)."""
    text = paper_or_text if isinstance(paper_or_text, str) else embed_text(paper_or_text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def embed_papers(store: VectorStore, papers: Sequence[Any], encoder: Any) -> tuple[np.ndarray, int]:
    """Unit vectors aligned with `papers`, embedding only papers whose text is new or changed.

    Returns (vectors, how many texts were embedded). The encoder is not touched (a lazy one is
    not even loaded) when nothing is new. The store keeps them; nothing is written until its `save()`.
    """
    if not same_model(encoder.model_name, store.model_name):
        raise ValueError(f"the store is for {store.model_name!r} but the encoder is {encoder.model_name!r}")
    texts = {p.id: embed_text(p) for p in papers}
    hashes = {pid: text_hash(text) for pid, text in texts.items()}
    todo = store.missing(hashes)
    if todo:
        fresh = unit_rows(encode_with_progress(encoder, [texts[pid] for pid in todo]), np.float32)
        if fresh.ndim != 2 or len(fresh) != len(todo):
            raise ValueError(f"encoder returned shape {fresh.shape} for {len(todo)} texts")
        if store.dim not in (None, fresh.shape[1]):
            log.warning(
                "vector store %s holds %s-d vectors, the model gives %d-d; rebuilding it",
                store.path,
                store.dim,
                fresh.shape[1],
            )
            store.clear()
            return embed_papers(store, papers, encoder)
        store.put(todo, [hashes[pid] for pid in todo], fresh)
    store.describe(papers)
    return store.vectors([p.id for p in papers]), len(todo)


def encode_with_progress(encoder: Any, texts: list[str], batch: int = ENCODE_BATCH) -> np.ndarray:
    """`encoder.encode(texts)` a batch at a time, so a terminal shows how far the embedding is."""
    with progress(len(texts), "embedding", "papers") as bar:
        parts = []
        for start in range(0, len(texts), batch):
            parts.append(np.asarray(encoder.encode(texts[start : start + batch]), dtype=np.float32))
            bar.update(len(texts[start : start + batch]))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
