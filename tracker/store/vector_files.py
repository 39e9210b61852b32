"""The vector store's files: manifest shape, checksums, the vectors (.npy) and rows (sqlite) files.

Plain functions used by tracker.store.vectors; nothing here knows about papers or encoders.
"""
from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("tracker.store.vectors")  # one logger for the store, whichever module speaks

MANIFEST = "manifest.json"
FORMAT = 1


class Damaged(Exception):
    """The store on disk does not add up (the message says how)."""


def read_manifest(folder: Path, *, quiet: bool = False) -> dict[str, Any] | None:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        if quiet:
            return None
        raise Damaged(f"unreadable ({path.name}: {exc})") from None
    if not sound_manifest(manifest):
        if quiet:
            return None
        raise Damaged(f"not a format-{FORMAT} store ({path.name})")
    return manifest


def sound_manifest(manifest: Any) -> bool:
    """The shape a manifest must have before anything in it is used (file names: plain names in the folder)."""
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT and isinstance(manifest.get("files"), dict)):
        return False
    files = manifest["files"]
    entries_ok = all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str) and Path(entry["name"]).name == entry["name"]
        and entry["name"] not in ("", ".", "..", MANIFEST) and isinstance(entry.get("size"), int)
        and isinstance(entry.get("crc32"), int) for entry in files.values())
    counts_ok = all(isinstance(manifest.get(key), int) and manifest[key] >= 0 for key in ("count", "dim"))
    return entries_ok and counts_ok and {"vectors", "rows"} <= set(files) <= {"vectors", "rows", "ann"}


def verify(path: Path, entry: dict[str, Any]) -> None:
    size = path.stat().st_size  # FileNotFoundError: the caller reads the manifest again
    if size != entry.get("size"):
        raise Damaged(f"truncated or damaged ({path.name} is {size} bytes, expected {entry.get('size')})")
    if crc32(path) != entry.get("crc32"):
        raise Damaged(f"damaged ({path.name} fails its checksum)")


def crc32(path: Path) -> int:
    """CRC-32 catches truncation and damage at ~3 GB/s (a cryptographic hash adds nothing against accidents)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return zlib.crc32(b"")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:  # no copy, GIL released
            return zlib.crc32(mapped)


def describe(path: Path) -> dict[str, Any]:
    return {"name": path.name, "size": path.stat().st_size, "crc32": crc32(path)}


def write_vectors(path: Path, vectors: np.ndarray) -> dict[str, Any]:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    return describe(path)


def read_rows(path: Path, with_meta: bool) -> list[tuple]:
    columns = "pos, id, hash, listed" + (", meta" if with_meta else ", NULL")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return db.execute(f"SELECT {columns} FROM rows ORDER BY pos").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise Damaged(f"unreadable ({path.name}: {exc})") from None


def read_meta(path: Path, positions: list[int] | None) -> list[tuple[int, str]]:
    """(pos, metadata JSON) of the given rows (all rows when None), from a verified rows file."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        if positions is None:
            return db.execute("SELECT pos, meta FROM rows ORDER BY pos").fetchall()
        marks = ",".join("?" * len(positions))
        return db.execute(f"SELECT pos, meta FROM rows WHERE pos IN ({marks})", positions).fetchall()
    finally:
        db.close()


def write_rows(path: Path, ids: list[str], hashes: list[str], listed: list[bool], meta: list[str]) -> dict[str, Any]:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE rows (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, hash TEXT NOT NULL, "
                   "listed INTEGER NOT NULL, meta TEXT NOT NULL)")
        db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?)",
                       zip(range(len(ids)), ids, hashes, map(int, listed), meta))
        db.commit()
    finally:
        db.close()
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return describe(path)


def remove_old_layouts(state_dir: Path) -> None:
    """Earlier versions' caches: .npz embeddings, the faiss + sqlite index, per-folder model exports.

    Only files those versions wrote, by their exact shape, are removed (state_dir may be shared
    with other things, even be the project folder), then their folders if left empty. Never
    follows a link.
    """
    patterns = {"embeddings": ("*.npz",), "index": ("manifest.json", "index-*.faiss", "meta-*.sqlite", "*.tmp")}
    for name, globs in patterns.items():
        folder = state_dir / name
        if folder.is_dir() and not folder.is_symlink() and _is_old(folder, name):
            for pattern in globs:
                for path in folder.glob(pattern):
                    if path.is_file() and not path.is_symlink():
                        path.unlink(missing_ok=True)
            _remove_if_empty(folder)
    models = state_dir / "models"
    if models.is_dir() and not models.is_symlink():
        for export in models.iterdir():
            if export.is_dir() and not export.is_symlink() and _is_old_export(export):
                shutil.rmtree(export, ignore_errors=True)
        _remove_if_empty(models)


def _is_old(folder: Path, name: str) -> bool:
    if name == "embeddings":
        return any(folder.glob("*.npz"))
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == 1 and "ntotal" in manifest


def _is_old_export(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "recipe" in manifest and "source" in manifest


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
        log.info("removed %s (replaced by the vector store)", folder)
    except OSError:  # not empty: something that is not ours lives there
        pass
