"""Which candidates should a page search fetch? The request plan of site/app/search.js, simulated.

A browser on this machine pays ~4-8 ms per HTTP Range request whatever its size (one 280 KB request:
~10 ms; seven 4 KB ones: ~27 ms), so the page fetches only the REQUESTS runs of neighbouring entries
(GAP bytes apart at most) holding its best-ranked candidates (by sign-code score; a run weighs the
sum of 1 / (8 + rank) of its candidates). This replays that plan in numpy on the sites that
`benchmarks/site.py` builds (kept in its --work folder: 2,611 real papers, 10,000 and 100,000), for
real queries (SciTLDR dev TL;DRs, embedded by the tracker's encoder): the overlap of the plan's top 10
(re-scored with the int8 rows it fetched) with the top 10 by every int8 row, its requests and bytes,
and a time estimate (4 ms a request + 10 ms a MB). The plan's constants were chosen on the first
100 queries (`--fit`); the figures to quote are for the next 100 (the default).

    python benchmarks/site.py --sizes 10000 100000   # builds the sites once
    python benchmarks/site_requests.py [--fit] [--work /tmp/site-bench]

Measured 2026-12-08 (held-out queries 100-199; per site: overlap, requests, KB per search, est. ms):
                                 2,611 real               10,000                   100,000
  64, every run (the old page)   0.989 14.3  179K 59 ms   0.980 16.4  152K 67 ms   0.922  7.8   90K 32 ms
  128, at most 6 runs (shipped)  0.946  5.9  279K 27 ms   0.960  6.0  205K 26 ms   0.951  5.9  148K 25 ms
  128, at most 4 runs            0.895  4.0  246K 18 ms   0.912  4.0  172K 18 ms   0.942  4.0  119K 17 ms
  256, at most 5 runs            0.949  5.0  451K 25 ms   0.946  5.0  322K 23 ms   0.974  5.0  199K 22 ms
(on the fitting queries 0-99, shipped: 0.962, 0.952, 0.980.) A filter scatters the candidates: with
one passing a random 5% of the papers (`--filtered 0.05`), 128 in at most 6 runs overlap by only 0.76,
0.68, 0.78 (20%: 0.92, 0.86, 0.95), where 64 in every run give 0.98-1.0 in 20-41 requests; so a
filtered search keeps that plan (search.js: FILTERED_CANDIDATES).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scitldr import DATA  # noqa: E402

PLANS = [(64, None), (128, 6), (128, 4), (256, 5)]  # (candidates, at most this many requests; None: all)
GAP, RANK_WEIGHT = 16384, 8
REQUEST_MS, MB_MS = 4.0, 10.0


def load_site(site: Path):
    meta = json.loads((site / "data" / "meta.json").read_text())
    n, dim = meta["count"], meta["dim"]
    codes = np.fromfile(site / "data" / "codes.bin", np.uint8).reshape(n, dim // 8)
    spans = np.fromfile(site / "data" / "spans.bin", np.uint32).reshape(n, 2).astype(np.int64)
    raw = np.fromfile(site / "data" / "entries.bin", np.int8)
    rows = raw[spans[:, :1] + np.arange(dim)[None]].astype(np.float32)
    signs = np.unpackbits(codes, axis=1, bitorder="little").astype(np.float32) * 2 - 1
    return spans, rows, signs


def plan(ranked: np.ndarray, spans: np.ndarray, limit: int | None) -> list[list]:
    """search.js's coalesce + heaviest: runs [start, end, positions, weight], the heaviest `limit`."""
    runs: list[list] = []
    for rank in np.argsort(spans[ranked, 0], kind="stable"):
        p = ranked[rank]
        if runs and spans[p, 0] - runs[-1][1] <= GAP:
            runs[-1][1] = max(runs[-1][1], spans[p, 1])
            runs[-1][2].append(p)
            runs[-1][3] += 1 / (RANK_WEIGHT + rank)
        else:
            runs.append([spans[p, 0], spans[p, 1], [p], 1 / (RANK_WEIGHT + rank)])
    return runs if limit is None else sorted(runs, key=lambda r: -r[3])[:limit]


def measure(site: Path, queries: np.ndarray, filtered: float = 1.0) -> dict:
    """Per plan: mean overlap, requests, KB, est. ms; `filtered`: the share of papers a filter passes."""
    spans, rows, signs = load_site(site)
    passing = np.flatnonzero(np.random.default_rng(0).random(len(rows)) < filtered)
    results: dict = {p: [] for p in PLANS}
    for query in queries:
        exact = rows @ query
        truth = set(passing[np.argsort(-exact[passing])[:10]].tolist())
        by_code = passing[np.argsort(-(signs[passing] @ query))]
        for candidates, limit in PLANS:
            runs = plan(by_code[:candidates], spans, limit)
            fetched = [p for run in runs for p in run[2]]
            top = sorted(fetched, key=lambda p: -exact[p])[:10]
            size = sum(run[1] - run[0] for run in runs)
            results[(candidates, limit)].append(
                (len(truth & set(top)) / 10, len(runs), size / 1024, REQUEST_MS * len(runs) + MB_MS * size / 1e6)
            )
    return {p: np.mean(v, axis=0) for p, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "site-bench")
    parser.add_argument("--fit", action="store_true", help="the first 100 queries (the constants were chosen on them)")
    parser.add_argument("--filtered", type=float, default=1.0, help="share of the papers a filter passes (random)")
    args = parser.parse_args()
    from tracker.enrich.encoders import load_encoder

    tldrs = [json.loads(line)["target"][0] for line in (DATA / "dev.jsonl").read_text().splitlines() if line.strip()]
    texts = tldrs[:100] if args.fit else tldrs[100:200]
    queries = np.asarray(load_encoder("all-MiniLM-L6-v2", device="cpu").encode(texts), dtype=np.float32)
    sites = [args.work / "_site", args.work / "site-10000", args.work / "site-100000"]
    missing = [str(s) for s in sites if not (s / "data" / "entries.bin").is_file()]
    if missing:
        raise SystemExit(f"{', '.join(missing)}: not built; run benchmarks/site.py --work {args.work} first")
    measured = [measure(site, queries, args.filtered) for site in sites]
    print(
        f"{len(texts)} queries; per site ({', '.join(s.name for s in sites)}): overlap with every int8 row's "
        "top 10, requests, KB, est. ms"
    )
    for candidates, limit in PLANS:
        cells = "   ".join(
            f"{m[(candidates, limit)][0]:.3f} {m[(candidates, limit)][1]:4.1f} "
            f"{m[(candidates, limit)][2]:5.0f}K {m[(candidates, limit)][3]:3.0f} ms"
            for m in measured
        )
        print(f"{candidates:>4} candidates, {'every run' if limit is None else f'at most {limit} runs':<14} {cells}")


if __name__ == "__main__":
    main()
