"""Issue 18, part A, attacked: no silent caps in ingestion, the ledger and config in git's hands, dates.

Each test drives the real `tracker` CLI against a loopback arXiv: in its own process where the
process matters (the backlog caught up run after run, a fresh checkout), else in this process
(click's runner, same code path, no interpreter start) to keep the suite fast. `SyntheticArxiv` answers
like the real API for made-up topics of any size: it filters by the `lastUpdatedDate:[A TO B]`
range a query carries, sorts newest first, pages by start/max_results, and refuses offsets past
10,000 as arXiv does, so a backlog can only be caught up by date windows.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
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
    max_start: int = 10_000  # arXiv refuses start >= 10,000; a test may scale the limit down
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
        if start >= self.max_start:  # arXiv: "start must be less than 10000" (an error feed, HTTP 400)
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


def here(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI in this process (click's runner): what `tracker(...)` does, without a new interpreter."""
    from click.testing import CliRunner

    from tracker.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], env={"TRACKER_LOCK_WAIT_SECONDS": "2", **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess([], result.exit_code, result.stdout, result.stderr)


def fetch_json(config: Path, date: str, *extra: str, run=here):
    result = run("fetch", "--config", config, "--date", date, "--json", *extra)
    assert result.returncode == 0 and not errors(result), result.stderr
    return json.loads(result.stdout), result.stderr


# --- 1: papers beyond max_results_per_run are fetched by the next runs -------------------------

def test_a_backlog_beyond_the_cap_is_caught_up_over_the_next_runs_each_paper_once(synthetic, tmp_path):
    synthetic.add(q("testing"), 40, start=START)  # what the first (backfill) run finds
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=400)
    first, _ = fetch_json(config, day(0), run=tracker)
    assert first["backlog"] == {} and first["totals"]["new"] == 40
    burst = synthetic.add(q("testing"), 1200, start=START + dt.timedelta(days=10), per_minute=3)  # an outage's worth
    synthetic.max_start = 500  # arXiv's offset limit, scaled down: paging the backlog by offset would pass it
    news, warned = [], []
    for n in range(1, 12):
        if n == 2:  # papers keep arriving while the backlog is caught up: the head is read first
            burst += synthetic.add(q("testing"), 30, start=START + dt.timedelta(days=20))
        summary, stderr = fetch_json(config, day(n), run=tracker)  # each run its own process, as in CI
        news.append(summary["totals"]["new"])
        warned.append("still to be fetched" in stderr)
        assert summary["totals"]["fetched"] <= 400 + 2 * 100  # the cap holds (plus the pages of known papers)
        if not summary["backlog"]:
            break
        assert summary["backlog"]["Testing"] > 0 and "Testing" in stderr
    assert summary["backlog"] == {} and not warned[-1] and all(warned[:-1]) and len(news) >= 4
    ids = ledger_ids(config.parent)
    assert set(burst) <= set(ids) and max(ids.values()) == 1 and len(ids) == 1270  # every paper, each once
    assert sum(news) == 1230  # nothing counted new twice
    assert (config.parent / "data" / "backlog.jsonl").read_bytes() == b""  # nothing left to resume
    assert all(int(r.get("start", 0)) < 500 for r in synthetic.requests)


