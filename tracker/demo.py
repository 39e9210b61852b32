"""`tracker demo`: the whole pipeline, offline, in a scratch folder.

A loopback HTTP server replays recorded arXiv responses (real API pages for
`all:testing`, a hand-made cs.CL announcement feed); the demo config points the tracker
at it through TRACKER_ARXIV_API_URL / TRACKER_ARXIV_RSS_URL, exactly as a test would.

The demo never touches a file it did not create. It takes a folder that is new or empty and
claims it in `.tracker-demo.json` (its config and the paths the run writes); it reruns in a
folder carrying that claim, and refuses any other folder, naming the files that are not its own.
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

from tracker.errors import TrackerError

DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_DATE = "2026-04-13"
CLAIM_FILE = ".tracker-demo.json"
SHOWN_FILES = 15  # files listed by name; the rest are counted
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


class DemoFolderError(TrackerError):
    """The folder holds files the demo did not create: a usage error."""

    exit_code = 2


def run_demo(folder: Path, *, embed: bool = True) -> list[str]:
    """Run the demo into `folder`; the lines to print (results, every file written, the digest)."""
    from tracker import pipeline
    from tracker.config import load_settings, parse_settings
    from tracker.render.markdown import digest_path

    claimed = claimed_paths(parse_settings(DEMO_CONFIG))
    check_folder(folder, claimed)
    config = folder / "keywords.yaml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CLAIM_FILE).write_text(json.dumps({"created_by": "tracker demo", "paths": claimed}, indent=2) + "\n",
                                         encoding="utf-8")
        config.write_text(DEMO_CONFIG, encoding="utf-8")
    except OSError as exc:
        raise DemoFolderError(f"cannot write the demo into {folder}: {exc.strerror or exc}") from None
    with replay_server() as base, _endpoints(f"{base}/api/query", f"{base}/rss"):
        settings = load_settings(config)
        summary = pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=DEMO_DATE, embed=embed)
    digest = digest_path(settings.path(settings.output.digest_dir), DEMO_DATE)
    written = [config.resolve(), *(Path(p) for p in summary.outputs)]
    return _report(folder, summary, written, digest, settings.path(settings.output.readme))


def claimed_paths(settings) -> list[str]:
    """What a demo folder holds: the config, the claim itself, and where the run writes (folders end in /)."""
    out = settings.output
    folders = [f"{Path(p).as_posix().strip('/')}/" for p in (out.data_dir, out.digest_dir, out.archive_dir, out.state_dir)]
    return sorted({"keywords.yaml", CLAIM_FILE, Path(out.readme).as_posix(), *folders})


def check_folder(folder: Path, claimed: list[str]) -> None:
    """Refuse a folder holding anything the demo would not have created (symlinks count as foreign)."""
    if not folder.exists():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise DemoFolderError(f"{folder} is not a folder; give a new or empty folder for the demo")
    entries = _files(folder)
    if not entries:
        return
    if not (folder / CLAIM_FILE).is_file():
        raise DemoFolderError(f"{folder} is not empty ({_names(entries)}) and was not made by `tracker demo`; "
                              f"give a new or empty folder, e.g. {folder / 'tracker-demo'}")
    foreign = [name for name, is_link in entries if is_link or not _is_claimed(name, claimed)]
    if foreign:
        raise DemoFolderError(f"{folder} holds files the demo did not create ({_names([(n, False) for n in foreign])}); "
                              "move them, or give a new or empty folder")


def _files(folder: Path) -> list[tuple[str, bool]]:
    """(path relative to folder, is a symlink) for every file and link below it; links are not followed."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links)
        for name in sorted(files) + links:
            path = base / name
            found.append((path.relative_to(folder).as_posix(), path.is_symlink()))
    return found


def _is_claimed(name: str, claimed: list[str]) -> bool:
    return any(name == path or (path.endswith("/") and name.startswith(path)) for path in claimed)


def _names(entries: list[tuple[str, bool]], shown: int = 3) -> str:
    names = [name for name, _ in entries]
    more = f", and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


@contextmanager
def _endpoints(api_url: str, rss_url: str) -> Iterator[None]:
    """Point the tracker at the replay server for the demo only; restore the caller's environment."""
    keys = {"TRACKER_ARXIV_API_URL": api_url, "TRACKER_ARXIV_RSS_URL": rss_url}
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _report(folder: Path, summary, written: list[Path], digest: Path, readme: Path) -> list[str]:
    lines = [f"{t.name}: {t.fetched} fetched, {t.new} new" + (f" (error: {t.error})" if t.error else "")
             for t in summary.topics]
    extra = summary.extra
    if "embedded" in extra:
        lines.append(f"embedded {extra.get('embedded', 0)} texts, {extra.get('near_duplicates', 0)} near-duplicates, "
                     f"{extra.get('clusters', 0)} themes")
    root = folder.resolve()
    first = {"keywords.yaml": 0, _relative(readme, root): 1, _relative(digest, root): 2}  # what to open first
    names = sorted(dict.fromkeys(_relative(path, root) for path in written), key=lambda n: (first.get(n, 3), n))
    lines.append(f"wrote {len(names)} files in {folder}:")
    lines += [f"  {name}" for name in names[:SHOWN_FILES]]
    if len(names) > SHOWN_FILES:
        lines.append(f"  and {len(names) - SHOWN_FILES} more")
    if digest.is_file():
        lines.append(f"today's digest: {digest}")
    lines.append(f"the tables: {readme}")
    return lines


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
