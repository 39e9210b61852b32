"""Relevance of papers to the group's profiles: pure functions on embedding vectors.

Each profile gets its own linear model over the embeddings, retrained every run (what
arxiv-sanity-lite does per tag): positives are the profile's papers, its BibTeX/interest texts
and the group's ticked papers, negatives the rest of the ledger. Scores are the classifier's
probability (0-1). With too few positives or papers to train on, a profile falls back to its
mean cosine similarity. Why a classifier: max similarity lets one profile paper that sits in a
dense neighbourhood of off-target papers fill the whole list (issue 11); a model trained against
the ledger learns what the profile has that the neighbourhood lacks, and it learns from ticks.
benchmarks/relevance.py measures all three on real abstracts (and where each loses).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracker.arxiv_ids import canonical_id
from tracker.enrich.profile import Profile
from tracker.errors import TrackerError
from tracker.linalg import unit_rows
from tracker.models import Paper

log = logging.getLogger(__name__)

CLASSIFIER = "classifier"
SIMILARITY = "similarity"
# Fewer positives than this, or fewer negatives than MIN_NEGATIVES: similarity fallback. Measured
# (benchmarks/relevance.py --sweep): on 28 one-item profiles mean similarity is a little better
# (P@5 0.77 vs 0.76); from two positives on the classifier is (3 ticks: >= 3/5 on target in 95% of
# draws vs 86%); trained on only 10 negatives it still beats mean similarity (P@5 0.83 vs 0.80).
MIN_POSITIVES = 2
MIN_NEGATIVES = 10
MAX_NEGATIVES = 20_000  # a larger ledger is subsampled (stable as it grows: by hash of the id)
C = 1.0  # inverse regularisation strength of the logistic regression
TOP_PICKS = 5  # per profile, in the digest
FEEDBACK_PROFILE = ""  # name of the implicit profile when the group has ticks but no profile


@dataclass(frozen=True)
class ProfileScores:
    """One profile's scores: {paper id: 0-1}, how they were made, and what it learned from."""

    name: str
    method: str  # CLASSIFIER or SIMILARITY
    scores: dict[str, float]
    positives: tuple[str, ...]  # labels of the positive examples ("2401.01234 Title", "interest: ...")
    feedback: tuple[str, ...] = ()  # the ticked ids among them
    examples: np.ndarray | None = field(default=None, repr=False, compare=False)  # the positives' unit vectors
    pulls: np.ndarray | None = field(default=None, repr=False, compare=False)  # each positive's weight in a score

    def closest(self, vector: np.ndarray) -> str | None:
        """The positive that pushes this paper's score up most (as `explain` ranks them), by name."""
        if self.examples is None or not len(self.examples):
            return None
        best = int(np.argmax(self.pulls * (self.examples @ vector)))
        return example_name(self.positives[best], self.feedback)


@dataclass(frozen=True)
class Relevance:
    profiles: tuple[ProfileScores, ...] = ()
    own_ids: frozenset[str] = field(default_factory=frozenset)  # the group's papers and its liked papers
    vector_of: Callable[[str], np.ndarray | None] | None = field(default=None, repr=False, compare=False)

    def why(self, pid: str, profile: ProfileScores | None = None) -> str | None:
        """Why `pid` is a pick, as a short name: the example of `profile` (default: the profile that
        scores it highest) it is closest to. The inline form of `tracker explain`."""
        vector = self.vector_of(pid) if self.vector_of else None
        scored = [p for p in ([profile] if profile else self.profiles) if pid in p.scores]
        if vector is None or not scored:
            return None
        return max(scored, key=lambda p: p.scores[pid]).closest(vector)

    @property
    def scores(self) -> dict[str, dict[str, float]]:
        return {p.name: p.scores for p in self.profiles}

    @property
    def methods(self) -> dict[str, str]:
        return {p.name: p.method for p in self.profiles}

    def best(self) -> dict[str, float]:
        """Each paper's best score over the profiles, rounded as the ledger stores it."""
        best: dict[str, float] = {}
        for profile in self.profiles:
            for pid, value in profile.scores.items():
                best[pid] = max(best.get(pid, 0.0), value)
        return {pid: round(value, 4) for pid, value in best.items()}


