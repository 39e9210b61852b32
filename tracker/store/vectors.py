"""The one vector store: every paper's vector once, for "embed only what changed" and for search.

`.tracker/vectors/` holds one generation of three files, all named in `manifest.json`:
  vectors-G.npy   float32 (rows, dim), unit rows; row i is the paper in rows-G.sqlite at pos i
  rows-G.sqlite   pos, paper id, hash of the embedded text, `listed` (has a topic, so search
                  shows it), and the metadata search prints and filters on (JSON)
  ann-G.faiss     only from tracker.store.index.ANN_THRESHOLD rows: the search accelerator
The manifest (format, model, dim, count, each file's size and CRC-32) is written last and
atomically. Opening checks it all once (the one integrity check and the one model check):
a store that is missing, truncated, damaged, of another format or of another model is logged
and starts empty, so it is rebuilt by re-embedding; wrong vectors are never served. It is a
cache: the ledger is the truth, and a failed save is logged, never an error.

Saves take a file lock (two processes never interleave their files), write new files under new
names, then the manifest; files of the generation before are kept one round for readers that
read the old manifest a moment ago, and removed on the next save. Older layouts (.npz cache,
faiss + sqlite index, per-folder model exports) are removed by the first save.
"""
from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from tracker.enrich.embed import embed_text, text_hash
from tracker.enrich.encoders.base import normalise
from tracker.enrich.encoders.models import canonical_model_name, model_identity, same_model
from tracker.progress import progress
from tracker.store import index as nn
from tracker.store import vector_files as vf
from tracker.store.journal import write_atomic
from tracker.store.vector_files import FORMAT, MANIFEST, Damaged

log = logging.getLogger(__name__)

STORE_DIR = "vectors"
ENCODE_BATCH = 64  # texts per encode call: progress moves every batch (the encoder batches inside too)


def row_meta(paper: Any) -> dict[str, Any]:
    """What search shows and filters on, from a tracker.models.Paper."""
    return {"date": paper.date, "first_date": (paper.published or paper.updated or paper.first_seen or "")[:10],
            "title": " ".join((paper.title or "").split()), "authors": list(paper.authors),
            "topics": list(paper.topics), "link": paper.abs_url or f"https://arxiv.org/abs/{paper.id}"}


