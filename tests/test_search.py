"""Search over the vector store: filters before the top-k cut, similar papers, id forms, the commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.search_fakes import HashEncoder, fixture_papers, paper
from tracker.enrich.embed import embed_papers
from tracker.errors import TrackerError
from tracker.store.search import Filters, search, similar
from tracker.store.vectors import STORE_FILE, VectorStore

# 30 papers on one theme ("graph") and 10 on another; the filtered topic has the *worst* matches,
# so a search that cut to top-k before filtering would return too few of them.
GRAPH = [paper(f"2401.{i:05d}", f"Graph neural network variant {i}", topics=("graphs",), date=f"2024-01-{i % 28 + 1:02d}")
         for i in range(30)]
OTHER = [paper(f"2402.{i:05d}", f"Protein structure study {i} with a graph", topics=("bio",),
               authors=("Émile Zola", "Grace Hopper"), date="2024-02-15") for i in range(10)]
OLD_STYLE = [paper("hep-th/9901001", "String dualities in graph form", topics=("physics",), version=2,
                   date="1999-01-05")]
PROFILE = [paper("2403.00001", "Graph neural network variant 7", topics=())]  # the group's own: not news
PAPERS = GRAPH + OTHER + OLD_STYLE + PROFILE


@pytest.fixture(scope="module")
def encoder():
    return HashEncoder(dim=256)


@pytest.fixture(scope="module")
def store(tmp_path_factory, encoder):
    state_dir = tmp_path_factory.mktemp("state")
    built = VectorStore.open(state_dir, encoder.model_name)
    embed_papers(built, PAPERS, encoder)
    built.save()
    return VectorStore.open(state_dir, encoder.model_name, with_meta=False)


def query(encoder, text):
    return encoder.encode([text])[0]


def test_title_query_finds_the_paper_first_with_its_metadata(store, encoder):
    hit = search(store, query(encoder, "Graph neural network variant 7"), k=3)[0]
    assert (hit.id, hit.date, hit.authors, hit.topics, hit.link) == (
        "2401.00007", "2024-01-08", ("Ada Lovelace",), ("graphs",), "https://arxiv.org/abs/2401.00007")
    q = query(encoder, "Graph neural network variant 7")
    assert hit.score == pytest.approx(float(store.vector("2401.00007") @ q), abs=1e-6)


def test_profile_papers_are_not_search_results(store, encoder):
    hits = search(store, query(encoder, "Graph neural network variant 7"), k=50)
    assert "2403.00001" not in {h.id for h in hits} and len(hits) == len(PAPERS) - 1
    with pytest.raises(TrackerError, match="2403.00001 is not in the search index"):
        similar(store, "2403.00001")


def test_topic_filter_applies_before_top_k(store, encoder):
    q = query(encoder, "graph neural network variant")
    assert all(h.id.startswith("2401.") for h in search(store, q, k=10))  # the bio papers rank below these
    hits = search(store, q, k=10, filters=Filters(topic="BIO"))
    assert len(hits) == 10 and {h.topics for h in hits} == {("bio",)}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_author_filter_is_a_case_insensitive_substring_on_any_author(store, encoder):
    q = query(encoder, "graph")
    assert {h.id for h in search(store, q, k=50, filters=Filters(author="hopp"))} == {p.id for p in OTHER}
    assert len(search(store, q, k=50, filters=Filters(author="émile ZOLA"))) == 10
    assert search(store, q, k=50, filters=Filters(author="nobody")) == []


def test_date_filters_are_inclusive_on_the_latest_version_date(store, encoder):
    q = query(encoder, "graph")
    hits = search(store, q, k=100, filters=Filters(since="2024-01-01", until="2024-01-02"))
    assert sorted(h.date for h in hits) == ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"]
    assert [h.id for h in search(store, q, k=100, filters=Filters(until="2000-01-01"))] == ["hep-th/9901001"]


def test_filters_combine(store, encoder):
    hits = search(store, query(encoder, "graph"), k=100, filters=Filters(topic="graphs", since="2024-01-27"))
    assert {h.date for h in hits} == {"2024-01-27", "2024-01-28"} and all(h.topics == ("graphs",) for h in hits)


@pytest.mark.parametrize("form", ["2401.00003", "2401.00003v1", "arXiv:2401.00003", "arxiv:2401.00003v7",
                                  " https://arxiv.org/abs/2401.00003v2 "])
def test_similar_accepts_id_forms_and_never_returns_the_paper(store, form):
    hits = similar(store, form, k=5)
    assert len(hits) == 5 and "2401.00003" not in {h.id for h in hits}
    assert all(h.id.startswith("2401.") for h in hits)


def test_similar_with_old_style_id_and_filters(store):
    hits = similar(store, "hep-th/9901001v2", k=100)
    assert len(hits) == len(PAPERS) - 2 and "hep-th/9901001" not in {h.id for h in hits}
    assert {h.topics for h in similar(store, "2401.00001", k=3, filters=Filters(topic="bio"))} == {("bio",)}


def test_unknown_id_says_so_and_how_to_fetch_it(store):
    with pytest.raises(TrackerError, match=r"^2309\.99999 is not in the search index .*`tracker index`$"):
        similar(store, "arXiv:2309.99999v1")
    with pytest.raises(TrackerError, match="not an arXiv identifier"):
        similar(store, "banana")


@pytest.mark.parametrize("k", [0, -3])
def test_k_must_be_positive(store, encoder, k):
    with pytest.raises(TrackerError, match=f"-k must be at least 1 \\(got {k}\\)"):
        search(store, query(encoder, "graph"), k=k)
    with pytest.raises(TrackerError, match="-k must be at least 1"):
        similar(store, "2401.00001", k=k)


def test_k_larger_than_the_store_returns_every_listed_paper(store, encoder):
    assert len(search(store, query(encoder, "graph"), k=1000)) == len(PAPERS) - 1


def test_query_of_another_dimension_is_refused(store):
    with pytest.raises(TrackerError, match="dimensions"):
        search(store, np.ones(7, dtype=np.float32), k=3)


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, encoder):
    """A config + ledger in a temp folder; returns a function running the CLI with the fake encoder."""
    from click.testing import CliRunner

    from tracker.cli.main import cli
    from tracker.store.ledger import Ledger

    (tmp_path / "keywords.yaml").write_text(
        "topics:\n  - name: graphs\n    keywords: [graph]\n  - name: bio\n    keywords: [protein]\n"
        "  - name: physics\n    keywords: [string]\n"  # `--topic` takes the config's topics
        f"embedding:\n  model: {encoder.model_name}\noutput:\n  state_dir: state\n", encoding="utf-8")

    def save_ledger(papers):
        for path, text in Ledger({p.id: p for p in papers}).files(tmp_path / "data").items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))

    counting = HashEncoder(encoder.model_name, dim=encoder.dim)

    def run(*args):
        return CliRunner().invoke(cli, [*args, "--config", str(tmp_path / "keywords.yaml")],
                                  obj={"encoder": counting, "query_encoder": encoder})

    save_ledger(PAPERS)
    run.save_ledger, run.state_dir, run.counting, run.config = save_ledger, tmp_path / "state", counting, tmp_path / "keywords.yaml"
    return run


def test_search_command_prints_hits_with_authors_and_json(project):
    result = project("search", "Protein structure study 4 with a graph", "-k", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[2] == "2402.00004" and lines[1].strip() == "Émile Zola, Grace Hopper"
    result = project("search", "graph", "--topic", "bio", "--author", "GRACE", "--since", "2024-02-01", "--json")
    hits = json.loads(result.stdout)
    assert len(hits) == 10 and set(hits[0]) == {"score", "id", "date", "title", "authors", "topics", "link"}
    assert hits[0]["authors"] == ["Émile Zola", "Grace Hopper"]


def test_no_store_yet_is_built_from_the_ledger_once(project):
    assert not project.state_dir.exists()
    assert project("similar", "2401.00005", "-k", "2").exit_code == 0
    assert len(project.counting.encoded) == len(PAPERS)
    assert project("search", "graph").exit_code == 0 and len(project.counting.encoded) == len(PAPERS)


def test_index_command_embeds_only_what_changed(project):
    assert json.loads(project("index", "--json").stdout) == {"papers": 42, "embedded": 42, "searchable": 41}
    project.save_ledger(PAPERS[:-1] + [PAPERS[-1].with_changes(abstract="New abstract."), paper("2404.00001", "Mixture")])
    assert json.loads(project("index", "--json").stdout) == {"papers": 43, "embedded": 2, "searchable": 42}
    assert json.loads(project("index", "--json").stdout)["embedded"] == 0
    assert json.loads(project("index", "--rebuild", "--json").stdout)["embedded"] == 43
    result = project("index")
    assert result.exit_code == 0 and "42 searchable papers (43 stored); embedded 0" in result.output


def test_similar_command_excludes_the_paper(project):
    result = project("similar", "arXiv:2401.00005v3", "-k", "4", "--json")
    assert result.exit_code == 0, result.output
    ids = [hit["id"] for hit in json.loads(result.stdout)]
    assert len(ids) == 4 and "2401.00005" not in ids


@pytest.mark.parametrize("args, message", [
    (["search", "  "], "the search query is empty"),
    (["search", "graph", "-k", "0"], "-k must be at least 1 (got 0)"),
    (["search", "graph", "-k", "-2"], "-k must be at least 1 (got -2)"),
    (["search", "graph", "--since", "2024-03-01", "--until", "2024-01-01"], "is after --until"),
    (["search", "graph", "--topic", " "], "--topic is empty"),
    (["similar", "2309.99999"], "2309.99999 is not in the search index"),
    (["similar", "2401.00001", "-k", "0"], "-k must be at least 1"),
])
def test_bad_input_is_one_clear_line(project, args, message):
    assert project("index").exit_code == 0
    result = project(*args)
    assert result.exit_code == (1 if message.endswith("not in the search index") else 2)  # usage errors: 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ") and message in result.output


@pytest.mark.parametrize("args, named, message", [
    (["search", "graph", "--since", "2024-13-01"], "'--since'", "YYYY-MM-DD"),
    (["search", "graph", "--until", "last week"], "'--until'", "YYYY-MM-DD"),
    (["similar", "not-an-id"], "ARXIV_ID", "not an arXiv identifier"),
])
def test_a_malformed_argument_is_a_usage_error_naming_it(project, args, named, message):
    result = project(*args)
    assert result.exit_code == 2 and named in result.output and message in result.output


def test_a_damaged_store_is_rebuilt_not_an_error(project, caplog):
    assert project("index").exit_code == 0
    stored = project.state_dir / STORE_FILE
    stored.write_bytes(stored.read_bytes()[: len(stored.read_bytes()) // 2])
    project.counting.encoded.clear()
    result = project("search", "Protein structure study 4 with a graph", "-k", "1")
    assert result.exit_code == 0 and result.stdout.split()[2] == "2402.00004"
    assert len(project.counting.encoded) == len(PAPERS)  # re-embedded, never served from the damaged file


def test_a_model_change_in_config_rebuilds_instead_of_mixing_spaces(project):
    assert project("index").exit_code == 0
    project.config.write_text(project.config.read_text().replace("model: fake-bow", "model: fake-bow-2"))
    project.counting.model_name = "fake-bow-2"
    result = project("index", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["embedded"] == len(PAPERS)
    assert len(VectorStore.open(project.state_dir, "fake-bow-2")) == len(PAPERS)
    assert len(VectorStore.open(project.state_dir, "fake-bow")) == 0  # the old model's vectors are gone


def test_every_command_has_help_with_an_example(project):
    for command in ("search", "similar", "index"):
        result = project(command, "--help")
        assert result.exit_code == 0 and "Example: tracker " + command in result.output


# --- quality with the real model -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_store(tmp_path_factory, real_encoder):
    """The ~117 real fixture abstracts stored with the production encoder."""
    papers = fixture_papers()
    state_dir = tmp_path_factory.mktemp("real")
    store = VectorStore.open(state_dir, real_encoder.model_name)
    embed_papers(store, papers, real_encoder)
    store.save()
    return papers, state_dir, VectorStore.open(state_dir, real_encoder.model_name, with_meta=False)


@pytest.mark.model
def test_a_title_query_finds_its_paper_first(real_store, real_query_encoder):
    papers, _, store = real_store
    vectors = real_query_encoder.encode([p.title for p in papers])
    misses = [p.id for p, v in zip(papers, vectors) if search(store, v, k=1)[0].id != p.id]
    assert len(papers) > 100
    assert len(misses) / len(papers) <= 0.05, misses


@pytest.mark.model
def test_similar_papers_share_the_subject(real_store):
    _, _, store = real_store
    hits = similar(store, "arXiv:1201.4869v1", k=3)  # "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert hits[0].id == "1101.2206"  # "Helium-4 Luttinger liquids in nanopores"
    assert "1201.4869" not in {hit.id for hit in hits}


@pytest.mark.model
def test_search_command_runs_the_real_model_without_heavy_imports_or_home_writes(real_store, tmp_path):
    _, state_dir, store = real_store
    config = tmp_path / "keywords.yaml"
    config.write_text(f"topics:\n  - name: t\n    keywords: [t]\noutput:\n  state_dir: {state_dir}\n", encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tracker", "search",
                           "Helium-4 Luttinger liquids in nanopores", "-k", "2", "--json", "--config", str(config)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stderr[-2000:]
    hits = json.loads(done.stdout)
    assert hits[0]["id"] == "1101.2206" and hits[0]["authors"]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "sentence_transformers", "sklearn", "jinja2", "arxiv", "transformers", "nncf"}
    assert not list(home.iterdir())  # no ~/intel (OpenVINO telemetry) or anything else under HOME
