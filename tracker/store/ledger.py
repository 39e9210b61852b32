"""The committed record of every paper seen: one record per paper, merged across topics and versions.

Stored as JSON Lines under `data/papers/YYYY-MM.jsonl`, sharded by the month in the arXiv
id (so a paper never changes shard) and sorted by id, one compact line per paper: daily
commits touch few lines. Lines are split at "\\n" only (see tracker.store.records).

Every paper enters through `Ledger.record` (the one text normalisation, tracker.text); records
read back are normalised too. A line that is not a valid record is warned about (file:line)
and kept verbatim; two records of one paper are merged by the same rule as a fetch.

With an `index` (tracker.store.ledger_index, a cache) a run parses only the shards it changes or shows.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from tracker.arxiv_ids import shard_month
from tracker.errors import TrackerError
from tracker.models import Paper, latest_date
from tracker.store.conflicts import refuse_conflict_markers
from tracker.store.journal import pending, recover, regular_file
from tracker.store.ledger_index import (
    Entry,
    PaperMap,
    ShardIndex,
    digest,
    entry_of,
    read_shard_index,
    write_shard_indexes,
)
from tracker.store.merging import Change, combine, merge
from tracker.store.records import BadRecord, decode, encode, line_id
from tracker.text import clean_line

log = logging.getLogger(__name__)
SHARD_DIR = "papers"
SHARD_NAME = re.compile(r"\d{4}-\d{2}\.jsonl")
JOURNAL = ".commit.json"  # in the data folder: an interrupted run's promised file updates
# GitHub warns about files over 50 MB (and rejects 100 MB). A record averages ~1.9 KB, so a month
# shard reaches this only near arXiv's whole monthly output (~25,000 papers): say so early.
SHARD_WARN_BYTES = 45_000_000


def journal_path(data_dir: Path) -> Path:
    return data_dir / JOURNAL


@dataclass(frozen=True)
class KeptLine:
    """A line that is not a valid record: written back unchanged, in its shard."""

    month: str
    id: str | None  # to keep it beside the record of that id, when it names one
    raw: bytes
    where: str = ""  # shard:line, for messages


@dataclass
class Ledger:
    papers: dict[str, Paper] | PaperMap = field(default_factory=dict)
    kept: list[KeptLine] = field(default_factory=list)
    months: set[str] = field(default_factory=set)  # shards parsed as found on disk: always written back
    shortened: Counter = field(default_factory=Counter, repr=False, compare=False)  # field -> values cut by record()
    # With an index (see load): where it lives, each shard's digest as read, and as `files` wrote it.
    index_path: Path | None = field(default=None, repr=False, compare=False)
    digests: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    previous: dict[str, ShardIndex] = field(default_factory=dict, repr=False, compare=False)  # index of a changed shard
    written: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _sources: dict[str, tuple[Path, Path]] = field(default_factory=dict, repr=False, compare=False)
    _origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, data_dir: Path, *, read_only: bool = False, index: Path | None = None) -> Ledger:
        """Read every shard. First finish what a killed run had committed to; with `read_only`,
        change no file and read the files as that commit would leave them.

        With `index` (a cache folder, tracker.store.ledger_index), a shard whose bytes the index
        describes is parsed only when one of its records is needed; `save_index` updates it."""
        journal = journal_path(data_dir)
        if read_only:
            promised = pending(journal)
        else:
            recover(journal)
            promised = {}
        ledger = cls()
        shards = _shards(data_dir / SHARD_DIR, promised)
        if index is None:
            for shard, source in shards:
                ledger._read_shard(shard, _read_bytes(source, shard))
        else:
            ledger._open_indexed(shards, index)
        return ledger

    def _open_indexed(self, shards: list[tuple[Path, Path]], index: Path) -> None:
        """Hash every shard; take entries from the index where the digest matches, parse the rest now."""
        self.index_path = index
        indexed: dict[str, dict[str, Entry]] = {}
        parse_now: dict[str, bytes] = {}
        for shard, source in shards:
            month = shard.name.removesuffix(".jsonl")
            data = _read_bytes(source, shard)
            self.digests[month], self._sources[month] = digest(data), (shard, source)
            known = read_shard_index(index, month)
            if known is not None and known.digest == self.digests[month]:
                indexed[month] = known.entries  # exactly the bytes we wrote: parsed when needed
                continue
            parse_now[month] = data  # new, or changed by hand / by git: read and checked in full
            if known is not None:
                self.previous[month] = known  # what it held before (tracker.render.plan compares)
        for month in _sharing_ids(indexed):  # one paper in two shards (by hand): both are read and rewritten
            del indexed[month]
            parse_now[month] = b""
        self.papers = papers = PaperMap(indexed, self._load_month)
        for month, data in sorted(parse_now.items()):
            shard, source = self._sources[month]
            self._read_shard(shard, data or _read_bytes(source, shard), into=papers.loaded)
        # A shard written back must be read in full first; so must one holding a copy of a parsed paper.
        while need := {m for m in self.months if m in papers.unread_months} | {
            papers.unread[pid] for pid in papers.loaded if pid in papers.unread
        }:
            papers.load(need)

    def _load_month(self, month: str) -> None:
        """Parse one indexed shard on first need. Its records were cleaned before they were written."""
        shard, source = self._sources[month]
        data = _read_bytes(source, shard)
        trusted = digest(data) == self.digests[month]
        if not trusted:
            log.warning("%s changed while this run was using it; it is read again and written back", shard)
        assert isinstance(self.papers, PaperMap)  # only a PaperMap calls this back
        self._read_shard(shard, data, into=self.papers.loaded, trusted=trusted)

    def _read_shard(
        self, shard: Path, data: bytes, *, into: MutableMapping[str, Paper] | None = None, trusted: bool = False
    ) -> None:
        month = shard.name.removesuffix(".jsonl")
        into = self.papers if into is None else into
        origins = self._origins
        if not trusted:
            refuse_conflict_markers(shard, data)  # before anything of this run is written
            self.months.add(month)
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            where = f"{shard}:{number}"
            try:
                paper, notes = _trusted(raw) if trusted else decode(raw)
            except BadRecord as exc:
                log.warning("%s: %s; the line is kept unchanged and ignored", where, exc)
                self.kept.append(KeptLine(month, line_id(raw), raw, where))
                continue
            for note in notes:
                log.warning("%s: %s", where, note)
            paper = paper if trusted else paper.cleaned()
            if paper.id in into:
                log.warning("%s and %s both hold %s; merged into one record", origins[paper.id], where, paper.id)
                paper = combine(into[paper.id], paper)
            if shard_month(paper.id) != month and not trusted:
                self.months.add(shard_month(paper.id))  # it moves to its own shard: write that one too
            into[paper.id] = paper
            origins[paper.id] = where

    def get(self, paper_id: str) -> Paper | None:
        return self.papers.get(paper_id)

    def entry(self, paper_id: str) -> Entry | None:
        """Version, topics and dates of a paper, without parsing its shard."""
        if isinstance(self.papers, PaperMap):
            return self.papers.entry(paper_id)
        paper = self.papers.get(paper_id)
        return entry_of(paper) if paper is not None else None

    def entries(self) -> Iterable[tuple[str, Entry]]:
        if isinstance(self.papers, PaperMap):
            return self.papers.entries()
        return ((pid, entry_of(paper)) for pid, paper in self.papers.items())

    def has_topic(self, topic: str) -> bool:
        return any(topic in entry.topics for _, entry in self.entries())

    def knows(self, paper: Paper, topic: str | None = None) -> bool:
        """True when the ledger has this version (or newer), and the topic if one is given."""
        known = self.entry(paper.id)
        if known is None or known.version < paper.version:
            return False
        return topic is None or clean_line(topic) in known.topics

    def record(self, incoming: Paper, topic: str | None, today: str) -> Change:
        """The one way into the ledger: clean the paper's text, then merge it with what we hold."""
        if today > latest_date().isoformat():  # a run date ahead would stamp first_seen in the future
            raise TrackerError(f"run date {today} is after tomorrow (UTC); nothing is recorded under a future date")
        incoming, cut = incoming.cleaned().capped()
        self.shortened.update(cut)
        self._refuse_unreadable_copy(incoming.id)
        merged, change = merge(self.papers.get(incoming.id), incoming, clean_line(topic) if topic else None, today)
        if merged != self.papers.get(incoming.id):
            self.papers[merged.id] = merged
        return change

    def _refuse_unreadable_copy(self, paper_id: str) -> None:
        """A paper whose only record is a line we cannot read would be recorded again as new, on a
        second line, every run: stop instead (before anything is written), naming that line."""
        if paper_id in self.papers:
            return
        for kept in self.kept:
            if kept.id == paper_id:
                raise TrackerError(
                    f"{kept.where}: the ledger holds a record of {paper_id} this tracker cannot read "
                    "(see the warning above); fix or remove that line and run again; nothing was written"
                )

    def update(self, papers: Iterable[Paper]) -> None:
        """Replace records wholesale (e.g. with relevance scores added by a later stage)."""
        for paper in papers:
            self.papers[paper.id] = paper.cleaned()

    def files(self, data_dir: Path) -> dict[Path, bytes]:
        """Every shard's full content, keyed by path: one compact, key-sorted JSON line per paper.

        With an index, only the shards that were parsed as found on disk or hold a changed record."""
        if isinstance(self.papers, PaperMap):
            while (write := self.months | self.papers.dirty) & set(self.papers.unread_months):
                self.papers.load(write)  # a shard is written only from a full read of it
            papers: Iterable[Paper] = [p for p in self.papers.loaded.values() if shard_month(p.id) in write]
        else:
            write, papers = self.months, self.papers.values()
        lines: dict[str, list[tuple[tuple, bytes]]] = {month: [] for month in write}
        for paper in papers:
            lines.setdefault(shard_month(paper.id), []).append(((0, paper.id, 0), encode(paper)))
        for kept in self.kept:
            key = (0, kept.id, 1) if kept.id is not None else (1, "", 0)
            lines.setdefault(kept.month, []).append((key, kept.raw))
        files = {}
        for month, entries in sorted(lines.items()):
            entries.sort(key=lambda entry: entry[0])  # stable: kept lines stay in their order
            body = b"\n".join(raw for _, raw in entries)
            files[data_dir / SHARD_DIR / f"{month}.jsonl"] = data = body + b"\n" if body else b""
            if len(data) > SHARD_WARN_BYTES:
                log.warning(
                    "%s is %.0f MB (%d papers); GitHub warns at 50 MB and rejects 100 MB: narrow the topics",
                    data_dir / SHARD_DIR / f"{month}.jsonl",
                    len(data) / 1e6,
                    len(entries),
                )
            self.written[month] = digest(data)
        return files

    def save_index(self) -> None:
        """After the shards of `files` are committed: what each shard holds, for the next run (a cache).

        Shards with lines that are not records are left out, so they are read (and warned about) each run."""
        if self.index_path is None or not isinstance(self.papers, PaperMap):
            return
        parsed = sorted(set(self.digests) - set(self.papers.unread_months))
        log.info(
            "ledger: parsed %d of %d shards (%s), wrote %d",
            len(parsed),
            len(self.digests),
            " ".join(parsed) or "none",
            len(self.written),
        )
        by_month: dict[str, dict[str, Entry]] = {month: {} for month in self.written}  # only rewritten shards change
        for pid, paper in self.papers.loaded.items():
            if shard_month(pid) in by_month:
                by_month[shard_month(pid)][pid] = entry_of(paper)
        bad = {kept.month for kept in self.kept}
        listed = {p.stem for p in self.index_path.glob("*.json")} if self.index_path.is_dir() else set()
        write_shard_indexes(
            self.index_path,
            {month: ShardIndex(self.written[month], by_month[month]) for month in self.written if month not in bad},
            drop=bad | (listed - set(self.digests) - set(self.written)),  # shards gone from disk
        )

    # --- what changed since a render (tracker.render.plan) --------------------------------------

    @property
    def indexed(self) -> bool:
        """Read through its index, so it can tell which papers changed since a given state."""
        return isinstance(self.papers, PaperMap)

    def shard_digests(self) -> dict[str, str]:
        """Each shard's digest as on disk once `files()` is written (as read, or as rewritten)."""
        return {**self.digests, **self.written}

    def changed_since(self, shards: dict[str, str]) -> dict[str, Entry | None] | None:
        """{id: its entry when the shards had these digests (None: not in the ledger then)} for every
        paper that may have changed since: changed by this run, or in a shard changed since (a fetch
        that did not render, a hand edit, a stale cache restored by CI). None when that cannot be told."""
        if not isinstance(self.papers, PaperMap):
            return None  # read without an index: nothing tells what changed
        before: dict[str, Entry | None] = dict(self.papers.changed)
        for month in set(shards) | set(self.digests):
            then = shards.get(month)
            if self.digests.get(month) == then:
                continue
            if month not in self.digests:
                return None  # a shard removed by hand
            previous = self.previous.get(month)
            if then is not None and (previous is None or previous.digest != then):
                return None  # its index describes another state than the one asked about
            old = previous.entries if previous is not None and then is not None else {}
            before.update({pid: old.get(pid) for pid in old})
            before.update({pid: old.get(pid) for pid in self.papers.loaded if shard_month(pid) == month})
        return before


