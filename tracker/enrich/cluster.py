"""Themes of a day's digest: cluster the papers' vectors, label each cluster with a few terms.

Clustering: agglomerative (Ward linkage on unit vectors, so distances follow cosine), cut at
the k in 2..max_themes with the best cosine silhouette. Ward is deterministic (no random
init) and gives clusters of comparable size, where average linkage on a day of papers from
one field peels off single outliers; the silhouette picks k from the data instead of a
distance threshold that would have to be re-tuned for each model. Silhouette is
scale-free, so a day on one topic is still split into its sub-topics (that is what a reader
wants to see); only a split with silhouette <= 0 (no structure at all) is refused. A day
with fewer than `min_papers` papers is one theme: grouping five papers only adds headings.
Measured on real fixture abstracts (all-MiniLM-L6-v2): 10 software-testing + 12
condensed-matter + 7 hypothesis-testing papers -> k=3 (silhouette 0.32), fields unmixed.

Labels: class-based TF-IDF as in BERTopic (each cluster's text is one document; a term's
frequency in the cluster times log(1 + average cluster size in words / its frequency over
all clusters)), over unigrams and bigrams without English stop words; the top terms are
kept unless they repeat a term already chosen ("model" after "models", "testing" after
"mutation testing"). Clusters smaller than `min_theme_size` are pooled as "Other".

Input order never matters: papers are sorted by id first and nothing is random.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tracker.models import Paper

OTHER = "Other"
# Words every abstract uses; they would label every cluster of a small day.
_BOILERPLATE = frozenset("""
    paper propose proposed present presents approach approaches method methods result results
    study studies show shows shown using based use used new novel work works problem problems
    demonstrate provide provides including different existing various recent recently
    """.split())


@dataclass(frozen=True)
class Theme:
    label: str  # "Other" for the pool of tiny clusters
    terms: tuple[str, ...]  # 2-4 distinctive terms, most distinctive first
    paper_ids: tuple[str, ...]  # most central first (or by `key`)


def cluster_themes(
    papers: Sequence[Paper],
    vectors: np.ndarray,
    *,
    min_papers: int = 6,
    max_themes: int = 8,
    min_theme_size: int = 2,
    n_terms: int = 3,
    key: Callable[[Paper], float] | None = None,
) -> list[Theme]:
    """Group `papers` (row i of `vectors` embeds papers[i]) into labelled themes.

    Themes come largest first (ties by label), "Other" last. Within a theme papers are
    ordered by cosine to the theme's centroid, or by `key` (higher first, e.g.
    `lambda p: p.relevance or 0.0`); ties by id.
    """
    if len(papers) == 0:
        return []
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(papers):
        raise ValueError(f"cluster_themes: {len(papers)} papers but vectors of shape "
                         f"{vectors.shape}")
    order = sorted(range(len(papers)), key=lambda k: papers[k].id)
    papers = [papers[k] for k in order]
    vectors = _unit(vectors[order])

    if len(papers) >= min_papers:
        labels = _cluster(vectors, max_themes)
    else:
        labels = np.zeros(len(papers), int)
    sizes = np.bincount(labels)
    small = sizes[labels] < min_theme_size
    if small.all():  # nothing but tiny clusters: one theme is the honest answer
        labels, small = np.zeros(len(papers), int), np.zeros(len(papers), bool)
    members = [np.flatnonzero((labels == c) & ~small) for c in np.unique(labels[~small])]
    terms = label_terms([_text(p) for p in papers], [m.tolist() for m in members], n_terms)

    themes = [Theme(", ".join(t), t, _ordered(papers, vectors, m, key))
              for m, t in zip(members, terms)]
    themes.sort(key=lambda th: (-len(th.paper_ids), th.label))
    if small.any():
        themes.append(Theme(OTHER, (), _ordered(papers, vectors, np.flatnonzero(small), key)))
    return themes


def label_terms(docs: Sequence[str], clusters: Sequence[Sequence[int]], n_terms: int = 3
                ) -> list[tuple[str, ...]]:
    """Up to `n_terms` distinctive terms per cluster (lists of indices into `docs`), c-TF-IDF."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    vectorizer = CountVectorizer(
        ngram_range=(1, 2), stop_words=sorted(ENGLISH_STOP_WORDS | _BOILERPLATE),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b",  # words, not numbers; keep "helium-4"
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # only stop words and numbers: nothing to label with
        return [() for _ in clusters]
    vocab = vectorizer.get_feature_names_out()
    tf = np.vstack([np.asarray(counts[list(c)].sum(axis=0)).ravel() for c in clusters])
    tf = tf.astype(np.float64)
    avg_words = tf.sum() / len(clusters)
    idf = np.log(1 + avg_words / np.maximum(tf.sum(axis=0), 1))
    scores = tf / np.maximum(tf.sum(axis=1, keepdims=True), 1) * idf
    return [_pick_terms(row, vocab, n_terms) for row in scores]


def _pick_terms(scores: np.ndarray, vocab: np.ndarray, n_terms: int) -> tuple[str, ...]:
    """Best terms first (ties alphabetical), never two that share a word; a bigram replaces
    the chosen single words it contains when it scores at least half as high as they do
    ("luttinger", "liquid" -> "luttinger liquid")."""
    ranked = sorted(np.flatnonzero(scores > 0), key=lambda k: (-scores[k], vocab[k]))[:30]
    score = {str(vocab[k]): scores[k] for k in ranked}
    chosen: list[str] = []
    for term in score:
        clash = [c for c in chosen if _overlaps(term, c)]
        if not clash and len(chosen) < n_terms:
            chosen.append(term)
        elif clash and " " in term and all(
                " " not in c and score[term] * 2 >= score[c] for c in clash):
            chosen[chosen.index(clash[0])] = term
            chosen = [c for c in chosen if c not in clash[1:]]
    return tuple(chosen)


def _overlaps(a: str, b: str) -> bool:
    """True when the terms share a word up to a plural/verb ending: "model" ~ "models",
    "testing" ~ "mutation testing"."""
    return bool({_stem(w) for w in a.split()} & {_stem(w) for w in b.split()})


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _cluster(vectors: np.ndarray, max_themes: int) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    # A split must beat silhouette 0 (no structure): identical vectors stay one theme.
    best, best_score = np.zeros(len(vectors), int), 0.0
    for k in range(2, min(max_themes, len(vectors) - 1) + 1):
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
        score = silhouette_score(vectors, labels, metric="cosine")
        if score > best_score + 1e-9:  # ties keep the smaller k
            best, best_score = labels, score
    return best


def _ordered(papers: list[Paper], vectors: np.ndarray, members: np.ndarray,
             key: Callable[[Paper], float] | None) -> tuple[str, ...]:
    centroid = vectors[members].mean(axis=0)
    closeness = vectors[members] @ centroid
    score = [key(papers[m]) if key else closeness[i] for i, m in enumerate(members)]
    ranked = sorted(range(len(members)), key=lambda i: (-score[i], papers[members[i]].id))
    return tuple(papers[members[i]].id for i in ranked)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _text(paper: Paper) -> str:
    return f"{paper.title}\n{paper.abstract}"
