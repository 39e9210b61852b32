"""The committed record of every paper seen: one record per paper, merged across topics and versions.

Stored as JSON Lines under `data/papers/YYYY-MM.jsonl`, sharded by the month in the arXiv
id (so a paper never changes shard) and sorted by id, one compact line per paper: daily
commits touch few lines. Each shard is replaced atomically.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterable

from tracker.arxiv_ids import shard_month
from tracker.errors import TrackerError
from tracker.models import Paper
from tracker.store.journal import commit, recover

log = logging.getLogger(__name__)
SHARD_DIR = "papers"
JOURNAL = ".commit.json"  # in the data folder: an interrupted run's promised file updates


def journal_path(data_dir: Path) -> Path:
    return data_dir / JOURNAL


class Change(str, Enum):
    NEW = "new"  # first time in the ledger
    REVISED = "revised"  # a newer version than the ledger had
    TOPIC = "topic"  # known paper, matched by one more topic
    SAME = "same"  # nothing to record


def merge(existing: Paper | None, incoming: Paper, topic: str | None, today: str) -> tuple[Paper, Change]:
    """Combine what the ledger holds with what a source just reported. Pure."""
    topics = {topic} if topic else set()
    if existing is None:
        return incoming.with_changes(topics=tuple(sorted(topics)), first_seen=today, revised_on=None), Change.NEW
    merged_topics = tuple(sorted(set(existing.topics) | topics))
    if incoming.version > existing.version:
        revised = incoming.with_changes(
            topics=merged_topics,
            first_seen=existing.first_seen,
            published=existing.published or incoming.published,
            revised_on=today,
            relevance=existing.relevance,
        )
        change = Change.NEW if existing.first_seen == today else Change.REVISED
        return revised, change
    filled = _fill_missing(existing, incoming) if incoming.version == existing.version else existing
    filled = filled.with_changes(topics=merged_topics)
    if filled == existing:
        return existing, Change.SAME
    return filled, Change.TOPIC if merged_topics != existing.topics else Change.SAME


_FILLABLE = ("published", "comment", "journal_ref", "doi", "abstract", "primary_category")


def _fill_missing(existing: Paper, incoming: Paper) -> Paper:
    """Same version seen again (e.g. the API after RSS): keep what we have, add what we lacked."""
    updates = {name: getattr(incoming, name) for name in _FILLABLE if not getattr(existing, name) and getattr(incoming, name)}
    if not existing.authors and incoming.authors:
        updates["authors"] = incoming.authors
    return existing.with_changes(**updates) if updates else existing


@dataclass
class Ledger:
    papers: dict[str, Paper] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> Ledger:
        recover(journal_path(data_dir))  # finish what a killed run had committed to
        folder = data_dir / SHARD_DIR
        papers: dict[str, Paper] = {}
        for shard in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
            for number, line in enumerate(shard.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    paper = Paper.from_dict(json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise TrackerError(f"{shard}:{number}: unreadable ledger record ({exc}); fix or remove that line") from None
                papers[paper.id] = paper
        return cls(papers)

    def get(self, paper_id: str) -> Paper | None:
        return self.papers.get(paper_id)

    def knows(self, paper: Paper, topic: str | None = None) -> bool:
        """True when the ledger has this version (or newer), and the topic if one is given."""
        known = self.papers.get(paper.id)
        if known is None or known.version < paper.version:
            return False
        return topic is None or topic in known.topics

    def record(self, incoming: Paper, topic: str | None, today: str) -> Change:
        merged, change = merge(self.papers.get(incoming.id), incoming, topic, today)
        if change is not Change.SAME or merged != self.papers.get(incoming.id):
            self.papers[merged.id] = merged
        return change

    def update(self, papers: Iterable[Paper]) -> None:
        """Replace records wholesale (e.g. with relevance scores added by a later stage)."""
        for paper in papers:
            self.papers[paper.id] = paper

    def by_topic(self, topic: str) -> list[Paper]:
        return [p for p in self.papers.values() if topic in p.topics]

    def files(self, data_dir: Path) -> dict[Path, str]:
        """Every shard's full text, keyed by path: one compact, key-sorted JSON line per paper."""
        shards: dict[str, list[Paper]] = {}
        for paper in self.papers.values():
            shards.setdefault(shard_month(paper.id), []).append(paper)
        files = {}
        for month, papers in sorted(shards.items()):
            lines = (json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) for p in sorted(papers, key=lambda p: p.id))
            files[data_dir / SHARD_DIR / f"{month}.jsonl"] = "\n".join(lines) + "\n"
        return files

    def save(self, data_dir: Path) -> list[Path]:
        """Write the ledger alone (a run writes it together with its outputs, see pipeline.write_all)."""
        return commit(self.files(data_dir), journal_path(data_dir))
