"""Near-duplicate grouping: different arXiv ids, same work.

A re-submission under a new id, a paper posted twice, a v1/v2 pair whose title was trivially
edited: their embeddings are almost identical and their titles nearly so. The rule per pair is

    cos >= threshold  AND  (title_similarity >= TITLE_MIN_RATIO  OR  cos >= STRONG_THRESHOLD)

The title check keeps precision where the embedding alone cannot: a follow-up or companion
paper from the same group can be as close in embedding space as a lightly edited copy, but
its title differs; a copy whose title was reworded still passes when its text is
near-identical (STRONG_THRESHOLD). Pairs are joined transitively (union-find), and each group
is named by its earliest paper. Pure functions on plain data: vectors come in, nothing is
embedded or read here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from tracker.linalg import unit_rows
from tracker.models import Paper

DEFAULT_THRESHOLD = 0.83
"""Cosine similarity a pair needs before titles are compared.

Measured by `python benchmarks/dedup_threshold.py` on tests/data/dedup_pairs.json: 117
seeded edits of real arXiv abstracts (duplicates) vs 240 hard negatives (each paper's
nearest other papers, and "companion" papers sharing half an abstract), embedded as
production embeds them: `embed_text(paper)` ("Title. Abstract") with the production CPU
encoder, all-MiniLM-L6-v2 through OpenVINO in both of its precisions:
- int8 (CPUs with VNNI/AMX): precision/recall 0.983/0.983 at every threshold from 0.80 to
  0.83, then 0.983/0.974 from 0.84 to 0.87 (a truncated abstract at cos 0.838 drops out);
- fp32 (other CPUs; = sentence-transformers): 0.983/0.991 at 0.80-0.81, 0.983/0.983 at
  0.82-0.83, 0.983/0.974 from 0.84 to 0.88.
0.83 is the highest threshold on both plateaus: a false merge hides a distinct paper, a miss
only shows one twice. Cosine alone at 0.83 has precision 0.84-0.85 and reaches 0.98 only at
t >= 0.93-0.94. The errors left are a truncated abstract (cos 0.80-0.82), a rewritten copy
under a new title, and one real same-author pair ("...Group Testing Algorithms for DNA /
Genetic Screening", cos 0.94-0.95, titles 0.94). (The earlier 0.85 was measured on
"title\nabstract" with sentence-transformers, not what production embeds.)
"""
STRONG_THRESHOLD = 0.95
"""Cosine at which the texts are one work whatever the titles say (cosine alone: P 0.990)."""
TITLE_MIN_RATIO = 0.80
"""Title similarity that confirms a pair: on the labelled set, distinct pairs score <= 0.64
(except the DNA/Genetic pair, 0.94), lightly edited titles >= 0.83."""


@dataclass(frozen=True)
class DuplicateGroup:
    """Papers that are one work. `representative` is the earliest published (then lowest id)."""

    representative: str
    duplicates: tuple[str, ...]  # the other ids, earliest first

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.representative, *self.duplicates)


_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+\*?")
_NON_WORD = re.compile(r"[\W_]+")


def normalise_title(title: str) -> str:
    """Casefold; drop LaTeX commands, accents, punctuation; collapse whitespace.

    "Local \\emph{Superfluidity} at the Nano-scale." -> "local superfluidity at the nano scale"
    """
    text = _LATEX_COMMAND.sub(" ", title)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def title_similarity(a: str, b: str) -> float:
    """0..1 similarity (normalised Indel distance) of two titles after normalisation.

    Plain character-level ratio, not token_set/token_sort: those score "Deep Learning" vs
    "Deep Learning for Graphs", or two titles made of the same words, as equal.
    """
    return fuzz.ratio(normalise_title(a), normalise_title(b)) / 100.0


def is_near_duplicate(
    cosine: float,
    title_a: str,
    title_b: str,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    strong_threshold: float = STRONG_THRESHOLD,
    title_min_ratio: float = TITLE_MIN_RATIO,
) -> bool:
    """The pair rule (see the module docstring)."""
    if cosine < threshold:
        return False
    return cosine >= strong_threshold or title_similarity(title_a, title_b) >= title_min_ratio


def find_near_duplicates(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    against: tuple[Sequence[Paper], np.ndarray] | None = None,
    strong_threshold: float = STRONG_THRESHOLD,
    title_min_ratio: float = TITLE_MIN_RATIO,
) -> list[DuplicateGroup]:
    """Group `papers` (row i of `vectors` embeds papers[i]) that are the same work.

    `against` = (older papers, their vectors) also catches a paper posted again on a later
    day: day papers are compared with each other and with the older ones (never older with
    older). Groups are sorted by representative; input order does not change the result.
    """
    if not papers:
        return []
    day, day_vecs = _sorted_rows(papers, vectors)
    old, old_vecs = _sorted_rows(*against) if against else ([], day_vecs[:0])
    everyone = day + old
    if len({p.id for p in everyone}) != len(everyone):
        raise ValueError(
            "find_near_duplicates: paper ids must be unique (exact duplicates "
            "are merged by canonical id before this step)"
        )
    cos = day_vecs @ np.vstack([day_vecs, old_vecs]).T  # day x (day + old)
    parent = list(range(len(everyone)))
    for i, j in zip(*np.nonzero(cos >= threshold), strict=True):
        i, j = int(i), int(j)
        if j > i and is_near_duplicate(
            float(cos[i, j]),
            everyone[i].title,
            everyone[j].title,
            threshold,
            strong_threshold=strong_threshold,
            title_min_ratio=title_min_ratio,
        ):
            parent[_find(parent, i)] = _find(parent, j)
    return _groups(everyone, parent)


def _sorted_rows(papers: Sequence[Paper], vectors: np.ndarray) -> tuple[list[Paper], np.ndarray]:
    """Papers sorted by id with their unit-normalised rows: one fixed order, so the float
    results (and the union-find) are identical however the caller ordered its input."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(papers):
        raise ValueError(f"find_near_duplicates: {len(papers)} papers but vectors of shape {vectors.shape}")
    order = sorted(range(len(papers)), key=lambda k: papers[k].id)
    rows = vectors[order]
    return [papers[k] for k in order], unit_rows(rows)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


def _groups(papers: list[Paper], parent: list[int]) -> list[DuplicateGroup]:
    members: dict[int, list[Paper]] = {}
    for k, paper in enumerate(papers):
        members.setdefault(_find(parent, k), []).append(paper)
    groups = []
    for group in members.values():
        if len(group) < 2:
            continue
        # Earliest first: the original, then its re-postings. Unknown dates sort last.
        group.sort(key=lambda p: (p.published or "9999", p.id))
        groups.append(DuplicateGroup(group[0].id, tuple(p.id for p in group[1:])))
    return sorted(groups, key=lambda g: g.representative)
