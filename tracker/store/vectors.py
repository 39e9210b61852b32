"""The one vector store: every paper's vector once, `.tracker/vectors.sqlite` + `vectors-<N>.f32`
(the files themselves, their checks and upkeep: tracker.store.vector_files).

    info(key, value)                      format, model, model files' fingerprint, dim, generation,
                                          the CRC-32 of every row's id and text hash, which
                                          vectors file (N) and its CRC-32
    papers(pos, id, hash, listed, meta)   one row per paper: the hash of the embedded text, whether
                                          search lists it (it has a topic), what search prints (JSON)
    vectors-<N>.f32                       the float32 unit vectors, row after row (pos order), nothing else

The vectors sit in a flat file beside the database because search reads them all: memory-mapped
they cost no copy, where read out of SQLite BLOBs they cost the copies that made a cold
`tracker search` 1.7x slower (benchmarks/search.py). The file is checked against its CRC-32 on
open (zlib reads the map without holding the GIL, beside the query encoder's load): a flipped
bit is seen, never served. A save writes a new file N (the save's generation) only when vectors
changed, then commits its name in one SQLite transaction: a killed run leaves the old store or
the new. Files that the database does not name are removed under SQLite's write lock, and a
reader opens its file before its read transaction ends, so no save removes a file being opened.
Two processes never interleave (SQLite's lock; a save that finds another process's newer save
rewrites everything, so the store is one process's, never a mix). The store is a cache: a
missing, damaged, other-format or other-model store is logged and rebuilt by re-embedding; a
failed save is logged, never an error. From ANN_THRESHOLD rows a faiss index (optional extra,
tracker.store.index) in `vectors.faiss` proposes candidates that the exact vectors re-score.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tracker.errors import TrackerError
from tracker.model_files import canonical_model_name, model_identity, same_model
from tracker.store import index as nn
from tracker.store import vector_files as files
from tracker.store.vector_files import ANN_FILE, STORE_FILE, Damaged

log = logging.getLogger(__name__)

FORMAT = "3"


class StoreChanged(TrackerError):
    """Another run saved the store between our opening it and a late read of its rows."""


def row_meta(paper: Any) -> dict[str, Any]:
    """What search shows and filters on, from a tracker.models.Paper."""
    return {
        "date": paper.date,
        "first_date": (paper.published or paper.updated or paper.first_seen or "")[:10],
        "title": " ".join((paper.title or "").split()),
        "authors": list(paper.authors),
        "topics": list(paper.topics),
        "link": paper.abs_url or f"https://arxiv.org/abs/{paper.id}",
    }


class VectorStore:
    """The store of one model in `<state_dir>/vectors.sqlite`. Open with `VectorStore.open`."""

    def __init__(self, state_dir: Path, model_name: str):
        self.state_dir, self.model_name = Path(state_dir), model_name
        self.path = self.state_dir / STORE_FILE
        self.model_files = model_identity(model_name)  # the model's fingerprint; None for unresolvable names
        self.generation: int | None = 0  # of what was read; None after clear(): the next save replaces everything
        self.ids: list[str] = []
        self._positions: dict[str, int] | None = {}  # built on first need: search alone never needs it
        self._hashes: list[str] = []
        self._listed: list[bool] = []
        self._meta: list[str] | None = []  # JSON per row; None until needed (search reads rows lazily)
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._changed_rows: set[int] = set()  # new or re-embedded since load
        self._dirty_rows: set[int] = set()  # rows whose papers-table entry changed
        self._ann: Any = None
        self._listed_mask: np.ndarray | None = None

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path, model_name: str, *, with_meta: bool = True) -> VectorStore:
        """The store, checked; empty (to be rebuilt) when missing, damaged or of another model."""
        store = cls(state_dir, model_name)
        if store.path.is_symlink():  # not a file we made: never read or written through (save replaces the link)
            log.warning("vector store %s is a link, not the tracker's file; it will be rebuilt", store.path)
            store.clear()
            return store
        if not store.path.exists():
            return store
        special = files.special_database_file(store.state_dir)
        if special is not None:  # opening it would wait forever (a FIFO) or read a device; save replaces it
            log.warning("vector store %s: %s is not a regular file; it will be rebuilt", store.path, special.name)
            store.clear()
            return store
        try:
            files.roll_back_killed_save(store.path)
            with files.connect(store.path, read_only=True) as db:
                db.execute("BEGIN")  # one snapshot, held until the vectors file is open: no save removes it meanwhile
                store._load(db, with_meta)
        except (Damaged, sqlite3.Error, OSError, ValueError, KeyError) as exc:
            log.warning("vector store %s is %s; it will be rebuilt", store.path, files.problem(exc))
            store.clear()
        return store

    def _load(self, db: sqlite3.Connection, with_meta: bool) -> None:
        info = dict(db.execute("SELECT key, value FROM info"))
        if info.get("format") != FORMAT:
            raise Damaged(f"of another format ({info.get('format')!r})")
        if not same_model(info.get("model", ""), self.model_name):
            raise Damaged(f"for model {info.get('model')!r}, not {canonical_model_name(self.model_name)!r}")
        if None not in (info.get("model_files"), self.model_files) and info["model_files"] != self.model_files:
            raise Damaged(f"for other files of model {info['model']!r} (it was changed since)")
        # One string per column, not a tuple per row: 100,000 rows in ~0.05 s. A scan runs in pos (rowid) order.
        ids, hashes, listed, count, first, last = db.execute(
            "SELECT group_concat(id, char(10)), group_concat(hash, char(10)), group_concat(listed, ''),"
            " count(*), min(pos), max(pos) FROM papers"
        ).fetchone()
        self.ids, self._hashes = (ids.split("\n"), hashes.split("\n")) if count else ([], [])
        if count and (first, last, len(listed)) != (0, count - 1, count):
            raise Damaged("inconsistent (row positions have gaps)")
        if str(_rows_crc(self.ids, self._hashes)) != info.get("rows_crc"):
            raise Damaged("damaged (the paper rows fail their check)")
        self._listed, self._positions = [flag == "1" for flag in listed or ""], None
        self._meta = [text for (text,) in db.execute("SELECT meta FROM papers ORDER BY pos")] if with_meta else None
        if self._meta is not None and not _meta_sound(info, self._meta):
            raise Damaged("damaged (the papers' search metadata fails its check)")
        vectors_file = files.vectors_path(self.state_dir, info["vectors"])
        self._vectors = files.map_vectors(vectors_file, count, int(info["dim"]), int(info["vectors_crc"]))
        self.generation = int(info["generation"])

    def clear(self) -> None:
        """Forget everything (the next save replaces the whole file)."""
        self.ids, self._positions, self._hashes, self._listed, self._meta = [], {}, [], [], []
        self._vectors, self._ann, self._listed_mask = np.zeros((0, 0), dtype=np.float32), None, None
        self._changed_rows, self._dirty_rows, self.generation = set(), set(), None

    # --- what it holds ----------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        return int(self._vectors.shape[1]) if len(self.ids) else None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def _pos(self) -> dict[str, int]:
        """The row of each id."""
        if self._positions is None:
            self._positions = {pid: pos for pos, pid in enumerate(self.ids)}
        return self._positions

    def vector(self, paper_id: str) -> np.ndarray | None:
        pos = self._pos.get(paper_id)
        return None if pos is None else np.array(self._vectors[pos])

    def text_hash_of(self, paper_id: str) -> str | None:
        pos = self._pos.get(paper_id)
        return None if pos is None else self._hashes[pos]

    def is_listed(self, paper_id: str) -> bool:
        pos = self._pos.get(paper_id)
        return pos is not None and self._listed[pos]

    def listed(self) -> np.ndarray:
        """Boolean row mask: papers with a topic (search shows only these). Read-only; cached."""
        if self._listed_mask is None or len(self._listed_mask) != len(self._listed):
            self._listed_mask = np.array(self._listed, dtype=bool)
            self._listed_mask.flags.writeable = False
        return self._listed_mask

    def meta(self, paper_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Search metadata of the given papers, in order (id included)."""
        if self._meta is None and len(paper_ids) <= 500:  # opened for search: read just these rows
            with files.connect(self.path, read_only=True) as db:
                marks = ",".join("?" * len(paper_ids))
                found = dict(db.execute(f"SELECT id, meta FROM papers WHERE id IN ({marks})", list(paper_ids)))
            if not found.keys() >= set(paper_ids):
                raise self._changed()
            texts = [found[pid] for pid in paper_ids]
        else:  # many rows (filters): read them all at once
            meta = self._load_meta()
            positions = self._pos
            texts = [meta[positions[pid]] for pid in paper_ids]
        try:
            return [{"id": pid, **json.loads(text)} for pid, text in zip(paper_ids, texts, strict=True)]
        except (ValueError, TypeError) as exc:  # (not a JSON object: TypeError)
            raise self._damaged(f"a paper's search metadata is unreadable: {exc}") from None

    def _load_meta(self) -> list[str]:
        """Each row's metadata (JSON), read from the file on first need (before any row is added)."""
        if self._meta is None:
            meta: list[str | None] = [None] * len(self.ids)
            if self.ids:  # (no file to read before the first save)
                with files.connect(self.path, read_only=True) as db:
                    db.execute("BEGIN")
                    rows = db.execute("SELECT pos, id, meta FROM papers").fetchall()
                    info = dict(db.execute("SELECT key, value FROM info"))
                for pos, pid, text in rows:
                    if pos < len(meta) and pid == self.ids[pos]:
                        meta[pos] = text
                if not _meta_sound(info, [text for _, _, text in rows]):
                    raise self._damaged("the papers' search metadata fails its check")
            if None in meta:
                raise self._changed()
            self._meta = [text or "{}" for text in meta]
        return self._meta

    def _damaged(self, how: str) -> TrackerError:
        """Damage seen after opening (the rows search reads late): the next `tracker index` or run rebuilds."""
        return TrackerError(f"the search index {self.path} is damaged ({how}): run `tracker index --rebuild`")

    def _changed(self) -> StoreChanged:
        """Rows read after opening (search reads them once its encoder is loaded) were moved or dropped
        by another run's save meanwhile (one that replaced the whole store)."""
        return StoreChanged(
            f"the search index {self.path} changed while being read (another tracker run saved it):"
            " run the command again"
        )

    # --- filling (tracker.enrich.embed decides what to embed) --------------------------------

    def missing(self, hashes: dict[str, str]) -> list[str]:
        """The ids (of {id: text hash}) with no vector for that text yet, in the given order."""
        rows, stored = self._pos, self._hashes
        return [pid for pid, digest in hashes.items() if pid not in rows or stored[rows[pid]] != digest]

    def vectors(self, paper_ids: Sequence[str]) -> np.ndarray:
        """A copy of the vectors of these papers, in order (each must have one)."""
        positions = self._pos
        rows = [positions[pid] for pid in paper_ids]
        return np.array(self._vectors[rows], dtype=np.float32).reshape(len(rows), self.dim or 0)

    def put(self, ids: list[str], digests: list[str], vectors: np.ndarray) -> None:
        """Set the unit vectors of these papers (new rows or replaced ones); written at `save()`."""
        positions, meta = self._pos, self._load_meta()  # new rows need the old rows' metadata beside them
        new = [pid for pid in ids if pid not in positions]
        base = self._vectors if len(self.ids) else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        self._vectors = np.concatenate([base, np.zeros((len(new), vectors.shape[1]), dtype=np.float32)])
        for pid in new:
            positions[pid] = len(self.ids)
            self.ids.append(pid)
            self._hashes.append("")
            self._listed.append(False)
            meta.append("{}")
        for pid, digest, vector in zip(ids, digests, vectors, strict=True):
            pos = positions[pid]
            self._vectors[pos], self._hashes[pos] = vector, digest
            self._changed_rows.add(pos)
            self._dirty_rows.add(pos)

    def describe(self, papers: Sequence[Any]) -> None:
        """Record what search shows of these papers (row_meta) and whether it lists them."""
        rows, positions = self._load_meta(), self._pos
        for paper in papers:
            pos, meta = positions[paper.id], json.dumps(row_meta(paper), ensure_ascii=False, sort_keys=True)
            if rows[pos] != meta or self._listed[pos] != bool(paper.topics):
                rows[pos], self._listed[pos], self._listed_mask = meta, bool(paper.topics), None
                self._dirty_rows.add(pos)

    # --- searching --------------------------------------------------------------------------

    def search(
        self, query_vec: Any, k: int, *, keep: Callable[[str], bool] | None = None, listed_only: bool = True
    ) -> list[tuple[str, float]]:
        """[(paper id, cosine)] of the k papers closest to `query_vec`, best first.

        `keep(id)` filters before the top-k cut (so k results come back whenever k pass it);
        `listed_only` leaves out papers with no topic (e.g. the group's own profile papers).
        """
        if not self.ids or k < 1:
            return []
        query = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"the query has {query.shape[0]} dimensions, the store {self.dim}")
        allowed = self.listed() if listed_only else None
        if keep is not None:
            kept = np.fromiter((keep(pid) for pid in self.ids), dtype=bool, count=len(self.ids))
            allowed = kept if allowed is None else allowed & kept
        ann = self._load_ann()
        if ann is not None:
            found = nn.ann_top(ann, self._vectors, query, k, allowed)
        else:
            found = nn.exact_top(self._vectors, query, k, allowed)
        return [(self.ids[pos], score) for pos, score in found]

    def _load_ann(self) -> Any:
        """The faiss accelerator, when built for exactly these vectors (and faiss is installed)."""
        if self._ann is None and not self._changed_rows and len(self.ids) >= nn.ANN_THRESHOLD:
            self._ann = nn.read_ann(self.state_dir / ANN_FILE, self.generation)
        return None if self._changed_rows else self._ann

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> bool:
        """Write what changed in one transaction. Never raises on I/O: logs and returns False."""
        if not self._dirty_rows and self.generation is not None:
            return False
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            generation = self._write_file()
        except (OSError, sqlite3.Error) as exc:  # disk full, read-only, a folder where the file should be
            log.warning(
                "vector store %s not saved (%s); the next run embeds again what it lacks", self.path, files.problem(exc)
            )
            # the vectors file written for it, if any: a full disk keeps no half
            files.remove_unnamed_vectors(self.path, self.state_dir)
            return False
        self._save_ann(generation)
        self.generation, self._changed_rows, self._dirty_rows = generation, set(), set()
        files.remove_old_layout(self.state_dir)
        return True

    def _write_file(self) -> int:
        files.remove_links(self.state_dir)
        try:
            with files.connect(self.path) as db:
                generation = self._write(db)
        except sqlite3.DatabaseError:
            if self.generation is not None or not self.path.is_file():
                raise
            files.remove_store_files(self.state_dir)  # not a database at all (we found it damaged): start anew
            with files.connect(self.path) as db:
                generation = self._write(db)
        files.remove_unnamed_vectors(self.path, self.state_dir)
        return generation

    def _write(self, db: sqlite3.Connection) -> int:
        db.execute("BEGIN IMMEDIATE")  # the write lock, for the whole save
        stored = dict(db.execute("SELECT key, value FROM info"))
        whole = self.generation is None or int(stored.get("generation", 0)) != self.generation
        if whole:  # rebuilt, or another process saved since we read: ours replaces it all
            db.execute("DELETE FROM papers")
            db.execute("DROP TABLE IF EXISTS blocks")  # format 2 kept the vectors there
        rows, meta = range(len(self.ids)) if whole else sorted(self._dirty_rows), self._load_meta()
        db.executemany(
            "INSERT OR REPLACE INTO papers VALUES (?, ?, ?, ?, ?)",
            [(pos, self.ids[pos], self._hashes[pos], int(self._listed[pos]), meta[pos]) for pos in rows],
        )
        generation = int(stored.get("generation", 0)) + 1
        if whole or self._changed_rows:  # else the vectors file stays the one already named in info
            vectors_crc = files.write_vectors(files.vectors_path(self.state_dir, generation), self._vectors)
            stored["vectors"], stored["vectors_crc"] = str(generation), str(vectors_crc)
        info = {
            "format": FORMAT,
            "model": canonical_model_name(self.model_name),
            "model_files": self.model_files or "",
            "dim": str(self.dim or 0),
            "generation": str(generation),
            "rows_crc": str(_rows_crc(self.ids, self._hashes)),
            "meta_crc": str(_meta_crc(meta)),
            "vectors": stored["vectors"],
            "vectors_crc": stored["vectors_crc"],
        }
        db.executemany("INSERT OR REPLACE INTO info VALUES (?, ?)", list(info.items()))
        db.execute("COMMIT")
        return generation

    def _save_ann(self, generation: int) -> None:
        if len(self.ids) < nn.ANN_THRESHOLD:
            for name in (ANN_FILE, f"{ANN_FILE}.json"):
                (self.state_dir / name).unlink(missing_ok=True)
            return
        old = nn.read_ann(self.state_dir / ANN_FILE, self.generation, writable=True)
        self._ann = nn.save_ann(self.state_dir / ANN_FILE, self._vectors, generation, old, sorted(self._changed_rows))


def _rows_crc(ids: list[str], hashes: list[str]) -> int:
    """One checksum over which paper sits at which row with which text: a flipped id is seen."""
    return zlib.crc32("\n".join(hashes).encode(), zlib.crc32("\n".join(ids).encode()))


def _meta_sound(info: dict[str, str], meta: list[str]) -> bool:
    """The search metadata (every row's, in row order) matches its CRC-32 (stores saved before it had none)."""
    return info.get("meta_crc") in (None, str(_meta_crc(meta)))


def _meta_crc(meta: list[str]) -> int:
    return zlib.crc32("\n".join(meta).encode())
