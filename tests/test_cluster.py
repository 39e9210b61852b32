"""Themes: real papers from different fields and unrelated intruders (stored vectors of the bundled
model, tests/data/fixture_vectors.npz), readable phrase labels, "Other", determinism, and the
small-input cases on hand-made vectors."""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from tracker.enrich.cluster import OTHER, Theme, cluster_themes, group_vectors, without_outliers
from tracker.enrich.labels import display_form, heading, label_phrases, phrases, stop_words
from tracker.models import Paper
from tests.search_fakes import fixture_papers, in_text

DATA = Path(__file__).parent / "data"
HYPOTHESIS_TESTING = {"2403.16981", "2409.05654", "1706.00679", "2507.16734", "1704.08347", "1609.07528", "2304.14166"}
# Fetched by id in the recorded responses: astronomy, combinatorics, a proceedings volume, quantum
# computing languages, a paper titled "0" -- nothing to do with software testing.
UNRELATED = {"1605.08386", "1707.08567", "2104.12255", "astro-ph/0601001", "quant-ph/0201082"}


def shuffled(papers, vectors, seed):
    order = list(range(len(papers)))
    random.Random(seed).shuffle(order)
    return [papers[k] for k in order], vectors[order]


def blobs(sizes: list[int], dim: int = 16, seed: int = 0):
    """Well separated clusters of vectors, with texts whose words differ per cluster."""
    rng = np.random.default_rng(seed)
    words = [("quantum", "lattice", "spin"), ("compiler", "fuzzing", "bugs"),
             ("galaxy", "redshift", "survey"), ("protein", "folding", "enzyme")]
    papers, rows = [], []
    for c, size in enumerate(sizes):
        centre = np.zeros(dim)
        centre[c % dim] = 10.0
        for k in range(size):
            w = words[c % len(words)]
            papers.append(Paper(id=f"24{c:02d}.{k:05d}", version=1, title=f"On {w[0]} {w[1]}",
                                abstract=f"We study {w[0]} {w[1]} and {w[2]}. Then {w[0]} {w[1]} again.",
                                relevance=float(k)))
            rows.append(centre + rng.normal(size=dim))
    return papers, np.array(rows)


# --- real papers, stored vectors of the real model --------------------------------------

@pytest.fixture(scope="module")
def corpus():
    """{id: Paper} and {id: vector} for the recorded papers (all-MiniLM-L6-v2, float16 on disk).

    Made with benchmarks/themes.py's loader and encoder: `papers, _, _ = load_corpus();
    np.savez_compressed(path, ids=[p.id for p in papers], vectors=embed(papers).astype(np.float16))`."""
    stored = np.load(DATA / "fixture_vectors.npz")
    vectors = dict(zip(stored["ids"].tolist(), stored["vectors"].astype(np.float32)))
    papers = {p.id: p for p in fixture_papers()}
    assert set(vectors) <= set(papers) | UNRELATED | {"1111.2011"}
    return papers, vectors


def pick(corpus, ids):
    papers, vectors = corpus
    ids = [i for i in ids if i in papers]
    return [papers[i] for i in ids], np.array([vectors[i] for i in ids])


def fields():
    rows = [p for p in json.loads((DATA / "dedup_pairs.json").read_text(encoding="utf-8"))["papers"]
            if not p["id"].startswith(("dup-", "companion-"))]
    software = [p["id"] for p in rows if p["category"] == "cs.SE"][:10]
    condmat = [p["id"] for p in rows if p["category"].startswith("cond-mat")]
    hypothesis = [p["id"] for p in rows if p["id"] in HYPOTHESIS_TESTING]
    return {**{i: "software" for i in software}, **{i: "condmat" for i in condmat},
            **{i: "hypothesis" for i in hypothesis}}


def test_papers_from_different_fields_never_share_a_theme(corpus):
    field = fields()
    papers, vectors = pick(corpus, field)
    themes = cluster_themes(papers, vectors)
    assert all(len({field[i] for i in t.paper_ids}) == 1 for t in themes if t.label != OTHER)
    themed = {i for t in themes if t.label != OTHER for i in t.paper_ids}
    assert len(themed) >= len(papers) - 1  # at most one straggler
    by_field = {f: [t for t in themes if t.label != OTHER and field[t.paper_ids[0]] == f] for f in set(field.values())}
    assert len(by_field["hypothesis"]) == 1 and by_field["hypothesis"][0].label == "Hypothesis testing"
    assert len(by_field["software"]) == 1 and len(by_field["condmat"]) <= 2  # condensed matter: 2 sub-topics


