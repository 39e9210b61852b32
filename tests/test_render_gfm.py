"""What readers see, rendered by GitHub's own engine (cmark-gfm): every title, abstract, comment
and author name shows exactly as written, in the README, archive pages, digest and issue body;
no HTML, mention, cross-reference or math from paper text survives."""
from __future__ import annotations

import re

import pytest

from tests.hostile import (
    CORPUS,
    check_row,
    expected_shown,
    expected_visible,
    foreign_elements,
    live_references,
    parse,
    readme_and_pages,
    split_for_archive,
    render_gfm,
    table_rows,
    visible_text,
)
from tracker.enrich.tldr import shown_tldr
from tracker.publish.digest_issue import render_issue_body
from tracker.publish.issues import DIGEST, issue_parts
from tracker.publish.tasks import as_task_list
from tracker.digest import build_digest
from tracker.render.escape import display_line, html_text, md_cell, md_label, md_link, md_text
from tracker.render.markdown import environment, format_authors, render_digest

TODAY = "2024-11-06"
TOPICS = ["LLM", "Safety"]
PAPERS = [p.with_changes(first_seen=TODAY) for p in CORPUS]
ALL_STRINGS = sorted({s for p in CORPUS for s in (p.title, p.abstract, p.comment or "", *p.authors) if s})

# Each destination a template puts text in: (filter, Markdown around the value).
CONTEXTS = {
    "paragraph": (md_text, "Intro line\n{}\n"),
    "list item continuation": (md_text, "- **x** · y\\\n  {}\\\n  more\n"),
    "heading": (md_text, "## {} (3)\n"),
    "heading end": (md_text, "## {}\n"),
    "blockquote": (md_text, "> {}\n"),
    "table cell": (md_cell, "| A | B |\n| --- | --- |\n| {} | x |\n"),
    "details in a table cell": (md_cell, "| A | B |\n| --- | --- |\n| <details><summary>Show</summary>{}</details> | x |\n"),
    "link label": (lambda t: md_link(t, "https://arxiv.org/abs/2411.00001"), "- **{}** · x\n"),
    "anchor label": (lambda t: f"[{md_label(t)}](#anchor)", "- {} (3)\n"),
    "details block in a list": (html_text, "- item\n\n  <details><summary>Abstract</summary>{}</details>\n"),
    "details block": (html_text, "<details><summary>Abstract</summary>{}</details>\n\nafter\n"),
}


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_every_context_shows_hostile_text_as_written(context):
    escape, around = CONTEXTS[context]
    for source in ALL_STRINGS:
        html = render_gfm(around.format(escape(source)))
        assert expected_visible(source) in visible_text(html), (context, source, html)
        assert foreign_elements(html) == [], (context, source, html)
        assert live_references(html) == [], (context, source, html)
        if "table" in context:  # the whole text stays in its cell (cmark drops cells past the header's)
            rows = table_rows(html)
            assert len(rows) == 1 and rows[0]["B"] == "x", (context, source, html)
            assert expected_visible(source) in rows[0]["A"], (context, source, html)


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_dollars_cannot_open_github_math(context):
    """GitHub turns $...$ into MathJax even when backslash-escaped; its documented literal dollar
    is <span>$</span>. Every $ a reader sees must be alone in such a span."""
    escape, around = CONTEXTS[context]
    html = render_gfm(around.format(escape(r"cost $5 and $10, $x_1$ and $$\sum$$")))
    root = parse(html)
    spans = [s for s in root.iter("span") if s.text == "$"]
    assert len(spans) == 8 and root.text_content().count("$") == 8


def test_html_is_escaped_exactly_once():
    for source, shown in [("&lt;img", "&lt;img"), ("<img", "<img"), ("&amp;", "&amp;"), ("a & b", "a & b"), ("&#36;", "&#36;")]:
        for context, (escape, around) in CONTEXTS.items():
            assert shown in visible_text(render_gfm(around.format(escape(source)))), (context, source)


def test_mentions_and_references_are_neutralised_but_read_the_same():
    text = "@octocat @org/team #12 GH-7 o/r#3 :tada: https://github.com/o/r/issues/5"
    for context, (escape, around) in CONTEXTS.items():
        html = render_gfm(around.format(escape(text)))
        assert live_references(html) == [], context
        assert expected_visible(text) in visible_text(html), context
    # and the source GitHub receives holds no such run either
    assert not re.search(r"@[A-Za-z0-9]|#\d|GH-\d", md_text(text) + html_text(text))


def test_urls_become_links_only_when_safe():
    html = render_gfm(md_text(
        "Code: https://github.com/org/repo_x. Unsafe: https://x/a)<script>alert(1)</script> "
        "javascript:alert(1) https://github.com@evil.example/x https://github.com/o/r/issues/5 (www.example.org/a_(b))."
    ))
    hrefs = [a.get("href") for a in parse(html).iter("a")]
    assert hrefs == ["https://github.com/org/repo_x", "https://www.example.org/a_%28b%29"]
    assert "<script" not in html


