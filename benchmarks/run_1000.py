"""Wall time of a `tracker run` that embeds 1,000 new papers, and of the rerun that embeds none.

A loopback server answers the topic's query with 1,000 papers whose abstracts (150-300 words)
are recombined from real arXiv abstracts (see benchmarks/embed.py). Both runs are the real CLI
in a fresh process, so model load and imports are included.

Each of two fresh project folders is run twice, sharing one fresh per-user model cache: the first
project's first run includes the one-time model export, the second project's reuses it.

Run: python benchmarks/run_1000.py [--n 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.embed import synthetic_papers  # noqa: E402
from tests.arxiv_fake import entry, feed  # noqa: E402


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/query"


def timed_run(config: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tracker", "run", "--config", str(config), "--date", "2026-11-20", "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    entries = [
        entry(f"2611.{i:05d}", title=f"{title} ({i})", abstract=abstract,
              updated=f"2026-11-{1 + i % 19:02d}T{i % 24:02d}:00:00Z")
        for i, (title, abstract) in enumerate(synthetic_papers(args.n, seed=1))
    ]
    server, url = serve(feed(entries))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["TRACKER_CACHE_DIR"] = str(Path(tmp) / "user-cache")  # a user who never exported the model
            for label in ("first project", "second project"):
                folder = Path(tmp) / label.replace(" ", "-")
                folder.mkdir()
                config = folder / "keywords.yaml"
                config.write_text(
                    "topics:\n  - name: Bench\n    keywords: [testing]\n"
                    f"arxiv:\n  api_url: {url}\n  delay_seconds: 0\n  page_size: {args.n}\n"
                    f"output:\n  readme_rows: {args.n}\n"
                )
                first, summary = timed_run(config)
                export = "incl. the one-time model export" if label == "first project" else "export reused"
                print(f"{label}, first run: {first:6.1f} s wall ({export}), embedded {summary['embedded']}, "
                      f"{summary['totals']['new']} new, {summary['clusters']} themes, "
                      f"{summary['near_duplicates']} near-duplicates")
                second, summary = timed_run(config)
                print(f"{label}, rerun:     {second:6.1f} s wall, embedded {summary['embedded']}, "
                      f"{len(summary['outputs'])} files changed")
                print(f"{label}, .tracker/ size: {_size(folder / '.tracker') / 1e6:.1f} MB")
    finally:
        server.shutdown()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

if __name__ == "__main__":
    main()
