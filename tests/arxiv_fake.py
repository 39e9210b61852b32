"""A loopback arXiv: pytest-httpserver serving recorded (or test-built) Atom/RSS responses.

Routes by the query parameters the real API sees, records every request, and can inject
faults (503/429 bursts, empty pages, timeouts) so retries are exercised over real HTTP.
`RawServer` misbehaves below HTTP (bodies cut short, dropped chunks, trickled bytes).
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug import Request, Response

from tracker.sources.api import ArxivAPISource
from tracker.sources.http import PoliteSession

FIXTURES = Path(__file__).parent / "fixtures"
ATOM = "application/atom+xml; charset=utf-8"


def fixture(name: str) -> bytes:
    for folder in ("arxiv-api", "arxiv-rss"):
        path = FIXTURES / folder / name
        if path.exists():
            return path.read_bytes()
    raise FileNotFoundError(name)


@dataclass
class Fault:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = ATOM


@dataclass
class FakeArxiv:
    base_url: str
    pages: dict[tuple[str, int], bytes] = field(default_factory=dict)  # (search_query, start) -> body
    ids: dict[str, bytes] = field(default_factory=dict)  # id_list -> body
    feeds: dict[str, bytes] = field(default_factory=dict)  # category path -> RSS body
    faults: list[Fault] = field(default_factory=list)  # served, in order, before anything else
    requests: list[dict] = field(default_factory=list)
    default: bytes | None = None  # body for an unknown query (None: 404)
    once: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)  # served first, one per request
    broken: dict[str, Fault] = field(default_factory=dict)  # search_query -> served for every request of it

    @property
    def api_url(self) -> str:
        return self.base_url + "api/query"

    @property
    def rss_url(self) -> str:
        return self.base_url + "rss"

    def add_pages(self, query: str, bodies_by_start: dict[int, bytes]) -> None:
        for start, body in bodies_by_start.items():
            self.pages[(query, start)] = body

    def handle(self, request: Request) -> Response:
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}
        self.requests.append({"path": request.path, **args})
        if self.faults or args.get("search_query") in self.broken:
            fault = self.faults.pop(0) if self.faults else self.broken[args["search_query"]]
            time.sleep(fault.delay)
            return Response(fault.body, status=fault.status, headers=fault.headers, content_type=fault.content_type)
        if request.path.startswith("/rss/"):
            body = self.feeds.get(request.path.removeprefix("/rss/"))
        elif args.get("id_list"):
            body = self.ids.get(args["id_list"])
        else:
            key = (args.get("search_query", ""), int(args.get("start", 0)))
            queued = self.once.get(key)
            body = queued.pop(0) if queued else self.pages.get(key, self.default)
        if body is None:
            return Response(b"not recorded", status=404)
        return Response(body, status=200, content_type=ATOM)

    def api_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].startswith("/api/")]


def entry(arxiv_id: str, version: int = 1, *, title: str = "A paper", abstract: str = "An abstract.",
          updated: str = "2026-11-19T10:00:00Z", published: str | None = None, authors=("Ada Lovelace",),
          categories=("cs.CL",), comment: str | None = None) -> str:
    """One <entry> in the current API's layout (for papers the recorded fixtures don't have)."""
    from xml.sax.saxutils import escape

    cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories)
    people = "".join(f"<author><name>{escape(a)}</name></author>" for a in authors)
    extra = f"<arxiv:comment>{escape(comment)}</arxiv:comment>" if comment else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v{version}</id><title>{escape(title)}</title>"
        f"<updated>{updated}</updated><link href=\"https://arxiv.org/abs/{arxiv_id}v{version}\" rel=\"alternate\" type=\"text/html\"/>"
        f"<link href=\"https://arxiv.org/pdf/{arxiv_id}v{version}\" rel=\"related\" type=\"application/pdf\" title=\"pdf\"/>"
        f"<summary>{escape(abstract)}</summary>{cats}<published>{published or updated}</published>{extra}"
        f"<arxiv:primary_category term=\"{categories[0]}\"/>{people}</entry>"
    )


def feed(entries: list[str], total: int | None = None, start: int = 0) -> bytes:
    total = len(entries) if total is None else total
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns="http://www.w3.org/2005/Atom"><id>https://arxiv.org/api/x</id><title>arXiv Query</title>'
        f"<updated>2026-11-20T00:00:00Z</updated><opensearch:itemsPerPage>100</opensearch:itemsPerPage>"
        f"<opensearch:totalResults>{total}</opensearch:totalResults><opensearch:startIndex>{start}</opensearch:startIndex>"
        + "".join(entries) + "</feed>"
    ).encode()


# --- below HTTP: a server that writes exactly the bytes a test scripts -------------------------

Responder = Callable[[socket.socket], None]


def _head(status: str = "200 OK", headers: dict | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(body: bytes, content_type: str = ATOM) -> Responder:
    """A complete, well-behaved response."""
    return lambda conn: conn.sendall(_head(headers={"Content-Type": content_type, "Content-Length": len(body)}) + body)


def cut_short(body: bytes, at: int, *, content_length: bool) -> Responder:
    """Send `body[:at]` and close; with Content-Length the client can tell, without it only the parse can."""
    headers = {"Content-Type": ATOM, **({"Content-Length": len(body)} if content_length else {})}
    return lambda conn: conn.sendall(_head(headers=headers) + body[:at])


def dropped_mid_chunk(body: bytes, at: int) -> Responder:
    """Chunked transfer: announce the whole body as one chunk, send `at` bytes of it, close."""
    headers = {"Content-Type": ATOM, "Transfer-Encoding": "chunked"}
    return lambda conn: conn.sendall(_head(headers=headers) + f"{len(body):x}\r\n".encode() + body[:at])


def trickle(body: bytes, every: float, *, headers_too: bool = False) -> Responder:
    """One byte every `every` seconds (of the headers too, if asked), until the client hangs up."""
    def respond(conn: socket.socket) -> None:
        head = _head(headers={"Content-Type": ATOM, "Content-Length": len(body)})
        if not headers_too:
            conn.sendall(head)
        for byte in (head if headers_too else b"") + body:
            conn.sendall(bytes([byte]))
            time.sleep(every)
    return respond


class RawServer:
    """Loopback TCP server: request N gets responder N (the last one repeats), then the socket closes."""

    def __init__(self, *responders: Responder, greeting: bytes | None = None):
        self.responders = list(responders)
        self.greeting = greeting  # sent on connect, before reading anything (e.g. plain HTTP to a TLS client)
        self.requests: list[str] = []  # request lines, in order
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            if self.greeting is not None:
                conn.sendall(self.greeting)
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data.split(b"\r\n", 1)[0].decode())
            responder = self.responder_for(self.requests[-1])
            try:
                if responder is not None:
                    responder(conn)
            except OSError:  # the client hung up (e.g. its deadline cut the connection)
                pass

    def responder_for(self, request_line: str) -> Responder | None:
        """Request N gets responder N; the last one repeats."""
        return self.responders[min(len(self.requests), len(self.responders)) - 1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


# --- quick clients for fault tests ---------------------------------------------------------------

def session(**overrides) -> PoliteSession:
    """Tiny waits: every sleep is recorded in `.slept`, none really happens."""
    slept: list[float] = []
    options = dict(delay_seconds=0, retries=2, timeout=5, backoff_seconds=0.1, deadline=5, sleep=slept.append)
    http = PoliteSession(**{**options, **overrides})
    http.slept = slept
    return http


def api(url: str, http: PoliteSession | None = None) -> ArxivAPISource:
    """The API source at `url` (a server root gets /api/query), pages of 10."""
    endpoint = url if url.endswith("/api/query") else url.rstrip("/") + "/api/query"
    return ArxivAPISource(endpoint, http or session(), page_size=10)


@pytest.fixture
def raw():
    servers = []

    def start(*responders, **options) -> RawServer:
        servers.append(RawServer(*responders, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
