"""TL;DRs: stored once per paper version, shown where people read (digest, issue, picks, weekly,
feed), readable math, and why each top pick was picked."""
from __future__ import annotations

import json
from pathlib import Path

import feedparser
import lxml.etree as etree
import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.digest_words import day_digest, render, to_html, words
from tests.arxiv_fake import entry, feed
from tests.hostile import expected_shown, foreign_elements, live_references, normalise, parse, render_gfm, visible_text
from tests.test_relevance import A_IDS, _digest, ledger
from tracker.cli.main import cli
from tracker.enrich import tldr_model
from tracker.enrich.profile import Profile
from tracker.enrich.relevance import explain, score_profiles
from tracker.enrich.tldr import EXTRACTIVE, shown_tldr
from tracker.models import Paper
from tracker.publish.digest_issue import render_issue_body
from tracker.publish.split import GITHUB_BODY_LIMIT, split_markdown
from tracker.digest import build_digest, with_picks
from tracker.render.feed import digest_summary, feed_url, repository
from tracker.render.latex import readable
from tracker.render.markdown import environment, render_digest
from tracker.store.ledger import merge
from tracker.store.records import decode, encode

QUERY = '(ti:"testing" OR abs:"testing")'
ABSTRACT_1 = "Testing is hard. We propose a tester that finds bugs in compilers. It works."
ABSTRACT_2 = "Testing is still hard. We introduce a second tester, now for linkers. It works too."
HOSTILE_TLDR = ("We fix #12 for @octocat at <img src=x onerror=alert(1)> cost $5 and $x_1$ **bold** "
                "[link](javascript:alert(1)) :tada:\nsecond line")


# --- stored once per version ------------------------------------------------------------------

@pytest.fixture
def counted(monkeypatch):
    """The real extractive model, counting its calls."""
    calls: list[str] = []
    real = tldr_model.extractive_tldr

    def counting(title: str, abstract: str) -> str:
        calls.append(title)
        return real(title, abstract)

    monkeypatch.setattr(tldr_model, "extractive_tldr", counting)
    return calls


def _run(config: Path, date: str) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", date, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _records(tmp_path: Path) -> dict[str, bytes]:
    return {json.loads(line)["id"]: line for shard in sorted((tmp_path / "data").rglob("*.jsonl"))
            for line in shard.read_bytes().splitlines() if line.strip()}


def test_each_version_gets_its_tldr_once_and_older_records_keep_their_bytes(arxiv_server, write_config, tmp_path, counted):
    # an older ledger: a record written before TL;DRs existed, in the shard today's papers go to
    old = Paper(id="2604.00009", version=1, title="Old paper", abstract="We propose an old method.", topics=("Testing",),
                first_seen="2026-04-01", abs_url="https://arxiv.org/abs/2604.00009", updated="2026-04-01T00:00:00Z")
    (tmp_path / "data" / "papers").mkdir(parents=True)
    (tmp_path / "data" / "papers" / "2026-04.jsonl").write_bytes(encode(old) + b"\n")
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    arxiv_server.add_pages(QUERY, {0: feed([entry("2604.00001", title="Tester", abstract=ABSTRACT_1,
                                                  updated="2026-04-13T10:00:00Z")])})
    _run(config, "2026-04-13")
    first = _records(tmp_path)
    assert first["2604.00009"] == encode(old)  # untouched: no tldr written into it
    stored = json.loads(first["2604.00001"])
    assert (stored["tldr"], stored["tldr_source"]) == ("We propose a tester that finds bugs in compilers.", EXTRACTIVE)
    assert counted == ["Tester"]

    _run(config, "2026-04-13")  # a rerun computes nothing and changes nothing
    assert counted == ["Tester"] and _records(tmp_path) == first

    arxiv_server.add_pages(QUERY, {0: feed([entry("2604.00001", version=2, title="Tester", abstract=ABSTRACT_2,
                                                  updated="2026-04-14T10:00:00Z")])})
    _run(config, "2026-04-14")  # a new version: its own TL;DR, once
    assert counted == ["Tester", "Tester"]
    revised = json.loads(_records(tmp_path)["2604.00001"])
    assert (revised["version"], revised["tldr"]) == (2, "We introduce a second tester, now for linkers.")
    assert _records(tmp_path)["2604.00009"] == encode(old)
    digest = (tmp_path / "digests" / "2026" / "04" / "2026-04-14.md").read_text(encoding="utf-8")
    assert "We introduce a second tester, now for linkers." in digest


