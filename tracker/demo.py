"""`tracker demo`: the whole pipeline, offline, in a scratch folder.

A loopback HTTP server replays recorded arXiv responses (real API pages for
`all:testing`, a hand-made cs.CL announcement feed); the demo config points the tracker
at it through TRACKER_ARXIV_API_URL / TRACKER_ARXIV_RSS_URL, exactly as a test would.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_DATE = "2026-04-13"
DEMO_CONFIG = """\
# A demo config: the recorded responses answer `all:testing` and the cs.CL feed.
topics:
  - name: Software Testing
    query: all:testing
  - name: Language Models (feed)
    source: rss
    categories: [cs.CL]
    keywords: [language, retrieval, benchmark, transformers]
arxiv:
  page_size: 10
  delay_seconds: 0
  backoff_seconds: 0
output:
  readme_rows: 25
  digest_max_papers: 20
"""


class _Replay(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        if url.path.startswith("/rss/"):
            body = (DATA / "made_rss_cs.CL_all_announce_types.xml").read_bytes()
        else:
            start = parse_qs(url.query).get("start", ["0"])[0]
            page = DATA / f"api_search_testing_page_start{start}_max10.xml"
            body = page.read_bytes() if page.exists() else None
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the demo's output readable
        pass


@contextmanager
def replay_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_demo(folder: Path, *, embed: bool = True) -> list[str]:
    from tracker import pipeline
    from tracker.config import load_settings

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "keywords.yaml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    with replay_server() as base:
        os.environ["TRACKER_ARXIV_API_URL"] = f"{base}/api/query"
        os.environ["TRACKER_ARXIV_RSS_URL"] = f"{base}/rss"
        settings = load_settings(config)
        summary = pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=DEMO_DATE, embed=embed)
    lines = [f"{t.name}: {t.fetched} fetched, {t.new} new" + (f" (error: {t.error})" if t.error else "") for t in summary.topics]
    extra = summary.extra
    if extra:
        lines.append(f"embedded {extra.get('embedded', 0)} texts, {extra.get('near_duplicates', 0)} near-duplicates, "
                     f"{extra.get('clusters', 0)} themes")
    lines.append(f"wrote {len(summary.outputs)} files under {folder}:")
    lines += [f"  {Path(p).relative_to(folder.resolve())}" for p in summary.outputs[:12]]
    lines.append(f"open {folder / 'README.md'} and {folder / 'digests'}")
    return lines
