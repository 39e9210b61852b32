"""Offline and unreachable arXiv (issue 10), and credentials in source messages (issue 9 item 15).

The first request of a run that cannot resolve or reach arXiv stops at once with one short line;
later failures are ordinary retried errors. No message or log line ever carries a password.
"""
from __future__ import annotations

import logging
import socket
import time

import pytest

from tests.arxiv_fake import Fault, api, entry, feed, raw, session  # noqa: F401 (raw is a fixture)
from tracker.errors import ArxivUnreachable, SourceError
from tracker.sources.rss import ArxivRSSSource

BODY = feed([entry("2611.00001")])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("url, message", [
    ("http://export.arxiv-tracker-test.invalid/api/query",
     r"^cannot resolve export\.arxiv-tracker-test\.invalid: are you offline\? \(tracker demo runs the whole pipeline offline\)$"),
    ("http://127.0.0.1:{closed}/api/query",
     r"^cannot connect to 127\.0\.0\.1:\d+: connection refused; are you offline\?"),
], ids=["dns", "refused"])
def test_first_request_that_cannot_reach_arxiv_stops_at_once(url, message):
    url = url.replace("{closed}", str(closed_port()))
    http = session(retries=5)
    started = time.monotonic()
    with pytest.raises(ArxivUnreachable, match=message) as caught:
        api(url, http).fetch_query("q", limit=10)
    assert time.monotonic() - started < 5 and http.slept == []  # no retry storm
    assert len(str(caught.value)) < 160


def test_a_server_that_does_not_speak_tls_is_unreachable_too(raw):
    server = raw(greeting=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    http = session(retries=5)
    with pytest.raises(ArxivUnreachable, match=r"^cannot open a TLS connection to 127\.0\.0\.1:\d+ \(.*\): check"):
        api(server.url.replace("http://", "https://"), http).fetch_query("q", limit=10)
    assert http.slept == []


def test_rss_first_request_unreachable_too():
    http = session(retries=5)
    with pytest.raises(ArxivUnreachable, match="cannot resolve rss.arxiv-tracker-test.invalid"):
        ArxivRSSSource("http://rss.arxiv-tracker-test.invalid/rss", http).fetch_categories(["cs.CL"], ["new"])


def test_unreachable_after_a_successful_request_is_an_ordinary_retried_error(arxiv_server):
    arxiv_server.add_pages("q", {0: BODY})
    http = session(retries=2)
    api(arxiv_server.api_url, http).fetch_query("q", limit=10)
    gone = api(f"http://127.0.0.1:{closed_port()}/api/query", http)
    with pytest.raises(SourceError, match="after 3 attempts") as caught:
        gone.fetch_query("q", limit=10)
    assert not isinstance(caught.value, ArxivUnreachable)
    assert len(http.slept) == 2


def test_an_unusable_url_is_one_line_without_retries():
    http = session(retries=5)
    with pytest.raises(ArxivUnreachable, match=r"^cannot use the URL htp://export\.arxiv\.org/api/query: it needs to start with https://"):
        api("htp://export.arxiv.org/api/query", http).fetch_query("q", limit=10)
    assert http.slept == []


# --- item 15 (source side): credentials never appear in errors or logs ---------------------------

def test_url_credentials_never_reach_errors_or_logs(arxiv_server, caplog):
    secret_url = arxiv_server.api_url.replace("http://", "http://reader:Pa55w0rd-x@")
    arxiv_server.faults = [Fault(503, headers={"Retry-After": "1"})] * 3
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(SourceError) as caught:
            api(secret_url).fetch_query("q", limit=10)
        with pytest.raises(ArxivUnreachable) as offline:
            api("http://reader:Pa55w0rd-x@arxiv-tracker-test.invalid/api/query").fetch_query("q", limit=10)
        with pytest.raises(ArxivUnreachable) as unusable:
            api("htp://reader:Pa55w0rd-x@arxiv-tracker-test.invalid/api/query").fetch_query("q", limit=10)
    for text in (str(caught.value), str(offline.value), str(unusable.value), caplog.text):
        assert "Pa55w0rd" not in text
    assert "retry 1 of 2" in caplog.text  # the warnings were logged, redacted
