"""The Atom feed of the digests: RFC 4287's required elements, valid for feedparser, escaped,
30 days, links to each digest, deterministic bytes; and a real run writes it."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import lxml.etree as etree
from click.testing import CliRunner

from tests.arxiv_fake import entry, feed
from tracker.cli.main import cli
from tracker.render.feed import digest_feed, digest_summary, render_feed

ATOM = "{http://www.w3.org/2005/Atom}"
TAG_URI = re.compile(r"tag:[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:[\w./:%~-]+")
HOSTILE = 'A <script>alert(1)</script> & "quotes" ]]> \x01\x0b \ufffe $\\frac{a}{b}$ @someone #12 \u202eevil'


def write_digests(root: Path, first: dt.date, days: int, text: str = "") -> list[Path]:
    paths = []
    for offset in range(days):
        day = (first + dt.timedelta(days=offset)).isoformat()
        path = root / "digests" / day[:4] / day[5:7] / f"{day}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# arXiv digest: {day}\n\n**{offset}** new papers, **1** revised. {text}\n\n## New\n\n- paper\n")
        paths.append(path)
    return paths


def required_elements(xml: str) -> None:
    """RFC 4287 4.1.1/4.1.2: feed id, title, updated, author (no entry has one); entry id, title, updated,
    and an alternate link (entries have no content)."""
    root = etree.fromstring(xml.encode())
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}author/{ATOM}name").text
    ids = [root.findtext(f"{ATOM}id")]
    for item in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(item.findall(f"{ATOM}{name}")) == 1, name
        assert [l.get("rel") for l in item.findall(f"{ATOM}link")] == ["alternate"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", item.findtext(f"{ATOM}updated"))
        ids.append(item.findtext(f"{ATOM}id"))
    assert all(TAG_URI.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)


def test_feed_holds_the_last_30_days_newest_first_with_github_links(tmp_path):
    write_digests(tmp_path, dt.date(2026, 3, 1), 45)
    path, xml = digest_feed(tmp_path / "digests", tmp_path, repo="lab/papers")
    assert path == tmp_path / "digests" / "feed.xml"
    required_elements(xml)
    parsed = feedparser.parse(xml.encode())
    assert parsed.bozo == 0
    dates = [e.title.removeprefix("arXiv digest: ") for e in parsed.entries]
    assert dates == [(dt.date(2026, 4, 14) - dt.timedelta(days=i)).isoformat() for i in range(30)]
    assert parsed.entries[0].link == "https://github.com/lab/papers/blob/main/digests/2026/04/2026-04-14.md"
    assert parsed.entries[0].summary == "44 new papers, 1 revised."
    assert parsed.feed.updated == "2026-04-14T00:00:00Z"
    assert {l.rel: l.href for l in parsed.feed.links}["self"] == "https://lab.github.io/papers/digests/feed.xml"  # Pages serves XML


def test_weekly_reviews_are_entries_too_dated_by_their_iso_week(tmp_path):
    write_digests(tmp_path, dt.date(2026, 4, 1), 14)
    for week, heading in ((15, "# Weekly review 2026-W15"), (10, "# Weekly review 2026-W10")):  # W10 is outside the window
        (tmp_path / "digests" / "2026" / f"week-{week}.md").write_text(f"{heading}\n\nRising: reward models.\n\n## Rising\n")
    (tmp_path / "digests" / "2026" / "week-99.md").write_text("# not a real ISO week\n")  # ignored, never an error
    (tmp_path / "digests" / "2026" / "notes.md").write_text("# a file of the user's\n")
    _, xml = digest_feed(tmp_path / "digests", tmp_path, repo="lab/papers")
    required_elements(xml)
    parsed = feedparser.parse(xml.encode())
    assert parsed.bozo == 0
    weekly = [e for e in parsed.entries if e.title.startswith("Weekly review")]
    assert [(e.title, e.updated, e.link) for e in weekly] == [
        ("Weekly review 2026-W15", "2026-04-06T00:00:00Z", "https://github.com/lab/papers/blob/main/digests/2026/week-15.md")]
    assert weekly[0].summary == "Rising: reward models."
    assert len(parsed.entries) == 15 and not any("notes" in e.link for e in parsed.entries)


def test_without_a_repository_links_are_relative_to_the_feed(tmp_path):
    write_digests(tmp_path, dt.date(2026, 4, 13), 2)
    _, xml = digest_feed(tmp_path / "digests", tmp_path)
    required_elements(xml)
    feed_url = "https://example.org/lab/digests/feed.xml"
    parsed = feedparser.parse(xml.encode(), response_headers={"content-location": feed_url, "content-type": "application/atom+xml"})
    assert parsed.bozo == 0
    assert [e.link for e in parsed.entries] == [urljoin(feed_url, "2026/04/2026-04-14.md"), urljoin(feed_url, "2026/04/2026-04-13.md")]


def test_hostile_text_is_escaped_and_reads_back_as_written():
    xml = render_feed([("2026-04-14", "digests/2026/04/2026-04-14.md", HOSTILE, HOSTILE)], feed_file="digests/feed.xml", repo="o/r")
    etree.fromstring(xml.encode())  # well-formed
    parsed = feedparser.parse(xml.encode())
    assert parsed.bozo == 0
    readable = HOSTILE.replace("\x01", "\ufffd").replace("\x0b", "\ufffd").replace("\ufffe", "\ufffd")
    assert parsed.entries[0].title == readable and parsed.entries[0].summary == readable
    assert "<script>" not in xml


def test_same_digests_give_the_same_bytes_wherever_the_folder_is(tmp_path):
    write_digests(tmp_path / "a", dt.date(2026, 4, 1), 5, text="Same text.")
    first = digest_feed(tmp_path / "a" / "digests", tmp_path / "a", repo="o/r")[1]
    assert digest_feed(tmp_path / "a" / "digests", tmp_path / "a", repo="o/r")[1] == first
    (tmp_path / "a" / "digests" / "notes.md").write_text("# not a digest\n")
    (tmp_path / "a" / "digests" / "2026" / "04" / "2026-04-31.md").write_text("# not a date\n")
    (tmp_path / "a" / "digests" / "2026" / "03").mkdir()
    (tmp_path / "a" / "digests" / "2026" / "03" / "2026-04-20.md").write_text("# wrong folder\n")
    assert digest_feed(tmp_path / "a" / "digests", tmp_path / "a", repo="o/r")[1] == first
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert digest_feed(tmp_path / "b" / "digests", tmp_path / "b", repo="o/r")[1] == first
    assert digest_feed(tmp_path / "b" / "digests", tmp_path / "b")[1] == digest_feed(tmp_path / "a" / "digests", tmp_path / "a")[1]


def test_pending_digests_count_before_they_are_written(tmp_path):
    [old] = write_digests(tmp_path, dt.date(2026, 4, 13), 1)
    new = tmp_path / "digests" / "2026" / "04" / "2026-04-14.md"
    _, xml = digest_feed(tmp_path / "digests", tmp_path, pending={new: "# arXiv digest: 2026-04-14\n\n**3** new papers.\n", old: None})
    parsed = feedparser.parse(xml.encode())
    assert [(e.title, e.summary) for e in parsed.entries] == [("arXiv digest: 2026-04-14", "3 new papers.")]


def test_an_empty_feed_is_still_valid(tmp_path):
    _, xml = digest_feed(tmp_path / "digests", tmp_path)
    required_elements(xml)
    assert feedparser.parse(xml.encode()).bozo == 0


def test_summary_is_the_digest_text_before_its_sections():
    markdown = ("# arXiv digest: 2026-04-14\n\n**1 topic could not be fetched today**, so this digest may be missing papers:\n\n"
                "- **Reasoning**: HTTP 503\n\n**2** new papers, **0** revised.\n\n## New\n\n- **[T](u)**\n")
    assert digest_summary(markdown, "2026-04-14") == (
        "arXiv digest: 2026-04-14",
        "1 topic could not be fetched today, so this digest may be missing papers: Reasoning: HTTP 503; 2 new papers, 0 revised.",
    )
    assert digest_summary("# A \\*star\\* \\_x\\_ &amp; \\`tick\\`\n", "2026-04-14")[0] == "A *star* _x_ & `tick`"


def test_runs_write_the_feed_and_an_unchanged_day_keeps_its_bytes(arxiv_server, write_config, tmp_path):
    query = '(ti:"testing" OR abs:"testing")'
    arxiv_server.add_pages(query, {0: feed([entry("2604.00001", title="Testing <b>&</b> things")])})
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="publish:\n  repo: lab/papers\n")

    def run(date: str) -> list[str]:
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", date, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["outputs"]

    feed_file = tmp_path / "digests" / "feed.xml"
    assert str(feed_file) in run("2026-04-13")
    first = feed_file.read_bytes()
    assert str(feed_file) not in run("2026-04-13") and feed_file.read_bytes() == first
    run("2026-04-14")
    parsed = feedparser.parse(feed_file.read_bytes())
    assert parsed.bozo == 0
    assert [e.link for e in parsed.entries] == [
        f"https://github.com/lab/papers/blob/main/digests/2026/04/{d}.md" for d in ("2026-04-14", "2026-04-13")]
    assert parsed.entries[1].summary.startswith("1 new paper")
    readme = (tmp_path / "README.md").read_text()
    assert "[Atom feed](digests/feed.xml)" in readme
