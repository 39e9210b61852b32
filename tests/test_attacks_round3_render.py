"""Attack round 3 on what readers see: paper text that looks like markup or entities, in the Atom feed."""
from __future__ import annotations

import feedparser
import pytest

from tests.arxiv_fake import entry, feed
from tests.test_tldr_display import QUERY, _run

ABSTRACT = "Testing is hard. We propose a tester that finds bugs in compilers. It works."


@pytest.mark.parametrize("title", [
    "Fast &amp; loud testers",  # arXiv text that itself holds an entity: shown as written, not as "&"
    "Tester &lt;script&gt;alert(1)&lt;/script&gt; escapes",
    "Tester &#8203;invisible &#x5C; backslash &#64;everyone",
])
def test_entity_like_paper_text_reaches_the_feed_as_written(arxiv_server, write_config, tmp_path, title):
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    arxiv_server.add_pages(QUERY, {0: feed([entry("2604.00001", title=title, abstract=ABSTRACT,
                                                  updated="2026-04-13T10:00:00Z")])})
    _run(config, "2026-04-13")
    parsed = feedparser.parse((tmp_path / "digests" / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    summary = parsed.entries[0].summary
    assert f"{title}: We propose a tester that finds bugs in compilers." in summary
    assert "<script>" not in summary and "@everyone" not in summary


@pytest.mark.parametrize("repo", ["evil.example@acme/papers", "\u00e4cme/papers", "acme/../../evil", "../..", "acme/pa pers"])
def test_a_repository_name_that_is_not_owner_name_is_one_config_line(write_config, repo):
    from click.testing import CliRunner

    from tracker.cli import cli

    config = write_config("- name: Testing\n  keywords: [testing]\n", extra=f'publish:\n  repo: "{repo}"\n')
    result = CliRunner().invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2 and "OWNER/NAME" in result.output and "keywords.yaml:" in result.output


@pytest.mark.parametrize("repo", ["evil.example@acme/papers", "acme/../../evil"])
def test_a_hostile_github_repository_in_the_environment_never_makes_the_feeds_links(arxiv_server, write_config, tmp_path,
                                                                                   monkeypatch, repo):
    monkeypatch.setenv("GITHUB_REPOSITORY", repo)
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    arxiv_server.add_pages(QUERY, {0: feed([entry("2604.00001", title="Testers", abstract=ABSTRACT,
                                                  updated="2026-04-13T10:00:00Z")])})
    _run(config, "2026-04-13")
    xml = (tmp_path / "digests" / "feed.xml").read_text()
    assert "evil" not in xml and feedparser.parse(xml).bozo == 0


@pytest.mark.parametrize("written, shown", [
    ("Gains of $5%$ on GLUE", "Gains of 5% on GLUE"),  # `%` opened a LaTeX comment: "Gains of 5 on GLUE"
    ("the $a % b$ rule holds", "the a % b rule holds"),
    ("we get $\\text{50%}$ more", "we get 50% more"),
    ("\\textbf{30%} fewer errors", "30% fewer errors"),
    ("pairs $a & b$ align", "pairs a & b align"),
    ("$50\\%$ and $\\varepsilon_1$", "50% and ε₁"),
])
def test_a_percent_or_ampersand_in_latex_is_shown_not_taken_for_markup(written, shown):
    from tracker.render.latex import readable

    assert " ".join(readable(written).split()) == shown


@pytest.mark.parametrize("written, shown", [
    ("a budget of 2^10 tokens", "a budget of 2^10 tokens"),  # was "2¹0": a power that reads as another number
    ("batches of 10^24 rows", "batches of 10^24 rows"),
    ("O(n^2) time and 2^{10} states", "O(n²) time and 2¹⁰ states"),
])
def test_a_power_outside_math_is_converted_only_when_unambiguous(written, shown):
    from tracker.render.latex import readable

    assert readable(written) == shown


@pytest.mark.parametrize("written, shown", [
    ("$\\frac{a+b}{c}$", "(a+b)/c"),  # was "a+b/c": another number
    ("$\\frac{x}{y+1}$ steps", "x/(y+1) steps"),
    ("$\\frac{1}{2}$ and $\\frac{\\alpha}{2}$", "1/2 and α/2"),
    ("$\\|x\\|_2$ is small", "‖x‖₂ is small"),  # was "x₂": the norm gone
    ("$\\frac{a}$ stays", "$\\frac{a}$ stays"),  # missing an argument: as written
])
def test_fractions_and_norms_keep_their_meaning(written, shown):
    from tracker.render.latex import readable

    assert readable(written) == shown


@pytest.mark.parametrize("written, shown", [
    ("$\\sqrt[3]{x}$", "∛(x)"),  # was "√(x)": a cube root shown as a square root
    ("$\\sqrt{x+1}$", "√(x+1)"),
    ("$\\sqrt[n]{x}$", "$\\sqrt[n]{x}$"),  # no Unicode sign for it: as written
    ("closure $\\overline{AB}$", "closure A\u0305B\u0305"),  # was "AB": the bar gone
    ("$\\underline{x}$", "x\u0332"),
])
def test_roots_and_bars_keep_their_meaning(written, shown):
    from tracker.render.latex import readable

    assert readable(written) == shown
