"""Hostile paper text, and how to look at our output the way GitHub shows it.

- `CORPUS`: real-looking papers whose titles, abstracts, comments and author names carry what
  arXiv really lets through: LaTeX, Markdown and HTML syntax, entities, @mentions and issue
  references, URLs glued to punctuation, emoji, RTL text, combining marks, control characters.
- `render_gfm`: GitHub's renderer (cmark-gfm via `cmarkgfm`) with GitHub's extensions. GitHub
  renders raw HTML (CMARK_OPT_UNSAFE) and then sanitises it with an allow-list; cmark's "safe"
  mode would drop our own `<details>` too, so we render unsafe and check the elements ourselves
  (`foreign_elements`).
- `visible_text`, `expected_visible`: what a reader sees, and what they should see.
- `live_references`: what GitHub would turn into a notification or cross-reference.
- hypothesis strategies for arbitrary Unicode in every text field of a Paper.
- `readme_and_pages`: the README and archive pages exactly as a run renders them; `split_for_archive`:
  which rows they must show.
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import cmarkgfm
import lxml.html
from cmarkgfm.cmark import Options
from hypothesis import strategies as st

from tracker.config import load_settings
from tracker.models import Paper
from tracker.render.plan import environment_for, render_tables_of_run
from tracker.store.ledger import Ledger

GFM_EXTENSIONS = ["table", "autolink", "strikethrough", "tagfilter", "tasklist"]

LATEX_TITLE = r"SR$^3$: $\varepsilon_1$-Robust Retrieval with \frac{1}{2}-Step *Self* Refinement | 20\% Faster"
CORPUS = (
    Paper(
        id="2411.00001", version=2, title=LATEX_TITLE,
        abstract=(
            "We bound the error by $\\mathcal{O}(n^2 \\log n)$ and $$\\sum_{i=1}^n x_i^2$$ in 20\\% of cases, "
            "at a cost of $5 and $10 per run. Our code is at https://github.com/org/sr3_repo. See also "
            "(https://en.wikipedia.org/wiki/Big_O_(notation)) and www.example.org/path_with_underscores.\n\n"
            "Second paragraph: a_b^c, *emphasis*, __strong__, ~~struck~~, `code` and ``` fences ```."
        ),
        authors=("Ana María Pérez-Ñúñez", "O'Brien, J.", "李小龙", "@alice", "Zoë *Star* Smith", "<b>Bold</b> Author", "Seventh Person"),
        comment="15 pages, 9 figures; accepted at ICML'25 | code: https://gitlab.com/grp/sub/proj.",
        abs_url="https://arxiv.org/abs/2411.00001", updated="2024-11-02T10:00:00Z", topics=("LLM",),
    ),
    Paper(
        id="2411.00002", version=1,
        title="<img src=x onerror=alert(1)> <script>alert('t')</script> & &amp; &lt;img &#36; &copy;",
        abstract=(
            "Raw HTML: <details><summary>x</summary>open</details> </td></tr> <iframe src=//evil></iframe> "
            "<style>*{display:none}</style> <a href=\"javascript:alert(1)\">click</a> <!-- paper-tracker:end --> "
            "<!-- comment --> <https://auto.link/x> [link](javascript:alert(1)) ![img](https://evil.example/x.png) "
            "and a stray </details> end."
        ),
        authors=("Eve <eve@example.com>",),
        comment="<!-- paper-tracker:start --> &lt;script&gt; &#x3C;b&#x3E; \\<br\\> <br>",
        abs_url="https://arxiv.org/abs/2411.00002", updated="2024-11-03T10:00:00Z", topics=("LLM", "Safety"),
    ),
    Paper(
        id="2411.00003", version=1,
        title="Thanks @octocat and @github/security-team: fixes #123, GH-7 and torvalds/linux#1 :rocket:",
        abstract=(
            "We ping @dependabot, @org/team and user@example.com; see #42, gh-99, owner/repo#7 and "
            "https://github.com/python/cpython/issues/12345 or https://github.com/o/r/pull/1. "
            "Emoji shortcodes :tada: and :+1: and commit deadbeefcafe1234."
        ),
        authors=("@octocat", "Team @acme/ml"),
        comment="cc @someone; related to #9 and github.com/a/b/discussions/3",
        abs_url="https://arxiv.org/abs/2411.00003", updated="2024-11-04T10:00:00Z", topics=("Safety",),
    ),
    Paper(
        id="2411.00004", version=1,
        title="- A title that starts like a list | with || pipes \\| and a \\ backslash",
        abstract=(
            "# Not a heading\n> not a quote\n1. not a list\n---\n===\n| a | b |\n| --- | --- |\n"
            "    indented code?\n- [ ] not a task [^1] [!NOTE]\n\u2028line separator\u2029paragraph separator"
        ),
        authors=("1. Numbered", "# Hash", "> Quote", "- Dash", "Team C #", "==="),
        comment="    leading spaces\tand\ttabs\r\nand CRLF",
        abs_url="https://arxiv.org/abs/2411.00004", updated="2024-11-05T10:00:00Z", topics=("LLM",),
    ),
    Paper(
        id="2411.00005", version=1,
        title="\u0646\u0645\u0648\u0630\u062c \u0644\u063a\u0648\u064a (RTL) \u05e9\u05dc\u05d5\u05dd, Z\u0308o\u0301e\u0300, 🚀 emoji 👩‍🔬 and \u202eevil\u202c bidi",
        abstract=(
            "Code available at https://x/a)<script>alert(1)</script> and at https://github.com/a/b). "
            "Demo: https://demo.example.com/app?x=1&y=2#frag, done. A % sign, 100%, 50\\% and \\%."
            " NUL\x00 and BEL\x07 and DEL\x7f controls."
        ),
        authors=("\u0639\u0644\u064a \u062d\u0633\u0646", "Ng\u0169y\u1ec5n V\u0103n A"),
        comment=None,
        abs_url="javascript:alert(1)", updated="2024-11-06T10:00:00Z", topics=("Safety",),
    ),
)

# Elements our templates (and the publisher's task lists) emit; paper text must add none.
ALLOWED_ELEMENTS = {
    "div", "p", "ul", "ol", "li", "strong", "em", "a", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "br", "span", "code", "h1", "h2", "h3", "h4", "blockquote", "hr", "input",
    "pre",  # the Mermaid chart blocks (```mermaid, tracker.render.charts); tests/test_charts.py checks them
}
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b\u202a-\u202e\u2066-\u2069]")


def render_gfm(markdown: str) -> str:
    return cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=GFM_EXTENSIONS
    )


def parse(html_text: str):
    return lxml.html.fragment_fromstring(html_text or "<p></p>", create_parent="div")


def normalise(text: str) -> str:
    """What two texts must agree on: visible characters, whitespace runs as one space, NFC."""
    return unicodedata.normalize("NFC", " ".join(_INVISIBLE.sub("", text).split()))


def visible_text(html_text: str) -> str:
    """The text a reader sees (entities decoded, tags gone), normalised."""
    return normalise(parse(html_text).text_content())


def expected_visible(source: str | None) -> str:
    """What the reader must see for a field: the source text itself, normalised."""
    return normalise(source or "")


def expected_shown(source: str | None) -> str:
    """What a page shows for a paper's title, abstract or comment: the source text itself with its
    LaTeX as Unicode (the templates' `readable` filter, tracker.render.latex), normalised."""
    from tracker.render.latex import readable

    return normalise(readable(source or ""))


def foreign_elements(html_text: str, allowed: set[str] = ALLOWED_ELEMENTS) -> list[str]:
    """Elements or attributes no template of ours emits: raw HTML that came from paper text."""
    bad = []
    for element in parse(html_text).iter():
        if not isinstance(element.tag, str):  # a comment: only our own marker lines
            if not re.fullmatch(r" paper-tracker:[\w-]+(?: [\w-]+=[\w-]+)? ", element.text or ""):
                bad.append(f"<!--{element.text}-->")
            continue
        if element.tag not in allowed:
            bad.append(element.tag)
        for name, value in element.attrib.items():
            if name not in ("href", "type", "checked", "disabled", "class", "align") or name.startswith("on"):
                bad.append(f"{element.tag}[{name}]")
            if name == "href" and not re.match(r"https?://|[\w./#-]", value):
                bad.append(f"{element.tag}[href={value}]")
        if element.tag == "span" and (len(element) or (element.text or "") != "$"):
            bad.append(f"span:{element.text!r}")  # our only span is GitHub's literal dollar
        if element.tag == "pre" and [(c.tag, c.get("class")) for c in element] != [("code", "language-mermaid")]:
            bad.append("pre")  # our only code block is a Mermaid chart
    return bad


# GitHub's patterns (html-pipeline's mention/issue-reference/emoji filters), made stricter:
# any `@` or `#` directly followed by a login/number character counts, whatever precedes it.
_LIVE = re.compile(
    r"@[A-Za-z0-9]|#\d|\bgh-\d|:[a-z0-9_+-]+:"
    r"|github\.com/[\w.-]+/[\w.-]+/(?:issues|pull|discussions)/\d",
    re.IGNORECASE,
)


def live_references(html_text: str) -> list[str]:
    """@mentions, #refs, GH-refs, emoji shortcodes and GitHub thread URLs GitHub would act on:
    in each block's text outside code (text nodes joined, as they read) and in every href."""
    root = parse(html_text)
    found = []
    for element in root.iter("p", "li", "td", "th", "summary", "details", "h1", "h2", "h3", "blockquote"):
        text = "".join(_text_outside_code(element, top=True))
        found += _LIVE.findall(text)
    for link in root.iter("a"):
        href = link.get("href", "")
        if re.search(r"github\.com/[^/]+/[^/]+/(?:issues|pull|discussions)\b", href, re.IGNORECASE) or "@" in href:
            found.append(href)
    return found


def _text_outside_code(element, top: bool = False):
    if element.tag in ("code", "pre") and not top:
        yield " " + (element.tail or "")
        return
    yield element.text or ""
    for child in element:
        yield from _text_outside_code(child)
    if not top:
        yield element.tail or ""


def table_rows(html_text: str) -> list[dict[str, str]]:
    """Every body row of every table as {header text: visible cell text}.

    cmark-gfm silently drops cells beyond the header's count, so a `|` that split a cell shows
    up as text missing from its cell, not as an extra cell: check the cells' contents.
    """
    rows = []
    for table in parse(html_text).iter("table"):
        headers = [normalise(th.text_content()) for th in table.xpath("./thead/tr/th")]
        for row in table.xpath("./tbody/tr"):
            cells = [normalise(td.text_content()) for td in row.xpath("./td")]
            assert len(cells) == len(headers), (headers, cells)
            rows.append(dict(zip(headers, cells)))
    return rows


def check_row(row: dict[str, str], paper: Paper, authors_line: str) -> None:
    """The row shows the paper's fields, each whole in its own column. Title and authors share a
    cell (`**title**<br>authors`); a collapsed cell reads "Show" (its <summary>) first."""
    title = expected_shown(paper.title) or "(untitled)"
    assert row["Title"] == normalise(title + expected_visible(authors_line)), (row, paper)
    for column, value, shown in (("Abstract", paper.abstract, expected_shown), ("Comment", paper.comment, expected_visible)):
        if column in row:
            text = shown(value)
            assert row[column] in (text, normalise("Show" + text)), (column, row, paper)


# --- hypothesis ------------------------------------------------------------------------------

# Every code point except surrogates (which no UTF-8 file can hold), controls and separators included.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
# Text that mixes in what matters most, so short examples still hit it often.
_SPICE = st.sampled_from([
    "$", "$x$", "\\", "|", "`", "*", "_", "<", ">", "&", "&amp;", "<img src=x>", "@a", "@o/t", "#1", "GH-2",
    "o/r#3", ":tada:", "\n", "\u2028", "\u202e", "\x00", "\u200b", "https://github.com/a/b.", "www.x.org",
    "<!-- paper-tracker:end -->", "[x](y)", "# ", "- ", "1. ", "</details>", "</td>", "\\|", "~~",
])
hostile_text = st.lists(st.one_of(any_text, _SPICE), max_size=6).map("".join)


@st.composite
def hostile_papers(draw, index: int = 1) -> Paper:
    return Paper(
        id=f"2411.{index:05d}",
        version=draw(st.integers(1, 3)),
        title=draw(hostile_text),
        abstract=draw(hostile_text),
        authors=tuple(draw(st.lists(hostile_text, max_size=3))),
        comment=draw(st.one_of(st.none(), hostile_text)),
        journal_ref=draw(st.one_of(st.none(), hostile_text)),
        doi=draw(st.one_of(st.none(), hostile_text)),
        categories=tuple(draw(st.lists(hostile_text, max_size=2))),
        primary_category=draw(hostile_text),
        abs_url=draw(st.one_of(st.just(f"https://arxiv.org/abs/2411.{index:05d}"), hostile_text)),
        updated="2024-11-02T10:00:00Z",
    )


# --- as arXiv would send it -------------------------------------------------------------------

# XML 1.0 cannot carry these at all (not even as character references), so no feed can deliver
# them; what is left of each field is what the sources must cope with.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str:
    from xml.sax.saxutils import escape

    return escape(_NOT_XML.sub("", text or ""))


def xml_attr(text: str | None) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(_NOT_XML.sub("", text or ""))


def atom_page(papers) -> bytes:
    """An arXiv API page holding `papers`, every text field (and category attribute) as given."""
    entries = []
    for p in papers:
        cats = "".join(f"<category term={xml_attr(c)} scheme=\"http://arxiv.org/schemas/atom\"/>" for c in p.categories)
        people = "".join(f"<author><name>{xml_text(a)}</name></author>" for a in p.authors)
        optional = "".join(f"<arxiv:{tag}>{xml_text(value)}</arxiv:{tag}>" for tag, value in
                           (("comment", p.comment), ("journal_ref", p.journal_ref), ("doi", p.doi)) if value is not None)
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{p.id}v{p.version}</id><title>{xml_text(p.title)}</title>"
            f"<updated>{p.updated}</updated><published>{p.updated}</published><summary>{xml_text(p.abstract)}</summary>"
            f"{people}{cats}{optional}<arxiv:primary_category term={xml_attr(p.primary_category)}/>"
            f"<link href=\"https://arxiv.org/abs/{p.id}v{p.version}\" rel=\"alternate\" type=\"text/html\"/></entry>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" "
        "xmlns:arxiv=\"http://arxiv.org/schemas/atom\" xmlns=\"http://www.w3.org/2005/Atom\"><id>x</id><title>q</title>"
        f"<updated>2024-11-06T00:00:00Z</updated><opensearch:itemsPerPage>{max(len(entries), 1)}</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults><opensearch:startIndex>0</opensearch:startIndex>"
        + "".join(entries) + "</feed>"
    ).encode("utf-8")