def test_unrelated_papers_go_to_other_not_into_a_theme(corpus):
    """The issue's case: papers from other fields on a software-testing day were filed under a
    testing theme. Here five of them join ten software-testing papers."""
    field = fields()
    software = [i for i, f in field.items() if f == "software"]
    papers, vectors = pick(corpus, software + sorted(UNRELATED))
    assert len(papers) == 15
    themes = cluster_themes(papers, vectors)
    assert themes[-1].label == OTHER and set(themes[-1].paper_ids) == UNRELATED
    assert all(not set(t.paper_ids) & UNRELATED for t in themes[:-1])


def test_real_labels_are_phrases_found_in_their_papers(corpus):
    field = fields()
    papers, vectors = pick(corpus, field)
    text = {p.id: f"{p.title}\n{p.abstract}" for p in papers}
    for theme in cluster_themes(papers, vectors):
        if theme.label == OTHER:
            continue
        assert 1 <= len(theme.terms) <= 2 and theme.label == heading(theme.terms)
        for phrase in theme.terms:
            users = [pid for pid in theme.paper_ids if in_text(phrase, text[pid])]
            assert len(users) >= min(2, len(theme.paper_ids)), (phrase, theme.label)
        assert re.fullmatch(r"[\w' ,-]+", theme.label), theme.label  # nothing for Markdown to act on


def test_real_themes_do_not_depend_on_input_order(corpus):
    papers, vectors = pick(corpus, list(fields()) + sorted(UNRELATED))
    expected = cluster_themes(papers, vectors)
    for seed in (1, 2):
        assert cluster_themes(*shuffled(papers, vectors, seed)) == expected


# --- mechanics on hand-made vectors ---------------------------------------------------

def test_empty_input_has_no_themes():
    assert cluster_themes([], np.empty((0, 8))) == []


def test_a_handful_of_papers_is_one_theme():
    papers, vecs = blobs([3, 2])  # two clear groups, but only 5 papers
    themes = cluster_themes(papers, vecs, min_papers=6)
    assert len(themes) == 1
    assert sorted(themes[0].paper_ids) == sorted(p.id for p in papers)
    assert themes[0].terms and themes[0].label != OTHER


def test_separate_blobs_give_themes_by_size_with_their_own_phrases():
    papers, vecs = blobs([5, 9, 7])
    themes = cluster_themes(papers, vecs)
    assert [len(t.paper_ids) for t in themes] == [9, 7, 5]
    assert [t.paper_ids[0][:4] for t in themes] == ["2401", "2402", "2400"]
    assert themes[0].terms[0] == "compiler fuzzing" and themes[0].label.startswith("Compiler fuzzing")
    assert themes[1].terms[0] == "galaxy redshift"
    assert all(len({i[:4] for i in t.paper_ids}) == 1 for t in themes)


def test_blob_themes_do_not_depend_on_input_order():
    papers, vecs = blobs([6, 6, 4, 1], seed=5)
    expected = cluster_themes(papers, vecs)
    for seed in range(3):
        assert cluster_themes(*shuffled(papers, vecs, seed)) == expected


def test_a_lone_outlier_goes_to_other_last():
    papers, vecs = blobs([8, 7, 1])
    themes = cluster_themes(papers, vecs)
    assert themes[-1] == Theme(OTHER, (), ("2402.00000",))
    assert [len(t.paper_ids) for t in themes[:-1]] == [8, 7]


def test_a_member_far_from_its_theme_moves_to_the_theme_it_fits_or_to_other():
    rng = np.random.default_rng(3)
    a = np.eye(8)[0] * 5 + rng.normal(scale=0.5, size=(6, 8))
    b = np.eye(8)[1] * 5 + rng.normal(scale=0.5, size=(6, 8))
    like_b, unrelated = np.eye(8)[1] * 5, np.eye(8)[7] * 5
    vectors = np.vstack([a, b, like_b, unrelated])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([0] * 6 + [1] * 6 + [0, 0])  # both stragglers filed under theme 0
    fixed = without_outliers(vectors, labels)
    assert fixed[:12].tolist() == labels[:12].tolist()
    assert fixed[12] == 1 and fixed[13] == -1


def test_a_pair_of_unrelated_papers_is_not_a_theme():
    papers, vecs = blobs([8, 7])
    rng = np.random.default_rng(1)
    odd = [Paper(id=f"2499.0000{k}", version=1, title=f"Odd {k}", abstract="Nothing alike.") for k in range(2)]
    odd_vecs = np.zeros((2, 16))
    odd_vecs[0, 10], odd_vecs[1, 12] = 10, 10  # far from everything, and from each other
    themes = cluster_themes(papers + odd, np.vstack([vecs, odd_vecs + rng.normal(scale=0.1, size=(2, 16))]))
    assert themes[-1].label == OTHER and set(themes[-1].paper_ids) == {p.id for p in odd}