@dataclass(frozen=True)
class _Examples:
    """A profile's positives: vectors, labels, and which ledger rows they are."""

    name: str
    vectors: np.ndarray
    labels: tuple[str, ...]
    rows: frozenset[int]
    feedback: tuple[str, ...] = ()


# --- scoring ----------------------------------------------------------------------------


def score_profiles(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    profiles: Sequence[Profile],
    profile_vectors: Mapping[str, np.ndarray] | None = None,
    feedback: Mapping[str, str] | None = None,
) -> Relevance:
    """Score every paper (rows of `vectors`) against every profile.

    `papers` is the whole ledger (any order); `profile_vectors[name]` holds the vectors of
    that profile's `texts`, row for row (the caller encodes them). `feedback` maps ticked ids to
    the date they were ticked. Pure and deterministic: same inputs, same scores.
    """
    papers, vectors = _by_id(papers, unit_rows(vectors, np.float32))
    examples = positives_of(papers, vectors, profiles, profile_vectors or {}, feedback or {})
    own = {pid for profile in profiles for pid in profile.ids} | set(feedback or {})
    scored = tuple(_score_one(papers, vectors, ex) for ex in examples)
    rows = {p.id: i for i, p in enumerate(papers)}
    return Relevance(scored, frozenset(own), lambda pid: vectors[rows[pid]] if pid in rows else None)


def positives_of(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    profiles: Sequence[Profile],
    profile_vectors: Mapping[str, np.ndarray],
    feedback: Mapping[str, str],
) -> list[_Examples]:
    """Each profile's positive examples; each ticked paper joins the profile it is closest to.

    A tick does not say who ticked, so a group with several profiles teaches the one whose
    examples look most like the paper. Ticks with no profile at all form an implicit profile.
    """
    row = {p.id: i for i, p in enumerate(papers)}
    examples = []
    for profile in profiles:
        ids = sorted(pid for pid in profile.ids if pid in row)
        texts = unit_rows(profile_vectors.get(profile.name, np.zeros((0, vectors.shape[1]), np.float32)), np.float32)
        texts = texts.reshape(0, vectors.shape[1]) if texts.size == 0 else texts
        if texts.shape != (len(profile.texts), vectors.shape[1]):
            raise ValueError(
                f"profile {profile.name!r}: {len(profile.texts)} texts but text vectors of "
                f"shape {texts.shape} (papers' vectors have {vectors.shape[1]} dimensions)"
            )
        labels = [f"{pid} {papers[row[pid]].title}" for pid in ids] + [t.label for t in profile.texts]
        stacked = np.vstack([vectors[[row[pid] for pid in ids]].reshape(-1, vectors.shape[1]), texts])
        examples.append(_Examples(profile.name, stacked, tuple(labels), frozenset(row[pid] for pid in ids)))
    ticked = sorted(pid for pid in feedback if pid in row)
    if not ticked:
        return examples
    usable = [ex for ex in examples if len(ex.vectors)]
    if not usable:
        usable = [_Examples(FEEDBACK_PROFILE, vectors[:0], (), frozenset())]
        examples = [ex for ex in examples if ex.name != FEEDBACK_PROFILE] + usable
    owner = _closest_profile(vectors[[row[pid] for pid in ticked]], usable)
    by_name = {ex.name: ex for ex in examples}
    for pid, index in zip(ticked, owner, strict=True):
        by_name[usable[index].name] = _add(by_name[usable[index].name], pid, row[pid], vectors, papers)
    return [by_name[ex.name] for ex in examples]


def _closest_profile(tick_vectors: np.ndarray, usable: Sequence[_Examples]) -> list[int]:
    if len(usable) == 1:
        return [0] * len(tick_vectors)
    best = np.stack([(tick_vectors @ ex.vectors.T).max(axis=1) for ex in usable], axis=1)
    return best.argmax(axis=1).tolist()  # ties: the profile listed first


