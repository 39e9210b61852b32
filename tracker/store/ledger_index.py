"""What a run needs to know about every paper, without reading every record: a cached index.

A daily run must know every id (to never record a paper twice), its version and topics, and
the dates that place it in a README table or an archive page, but it reads full records only
of the papers it changes or shows. So the ledger keeps, per shard, a compact `Entry` per paper
in `<state_dir>/ledger-index.json`, keyed by a digest of the shard's exact bytes. On load, each
shard is read and hashed (cheap: no JSON parsing); a shard whose digest matches is not parsed at
all until one of its records is needed (`PaperMap`). A missing, damaged or stale index, or a
shard edited by hand, only means more shards are parsed: the index is a cache, never the truth.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tracker.arxiv_ids import shard_month
from tracker.models import Paper

log = logging.getLogger(__name__)
INDEX_FILE = "ledger-index.json"
FORMAT = 1


class Entry(NamedTuple):
    """A paper as seen from outside its record: enough to place it, never to show it."""

    version: int
    topics: tuple[str, ...]
    updated: str  # the newest-first sort key (tracker.render.digest.by_date); "" when unknown
    date: str  # the date its table row shows (Paper.date); "" when unknown
    first_seen: str | None
    revised_on: str | None

    @property
    def month(self) -> str:
        """The archive page month it belongs to (as tracker.render.markdown.split_for_archive)."""
        return self.date[:7] or "undated"


def entry_of(paper: Paper) -> Entry:
    return Entry(paper.version, paper.topics, paper.updated or "", paper.date, paper.first_seen, paper.revised_on)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class ShardIndex:
    digest: str  # of the shard's bytes these entries describe
    entries: dict[str, Entry]


def read_index(path: Path) -> dict[str, ShardIndex]:
    """{month: ShardIndex} from the cache file; {} when it is missing, unreadable or of another format."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return {}
        topics: dict[tuple, tuple] = {}  # one tuple object per distinct topic set (100,000 papers, few sets)
        shards = {}
        for month, shard in data["shards"].items():
            entries = {}
            for pid, version, names, updated, date, first_seen, revised_on in shard["entries"]:
                names = topics.setdefault(tuple(names), tuple(names))
                entries[pid] = Entry(int(version), names, updated, date, first_seen, revised_on)
            shards[month] = ShardIndex(str(shard["digest"]), entries)
        return shards
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("ledger index %s unusable (%s): every shard is read", path, exc)
        return {}


def write_index(path: Path, shards: dict[str, ShardIndex]) -> None:
    """Best effort: a cache that cannot be written costs the next run time, nothing else."""
    from tracker.store.journal import write_atomic

    data = {"format": FORMAT, "shards": {
        month: {"digest": s.digest, "entries": [[pid, *entry] for pid, entry in sorted(s.entries.items())]}
        for month, s in sorted(shards.items())
    }}
    try:
        write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    except OSError as exc:
        log.warning("could not save the ledger index %s (%s); the next run reads every shard", path, exc)


class PaperMap(MutableMapping):
    """Every paper of the ledger by id. Records of shards not parsed yet are parsed on first access
    (`load_month`); writing a record first parses its shard, so a shard is only ever written from
    a full read of it. Remembers which ids this run changed, with their entries from before."""

    def __init__(self, unread: dict[str, tuple[str, Entry]], load_month: Callable[[str], None]):
        self.loaded: dict[str, Paper] = {}
        self.unread = unread  # id -> (month of the shard holding it, entry), until that shard is parsed
        self.unread_months: dict[str, list[str]] = {}  # month -> its unread ids
        for pid, (month, _) in unread.items():
            self.unread_months.setdefault(month, []).append(pid)
        self.changed: dict[str, Entry | None] = {}  # id -> entry before this run changed it (None: new)
        self.dirty: set[str] = set()  # shards holding a changed record
        self._load_month = load_month

    def load(self, months) -> None:
        for month in sorted(set(months) & set(self.unread_months)):
            self._load_month(month)  # fills self.loaded
            for pid in self.unread_months.pop(month):
                del self.unread[pid]

    def load_all(self) -> None:
        self.load(set(self.unread_months))

    def entry(self, pid: str) -> Entry | None:
        if pid in self.loaded:
            return entry_of(self.loaded[pid])
        found = self.unread.get(pid)
        return found[1] if found else None

    def entries(self) -> Iterator[tuple[str, Entry]]:
        for pid, paper in self.loaded.items():
            yield pid, entry_of(paper)
        yield from ((pid, entry) for pid, (_, entry) in self.unread.items())

    def __getitem__(self, pid: str) -> Paper:
        if pid not in self.loaded and pid in self.unread:
            self.load({self.unread[pid][0]})
        return self.loaded[pid]

    def __setitem__(self, pid: str, paper: Paper) -> None:
        month = shard_month(pid)
        self.load({month, *([self.unread[pid][0]] if pid in self.unread else [])})
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
