"""Network faults, through the real arxiv/feedparser/requests clients, against misbehaving loopback servers.

Every fault class either heals on retry (and nothing partial is returned) or ends in one clear
SourceError for that call; nothing waits past its deadline or the run's budget for waiting.
"""
from __future__ import annotations

import gzip
import logging
import time

import pytest
from werkzeug import Response

from tests.arxiv_fake import (  # noqa: F401 (raw is a fixture)
    Fault, answer, api, cut_short, dropped_mid_chunk, entry, feed, fixture, raw, session, trickle,
)
from tracker.errors import SourceError
from tracker.sources.http import PoliteSession
from tracker.sources.rss import ArxivRSSSource

COMMENT = "15 pages, 9 figures, accepted at ACL 2026"
BODY = feed([entry(f"2611.0000{i}", title=f"Paper {i}", comment=COMMENT) for i in range(1, 4)])
RSS = fixture("made_rss_cs.CL_all_announce_types.xml")


def assert_whole(papers):
    assert [p.title for p in papers] == ["Paper 1", "Paper 2", "Paper 3"]
    assert all(p.comment == COMMENT for p in papers)


# --- item 5: a body cut short is a failed request, never data ----------------------------------

CUTS = {
    "mid-field": BODY.index(b"9 figures") + 2,
    "mid-entry": BODY.index(b"<entry>", BODY.index(b"<entry>") + 1) + 40,
    "between entries": BODY.index(b"<entry>", BODY.index(b"<entry>") + 1),
    "before </feed>": BODY.rindex(b"</feed>"),
}


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "no-length"])
@pytest.mark.parametrize("cut", CUTS.values(), ids=CUTS.keys())
def test_truncated_body_is_retried_and_never_returned(raw, cut, content_length):
    server = raw(cut_short(BODY, cut, content_length=content_length), answer(BODY))
    papers = api(server.url).fetch_query("q", limit=10)
    assert_whole(papers)
    assert len(server.requests) == 2


def test_truncated_body_every_time_fails_the_call(raw):
    server = raw(cut_short(BODY, CUTS["mid-field"], content_length=False))
    with pytest.raises(SourceError, match="did not answer after 3 attempts: an incomplete or malformed feed"):
        api(server.url).fetch_query("q", limit=10)
    assert len(server.requests) == 3


@pytest.mark.parametrize("shown", [0, 1, 2])
def test_well_formed_page_with_fewer_entries_than_framed_is_retried(arxiv_server, shown):
    short = feed([entry(f"2611.0000{i}", title=f"Paper {i}", comment=COMMENT) for i in range(1, 1 + shown)], total=3)
    arxiv_server.once[("q", 0)] = [short]
    arxiv_server.add_pages("q", {0: BODY})
    assert_whole(api(arxiv_server.api_url).fetch_query("q", limit=10))
    assert len(arxiv_server.api_requests()) == 2


def test_a_page_for_another_offset_is_retried(arxiv_server):
    arxiv_server.once[("q", 0)] = [feed([entry("2611.00009")], total=3, start=10)]
    arxiv_server.add_pages("q", {0: BODY})
    assert_whole(api(arxiv_server.api_url).fetch_query("q", limit=10))


def test_truncated_rss_feed_is_retried(arxiv_server):
    http = session()
    arxiv_server.faults = [Fault(200, RSS[: RSS.index(b"</item>") + 20], content_type="application/rss+xml")]
    arxiv_server.feeds["cs.CL"] = RSS
    papers = ArxivRSSSource(arxiv_server.rss_url, http).fetch_categories(["cs.CL"], ["new", "cross", "replace", "replace-cross"])
    assert len(papers) == 5 and len(arxiv_server.requests) == 2


# --- item 6: transport faults are retried; one bad entry is skipped ----------------------------