def _add(ex: _Examples, pid: str, row: int, vectors: np.ndarray, papers: Sequence[Paper]) -> _Examples:
    if row in ex.rows:
        return ex
    return _Examples(
        ex.name,
        np.vstack([ex.vectors, vectors[row][None, :]]),
        ex.labels + (f"{pid} {papers[row].title}",),
        ex.rows | {row},
        ex.feedback + (pid,),
    )


def _score_one(papers: Sequence[Paper], vectors: np.ndarray, ex: _Examples) -> ProfileScores:
    negatives = negative_rows(papers, ex.rows)
    if len(ex.vectors) == 0:
        return ProfileScores(ex.name, SIMILARITY, {}, ())
    method = method_for(len(ex.vectors), len(negatives))
    if method == SIMILARITY:
        values = similarity_scores(vectors, ex.vectors)
        pulls = np.full(len(ex.vectors), 1.0 / len(ex.vectors))
    else:
        model = fit(ex.vectors, vectors[negatives])
        values = model.predict_proba(vectors)[:, 1]
        pulls = 1.0 - model.predict_proba(ex.vectors.astype(np.float64))[:, 1]  # explain's terms, up to a constant
    log.debug("profile %r: %s on %d positives", ex.name, method, len(ex.vectors))
    scores = {p.id: float(v) for p, v in zip(papers, values, strict=True)}
    return ProfileScores(ex.name, method, scores, ex.labels, ex.feedback, unit_rows(ex.vectors, np.float32), pulls)


def example_name(label: str, ticked: Sequence[str] = (), limit: int = 60) -> str:
    """A positive's label as a reader knows it: "2401.01234 Title" -> "Title" (+ " (ticked)")."""
    first, _, rest = label.partition(" ")
    is_paper = bool(rest) and _is_canonical_id(first)
    name = rest if is_paper else label
    name = name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
    return f"{name} (ticked)" if is_paper and first in ticked else name


def method_for(positives: int, negatives: int) -> str:
    return CLASSIFIER if positives >= MIN_POSITIVES and negatives >= MIN_NEGATIVES else SIMILARITY


def negative_rows(papers: Sequence[Paper], positive_rows: frozenset[int], cap: int = MAX_NEGATIVES) -> list[int]:
    """Every ledger row that is not a positive; past `cap`, a subsample chosen by a hash of the id,
    so the same papers stay in it as the ledger grows and the model changes little day to day."""
    rows = [i for i in range(len(papers)) if i not in positive_rows]
    if len(rows) <= cap:
        return rows
    return sorted(sorted(rows, key=lambda i: hashlib.sha256(papers[i].id.encode()).digest())[:cap])


def fit(positives: np.ndarray, negatives: np.ndarray) -> Any:
    """Class-balanced L2 logistic regression, positives vs negatives (deterministic: lbfgs)."""
    from sklearn.linear_model import LogisticRegression  # ~0.5 s import; only when a profile is set

    x = np.vstack([positives, negatives]).astype(np.float64)
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    return LogisticRegression(C=C, class_weight="balanced", max_iter=2000, tol=1e-6).fit(x, y)


# --- explain ----------------------------------------------------------------------------


def explain(
    paper_id: str,
    papers: Sequence[Paper],
    vectors: np.ndarray,
    profiles: Sequence[Profile],
    profile_vectors: Mapping[str, np.ndarray] | None = None,
    feedback: Mapping[str, str] | None = None,
    *,
    k: int = 3,
) -> dict[str, Any]:
    """Why `paper_id` scores as it does against each profile: plain data for `tracker explain`.

    Retrains exactly what `score_profiles` trains on the same inputs, so the score is the run's.
    For the classifier, the logit splits exactly into one term per training example (at the
    optimum of L2 logistic regression, w = C * sum_i weight_i * (y_i - p_i) * x_i), so "the positives
    that pushed it up most" are the largest of those terms; for the fallback, each positive's share
    of the mean similarity.
    """
    papers, vectors = _by_id(papers, unit_rows(vectors, np.float32))
    row = next((i for i, p in enumerate(papers) if p.id == paper_id), None)
    if row is None:
        raise KeyError(paper_id)
    feedback = feedback or {}
    examples = positives_of(papers, vectors, profiles, profile_vectors or {}, feedback)
    own = {pid for profile in profiles for pid in profile.ids} | set(feedback)
    return {
        "id": paper_id,
        "title": papers[row].title,
        "own": paper_id in own,
        "profiles": [_explain_one(papers, vectors, ex, row, k) for ex in examples],
    }


