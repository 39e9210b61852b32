"""What a run needs to know about every paper, without reading every record: a cached index.

A daily run must know every id (to never record a paper twice), its version and topics, and
the dates that place it in a README table or an archive page, but it reads full records only
of the papers it changes or shows. So the ledger keeps, per shard, a compact `Entry` per paper
in `<state_dir>/ledger-index/<month>.json`, keyed by a digest of the shard's exact bytes. On load, each
shard is read and hashed (cheap: no JSON parsing); a shard whose digest matches is not parsed at
all until one of its records is needed (`PaperMap`). A missing, damaged or stale index, or a
shard edited by hand, only means more shards are parsed: the index is a cache, never the truth.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tracker.arxiv_ids import shard_month
from tracker.models import Paper

log = logging.getLogger(__name__)
FORMAT = 1


class Entry(NamedTuple):
    """A paper as seen from outside its record: enough to place it, never to show it."""

    version: int
    topics: tuple[str, ...]
    updated: str  # the newest-first sort key (tracker.digest.by_date); "" when unknown
    date: str  # the date its table row shows (Paper.date); "" when unknown
    first_seen: str | None
    revised_on: str | None

    @property
    def month(self) -> str:
        """The archive page month it belongs to (as tracker.render.markdown.layout)."""
        return self.date[:7] or "undated"


def entry_of(paper: Paper) -> Entry:
    return Entry(paper.version, paper.topics, paper.updated or "", paper.date, paper.first_seen, paper.revised_on)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class ShardIndex:
    digest: str  # of the shard's bytes these entries describe
    entries: dict[str, Entry]


# One small file per shard, column by column (compact, quick to parse, rewritten only when its shard is).
_COLUMNS = ("versions", "topics", "updated", "dates", "first_seen", "revised_on")


def read_shard_index(folder: Path, month: str) -> ShardIndex | None:
    """The cached entries of one shard; None when missing, unreadable or of another format."""
    path = folder / f"{month}.json"
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return None
        sets = [tuple(names) for names in data["topic_sets"]]
        columns = [data[name] for name in _COLUMNS]
        columns[1] = [sets[i] for i in columns[1]]
        for i in (3, 4, 5):  # run dates repeat a lot: one string object each
            columns[i] = [sys.intern(value) if value else value for value in columns[i]]
        if not all(len(column) == len(data["ids"]) for column in columns):
            raise ValueError("columns of different lengths")
        return ShardIndex(str(data["digest"]), dict(zip(data["ids"], map(Entry, *columns), strict=True)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        log.info("ledger index %s unusable (%s): the shard is read in full", path, exc)
        return None


def write_shard_indexes(folder: Path, shards: dict[str, ShardIndex], drop: set[str]) -> None:
    """Write the given shards' entries and remove those of `drop`. Best effort: a cache that
    cannot be written costs the next run time, nothing else."""
    from tracker.store.journal import write_atomic

    try:
        for month in sorted(drop):
            (folder / f"{month}.json").unlink(missing_ok=True)
        for month, shard in sorted(shards.items()):
            ids = sorted(shard.entries)
            rows = [shard.entries[pid] for pid in ids]
            sets = sorted({entry.topics for entry in rows})
            number = {names: i for i, names in enumerate(sets)}
            data = {
                "format": FORMAT,
                "digest": shard.digest,
                "ids": ids,
                "topic_sets": sets,
                **{name: [entry[i] for entry in rows] for i, name in enumerate(_COLUMNS)},
            }
            data["topics"] = [number[entry.topics] for entry in rows]
            write_atomic(folder / f"{month}.json", json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    except OSError as exc:
        log.warning("could not save the ledger index in %s (%s); the next run reads more shards", folder, exc)


class PaperMap(MutableMapping[str, Paper]):
    """Every paper of the ledger by id. Records of shards not parsed yet are parsed on first access
    (`load_month`); writing a record first parses its shard, so a shard is only ever written from
    a full read of it. Remembers which ids this run changed, with their entries from before."""

    def __init__(self, indexed: dict[str, dict[str, Entry]], load_month: Callable[[str], None]):
        self.loaded: dict[str, Paper] = {}
        self.unread_months = indexed  # month -> {id: entry} of each shard not parsed yet
        self.unread: dict[str, str] = {}  # id -> month of the unparsed shard holding it
        for month, entries in indexed.items():
            self.unread.update(dict.fromkeys(entries, month))
        self.changed: dict[str, Entry | None] = {}  # id -> entry before this run changed it (None: new)
        self.dirty: set[str] = set()  # shards holding a changed record
        self._load_month = load_month

    def load(self, months) -> None:
        for month in sorted(set(months) & set(self.unread_months)):
            self._load_month(month)  # fills self.loaded
            for pid in self.unread_months.pop(month):
                self.unread.pop(pid, None)

    def entry(self, pid: str) -> Entry | None:
        if pid in self.loaded:
            return entry_of(self.loaded[pid])
        month = self.unread.get(pid)
        return self.unread_months[month][pid] if month else None

    def entries(self) -> Iterator[tuple[str, Entry]]:
        for pid, paper in self.loaded.items():
            yield pid, entry_of(paper)
        for entries in self.unread_months.values():
            yield from entries.items()

    def __getitem__(self, pid: str) -> Paper:
        if pid not in self.loaded and pid in self.unread:
            self.load({self.unread[pid]})
        return self.loaded[pid]

    def __setitem__(self, pid: str, paper: Paper) -> None:
        month = shard_month(pid)
        self.load({month, *([self.unread[pid]] if pid in self.unread else [])})
        old = self.loaded.get(pid)
        if old != paper:
            self.changed.setdefault(pid, entry_of(old) if old is not None else None)
            self.dirty.add(month)
        self.loaded[pid] = paper

    def __delitem__(self, pid: str) -> None:
        paper = self[pid]
        self.changed.setdefault(pid, entry_of(paper))
        self.dirty.add(shard_month(pid))
        del self.loaded[pid]

    def __contains__(self, pid: object) -> bool:
        return pid in self.loaded or pid in self.unread

    def __iter__(self) -> Iterator[str]:
        return iter([*self.loaded, *self.unread])

    def __len__(self) -> int:
        return len(self.loaded) + len(self.unread)

    def __repr__(self) -> str:
        return f"PaperMap({len(self.loaded)} parsed, {len(self.unread)} not parsed)"
