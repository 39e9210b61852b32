"""The site's data files without a browser: code layout, int8 re-scoring, shards, days, TL;DRs."""
from __future__ import annotations

import json

import numpy as np

from tests.search_fakes import paper
from tracker.enrich.tldr import extractive
from tracker.site.catalogue import Catalogue, tldr
from tracker.site.codes import asymmetric_scores, binary_codes, int8_rows, int8_scale
from tracker.site.files import SHARD, write_data


def unit_rows(n, dim=384, seed=0):
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_code_bits_follow_the_components_little_end_first():
    vector = -np.ones((1, 16), dtype=np.float32)
    vector[0, [0, 3, 9]] = 1.0
    assert binary_codes(vector).tolist() == [[0b00001001, 0b00000010]]


def test_code_scan_then_int8_rescoring_finds_the_exact_top_ten():
    vectors = unit_rows(3000)
    queries = vectors[:20] + 0.6 * unit_rows(20, seed=1)
    codes, scale = binary_codes(vectors), int8_scale(vectors)
    rows = int8_rows(vectors, scale).astype(np.float32)
    agree = []
    for query in queries / np.linalg.norm(queries, axis=1, keepdims=True):
        candidates = np.argsort(-asymmetric_scores(query, codes), kind="stable")[:200]
        rescored = candidates[np.argsort(-(rows[candidates] @ query), kind="stable")][:10]
        agree.append(len(set(rescored) & set(np.argsort(-(vectors @ query))[:10])) / 10)
    assert np.mean(agree) >= 0.9, agree  # isotropic noise: the hardest case; real embeddings agree more


def test_data_files_keep_hostile_text_verbatim_and_name_days_safely(tmp_path):
    hostile = paper("2401.00001", "<img src=x onerror=alert(1)>", topics=("b",), date="2024-03-02")
    odd_day = paper("2401.00002", "Plain", topics=("a", "b"), date="2024-03-01").with_changes(first_seen="../../x")
    papers = [hostile, odd_day] + [paper(f"2401.{i:05d}", f"Paper {i}", topics=("a",), date="2024-01-01")
                                   for i in range(3, 3 + SHARD)]
    meta = write_data(Catalogue(papers, unit_rows(len(papers)), ["a", "b"]), tmp_path, built="2024-03-03")
    assert meta["count"] == len(papers) and meta["topic_counts"] == [len(papers) - 1, 2]
    first_shard = json.loads((tmp_path / "papers" / "0.json").read_text())
    assert first_shard[0][2] == "<img src=x onerror=alert(1)>" and len(first_shard) == SHARD
    assert len(json.loads((tmp_path / "papers" / "1.json").read_text())) == len(papers) - SHARD
    assert json.loads((tmp_path / "topic-1.json").read_text()) == [0, 1]
    assert (tmp_path / "day" / "undated.json").is_file() and not (tmp_path.parent / "x.json").exists()
    assert (tmp_path / "codes.bin").stat().st_size == len(papers) * 48
    assert (tmp_path / "int8.bin").stat().st_size == len(papers) * 384
    dates = np.frombuffer((tmp_path / "dates.bin").read_bytes(), dtype="<u2")
    assert dates[0] - dates[1] == 1  # 2024-03-02 is a day after 2024-03-01


def test_tldr_is_the_stored_one_else_the_digests_extractive_one_capped():
    abstract = "Background that says little. We propose Foo, which halves the error of Bar on Baz. More details follow."
    old = paper("2401.00001", "Foo halves Bar's error", abstract=abstract)
    assert tldr(old.with_changes(tldr="  Stored   one. ")) == "Stored one."
    computed = tldr(old)  # an older record without a TL;DR: the digest's own choice, not stored
    assert computed == " ".join(extractive(old.title, abstract).split()) and computed in abstract
    long = tldr(old.with_changes(tldr="word " * 400))
    assert len(long) == 300 and long.endswith("…")


def test_an_empty_ledger_gives_an_empty_site(tmp_path):
    meta = write_data(Catalogue([], np.zeros((0, 0), np.float32), []), tmp_path, built="2024-03-03")
    assert meta["count"] == 0 and (tmp_path / "codes.bin").read_bytes() == b""
    assert json.loads((tmp_path / "today.json").read_text()) == {"date": "", "picks": [], "positions": []}
