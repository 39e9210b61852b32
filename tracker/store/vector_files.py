"""The vector store's files: the SQLite database of rows, the flat vectors files beside it, their upkeep.

Plain functions used by tracker.store.vectors (which owns what the files mean). Every file is
opened without following links: a link where our file should be is neither read nor written
through. The old layouts' files (a `vectors/` folder of generations) are removed by their shape.
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import sqlite3
import stat
import zlib
from contextlib import closing
from pathlib import Path

import numpy as np

log = logging.getLogger("tracker.store.vectors")  # one logger for the store, whichever module speaks

STORE_FILE = "vectors.sqlite"
ANN_FILE = "vectors.faiss"
VECTORS_FILE = re.compile(r"vectors-(\d+)\.f32")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS papers (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, hash TEXT NOT NULL,
                                   listed INTEGER NOT NULL, meta TEXT NOT NULL);
"""


class Damaged(Exception):
    """The file does not add up (the message says how)."""


def vectors_path(state_dir: Path, number: int | str) -> Path:
    """Vectors file `number` (the generation of the save that wrote it)."""
    return state_dir / f"vectors-{int(number)}.f32"


def write_vectors(path: Path, vectors: np.ndarray) -> int:
    """Write the vectors file (a file left by a killed save is replaced, a link never written through); its CRC-32."""
    path.unlink(missing_ok=True)
    data = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1).view(np.uint8).data
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return zlib.crc32(data)


def connect(path: Path, *, read_only: bool = False) -> closing[sqlite3.Connection]:
    """A connection that closes on leaving `with` (sqlite3's own `with` only ends a transaction)."""
    source = f"file:{path}?mode=ro" if read_only else path
    db = sqlite3.connect(source, uri=read_only, timeout=600, isolation_level=None)
    if read_only:
        db.execute("PRAGMA mmap_size = 268435456")  # read the rows straight from the page cache
    else:
        db.executescript(_SCHEMA)
    return closing(db)


def roll_back_killed_save(path: Path) -> None:
    """A save killed midway leaves a hot journal that only a writable connection rolls back; a
    read-only one fails on it, and the whole store would be re-embedded for one interrupted save."""
    journal = path.with_name(f"{path.name}-journal")
    if journal.is_file() and not journal.is_symlink():
        with closing(sqlite3.connect(path, timeout=600, isolation_level=None)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()


def _database_files(state_dir: Path) -> list[Path]:
    return [state_dir / name for name in (STORE_FILE, *(f"{STORE_FILE}-{side}" for side in ("journal", "wal", "shm")))]


def _special(path: Path) -> bool:
    """A FIFO, socket or device (or a link to one): SQLite would wait on it forever or write into it."""
    return path.is_fifo() or path.is_socket() or path.is_char_device() or path.is_block_device()


def special_database_file(state_dir: Path) -> Path | None:
    return next((path for path in _database_files(state_dir) if _special(path)), None)


def remove_links(state_dir: Path) -> None:
    """Links or special files where the store or SQLite's side files go: SQLite would write through
    them (outside the state folder) or wait on them."""
    for path in _database_files(state_dir):
        if path.is_symlink() or _special(path):
            path.unlink()


def map_vectors(path: Path, count: int, dim: int, crc: int) -> np.ndarray:
    """The vectors file, memory-mapped read-only once its size and CRC-32 match (a link is not read)."""
    # O_NONBLOCK: a FIFO put there would hold the open until some writer came (a file ignores the flag)
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as handle:
        found = os.fstat(handle.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise Damaged(f"damaged ({path.name} is not a regular file)")
        size = found.st_size
        if size != count * dim * 4:
            raise Damaged(f"truncated or damaged ({path.name} is {size} bytes, expected {count * dim * 4})")
        if not size:
            return np.zeros((count, dim), dtype=np.float32)  # no rows, or rows of no dimensions
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)  # stays valid after close
    if zlib.crc32(mapped) != crc:  # ~1 GB/s, GIL released
        raise Damaged(f"damaged ({path.name} fails its check)")
    return np.frombuffer(mapped, dtype=np.float32).reshape(count, dim)


def remove_unnamed_vectors(store: Path, state_dir: Path) -> None:
    """Vectors files other than the one the database names (replaced, or left by a killed save).
    Under the write lock: no save is writing one; readers hold their read transaction until theirs is open."""
    try:
        with connect(store) as db:
            db.execute("BEGIN IMMEDIATE")
            current = vectors_path(state_dir, dict(db.execute("SELECT key, value FROM info"))["vectors"])
            for path in state_dir.iterdir():
                if VECTORS_FILE.fullmatch(path.name) and path != current:
                    path.unlink(missing_ok=True)
            db.execute("COMMIT")
    except (OSError, sqlite3.Error, KeyError, ValueError) as exc:  # saved all the same; the next save tries again
        log.info("old vectors files in %s not removed (%s)", state_dir, exc)


def problem(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, Damaged) else f"unreadable ({type(exc).__name__}: {exc})"


def remove_store_files(state_dir: Path) -> None:
    for path in (state_dir / name for name in (STORE_FILE, f"{STORE_FILE}-journal", ANN_FILE, f"{ANN_FILE}.json")):
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)


def remove_old_layout(state_dir: Path) -> None:
    """The previous layout's folder (`vectors/`: manifest + npy + sqlite + faiss generations), ours alone."""
    folder = state_dir / "vectors"
    if not folder.is_dir() or folder.is_symlink() or not (folder / "manifest.json").is_file():
        return
    for path in folder.iterdir():
        ours = path.name in ("manifest.json", ".lock") or path.suffix in (".npy", ".sqlite", ".faiss")
        if ours and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()
