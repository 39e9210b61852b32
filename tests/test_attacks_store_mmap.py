"""Attacks on the memory-mapped vector store: odd files where the vectors file goes, another run saving mid-search."""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.search_fakes import paper
from tests.test_search import encoder, project  # noqa: F401 (fixtures)
from tests.test_vectors import PAPERS, embed
from tracker.errors import TrackerError
from tracker.store.search import Filters, search
from tracker.store.vectors import STORE_FILE, VectorStore

ROOT = Path(__file__).resolve().parent.parent

# Another run (its own process) rebuilding the store from argv[1]'s papers in the other order, some dropped.
REBUILD = """
import sys
from pathlib import Path
from tests.test_attacks_store_mmap import papers
from tests.test_embed import CountingEncoder
from tracker.enrich.embed import embed_papers
from tracker.store.vectors import STORE_FILE, VectorStore
store = VectorStore.open(Path(sys.argv[1]), "fake-model")
store.clear()
embed_papers(store, papers(int(sys.argv[2]))[::-1][: int(sys.argv[3])], CountingEncoder())
assert store.save()
"""


def papers(count: int) -> list:
    """The first half dated January, the second February (a --since filter tells them apart)."""
    return [paper(f"2401.{i:05d}", f"Paper {i}", date="2024-01-10" if i < count // 2 else "2024-02-10")
            for i in range(count)]


def rebuild_in_another_process(state_dir: Path, count: int, keep: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", REBUILD, str(state_dir), str(count), str(keep)], check=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("count, keep", [(10, 4), (600, 600)], ids=["rows read by id", "all rows read (filters)"])
def test_a_search_while_another_run_rebuilds_the_store_never_mixes_their_rows(tmp_path, count, keep):
    """`tracker search` opens the store while its encoder loads and reads the rows it prints later."""
    embed(tmp_path, papers(count))
    reader = VectorStore.open(tmp_path, "fake-model", with_meta=False)
    query = reader.vector("2401.00001")
    rebuild_in_another_process(tmp_path, count, keep)
    try:
        hits = search(reader, query, 5, Filters(since="2024-02-01"))
    except TrackerError as exc:  # one clear line: run it again
        assert "changed" in str(exc) and "again" in str(exc)
    else:  # or an answer, but only ever the right one
        assert hits and all(hit.date >= "2024-02-01" and hit.title == f"Paper {int(hit.id[5:])}" for hit in hits)


SPECIAL_OPEN = """
import logging, sys
from pathlib import Path
from tests.test_vectors import embed
from tracker.store.vectors import VectorStore
logging.basicConfig(level=logging.WARNING)
print(len(VectorStore.open(Path(sys.argv[1]), "fake-model")))
_, count, _ = embed(Path(sys.argv[1]))
print(count, len(VectorStore.open(Path(sys.argv[1]), "fake-model")))
"""


@pytest.mark.parametrize("name", ["vectors-1.f32", STORE_FILE, f"{STORE_FILE}-journal"])
def test_a_fifo_where_a_store_file_goes_is_not_waited_on(tmp_path, name):
    """Opening a FIFO for reading blocks until a writer comes: the store must not hang on it."""
    embed(tmp_path, PAPERS)
    (tmp_path / name).unlink(missing_ok=True)
    os.mkfifo(tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([sys.executable, "-c", SPECIAL_OPEN, str(tmp_path)], capture_output=True, text=True,
                              env=env, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"opening the store hung on a FIFO named {name}")
    assert done.returncode == 0 and done.stdout.split() == ["0", str(len(PAPERS)), str(len(PAPERS))], done.stderr
    assert "will be rebuilt" in done.stderr and name in done.stderr and "Traceback" not in done.stderr


# A save that runs out of disk (a file size limit, as `ulimit -f` sets): the vectors file stops short.
SAVE_TOO_BIG = """
import logging, resource, sys
from pathlib import Path
from tests.test_attacks_store_mmap import papers
from tests.test_embed import CountingEncoder
from tracker.enrich.embed import embed_papers
from tracker.store.vectors import STORE_FILE, VectorStore
logging.basicConfig(level=logging.WARNING)
resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))
store = VectorStore.open(Path(sys.argv[1]), "fake-model")
embed_papers(store, papers(400), CountingEncoder())
print(store.save())
"""


def test_a_save_that_runs_out_of_disk_leaves_the_old_store_and_no_half_file_taking_the_space(tmp_path):
    embed(tmp_path, papers(100))  # 100 x 16 floats: 6,400 bytes
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SAVE_TOO_BIG, str(tmp_path)], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False" and "not saved" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.glob("vectors-*.f32")] == ["vectors-1.f32"]  # the disk is as full as before
    assert len(VectorStore.open(tmp_path, "fake-model")) == 100


def _spoil_row(state_dir: Path, statement: str) -> None:
    with closing(sqlite3.connect(state_dir / STORE_FILE)) as db:
        db.execute(statement)
        db.commit()


def test_a_row_whose_search_metadata_no_longer_parses_is_one_line_then_rebuilt(project):
    assert project("index").exit_code == 0
    _spoil_row(project.state_dir, "UPDATE papers SET meta = substr(meta, 1, 20) WHERE id = '2402.00004'")
    result = project("search", "Protein structure study 4 with a graph", "-k", "2")
    assert result.exit_code != 0 and not isinstance(result.exception, json.JSONDecodeError)
    assert "damaged" in result.output and "tracker index" in result.output and len(result.output.splitlines()) == 1
    assert project("index").exit_code == 0  # sees the damage, rebuilds
    result = project("search", "Protein structure study 4 with a graph", "-k", "1")
    assert result.exit_code == 0 and "Protein structure study 4" in result.output


def test_a_flipped_byte_in_a_title_is_seen_by_the_next_run_not_kept(tmp_path, caplog):
    embed(tmp_path)
    _spoil_row(tmp_path, "UPDATE papers SET meta = replace(meta, 'number 3', 'numbeR 3')")
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        assert len(VectorStore.open(tmp_path, "fake-model")) == 0
    assert "will be rebuilt" in caplog.text