def test_the_backlog_survives_a_fresh_checkout_and_is_reported_in_digest_and_health(synthetic, tmp_path):
    from tracker.publish.health import health_problems

    synthetic.add(q("testing"), 5, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    fetch_json(config, day(0))
    synthetic.add(q("testing"), 250, start=START + dt.timedelta(days=3))
    result = tracker("run", "--config", config, "--date", day(1), "--no-embed", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    remaining = summary["backlog"]["Testing"]
    assert 150 <= remaining <= 152  # 250 - 100 read (plus a boundary minute)
    digest = (config.parent / "digests" / "2026" / "11" / f"{day(1)}.md")
    digest = digest if digest.exists() else next((config.parent / "digests").rglob(f"{day(1)}*.md"))
    assert f"{remaining} more papers for topic Testing are still being fetched" in digest.read_text()
    assert any(name == "Testing" and "more papers still to fetch" in text for name, text in health_problems(summary))
    _health_issue_names_the_backlog(summary, remaining)
    # A fresh checkout: only committed files (the ledger and data/backlog.jsonl), no .tracker cache.
    import shutil

    shutil.rmtree(config.parent / ".tracker")
    window = json.loads((config.parent / "data" / "backlog.jsonl").read_text())
    assert window["topic"] == "Testing" and window["query"] == q("testing") and window["remaining"] == remaining
    from tracker.config import load_settings
    from tracker.publish.publisher import managed_files

    assert "data/backlog.jsonl" in managed_files(load_settings(config), None)[0]  # `publish --commit` commits it too
    for n in range(2, 8):
        later, _ = fetch_json(config, day(n))
        if not later["backlog"]:
            break
    assert later["backlog"] == {} and len(ledger_ids(config.parent)) == 255


def _health_issue_names_the_backlog(summary: dict, remaining: int) -> None:
    """The health issue, posted to a loopback GitHub through PyGithub, lists the topic's backlog."""
    from tests.fake_github import TOKEN, FakeGitHub, serve
    from tracker.publish.client import connect_from_env
    from tracker.publish.health import report_health

    fake = FakeGitHub(TOKEN)
    server = serve(fake)
    try:
        repo = connect_from_env(environ={"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base,
                                         "GITHUB_REPOSITORY": "acme/papers", "TRACKER_GITHUB_WRITE_DELAY": "0"})
        assert report_health(repo, summary).action == "opened"
    finally:
        server.shutdown()
        server.server_close()
    [issue] = fake.issues.values()
    assert f"| Testing | {remaining} more papers still to fetch" in issue["body"]


def test_three_topics_with_backlogs_at_once_each_catch_up(synthetic, tmp_path):
    names = ["Alpha", "Beta", "Gamma"]
    for name in names:
        synthetic.add(q(name.lower()), 3, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, names, cap=200)
    fetch_json(config, day(0))
    sizes = {"Alpha": 450, "Beta": 250, "Gamma": 1}
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


_WINDOW_LINE = json.dumps({"topic": "Testing", "query": q("testing"), "before": "2026-11-11T00:00:00Z", "after": None})


@pytest.mark.parametrize("content, says", [
    (_WINDOW_LINE + "\n<<<<<<< HEAD\n" + _WINDOW_LINE + "\n=======\n>>>>>>> main\n", "backlog.jsonl:2: git conflict marker"),
    (_WINDOW_LINE + '\n{"topic": "Testing", ', "backlog.jsonl:2: cannot read the backlog file: not JSON"),
    (_WINDOW_LINE.replace("2026-11-11T00:00:00Z", "next tuesday"), "backlog.jsonl:1: cannot read the backlog file: a window needs `before`"),
    (_WINDOW_LINE.replace('"after": null', '"after": null, "skip": -4'), "`skip` and `remaining` must be whole"),
    (_WINDOW_LINE.replace('"query"', '"q"'), "a window needs the `query`"),
    ('[1, 2]', "backlog.jsonl:1: cannot read the backlog file: expected an object with a `topic`"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_a_damaged_or_conflicted_backlog_file_stops_the_run_with_one_line_and_writes_nothing(synthetic, tmp_path, content, says):
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    _seed_shard(config.parent, [_record("2611.00001")])
    target = config.parent / "data" / "backlog.jsonl"
    target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    before = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file() and ".tracker" not in p.parts}
    result = here("run", "--config", config, "--date", day(1), "--no-embed")
    lines = errors(result)
    assert result.returncode != 0 and len(lines) == 1 and says in lines[0], result.stderr
    assert synthetic.requests == []  # refused before asking arXiv anything
    after = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file() and ".tracker" not in p.parts}
    assert after == before


def test_a_hand_edited_backlog_window_is_followed(synthetic, tmp_path):
    """A user who knows of a gap can write one: the next run fetches it."""
    synthetic.add(q("testing"), 100, start=START + dt.timedelta(days=30))  # a whole page: paging stops there
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    fetch_json(config, day(0))
    hidden = synthetic.add(q("testing"), 60, start=START)  # older than everything known: a head read never reaches it
    (config.parent / "data" / "backlog.jsonl").write_text(json.dumps(
        {"topic": "Testing", "query": q("testing"), "before": "2026-10-02T00:00:00Z", "after": None}) + "\n")
    summary, _ = fetch_json(config, day(1))
    assert summary["totals"]["new"] == 60 and summary["backlog"] == {}
    assert set(hidden) <= set(ledger_ids(config.parent))


# --- 2: every other bound is split or reported --------------------------------------------------

def test_a_thousand_profile_ids_go_in_url_sized_chunks_and_a_414_splits_further(synthetic, tmp_path):
    ids = synthetic.add("profile papers only", 1000, start=START)
    synthetic.add(q("testing"), 3, start=START)
    synthetic.max_url = 1500  # a stricter proxy than the tracker's own budget: its 414s split the chunks
    listed = "".join(f"    - arXiv:{pid}v1\n" for pid in ids)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100, extra="profile:\n  papers:\n" + listed)
    summary, stderr = fetch_json(config, day(0))
    assert summary["totals"]["new"] == 3 and "not on arXiv" not in stderr
    assert set(ids) <= set(ledger_ids(config.parent))  # the whole profile, not a silently empty one
    id_requests = [r for r in synthetic.requests if r.get("id_list")]
    assert len({r["id_list"] for r in id_requests}) >= 4  # several GETs, each under the proxy's limit


def test_a_topic_of_hundreds_of_phrases_is_split_into_queries_that_fit(synthetic, tmp_path):
    phrases = [f"phrase number {n}" for n in range(400)]
    config = make_project(tmp_path / "p", synthetic.api_url, [], cap=100)
    config.write_text(config.read_text() + "  - name: Broad\n    keywords: [" + ", ".join(phrases) + "]\n")
    checked = here("check", "--config", config)
    assert checked.returncode == 0, checked.stderr
    parts = re.findall(r"query (\d+) of (\d+):", checked.stdout)
    assert len(parts) > 1 and all(p.count("phrase number") for p in checked.stdout.split("query ")[1:])
    synthetic.max_url = 4096  # a common server limit: nothing may reach it
    for phrase in ("phrase number 0", "phrase number 399"):  # both ends of the list are searched
        synthetic.add(next(s for s in _queries_of(checked.stdout) if f'"{phrase}"' in s), 1, start=START)
    summary, _ = fetch_json(config, day(0))
    assert summary["topics"][0]["error"] is None and summary["totals"]["new"] == 2


def _queries_of(check_output: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in check_output.splitlines() if line.strip().startswith("query")]


def test_a_topic_whose_query_cannot_be_split_is_refused_by_check_with_its_line(synthetic, tmp_path):
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    excludes = ", ".join(f"excluded words {n}" for n in range(200))
    config.write_text(config.read_text() + f"    exclude: [{excludes}]\n")
    for command in (["check"], ["run", "--date", day(0), "--no-embed"]):
        result = here(*command, "--config", config)
        lines = errors(result)
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert "keywords.yaml:" in lines[0] and "'Testing'" in lines[0] and "URL-encoded" in lines[0]
    assert synthetic.requests == []


def test_huge_fields_are_cut_marked_and_counted(arxiv_server, tmp_path):
    authors = tuple(f"Author {n}" for n in range(2000))
    huge = entry("2611.00001", title="Testing " + "t" * 5000, abstract="testing " * 200_000, authors=authors,
                 comment="c" * 10_000)
    arxiv_server.add_pages(q("testing"), {0: feed([huge, entry("2611.00002", title="Testing small")])})
    config = make_project(tmp_path / "p", arxiv_server.api_url, ["Testing"], cap=100)
    result = tracker("run", "--config", config, "--date", day(0), "--no-embed", "--json")
    assert result.returncode == 0 and not errors(result), result.stderr
    summary = json.loads(result.stdout)
    assert summary["shortened"] == {"abstract": 1, "authors": 1, "comment": 1, "title": 1}
    assert "abstract values were longer than the tracker keeps" in result.stderr
    records = {json.loads(l)["id"]: json.loads(l) for l in (config.parent / "data" / "papers" / "2026-11.jsonl").read_text().splitlines()}
    big, small = records["2611.00001"], records["2611.00002"]
    assert len(big["abstract"]) <= 20_000 and big["abstract"].endswith("…") and len(big["title"]) <= 1000
    assert len(big["authors"]) == 500 and big["authors"][-1] == "… and 1501 more" and big["authors"][0] == "Author 0"
    assert small["title"] == "Testing small" and not small["abstract"].endswith("…")
    digest = next((config.parent / "digests").rglob("*.md")).read_text()
    assert "abstract values were longer than the tracker keeps and were cut" in digest
    assert len(digest) < 200_000 and len((config.parent / "README.md").read_text()) < 200_000


# --- 3: the ledger in git's hands ---------------------------------------------------------------

def _seed_shard(folder: Path, lines: list[str]) -> Path:
    shard = folder / "data" / "papers" / "2026-11.jsonl"
    shard.parent.mkdir(parents=True, exist_ok=True)
    shard.write_text("".join(line + "\n" for line in lines))
    return shard


def _record(pid: str, **fields) -> str:
    base = {"id": pid, "version": 1, "title": f"Testing {pid}", "abstract": "An abstract.", "authors": ["Ada Lovelace"],
            "categories": ["cs.CL"], "primary_category": "cs.CL", "abs_url": "", "pdf_url": "", "topics": ["Testing"],
            "first_seen": "2026-10-30", "updated": "2026-10-01T00:00:00Z", "published": "2026-10-01T00:00:00Z"}
    return json.dumps({**base, **fields})


@pytest.mark.parametrize("variant", [
    {"id": "2611.00001v1"},  # the version inside the id, no `version` field
    {"id": "2611.00001v1", "version": 1},
    {"authors": [{"name": "Ada Lovelace"}, {"forenames": "Emmy", "keyname": "Noether"}]},
    {"id": "2611.00001v1", "authors": [{"name": "Ada Lovelace", "affiliation": "X"}]},
])
def test_another_versions_records_are_read_not_announced_again_and_not_doubled(synthetic, tmp_path, variant):
    synthetic.add(q("testing"), 1, start=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc))  # 2611.00001, as recorded
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    record = json.loads(_record("2611.00001", **variant))
    record.pop("version", None) if "version" not in variant and "id" in variant else None
    _seed_shard(config.parent, [json.dumps(record)])
    for n in range(2):
        summary, _ = fetch_json(config, day(n))
        assert summary["totals"]["new"] == 0
    lines = (config.parent / "data" / "papers" / "2026-11.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == "2611.00001"
    assert json.loads(lines[0])["first_seen"] == "2026-10-30"


def test_an_unreadable_record_of_a_fetched_paper_refuses_the_run_naming_shard_and_line(synthetic, tmp_path):
    synthetic.add(q("testing"), 2, start=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc))
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    shard = _seed_shard(config.parent, [_record("2611.00001", topics=["Testing"]), _record("2611.00002", authors=5)])
    before = shard.read_bytes()
    result = tracker("fetch", "--config", config, "--date", day(0))
    lines = errors(result)
    assert result.returncode == 1 and len(lines) == 1 and f"{shard}:2:" in lines[0] and "2611.00002" in lines[0], result.stderr
    assert shard.read_bytes() == before and not (config.parent / "README.md").exists()


@pytest.mark.parametrize("marker_at, markers", [
    (1, ["<<<<<<< HEAD"]),
    (2, ["=======", ">>>>>>> origin/main"]),
    (2, ["||||||| base", "=======\r"]),
])
def test_conflict_markers_in_a_shard_are_one_error_naming_file_and_line_and_nothing_is_written(synthetic, tmp_path, marker_at, markers):
    synthetic.add(q("testing"), 3, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    lines = [_record("2611.00001"), _record("2611.00002")]
    lines[marker_at - 1:marker_at - 1] = markers
    shard = _seed_shard(config.parent, lines)
    before = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file()}
    for command in (["fetch", "--date", day(0)], ["run", "--date", day(0), "--no-embed"], ["render", "--date", day(0), "--no-embed"]):
        result = here(*command, "--config", config)
        found = errors(result)
        assert result.returncode != 0 and len(found) == 1 and f"{shard}:{marker_at}: git conflict marker" in found[0], result.stderr
    after = {p: p.read_bytes() for p in config.parent.rglob("*") if p.is_file() and ".tracker" not in p.parts}
    assert after == {p: b for p, b in before.items() if ".tracker" not in p.parts}


def test_conflict_markers_in_feedback_are_one_error_naming_the_line(tmp_path):
    from tracker.store.conflicts import ConflictMarkers
    from tracker.store.feedback import load_feedback_records

    path = tmp_path / "feedback.jsonl"
    path.write_text('{"id": "2611.00001", "ticked": "2026-11-02"}\n<<<<<<< HEAD\n{"id": "2611.00002", "ticked": "2026-11-02"}\n'
                    '=======\n>>>>>>> theirs\n')
    with pytest.raises(ConflictMarkers, match=r"feedback.jsonl:2: git conflict marker '<<<<<<<'"):
        load_feedback_records(path)
    path.write_text('{"id": "2611.00001", "ticked": "2026-11-02", "note": "a line of ======= inside text"}\n')
    assert set(load_feedback_records(path)) == {"2611.00001"}  # a marker only counts at the start of a line


# --- 4: config paths ----------------------------------------------------------------------------

def test_a_symlinked_config_writes_into_the_folder_where_it_is_named(synthetic, tmp_path):
    synthetic.add(q("testing"), 3, start=START)
    shared = make_project(tmp_path / "shared", synthetic.api_url, ["Testing"], cap=100)
    project = tmp_path / "project"
    project.mkdir()
    (project / "keywords.yaml").symlink_to(shared)
    fetch_json(project / "keywords.yaml", day(0))
    assert len(ledger_ids(project)) == 3 and not (tmp_path / "shared" / "data").exists()


@pytest.mark.parametrize("setting, env, where", [
    ("state_dir: ~/trk-cache", {"HOME": "{home}"}, "{home}/trk-cache"),
    ("state_dir: $CACHE_ROOT/trk", {"CACHE_ROOT": "{home}/with space"}, "{home}/with space/trk"),
    ("state_dir: ${CACHE_ROOT}/trk", {"CACHE_ROOT": "{home}/braces"}, "{home}/braces/trk"),
    ("data_dir: $PROJECT/records", {"PROJECT": "{project}"}, "{project}/records"),
    ("data_dir: ${SUB}/ledger", {"SUB": "my data"}, "{project}/my data/ledger"),
])
def test_home_and_variables_in_paths_are_expanded_never_literal(synthetic, tmp_path, setting, env, where):
    synthetic.add(q("testing"), 2, start=START)
    values = {"home": str(tmp_path / "home"), "project": str(tmp_path / "p")}
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100, extra=f"output:\n  {setting}\n")
    env = {k: v.format(**values) for k, v in env.items()}
    result = here("fetch", "--config", config, "--date", day(0), env=env)
    assert result.returncode == 0 and not errors(result), result.stderr
    assert Path(where.format(**values)).is_dir()
    literal = [p for p in tmp_path.rglob("*") if p.name.startswith(("~", "$"))]
    assert literal == []


