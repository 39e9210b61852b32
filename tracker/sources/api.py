"""The arXiv query API, through the `arxiv` package.

`arxiv.Client` does URL building, paging and entry parsing; we replace its page fetch with
our own so that 429/5xx/transport faults and any answer that is not a complete Atom page
(a body cut short, an HTML maintenance page, fewer entries than the page frames) are retried
with backoff (honouring Retry-After), and arXiv's error feed (HTTP 400, an entry titled
"Error") becomes a clear message instead of an empty result. An entry that cannot be read is
skipped with a warning naming it; the rest of its page is kept.

Beyond its public API we rely on four private names of `arxiv` (4.x): `Client._parse_feed`
(overridden: its page fetch is the only hook for our retries and strict parsing),
`arxiv._feed._build_result` (the entry-to-Result mapping we would otherwise copy),
`arxiv._feed.ParsedFeed`/`FeedHeader` (what `_parse_feed` returns), and `Client._format_url`
(the exact request URL, to keep id lists under URL limits). pyproject pins `arxiv<5`,
and tests/test_sources_api.py::test_the_private_arxiv_names_we_build_on_are_still_there fails
the day a release moves them.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import arxiv
from arxiv import _feed
from lxml import etree

from tracker.arxiv_ids import parse_id
from tracker.arxiv_query import MAX_URL_CHARS
from tracker.errors import SourceError, TrackerError
from tracker.models import Paper
from tracker.redact import redact, url_secrets
from tracker.sources.http import Answer, PoliteSession, TransientError, host_of, local_name, well_formed_xml

log = logging.getLogger(__name__)
_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


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


class URLTooLong(SourceError):
    """The server refused a request's URL as too long (HTTP 414): ask for less at a time."""


class _Skipped(arxiv.Result):
    """An entry that could not be read; kept in the page so arxiv.Client's paging offsets stay right."""

    def __init__(self, label: str, reason: str):  # no super().__init__: it wants a whole paper
        self.entry_id, self.reason = label, reason


def _label(entry: etree._Element) -> str:
    """How a warning names an entry: its id, else its title (hostile text: shortened, redacted)."""
    text = entry.findtext(f"{_ATOM}id") or entry.findtext(f"{_ATOM}title") or "(no id)"
    return redact(repr(" ".join(text.split())[:120]))


def _entry_result(entry: etree._Element) -> arxiv.Result:
    missing = [name for name in ("id", "updated", "published") if not (entry.findtext(f"{_ATOM}{name}") or "").strip()]
    if missing:
        return _Skipped(_label(entry), f"no <{'>, <'.join(missing)}>")
    try:
        result = _feed._build_result(entry)
    except (ValueError, TypeError, AttributeError) as exc:
        return _Skipped(_label(entry), f"unreadable ({exc})")
    return result if result is not None else _Skipped(_label(entry), "unreadable")


def _header(root: etree._Element) -> dict[str, int | None]:
    values = {}
    for name in ("totalResults", "startIndex", "itemsPerPage"):
        text = root.findtext(f"{_OPENSEARCH}{name}")
        try:
            values[name] = int(text.strip()) if text is not None else None
        except ValueError:
            values[name] = None
    return values


def parse_page(root: etree._Element, url: str) -> _feed.ParsedFeed:
    """One API page; TransientError if it is not an Atom feed or holds fewer entries than it frames."""
    where = host_of(url)
    if root.tag != f"{_ATOM}feed":
        raise TransientError(f"expected an Atom feed from {where}, got <{local_name(root)}>")
    entries = root.findall(f"{_ATOM}entry")
    head = _header(root)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    start = int(asked.get("start", 0))
    if head["startIndex"] is not None and head["startIndex"] != start:
        raise TransientError(f"{where} answered start={head['startIndex']} for start={start}")
    total = head["totalResults"]
    sizes = [n for n in (head["itemsPerPage"], int(asked.get("max_results", 0))) if n]
    per_page = min(sizes) if sizes else None
    if total is not None and per_page is not None:
        expected = max(0, min(per_page, total - start))
        if len(entries) < expected:
            # A body cut short and closed, or arXiv's sporadic empty page mid-pagination.
            raise TransientError(f"incomplete page from {where}: {len(entries)} of {expected} entries at start={start}")
    header = _feed.FeedHeader(total_results=total or 0, items_per_page=per_page or 0, start_index=start)
    return _feed.ParsedFeed(header=header, results=[_entry_result(e) for e in entries])


class _PoliteClient(arxiv.Client):
    """An arxiv.Client whose page fetch goes through a PoliteSession and checks each answer."""

    def __init__(self, url: str, http: PoliteSession, page_size: int):
        super().__init__(page_size=page_size, delay_seconds=0, num_retries=0)
        self.query_url_format = url + "?{}"
        self.http = http
        self.total = 0

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> _feed.ParsedFeed:
        parsed: list[_feed.ParsedFeed] = []

        def check(answer: Answer) -> None:
            message = error_message(answer.content)
            if message:
                raise SourceError(redact(f"arXiv rejected the query: {message}", url_secrets(url)))
            if answer.status == 414:
                raise URLTooLong(f"arXiv answered HTTP 414 (URL too long, {len(url)} characters) from {host_of(url)}")
            if answer.status != 200:
                raise SourceError(f"arXiv answered HTTP {answer.status} from {host_of(url)}")
            parsed.append(parse_page(well_formed_xml(answer), url))

        self.http.get_with_retries(url, check)
        self.total = parsed[-1].header.total_results  # how many the query matches (for Fetched.more)
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


