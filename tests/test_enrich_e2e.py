"""The model-backed stages inside a real run: embeddings cached, duplicates merged, themes, relevance.

A hashed bag-of-words encoder stands in for the model (deterministic, counts what it embeds);
the real encoder is covered in test_embed.py.
"""
from __future__ import annotations

import json

import pytest

from tests.arxiv_fake import entry, feed, fixture
from tests.hostile import render_gfm, visible_text
from tests.search_fakes import HashEncoder
from tracker import pipeline
from tracker.config import load_settings
from tracker.store.ledger import Ledger

TESTING = '(ti:"testing" OR abs:"testing")'
PAGES = {start: fixture(f"api_search_testing_page_start{start}_max10.xml") for start in range(0, 60, 10)}
DATE = "2026-04-13"


def run(config, encoder, date=DATE):
    settings = load_settings(config)
    return pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=date, encoder=encoder)


@pytest.fixture
def config(arxiv_server, write_config):
    arxiv_server.add_pages(TESTING, PAGES)
    return write_config("- name: Testing\n  keywords: [testing]\n",
                        extra="output:\n  readme_rows: 60\n  digest_max_papers: 40\nthemes:\n  min_papers: 6\n")


def paper_texts(encoder) -> list[str]:
    """What the encoder embedded, without the labels' candidate phrases (1-3 words each)."""
    return [text for text in encoder.encoded if len(text.split()) > 3]


def test_every_paper_is_embedded_once_and_a_second_run_embeds_nothing(config):
    encoder = HashEncoder(dim=256)
    first = run(config, encoder)
    assert first.extra["embedded"] == 60 and len(paper_texts(encoder)) == 60
    second = run(config, encoder)
    assert second.extra["embedded"] == 0 and len(paper_texts(encoder)) == 60
    assert second.outputs == []


def test_changed_abstract_is_re_embedded_alone(arxiv_server, config):
    encoder = HashEncoder(dim=256)
    run(config, encoder)
    revised = entry("2202.12139", 2, title="Testing Deep Learning Models, revised", updated="2026-04-20T00:00:00Z")
    arxiv_server.once[(TESTING, 0)] = [feed([revised], total=1)]
    summary = run(config, encoder, date="2026-04-20")
    assert summary.extra["embedded"] == 1 and paper_texts(encoder)[-1].startswith("Testing Deep Learning Models, revised")


def test_digest_is_grouped_into_labelled_themes_deterministically(config, tmp_path):
    summary = run(config, HashEncoder(dim=256))
    digest = (tmp_path / "digests/2026/04/2026-04-13.md").read_text()
    headings = [l for l in digest.splitlines() if l.startswith("## ")]
    assert summary.extra["clusters"] == len(headings) >= 2
    assert all(l.rstrip(")").rsplit("(", 1)[1].isdigit() for l in headings)  # "## label (n)"
    shown = sum(int(l.rstrip(")").rsplit("(", 1)[1]) for l in headings)
    assert shown == 40  # the cap, every kept paper in exactly one theme
    assert digest.count("](https://arxiv.org/abs/") == 40
    # same input, fresh state: same themes and labels
    for path in tmp_path.iterdir():
        if path.name != "keywords.yaml":
            import shutil

            shutil.rmtree(path) if path.is_dir() else path.unlink()
    run(config, HashEncoder(dim=256))
    assert (tmp_path / "digests/2026/04/2026-04-13.md").read_text() == digest


def test_near_duplicates_are_shown_once_naming_the_other_id(arxiv_server, write_config, tmp_path):
    abstract = fixture("api_search_testing_page_start0_max10.xml").decode().split("<summary>")[1].split("</summary>")[0]
    papers = [
        entry("2611.00001", title="Testing Deep Learning Models: A Comparative Study", abstract=abstract, published="2026-11-01T00:00:00Z"),
        entry("2611.00450", title="Testing deep learning models - a comparative study", abstract=abstract + " Extended version.",
              published="2026-11-02T00:00:00Z"),
        entry("2611.00002", title="Property-based testing of compilers", abstract="We fuzz compilers with generated programs and testing oracles."),
    ]
    arxiv_server.add_pages(TESTING, {0: feed(papers)})
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    summary = run(config, HashEncoder(dim=256))
    assert summary.extra["near_duplicates"] == 1
    digest = visible_text(render_gfm((tmp_path / "digests/2026/04/2026-04-13.md").read_text()))
    assert "also posted as 2611.00450" in digest
    assert "2611.00450v1" not in digest  # the duplicate is not listed on its own
    assert len(Ledger.load(tmp_path / "data").papers) == 3  # but the ledger keeps both records


def test_profile_ranks_top_picks_and_profile_papers_are_not_news(arxiv_server, write_config, tmp_path):
    arxiv_server.add_pages(TESTING, PAGES)
    arxiv_server.ids["2601.00077"] = feed([entry("2601.00077", title="Our lab: mutation analysis for neural agents",
                                                 abstract="mutation testing deep reinforcement learning real faults agents")])
    config = write_config(
        "- name: Testing\n  keywords: [testing]\n",
        extra="output:\n  readme_rows: 30\nprofile:\n  papers: [2601.00077]\n  interests: ['mutation testing of neural networks']\n",
    )
    run(config, HashEncoder(dim=256))
    ledger = Ledger.load(tmp_path / "data")
    assert ledger.get("2601.00077").topics == ()  # fetched by id, kept, but no topic
    assert all(p.relevance is not None for p in ledger.papers.values())
    digest = (tmp_path / "digests/2026/04/2026-04-13.md").read_text()
    top = digest.split("## Top picks")[1].split("\n## ")[0]
    picks = [l for l in top.splitlines() if l[:2] in {f"{i}." for i in range(1, 6)}]
    assert len(picks) == 5 and "score" in picks[0]
    scores = [float(l.split("score ")[1].split(" ")[0]) for l in picks]
    assert scores == sorted(scores, reverse=True)
    assert "2601.00077" not in digest  # the profile paper itself is not news
    assert "Mutation Testing" in picks[0]  # the closest real paper leads
    readme = (tmp_path / "README.md").read_text()
    assert "2601.00077" not in readme


def test_unknown_profile_id_is_named_and_the_run_continues(arxiv_server, write_config, tmp_path, caplog):
    arxiv_server.add_pages(TESTING, {0: PAGES[0]})
    arxiv_server.ids["2401.99999"] = feed([], total=0)
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 10\nprofile:\n  papers: [2401.99999, not-an-id]\n")
    summary = run(config, HashEncoder(dim=256))
    assert not summary.failed
    assert "2401.99999 is not on arXiv" in caplog.text and "'not-an-id' is not an arXiv id" in caplog.text


def test_json_summary_reports_model_stages(config):
    summary = run(config, HashEncoder(dim=256)).to_dict()
    assert {"embedded", "near_duplicates", "clusters"} <= set(summary)
    json.dumps(summary)