@pytest.mark.parametrize("setting, says", [
    ("data_dir: $TRACKER_SURELY_UNSET/data", "'$TRACKER_SURELY_UNSET'"),
    ("state_dir: ${TRACKER_SURELY_UNSET}", "'${TRACKER_SURELY_UNSET}'"),
    ("state_dir: ~no_such_user_here/x", "'~no_such_user_here'"),
    ("data_dir: ~/outside", "must be a path inside the project folder"),
])
def test_an_undefined_variable_or_a_path_outside_is_one_config_error_with_its_line(synthetic, tmp_path, setting, says):
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100, extra=f"output:\n  {setting}\n")
    line = config.read_text().splitlines().index(f"  {setting}") + 1
    result = here("check", "--config", config, env={"HOME": str(tmp_path / "home")})
    found = errors(result)
    assert result.returncode == 2 and len(found) == 1 and f"keywords.yaml:{line}:" in found[0] and says in found[0], result.stderr
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(("~", "$"))] == []


# --- 5: dates -----------------------------------------------------------------------------------

_BAD_DATES = ["2052-03-18", "9999-12-31", "0001-01-01", "1990-12-31"]
_DATED = [["run", "--no-embed", "--date"], ["fetch", "--date"], ["render", "--no-embed", "--date"],
          ["publish", "--dry-run", "--date"], ["trends", "--date"], ["search", "x", "--since"], ["search", "x", "--until"]]


