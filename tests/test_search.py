"""Query logic: filters before the top-k cut, similar papers, id forms, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.search_fakes import HashEncoder, fixture_papers, paper
from tracker.store import index as vindex
from tracker.errors import TrackerError
from tracker.store.search import Filters, search, similar

# 30 papers on one theme ("graph") and 10 on another; the filtered topic has the *worst* matches,
# so a search that cut to top-k before filtering would return too few of them.
GRAPH = [paper(f"2401.{i:05d}", f"Graph neural network variant {i}", topics=("graphs",), date=f"2024-01-{i % 28 + 1:02d}")
         for i in range(30)]
OTHER = [paper(f"2402.{i:05d}", f"Protein structure study {i} with a graph", topics=("bio",),
               authors=("Émile Zola", "Grace Hopper"), date="2024-02-15") for i in range(10)]
OLD_STYLE = [paper("hep-th/9901001", "String dualities in graph form", topics=("physics",), version=2,
                   date="1999-01-05")]


@pytest.fixture(scope="module")
def encoder():
    return HashEncoder(dim=256)


@pytest.fixture(scope="module", params=["flat", "hnsw"])
def index(request, tmp_path_factory, encoder):
    papers = GRAPH + OTHER + OLD_STYLE
    texts = [f"{p.title}. {p.abstract}" for p in papers]
    state_dir = tmp_path_factory.mktemp(request.param)
    threshold = 1 if request.param == "hnsw" else vindex.HNSW_THRESHOLD
    vindex.build(state_dir, encoder.model_name, encoder.encode(texts), [vindex.row_from_paper(p) for p in papers],
                 hnsw_threshold=threshold)
    loaded = vindex.load(state_dir, encoder.model_name)
    assert loaded.kind == request.param
    yield loaded
    loaded.close()


def query(encoder, text):
    return encoder.encode([text])[0]


def test_title_query_finds_the_paper_first(index, encoder):
    assert search(index, query(encoder, "Graph neural network variant 7"), k=3)[0].id == "2401.00007"


def test_topic_filter_applies_before_top_k(index, encoder):
    q = query(encoder, "graph neural network variant")
    unfiltered = search(index, q, k=10)
    assert all(h.id.startswith("2401.") for h in unfiltered)  # the bio papers rank below all of these
    hits = search(index, q, k=10, filters=Filters(topic="BIO"))
    assert len(hits) == 10 and {h.topics for h in hits} == {("bio",)}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_author_filter_is_a_case_insensitive_substring_on_any_author(index, encoder):
    q = query(encoder, "graph")
    assert {h.id for h in search(index, q, k=50, filters=Filters(author="hopp"))} == {p.id for p in OTHER}
    assert len(search(index, q, k=50, filters=Filters(author="émile ZOLA"))) == 10
    assert search(index, q, k=50, filters=Filters(author="nobody")) == []


def test_date_filters_are_inclusive_on_the_latest_version_date(index, encoder):
    q = query(encoder, "graph")
    hits = search(index, q, k=100, filters=Filters(since="2024-01-01", until="2024-01-02"))
    assert sorted(h.date for h in hits) == ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"]
    assert [h.id for h in search(index, q, k=100, filters=Filters(until="2000-01-01"))] == ["hep-th/9901001"]


def test_filters_combine(index, encoder):
    hits = search(index, query(encoder, "graph"), k=100, filters=Filters(topic="graphs", since="2024-01-27"))
    assert {h.date for h in hits} == {"2024-01-27", "2024-01-28"} and all(h.topics == ("graphs",) for h in hits)


@pytest.mark.parametrize("form", ["2401.00003", "2401.00003v1", "arXiv:2401.00003", "arxiv:2401.00003v7",
                                  " https://arxiv.org/abs/2401.00003v2 "])
def test_similar_accepts_id_forms_and_never_returns_the_paper(index, form):
    hits = similar(index, form, k=5)
    assert len(hits) == 5 and "2401.00003" not in {h.id for h in hits}
    assert all(h.id.startswith("2401.") for h in hits)


def test_similar_with_old_style_id(index):
    hits = similar(index, "hep-th/9901001v2", k=100)
    assert len(hits) == index.size - 1 and "hep-th/9901001" not in {h.id for h in hits}


def test_unknown_id_says_so_and_how_to_fetch_it(index):
    with pytest.raises(TrackerError, match=r"^2309\.99999 is not in the search index .*`tracker index`$"):
        similar(index, "arXiv:2309.99999v1")
    with pytest.raises(TrackerError, match="not an arXiv identifier"):
        similar(index, "banana")


@pytest.mark.parametrize("k", [0, -3])
def test_k_must_be_positive(index, encoder, k):
    with pytest.raises(TrackerError, match=f"-k must be at least 1 \\(got {k}\\)"):
        search(index, query(encoder, "graph"), k=k)
    with pytest.raises(TrackerError, match="-k must be at least 1"):
        similar(index, "2401.00001", k=k)


def test_k_larger_than_the_index_returns_everything(index, encoder):
    assert len(search(index, query(encoder, "graph"), k=1000)) == index.size


def test_query_of_another_dimension_is_refused(index):
    with pytest.raises(TrackerError, match="dimensions"):
        search(index, np.ones(7, dtype=np.float32), k=3)


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, encoder):
    """A config + built index (fake model) in a temp folder; returns a function running the CLI."""
    from click.testing import CliRunner

    from tracker.cli.main import cli

    (tmp_path / "keywords.yaml").write_text(
        "topics:\n  - name: graphs\n    keywords: [graph]\n"
        f"embedding:\n  model: {encoder.model_name}\noutput:\n  state_dir: state\n", encoding="utf-8")
    papers = GRAPH + OTHER + OLD_STYLE
    texts = [f"{p.title}. {p.abstract}" for p in papers]

    def build():
        vindex.build(tmp_path / "state", encoder.model_name, encoder.encode(texts),
                     [vindex.row_from_paper(p) for p in papers])

    def run(*args):
        result = CliRunner().invoke(cli, [*args, "--config", str(tmp_path / "keywords.yaml")],
                                    obj={"encoder": encoder, "query_encoder": encoder})
        return result

    run.build, run.state_dir = build, tmp_path / "state"
    return run


def test_search_command_prints_hits_and_json(project):
    project.build()
    result = project("search", "Protein structure study 4 with a graph", "-k", "3")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split()[2] == "2402.00004"
    result = project("search", "graph", "--topic", "bio", "--author", "GRACE", "--since", "2024-02-01", "--json")
    hits = json.loads(result.output)
    assert len(hits) == 10 and set(hits[0]) == {"score", "id", "date", "title", "topics", "link"}


def test_similar_command_excludes_the_paper(project):
    project.build()
    result = project("similar", "arXiv:2401.00005v3", "-k", "4", "--json")
    assert result.exit_code == 0, result.output
    ids = [hit["id"] for hit in json.loads(result.output)]
    assert len(ids) == 4 and "2401.00005" not in ids


@pytest.mark.parametrize("args, message", [
    (["search", "  "], "the search query is empty"),
    (["search", "graph", "-k", "0"], "-k must be at least 1 (got 0)"),
    (["search", "graph", "-k", "-2"], "-k must be at least 1 (got -2)"),
    (["search", "graph", "--since", "2024-13-01"], "--since '2024-13-01' is not a date: use YYYY-MM-DD"),
    (["search", "graph", "--until", "last week"], "--until 'last week' is not a date: use YYYY-MM-DD"),
    (["search", "graph", "--since", "2024-03-01", "--until", "2024-01-01"], "is after --until"),
    (["similar", "2309.99999"], "2309.99999 is not in the search index"),
    (["similar", "not-an-id"], "not an arXiv identifier"),
    (["similar", "2401.00001", "-k", "0"], "-k must be at least 1"),
])
def test_bad_input_is_one_clear_line(project, args, message):
    project.build()
    result = project(*args)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ") and message in result.output


@pytest.mark.parametrize("command", [["search", "graph"], ["similar", "2401.00001"]])
def test_no_index_yet_says_run_tracker_index(project, command):
    result = project(*command)
    assert result.exit_code == 1 and "run `tracker index`" in result.output and result.output.count("\n") == 1


def test_corrupt_index_offers_rebuild(project):
    project.build()
    manifest = vindex.read_manifest(project.state_dir)
    path = project.state_dir / "index" / manifest["files"]["index"]["name"]
    path.write_bytes(path.read_bytes()[:-100])
    result = project("search", "graph")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "index is corrupt" in result.output and "tracker index --rebuild" in result.output


def test_model_change_in_config_is_explained_not_searched(project):
    project.build()
    config = project.state_dir.parent / "keywords.yaml"
    config.write_text(config.read_text().replace("model: fake-bow", "model: all-MiniLM-L6-v2"))
    result = project("search", "graph")
    assert result.exit_code == 1 and "built with model 'fake-bow'" in result.output
    assert "'all-MiniLM-L6-v2'" in result.output and "--rebuild" in result.output


def test_every_command_has_help_with_an_example(project):
    for command in ("search", "similar", "index"):
        result = project(command, "--help")
        assert result.exit_code == 0 and "Example: tracker " + command in result.output


# --- quality with the real model -------------------------------------------------------------


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    """The ~117 real fixture abstracts indexed with the real model; the fast query encoder for queries."""
    from tracker.enrich.embed import load_encoder, load_query_encoder, paper_text

    papers = fixture_papers()
    state_dir = tmp_path_factory.mktemp("real")
    encoder = load_encoder("all-MiniLM-L6-v2", "cpu", cache_dir=state_dir)
    vindex.build(state_dir, encoder.model_name, encoder.encode([paper_text(p) for p in papers]),
                 [vindex.row_from_paper(p) for p in papers])
    query_encoder = load_query_encoder("all-MiniLM-L6-v2", cache_dir=state_dir)
    index = vindex.load(state_dir, encoder.model_name)
    yield papers, index, query_encoder
    index.close()


@pytest.mark.model
def test_a_title_query_finds_its_paper_first(real_index):
    papers, index, query_encoder = real_index
    vectors = query_encoder.encode([p.title for p in papers])
    misses = [p.id for p, v in zip(papers, vectors) if search(index, v, k=1)[0].id != p.id]
    assert len(papers) > 100
    assert len(misses) / len(papers) <= 0.05, misses


@pytest.mark.model
def test_similar_papers_share_the_subject(real_index):
    papers, index, _ = real_index
    hits = similar(index, "arXiv:1201.4869v1", k=3)  # "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert hits[0].id == "1101.2206"  # "Helium-4 Luttinger liquids in nanopores"
    assert "1201.4869" not in {hit.id for hit in hits}


@pytest.mark.model
def test_search_command_runs_the_real_model_without_heavy_imports(real_index, tmp_path):
    import subprocess
    import sys

    _, index, _ = real_index
    config = tmp_path / "keywords.yaml"
    config.write_text(f"topics:\n  - name: t\n    keywords: [t]\noutput:\n  state_dir: {index.folder.parent}\n"
                      f"embedding:\n  model: {index.model}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tracker", "search",
                           "Helium-4 Luttinger liquids in nanopores", "-k", "2", "--json", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [hit["id"] for hit in json.loads(done.stdout)][0] == "1101.2206"
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert not imported & {"torch", "sentence_transformers", "sklearn", "jinja2", "arxiv", "transformers"}
