"""How many words does a reader see in the daily issue and digest, before and after TL;DRs?

    python benchmarks/digest_words.py [--baseline 6067cff] [--scitldr PATH/dev.jsonl]

Data: a realistic 50-paper day made of real arXiv papers: the 100-entry recorded API answer
(tests/fixtures/arxiv-api, parsed by the tracker's own parser: real titles, authors, abstracts,
comments), the first 50, in two topics, five of them top picks of a profile. A second day, when
the SciTLDR fixture is there: the first 50 dev papers' titles and abstracts on the same metadata.

Both the issue body (tracker.publish.digest_issue.render_issue_body) and the digest page are
rendered through the real templates, then to HTML with cmark-gfm as GitHub does, and the visible
words are counted two ways:
- honouring <details> (github.com, most browsers): a collapsed block shows only its summary;
- ignoring it (mail clients that drop <details>/<summary>): everything shows, and the summary
  label runs into the text after it unless a block element separates them ("AbstractWith...").
Per paper: the words of its list item before expanding anything (the TL;DR included).

BEFORE: the templates at the baseline commit (`git show BASE:templates/...`: the issue embedded
the whole digest page, abstracts collapsed). AFTER: this working tree (title, TL;DR and one line
of metadata per paper; the issue carries no <details>). Targets: <= 2,500 words in the issue
ignoring <details>, one message (GitHub's 65,536-character limit), <= 45 words per paper.
The TL;DR figures depend on the extractive model in tracker/enrich/tldr_model.py.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from tracker.enrich.tldr import add_tldrs  # noqa: E402
from tracker.publish.digest_issue import render_issue_body  # noqa: E402
from tracker.publish.split import GITHUB_BODY_LIMIT, body_size, split_markdown  # noqa: E402
from tracker.digest import Pick, ProfilePicks, build_digest  # noqa: E402
from tracker.render.markdown import environment, render_digest  # noqa: E402
from tracker.sources.api import parse_page, to_papers  # noqa: E402

FIXTURE = ROOT / "tests/fixtures/arxiv-api/api_search_testing_start0_max100_100entries_doi_jref.xml"
SCITLDR = ROOT.parent.parent / "shared/fixtures/scitldr/dev.jsonl"  # /work/shared/fixtures from a worktree
DAY = "2026-11-20"
PAPERS = 50
TEMPLATES = ("digest.md.j2", "issue.md.j2")
BLOCKS = {"p", "li", "ul", "ol", "h1", "h2", "h3", "h4", "blockquote", "table", "tr", "td", "th", "div", "pre", "br", "hr"}


def day_digest(count: int = PAPERS, data: str = "arxiv"):
    """The day's digest (as data): `count` real papers, with TL;DRs, five top picks with reasons.

    `data`: "arxiv" (the recorded API answer) or "scitldr" (SciTLDR dev titles and abstracts, with
    the arXiv papers' ids, authors and comments as metadata)."""
    url = "http://export.arxiv.org/api/query?search_query=all:testing&start=0&max_results=100"
    papers = to_papers(parse_page(etree.fromstring(FIXTURE.read_bytes()), url).results)[:count]
    if data == "scitldr":
        with SCITLDR.open(encoding="utf-8") as lines:
            records = [json.loads(line) for line, _ in zip(lines, range(count))]
        papers = [p.with_changes(title=r["title"], abstract=" ".join(r["source"])) for p, r in zip(papers, records)]
    papers = [p.cleaned().with_changes(topics=(("Testing ML", "Software testing")[k % 2],), first_seen=DAY,
                                       relevance=round(0.3 + 0.6 * ((k * 37) % 50) / 50, 2))
              for k, p in enumerate(papers)]
    papers = add_tldrs(papers)
    digest = build_digest(papers, DAY, cap=count)
    ranked = sorted(digest.new, key=lambda item: -(item.paper.relevance or 0))[:5]
    picks = tuple(Pick(item, item.paper.relevance or 0, why=papers[-1 - k].title) for k, item in enumerate(ranked))
    return replace(digest, profile_picks=(ProfilePicks("", "classifier", picks),))


def old_templates(base: str, folder: Path) -> Path:
    for name in TEMPLATES:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{base}:templates/{name}"], check=True,
                              capture_output=True, text=True).stdout
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def render(template_dir: Path | None, digest, *, strip_details: bool) -> tuple[str, str]:
    """(digest page, issue body) through the templates in `template_dir` (None: the built-in ones)."""
    env = environment(template_dir)
    page = render_digest(env, digest, cap=PAPERS)
    url = f"https://github.com/lab/papers/blob/main/digests/2026/11/{DAY}.md"
    if strip_details:  # today's issue: the real function
        issue = render_issue_body(date=DAY, new_count=PAPERS, revised_count=0, digest_markdown=page, digest_url=url,
                                  template_dir=template_dir)
    else:  # the baseline embedded the whole page
        issue = env.get_template("issue.md.j2").render(date=DAY, new_count=PAPERS, revised_count=0,
                                                        digest_markdown=page.strip("\n"), digest_url=url, failures=[])
    return page, issue


