"""How two records of one paper become one: a fetch meeting the ledger's record, or two copies of a
record (both sides of a merge conflict). Pure functions, used by tracker.store.ledger."""

from __future__ import annotations

from enum import Enum

from tracker.models import Paper


class Change(str, Enum):
    NEW = "new"  # first time in the ledger
    REVISED = "revised"  # a newer version than the ledger had
    TOPIC = "topic"  # known paper, matched by one more topic
    SAME = "same"  # nothing to record (or only a repair of the same version's metadata)


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
            extra={**existing.extra, **incoming.extra},
        )
        change = Change.NEW if existing.first_seen == today else Change.REVISED
        return revised, change
    repaired = repair(existing, incoming) if incoming.version == existing.version else existing
    repaired = repaired.with_changes(topics=merged_topics)
    if repaired == existing:
        return existing, Change.SAME
    return repaired, Change.TOPIC if merged_topics != existing.topics else Change.SAME


_LATEST = ("comment", "journal_ref", "doi")  # change without a new version: the latest non-empty wins
_FILL = ("published", "updated", "primary_category", "abs_url", "pdf_url", "announce_type")
_FULLER = ("title", "abstract", "authors", "categories")  # a cut-short response left a prefix


def repair(existing: Paper, incoming: Paper) -> Paper:
    """The same version seen again: add what we lacked, take newer metadata, undo a truncation."""
    updates = {}
    for name in _LATEST:
        old, new = getattr(existing, name), getattr(incoming, name)
        if new and not (old and old.startswith(new)):  # a cut-short copy never replaces the full text
            updates[name] = new
    for name in _FILL:
        if not getattr(existing, name) and getattr(incoming, name):
            updates[name] = getattr(incoming, name)
    for name in _FULLER:
        old, new = getattr(existing, name), getattr(incoming, name)
        if len(new) > len(old) and new[: len(old)] == old:
            updates[name] = new
    updates = {k: v for k, v in updates.items() if getattr(existing, k) != v}
    return existing.with_changes(**updates) if updates else existing


def combine(first: Paper, second: Paper) -> Paper:
    """Two records of one paper (e.g. both sides of a merge conflict): one record keeping both histories."""
    older, newer = (second, first) if second.version < first.version else (first, second)
    base = newer if newer.version > older.version else repair(older, newer)
    if not base.tldr and newer.version == older.version and newer.tldr:  # one side had computed it
        base = base.with_changes(tldr=newer.tldr, tldr_source=newer.tldr_source)
    seen = [d for d in (older.first_seen, newer.first_seen) if d]
    revised = [d for d in (older.revised_on, newer.revised_on) if d]
    return base.with_changes(
        topics=tuple(sorted(set(older.topics) | set(newer.topics))),
        first_seen=min(seen) if seen else None,
        revised_on=max(revised) if revised else None,
        published=older.published or newer.published,
        relevance=newer.relevance if newer.relevance is not None else older.relevance,
        extra={**older.extra, **newer.extra},
    )
