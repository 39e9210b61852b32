"""Relevance of papers to the group's profile: pure functions on embedding vectors.

A paper's relevance is the mean cosine similarity to its `top` closest profile items.
benchmarks/relevance.py compares top-1 (max), top-2, top-3 and recency-weighted profiles on
real abstracts: max ranks best (precision@10 0.85 vs 0.75 for top-3, mean of two scenarios),
so `top=1` is the default. An empty profile means relevance is off: `score` returns None.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from tracker.render.links import find_code_links
from tracker.models import Paper

DEFAULT_TOP = 1  # max similarity; measured best in benchmarks/relevance.py
DEFAULT_HALF_LIFE_DAYS = 730  # the weight's excess over MIN_WEIGHT halves every two years
MIN_WEIGHT = 0.8  # old profile papers still count: the group did choose them


def score(
    paper_vectors: np.ndarray,
    profile_vectors: np.ndarray,
    *,
    profile_weights: np.ndarray | None = None,
    top: int = DEFAULT_TOP,
) -> np.ndarray | None:
    """Relevance of each paper (rows of `paper_vectors`): mean of its `top` best profile similarities.

    With `profile_weights` (one per profile vector, e.g. `recency_weights`) each similarity is
    scaled by its item's weight before picking the best. Returns None when the profile is empty.
    """
    sims = similarities(paper_vectors, profile_vectors)
    if sims is None:
        return None
    if profile_weights is not None:
        sims = sims * np.asarray(profile_weights, dtype=np.float32)[None, :]
    k = max(1, min(top, sims.shape[1]))
    best = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
    return best.mean(axis=1)


def similarities(paper_vectors: np.ndarray, profile_vectors: np.ndarray) -> np.ndarray | None:
    """Cosine similarity matrix (papers x profile items); None for an empty profile."""
    profile = _unit(profile_vectors)
    if profile.shape[0] == 0:
        return None
    return _unit(paper_vectors).reshape(-1, profile.shape[1]) @ profile.T


def recency_weights(
    dates: Sequence[str | None],
    *,
    today: str,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    floor: float = MIN_WEIGHT,
) -> np.ndarray:
    """Weight per profile item: from 1 (new) down towards `floor` (old), halving the excess over
    `floor` every `half_life_days`. Undated items weigh 1: typed-in interests describe the group now.

    The floor is high on purpose: the weight multiplies a cosine similarity, and all of a
    day's similarities sit in a narrow band, so a small factor already reorders a lot
    (benchmarks/relevance.py shows a floor of 0.25 halving precision@10).
    """
    now = date.fromisoformat(today[:10])
    weights = []
    for item_date in dates:
        if not item_date:
            weights.append(1.0)
            continue
        age = max(0, (now - date.fromisoformat(item_date[:10])).days)
        weights.append(floor + (1 - floor) * 0.5 ** (age / half_life_days))
    return np.asarray(weights, dtype=np.float32)


def explain(
    paper_vector: np.ndarray,
    profile_vectors: np.ndarray,
    profile_labels: Sequence[str],
    k: int = 3,
) -> list[tuple[str, float]]:
    """The `k` profile items closest to one paper, closest first, with their cosine similarity."""
    sims = similarities(np.asarray(paper_vector)[None, :], profile_vectors)
    if sims is None:
        return []
    order = np.argsort(-sims[0], kind="stable")[:k]
    return [(profile_labels[i], round(float(sims[0, i]), 4)) for i in order]


def explain_paper(
    paper: Paper,
    paper_vector: np.ndarray,
    profile_vectors: np.ndarray,
    profile_labels: Sequence[str],
    *,
    k: int = 3,
) -> dict[str, Any]:
    """Plain data for `tracker explain ID`: relevance, closest profile items, code links."""
    relevance = score(np.asarray(paper_vector)[None, :], profile_vectors)
    return {
        "id": paper.id,
        "title": paper.title,
        "relevance": None if relevance is None else round(float(relevance[0]), 4),
        "closest": [{"label": label, "similarity": sim}
                    for label, sim in explain(paper_vector, profile_vectors, profile_labels, k)],
        "code_links": find_code_links(f"{paper.abstract}\n{paper.comment or ''}"),
    }


def with_relevance(papers: Sequence[Paper], scores: np.ndarray | None) -> list[Paper]:
    """Papers with `relevance` set from `scores` (rounded), or cleared when relevance is off."""
    if scores is None:
        return [p.with_changes(relevance=None) for p in papers]
    return [p.with_changes(relevance=round(float(s), 4)) for p, s in zip(papers, scores, strict=True)]


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (the encoder already normalises; cheap insurance for other inputs)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :] if array.size else array.reshape(0, 0)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)
