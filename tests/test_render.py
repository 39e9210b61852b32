import re

from tracker.digest import Pick, ProfilePicks, build_digest
from tracker.models import Paper
from tracker.render.escape import md_text
from tests.hostile import readme_and_pages, split_for_archive
from tracker.render.markdown import environment, render_digest, splice

NASTY = "A | B\nnew line <script>alert(1)</script> `code` $\\mathcal{O}(n^2)$ [x](y) *bold* _it_"


def paper(i, **kw):
    values = dict(
        id=f"2411.{i:05d}", version=1, title=f"Paper {i}", abstract="Abstract.",
        updated=f"2024-{(i % 12) + 1:02d}-01T00:00:00Z", topics=("T",), abs_url=f"https://arxiv.org/abs/2411.{i:05d}",
    )
    values.update(kw)
    return Paper(**values)


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| ---")]


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_md_text_neutralises_table_and_html_breakers():
    text = md_text(NASTY)
    assert "\n" not in text and "<script>" not in text and "\\<script\\>" in text
    assert unescaped_pipes(text) == 0
    assert "\\`code\\`" in text and "<span>$</span>" in text and "\\[x\\]" in text  # see tests/test_render_gfm.py


def test_readme_table_survives_hostile_titles_abstracts_and_comments(tmp_path):
    papers = [paper(1, title=NASTY, abstract=NASTY, comment=NASTY), paper(2)]
    section, _ = readme_and_pages(tmp_path, papers, cap=10)
    rows = table_rows(section)
    assert len(rows) == 3  # header + 2 papers
    assert all(unescaped_pipes(row) == 5 for row in rows)  # exactly 4 cells each
    assert "<script>" not in section


def test_readme_keeps_newest_rows_and_archives_the_rest_by_month(tmp_path):
    papers = [paper(i) for i in range(1, 13)]
    section, pages = readme_and_pages(tmp_path, papers, cap=5)
    assert len(table_rows(section)) == 6
    assert len(pages) == 7 and all(p.parent == tmp_path / "archive" / "t" for p in pages)
    archived = sum(len(table_rows(text)) - 1 for text in pages.values())
    assert archived == 7
    assert "[2024-01](archive/t/2024-01.md)" in section
    kept, months = split_for_archive(papers, 5)
    assert [p.date for p in kept] == sorted((p.date for p in kept), reverse=True)


def test_splice_only_touches_our_block():
    original = "# My lab\n\nHand-written intro.\n\n<!-- paper-tracker:start -->\nold\n<!-- paper-tracker:end -->\n\n## Footer\n"
    updated = splice(original, "new tables")
    assert updated == original.replace("old", "new tables")
    assert splice(updated, "new tables") == updated
    appended = splice("# Mine\n", "tables")
    assert appended.startswith("# Mine\n") and appended.rstrip().endswith("<!-- paper-tracker:end -->")


def test_digest_lists_each_new_paper_once_with_all_topics_and_counts_the_cap():
    papers = [paper(i, first_seen="2026-11-20", topics=("A", "B")) for i in range(1, 8)]
    papers.append(paper(50, first_seen="2026-11-01", revised_on="2026-11-20", version=2))
    digest = build_digest(papers, "2026-11-20", cap=5)
    assert (digest.new_total, digest.revised_total, len(digest.new), len(digest.revised)) == (7, 1, 5, 0)
    text = render_digest(environment(), digest, cap=5)
    assert "**7** new papers, **1** revised" in text and "3 more left out by the cap of 5" in text
    assert text.count("` · A, B\n") == 5


def test_digest_separates_revised_papers():
    papers = [paper(1, first_seen="2026-11-20"), paper(2, first_seen="2026-11-01", revised_on="2026-11-20", version=3)]
    text = render_digest(environment(), build_digest(papers, "2026-11-20", cap=10), cap=10)
    new_part, revised_part = text.split("## Revised")
    assert "Paper 1" in new_part and "Paper 2" in revised_part and "2411.00002v3" in revised_part


def test_empty_day_says_why():
    text = render_digest(environment(), build_digest([], "2026-11-21", cap=10), cap=10)
    assert "No new or revised papers" in text and "Sunday to Thursday" in text


def test_user_templates_override_builtins(tmp_path):
    (tmp_path / "digest.md.j2").write_text("custom {{ d.date }}\n")
    assert render_digest(environment(tmp_path), build_digest([], "2026-11-21", cap=1), cap=1) == "custom 2026-11-21\n"


# --- layout, as GitHub renders it (cmark-gfm) -------------------------------------------------

from dataclasses import replace  # noqa: E402

from tests.hostile import parse, render_gfm  # noqa: E402
from tracker.digest import DigestItem, ThemeGroup  # noqa: E402
from tracker.render.markdown import unique_anchors  # noqa: E402
from tracker.render.paths import archive_marker  # noqa: E402

LONG_COMMENT = "Accepted at the main conference; " + "camera-ready version with appendix, code and data. " * 4


