"""Attack round 3 on the SQLite vector store: a save killed midway, links where the store or its side files go."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.search_fakes import paper
from tests.test_vectors import PAPERS, embed
from tracker.store.vectors import STORE_FILE, VectorStore

# A second process that starts a save (the write lock held, half the next vectors file written, rows
# deleted, enough written to spill to disk) and is killed before COMMIT, like kill -9 or a cancelled Actions job.
KILLED_SAVE = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 1")
db.execute("BEGIN IMMEDIATE")
open(os.path.join(os.path.dirname(sys.argv[1]), "vectors-2.f32"), "wb").write(os.urandom(1000))
db.execute("DELETE FROM papers")
db.execute("CREATE TABLE filler (x)")
db.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(1000),) for _ in range(2000)])
os._exit(9)
"""


def test_a_save_killed_midway_costs_no_re_embedding(tmp_path):
    expected, _, _ = embed(tmp_path)
    subprocess.run([sys.executable, "-c", KILLED_SAVE, str(tmp_path / STORE_FILE)], check=False)
    assert (tmp_path / f"{STORE_FILE}-journal").exists()  # sanity: the kill left a hot journal
    vectors, count, _ = embed(tmp_path)
    assert count == 0 and np.array_equal(vectors, expected)
    _, _, store = embed(tmp_path, PAPERS[:3] + [paper("2402.00001", "New")])  # the next save replaces the half file
    assert [p.name for p in tmp_path.glob("vectors-*.f32")] == ["vectors-2.f32"] and store.generation == 2
    assert len(VectorStore.open(tmp_path, "fake-model")) == len(PAPERS) + 1


@pytest.mark.parametrize("content", [b"", b"root:x:0:0:root:/root:/bin/bash\n"], ids=["empty file", "passwd-like file"])
def test_a_store_that_is_a_link_is_replaced_and_its_target_untouched(tmp_path, content):
    state, outside = tmp_path / "state", tmp_path / "outside"
    state.mkdir()
    outside.write_bytes(content)
    (state / STORE_FILE).symlink_to(outside)
    expected, count, _ = embed(state)
    assert count == len(PAPERS) and outside.read_bytes() == content
    assert not (state / STORE_FILE).is_symlink()
    vectors, count, _ = embed(state)
    assert count == 0 and np.array_equal(vectors, expected)


def test_a_dangling_link_is_replaced_once_not_re_embedded_every_run(tmp_path):
    (tmp_path / STORE_FILE).symlink_to(tmp_path / "gone" / "vectors.sqlite")
    embed(tmp_path)
    _, count, _ = embed(tmp_path)
    assert count == 0 and not (tmp_path / "gone").exists()


def test_a_linked_vectors_file_is_neither_read_nor_written_through(tmp_path, caplog):
    expected, _, _ = embed(tmp_path / "state")
    (vectors_file,) = (tmp_path / "state").glob("vectors-*.f32")
    outside = tmp_path / "outside"
    outside.write_bytes(vectors_file.read_bytes())  # the same bytes: only the link gives it away
    vectors_file.unlink()
    vectors_file.symlink_to(outside)
    vectors, count, store = embed(tmp_path / "state")
    assert count == len(PAPERS) and np.array_equal(vectors, expected) and "will be rebuilt" in caplog.text
    (tmp_path / "state" / f"vectors-{store.generation + 1}.f32").symlink_to(outside)  # where the next save writes
    embed(tmp_path / "state", PAPERS + [paper("2402.00001", "New")])
    assert outside.read_bytes() == expected.tobytes() and not any(p.is_symlink() for p in (tmp_path / "state").iterdir())


def test_a_linked_journal_is_not_written_through(tmp_path):
    state, outside = tmp_path / "state", tmp_path / "outside-journal"
    state.mkdir()
    outside.write_bytes(b"keep me")
    (state / f"{STORE_FILE}-journal").symlink_to(outside)
    embed(state)
    embed(state, list(reversed(PAPERS[:4])))
    assert outside.read_bytes() == b"keep me"
    assert len(VectorStore.open(state, "fake-model")) == len(PAPERS)