def _shards(folder: Path, promised: dict[Path, Path | None]) -> list[tuple[Path, Path]]:
    """(shard, file to read it from): the shards on disk plus any a pending commit creates."""
    on_disk = {p.parent.resolve() / p.name: p for p in folder.glob("*.jsonl")} if folder.is_dir() else {}
    for path in sorted(p for p in on_disk if not regular_file(p)):  # a link may lead out of the repository
        log.warning("%s is not a regular file (a link, folder or special file); not read as a ledger shard", path)
        del on_disk[path]
    for path in sorted(set(on_disk) - {p for p in on_disk if SHARD_NAME.fullmatch(p.name)}):
        log.warning("%s is not a ledger shard (YYYY-MM.jsonl); ignored", path)
    real_folder = folder.resolve()
    names = {p for p in on_disk if SHARD_NAME.fullmatch(p.name)}
    names |= {t for t in promised if t.parent == real_folder and SHARD_NAME.fullmatch(t.name)}
    return [(shard, promised.get(shard) or shard) for shard in sorted(names)]


def _trusted(raw: bytes) -> tuple[Paper, list[str]]:
    """A line of a shard whose bytes this tracker wrote (its digest matches the index): encode()'s
    output, so read without the checks (a third of the cost); anything odd takes the checked path."""
    try:
        data = json.loads(raw)
        return Paper.from_dict(data), []
    except (ValueError, TypeError, AttributeError, RecursionError):
        return decode(raw)


def _sharing_ids(indexed: dict[str, dict]) -> set[str]:
    """Months whose shards hold an id another shard holds too (one quick pass when there are none)."""
    owner: dict[str, str] = {}
    for month, entries in indexed.items():
        owner.update(dict.fromkeys(entries, month))
    if len(owner) == sum(map(len, indexed.values())):
        return set()
    return {
        m for month, entries in indexed.items() for pid in entries if owner[pid] != month for m in (month, owner[pid])
    }


def _read_bytes(source: Path, shard: Path) -> bytes:
    try:
        return source.read_bytes()
    except FileNotFoundError:
        if source == shard:
            raise
        return shard.read_bytes()  # the stage was renamed into place meanwhile
