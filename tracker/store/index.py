"""Nearest neighbours over the vector store's rows: exact numpy search, and a faiss accelerator for big stores.

Below ANN_THRESHOLD rows a query is one matrix-vector product over the store's vectors (exact,
memory-mapped, no extra copy). From ANN_THRESHOLD on, where exact search stops being instant,
a faiss IVF index with 8-bit scalar-quantised codes proposes candidates and the store's own
float32 vectors re-score them exactly, so scores are always exact cosines and the accelerator
holds no second copy of the vectors (its codes are a quarter of their size). It is kept in step
incrementally (new and changed rows are removed and re-added by position; no dead rows).

Measured by `python benchmarks/search.py --scaling` (one 384-d query, median of 117 real title
queries, a 2-core AVX2 machine shared with other jobs, warm page cache): exact search 31 ms at
50k rows, 52 ms at 100k, 92 ms at 200k, 212 ms at 500k, 541 ms at 1M. The accelerator searches
1/PROBE_SHARE of its inverted lists and re-scores the ANN_CANDIDATES best codes exactly.
"""

from __future__ import annotations

import json
import logging
import math
import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ANN_THRESHOLD = 200_000
"""Rows from which search goes through faiss: below it exact search stays under ~0.1 s per query
even on a busy 2-core machine (a small part of a cold `tracker search`) and is exact."""
PROBE_SHARE = 8  # search 1/8 of the inverted lists: recall@10 0.925 at 1/13, 0.989 at 1/5 (400k Gaussian filler)
ANN_CANDIDATES = 200  # at least this many (or 8k) candidates are re-scored exactly
TRAIN_PER_LIST = 48  # k-means training points per inverted list (faiss wants >= 39)


def exact_top(
    vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """[(row, score)] of the k best rows by inner product, best first; `allowed` is a boolean row mask."""
    if len(vectors) == 0 or k < 1:
        return []
    if allowed is not None and allowed.sum() < len(allowed) // 4:  # score only the few allowed rows
        rows = np.flatnonzero(allowed)
        return _best(rows, np.asarray(vectors[rows] @ query, dtype=np.float32), k)
    scores = np.asarray(vectors @ query, dtype=np.float32)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return [(row, score) for row, score in _best(np.arange(len(scores)), scores, k) if score != -np.inf]


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    order = sorted(top, key=lambda i: (-scores[i], rows[i]))  # ties broken by row: stable results
    return [(int(rows[i]), float(scores[i])) for i in order]


def ann_top(
    ann: Any, vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """Like exact_top, with faiss proposing candidates; falls back to exact when a filter starves them."""
    import faiss

    if allowed is not None and allowed.mean() < 0.5:  # a narrow filter: exact over the few rows is cheaper
        return exact_top(vectors, query, k, allowed)
    fetch = min(ann.ntotal, max(ANN_CANDIDATES, 8 * k))
    params = faiss.SearchParametersIVF(nprobe=max(16, ann.nlist // PROBE_SHARE))  # type: ignore[call-arg]  # SWIG keywords
    _, found = ann.search(query.reshape(1, -1).astype(np.float32), fetch, params=params)
    rows = np.unique(found[0][found[0] >= 0])
    if allowed is not None:
        rows = rows[allowed[rows]]
    if len(rows) < k:
        return exact_top(vectors, query, k, allowed)
    return _best(rows, np.asarray(vectors[rows] @ query, dtype=np.float32), k)


def build_ann(vectors: np.ndarray) -> Any:
    """A trained IVF-SQ8 index (inner product) of every row, ids = row numbers."""
    import faiss

    count, dim = vectors.shape
    lists = max(1, int(math.sqrt(count)))
    quantizer = faiss.IndexFlatIP(dim)
    ann = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ann.own_fields = True
    # The IVF index owns and frees its quantizer (`this`: the SWIG proxy, absent from faiss's stubs).
    quantizer.this.disown()  # type: ignore[attr-defined]
    sample = np.random.default_rng(0).choice(count, size=min(count, lists * TRAIN_PER_LIST), replace=False)
    ann.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    for start in range(0, count, 100_000):  # chunks: `vectors` may be a memory map bigger than RAM
        stop = min(count, start + 100_000)
        ann.add_with_ids(
            np.ascontiguousarray(vectors[start:stop], dtype=np.float32), np.arange(start, stop, dtype=np.int64)
        )
    return ann


def update_ann(ann: Any, vectors: np.ndarray, rows: np.ndarray) -> None:
    """Re-add `rows` (new or changed) with their current vectors."""
    import faiss

    rows = np.asarray(sorted(set(int(r) for r in rows)), dtype=np.int64)
    if not len(rows):
        return
    ann.remove_ids(faiss.IDSelectorBatch(rows))
    ann.add_with_ids(np.ascontiguousarray(vectors[rows], dtype=np.float32), rows)


def faiss_installed() -> bool:
    return find_spec("faiss") is not None


def read_ann(path: Path, generation: int | None, *, writable: bool = False) -> Any:
    """The accelerator saved for the store's `generation`, or None (none, stale, damaged, or no faiss)."""
    if generation is None or not faiss_installed():
        return None
    try:
        saved = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
        if saved.get("generation") != generation:
            return None
        import faiss

        return faiss.read_index(str(path), 0 if writable else faiss.IO_FLAG_MMAP)
    except (OSError, ValueError, AttributeError, RuntimeError):  # faiss raises RuntimeError on bad files
        return None


def save_ann(path: Path, vectors: np.ndarray, generation: int, old: Any, changed: list[int]) -> Any:
    """Bring the accelerator in step with the store's new generation (built once, then updated); None without faiss."""
    if not faiss_installed():
        log.info(
            "faiss is not installed: searching %d vectors exactly (pip install 'paper-tracker[ann]')", len(vectors)
        )
        return None
    try:
        if old is not None:
            update_ann(old, vectors, np.asarray(changed, dtype=np.int64))
        ann = old if old is not None else build_ann(vectors)
        write_ann(ann, path)
        Path(f"{path}.json").write_text(json.dumps({"generation": generation, "count": len(vectors)}), encoding="utf-8")
    except (OSError, RuntimeError) as exc:  # a cache: exact search still answers
        log.warning("search accelerator not saved (%s); searching exactly", exc)
        return None
    return ann


def write_ann(ann: Any, path: Path) -> None:
    import faiss

    faiss.write_index(ann, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)