class VectorStore:
    """The store of one model in `<state_dir>/vectors/`. Open with `VectorStore.open`."""

    def __init__(self, folder: Path, model_name: str):
        self.folder, self.model_name = Path(folder), model_name
        self.model_files = model_identity(model_name)  # the model's fingerprint; None for unresolvable names
        self.manifest: dict[str, Any] | None = None
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._hashes: list[str] = []
        self._listed: list[bool] = []
        self._listed_mask: np.ndarray | None = None  # self._listed as an array, for search
        self._meta: list[str] | None = []  # JSON per row; None until needed (search reads rows lazily)
        self._vectors: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self._changed_rows: set[int] = set()  # new or re-embedded since load
        self._rows_dirty = False
        self._ann: Any = None

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path, model_name: str, *, with_meta: bool = True) -> VectorStore:
        """The store, checked; empty (to be rebuilt) when missing, damaged or of another model."""
        store = cls(Path(state_dir) / STORE_DIR, model_name)
        for attempt in range(2):
            try:
                store._load(with_meta)
                return store
            except FileNotFoundError:
                if attempt == 0:  # a concurrent save replaced the generation we read: read again
                    continue
                problem = "missing files named in its manifest"
            except Damaged as exc:
                problem = str(exc)
            except OSError as exc:  # unreadable: permissions, I/O errors, a file where the folder should be
                problem = f"unreadable ({exc})"
            log.warning("vector store %s is %s; it will be rebuilt", store.folder, problem)
            store.clear()
            return store
        raise AssertionError("unreachable")

    def _load(self, with_meta: bool) -> None:
        manifest = vf.read_manifest(self.folder)
        if manifest is None:
            return
        if not same_model(str(manifest.get("model")), self.model_name):
            raise Damaged(f"for model {manifest.get('model')!r}, not {canonical_model_name(self.model_name)!r}")
        if None not in (manifest.get("model_files"), self.model_files) and manifest["model_files"] != self.model_files:
            raise Damaged(f"for other files of model {manifest['model']!r} (it was changed since)")
        files = manifest["files"]
        for entry in files.values():
            vf.verify(self.folder / entry["name"], entry)
        count, dim = manifest["count"], manifest["dim"]
        try:
            vectors = np.load(self.folder / files["vectors"]["name"], mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise Damaged(f"unreadable ({files['vectors']['name']}: {exc})") from None
        if vectors.dtype != np.float32 or vectors.shape != (count, dim):
            raise Damaged(f"inconsistent (vectors {vectors.dtype} {vectors.shape}, manifest {count} x {dim})")
        rows = vf.read_rows(self.folder / files["rows"]["name"], with_meta)  # meta: pipeline compares it
        if [pos for pos, *_ in rows] != list(range(count)):
            raise Damaged("inconsistent (rows and vectors do not line up)")
        self.manifest, self._vectors = manifest, vectors
        self.ids = [row[1] for row in rows]
        self._pos = {pid: pos for pos, pid in enumerate(self.ids)}
        self._hashes = [row[2] for row in rows]
        self._listed = [bool(row[3]) for row in rows]
        self._meta = [row[4] for row in rows] if with_meta else None

    def clear(self) -> None:
        """Forget everything (the next save replaces the files on disk)."""
        self.ids, self._pos, self._hashes, self._listed, self._meta = [], {}, [], [], []
        self.manifest = None  # nothing on disk is reused (an old accelerator, vectors file)
        self._vectors, self._ann, self._listed_mask = np.zeros((0, 0), dtype=np.float32), None, None
        self._changed_rows, self._rows_dirty = set(), True

    # --- what it holds ----------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        return int(self._vectors.shape[1]) if len(self.ids) else None

    def __len__(self) -> int:
        return len(self.ids)

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
        positions = [self._pos[pid] for pid in paper_ids]
        if self._meta is None and len(positions) > 500:  # many rows (filters): read them all at once
            self._load_meta()
        if self._meta is not None:
            texts = [self._meta[pos] for pos in positions]
        else:  # opened for search: read just these rows
            found = dict(vf.read_meta(self.folder / self.manifest["files"]["rows"]["name"], positions))
            texts = [found[pos] for pos in positions]
        return [{"id": pid, **json.loads(text)} for pid, text in zip(paper_ids, texts)]

    def _load_meta(self) -> None:
        if self._meta is None:
            self._meta = [text for _, text in vf.read_meta(self.folder / self.manifest["files"]["rows"]["name"], None)] \
                if self.manifest else ["{}"] * len(self.ids)

    # --- embedding --------------------------------------------------------------------------

    def vectors_for(self, papers: Sequence[Any], encoder: Any) -> tuple[np.ndarray, int]:
        """Vectors aligned with `papers`, embedding only papers whose text is new or changed.

        Returns (vectors, how many texts were embedded). The encoder is not touched (a lazy one
        is not even loaded) when nothing is new. Nothing is written until `save()`.
        """
        if not same_model(encoder.model_name, self.model_name):
            raise ValueError(f"the store is for {self.model_name!r} but the encoder is {encoder.model_name!r}")
        self._load_meta()  # the rows' metadata, to compare with the papers'
        texts = [embed_text(p) for p in papers]
        digests = [text_hash(t) for t in texts]
        todo = {p.id: (t, d) for p, t, d in zip(papers, texts, digests) if self.text_hash_of(p.id) != d}
        if todo:
            fresh = normalise(encode_with_progress(encoder, [t for t, _ in todo.values()]))
            if fresh.ndim != 2 or len(fresh) != len(todo):
                raise ValueError(f"encoder returned shape {fresh.shape} for {len(todo)} texts")
            if self.dim not in (None, fresh.shape[1]):
                log.warning("vector store %s holds %s-d vectors, the model gives %d-d; rebuilding it",
                            self.folder, self.dim, fresh.shape[1])
                self.clear()
                return self.vectors_for(papers, encoder)
            self._put(list(todo), [d for _, d in todo.values()], fresh)
        self._note_meta(papers)
        rows = [self._pos[p.id] for p in papers]
        return np.array(self._vectors[rows], dtype=np.float32).reshape(len(papers), self.dim or 0), len(todo)

    def _put(self, ids: list[str], digests: list[str], vectors: np.ndarray) -> None:
        new = [pid for pid in ids if pid not in self._pos]
        base = self._vectors if len(self.ids) else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        self._vectors = np.concatenate([base, np.zeros((len(new), vectors.shape[1]), dtype=np.float32)])
        for pid in new:
            self._pos[pid] = len(self.ids)
            self.ids.append(pid)
            self._hashes.append("")
            self._listed.append(False)
            self._meta.append("{}")
        for pid, digest, vector in zip(ids, digests, vectors):
            pos = self._pos[pid]
            self._vectors[pos], self._hashes[pos] = vector, digest
            self._changed_rows.add(pos)
        self._rows_dirty = True

    def _note_meta(self, papers: Sequence[Any]) -> None:
        for paper in papers:
            pos, meta = self._pos[paper.id], json.dumps(row_meta(paper), ensure_ascii=False, sort_keys=True)
            if self._meta[pos] != meta or self._listed[pos] != bool(paper.topics):
                self._meta[pos], self._listed[pos], self._listed_mask = meta, bool(paper.topics), None
                self._rows_dirty = True

    # --- searching --------------------------------------------------------------------------

    def search(self, query_vec: Any, k: int, *, keep: Callable[[str], bool] | None = None,
               listed_only: bool = True) -> list[tuple[str, float]]:
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
        found = nn.ann_top(ann, self._vectors, query, k, allowed) if ann is not None else \
            nn.exact_top(self._vectors, query, k, allowed)
        return [(self.ids[pos], score) for pos, score in found]

    def _load_ann(self) -> Any:
        entry = (self.manifest or {}).get("files", {}).get("ann")
        if self._ann is None and entry and not self._changed_rows:
            self._ann = nn.read_ann(self.folder / entry["name"])
        return self._ann if not self._changed_rows else None  # unsaved changes: exact until saved

    # --- saving -----------------------------------------------------------------------------

    def save(self) -> bool:
        """Write a new generation if anything changed (atomic, locked). Never raises on I/O: logs."""
        if not self._rows_dirty:
            return False
        from filelock import FileLock

        tag = secrets.token_hex(4)  # names this save's files: unique, so no two writers ever share one
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.folder / ".lock"), timeout=600):
                self._write_generation(tag)
        except (OSError, TimeoutError, sqlite3.Error, RuntimeError) as exc:  # disk full, read-only, faiss errors
            for partial in self.folder.glob(f"*-{tag}.*") if self.folder.is_dir() else ():
                partial.unlink(missing_ok=True)
            log.warning("vector store %s not saved (%s); the next run embeds again what it lacks", self.folder, exc)
            return False
        self._rows_dirty = False
        self._changed_rows.clear()
        vf.remove_old_layouts(self.folder.parent)
        return True

    def _write_generation(self, tag: str) -> None:
        previous = vf.read_manifest(self.folder, quiet=True)
        generation = int((previous or {}).get("generation", 0)) + 1
        tag = f"{generation:06d}-{tag}"
        old_files = (self.manifest or {}).get("files", {})
        files = {}
        vectors_kept = not self._changed_rows and "vectors" in old_files and (self.folder / old_files["vectors"]["name"]).exists()
        if vectors_kept:
            files["vectors"] = old_files["vectors"]
        else:
            files["vectors"] = vf.write_vectors(self.folder / f"vectors-{tag}.npy", self._vectors)
        files["rows"] = vf.write_rows(self.folder / f"rows-{tag}.sqlite", self.ids, self._hashes, self._listed, self._meta)
        if len(self.ids) >= nn.ANN_THRESHOLD:
            files["ann"] = self._write_ann(self.folder / f"ann-{tag}.faiss", old_files.get("ann"), vectors_kept)
        manifest = {"format": FORMAT, "generation": generation, "model": canonical_model_name(self.model_name),
                    "model_files": self.model_files,
                    "dim": int(self._vectors.shape[1]) if len(self.ids) else 0, "count": len(self.ids), "files": files}
        write_atomic(self.folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        keep = {MANIFEST, ".lock"} | {e["name"] for m in (manifest, previous or {}) for e in m.get("files", {}).values()}
        for path in self.folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
        self.manifest, self._ann = manifest, None

    def _write_ann(self, path: Path, old: dict | None, unchanged: bool) -> dict[str, Any]:
        if old and unchanged and (self.folder / old["name"]).exists():
            return old
        if old and (self.folder / old["name"]).exists():  # kept in step: changed and new rows re-added
            ann = nn.read_ann(self.folder / old["name"], writable=True)
            nn.update_ann(ann, self._vectors, np.array(sorted(self._changed_rows), dtype=np.int64))
        else:  # crossing the threshold (or after a rebuild)
            ann = nn.build_ann(self._vectors)
        nn.write_ann(ann, path)
        return vf.describe(path)


def encode_with_progress(encoder: Any, texts: list[str], batch: int = ENCODE_BATCH) -> np.ndarray:
    """`encoder.encode(texts)` a batch at a time, so a terminal shows how far the embedding is."""
    with progress(len(texts), "embedding", "papers") as bar:
        parts = []
        for start in range(0, len(texts), batch):
            parts.append(np.asarray(encoder.encode(texts[start:start + batch]), dtype=np.float32))
            bar.update(len(texts[start:start + batch]))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