@pytest.mark.parametrize("command, date", [(c, d) for c in _DATED[:2] for d in _BAD_DATES] +
                         [(c, _BAD_DATES[n % 4]) for n, c in enumerate(_DATED[2:])])
def test_a_date_out_of_range_is_one_usage_error_naming_it_for_every_command(synthetic, tmp_path, command, date):
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    result = here(*command, date, "--config", config)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(errors(result)) == 1 and date in result.stderr and "from 1991-01-01 to" in result.stderr
    assert synthetic.requests == [] and not (config.parent / "data").exists()


def test_tomorrow_is_accepted_and_first_seen_is_never_in_the_future(synthetic, tmp_path):
    from tracker.errors import TrackerError
    from tracker.models import Paper
    from tracker.store.ledger import Ledger

    synthetic.add(q("testing"), 2, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    tomorrow = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    fetch_json(config, tomorrow)
    ledger = Ledger.load(config.parent / "data")
    assert {p.first_seen for p in ledger.papers.values()} == {tomorrow}
    with pytest.raises(TrackerError, match="after tomorrow"):
        ledger.record(Paper("2611.09999", 1, "t", "a"), "Testing", "2052-03-18")


def test_a_bibtex_profile_is_parsed_once_per_content_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch, caplog):
    import tracker.enrich.profile as profile_module

    bib = tmp_path / "group.bib"
    bib.write_text("@article{a, title={Sparse {A}ttention}, eprint={2401.01234}, archiveprefix={arXiv}}\n"
                   "@article{b, title={Causal \\'{e}tudes}, abstract={About causes.}, year={2020}}\n@article{broken,\n")
    cache = tmp_path / "state" / "bibtex"
    parses = []
    real = profile_module.read_bibtex
    monkeypatch.setattr(profile_module, "read_bibtex", lambda *a, **k: parses.append(1) or real(*a, **k))
    first = profile_module.build_profile(bibtex=bib, cache_dir=cache)
    again = profile_module.build_profile(bibtex=bib, cache_dir=cache)
    assert first == again and first.ids == ("2401.01234",) and first.texts[0].label == "Causal études"
    assert len(first.warnings) == 1 and "line 3" in first.warnings[0] and len(parses) == 1
    next(cache.glob("*.json")).write_text('{"ids": [')  # damaged: parsed again, with a warning
    with caplog.at_level("WARNING"):
        assert profile_module.build_profile(bibtex=bib, cache_dir=cache) == first
    assert "damaged BibTeX cache" in caplog.text and len(parses) == 2
    bib.write_text(bib.read_text().replace("2401.01234", "2401.05678"))  # edited: parsed again
    assert profile_module.build_profile(bibtex=bib, cache_dir=cache).ids == ("2401.05678",) and len(parses) == 3