def to_papers(results: Iterable[arxiv.Result]) -> list[Paper]:
    """Papers of the entries that can be read; each one that cannot is skipped with a warning naming it."""
    papers = []
    for result in results:
        if isinstance(result, _Skipped):
            log.warning("skipped an arXiv entry %s: %s", result.entry_id, result.reason)
            continue
        try:
            papers.append(to_paper(result))
        except (TrackerError, ValueError, TypeError, AttributeError) as exc:
            label = redact(repr(" ".join(str(result.entry_id).split())[:120]))
            log.warning("skipped an arXiv entry %s: %s", label, redact(str(exc)))
    return papers


def _updated_of(page: list[arxiv.Result]) -> str | None:
    """The last-updated time of a page's last readable entry (pages come newest first)."""
    for result in reversed(page):
        updated = getattr(result, "updated", None)
        if isinstance(updated, datetime):
            return _iso(updated)
    return None


def _pages(results: Iterable[arxiv.Result], size: int) -> Iterator[list[arxiv.Result]]:
    iterator = iter(results)
    while page := list(itertools.islice(iterator, size)):
        yield page


@dataclass(frozen=True)
class Fetched:
    """What one query's paging read: the papers, and whether the limit cut it short."""

    papers: list[Paper]
    read: int  # entries read (readable or not): what the limit counts
    total: int  # how many papers the query matches, as arXiv's header said
    oldest: str | None  # last-updated time of the last (oldest) entry read, ISO UTC
    known_page: int = 0  # size of the page of known papers paging stopped at (0: it did not)

    @property
    def more(self) -> int:
        """Matching papers left unread because the limit was reached (0 when paging ended by itself)."""
        return 0 if self.known_page else max(0, self.total - self.read)

    @property
    def taken(self) -> int:
        """Entries read before the page of known papers: what counts against a per-run cap."""
        return self.read - self.known_page


def window_clause(after: str | None, before: str) -> str:
    """arXiv's last-updated range (minute precision, both ends included), e.g. for a backlog window."""

    def minute(iso: str | None) -> str:
        return "".join(ch for ch in iso if ch.isdigit())[:12] if iso else "199101010000"

    return f"lastUpdatedDate:[{minute(after)} TO {minute(before)}]"


class ArxivAPISource:
    def __init__(self, url: str, http: PoliteSession, *, page_size: int = 100):
        self.page_size = page_size
        self.client = _PoliteClient(url, http, page_size)

    def fetch_query(
        self, query: str, *, limit: int, is_known: Callable[[Paper], bool] = lambda p: False
    ) -> list[Paper]:
        """Newest first by last-updated date, so revisions surface; stops at a page of known papers."""
        return self.fetch(query, limit=limit, is_known=is_known).papers

    def fetch(
        self, query: str, *, limit: int, is_known: Callable[[Paper], bool] | None = None, offset: int = 0
    ) -> Fetched:
        """Like fetch_query, saying how much the limit left unread (`Fetched.more`).

        `offset` skips that many matches (arXiv refuses offsets past 10,000: callers narrow the
        query by date instead, see tracker.sources.catchup)."""
        search = arxiv.Search(
            query=query,
            max_results=limit + offset,  # arxiv.Client counts the skipped matches in max_results
            sort_by=arxiv.SortCriterion.LastUpdatedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        self.client.total = 0
        papers: list[Paper] = []
        read, oldest, known_page = 0, None, 0
        for page in _pages(self.client.results(search, offset=offset), self.page_size):
            read += len(page)
            oldest = _updated_of(page) or oldest
            converted = to_papers(page)
            papers.extend(converted)
            if is_known and converted and all(is_known(p) for p in converted):
                log.info("page of %d already-known papers: stop paging", len(converted))
                known_page = len(page)
                break
        return Fetched(papers, read, max(self.client.total - offset, 0), oldest, known_page)

    def count(self, query: str) -> int:
        """How many papers a query matches (one small request)."""
        self.fetch(query, limit=1)
        return self.client.total

    def fetch_ids(self, ids: list[str]) -> list[Paper]:
        """Papers by identifier (arXiv `id_list`), e.g. the group's profile papers: in chunks whose
        URL fits MAX_URL_CHARS, a chunk refused as too long (HTTP 414) split in two until it fits.
        An id refused even alone is skipped with a warning."""
        papers: list[Paper] = []
        pending = self._id_chunks(ids)
        while pending:
            chunk = pending.pop(0)
            try:
                papers += to_papers(self.client.results(arxiv.Search(id_list=chunk, max_results=len(chunk))))
            except URLTooLong as exc:
                if len(chunk) == 1:
                    log.warning("profile paper %s not fetched: %s", chunk[0], exc)
                    continue
                half = len(chunk) // 2
                log.info("%d ids in one request were refused as too long; asking in two halves", len(chunk))
                pending[:0] = [chunk[:half], chunk[half:]]
        return papers

    def _id_chunks(self, ids: list[str]) -> list[list[str]]:
        """`ids` in order, cut so that each request URL stays within MAX_URL_CHARS."""
        chunks: list[list[str]] = []
        for pid in ids:
            if chunks and len(self._url_for_ids(chunks[-1] + [pid])) <= MAX_URL_CHARS:
                chunks[-1].append(pid)
            else:
                chunks.append([pid])
        return chunks

    def _url_for_ids(self, ids: list[str]) -> str:
        return self.client._format_url(arxiv.Search(id_list=ids, max_results=len(ids)), 0, self.page_size)