def test_records_carry_tldr_fields_and_unknown_fields_through_a_rewrite():
    raw = json.dumps({"id": "2401.00001", "version": 2, "title": "T", "abstract": "A.", "abs_url": "", "pdf_url": "",
                      "primary_category": "", "tldr": "Does x.", "tldr_source": "llm:some-model",
                      "future_field": {"kept": [1, 2]}}, sort_keys=True).encode()
    paper, notes = decode(raw)
    assert (paper.tldr, paper.tldr_source, paper.extra) == ("Does x.", "llm:some-model", {"future_field": {"kept": [1, 2]}})
    again, _ = decode(encode(paper))
    assert again == paper and not notes
    assert b"tldr" not in encode(paper.with_changes(tldr=None, tldr_source=None))  # unset: no key at all


def test_a_new_version_drops_the_old_versions_tldr_and_the_same_version_keeps_it():
    old = Paper(id="2401.00001", version=1, title="T", abstract="A.", tldr="Old line.", tldr_source=EXTRACTIVE,
                first_seen="2026-01-01")
    revised, _ = merge(old, Paper(id="2401.00001", version=2, title="T", abstract="B."), "Topic", "2026-01-02")
    same, _ = merge(old, Paper(id="2401.00001", version=1, title="T", abstract="A."), "Topic", "2026-01-02")
    assert revised.tldr is None and same.tldr == "Old line."


# --- shown where people read ------------------------------------------------------------------

def _paper(i: int, **kw) -> Paper:
    values = dict(id=f"2411.{i:05d}", version=1, title=f"Paper {i}", abstract=f"First sentence {i}. We present thing {i}.",
                  authors=("Ada Lovelace", "Alan Turing"), topics=("T",), first_seen="2026-11-20",
                  abs_url=f"https://arxiv.org/abs/2411.{i:05d}", updated="2026-11-19T00:00:00Z")
    return Paper(**{**values, **kw})


def test_hostile_tldr_shows_as_written_under_the_title_in_digest_and_issue():
    papers = [_paper(1, tldr=HOSTILE_TLDR, tldr_source="llm:x"), _paper(2)]
    page = render_digest(environment(), build_digest(papers, "2026-11-20", cap=10), cap=10)
    issue = render_issue_body(date="2026-11-20", new_count=2, revised_count=0, digest_markdown=page)
    for markdown in (page, issue):
        html = render_gfm(markdown)
        assert foreign_elements(html) == [] and live_references(html) == []
        assert not [a for a in parse(html).iter("a") if not a.get("href", "").startswith("https://")]
        first_paragraphs = {item.find(".//a").text_content(): item.find("p") for item in parse(html).iter("li")}
        for paper in papers:
            lines = [normalise(line) for line in etree.tostring(first_paragraphs[paper.title], method="text",
                                                                  encoding="unicode").split("\n") if line.strip()]
            assert lines[:2] == [paper.title, expected_shown(shown_tldr(paper))]  # the line right under the title
    assert "x₁" in visible_text(render_gfm(issue))  # math in a TL;DR reads as math too


def test_a_record_from_before_tldrs_is_shown_one_computed_on_the_fly():
    paper = _paper(3)
    assert paper.tldr is None
    page = render_digest(environment(), build_digest([paper], "2026-11-20", cap=10), cap=10)
    assert "We present thing 3." in visible_text(render_gfm(page)) and paper.tldr is None


def test_a_50_paper_issue_fits_the_word_budget_in_one_message_with_no_run_in_labels():
    page, issue = render(None, day_digest(50), strip_details=True)
    issue_words, per_paper, run_ins = words(to_html(issue), details=False)  # a mail client ignoring <details>
    assert len(per_paper) == 55  # 50 entries + 5 top picks
    assert issue_words <= 2500 and sum(per_paper) / len(per_paper) <= 45
    assert len(split_markdown(issue, GITHUB_BODY_LIMIT)) == 1 and "<details>" not in issue
    page_words, _, page_run_ins = words(to_html(page), details=False)
    assert page_words > 5 * issue_words  # the abstracts are all on the digest page, one click away
    assert run_ins == page_run_ins == 0  # "Abstract" never runs into the text after it