def rss_feed(papers) -> bytes:
    """An arXiv announcement feed (RSS 2.0) holding `papers` as `new` items."""
    items = []
    for p in papers:
        cats = "".join(f"<category>{xml_text(c)}</category>" for c in p.categories)
        optional = "".join(f"<arxiv:{tag}>{xml_text(value)}</arxiv:{tag}>" for tag, value in
                           (("journal_reference", p.journal_ref), ("DOI", p.doi)) if value is not None)
        items.append(
            f"<item><title>{xml_text(p.title)}</title><link>https://arxiv.org/abs/{p.id}</link>"
            f"<description>{xml_text(f'arXiv:{p.id}v{p.version} Announce Type: new ' + chr(10) + 'Abstract: ' + p.abstract)}</description>"
            f"<guid isPermaLink=\"false\">oai:arXiv.org:{p.id}v{p.version}</guid>{cats}"
            f"<pubDate>Wed, 06 Nov 2024 00:00:00 -0500</pubDate><arxiv:announce_type>new</arxiv:announce_type>{optional}"
            f"<dc:creator>{xml_text(', '.join(p.authors))}</dc:creator></item>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<rss xmlns:arxiv=\"http://arxiv.org/schemas/atom\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"2.0\"><channel><title>cs.CL updates</title>"
        "<link>http://rss.arxiv.org/rss/cs.CL</link><description>x</description>" + "".join(items) + "</channel></rss>"
    ).encode("utf-8")