def to_html(markdown: str) -> str:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    return cmarkgfm.markdown_to_html_with_extensions(
        markdown, options=Options.CMARK_OPT_UNSAFE, extensions=["table", "autolink", "strikethrough", "tagfilter", "tasklist"])


class Reader(HTMLParser):
    """Visible text of rendered HTML: in total, and per paper list item (one linking arxiv.org/abs).

    `details`: honour <details> (hide all but its <summary>) or ignore it (show all; <details> and
    <summary> are then inline, as a client that does not know them treats unknown elements)."""

    def __init__(self, *, details: bool):
        super().__init__(convert_charrefs=True)
        self.details, self.hidden, self.in_summary = details, 0, False
        self.after_summary, self.run_ins = False, 0  # summary labels directly followed by text
        self.chunks: list[str] = []
        self.items: list[list[str]] = []  # per open <li>: its text
        self.papers: list[str] = []
        self._is_paper: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCKS:
            self._text(" ")
            self.after_summary = False
        if tag == "details":
            self.hidden += 1
        elif tag == "summary":
            self.in_summary = True
        elif tag == "li":
            self.items.append([])
            self._is_paper.append(False)
        elif tag == "a" and self._is_paper and "arxiv.org/abs/" in (dict(attrs).get("href") or ""):
            self._is_paper[-1] = True

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self._text(" ")
        if tag == "details":
            self.hidden -= 1
        elif tag == "summary":
            self.in_summary, self.after_summary = False, True
        elif tag == "li" and self.items:
            text, paper = "".join(self.items.pop()), self._is_paper.pop()
            if paper:
                self.papers.append(text)
            (self.items[-1] if self.items else self.chunks).append(text)

    def handle_data(self, data):
        if self.details and self.hidden and not self.in_summary:
            return
        if self.after_summary and data.strip():  # "AbstractWith...": nothing between label and text
            self.run_ins += not data[0].isspace()
            self.after_summary = False
        self._text(data)

    def _text(self, text):
        (self.items[-1] if self.items else self.chunks).append(text)

    def text(self) -> str:
        return "".join(self.chunks)


def words(html: str, *, details: bool) -> tuple[int, list[int], int]:
    """Visible words in all, per paper, and how many summary labels run into the text after them."""
    reader = Reader(details=details)
    reader.feed(html)
    reader.close()
    return len(reader.text().split()), [len(p.split()) for p in reader.papers], reader.run_ins


def report(name: str, page: str, issue: str) -> dict[str, float]:
    figures = {}
    for what, markdown in (("issue", issue), ("digest", page)):
        html = to_html(markdown)
        shown, per_paper, _ = words(html, details=True)
        everything, per_paper_all, run_in = words(html, details=False)
        figures[what] = everything
        print(f"{name:7} {what:7} {shown:9d} {everything:10d} {mean(per_paper):9.1f} {max(per_paper):5d} "
              f"{mean(per_paper_all):9.1f} {run_in:7d}")
    parts = split_markdown(issue, GITHUB_BODY_LIMIT)
    print(f"{name:7} issue body: {body_size(issue):,} characters, {len(parts)} message(s) "
          f"(GitHub's limit {GITHUB_BODY_LIMIT:,})")
    figures["messages"] = len(parts)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="6067cff", help="commit whose templates are BEFORE (default: 6067cff)")
    parser.add_argument("--scitldr", type=Path, default=SCITLDR, help="SciTLDR dev.jsonl (a second day, if present)")
    args = parser.parse_args()
    days = {"arxiv": f"{PAPERS} real arXiv papers ({FIXTURE.name})"}
    if args.scitldr.is_file():
        days["scitldr"] = f"{PAPERS} SciTLDR dev papers (titles and abstracts; arXiv metadata)"
    for data, label in days.items():
        globals()["SCITLDR"] = args.scitldr
        digest = day_digest(data=data)
        print(f"\n{label}, 5 top picks; visible words as rendered by cmark-gfm")
        print(f"{'':7} {'page':7} {'<details>':>9} {'all shown':>10} {'per paper':>9} {'max':>5} "
              f"{'(all)':>9} {'run-ins':>7}")
        with tempfile.TemporaryDirectory() as folder:
            before = report("BEFORE", *render(old_templates(args.baseline, Path(folder)), digest, strip_details=False))
        after = report("AFTER", *render(None, digest, strip_details=True))
        print(f"issue, all shown: {before['issue']:,} -> {after['issue']:,} words "
              f"(target <= 2,500 for 50 papers); messages {before['messages']} -> {after['messages']}")


if __name__ == "__main__":
    main()
