from __future__ import annotations

from tracker.sources.excludes import apply_excludes
from tracker.models import Paper


def paper(pid, title, abstract="", categories=("cs.SE",)):
    return Paper(id=pid, version=1, title=title, abstract=abstract, categories=tuple(categories),
                 primary_category=categories[0] if categories else "")


PAPERS = [
    paper("1", "Quantum error correction codes", categories=("quant-ph", "cs.IT")),
    paper("2", "LLM-based unit test generation"),
    paper("3", "Surveys of LLMs for code", "We review large\nlanguage models."),
    paper("4", "Flaky tests in Python", "An empirical study."),
    paper("5", "Gravitational waves", categories=("gr-qc",)),
    paper("6", "Hot Jupiters", categories=("astro-ph.EP",)),
    paper("7", "C++ template testing", categories=("cs.PL",)),
]


def ids(papers):
    return [p.id for p in papers]


def test_no_excludes_keeps_everything():
    kept, dropped = apply_excludes(PAPERS)
    assert kept == PAPERS and dropped == {}


def test_terms_match_whole_words_case_insensitively():
    kept, dropped = apply_excludes(PAPERS, terms=["llm"])
    assert ids(kept) == ["1", "3", "4", "5", "6", "7"]  # "LLMs" is another word; "LLM-based" is not
    assert dropped == {"term:llm": 1}


def test_phrases_match_across_whitespace_and_in_abstracts():
    kept, dropped = apply_excludes(PAPERS, terms=["Large Language Models", "c++"])
    assert ids(kept) == ["1", "2", "4", "5", "6"]
    assert dropped == {"term:Large Language Models": 1, "term:c++": 1}


def test_term_inside_a_longer_word_does_not_match():
    kept, _ = apply_excludes(PAPERS, terms=["test", "quantum error"])
    assert "4" in ids(kept)  # "tests" is not "test"
    assert "1" not in ids(kept)


def test_categories_match_any_category_exactly_or_by_glob_or_archive():
    kept, dropped = apply_excludes(PAPERS, categories=["cs.IT", "gr-*", "astro-ph"])
    assert ids(kept) == ["2", "3", "4", "7"]
    assert dropped == {"category:cs.IT": 1, "category:gr-*": 1, "category:astro-ph": 1}


def test_archive_wildcard_and_category_case():
    kept, dropped = apply_excludes(PAPERS, categories=["cs.*"])
    assert ids(kept) == ["5", "6"]
    assert dropped == {"category:cs.*": 5}
    kept, _ = apply_excludes(PAPERS, categories=["CS.pl"])
    assert "7" not in ids(kept)


def test_each_dropped_paper_counts_once_under_its_first_reason():
    _, dropped = apply_excludes(PAPERS, terms=["quantum"], categories=["quant-ph"])
    assert dropped == {"category:quant-ph": 1}


def test_blank_terms_are_ignored():
    kept, _ = apply_excludes(PAPERS, terms=["", "  "], categories=[""])
    assert kept == PAPERS