def test_md_link_falls_back_to_text_for_unsafe_urls():
    for url in ["javascript:alert(1)", "data:text/html,x", "https://a.org/x y", 'https://a.org/"x', None, 42]:
        assert md_link("Title [x]", url) == md_label("Title [x]")
    assert md_link("T", "https://arxiv.org/abs/2411.00001v2") == "[T](https://arxiv.org/abs/2411.00001v2)"


def test_display_line_flattens_and_drops_invisible_controls():
    assert display_line("a\n\nb\u2028c\u2029d\x85e\r\nf\tg") == "a b c d e f g"
    assert display_line("x\x00\x07\x1b\u202eevil\u202c\u2066y\u2069") == "xevily"
    assert display_line("2024\u20111\u00a0(v2)") == "2024\u20111\u00a0(v2)"  # visible layout is kept
    assert display_line(None) == "" and display_line(3) == "3"


def test_leading_block_syntax_stays_text():
    for source in ["# h", "## h", "> q", "- d", "+ p", "* s", "1. n", "12) n", "---", "===", "***", "    code", "<div>", "```"]:
        html = render_gfm(f"{md_text(source)}\n")
        assert parse(html)[0].tag == "p", (source, html)
        assert visible_text(html) == expected_visible(source)


# --- whole documents ----------------------------------------------------------------------

def _readme(tmp_path, cap):
    user = "# Our lab\n\nWe write `<!-- paper-tracker:start -->` in prose.\n"
    return readme_and_pages(tmp_path, PAPERS, topics=TOPICS, date=TODAY, cap=cap, readme=user)


def _digest():
    return render_digest(environment(), build_digest(PAPERS, TODAY, cap=50), cap=50)


def _issue_bodies(digest_markdown):
    """Exactly what is sent to GitHub: the issue body and any continuation comments."""
    body = render_issue_body(date=TODAY, new_count=len(PAPERS), revised_count=0, digest_markdown=digest_markdown,
                             digest_url="https://github.com/lab/papers/blob/main/digests/2024/11/2024-11-06.md")
    return issue_parts(DIGEST, TODAY, as_task_list(body), limit=2000)  # small limit: several parts


def _check_document(markdown, fields, where):
    html = render_gfm(markdown)
    shown = visible_text(html)
    for paper, field, source in fields:
        expected = (expected_shown if field in ("title", "abstract", "comment") else expected_visible)(source)
        assert expected in shown, f"{where}: {paper.id} {field} not shown as written: {source!r}"
    assert foreign_elements(html) == [], where
    assert live_references(html) == [], where
    return html


def _fields(papers, names):
    out = []
    for paper in papers:
        for name in names:
            if name == "authors":
                out += [(paper, "author", author) for author in paper.authors[:6]]
            elif getattr(paper, name):
                out.append((paper, name, getattr(paper, name)))
    return out


def test_readme_shows_every_field_as_written(tmp_path):
    readme, _ = _readme(tmp_path, cap=100)
    html = _check_document(readme, _fields(PAPERS, ["title", "abstract", "comment", "authors"]), "README")
    rows = table_rows(html)
    expected = [p for topic in TOPICS for p in split_for_archive([p for p in PAPERS if topic in p.topics], 100)[0]]
    assert len(rows) == len(expected) and all(len(row) == 4 for row in rows)
    for row, paper in zip(rows, expected):
        check_row(row, paper, format_authors(paper.authors))
    assert [a.get("href") for a in parse(html).iter("a") if "arxiv.org" in a.get("href")] == [
        p.abs_url for topic in TOPICS for p in sorted(PAPERS, key=lambda p: p.updated, reverse=True)
        if topic in p.topics and p.abs_url.startswith("https://")
    ]


def test_archive_pages_show_every_field_as_written(tmp_path):
    _, pages = _readme(tmp_path, cap=1)
    assert pages
    text = "\n\n".join(pages.values())
    archived = [p for p in PAPERS if p.id in text]
    assert len(archived) >= 3
    for page in pages.values():
        html = _check_document(page, [], "archive page")
        for row in table_rows(html):
            paper = next(p for p in archived if expected_shown(p.title) in row["Title"])
            check_row(row, paper, format_authors(paper.authors))
    _check_document(text, _fields(archived, ["title", "comment", "authors"]), "archive pages")


def test_digest_shows_every_field_as_written():
    _check_document(_digest(), _fields(PAPERS, ["title", "abstract", "comment", "authors"]), "digest")


def test_issue_body_and_comments_show_every_field_as_written():
    parts = _issue_bodies(_digest())
    assert len(parts) >= 2
    joined = "\n\n".join(parts)
    # the issue shows each paper's title, first author and TL;DR; the rest is on the digest page (<details>)
    html = _check_document(joined, _fields(PAPERS, ["title"]) + [(p, "first author", p.authors[0]) for p in PAPERS if p.authors]
                           + [(p, "abstract", shown_tldr(p)) for p in PAPERS], "issue")
    assert not list(parse(html).iter("details"))
    for part in parts:
        _check_document(part, [], "issue part")
    linked = [p for p in PAPERS if p.abs_url.startswith("https://arxiv.org/")]  # not javascript:
    assert len(list(parse(html).iter("input"))) == len(linked)  # one task box per linked paper, none from text
