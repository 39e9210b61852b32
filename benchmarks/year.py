"""A simulated year of weekday runs: what each daily commit costs, and how the repository grows.

A loopback arXiv (an HTTP server in this process) answers each default topic's query newest-first,
as the real API does, from a deterministic world: `--per-day` new papers every weekday (default
150 over the four default topics, some in two), abstracts recombined from the real ones in
tests/fixtures at their real lengths, plus 10% revisions of recent papers. Each day the real CLI
(`python -m tracker run --date D --json`, a fresh process, `--no-embed` unless `--embed`) runs in a
scratch git repository under /tmp, which is then committed. Per run: CPU and wall time and peak RSS
of that process, files changed (archive pages among them), lines and bytes changed. At the end:
the tree by folder and per paper, `git count-objects -vH` after `git gc`, the largest tracked file,
a projection to 260 weekdays; and a final quiet day (nothing new) shows what the ledger's size costs.

`--start-ledger N` seeds N earlier papers into the ledger first (committed), then measures the
first render of that ledger and a quiet day before the simulated days: the 100,000-paper case.
`--baseline PATH` runs the same world against another checkout first (e.g. a `git worktree` of an
older commit; its code is put first on PYTHONPATH) and prints both; `--code PATH` picks the
checkout measured as "after" (default: this one).

Run: python benchmarks/year.py [--days 60] [--per-day 150] [--start-ledger 100000] [--embed]
                               [--baseline /tmp/before] [--keep]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.arxiv_fake import entry, feed  # noqa: E402

ATOM = "{http://www.w3.org/2005/Atom}"
FIXTURE_DIRS = (ROOT / "tests" / "fixtures" / "arxiv-api", Path("/work/shared/fixtures/arxiv-api"))
# The default topics of keywords.yaml, and the word that picks each one out of its arXiv query.
TOPICS = {"Hallucination": "hallucination", "MLLM": "mllm", "Reasoning": "reasoning", "Reward Model": "reward model"}
WEIGHTS = (0.25, 0.2, 0.4, 0.15)  # reasoning is the busiest of the four
CATEGORIES = ("cs.CL", "cs.AI", "cs.LG", "cs.CV")
COMMENTS = ("Accepted at ACL 2025", "12 pages, 4 figures", "Code: https://github.com/example-lab/project",
            "Preprint. Under review. 25 pages, 9 figures, 7 tables; extended version of our workshop paper "
            "with new experiments on three additional benchmarks and an ablation study")


# --- the simulated world ----------------------------------------------------------------------

@dataclass
class World:
    """Every paper arXiv has announced so far, as API fields, and which topics' queries match it."""

    seed: int
    papers: dict[str, dict] = field(default_factory=dict)
    topics: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TOPICS})
    counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng, self._served = random.Random(self.seed), {}
        self.titles, self.abstracts, self.authors = _real_text()
        self.pool = [s for a in self.abstracts for s in _sentences(a)]

    def new_paper(self, day: dt.date, served: bool = True) -> dict:
        month = day.strftime("%y%m")
        self.counters[month] = self.counters.get(month, 0) + 1
        pid = f"{month}.{self.counters[month]:05d}"
        topics = sorted({self.rng.choices(list(TOPICS), WEIGHTS)[0] for _ in range(1 + (self.rng.random() < 0.15))})
        when = f"{_previous_weekday(day)}T{self.rng.randrange(24):02d}:{self.rng.randrange(60):02d}:00Z"
        paper = {"id": pid, "version": 1, "title": self._title(), "abstract": self._abstract(),
                 "authors": self.rng.sample(self.authors, self.rng.choice((1, 2, 3, 4, 5, 6, 8, 12, 30))),
                 "categories": self.rng.sample(CATEGORIES, self.rng.randint(1, 3)), "topics": topics,
                 "comment": self.rng.choice(COMMENTS) if self.rng.random() < 0.4 else None,
                 "published": when, "updated": when, "announced": day.isoformat()}
        if served:
            self.papers[pid] = paper
            for topic in topics:
                self.topics[topic].append(pid)
        return paper

    def revise(self, day: dt.date, count: int) -> None:
        """`count` recent papers get a new version, announced `day` (they surface first in the API)."""
        recent = [p for p in self.papers.values() if (day - dt.date.fromisoformat(p["announced"])).days <= 90]
        for paper in self.rng.sample(recent, min(count, len(recent))):
            paper["version"] += 1
            paper["updated"] = f"{_previous_weekday(day)}T{self.rng.randrange(24):02d}:00:00Z"
            paper["abstract"] += " " + self.rng.choice(self.pool)
            paper["comment"] = f"v{paper['version']}: camera-ready version"

    def page(self, query: str, start: int, size: int) -> bytes:
        """The API's answer: the matching topic's papers, newest update first."""
        topic = next((t for t, word in TOPICS.items() if word in query.lower()), None)
        ids = self._served.get(topic) if topic else []
        if ids is None:
            ids = sorted(self.topics[topic], key=lambda i: (self.papers[i]["updated"], i), reverse=True)
            self._served[topic] = ids
        return feed([self._entry(self.papers[i]) for i in ids[start:start + size]], total=len(ids), start=start)

    def announce(self, day: dt.date, new: int, revised: int) -> None:
        self.revise(day, revised)
        for _ in range(new):
            self.new_paper(day)
        self._served = {}

    def _entry(self, p: dict) -> str:
        return entry(p["id"], p["version"], title=p["title"], abstract=p["abstract"], updated=p["updated"],
                     published=p["published"], authors=p["authors"], categories=p["categories"], comment=p["comment"])

    def _title(self) -> str:
        first, second = self.rng.sample(self.titles, 2)
        head, tail = first.split(), second.split()
        return " ".join(head[: max(2, len(head) // 2)] + tail[len(tail) // 2:])

    def _abstract(self) -> str:
        """A real abstract's sentences, shuffled and topped up to that abstract's own length."""
        model = self.rng.choice(self.abstracts)
        sentences, target, words = _sentences(model), len(model.split()), []
        self.rng.shuffle(sentences)
        while len(words) < target:
            words += (sentences.pop() if sentences else self.rng.choice(self.pool)).split()
        return " ".join(words[:target])


def _real_text() -> tuple[list[str], list[str], list[str]]:
    abstracts: dict[str, str] = {}
    authors: set[str] = set()
    for folder in FIXTURE_DIRS:
        for path in sorted(folder.glob("api_*.xml")) if folder.is_dir() else []:
            for item in ET.parse(path).getroot().iter(f"{ATOM}entry"):
                title = " ".join((item.findtext(f"{ATOM}title") or "").split())
                abstract = " ".join((item.findtext(f"{ATOM}summary") or "").split())
                if title and title != "Error" and len(abstract.split()) > 40:
                    abstracts[title] = abstract
                authors |= {a.findtext(f"{ATOM}name") for a in item.iter(f"{ATOM}author")} - {None}
    return sorted(abstracts), [abstracts[t] for t in sorted(abstracts)], sorted(authors)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 4]


def _previous_weekday(day: dt.date) -> str:
    return (day - dt.timedelta(days={0: 3, 6: 2}.get(day.weekday(), 1))).isoformat()  # Monday -> Friday


def weekdays(start: dt.date, count: int) -> list[dt.date]:
    every_day = (start + dt.timedelta(days=n) for n in range(2 * count + 7))
    return [day for day in every_day if day.weekday() < 5][:count]


def serve(world: World) -> tuple[ThreadingHTTPServer, str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            args = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with lock:
                body = world.page(args.get("search_query", ""), int(args.get("start", 0)), int(args.get("max_results", 100)))
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/query"


# --- the scratch repository -----------------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(folder: Path, api_url: str, embed: bool) -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    for key, value in (("user.email", "bench@example.invalid"), ("user.name", "year"), ("gc.auto", "0")):
        git(folder, "config", key, value)  # gc only when measured, at the end
    topics = "".join(f"  - name: {name}\n    keywords: [{word}]\n" for name, word in TOPICS.items())
    (folder / "keywords.yaml").write_text(
        f"topics:\n{topics}output:\n  readme_rows: 100\n  digest_max_papers: 50\n"
        f"arxiv:\n  api_url: {api_url}\n  delay_seconds: 0\n"
        f"embedding:\n  enabled: {'true' if embed else 'false'}\n"
    )
    (folder / "README.md").write_text("# Our lab's arXiv tracker\n\nPapers we follow, updated every weekday.\n")
    (folder / ".gitignore").write_text(".tracker/\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "start")
    return folder


def seed_ledger(repo: Path, world: World, count: int, before: dt.date, per_day: int) -> None:
    """`count` papers announced `per_day` a weekday before `before`, written as ledger shards."""
    shards: dict[str, list[dict]] = {}
    day = before
    while count > 0:
        day = dt.date.fromisoformat(_previous_weekday(day))
        for _ in range(min(per_day, count)):
            paper = world.new_paper(day, served=False)
            record = {k: v for k, v in paper.items() if k != "announced"}
            record.update(first_seen=day.isoformat(), primary_category=paper["categories"][0], journal_ref=None, doi=None,
                          abs_url=f"https://arxiv.org/abs/{paper['id']}v1", pdf_url=f"https://arxiv.org/pdf/{paper['id']}v1",
                          revised_on=None, announce_type=None, relevance=None)
            shards.setdefault(f"20{paper['id'][:2]}-{paper['id'][2:4]}", []).append(record)
        count -= per_day
    folder = repo / "data" / "papers"
    folder.mkdir(parents=True)
    for month, records in shards.items():
        records.sort(key=lambda r: r["id"])
        lines = (json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for r in records)
        (folder / f"{month}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed ledger")


@dataclass
class RunStats:
    label: str
    seconds: float
    cpu: float  # user + system seconds of the run's process: steadier than wall time on a shared machine
    peak_mb: float
    new: int
    revised: int
    files: int  # changed in the commit, `pages` of them archive pages
    pages: int
    lines: int  # added + deleted
    bytes: int  # of those lines


# The run is started by a small wrapper process, which reports its child's usage: a process forked
# from this one (which holds the whole simulated world) would count this one's memory as its own.
_MEASURED = ("import json, resource, subprocess, sys\n"
             "code = subprocess.call(sys.argv[2:])\n"
             "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
             "json.dump([usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024], open(sys.argv[1], 'w'))\n"
             "sys.exit(code)\n")


def run_day(repo: Path, code: Path, date: str, embed: bool, label: str) -> RunStats:
    """One `tracker run` in a fresh process (its CPU time and peak RSS), then commit what it changed."""
    command = [sys.executable, "-m", "tracker", "run", "--config", "keywords.yaml", "--date", date, "--json"]
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TRACKER_ARXIV_API_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _MEASURED, f"{tmp}/usage", *command, *([] if embed else ["--no-embed"])],
                              cwd=repo, env=env, capture_output=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{label}: tracker run exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")
        cpu, peak_mb = json.loads(Path(f"{tmp}/usage").read_text())
    summary = json.loads(done.stdout)
    git(repo, "add", "-A")
    changed = [line.split("\t") for line in git(repo, "diff", "--cached", "--numstat").splitlines()]
    lines = sum(int(a) + int(d) for a, d, _ in changed if a != "-")
    totals = summary["totals"]
    stats = RunStats(label, seconds, cpu, peak_mb, totals["new"], totals["revised"],
                     len(changed), sum(1 for *_, path in changed if path.startswith("archive/")), lines, _diff_bytes(repo))
    if changed:
        git(repo, "commit", "-q", "-m", f"papers of {date}")
    return stats


def _diff_bytes(repo: Path) -> int:
    """Bytes of the added and removed lines of the staged change (what a reviewer reads)."""
    total, in_hunk = 0, False
    with subprocess.Popen(["git", "diff", "--cached", "-U0", "--no-color", "--no-ext-diff"], cwd=repo,
                          stdout=subprocess.PIPE) as diff:
        for line in diff.stdout:
            if line.startswith(b"diff --git"):
                in_hunk = False
            elif line.startswith(b"@@"):
                in_hunk = True
            elif in_hunk and line[:1] in (b"+", b"-"):
                total += len(line) - 2  # without the sign and the newline
    return total


def repository_figures(repo: Path) -> dict:
    tracked = [repo / p for p in git(repo, "ls-files", "-z").split("\0") if p]
    sizes = {p: p.stat().st_size for p in tracked if p.is_file()}
    folders: dict[str, int] = {}
    for path, size in sizes.items():
        top = path.relative_to(repo).parts[0]
        folders[top] = folders.get(top, 0) + size
    papers = sum(1 for p in sizes if p.suffix == ".jsonl" for _ in p.open("rb"))
    git(repo, "gc", "-q")
    objects = git(repo, "count-objects", "-vH").strip().replace("\n", ", ")
    pack_kib = int(dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())["size-pack"])
    largest = max(sizes, key=sizes.get)
    return {"tree": sum(sizes.values()), "folders": folders, "papers": papers, "pack": pack_kib * 1024,
            "count_objects": objects, "largest": (largest.relative_to(repo).as_posix(), sizes[largest]),
            "files": len(sizes), "commits": int(git(repo, "rev-list", "--count", "HEAD"))}


# --- one simulation, and the report -----------------------------------------------------------

def simulate(code: Path, args: argparse.Namespace, folder: Path, label: str) -> tuple[list[RunStats], dict]:
    world = World(seed=args.seed)
    server, url = serve(world)
    runs: list[RunStats] = []
    try:
        repo = make_repo(folder, url, args.embed)
        days = weekdays(dt.date.fromisoformat(args.start), args.days + 1 + (1 if args.start_ledger else 0))
        if args.start_ledger:
            seed_ledger(repo, world, args.start_ledger, days[0], args.per_day)
            runs.append(run_day(repo, code, days[0].isoformat(), args.embed, "seeded: first render"))
            print(_row(runs[-1]), flush=True)
            days = days[1:]
        for number, day in enumerate(days[:-1], start=1):
            world.announce(day, args.per_day, args.per_day // 10)
            runs.append(run_day(repo, code, day.isoformat(), args.embed, f"day {number}"))
            print(_row(runs[-1]), flush=True)
        world.announce(days[-1], 0, 0)
        runs.append(run_day(repo, code, days[-1].isoformat(), args.embed, "quiet day"))
        print(_row(runs[-1]), flush=True)
        return runs, repository_figures(repo)
    finally:
        server.shutdown()


HEADER = (f"{'run':<22}{'wall s':>7}{'cpu s':>7}{'peak MB':>9}{'new':>5}{'rev':>5}{'files':>7}{'pages':>7}"
          f"{'lines':>8}{'KB chg':>9}")


def _row(r: RunStats) -> str:
    return (f"{r.label:<22}{r.seconds:7.2f}{r.cpu:7.2f}{r.peak_mb:9.0f}{r.new:5d}{r.revised:5d}{r.files:7d}{r.pages:7d}"
            f"{r.lines:8d}{r.bytes / 1024:9.1f}")


def report(label: str, runs: list[RunStats], repo: dict, days: int) -> list[str]:
    daily, quiet, first = [r for r in runs if r.label.startswith("day ")], runs[-1], runs[0]
    mean = lambda values: sum(values) / max(1, len(values))  # noqa: E731
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    lines = [f"== {label}",
             f"days: cpu mean {mean([r.cpu for r in daily]):.2f} s (max {max(r.cpu for r in daily):.2f}), wall mean "
             f"{mean([r.seconds for r in daily]):.2f} s; peak {max(r.peak_mb for r in daily):.0f} MB; "
             f"{mean([r.files for r in daily]):.1f} files ({mean([r.pages for r in daily]):.1f} archive pages), "
             f"{mean([r.bytes for r in daily]) / 1024:.0f} KB changed per commit",
             f"quiet day: cpu {quiet.cpu:.2f} s, wall {quiet.seconds:.2f} s, {quiet.peak_mb:.0f} MB, {quiet.files} files"]
    if first.label.startswith("seeded"):
        lines.append(f"seeded ledger, first render: cpu {first.cpu:.2f} s, {first.peak_mb:.0f} MB, {first.files} files")
    per = lambda n: f"{n / max(1, repo['papers']):.0f} B/paper"  # noqa: E731
    lines.append(f"tree: {mb(repo['tree'])} in {repo['files']} files, {repo['papers']} papers, {repo['commits']} commits; "
                 + ", ".join(f"{k} {mb(v)} ({per(v)})" for k, v in sorted(repo["folders"].items())))
    lines.append(f"after git gc: {repo['count_objects']}")
    lines.append(f"largest tracked file: {repo['largest'][0]} ({mb(repo['largest'][1])})")
    if days < 260 and not first.label.startswith("seeded"):
        scale = 260 / days
        lines.append(f"linear projection to 260 weekdays: tree ~{mb(repo['tree'] * scale)}, pack ~{mb(repo['pack'] * scale)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=260, help="weekdays to simulate (260 = a year)")
    parser.add_argument("--per-day", type=int, default=150, help="new papers a weekday, over the four topics")
    parser.add_argument("--start-ledger", type=int, default=0, help="seed this many earlier papers first")
    parser.add_argument("--embed", action="store_true", help="run the embedding stages (default: --no-embed)")
    parser.add_argument("--baseline", type=Path, help="another checkout to run the same world against first")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout measured as 'after' (default: this one)")
    parser.add_argument("--start", default="2025-01-06", help="first simulated day (YYYY-MM-DD)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch repositories")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tracker-year-", dir="/tmp"))
    results = []
    try:
        for label, code in ([("before", args.baseline)] if args.baseline else []) + [("after", args.code)]:
            print(f"-- {label}: {code} ({args.days} days, {args.per_day}/day, start ledger {args.start_ledger})", flush=True)
            print(HEADER, flush=True)
            runs, repo = simulate(code.resolve(), args, scratch / label, label)
            results.append(report(f"{label} ({code})", runs, repo, args.days))
        print()
        for lines in results:
            print("\n".join(lines))
    finally:
        if args.keep:
            print(f"scratch repositories kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
