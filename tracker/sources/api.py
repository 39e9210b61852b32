"""The arXiv query API, through the `arxiv` package.

`arxiv.Client` does URL building, paging and Atom parsing; we replace its page fetch with
our own so that 429/5xx/timeouts/empty pages are retried with backoff (honouring
Retry-After) and arXiv's error feed (HTTP 400, an entry titled "Error") becomes a clear
message instead of an empty result.
"""
from __future__ import annotations

import itertools
import logging
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

import arxiv
import requests
from arxiv import _feed
from lxml import etree

from tracker.arxiv_ids import parse_id
from tracker.errors import SourceError
from tracker.models import Paper
from tracker.sources.http import PoliteSession, TransientError

log = logging.getLogger(__name__)
_ATOM = "{http://www.w3.org/2005/Atom}"


def error_message(content: bytes) -> str | None:
    """arXiv's error feed: one entry titled `Error` whose summary carries the message."""
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    for entry in root.iter(f"{_ATOM}entry"):
        title = (entry.findtext(f"{_ATOM}title") or "").strip()
        entry_id = entry.findtext(f"{_ATOM}id") or ""
        if title == "Error" and "/api/errors" in entry_id:
            return " ".join((entry.findtext(f"{_ATOM}summary") or "unknown error").split())
    return None


class _PoliteClient(arxiv.Client):
    """An arxiv.Client whose page fetch goes through a PoliteSession."""

    def __init__(self, url: str, http: PoliteSession, page_size: int):
        super().__init__(page_size=page_size, delay_seconds=0, num_retries=0)
        self.query_url_format = url + "?{}"
        self.http = http

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> _feed.ParsedFeed:
        parsed: list[_feed.ParsedFeed] = []

        def check(response: requests.Response) -> None:
            message = error_message(response.content)
            if message:
                raise SourceError(f"arXiv rejected the query: {message}")
            if response.status_code != 200:
                raise SourceError(f"arXiv answered HTTP {response.status_code} for {url}")
            feed = _feed.parse(response.content)
            if feed.malformed:
                raise TransientError(f"malformed feed from {url}: {feed.error}")
            if not feed.results and not first_page:
                # The sporadic "valid but empty" page mid-pagination: asking again usually works.
                raise TransientError(f"empty page mid-pagination at {url}")
            parsed.append(feed)

        self.http.get_with_retries(url, check)
        return parsed[-1]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def to_paper(result: arxiv.Result) -> Paper:
    arxiv_id = parse_id(result.entry_id)
    return Paper(
        id=arxiv_id.base,
        version=arxiv_id.version or 1,
        title=_clean(result.title),
        abstract=_clean(result.summary),
        authors=tuple(_clean(a.name) for a in result.authors),
        categories=tuple(result.categories),
        primary_category=result.primary_category or (result.categories[0] if result.categories else ""),
        published=_iso(result.published),
        updated=_iso(result.updated),
        comment=_clean(result.comment) or None,
        journal_ref=_clean(result.journal_ref) or None,
        doi=_clean(result.doi) or None,
        abs_url=f"https://arxiv.org/abs/{arxiv_id.base}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
    )


def _pages(results: Iterable[arxiv.Result], size: int) -> Iterator[list[arxiv.Result]]:
    iterator = iter(results)
    while page := list(itertools.islice(iterator, size)):
        yield page


class ArxivAPISource:
    def __init__(self, url: str, http: PoliteSession, *, page_size: int = 100):
        self.page_size = page_size
        self.client = _PoliteClient(url, http, page_size)

    def fetch_query(self, query: str, *, limit: int, is_known: Callable[[Paper], bool] = lambda p: False) -> list[Paper]:
        """Newest first by last-updated date, so revisions surface; stops at a page of known papers."""
        search = arxiv.Search(
            query=query,
            max_results=limit,
            sort_by=arxiv.SortCriterion.LastUpdatedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        papers: list[Paper] = []
        for page in _pages(self.client.results(search), self.page_size):
            converted = [to_paper(result) for result in page]
            papers.extend(converted)
            if all(is_known(p) for p in converted):
                log.info("page of %d already-known papers: stop paging", len(converted))
                break
        return papers

    def fetch_ids(self, ids: list[str]) -> list[Paper]:
        """Papers by identifier (arXiv `id_list`), e.g. the group's profile papers."""
        if not ids:
            return []
        search = arxiv.Search(id_list=ids, max_results=len(ids))
        return [to_paper(result) for result in self.client.results(search)]