def test_connection_dropped_mid_chunk_is_retried(raw):
    server = raw(dropped_mid_chunk(BODY, len(BODY) // 2), answer(BODY))
    assert_whole(api(server.url).fetch_query("q", limit=10))
    assert len(server.requests) == 2


def test_connection_dropped_every_time_is_one_clear_error(raw):
    server = raw(dropped_mid_chunk(BODY, 100))
    with pytest.raises(SourceError, match=r"after 3 attempts: connection to 127\.0\.0\.1:\d+ broken mid-body"):
        api(server.url).fetch_query("q", limit=10)


GZIP = gzip.compress(BODY)
BAD_GZIP = {
    "not gzip": b"<feed>this is not gzip",
    "corrupt deflate": GZIP[:10] + b"\xff" * 64,
    "cut short": GZIP[: len(GZIP) // 2],  # decodes without complaint to half a feed
}


@pytest.mark.parametrize("body", BAD_GZIP.values(), ids=BAD_GZIP.keys())
def test_bad_gzip_body_is_retried(arxiv_server, body):
    arxiv_server.faults = [Fault(200, body, headers={"Content-Encoding": "gzip"})]
    arxiv_server.add_pages("q", {0: BODY})
    assert_whole(api(arxiv_server.api_url).fetch_query("q", limit=10))
    assert len(arxiv_server.api_requests()) == 2


def test_bad_gzip_every_time_is_one_clear_error(arxiv_server):
    arxiv_server.faults = [Fault(200, BAD_GZIP["corrupt deflate"], headers={"Content-Encoding": "gzip"})] * 3
    with pytest.raises(SourceError, match=r"after 3 attempts: undecodable body from localhost:\d+ \(.*invalid block type"):
        api(arxiv_server.api_url).fetch_query("q", limit=10)


def test_redirect_loop_is_retried_then_reported(httpserver):
    httpserver.expect_request("/api/query").respond_with_response(
        Response(status=302, headers={"Location": "/api/query?again=1"}))
    http = session(retries=1)
    with pytest.raises(SourceError, match=r"after 2 attempts: redirect loop at (127\.0\.0\.1|localhost):\d+ \(Exceeded 5 redirects"):
        api(httpserver.url_for("/api/query"), http).fetch_query("q", limit=10)
    assert len(httpserver.log) == 2 * 6  # the request and 5 redirects, twice: never a long loop
    assert http.slept == [0.1]


def test_an_endless_body_is_cut_at_the_size_limit(raw):
    server = raw(answer(BODY + b"<!--" + b"x" * 200_000 + b"-->"))
    with pytest.raises(SourceError, match=r"after 3 attempts: answer from 127\.0\.0\.1:\d+ too large \(more than 100,000 bytes"):
        api(server.url, session(max_body_bytes=100_000)).fetch_query("q", limit=10)


def test_a_read_timeout_is_retried(raw):
    server = raw(trickle(BODY, every=0.4), answer(BODY))  # a gap longer than the read timeout
    assert_whole(api(server.url, session(timeout=0.2)).fetch_query("q", limit=10))


def test_entries_that_cannot_be_read_are_skipped_by_name(arxiv_server, caplog):
    bad_id = entry("2611.00002").replace("http://arxiv.org/abs/2611.00002v1", "http://arxiv.org/abs/garbage-id")
    bad_date = entry("2611.00003", updated="2026-13-45T99:00:00Z")
    no_id = entry("2611.00004").replace("<id>http://arxiv.org/abs/2611.00004v1</id>", "")
    body = feed([entry("2611.00001"), bad_id, bad_date, no_id, entry("2611.00005")])
    arxiv_server.add_pages("q", {0: body})
    with caplog.at_level(logging.WARNING):
        papers = api(arxiv_server.api_url).fetch_query("q", limit=10)
    assert [p.id for p in papers] == ["2611.00001", "2611.00005"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("garbage-id" in w for w in warnings)
    assert any("2611.00003" in w for w in warnings)
    assert any("'A paper'" in w for w in warnings)  # no id: named by its title
    assert len(arxiv_server.api_requests()) == 1  # skipping is not a reason to retry


def test_a_page_of_unreadable_entries_does_not_end_paging_or_shift_offsets(arxiv_server):
    garbage = [entry(f"2611.{i:05d}").replace(f"abs/2611.{i:05d}v1", f"abs/x{i}") for i in range(10)]
    arxiv_server.add_pages("q", {0: feed(garbage, total=12), 10: feed([entry("2611.00100"), entry("2611.00101")], total=12, start=10)})
    papers = api(arxiv_server.api_url).fetch_query("q", limit=20, is_known=lambda p: True)
    assert [p.id for p in papers] == ["2611.00100", "2611.00101"]
    assert [r["start"] for r in arxiv_server.api_requests()] == ["0", "10"]


def test_rss_item_that_cannot_be_read_is_skipped_by_name(arxiv_server, caplog):
    broken = RSS.replace(b"arXiv:2509.14521v1", b"arXiv:not-an-id", 1).replace(
        b"oai:arXiv.org:2509.14521v1", b"oai:arXiv.org:not-an-id", 1)
    arxiv_server.feeds["cs.CL"] = broken
    with caplog.at_level(logging.WARNING):
        papers = ArxivRSSSource(arxiv_server.rss_url, session()).fetch_categories(["cs.CL"], ["new", "cross"])
    assert [p.id for p in papers] == ["2509.14988", "2509.14707"]
    assert any("not-an-id" in r.getMessage() for r in caplog.records)


# --- item 7: anything that is not the expected feed is an error, never "0 fetched" --------------

NOT_ATOM = {
    "html maintenance page": (b"<!DOCTYPE html><html><head><title>arXiv is down for maintenance</title>"
                              b"</head><body><p>Back soon<br></body></html>", "text/html", "an HTML page"),
    "xhtml": (b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>maintenance</p></body></html>',
              "application/xhtml+xml", "got <html>"),
    "json": (b'{"error": "service unavailable"}', "application/json", "JSON instead of a feed"),
    "empty body": (b"", "application/atom+xml", "empty body"),
    "whitespace": (b"  \n", "application/atom+xml", "empty body"),
    "rss instead of atom": (RSS, "application/rss+xml", "expected an Atom feed .* got <rss>"),
    "plain text": (b"Rate exceeded.", "text/plain", "malformed feed"),
}


@pytest.mark.parametrize("body, content_type, message", NOT_ATOM.values(), ids=NOT_ATOM.keys())
def test_api_answer_that_is_not_an_atom_feed_fails(arxiv_server, body, content_type, message):
    arxiv_server.faults = [Fault(200, body, content_type=content_type)] * 3
    with pytest.raises(SourceError, match=f"after 3 attempts: .*{message}"):
        api(arxiv_server.api_url).fetch_query("q", limit=10)
    assert len(arxiv_server.api_requests()) == 3


def test_api_maintenance_page_then_the_feed_is_ridden_out(arxiv_server):
    arxiv_server.faults = [Fault(200, NOT_ATOM["html maintenance page"][0], content_type="text/html")]
    arxiv_server.add_pages("q", {0: BODY})
    assert_whole(api(arxiv_server.api_url).fetch_query("q", limit=10))


@pytest.mark.parametrize("body, content_type", [
    (NOT_ATOM["html maintenance page"][0], "text/html"),
    (NOT_ATOM["xhtml"][0], "application/xhtml+xml"),
    (b'{"items": []}', "application/json"),
    (b"", "application/rss+xml"),
    (b'<?xml version="1.0"?><note>not a feed</note>', "text/xml"),
], ids=["html", "xhtml", "json", "empty", "other-xml"])
def test_rss_answer_that_is_not_a_feed_fails(arxiv_server, body, content_type):
    arxiv_server.faults = [Fault(200, body, content_type=content_type)] * 3
    source = ArxivRSSSource(arxiv_server.rss_url, session())
    with pytest.raises(SourceError, match="after 3 attempts"):
        source.fetch_categories(["cs.CL"], ["new"])


def test_an_empty_rss_channel_is_still_a_quiet_day(arxiv_server):
    arxiv_server.feeds["cs.CL"] = fixture("made_rss_cs.CL_empty_saturday_or_holiday.xml")
    assert ArxivRSSSource(arxiv_server.rss_url, session()).fetch_categories(["cs.CL"], ["new"]) == []


# --- item 8: a total deadline per request, a budget for waiting per run ---------------------------

@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_server_cannot_outlast_the_deadline(raw, headers_too):
    server = raw(trickle(BODY, every=0.05, headers_too=headers_too))
    http = session(retries=1, deadline=0.5, timeout=5)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no complete answer from 127\.0\.0\.1:\d+ within 0\.5 s"):
        api(server.url, http).fetch_query("q", limit=10)
    assert time.monotonic() - started < 2.5  # two attempts of 0.5 s, not len(BODY) * 0.05 s each
    assert len(server.requests) == 2


def test_a_slow_answer_that_keeps_coming_is_kept_within_the_deadline(raw):
    small = feed([entry("2611.00001", title="Paper 1", comment=COMMENT)])
    server = raw(trickle(small, every=0.001))  # takes longer than the read timeout, in small gaps
    started = time.monotonic()
    papers = api(server.url, session(timeout=0.3, deadline=10)).fetch_query("q", limit=10)
    assert time.monotonic() - started > 0.3
    assert [p.comment for p in papers] == [COMMENT] and len(server.requests) == 1


def test_retry_after_is_capped_per_wait(arxiv_server):
    arxiv_server.faults = [Fault(429, headers={"Retry-After": "100000"})]
    arxiv_server.add_pages("q", {0: BODY})
    http = session()
    assert_whole(api(arxiv_server.api_url, http).fetch_query("q", limit=10))
    assert http.slept == [120.0]


def test_wait_budget_ends_the_call_and_later_calls_fail_fast(arxiv_server):
    arxiv_server.faults = [Fault(429, headers={"Retry-After": "100000"})] * 10
    http = session(retries=5, wait_budget=30)
    source = api(arxiv_server.api_url, http)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"another 120 s would exceed the run's budget for waiting \(30 s"):
        source.fetch_query("q", limit=10)
    assert len(arxiv_server.api_requests()) == 1 and http.slept == []
    # the next topic does not even ask: arXiv has had its chance this run
    with pytest.raises(SourceError, match="budget for waiting on arXiv .* was used up"):
        source.fetch_query("other", limit=10)
    with pytest.raises(SourceError, match="was used up"):
        ArxivRSSSource(arxiv_server.rss_url, http).fetch_categories(["cs.CL"], ["new"])
    assert len(arxiv_server.requests) == 1
    assert time.monotonic() - started < 2


def test_wait_budget_is_shared_across_topics(arxiv_server):
    arxiv_server.add_pages("a", {0: BODY})
    arxiv_server.add_pages("b", {0: BODY})
    # backoff 0.1, 0.2, 0.4, ...: topic a waits 0.1 + 0.2; topic b may wait 0.1 more, not 0.2
    http = session(retries=5, wait_budget=0.4)
    source = api(arxiv_server.api_url, http)
    arxiv_server.faults = [Fault(503), Fault(503)]
    assert_whole(source.fetch_query("a", limit=10))
    arxiv_server.faults = [Fault(503)] * 3
    with pytest.raises(SourceError, match="budget for waiting"):
        source.fetch_query("b", limit=10)
    assert http.slept == pytest.approx([0.1, 0.2, 0.1])


# --- through `tracker run`: a topic's fault stays its own -----------------------------------------

@pytest.mark.parametrize("fault, message", [
    (Fault(200, BAD_GZIP["corrupt deflate"], headers={"Content-Encoding": "gzip"}), "undecodable body"),
    (Fault(200, NOT_ATOM["html maintenance page"][0], content_type="text/html"), "an HTML page instead of a feed"),
    (Fault(200, BODY[: CUTS["mid-field"]]), "incomplete or malformed feed"),
], ids=["bad-gzip", "html", "truncated"])
def test_a_topic_whose_answers_are_broken_fails_alone_with_exit_3(arxiv_server, write_config, tmp_path, fault, message):
    from click.testing import CliRunner

    from tracker.cli.main import cli

    good, bad = '(ti:"good" OR abs:"good")', '(ti:"bad" OR abs:"bad")'
    arxiv_server.add_pages(good, {0: BODY})
    arxiv_server.broken[bad] = fault
    config = write_config("- name: Good\n  keywords: [good]\n- name: Bad\n  keywords: [bad]\n")
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", "2026-11-20", "--no-embed"])
    assert result.exit_code == 3, result.output
    assert "Bad" in result.output and message in result.output and "Traceback" not in result.output
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Paper 1" in readme and COMMENT.split(",")[0] in (tmp_path / "data").joinpath(
        "papers", "2026-11.jsonl").read_text(encoding="utf-8")


def test_deadline_and_budget_come_from_keywords_yaml(write_config):
    from tracker.config import load_settings
    from tracker.pipeline import make_sources

    config = write_config("- name: A\n  keywords: [a]\n")
    text = config.read_text(encoding="utf-8").replace(
        "  page_size: 10\n", "  page_size: 10\n  request_deadline_seconds: 0.5\n  wait_budget_seconds: 7\n")
    config.write_text(text, encoding="utf-8")
    http = make_sources(load_settings(config)).api.client.http
    assert (http.deadline, http.wait_budget) == (0.5, 7)
    defaults = PoliteSession.from_settings(load_settings(write_config("- name: A\n  keywords: [a]\n", name="k2.yaml")).arxiv)
    assert (defaults.deadline, defaults.wait_budget) == (60, 600)
