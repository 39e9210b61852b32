"""Query logic over a loaded VectorIndex: top-k by cosine, filters, similar papers. No model, no CLI.

Filters are applied before the top-k cut: a filtered query scores every paper that passes the
filters exactly (one matrix-vector product over faiss's stored vectors), so `--topic X -k 10`
returns 10 papers whenever X has 10, even when the approximate index would have ranked them
far down. Unfiltered queries go through faiss (exact or HNSW).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable

from tracker.arxiv_ids import canonical_id
from tracker.errors import TrackerError

if TYPE_CHECKING:
    import numpy as np

    from tracker.store.index import VectorIndex


@dataclass(frozen=True)
class Hit:
    score: float
    id: str
    date: str
    title: str
    topics: tuple[str, ...]
    link: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["topics"] = list(self.topics)
        return data


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # YYYY-MM-DD, inclusive, on the latest version's date
    until: str | None = None
    topic: str | None = None  # exact topic name, case-insensitive
    author: str | None = None  # substring of any author, case-insensitive

    @property
    def active(self) -> bool:
        return any((self.since, self.until, self.topic, self.author))


def check_k(k: int) -> None:
    if k < 1:
        raise TrackerError(f"-k must be at least 1 (got {k})")


def search(index: VectorIndex, query_vector: Any, k: int = 10, filters: Filters | None = None) -> list[Hit]:
    """The k papers closest to `query_vector` among those passing `filters`, best first."""
    return _ranked(index, _as_query(index, query_vector), k, filters or Filters(), exclude=())


def similar(index: VectorIndex, arxiv_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
    """The k papers closest to an indexed paper, never the paper itself.

    Accepts "2401.01234", "2401.01234v3", "arXiv:2401.01234", "hep-th/9901001v2", abs URLs.
    """
    paper_id = canonical_id(arxiv_id)
    position = index.position(paper_id)
    if position is None:
        raise TrackerError(
            f"{paper_id} is not in the search index ({index.size} papers): add it to the ledger "
            "(a topic or profile.papers in keywords.yaml, then `tracker run`) and run `tracker index`"
        )
    query = index.vectors()[position].copy()
    return _ranked(index, query, k, filters or Filters(), exclude=(position,))


def _as_query(index: VectorIndex, vector: Any) -> np.ndarray:
    import numpy as np

    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != index.dim:
        raise TrackerError(f"query vector has {query.shape[0]} dimensions, the index {index.dim}: "
                           "run `tracker index --rebuild`")
    norm = float(np.linalg.norm(query))
    return query / norm if norm > 0 else query


def _ranked(index: VectorIndex, query: np.ndarray, k: int, filters: Filters, exclude: Iterable[int]) -> list[Hit]:
    check_k(k)
    excluded = set(exclude)
    if filters.active:
        allowed = [pos for pos in index.select(**asdict(filters)) if pos not in excluded]
        scored = _exact_over(index, query, allowed, k)
    else:
        scored = _faiss_top(index, query, k, excluded)
    rows = index.rows([pos for pos, _ in scored])
    return [
        Hit(round(score, 6), row["id"], row["date"], row["title"], tuple(row["topics"]), row["link"])
        for (_, score), row in zip(scored, rows)
    ]


def _faiss_top(index: VectorIndex, query: np.ndarray, k: int, excluded: set[int]) -> list[tuple[int, float]]:
    """faiss top-k, over-fetching by the rows that must be dropped (dead rows, the query paper)."""
    import faiss

    dead = index.dead_positions()
    fetch = min(k + len(dead) + len(excluded), index.ntotal)
    if fetch == 0:
        return []
    params = None
    if index.kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(index.faiss_index.hnsw.efSearch, fetch)
    scores, positions = index.faiss_index.search(query.reshape(1, -1), fetch, params=params)
    drop = dead | excluded
    found = [(int(p), float(s)) for p, s in zip(positions[0], scores[0]) if p >= 0 and int(p) not in drop]
    return found[:k]


def _exact_over(index: VectorIndex, query: np.ndarray, positions: list[int], k: int) -> list[tuple[int, float]]:
    """Exact cosine over the given rows only, so filters never starve the top-k."""
    import numpy as np

    if not positions:
        return []
    vectors = index.vectors()
    chosen = np.asarray(positions, dtype=np.int64)
    if len(chosen) > len(vectors) // 4:  # cheaper to score everything than to copy a big subset
        scores = (vectors @ query)[chosen]
    else:
        scores = vectors[chosen] @ query
    top = np.argpartition(-scores, k - 1)[:k] if len(scores) > k else np.arange(len(scores))
    order = sorted(top, key=lambda i: (-scores[i], chosen[i]))
    return [(int(chosen[i]), float(scores[i])) for i in order]
