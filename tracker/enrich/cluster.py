"""Themes of a set of papers: cluster their vectors, send stragglers to "Other", label each theme.

Clustering: Ward linkage on unit vectors (distances follow cosine), deterministic, cut where
merging would cost more than WARD_CUT times the set's spread (root-mean-square distance of the
vectors to their mean). The cut is relative, so it adapts to the model's similarity scale and
to how varied the day is: a day on one field is split into that field's sub-topics, a day of
unrelated fields into fields, and a set with no structure stays whole. At most `max_themes`
themes (the cut is raised until there are no more). Fewer than `min_papers` papers are one
theme: grouping five papers only adds headings. Measured by benchmarks/themes.py (40 days of
real abstracts from known queries, all-MiniLM-L6-v2): NMI 0.73 -> 0.84 and adjusted Rand
0.56 -> 0.75 over the earlier silhouette-chosen cut, whose ~2.4 themes a day lumped
sub-topics (and unrelated papers) together; purity 0.72 -> 0.95.

Other: a paper alone in its cluster, or far from its theme, goes to the theme it fits or else
to "Other", so an unrelated paper is not filed under a theme it merely sat next to in the tree.
"Far" is relative to the theme's spread: its cosine to the centroid of the theme's other papers
is more than OUTLIER_Z robust deviations below the theme's median, or below the point halfway
(FLOOR_SHARE) from that median down to how close two papers of the set are on average (so a
diffuse theme cannot take in a paper no closer to it than to anything). Pairs, which have no
spread, are held to the median of all themes; a cluster whose papers are no closer to each
other than that halfway point (unrelated papers Ward put together last) is no theme at all.
On the benchmark's days 94% of unrelated papers (other fields, fetched by id) go to Other,
and 2.6% of the papers of a known group.

Labels: readable phrases the papers use (tracker.enrich.labels, through `label_themes`): class-based
TF-IDF over phrases as written, re-ranked by closeness to the theme's centre with the run's
encoder, phrases common across the ledger dropped, no phrase in two themes' labels, then maximal
marginal relevance for a second, different phrase.

Input order never matters: papers are sorted by id first and nothing is random.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tracker.enrich.labels import LabelContext, heading, label_phrases
from tracker.linalg import unit_rows
from tracker.models import Paper

OTHER = "Other"
WARD_CUT = 1.8  # x the set's spread; benchmarks/themes.py: 1.5-2.0 give NMI 0.79-0.84, best at 1.8
OUTLIER_Z = 4.0  # robust deviations (1.4826 x MAD) below a theme's median closeness
FLOOR_SHARE = 0.5  # a member is at least this far from `baseline` up to its theme's median closeness
MIN_DEVIATION = 0.05  # floor for a tight theme's deviation, in cosine: near-copies expel nobody


@dataclass(frozen=True)
class Theme:
    label: str  # "Other" for the papers that fit no theme
    terms: tuple[str, ...]  # 1-2 label phrases as the papers write them, best first
    paper_ids: tuple[str, ...]  # most central first (or by `key`)


def cluster_themes(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    *,
    min_papers: int = 6,
    max_themes: int = 8,
    min_theme_size: int = 2,
    n_terms: int = 2,
    key: Callable[[Paper], float] | None = None,
    context: LabelContext | None = None,
) -> list[Theme]:
    """Group `papers` (row i of `vectors` embeds papers[i]) into labelled themes.

    Themes come largest first (ties by label), "Other" last. Within a theme papers are
    ordered by cosine to the theme's centroid, or by `key` (higher first, e.g.
    `lambda p: p.relevance or 0.0`); ties by id. `context`: see `label_themes`.
    """
    if len(papers) == 0:
        return []
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(papers):
        raise ValueError(f"cluster_themes: {len(papers)} papers but vectors of shape {vectors.shape}")
    order = sorted(range(len(papers)), key=lambda k: papers[k].id)
    papers = [papers[k] for k in order]
    vectors = unit_rows(vectors[order])

    if len(papers) >= min_papers:
        labels = group_vectors(vectors, max_themes=max_themes, min_size=min_theme_size)
        labels = without_outliers(vectors, labels, min_size=min_theme_size)
    else:
        labels = np.zeros(len(papers), int)
    if (labels < 0).all():  # nothing but stragglers: one theme is the honest answer
        labels = np.zeros(len(papers), int)
    members = [np.flatnonzero(labels == c) for c in sorted(set(labels.tolist()) - {-1})]
    themes = [
        Theme(title, terms, ordered(papers, vectors, m, key))
        for m, (title, terms) in zip(members, label_themes(papers, vectors, members, n_terms, context), strict=True)
    ]
    themes.sort(key=lambda th: (-len(th.paper_ids), th.label))
    if (labels < 0).any():
        themes.append(Theme(OTHER, (), ordered(papers, vectors, np.flatnonzero(labels < 0), key)))
    return themes


def group_vectors(vectors: np.ndarray, *, max_themes: int, min_size: int = 2) -> np.ndarray:
    """Cluster labels 0..k-1 of unit `vectors` (Ward, cut relative to the spread, see above)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    spread = float(np.sqrt(((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if len(vectors) < 3 or spread < 1e-6:  # identical vectors: nothing to split
        return np.zeros(len(vectors), int)
    tree = linkage(vectors, method="ward")
    heights = [WARD_CUT * spread] + sorted(h for h in tree[:, 2] if h > WARD_CUT * spread)
    for height in heights:
        labels = fcluster(tree, t=height, criterion="distance")
        if (np.bincount(labels) >= min_size).sum() <= max_themes:
            break
    return np.unique(labels, return_inverse=True)[1].astype(int)


def without_outliers(vectors: np.ndarray, labels: np.ndarray, *, min_size: int = 2) -> np.ndarray:
    """Labels with stragglers moved to the theme they fit, else to -1 (Other); see above.

    A cluster smaller than `min_size` is all stragglers."""
    labels = labels.copy()
    themes = [c for c in np.unique(labels) if (labels == c).sum() >= min_size]
    labels[~np.isin(labels, themes)] = -1
    if not themes:
        return labels
    column = {c: k for k, c in enumerate(themes)}
    sums = np.stack([vectors[labels == c].sum(axis=0) for c in themes])
    close = vectors @ unit_rows(sums).T  # cosine of each paper to each theme's centroid
    for c in themes:  # ... to its own theme's centroid without itself
        rows = np.flatnonzero(labels == c)
        close[rows, column[c]] = (vectors[rows] * unit_rows(sums[column[c]] - vectors[rows])).sum(axis=1)
    floors = fit_floors([close[labels == c, column[c]] for c in themes], baseline(vectors))
    fits = np.where(close >= floors, close, -np.inf)
    for row in range(len(vectors)):
        own = labels[row]
        if own >= 0 and np.isfinite(fits[row, column[own]]):
            continue
        best = int(np.argmax(fits[row]))
        labels[row] = themes[best] if np.isfinite(fits[row, best]) else -1
    small = [c for c in themes if (labels == c).sum() < min_size]
    labels[np.isin(labels, small)] = -1
    return labels


def fit_floors(closeness: list[np.ndarray], base: float) -> np.ndarray:
    """Per theme, the least cosine to its centroid a member may have (inf: not a theme); see the
    module docstring. `closeness`: each theme's members' cosines to the centroid of the others;
    `base`: how close two papers of the set are on average."""
    pooled = float(np.median(np.concatenate([c for c in closeness if len(c) >= 3] or closeness)))
    floors = []
    for values in closeness:
        median = float(np.median(values)) if len(values) >= 3 else pooled
        deviation = max(1.4826 * float(np.median(np.abs(values - median))), MIN_DEVIATION) if len(values) >= 3 else 0.0
        if median < base + FLOOR_SHARE * (pooled - base):  # papers no closer to each other than to the rest
            floors.append(np.inf)  # are no theme: each goes where it fits, or to Other
        else:
            floors.append(max(median - OUTLIER_Z * deviation, base + FLOOR_SHARE * (median - base)))
    return np.array(floors)


def baseline(vectors: np.ndarray) -> float:
    """Mean cosine between two different vectors of the set."""
    n = len(vectors)
    total = vectors.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1))) if n > 1 else 0.0


def ordered(
    papers: list[Paper], vectors: np.ndarray, members: np.ndarray, key: Callable[[Paper], float] | None
) -> tuple[str, ...]:
    centroid = vectors[members].mean(axis=0)
    closeness = vectors[members] @ centroid
    score = [key(papers[m]) if key else closeness[i] for i, m in enumerate(members)]
    ranked = sorted(range(len(members)), key=lambda i: (-score[i], papers[members[i]].id))
    return tuple(papers[members[i]].id for i in ranked)


def text(paper: Paper) -> str:
    """Title, newline, abstract: labels.display_form tells title words from running text."""
    return f"{paper.title}\n{paper.abstract}"


def label_themes(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    members: Sequence[np.ndarray],
    n_terms: int = 2,
    context: LabelContext | None = None,
) -> list[tuple[str, tuple[str, ...]]]:
    """(heading, phrases) of each theme (rows `members[i]` of `papers`/`vectors`): the one labelling
    of the digest's themes, the weekly review's and `tracker trends`'. With `context`, phrases are
    re-ranked by closeness to the theme's centre (its encoder) and generic ones dropped (its
    background); see tracker.enrich.labels."""
    papers = list(papers)
    phrases = label_phrases(
        [text(p) for p in papers], [m.tolist() for m in members], n_terms, vectors=vectors, context=context
    )
    return [(heading(t) or fallback_label(papers, vectors, m), t) for m, t in zip(members, phrases, strict=True)]


def fallback_label(papers: list[Paper], vectors: np.ndarray, members: np.ndarray) -> str:
    """A theme whose papers share no phrase: named after its most central paper's title."""
    central = ordered(papers, vectors, members, None)[0]
    title = next(p.title for p in papers if p.id == central)
    return "Like: " + (title if len(title) <= 60 else title[:59].rstrip() + "…")
