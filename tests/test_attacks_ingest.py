"""Issue 18, part A, attacked: no silent caps in ingestion, the ledger and config in git's hands, dates.

Each test drives the real `tracker` process against a loopback arXiv. `SyntheticArxiv` answers
like the real API for made-up topics of any size: it filters by the `lastUpdatedDate:[A TO B]`
range a query carries, sorts newest first, pages by start/max_results, and refuses offsets past
10,000 as arXiv does, so a backlog can only be caught up by date windows.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug import Request, Response

from tests.arxiv_fake import ATOM, entry, feed
from tests.test_attacks import errors, tracker

START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
_WINDOW = re.compile(r"^\((.*)\) AND lastUpdatedDate:\[(\d{12}) TO (\d{12})\]$")


@dataclass
class SyntheticArxiv:
    """Topics (search_query -> [(id, updated)]) served as arXiv would, counting every request."""

    base_url: str
    topics: dict[str, list[tuple[str, dt.datetime]]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # id -> updated, for id_list lookups
    max_url: int | None = None  # longer request URLs get HTTP 414
    serial: int = 0

    @property
    def api_url(self) -> str:
        return self.base_url + "api/query"

    def add(self, query: str, count: int, *, start: dt.datetime, per_minute: int = 1) -> list[str]:
        """`count` new papers for `query`, updated from `start` on, `per_minute` sharing each minute."""
        made = []
        for n in range(count):
            self.serial += 1
            pid = f"2611.{self.serial:05d}"
            self.topics.setdefault(query, []).append((pid, start + dt.timedelta(minutes=n // per_minute)))
            made.append(pid)
        return made

    def handle(self, request: Request) -> Response:
        if self.max_url and len(request.url) > self.max_url:
            return Response(b"URI too long", status=414)
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(args)
        start, size = int(args.get("start", 0)), int(args.get("max_results", 10))
        if start >= 10_000:  # arXiv: "start must be less than 10000" (an error feed, HTTP 400)
            return Response(b"offset too large", status=400)
        if args.get("id_list"):
            matches = [(pid, upd) for q in self.topics.values() for pid, upd in q if pid in args["id_list"].split(",")]
        else:
            matches = self.matches(args.get("search_query", ""))
        page = matches[start:start + size]
        body = feed([entry(pid, updated=upd.strftime("%Y-%m-%dT%H:%M:%SZ"), title=f"Testing {pid}",
                           categories=("cs.CL",)) for pid, upd in page], total=len(matches), start=start)
        return Response(body, status=200, content_type=ATOM)

    def matches(self, query: str) -> list[tuple[str, dt.datetime]]:
        window = _WINDOW.match(query)
        base = window.group(1) if window else query
        papers = self.topics.get(base, [])
        if window:
            low, high = (dt.datetime.strptime(g, "%Y%m%d%H%M").replace(tzinfo=dt.timezone.utc) for g in window.groups()[1:])
            papers = [(pid, upd) for pid, upd in papers if low <= upd.replace(second=0) <= high]
        return sorted(papers, key=lambda item: (item[1], item[0]), reverse=True)


@pytest.fixture
def synthetic(httpserver) -> SyntheticArxiv:
    fake = SyntheticArxiv(base_url=httpserver.url_for("/"))
    httpserver.expect_request("/api/query").respond_with_handler(fake.handle)
    return fake


def q(word: str) -> str:
    return f'(ti:"{word}" OR abs:"{word}")'


def make_project(folder: Path, api_url: str, topics: list[str], *, cap: int, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"  - name: {name}\n    keywords: [{name.lower()}]\n" for name in topics)
    config = folder / "keywords.yaml"
    config.write_text(textwrap.dedent(f"""\
        arxiv:
          api_url: {api_url}
          delay_seconds: 0
          backoff_seconds: 0
          retries: 1
          timeout_seconds: 10
          page_size: 100
          max_results_per_run: {cap}
        embedding:
          enabled: false
        """) + textwrap.dedent(extra) + "topics:\n" + listed, encoding="utf-8")
    return config


def ledger_ids(folder: Path) -> Counter:
    ids: Counter = Counter()
    for shard in (folder / "data" / "papers").glob("*.jsonl"):
        ids.update(json.loads(line)["id"] for line in shard.read_text().splitlines() if line.strip())
    return ids


def day(n: int) -> str:
    return (dt.date(2026, 11, 1) + dt.timedelta(days=n)).isoformat()


def fetch_json(config: Path, date: str, *extra: str):
    result = tracker("fetch", "--config", config, "--date", date, "--json", *extra, timeout=120)
    assert result.returncode == 0 and not errors(result), result.stderr
    return json.loads(result.stdout), result.stderr


# --- 1: papers beyond max_results_per_run are fetched by the next runs -------------------------

def test_a_backlog_beyond_the_cap_is_caught_up_over_the_next_runs_each_paper_once(synthetic, tmp_path):
    synthetic.add(q("testing"), 40, start=START)  # what the first (backfill) run finds
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=500)
    first, _ = fetch_json(config, day(0))
    assert first["backlog"] == {} and first["totals"]["new"] == 40
    burst = synthetic.add(q("testing"), 2500, start=START + dt.timedelta(days=10), per_minute=3)  # an outage's worth
    news, warned = [], []
    for n in range(1, 12):
        if n == 3:  # papers keep arriving while the backlog is caught up: the head is read first
            burst += synthetic.add(q("testing"), 30, start=START + dt.timedelta(days=20))
        summary, stderr = fetch_json(config, day(n))
        news.append(summary["totals"]["new"])
        warned.append("still to be fetched" in stderr)
        assert summary["totals"]["fetched"] <= 500 + 2 * 100  # the cap holds (plus the pages of known papers)
        if not summary["backlog"]:
            break
        assert summary["backlog"]["Testing"] > 0 and "Testing" in stderr
    assert summary["backlog"] == {} and not warned[-1] and all(warned[:-1]) and len(news) >= 5
    ids = ledger_ids(config.parent)
    assert set(burst) <= set(ids) and max(ids.values()) == 1 and len(ids) == 2570  # every paper, each once
    assert sum(news) == 2530  # nothing counted new twice
    assert json.loads((config.parent / "data" / "backlog.json").read_text())["topics"] == {}  # nothing left to resume
    assert all(int(r.get("start", 0)) < 10_000 for r in synthetic.requests)


def test_the_backlog_survives_a_fresh_checkout_and_is_reported_in_digest_and_health(synthetic, tmp_path):
    from tracker.publish.health import health_problems

    synthetic.add(q("testing"), 5, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    fetch_json(config, day(0))
    synthetic.add(q("testing"), 450, start=START + dt.timedelta(days=3))
    result = tracker("run", "--config", config, "--date", day(1), "--no-embed", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    remaining = summary["backlog"]["Testing"]
    assert 340 <= remaining <= 352  # 450 - 100 read (plus a boundary minute)
    digest = (config.parent / "digests" / "2026" / "11" / f"{day(1)}.md")
    digest = digest if digest.exists() else next((config.parent / "digests").rglob(f"{day(1)}*.md"))
    assert f"{remaining} more papers for topic Testing are still being fetched" in digest.read_text()
    assert any(name == "Testing" and "more papers still to fetch" in text for name, text in health_problems(summary))
    # A fresh checkout: only committed files (the ledger and data/backlog.json), no .tracker cache.
    import shutil

    shutil.rmtree(config.parent / ".tracker")
    assert json.loads((config.parent / "data" / "backlog.json").read_text())["topics"]["Testing"]
    for n in range(2, 8):
        later, _ = fetch_json(config, day(n))
        if not later["backlog"]:
            break
    assert later["backlog"] == {} and len(ledger_ids(config.parent)) == 455


def test_three_topics_with_backlogs_at_once_each_catch_up(synthetic, tmp_path):
    names = ["Alpha", "Beta", "Gamma"]
    for name in names:
        synthetic.add(q(name.lower()), 3, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, names, cap=200)
    fetch_json(config, day(0))
    sizes = {"Alpha": 700, "Beta": 250, "Gamma": 1}
    for name, size in sizes.items():
        synthetic.add(q(name.lower()), size, start=START + dt.timedelta(days=5))
    seen_backlogs = []
    for n in range(1, 9):
        summary, _ = fetch_json(config, day(n))
        seen_backlogs.append(summary["backlog"])
        if not summary["backlog"]:
            break
    assert set(seen_backlogs[0]) == {"Alpha", "Beta"} and summary["backlog"] == {}
    assert len(ledger_ids(config.parent)) == 9 + sum(sizes.values()) and max(ledger_ids(config.parent).values()) == 1


@pytest.mark.parametrize("content, says", [
    ('{"topics": {"Testing": [{"before": "2026-11-11T00:00:00Z"\n<<<<<<< HEAD\n, "after": null}]}}', "backlog.json:2: git conflict marker"),
    ('{"topics": {"Testing": [', "backlog.json:1: cannot read the backlog file: not JSON"),
    ('{"topics": {"Testing": [{"before": "next tuesday"}]}}', "topic 'Testing': a window needs `before`"),
    ('{"topics": {"Testing": [{"before": "2026-11-11T00:00:00Z", "skip": -4}]}}', "`skip` and `remaining` must be whole"),
    ('[1, 2]', "expected an object with a `topics` object"),
])
def test_a_damaged_or_conflicted_backlog_file_stops_the_run_with_one_line_and_writes_nothing(synthetic, tmp_path, content, says):
    synthetic.add(q("testing"), 5, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    fetch_json(config, day(0))
    (config.parent / "data" / "backlog.json").write_text(content)
    before = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file() and ".tracker" not in p.parts}
    result = tracker("run", "--config", config, "--date", day(1), "--no-embed")
    lines = errors(result)
    assert result.returncode != 0 and len(lines) == 1 and says in lines[0], result.stderr
    after = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file() and ".tracker" not in p.parts}
    assert after == before


def test_a_hand_edited_backlog_window_is_followed(synthetic, tmp_path):
    """A user who knows of a gap can write one: the next run fetches it."""
    synthetic.add(q("testing"), 100, start=START + dt.timedelta(days=30))  # a whole page: paging stops there
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    fetch_json(config, day(0))
    hidden = synthetic.add(q("testing"), 60, start=START)  # older than everything known: a head read never reaches it
    (config.parent / "data" / "backlog.json").write_text(json.dumps(
        {"topics": {"Testing": [{"before": "2026-10-02T00:00:00Z", "after": None}]}}))
    summary, _ = fetch_json(config, day(1))
    assert summary["totals"]["new"] == 60 and summary["backlog"] == {}
    assert set(hidden) <= set(ledger_ids(config.parent))
