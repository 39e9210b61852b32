"""The site's data files without a browser: code layout, int8 re-scoring, entries in search order, days, TL;DRs."""
from __future__ import annotations

import json

import numpy as np

from tests.search_fakes import paper
from tracker.enrich.tldr import extractive
from tracker.site.catalogue import Catalogue, tldr
from tracker.site.codes import asymmetric_scores, binary_codes, int8_rows, int8_scale, search_order
from tracker.site.files import write_data


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


def entry(folder, position, dim=384):
    """Paper `position`'s int8 row and record, as the page reads them through spans.bin."""
    start, end = np.frombuffer((folder / "spans.bin").read_bytes(), dtype="<u4").reshape(-1, 2)[position]
    data = (folder / "entries.bin").read_bytes()[start:end]
    return np.frombuffer(data[:dim], dtype=np.int8), json.loads(data[dim:].decode("utf-8"))


def test_data_files_keep_hostile_text_verbatim_and_name_days_safely(tmp_path):
    hostile = paper("2401.00001", "<img src=x onerror=alert(1)>", topics=("b",), date="2024-03-02")
    odd_day = paper("2401.00002", "Plain", topics=("a", "b"), date="2024-03-01").with_changes(
        first_seen="../../x", abs_url="https://example.org/a", pdf_url="https://arxiv.org/pdf/2401.00002v3")
    papers = [hostile, odd_day] + [paper(f"2401.{i:05d}", f"Paper {i}", topics=("a",), date="2024-01-01")
                                   for i in range(3, 40)]
    vectors = unit_rows(len(papers))
    meta = write_data(Catalogue(papers, vectors, ["a", "b"]), tmp_path, built="2024-03-03")
    assert meta["count"] == len(papers) and meta["topic_counts"] == [len(papers) - 1, 2]
    row, record = entry(tmp_path, 0)
    assert record[:3] == ["2401.00001", "2024-03-02", "<img src=x onerror=alert(1)>"]
    assert np.array_equal(row, int8_rows(vectors, meta["scale"])[0])
    assert entry(tmp_path, 1)[1][-2:] == ["https://example.org/a", ""]  # arXiv's own links are the page's to write
    assert (tmp_path / "entries.bin").stat().st_size == sum(len(json.dumps(entry(tmp_path, i)[1], ensure_ascii=False,
        separators=(",", ":")).encode()) + 384 for i in range(len(papers)))  # every paper once, nothing else
    assert json.loads((tmp_path / "topic-1.json").read_text()) == [0, 1]
    assert (tmp_path / "day" / "undated.json").is_file() and not (tmp_path.parent / "x.json").exists()
    assert (tmp_path / "codes.bin").stat().st_size == len(papers) * 48
    dates = np.frombuffer((tmp_path / "dates.bin").read_bytes(), dtype="<u2")
    assert dates[0] - dates[1] == 1  # 2024-03-02 is a day after 2024-03-01


def test_search_order_puts_each_papers_neighbours_near_it():
    """Two thousand papers around 40 topics, shuffled: in search order a paper's 10 nearest papers
    sit a few entries away (~15 of 2,000 on average), where shuffled order scatters them (~660)."""
    rng = np.random.default_rng(3)
    centres = unit_rows(40, seed=4)
    vectors = centres[rng.integers(0, 40, 2000)] + 0.04 * rng.standard_normal((2000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = search_order(vectors)
    assert sorted(order.tolist()) == list(range(2000))
    slot = np.empty(2000, dtype=np.int64)
    slot[order] = np.arange(2000)
    neighbours = np.argsort(-(vectors @ vectors.T), axis=1)[:, 1:11]
    distance = np.abs(slot[neighbours] - slot[:, None]).mean()
    assert distance < 40, distance
    assert np.array_equal(order, search_order(vectors))  # deterministic: the same build, the same file


def test_tldr_is_the_stored_one_else_the_digests_extractive_one_capped():
    abstract = "Background that says little. We propose Foo, which halves the error of Bar on Baz. More details follow."
    old = paper("2401.00001", "Foo halves Bar's error", abstract=abstract)
    assert tldr(old.with_changes(tldr="  Stored   one. ")) == "Stored one."
    computed = tldr(old)  # an older record without a TL;DR: the digest's own choice, not stored
    assert computed == " ".join(extractive(old.title, abstract).split()) and computed in abstract
    long = tldr(old.with_changes(tldr="word " * 400))
    assert len(long) == 300 and long.endswith("…")


def test_titles_and_tldrs_show_math_as_the_digest_does_and_html_stays_text(tmp_path):
    math = paper("2401.00001", r"Bounds for $\varepsilon_1$-nets", topics=("a",)).with_changes(
        tldr=r"We build $\varepsilon_1$-nets in $\mathcal{O}(n^2)$ time.")
    papers = [math, paper("2401.00002", "<b>$x^2$</b>", topics=("a",))]
    write_data(Catalogue(papers, unit_rows(2), ["a"]), tmp_path, built="2024-03-03")
    records = {entry(tmp_path, i)[1][0]: entry(tmp_path, i)[1] for i in range(2)}
    assert records["2401.00001"][2] == "Bounds for ε₁-nets"
    assert records["2401.00001"][4] == "We build ε₁-nets in 𝒪(n²) time."
    assert records["2401.00002"][2] == "<b>x²</b>"  # still text: the page sets it with textContent
    assert "Bounds for ε₁-nets" in json.loads((tmp_path / "titles.json").read_text())


def test_an_empty_ledger_gives_an_empty_site(tmp_path):
    meta = write_data(Catalogue([], np.zeros((0, 0), np.float32), []), tmp_path, built="2024-03-03")
    assert meta["count"] == 0 and (tmp_path / "codes.bin").read_bytes() == b""
    assert json.loads((tmp_path / "today.json").read_text()) == {"date": "", "picks": [], "positions": []}
