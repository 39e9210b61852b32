"""Arbitrary Unicode in every text field of a paper, through fetch → ledger → reload → render → publish.

Each paper arrives as arXiv would send it (an API Atom page or an announcement RSS feed, parsed
by the real clients: everything XML can carry), or straight into the ledger (what an older
version or a hand edit may have stored: any code point). Whatever arrives: the ledger reloads
with the same records, every README and archive table
row renders (cmark-gfm) with exactly its header's cells, each title, author, comment and abstract
reads as stored, and nothing sent to GitHub carries a live mention, cross-reference or raw HTML
element that came from paper text.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile import (
    atom_page,
    check_row,
    expected_shown,
    expected_visible,
    foreign_elements,
    hostile_papers,
    live_references,
    readme_and_pages,
    split_for_archive,
    render_gfm,
    rss_feed,
    table_rows,
    visible_text,
)
from tracker.publish.digest_issue import render_issue_body
from tracker.publish.issues import DIGEST, issue_parts
from tracker.publish.tasks import as_task_list
from tracker.digest import build_digest
from tracker.render.markdown import environment, format_authors, render_digest
from tracker.render.paths import archive_page
from tracker.sources.api import parse_page, to_papers
from tracker.sources.http import Answer, well_formed_xml
from tracker.sources.rss import check_feed
from tracker.store.ledger import Ledger

TODAY = "2024-11-06"
TOPICS = ["C++ | <b>@team</b> $x$", "Safety #1 :tada:"]
ENV = environment()


@st.composite
def days(draw):
    count = draw(st.integers(1, 3))
    papers = [draw(hostile_papers(index=i + 1)) for i in range(count)]
    topics = [draw(st.sampled_from(TOPICS)) for _ in papers]
    via = [draw(st.sampled_from(["api", "rss", "ledger"])) for _ in papers]
    return list(zip(papers, topics, via))


def _fetched(paper, via: str):
    """`paper` as the source `via` delivers it: sent as arXiv would, parsed by the real client."""
    if via == "ledger":
        return paper
    url = "https://export.arxiv.org/api/query?search_query=x&start=0&max_results=10"
    if via == "api":
        answer = Answer(url, 200, {"Content-Type": "application/atom+xml"}, atom_page([paper]))
        got = to_papers(parse_page(well_formed_xml(answer), url).results)
    else:
        got = check_feed(Answer("https://rss.arxiv.org/rss/cs.CL", 200, {"Content-Type": "application/rss+xml"}, rss_feed([paper])))
    assert [(p.id, p.version) for p in got] == [(paper.id, paper.version)], (via, paper)  # no entry is lost
    return got[0]


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(day=days())
def test_any_unicode_survives_ledger_render_and_publish(day):
    with tempfile.TemporaryDirectory(prefix="tracker-prop-") as folder:
        root = Path(folder)
        stored = _through_the_ledger(root / "data", day)
        papers = list(stored.values())

        readme, pages = readme_and_pages(root, papers, topics=TOPICS, date=TODAY, cap=1, readme="# Lab\n")
        for where, markdown, expected in _tables(root, papers, readme, pages):
            html = render_gfm(markdown)
            rows = table_rows(html)
            assert len(rows) == len(expected), where
            for row, paper in zip(rows, expected):
                check_row(row, paper, format_authors(paper.authors))
            assert foreign_elements(html) == [] and live_references(html) == [], where

        digest = render_digest(ENV, build_digest(papers, TODAY, cap=50), cap=50)
        body = render_issue_body(date=TODAY, new_count=len(papers), revised_count=0, digest_markdown=digest)
        for part in issue_parts(DIGEST, TODAY, as_task_list(body)):
            html = render_gfm(part)
            assert foreign_elements(html) == [], part
            assert live_references(html) == [], part
        shown = visible_text(render_gfm(digest))
        for paper in papers:
            for value in (paper.title, paper.abstract, paper.comment):
                assert expected_shown(value) in shown, (value, digest)  # math as Unicode (tracker.render.latex)
            for value in paper.authors[:6]:
                assert expected_visible(value) in shown, (value, digest)


def _tables(root: Path, papers: list, readme: str, pages: dict):
    """(where, Markdown, the papers its table rows must show in order) for the README and each archive page."""
    readme_rows, archived = [], {}
    for topic in TOPICS:
        rows, months = split_for_archive([p for p in papers if topic in p.topics], 1)
        readme_rows += rows
        for month, month_papers in months.items():
            archived[archive_page(root / "archive", topic, month)] = month_papers
    assert set(archived) == set(pages)
    return [("README", readme, readme_rows), *((str(path), pages[path], archived[path]) for path in pages)]


def _through_the_ledger(data_dir: Path, day) -> dict:
    ledger = Ledger()
    for paper, topic, via in day:
        ledger.record(_fetched(paper, via), topic, TODAY)
    for path, data in ledger.files(data_dir).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        for line in data.decode("utf-8").split("\n"):
            assert len(line.splitlines()) <= 1, line  # any JSON Lines reader splits only where we do
    reloaded = Ledger.load(data_dir, read_only=True)
    assert reloaded.papers == ledger.papers
    assert len(reloaded.papers) == len({paper.id for paper, _, _ in day})
    return reloaded.papers