def test_never_more_than_max_themes():
    papers, vecs = blobs([4] * 10)
    labels = group_vectors(vecs / np.linalg.norm(vecs, axis=1, keepdims=True), max_themes=4)
    assert len(set(labels.tolist())) <= 4
    themes = cluster_themes(papers, vecs, max_themes=4)
    assert len([t for t in themes if t.label != OTHER]) <= 4
    assert sum(len(t.paper_ids) for t in themes) == 40


def test_identical_vectors_are_not_split():
    papers, _ = blobs([4, 4])
    assert len(cluster_themes(papers, np.ones((8, 16)))) == 1


def test_papers_ordered_by_closeness_or_by_key():
    papers, vecs = blobs([7])
    vecs[3] = vecs[3] * 0.2 + vecs.mean(axis=0) * 5  # paper 3 nearly at the centroid
    (theme,) = cluster_themes(papers, vecs, min_papers=8)
    assert theme.paper_ids[0] == "2400.00003"
    (by_relevance,) = cluster_themes(papers, vecs, min_papers=8, key=lambda p: p.relevance)
    assert by_relevance.paper_ids == tuple(f"2400.{k:05d}" for k in range(6, -1, -1))


def test_mismatched_vectors_are_rejected():
    papers, _ = blobs([3])
    with pytest.raises(ValueError, match="3 papers"):
        cluster_themes(papers, np.ones((4, 8)))


# --- labels ---------------------------------------------------------------------------

def test_phrases_are_runs_as_written_never_joined_across_stop_words_or_punctuation():
    found = set(phrases("Testing of software, mutation testing; the $\\alpha$-divergence of GPT-4 models.", stop_words()))
    assert {"mutation testing", "testing", "software", "gpt-4 models", "gpt-4"} <= found
    assert not {"testing software", "software mutation", "alpha"} & found


def test_label_is_the_shared_phrase_made_longer_when_it_keeps_its_papers():
    docs = ["Mutation testing of compilers.\nWe apply mutation testing to compilers.",
            "Better mutation testing.\nMutation testing finds weak tests.",
            "Mutation testing at scale.\nOur mutation testing tool is fast.",
            "Galaxy surveys.\nA galaxy survey of the sky.", "Deep galaxy survey.\nThe galaxy survey goes deep."]
    (mutation, galaxy) = label_phrases(docs, [[0, 1, 2], [3, 4]])
    assert mutation == ("mutation testing",)  # not "mutation" and "testing", not "compilers" (one paper)
    assert galaxy[0] == "galaxy survey"


def test_a_second_phrase_says_something_else():
    docs = ["Flaky tests in CI.\nFlaky tests break continuous integration builds.",
            "Taming flaky tests.\nContinuous integration suffers from flaky tests.",
            "Flaky tests, explained.\nWe rerun flaky tests in continuous integration.",
            "Why tests flake.\nOur continuous integration study of flaky tests."] + \
           [f"Quantum spin chains.\nWe study spin chains {k}." for k in range(3)]
    (flaky, spin) = label_phrases(docs, [[0, 1, 2, 3], [4, 5, 6]])
    assert flaky[0] == "flaky tests" and len(flaky) == 2
    assert flaky[1] == "continuous integration"
    assert not set(flaky[1].split()) & set(flaky[0].split())
    assert spin[0] == "spin chains"


def test_display_form_follows_running_text():
    docs = ["Deep Learning Testing\nDeep Learning (DL) is hard to test; deep learning systems fail.",
            "Luttinger Liquids\nWe study a Luttinger liquid in helium. The Luttinger liquid is 1D.",
            "LLMs Everywhere\nThe LLMs we test. Our LLMs fail."]
    assert display_form("deep learning", docs) == "deep learning"
    assert display_form("luttinger liquid", docs) == "Luttinger liquid"
    assert display_form("llms", docs) == "LLMs"
    assert display_form("learning testing", ["Deep Learning Testing\n"]) == "learning testing"  # title only
    assert heading(["deep learning", "LLMs"]) == "Deep learning, LLMs"
    assert heading(["mRNA vaccines"]) == "mRNA vaccines"


def test_labels_of_text_without_words_are_empty():
    assert label_phrases(["1 2 3", "and the"], [[0], [1]]) == [(), ()]
