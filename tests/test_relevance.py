from __future__ import annotations

import numpy as np
import pytest

from tracker.models import Paper
from tracker.enrich.relevance import explain, explain_paper, recency_weights, score, with_relevance


def unit(*rows):
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


# Profile: two papers about "x", one about "y"; the axis z is off-profile.
PROFILE = unit([1, 0, 0], [0.9, 0.1, 0], [0, 1, 0])
LABELS = ["x paper", "x-ish paper", "y paper"]


def test_papers_are_ordered_by_closeness_to_the_profile():
    papers = unit([0, 0, 1], [1, 0, 0.1], [0.5, 0.5, 0.7], [0.2, 1, 0])
    order = np.argsort(-score(papers, PROFILE, top=1))
    assert order.tolist() == [1, 3, 2, 0]


def test_top_k_mean_rewards_papers_near_several_profile_items():
    near_x = unit([1, 0, 0])  # close to two profile items
    near_y = unit([0, 1, 0])  # close to one
    top1 = score(np.vstack([near_x, near_y]), PROFILE, top=1)
    top2 = score(np.vstack([near_x, near_y]), PROFILE, top=2)
    assert top1[0] == pytest.approx(top1[1])
    assert top2[0] > top2[1]


def test_top_larger_than_profile_uses_all_items():
    papers = unit([1, 0, 0])
    assert score(papers, PROFILE, top=10)[0] == pytest.approx(score(papers, PROFILE, top=3)[0])


def test_empty_profile_turns_relevance_off():
    papers = unit([1, 0, 0])
    assert score(papers, np.zeros((0, 3), dtype=np.float32)) is None
    assert explain(papers[0], np.zeros((0, 3)), []) == []
    paper = Paper(id="2401.00001", version=1, title="t", abstract="a", relevance=0.5)
    assert with_relevance([paper], None)[0].relevance is None


def test_profile_weights_favour_newer_profile_items():
    papers = unit([1, 0, 0], [0, 1, 0])  # a x-paper and a y-paper
    even = score(papers, PROFILE, top=1)
    weighted = score(papers, PROFILE, top=1, profile_weights=np.array([0.25, 0.25, 1.0]))
    assert even[0] == pytest.approx(even[1])
    assert weighted[1] > weighted[0]


def test_recency_weights_halve_the_excess_over_the_floor_per_half_life():
    weights = recency_weights(["2024-06-01", "2022-06-01", "2000-01-01", "2025-01-01", None],
                              today="2024-06-01", half_life_days=731, floor=0.5)
    assert weights.tolist() == pytest.approx([1.0, 0.75, 0.5, 1.0, 1.0], abs=1e-3)


def test_explain_lists_closest_profile_items_first():
    result = explain(unit([0.1, 1, 0])[0], PROFILE, LABELS, k=2)
    assert [label for label, _ in result] == ["y paper", "x-ish paper"]
    assert result[0][1] == pytest.approx(float(unit([0.1, 1, 0])[0] @ PROFILE[2]), abs=1e-4)


def test_explain_paper_returns_plain_data():
    paper = Paper(id="2401.00001", version=2, title="Testing x", abstract="Code: https://github.com/a/b.",
                  comment="10 pages")
    data = explain_paper(paper, unit([1, 0, 0])[0], PROFILE, LABELS, k=1)
    assert data == {
        "id": "2401.00001",
        "title": "Testing x",
        "relevance": pytest.approx(1.0),  # max similarity by default
        "closest": [{"label": "x paper", "similarity": pytest.approx(1.0)}],
        "code_links": ["https://github.com/a/b"],
    }


def test_with_relevance_sets_rounded_scores():
    papers = [Paper(id=f"2401.0000{i}", version=1, title="t", abstract="a") for i in range(2)]
    result = with_relevance(papers, np.array([0.123456, 0.9]))
    assert [p.relevance for p in result] == [0.1235, 0.9]