def cells(markdown: str) -> list[list]:
    """Each body row's <td> elements, as GitHub renders the tables."""
    return [row.findall("td") for row in parse(render_gfm(markdown)).iter("tr") if row.findall("td")]


def test_no_run_date_in_readme_tables_or_archive_pages(tmp_path):
    # only the activity chart follows the run date (its weeks end by it: tests/test_charts.py)
    def tables(section: str) -> str:
        return re.sub(r"```mermaid\n.*?```\n", "", section, flags=re.S)

    papers = [paper(i, authors=("Ada Lovelace",)) for i in range(1, 8)]
    section, pages = readme_and_pages(tmp_path, papers, date="2026-11-20")
    later, later_pages = readme_and_pages(tmp_path, papers, date="2027-03-02")
    assert tables(later) == tables(section) and later_pages == pages and "```mermaid" in section
    assert all("2026-11-20" not in text for text in [tables(section), *pages.values()])


def test_archive_pages_carry_the_marker_link_back_and_link_abstracts_instead_of_repeating_them(tmp_path):
    papers = [paper(i, abstract=f"Unique abstract number {i}.") for i in range(1, 8)]
    section, pages = readme_and_pages(tmp_path, papers, topics=("Other", "T"))
    for path, text in pages.items():
        assert text.splitlines()[0] == archive_marker("t")
        assert "Unique abstract number" not in text
        html = render_gfm(text)
        links = [a.get("href") for a in parse(html).iter("a")]
        back = [link for link in links if "README.md" in link]
        assert len(back) == 1
        target, anchor_name = back[0].split("#")
        assert (path.parent / target).resolve() == (tmp_path / "README.md").resolve()
        assert anchor_name == unique_anchors(["Other", "T"])["T"] and f"## {'T'}" in section
        row_links = [a.get("href") for row in cells(text) for a in row[0].iter("a")]
        assert row_links and all(link.startswith("https://arxiv.org/abs/") for link in row_links)
    assert "Unique abstract number 7" in section  # the README keeps its collapsed abstracts


def test_authors_sit_on_their_own_line_under_the_title(tmp_path):
    papers = [paper(i, authors=("Ada Lovelace", "Alan Turing")) for i in range(1, 4)] + [paper(9, authors=())]
    section, pages = readme_and_pages(tmp_path, papers)
    title_cells = [row[0] for markdown in (section, *pages.values()) for row in cells(markdown)]
    assert len(title_cells) == 4
    for cell in title_cells:
        if "Paper 9" in cell.text_content():
            assert cell.find("br") is None
        else:
            assert [line.strip() for line in _lines(cell)] == [cell.find(".//a").text_content(), "Ada Lovelace, Alan Turing"]
    digest = render_digest(environment(), build_digest([p.with_changes(first_seen="2026-11-20") for p in papers], "2026-11-20", cap=10), cap=10)
    items = parse(render_gfm(digest)).findall(".//li")
    assert len(items) == 4
    for item in items:  # title, TL;DR, then "first author, et al. · id · topics"; all authors collapsed
        first = item.find("p")
        lines = [" ".join(part.split()) for part in _lines(first)]
        assert lines[0].startswith("Paper ") and lines[1] == "Abstract."
        has_authors = "Ada" in first.text_content()
        assert lines[2].startswith("Ada Lovelace, et al. · 2411.") if has_authors else lines[2].startswith("2411.")
        assert lines[2].endswith(" · T")  # the paper's topics
        collapsed = item.find(".//details").findall("p")
        assert (collapsed[0].text_content() == "Ada Lovelace, Alan Turing") if has_authors else collapsed[0].text_content().startswith("2024")


def _lines(element) -> list[str]:
    """Visible lines of a paragraph: text split at <br>."""
    out, current = [], [element.text or ""]
    for child in element:
        if child.tag == "br":
            out.append("".join(current))
            current = [child.tail or ""]
        else:
            current.append(child.text_content() + (child.tail or ""))
    out.append("".join(current))
    return [line for line in out if line.strip()]


def test_dates_in_tables_cannot_wrap_yet_read_as_dates(tmp_path):
    papers = [paper(1, version=3, updated="2024-02-01T00:00:00Z"), paper(2, updated="2024-03-05T00:00:00Z")]
    section, _ = readme_and_pages(tmp_path, papers, cap=5)
    shown = [row[1].text_content() for row in cells(section)]
    assert all("-" not in text and " " not in text for text in shown)  # no break opportunity left
    assert [t.replace("\u2011", "-").replace("\u00a0", " ") for t in shown] == ["2024-03-05", "2024-02-01 (v3)"]