def test_the_weekly_review_shows_tldrs_and_why_each_top_pick(tmp_path):
    from tests.test_trends import timeline
    from tracker.config import Settings
    from tracker.pipeline import weekly_review_files

    papers, vectors = timeline()
    papers = [p.with_changes(tldr=f"Does @{p.id} in $O(n^2)$ time." if p.relevance is not None else None) for p in papers]
    settings = Settings(topics=[{"name": "T", "keywords": ["t"]}], base_dir=tmp_path, weekly={"weekday": 1, "weeks": 3})
    reasons = {p.id: f"Our <b>paper</b> {k}" for k, p in enumerate(papers) if p.relevance is not None}
    (_, page), = weekly_review_files(settings, papers, vectors, "2026-03-30", why=reasons.get).items()
    html = render_gfm(page)
    assert foreign_elements(html) == [] and live_references(html) == []
    items = [normalise(item.text_content()) for item in parse(html).iter("li")]
    rising, picks = page.split("## Top picks")
    picked = [pid for pid in reasons if pid in picks]
    assert len(picked) >= 3
    for pid in picked:  # each top pick: why, then its TL;DR under the title
        assert any(f"close to {reasons[pid]} Does @{pid} in O(n²) time." in item for item in items), (pid, items)
    assert sum("in O(n²) time." in item for item in items) == len(picked) + rising.count("\n- **")  # rising papers too


# --- feed -------------------------------------------------------------------------------------

def test_feed_in_actions_has_absolute_links_a_self_link_and_plain_text_tldrs(arxiv_server, write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "Lab/papers")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    config = write_config("- name: Testing\n  keywords: [testing]\n")  # no publish.repo
    arxiv_server.add_pages(QUERY, {0: feed([entry("2604.00001", title="Tester <b>&</b> $\\alpha$-things", abstract=ABSTRACT_1,
                                                  updated="2026-04-13T10:00:00Z")])})
    _run(config, "2026-04-13")
    xml = (tmp_path / "digests" / "feed.xml").read_bytes()
    parsed = feedparser.parse(xml)
    assert parsed.bozo == 0
    hrefs = [node.get("href") for node in etree.fromstring(xml).iter("{http://www.w3.org/2005/Atom}link")]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == "https://lab.github.io/papers/digests/feed.xml"
    assert parsed.entries[0].link == "https://github.com/Lab/papers/blob/main/digests/2026/04/2026-04-13.md"
    summary = parsed.entries[0].summary
    assert "Tester <b>&</b> α-things: We propose a tester that finds bugs in compilers." in summary
    assert not any(mark in summary for mark in ("\\", "**", "<span>", "](", "\u200b"))


def test_feed_urls_readers_accept_and_the_weekly_keeps_its_emphasis():
    assert feed_url("Lab/papers", "digests/feed.xml") == "https://lab.github.io/papers/digests/feed.xml"
    assert feed_url("lab/lab.github.io", "digests/feed.xml") == "https://lab.github.io/digests/feed.xml"
    assert feed_url("lab/papers", "digests/feed.xml", server="https://git.example.org") == \
        "https://git.example.org/lab/papers/raw/main/digests/feed.xml"
    assert repository("lab/papers", {"GITHUB_REPOSITORY": "other/repo"}) == ("lab/papers", "https://github.com")
    assert repository(None, {"GITHUB_REPOSITORY": "o/r", "GITHUB_SERVER_URL": "https://ghe.example"}) == ("o/r", "https://ghe.example")
    assert repository(None, {}) == (None, "https://github.com")
    weekly = ("# Weekly review 2026-W15\n\n_Papers first seen 2026-04-06 to 2026-04-12: **3** new._\n\n## Top picks\n\n"
              "1. **[A \\*star\\* <span>$</span>5](https://arxiv.org/abs/2604.00001)** · relevance 0.90\\\n"
              "   Finds \\_bugs\\_ for @\u200bteam \\`x\\`.\n"
              "2. **[No TL;DR](https://arxiv.org/abs/2604.00002)** · relevance 0.80\\\n"
              "  Ada Lovelace, et al. · `2604.00002v1` · T\n")
    assert digest_summary(weekly, "2026-04-06")[1] == (
        "_Papers first seen 2026-04-06 to 2026-04-12: 3 new._\nA *star* $5: Finds _bugs_ for @team `x`.")


# --- readable math ----------------------------------------------------------------------------

