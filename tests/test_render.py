import re

from tracker.render.digest import build_digest
from tracker.models import Paper
from tracker.render.markdown import environment, md_inline, render_digest, render_readme, splice, split_for_archive

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


def test_md_inline_neutralises_table_and_html_breakers():
    text = md_inline(NASTY)
    assert "\n" not in text and "<script>" not in text and "&lt;script&gt;" in text
    assert unescaped_pipes(text) == 0
    assert "\\`code\\`" in text and "\\$" in text and "\\[x\\]" in text


def test_readme_table_survives_hostile_titles_abstracts_and_comments(tmp_path):
    papers = [paper(1, title=NASTY, abstract=NASTY, comment=NASTY), paper(2)]
    section, _ = render_readme(environment(), ["T"], papers, date="2026-11-20", cap=10,
                               readme_path=tmp_path / "README.md", archive_dir=tmp_path / "archive", digest_dir=tmp_path / "digests")
    rows = table_rows(section)
    assert len(rows) == 3  # header + 2 papers
    assert all(unescaped_pipes(row) == 5 for row in rows)  # exactly 4 cells each
    assert "<script>" not in section


def test_readme_keeps_newest_rows_and_archives_the_rest_by_month(tmp_path):
    papers = [paper(i) for i in range(1, 13)]
    section, pages = render_readme(environment(), ["T"], papers, date="2026-11-20", cap=5,
                                   readme_path=tmp_path / "README.md", archive_dir=tmp_path / "archive", digest_dir=tmp_path / "d")
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
    assert text.count("topics: A, B") == 5


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
