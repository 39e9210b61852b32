"""Precision/recall of the near-duplicate rule against cosine alone, per threshold.

    python benchmarks/dedup_threshold.py

Data: tests/data/dedup_pairs.json (real arXiv abstracts; duplicates are seeded edits of them,
distinct pairs are each paper's nearest other papers; see tests/data/make_dedup_pairs.py).
Embeds exactly what production embeds: `tracker.enrich.embed.embed_text(paper)` with the
production CPU encoder (`tracker.enrich.encoders.load_encoder`, OpenVINO int8). Baseline: cosine
threshold only (no title check). Prints one row per threshold, then the errors left at
tracker.enrich.dedup.DEFAULT_THRESHOLD.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.enrich import dedup  # noqa: E402
from tracker.enrich.embed import embed_text  # noqa: E402
from tracker.models import Paper  # noqa: E402

DATA = ROOT / "tests" / "data" / "dedup_pairs.json"


def labelled_papers() -> tuple[list[Paper], list[dict]]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    papers = [Paper(id=p["id"], version=1, title=p["title"], abstract=p["abstract"], published=p["published"])
              for p in data["papers"]]
    return papers, data["pairs"]


def load() -> tuple[dict, list[dict], np.ndarray]:
    from tracker.enrich.encoders import load_encoder

    papers, pairs = labelled_papers()
    vecs = load_encoder("all-MiniLM-L6-v2", device="cpu").encode([embed_text(p) for p in papers])
    row = {p.id: k for k, p in enumerate(papers)}
    cos = np.array([float(vecs[row[p["a"]]] @ vecs[row[p["b"]]]) for p in pairs])
    return {p.id: {"title": p.title} for p in papers}, pairs, cos


def scores(predicted: list[bool], pairs: list[dict]) -> tuple[float, float, float]:
    truth = [p["label"] == "duplicate" for p in pairs]
    tp = sum(a and b for a, b in zip(predicted, truth))
    precision = tp / max(1, sum(predicted))
    recall = tp / max(1, sum(truth))
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    return precision, recall, f1


def main() -> None:
    papers, pairs, cos = load()
    titles = [(papers[p["a"]]["title"], papers[p["b"]]["title"]) for p in pairs]
    n_dup = sum(p["label"] == "duplicate" for p in pairs)
    print(f"{len(pairs)} pairs: {n_dup} duplicate, {len(pairs) - n_dup} distinct (hard negatives)")
    dist = cos[[p["label"] == "distinct" for p in pairs]]
    dups = cos[[p["label"] == "duplicate" for p in pairs]]
    print(f"cosine: duplicates min {dups.min():.3f} median {np.median(dups):.3f}; "
          f"distinct max {dist.max():.3f} median {np.median(dist):.3f}")
    print(f"{'threshold':>9} | {'cosine only: P':>14} {'R':>5} {'F1':>5} | "
          f"{'rule (title check): P':>21} {'R':>5} {'F1':>5}")
    for t in np.arange(0.80, 0.99, 0.01):
        base = scores([c >= t for c in cos], pairs)
        rule = scores([dedup.is_near_duplicate(c, a, b, t) for c, (a, b) in zip(cos, titles)],
                      pairs)
        mark = " <- default" if abs(t - dedup.DEFAULT_THRESHOLD) < 1e-6 else ""
        print(f"{t:9.2f} | {base[0]:14.3f} {base[1]:5.3f} {base[2]:5.3f} | "
              f"{rule[0]:21.3f} {rule[1]:5.3f} {rule[2]:5.3f}{mark}")
    print("errors at the default threshold:")
    for c, (a, b), p in zip(cos, titles, pairs):
        predicted = dedup.is_near_duplicate(c, a, b)
        if predicted != (p["label"] == "duplicate"):
            print(f"  {'FP' if predicted else 'FN'} {p['kind']:<20} cos={c:.3f} "
                  f"title={dedup.title_similarity(a, b):.2f}  {a[:50]!r} / {b[:50]!r}")


if __name__ == "__main__":
    main()