def test_a_data_folder_that_is_a_link_out_of_the_project_is_one_line_and_nothing_written_there(synthetic, tmp_path):
    synthetic.add(q("testing"), 2, start=START)
    config = make_project(tmp_path / "p", synthetic.api_url, ["Testing"], cap=100)
    outside = tmp_path / "shared-data"
    outside.mkdir()
    (config.parent / "data").symlink_to(outside, target_is_directory=True)
    result = here("fetch", "--config", config, "--date", day(0))
    found = errors(result)
    assert result.returncode == 1 and len(found) == 1 and "outside the project folder" in found[0], result.stderr
    assert list(outside.rglob("*")) == []



def test_more_papers_in_one_minute_than_a_run_may_take_are_read_by_offset_within_the_window(synthetic):
    """Date windows have minute precision: a minute holding 35 papers, with a cap of 10, is paged by `skip`."""
    from tracker.sources.api import ArxivAPISource
    from tracker.sources.catchup import fetch_topic_queries
    from tracker.sources.http import PoliteSession

    old = synthetic.add(q("testing"), 10, start=START)
    crowd = synthetic.add(q("testing"), 35, start=START + dt.timedelta(days=1), per_minute=35)
    api = ArxivAPISource(synthetic.api_url, PoliteSession(delay_seconds=0, retries=0), page_size=10)
    known = {pid: "2026-10-01T00:09:00Z" for pid in old}
    windows, runs, skips = [], 0, []
    while runs == 0 or windows:
        runs += 1
        got = fetch_topic_queries(api, [q("testing")], cap=10, is_known=lambda p: p.id in known,
                                  newest_known=lambda: max(known.values()), windows=windows)
        windows = got.windows
        skips += [w.skip for w in windows]
        known.update((p.id, p.updated) for p in got.papers)
        assert runs < 8
    assert set(crowd) <= set(known) and runs == 5 and skips == [0, 10, 20, 30]  # run 2 re-reads the head's 10
