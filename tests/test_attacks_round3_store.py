"""Attack round 3 on the SQLite vector store: a save killed midway, links where the store or its side files go."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.test_vectors import PAPERS, embed
from tracker.store.vectors import STORE_FILE, VectorStore

# A second process that starts a save (the write lock held, rows deleted, enough written to spill to
# disk) and is killed before COMMIT, like kill -9 or a cancelled Actions job.
KILLED_SAVE = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 1")
db.execute("BEGIN IMMEDIATE")
db.execute("DELETE FROM blocks")
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


def test_a_linked_journal_is_not_written_through(tmp_path):
    state, outside = tmp_path / "state", tmp_path / "outside-journal"
    state.mkdir()
    outside.write_bytes(b"keep me")
    (state / f"{STORE_FILE}-journal").symlink_to(outside)
    embed(state)
    embed(state, list(reversed(PAPERS[:4])))
    assert outside.read_bytes() == b"keep me"
    assert len(VectorStore.open(state, "fake-model")) == len(PAPERS)
