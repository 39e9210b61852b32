"""The search index on disk: build, incremental update, compaction, model checks, corruption."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.search_fakes import HashEncoder, paper
from tracker.store import index as vindex
from tracker.store.index import IndexCorrupt, IndexMissing, ModelMismatch
from tracker.store.search import search

TITLES = [
    "Sparse attention for long documents", "Graph neural networks for molecules", "Diffusion models for audio",
    "Retrieval augmented generation at scale", "Quantum error correction with surface codes",
    "Reinforcement learning from human feedback", "Protein folding with transformers",
    "Federated learning under heterogeneity", "Neural radiance fields for cities", "Speculative decoding for LLMs",
]


def rows_and_vectors(papers, encoder):
    texts = [f"{p.title}. {p.abstract}" for p in papers]
    rows = [vindex.row_from_paper(p, text_hash=str(hash(t))) for p, t in zip(papers, texts)]
    return rows, encoder.encode(texts)


@pytest.fixture
def corpus():
    return [paper(f"2401.{i:05d}", title) for i, title in enumerate(TITLES)]


@pytest.fixture
def built(tmp_path, corpus):
    encoder = HashEncoder()
    rows, vectors = rows_and_vectors(corpus, encoder)
    vindex.build(tmp_path, encoder.model_name, vectors, rows)
    return tmp_path, encoder


def top_id(state_dir, encoder, text):
    index = vindex.load(state_dir, encoder.model_name)
    return search(index, encoder.encode([text])[0], k=1)[0].id


def test_build_then_load_finds_papers_and_keeps_metadata(built):
    state_dir, encoder = built
    index = vindex.load(state_dir, encoder.model_name)
    assert (index.size, index.kind, index.dim) == (len(TITLES), "flat", encoder.dim)
    hit = search(index, encoder.encode(["Protein folding with transformers"])[0], k=1)[0]
    assert (hit.id, hit.date, hit.topics, hit.link) == ("2401.00006", "2024-01-10", ("llm",),
                                                        "https://arxiv.org/abs/2401.00006")
    assert index.rows([6])[0]["first_date"] == "2023-12-01"
    assert hit.score == pytest.approx(1.0, abs=0.3)


def test_update_adds_new_replaces_changed_and_refreshes_metadata(built, corpus):
    state_dir, encoder = built
    revised = corpus[3].with_changes(version=2, title="Bananas ripen in the dark", abstract="Fruit.")
    retagged = corpus[4].with_changes(topics=("llm", "quantum"))
    added = paper("2402.00001", "Mixture of experts routing")
    rows, vectors = rows_and_vectors([revised, retagged, added, corpus[0]], encoder)
    summary = vindex.update(state_dir, encoder.model_name, vectors, rows)
    assert (summary.added, summary.replaced, summary.refreshed, summary.unchanged) == (1, 1, 1, 1)
    index = vindex.load(state_dir, encoder.model_name)
    assert index.size == len(TITLES) + 1  # papers absent from the update are kept
    assert index.dead == 1  # the old vector of the revised paper stays in faiss, marked dead
    hits = search(index, encoder.encode(["Bananas ripen in the dark"])[0], k=len(TITLES) + 1)
    assert hits[0].id == "2401.00003"
    assert [h.id for h in hits].count("2401.00003") == 1  # the dead row never shows up
    assert top_id(state_dir, encoder, "Mixture of experts routing") == "2402.00001"
    assert index.rows([index.position("2401.00004")])[0]["topics"] == ["llm", "quantum"]


def test_update_with_nothing_new_writes_nothing(built, corpus):
    state_dir, encoder = built
    before = vindex.read_manifest(state_dir)
    rows, vectors = rows_and_vectors(corpus, encoder)
    summary = vindex.update(state_dir, encoder.model_name, vectors, rows)
    assert summary.unchanged == len(TITLES) and not (summary.added or summary.replaced or summary.refreshed)
    assert vindex.read_manifest(state_dir) == before


def test_many_replacements_compact_the_index(built, corpus):
    state_dir, encoder = built
    changed = [p.with_changes(version=2, abstract="Rewritten abstract.") for p in corpus[:5]]
    rows, vectors = rows_and_vectors(changed, encoder)
    summary = vindex.update(state_dir, encoder.model_name, vectors, rows)
    assert summary.replaced == 5 and summary.rebuilt
    index = vindex.load(state_dir, encoder.model_name)
    assert (index.ntotal, index.dead, index.size) == (len(TITLES), 0, len(TITLES))
    assert top_id(state_dir, encoder, TITLES[7]) == "2401.00007"
    assert sorted(p.name for p in (state_dir / "index").iterdir()) == ["index-2.faiss", "manifest.json", "meta-2.sqlite"]


def test_crossing_the_threshold_switches_to_hnsw(tmp_path, corpus):
    encoder = HashEncoder()
    rows, vectors = rows_and_vectors(corpus[:5], encoder)
    vindex.build(tmp_path, encoder.model_name, vectors, rows, hnsw_threshold=8)
    assert vindex.load(tmp_path).kind == "flat"
    rows, vectors = rows_and_vectors(corpus, encoder)
    summary = vindex.update(tmp_path, encoder.model_name, vectors, rows, hnsw_threshold=8)
    assert summary.rebuilt and summary.kind == "hnsw" and summary.size == len(TITLES)
    assert top_id(tmp_path, encoder, TITLES[9]) == "2401.00009"


def test_missing_index_says_run_tracker_index(tmp_path):
    with pytest.raises(IndexMissing, match="run `tracker index`"):
        vindex.load(tmp_path)


def test_model_mismatch_is_refused_and_explained(built):
    state_dir, encoder = built
    with pytest.raises(ModelMismatch, match=r"built with model 'fake-bow' \(64-d\).*'other-model'.*--rebuild"):
        vindex.load(state_dir, "other-model")
    other = HashEncoder("other-model", dim=32)
    rows, vectors = rows_and_vectors([paper("2402.00001", "x")], other)
    with pytest.raises(ModelMismatch):
        vindex.update(state_dir, other.model_name, vectors, rows)


def test_same_model_name_with_other_dim_is_refused(built):
    state_dir, encoder = built
    rows, vectors = rows_and_vectors([paper("2402.00001", "x")], HashEncoder(dim=32))
    with pytest.raises(ModelMismatch, match="64-d"):
        vindex.update(state_dir, encoder.model_name, vectors, rows)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("which", ["index", "meta"])
def test_damaged_files_are_reported_as_corrupt(built, damage, which):
    state_dir, encoder = built
    manifest = vindex.read_manifest(state_dir)
    path = state_dir / "index" / manifest["files"][which]["name"]
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    with pytest.raises(IndexCorrupt, match=r"^index is corrupt .*run `tracker index --rebuild`$"):
        vindex.load(state_dir, encoder.model_name)


def test_garbled_manifest_is_corrupt(built):
    state_dir, _ = built
    (state_dir / "index" / "manifest.json").write_text('{"format": 1, "files": ')
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        vindex.load(state_dir)


def test_rebuild_replaces_a_corrupt_index(built, corpus):
    state_dir, encoder = built
    manifest = vindex.read_manifest(state_dir)
    (state_dir / "index" / manifest["files"]["index"]["name"]).write_bytes(b"junk")
    rows, vectors = rows_and_vectors(corpus, encoder)
    vindex.build(state_dir, encoder.model_name, vectors, rows)
    assert top_id(state_dir, encoder, TITLES[2]) == "2401.00002"
    assert json.loads((state_dir / "index" / "manifest.json").read_text())["generation"] == 2


def test_vectors_must_match_rows(tmp_path):
    with pytest.raises(ValueError, match="expected 2 vectors"):
        vindex.build(tmp_path, "m", np.zeros((3, 4), np.float32), [{"id": "a"}, {"id": "b"}])


# --- `tracker index` over the ledger ---------------------------------------------------------


@pytest.fixture
def ledger_project(tmp_path, corpus):
    from click.testing import CliRunner

    from tracker.cli.main import cli
    from tracker.store.ledger import Ledger

    pytest.importorskip("tracker.enrich.embed")
    encoder = HashEncoder()
    (tmp_path / "keywords.yaml").write_text(
        f"topics:\n  - name: llm\n    keywords: [llm]\nembedding:\n  model: {encoder.model_name}\n", encoding="utf-8")

    def save(papers):
        for path, text in Ledger({p.id: p for p in papers}).files(tmp_path / "data").items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def run(*args):
        return CliRunner().invoke(cli, [*args, "--config", str(tmp_path / "keywords.yaml")],
                                  obj={"encoder": encoder, "query_encoder": encoder})

    save(corpus)
    run.save, run.encoder, run.state_dir = save, encoder, tmp_path / ".tracker"
    return run


def test_index_command_builds_then_updates_from_the_ledger(ledger_project, corpus):
    result = ledger_project("index", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == len(TITLES)
    assert [hit["id"] for hit in json.loads(ledger_project("search", TITLES[5], "-k", "1", "--json").output)] == [
        "2401.00005"]

    ledger_project.save(corpus[:-1] + [corpus[-1].with_changes(version=2, abstract="New abstract."),
                                       paper("2402.00001", "Mixture of experts routing")])
    summary = json.loads(ledger_project("index", "--json").output)
    assert (summary["added"], summary["replaced"], summary["unchanged"]) == (1, 1, len(TITLES) - 1)
    assert json.loads(ledger_project("index", "--json").output)["unchanged"] == len(TITLES) + 1


def test_index_rebuild_recovers_from_corruption_and_model_change(ledger_project):
    assert ledger_project("index").exit_code == 0
    manifest = vindex.read_manifest(ledger_project.state_dir)
    (ledger_project.state_dir / "index" / manifest["files"]["meta"]["name"]).write_bytes(b"\0" * 10)
    result = ledger_project("index")
    assert result.exit_code == 1 and "index is corrupt" in result.output and "--rebuild" in result.output
    result = ledger_project("index", "--rebuild")
    assert result.exit_code == 0 and "10 papers (flat)" in result.output

    config = ledger_project.state_dir.parent / "keywords.yaml"
    config.write_text(config.read_text().replace("fake-bow", "fake-bow-2"))
    result = ledger_project("index")
    assert result.exit_code == 1 and "built with model 'fake-bow'" in result.output
    assert ledger_project("index", "--rebuild").exit_code == 0
    assert vindex.read_manifest(ledger_project.state_dir)["model"] == "fake-bow-2"