def test_long_comments_are_collapsed_short_ones_shown(tmp_path):
    papers = [paper(1, comment="12 pages, 3 figures"), paper(2, comment=LONG_COMMENT), paper(3, comment=LONG_COMMENT)]
    section, pages = readme_and_pages(tmp_path, papers, cap=2)
    for markdown in (section, *pages.values()):
        for row in cells(markdown):
            comment = row[-1]
            collapsed = comment.find(".//details") is not None
            assert collapsed == ("camera-ready" in comment.text_content())
    digest = render_digest(environment(), build_digest([p.with_changes(first_seen="2026-11-20") for p in papers], "2026-11-20", cap=10), cap=10)
    html = parse(render_gfm(digest))  # in the digest every comment is collapsed with the abstract
    shown = [item.find("p").text_content() for item in html.iter("li")]
    collapsed = [d.text_content() for d in html.iter("details")]
    assert len(shown) == len(collapsed) == 3 and not any("12 pages" in s or "camera-ready" in s for s in shown)
    assert sum("Comment: 12 pages, 3 figures" in c for c in collapsed) == 1
    assert sum("Comment: " in c and "camera-ready" in c for c in collapsed) == 2


def test_each_abstract_appears_once_collapsed_in_the_digest():
    papers = [paper(i, first_seen="2026-11-20", abstract=f"Abstract of paper {i}. Its second sentence.", relevance=0.5 + i / 100)
              for i in range(1, 6)]
    digest = build_digest(papers, "2026-11-20", cap=10)
    items = {i.paper.id: i for i in digest.new}
    themed = replace(digest, themes=(ThemeGroup("Alpha", tuple(items[p.id] for p in papers[:3])),
                                     ThemeGroup("Other", tuple(items[p.id] for p in papers[3:]))),
                     profile_picks=(ProfilePicks("", "classifier", (Pick(items[papers[4].id], 0.9), Pick(items[papers[3].id], 0.8))),))
    html = parse(render_gfm(render_digest(environment(), themed, cap=10)))
    for p in papers:
        holders = [d for d in html.iter("details") if p.abstract in d.text_content()]
        assert len(holders) == 1 and holders[0].find("summary").text == "Abstract"
        assert html.text_content().count(p.abstract) == 1


def test_left_out_papers_are_said_to_be_where_they_are():
    def text(readme_rows, n_old=0):
        today = [paper(i, first_seen="2026-11-20", updated=f"2026-11-{i:02d}T00:00:00Z") for i in range(1, 6)]
        older = [paper(100 + i, first_seen="2026-10-01", updated=f"2026-11-{10 + i:02d}T00:00:00Z") for i in range(n_old)]
        digest = build_digest(today + older, "2026-11-20", cap=2, readme_rows=readme_rows, topics=["T"])
        return digest, render_digest(environment(), digest, cap=2)

    digest, shown = text(readme_rows=100)
    assert (digest.left_out, digest.left_out_in_readme) == (3, 3) and "all are in the README tables" in shown
    digest, shown = text(readme_rows=3, n_old=3)  # the README holds 3 newer, older papers
    assert digest.left_out_in_archives == 3 and "all are on the archive pages, not in the README tables" in shown
    digest, shown = text(readme_rows=4, n_old=1)  # README: the older paper, then today's 3 newest
    assert (digest.left_out_in_readme, digest.left_out_in_archives) == (1, 2)
    assert "1 in the README tables, 2 only on the archive pages" in shown
    unknown = render_digest(environment(), build_digest(papers_today(), "2026-11-20", cap=2), cap=2)
    assert "3 more left out by the cap of 2 (each is in its topic's README table or archive pages)" in unknown


def papers_today():
    return [paper(i, first_seen="2026-11-20") for i in range(1, 6)]


def test_where_left_out_papers_are_matches_the_readme_that_is_rendered(tmp_path):
    papers = papers_today() + [paper(100 + i, first_seen="2026-10-01", updated=f"2024-06-{i + 1:02d}T00:00:00Z") for i in range(4)]
    digest = build_digest(papers, "2026-11-20", cap=1, readme_rows=3, topics=["T"])
    section, _ = readme_and_pages(tmp_path, papers, cap=3)
    in_tables = {p.id for p in papers if f"({p.abs_url})" in section}
    left_out = [i.paper.id for i in build_digest(papers, "2026-11-20", cap=100).new][1:]
    assert digest.left_out_in_readme == sum(1 for pid in left_out if pid in in_tables)


def test_failed_topics_are_named_and_no_quiet_day_is_claimed():
    failures = [("Reasoning", "arXiv rejected the query: incorrect id format"), ("MLLM", "HTTP 503 after 4 attempts")]
    empty = render_digest(environment(), build_digest([], "2026-11-21", cap=10, failures=failures), cap=10)
    visible = parse(render_gfm(empty)).text_content()
    for topic, message in failures:
        assert f"{topic}: {message}" in visible
    assert "No new or revised papers" not in visible and "no new" not in visible.lower()
    quiet = render_digest(environment(), build_digest([], "2026-11-21", cap=10), cap=10)
    assert "No new or revised papers matched" in quiet
    busy = render_digest(environment(), build_digest(papers_today(), "2026-11-20", cap=10), cap=10, failures=failures[:1])
    assert "1 topic could not be fetched" in busy and "Reasoning" in busy and "**5** new papers" in busy
