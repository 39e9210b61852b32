"""Nearest-neighbour kernels: exact search, the faiss accelerator (recall, updates, filters)."""
from __future__ import annotations

import numpy as np
import pytest

from tracker.store import index as nn


def unit_rows(count: int, dim: int = 48, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int, allowed=None) -> list[int]:
    scores = vectors @ query
    rows = [i for i in np.argsort(-scores, kind="stable") if allowed is None or allowed[i]]
    return [int(i) for i in rows[:k]]


def test_exact_top_is_best_first_with_exact_scores_and_stable_ties():
    vectors = unit_rows(500)
    query = vectors[17]
    found = nn.exact_top(vectors, query, 10)
    assert [row for row, _ in found] == brute_force(vectors, query, 10) and found[0] == (17, pytest.approx(1.0))
    assert all(np.isclose(score, vectors[row] @ query) for row, score in found)
    twins = np.vstack([vectors[:1]] * 3)
    assert [row for row, _ in nn.exact_top(twins, twins[0], 3)] == [0, 1, 2]  # ties: lowest row first


@pytest.mark.parametrize("share", [0.9, 0.1, 0.004])
def test_exact_top_with_a_filter_returns_k_allowed_rows_whenever_k_exist(share):
    vectors = unit_rows(1000, seed=3)
    allowed = np.random.default_rng(4).random(1000) < share
    query = vectors[0]
    found = nn.exact_top(vectors, query, 10, allowed)
    assert [row for row, _ in found] == brute_force(vectors, query, 10, allowed)
    assert len(found) == min(10, int(allowed.sum()))


def test_exact_top_edge_cases():
    vectors = unit_rows(5)
    assert len(nn.exact_top(vectors, vectors[0], 50)) == 5
    assert nn.exact_top(vectors[:0], vectors[0], 3) == []
    assert nn.exact_top(vectors, vectors[0], 3, np.zeros(5, dtype=bool)) == []


@pytest.fixture(scope="module")
def clustered():
    """20,000 vectors in 200 loose clusters (real embeddings cluster by subject)."""
    rng = np.random.default_rng(5)
    centres = unit_rows(200, 64, seed=6)
    vectors = centres[rng.integers(0, 200, 20_000)] + rng.normal(scale=0.08, size=(20_000, 64))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def clustered_ann(clustered):
    return nn.build_ann(clustered)


def test_the_accelerator_finds_what_exact_search_finds(clustered, clustered_ann):
    ann = clustered_ann
    assert ann.ntotal == len(clustered)
    queries = clustered[::400] + np.random.default_rng(7).normal(scale=0.02, size=(50, 64)).astype(np.float32)
    recall = []
    for query in queries:
        truth = brute_force(clustered, query, 10)
        found = nn.ann_top(ann, clustered, query, 10)
        recall.append(len({row for row, _ in found} & set(truth)) / 10)
        assert all(np.isclose(score, clustered[row] @ query, atol=1e-5) for row, score in found)  # exact scores
    assert np.mean(recall) >= 0.95, np.mean(recall)


def test_the_accelerator_stays_in_step_with_changed_and_new_rows(clustered, clustered_ann, tmp_path):
    vectors = clustered.copy()
    nn.save_ann(tmp_path / "ann.faiss", clustered, 1, clustered_ann, [])
    ann = nn.read_ann(tmp_path / "ann.faiss", 1, writable=True)  # a copy, as a save reads it back
    assert nn.read_ann(tmp_path / "ann.faiss", 2) is None  # saved for another generation: not used
    moved = unit_rows(5, 64, seed=8)
    vectors[[3, 99, 4000, 12345, 19999]] = moved  # re-embedded papers
    vectors = np.vstack([vectors, unit_rows(7, 64, seed=9)])  # new papers
    nn.update_ann(ann, vectors, np.array([3, 99, 4000, 12345, 19999, *range(20_000, 20_007)]))
    assert ann.ntotal == len(vectors)
    for row in (3, 99, 4000, 12345, 19999, 20_003):
        assert nn.ann_top(ann, vectors, vectors[row], 1)[0][0] == row


def test_a_narrow_filter_on_the_accelerator_still_returns_k_rows(clustered, clustered_ann):
    ann = clustered_ann
    allowed = np.zeros(len(clustered), dtype=bool)
    allowed[::997] = True  # 21 rows, scattered over the clusters
    query = clustered[1]
    found = nn.ann_top(ann, clustered, query, 10, allowed)
    assert [row for row, _ in found] == brute_force(clustered, query, 10, allowed)
    mostly = np.ones(len(clustered), dtype=bool)
    mostly[brute_force(clustered, query, 5)] = False  # the 5 best are filtered out
    found = nn.ann_top(ann, clustered, query, 10, mostly)
    assert len(found) == 10 and not set(brute_force(clustered, query, 5)) & {row for row, _ in found}
