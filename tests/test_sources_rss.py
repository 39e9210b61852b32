import pytest

from tests.arxiv_fake import Fault, fixture
from tracker.errors import SourceError
from tracker.sources.http import PoliteSession
from tracker.sources.rss import ArxivRSSSource, matches_keywords, parse_feed, split_authors

ALL_TYPES = ["new", "cross", "replace", "replace-cross"]


@pytest.mark.parametrize("name", ["made_rss_cs.CL_all_announce_types.xml", "made_atom_cs.CL_all_announce_types.xml"])
def test_rss_and_atom_feeds_give_the_same_papers(name):
    papers = parse_feed(fixture(name))
    assert [(p.id, p.version, p.announce_type) for p in papers] == [
        ("2509.14988", 1, "new"),
        ("2509.14521", 1, "new"),
        ("2509.14707", 1, "cross"),
        ("2505.01234", 3, "replace"),
        ("2409.00042", 2, "replace-cross"),
    ]
    first = papers[0]
    assert first.abstract.startswith("Long-context language models still fail")
    assert "Announce Type" not in first.abstract
    assert first.authors == ("Ana Souza", "Wei Zhang", "Priya Raman")
    assert first.categories == ("cs.CL", "cs.AI", "cs.IR")
    assert papers[3].doi == "10.1162/tacl_a_00999" and papers[3].journal_ref.startswith("Transactions")
    assert papers[1].abstract.endswith("& struggle with claims that require reading tables.")


def test_empty_feed_is_a_quiet_day_not_an_error():
    assert parse_feed(fixture("made_rss_cs.CL_empty_saturday_or_holiday.xml")) == []


def test_split_authors_keeps_affiliation_commas_inside_parentheses():
    assert split_authors("A. One (MIT, CSAIL), B. Two, and C. Three") == ("A. One", "B. Two", "C. Three")


def test_keyword_match_is_whole_phrase_case_insensitive():
    paper = parse_feed(fixture("made_rss_cs.CL_all_announce_types.xml"))[0]
    assert matches_keywords(paper, ["LONG-CONTEXT language"])
    assert not matches_keywords(paper, ["context lang"])


def test_source_filters_announce_types_and_fetches_each_feed_once(arxiv_server):
    arxiv_server.feeds["cs.AI+cs.CL"] = fixture("made_rss_cs.CL_all_announce_types.xml")
    source = ArxivRSSSource(arxiv_server.rss_url, PoliteSession(delay_seconds=0, retries=1, sleep=lambda s: None))
    new = source.fetch_categories(["cs.CL", "cs.AI"], ["new"])
    revised = source.fetch_categories(["cs.AI", "cs.CL"], ["replace", "replace-cross"])
    assert [p.id for p in new] == ["2509.14988", "2509.14521"]
    assert [p.id for p in revised] == ["2505.01234", "2409.00042"]
    assert len(arxiv_server.requests) == 1


def test_feed_outage_is_retried_then_reported(arxiv_server):
    arxiv_server.faults = [Fault(503), Fault(503)]
    source = ArxivRSSSource(arxiv_server.rss_url, PoliteSession(delay_seconds=0, retries=1, sleep=lambda s: None))
    with pytest.raises(SourceError, match="HTTP 503"):
        source.fetch_categories(["cs.CL"], ALL_TYPES)


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><body>Down for maintenance</body></html>",
    b'{"items": []}',
    b"",
])
def test_parse_feed_refuses_what_is_not_a_feed(body):
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        parse_feed(body)


def test_parse_feed_refuses_a_feed_cut_short():
    body = fixture("made_rss_cs.CL_all_announce_types.xml")
    with pytest.raises(SourceError, match="incomplete or malformed feed"):
        parse_feed(body[: body.index(b"</item>") + 30])