def readme_and_pages(folder: Path, papers, *, topics=("T",), date="2026-11-20", cap=2, readme: str | None = None):
    """The README and the archive pages (by path) as `tracker run` renders them for a ledger of these papers
    (tracker.render.plan), from a keywords.yaml written in `folder`; `readme`: the lab's own README around
    the tracker's section."""
    folder.mkdir(parents=True, exist_ok=True)
    topics_yaml = "".join(f"  - name: {json.dumps(name)}\n    keywords: [x]\n" for name in topics)
    (folder / "keywords.yaml").write_text(f"topics:\n{topics_yaml}output:\n  readme_rows: {cap}\n", encoding="utf-8")
    settings = load_settings(folder / "keywords.yaml")
    readme_path = settings.path(settings.output.readme)
    if readme is not None:
        readme_path.write_text(readme, encoding="utf-8")
    ledger = Ledger({paper.id: paper for paper in papers})
    files = render_tables_of_run(settings, environment_for(settings), ledger, date, full=True)
    return files.pop(readme_path), {path: text for path, text in files.items() if text is not None}


def split_for_archive(papers, cap: int) -> tuple[list[Paper], dict[str, list[Paper]]]:
    """The newest `cap` papers (by `updated`, then id) stay in the README; the rest go to pages by month of their date."""
    ordered = sorted(papers, key=lambda p: (p.updated or "", p.id), reverse=True)
    months: dict[str, list[Paper]] = {}
    for paper in ordered[cap:]:
        months.setdefault(paper.date[:7] or "undated", []).append(paper)
    return ordered[:cap], months