@pytest.mark.parametrize("source, shown", [
    (r"$\varepsilon_1$-DP", "ε₁-DP"),
    (r"\mathcal{O}(n^2) time", "𝒪(n²) time"),
    (r"$\mathcal{O}(n\log n)$", "𝒪(n log n)"),
    (r"VLM$^2$-Bench", "VLM²-Bench"),
    (r"$x_{ij}^{2}$ and $10^{-3}$", "xᵢⱼ² and 10⁻³"),
    (r"$\sum_{i=1}^n x_i$", "∑ᵢ₌₁ⁿ xᵢ"),
    (r"Schr\"odinger, 50\% and \emph{this}", "Schrödinger, 50% and this"),
    (r"$X \sim N(0, 1)$, $\{1, \dots, n\}$", "X ∼ N(0, 1), {1, …, n}"),
    (r"$N(\mathbfθ, I)$", r"$N(\mathbfθ, I)$"),  # latex2text would drop the θ: as written
    (r"$x^*$ and $a_{\theta}$", "x^* and a_θ"),  # no Unicode superscript * or subscript θ: the script stays written
    ("costs $5 and $10, file_name_1, 100%", "costs $5 and $10, file_name_1, 100%"),  # not math
    (r"$\foo{x}$ and \unknownmacro", r"$\foo{x}$ and \unknownmacro"),  # not known: as written
    (r"see \input{/etc/passwd} and $\input{/etc/passwd}$", r"see \input{/etc/passwd} and $\input{/etc/passwd}$"),
    (r"\href{javascript:alert(1)}{click} $\url{javascript:x}$", r"\href{javascript:alert(1)}{click} $\url{javascript:x}$"),
    (r"unbalanced $x_1 and \frac{a", r"unbalanced $x_1 and \frac{a"),
    (r"$\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{x}}}}}}}}}}}$",
     r"$\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{\frac{1}{x}}}}}}}}}}}$"),
])
def test_latex_becomes_unicode_only_where_unambiguous(source, shown):
    assert readable(source) == shown


def test_hostile_latex_at_length_is_bounded_and_stays_text():
    huge = (r"$\alpha_{i}^{2}$ \emph{x} " * 5000) + "$" + r"\frac{" * 20000 + "$"  # ~190 KB
    out = readable(huge)
    assert out.startswith("αᵢ² x " * 3) and out.endswith(r"\frac{" * 100 + "$")  # past the budget: as written
    assert out.count("αᵢ²") <= 100
    title = r"$\href{javascript:alert(1)}{x}$ <script>x</script> $\varepsilon_1$ @octocat"
    html = render_gfm(render_digest(environment(), build_digest([_paper(4, title=title)], "2026-11-20", cap=5), cap=5))
    assert foreign_elements(html) == [] and live_references(html) == []
    assert not [a for a in parse(html).iter("a") if "javascript" in a.get("href", "")]
    assert expected_shown(title) in visible_text(html) and "ε₁" in visible_text(html)


# --- why each top pick ------------------------------------------------------------------------

@pytest.mark.parametrize("ids", [A_IDS, A_IDS[:1]])  # the classifier, and the similarity fallback
def test_each_pick_names_the_example_explain_ranks_first(ids):
    papers, vectors = ledger(n_noise=30)
    papers = [p.with_changes(first_seen="2026-01-02", abs_url=f"https://arxiv.org/abs/{p.id}",
                             title=f"Paper about {p.id} with @team") for p in papers]
    ticks = {"2401.00011": "2026-01-01"}
    result = score_profiles(papers, vectors, [Profile(ids=ids)], {}, ticks)
    digest = with_picks(_digest(papers), result)
    picks = digest.profile_picks[0].picks
    assert len(picks) == 5
    for pick in picks:
        why = explain(pick.item.paper.id, papers, vectors, [Profile(ids=ids)], {}, ticks)
        top = why["profiles"][0]["top_positives"][0]
        pid, title = top["label"].split(" ", 1)
        assert pick.why == title + (" (ticked)" if top["ticked"] else "")
    html = render_gfm(render_digest(environment(), digest, cap=200))
    shown = visible_text(html)
    assert all(normalise(f"close to {pick.why}") in shown for pick in picks) and live_references(html) == []


def test_no_vectors_means_no_reason_rather_than_a_wrong_one():
    papers, vectors = ledger(n_noise=5)
    result = score_profiles(papers, vectors, [Profile(ids=A_IDS)])
    assert result.why("2401.99999") is None and result.why(papers[-1].id) is not None
    np.testing.assert_allclose(np.linalg.norm(result.profiles[0].examples, axis=1), 1.0, rtol=1e-5)
