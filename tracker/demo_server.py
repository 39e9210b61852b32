"""The demo's arXiv: a loopback server answering API queries from demo_data/papers.jsonl.

Every paper's date is moved into the weeks before the demo day, deterministically (a hash of
the paper's key picks its day), so runs on those days see papers arrive week by week, as on
arXiv. The papers marked `burst` all arrive in the last week: a rising theme for `tracker trends`.
The server answers what the tracker asks (phrases in title or abstract, newest first, paged)
with only the papers announced by the day it is told (`ArxivReplay.day`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

DATA = Path(__file__).resolve().parent / "demo_data"
SPAN_DAYS = 34  # papers are spread over the 5 weeks before the demo day
BURST_DAYS = 7  # the burst arrives in the demo's last week
MADE_UP_FROM = 99001  # ids arXiv has not reached in any month: they can never name a real paper
_TERM = re.compile(r'\b(?:ti|abs|all):(?:"([^"]+)"|([\w-]+))')


@dataclass(frozen=True)
class DemoPaper:
    id: str  # with its version
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    published: str  # YYYY-MM-DD


def demo_papers(day: str) -> list[DemoPaper]:
    """The demo's papers, dated into the weeks before `day`, newest first."""
    end = dt.date.fromisoformat(day)
    papers = []
    rows = [json.loads(line) for line in (DATA / "papers.jsonl").read_text(encoding="utf-8").splitlines() if line]
    for number, row in enumerate(rows):
        key = row.get("id") or row["key"]
        published = end - dt.timedelta(days=_spread(key, BURST_DAYS if row.get("burst") else SPAN_DAYS))
        paper_id = row["id"] or f"{published:%y%m}.{MADE_UP_FROM + number:05d}v1"
        papers.append(
            DemoPaper(
                paper_id,
                row["title"],
                row["abstract"],
                tuple(row["authors"]),
                tuple(row["categories"]),
                published.isoformat(),
            )
        )
    return sorted(papers, key=lambda p: (p.published, p.id), reverse=True)


def _spread(key: str, days: int) -> int:
    """0..days-1, the same for the same key on every machine (no random, no hash seed)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % days


def matches(paper: DemoPaper, query: str) -> bool:
    """The tracker's queries are ORs of `ti:"phrase"` / `abs:"phrase"` (or `all:word`): any one found."""
    text = f"{paper.title} {paper.abstract}".casefold()
    return any((quoted or word).casefold() in text for quoted, word in _TERM.findall(query))


def atom_page(papers: list[DemoPaper], start: int, size: int) -> bytes:
    """An arXiv API answer: the opensearch header the client pages by, and one entry per paper."""
    entries = "".join(_entry(p) for p in papers[start : start + size])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
        f"<id>demo</id><title>demo</title><updated>{dt.date.today()}T00:00:00Z</updated>\n"
        f"<opensearch:totalResults>{len(papers)}</opensearch:totalResults>"
        f"<opensearch:startIndex>{start}</opensearch:startIndex><opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
        f"{entries}</feed>\n"
    ).encode()


def _entry(paper: DemoPaper) -> str:
    stamp = f"{paper.published}T12:00:00Z"
    authors = "".join(f"<author><name>{escape(name)}</name></author>" for name in paper.authors)
    categories = "".join(
        f'<category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in paper.categories
    )
    return (
        f"<entry><id>http://arxiv.org/abs/{paper.id}</id><updated>{stamp}</updated><published>{stamp}</published>"
        f"<title>{escape(paper.title)}</title><summary>{escape(paper.abstract)}</summary>{authors}"
        f'<link href="https://arxiv.org/abs/{paper.id}" rel="alternate" type="text/html"/>'
        f'<arxiv:primary_category term={quoteattr(paper.categories[0])} scheme="http://arxiv.org/schemas/atom"/>'
        f"{categories}</entry>\n"
    )


class ArxivReplay(ThreadingHTTPServer):
    """The loopback arXiv; set `day` before each run: only papers announced by then are served."""

    def __init__(self, papers: list[DemoPaper]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.papers = papers
        self.day = papers[0].published if papers else dt.date.today().isoformat()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: ArxivReplay

    def do_GET(self) -> None:  # http.server's naming
        url = urlsplit(self.path)
        if url.path.startswith("/rss/"):
            self._send((DATA / "made_rss_cs.CL_all_announce_types.xml").read_bytes())
            return
        asked = {key: values[0] for key, values in parse_qs(url.query).items()}
        query = asked.get("search_query", "")
        found = [p for p in self.server.papers if p.published <= self.server.day and matches(p, query)]
        self._send(atom_page(found, int(asked.get("start", 0)), int(asked.get("max_results", 10))))

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the demo's output readable
        pass


@contextmanager
def replay_server(papers: list[DemoPaper]) -> Iterator[ArxivReplay]:
    server = ArxivReplay(papers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