def _explain_one(papers: Sequence[Paper], vectors: np.ndarray, ex: _Examples, row: int, k: int) -> dict[str, Any]:
    x = vectors[row]
    out: dict[str, Any] = {"profile": ex.name, "positives_used": len(ex.vectors), "feedback_used": len(ex.feedback)}
    if not len(ex.vectors):
        return {**out, "method": None, "score": None, "top_positives": []}
    negatives = negative_rows(papers, ex.rows)
    sims = ex.vectors @ x
    method = method_for(len(ex.vectors), len(negatives))
    if method == SIMILARITY:
        score_value, terms, extra = float(np.clip(sims.mean(), 0, 1)), sims / len(sims), {}
    else:
        model = fit(ex.vectors, vectors[negatives])
        train = np.vstack([ex.vectors, vectors[negatives]]).astype(np.float64)
        y = np.r_[np.ones(len(ex.vectors)), np.zeros(len(negatives))]
        weight = np.where(y == 1, len(y) / (2 * len(ex.vectors)), len(y) / (2 * len(negatives)))
        all_terms = C * weight * (y - model.predict_proba(train)[:, 1]) * (train @ x)
        terms = all_terms[: len(ex.vectors)]
        score_value = float(model.predict_proba(x[None, :].astype(np.float64))[0, 1])
        extra = {
            "logit": round(float(model.decision_function(x[None, :].astype(np.float64))[0]), 4),
            "positives_term": round(float(terms.sum()), 4),
            "negatives_term": round(float(all_terms[len(ex.vectors) :].sum()), 4),
            "intercept": round(float(model.intercept_[0]), 4),
        }
    order = np.argsort(-terms, kind="stable")[:k]
    top = [
        {
            "label": ex.labels[i],
            "similarity": round(float(sims[i]), 4),
            "contribution": round(float(terms[i]), 4),
            "ticked": ex.labels[i].split(" ", 1)[0] in ex.feedback,
        }
        for i in order
    ]
    return {**out, "method": method, "score": round(score_value, 4), "top_positives": top, **extra}


def _is_canonical_id(text: str) -> bool:
    try:
        return canonical_id(text) == text
    except TrackerError:
        return False


# --- similarity -------------------------------------------------------------------------


def similarity_scores(vectors: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """The fallback: mean cosine similarity to the positives, clipped to 0-1."""
    return np.clip((unit_rows(vectors, np.float32) @ unit_rows(positives, np.float32).T).mean(axis=1), 0.0, 1.0)


def similarities(paper_vectors: np.ndarray, profile_vectors: np.ndarray) -> np.ndarray | None:
    """Cosine similarity matrix (papers x profile items); None for an empty profile."""
    profile = unit_rows(profile_vectors, np.float32)
    if profile.shape[0] == 0:
        return None
    return unit_rows(paper_vectors, np.float32).reshape(-1, profile.shape[1]) @ profile.T


def score(paper_vectors: np.ndarray, profile_vectors: np.ndarray, *, top: int = 1) -> np.ndarray | None:
    """Mean of each paper's `top` best similarities to the profile items (top=1: max similarity).

    The baseline benchmarks/relevance.py compares against; None for an empty profile.
    """
    sims = similarities(paper_vectors, profile_vectors)
    if sims is None:
        return None
    k = max(1, min(top, sims.shape[1]))
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def _by_id(papers: Sequence[Paper], vectors: np.ndarray) -> tuple[list[Paper], np.ndarray]:
    """Papers (and their rows) sorted by id: the same ledger always trains the same model."""
    if len(papers) != len(vectors):
        raise ValueError(f"{len(papers)} papers but {len(vectors)} vectors")
    order = sorted(range(len(papers)), key=lambda i: papers[i].id)
    return [papers[i] for i in order], vectors[order] if len(order) else vectors
