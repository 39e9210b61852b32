"""Query logic over the vector store: top-k by cosine, filters, similar papers. No model, no CLI.

Filters apply before the top-k cut (they become the store's `keep`), so `--topic X -k 10`
returns 10 papers whenever X has 10. Only papers with a topic are searched (the group's own
profile papers, kept for relevance, are not news).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tracker.arxiv_ids import canonical_id
from tracker.errors import TrackerError, UsageError

if TYPE_CHECKING:
    from tracker.store.vectors import VectorStore


@dataclass(frozen=True)
class Hit:
    score: float
    id: str
    date: str
    title: str
    authors: tuple[str, ...]
    topics: tuple[str, ...]
    link: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["authors"], data["topics"] = list(self.authors), list(self.topics)
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

    def check(self) -> Filters:
        """Itself, or a one-line TrackerError about a filter that can match nothing."""
        if self.since and self.until and self.since > self.until:
            raise UsageError(f"--since {self.since} is after --until {self.until}: nothing can match")
        for name, value in (("--topic", self.topic), ("--author", self.author)):
            if value is not None and not value.strip():
                raise UsageError(f"{name} is empty")
        return self

    def passes(self, meta: dict[str, Any]) -> bool:
        date = meta.get("date") or ""
        if (self.since and date < self.since) or (self.until and date > self.until):
            return False
        if self.topic and self.topic.strip().casefold() not in {t.casefold() for t in meta.get("topics", ())}:
            return False
        wanted = (self.author or "").strip().casefold()
        return not wanted or any(wanted in name.casefold() for name in meta.get("authors", ()))


def check_k(k: int) -> None:
    if k < 1:
        raise UsageError(f"-k must be at least 1 (got {k})")


def search(store: VectorStore, query_vector: Any, k: int = 10, filters: Filters | None = None) -> list[Hit]:
    """The k papers closest to `query_vector` among those passing `filters`, best first."""
    check_k(k)
    if store.dim is not None and len(query_vector) != store.dim:
        raise TrackerError(
            f"the query vector has {len(query_vector)} dimensions, the store {store.dim}: "
            "the model changed; run `tracker index` to re-embed"
        )
    return _hits(store, store.search(query_vector, k, keep=_keep(store, filters)))


def similar(store: VectorStore, arxiv_id: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
    """The k papers closest to a stored paper, never the paper itself.

    Accepts "2401.01234", "2401.01234v3", "arXiv:2401.01234", "hep-th/9901001v2", abs URLs.
    """
    check_k(k)
    paper_id = canonical_id(arxiv_id)
    vector = store.vector(paper_id)
    if vector is None or not store.is_listed(paper_id):
        raise TrackerError(
            f"{paper_id} is not in the search index ({int(store.listed().sum())} papers): add it to the ledger "
            "(a topic or profile.papers in keywords.yaml, then `tracker run`) and run `tracker index`"
        )
    keep = _keep(store, filters)
    return _hits(store, store.search(vector, k, keep=lambda pid: pid != paper_id and (keep is None or keep(pid))))


def _keep(store: VectorStore, filters: Filters | None) -> Callable[[str], bool] | None:
    if filters is None or not filters.active:
        return None
    passing = {meta["id"] for meta in store.meta(store.ids) if filters.passes(meta)}
    return passing.__contains__


def _hits(store: VectorStore, found: list[tuple[str, float]]) -> list[Hit]:
    metas = store.meta([pid for pid, _ in found])
    return [
        Hit(
            round(score, 6),
            meta["id"],
            meta.get("date", ""),
            meta.get("title", ""),
            tuple(meta.get("authors", ())),
            tuple(meta.get("topics", ())),
            meta.get("link", ""),
        )
        for (_, score), meta in zip(found, metas, strict=True)
    ]
