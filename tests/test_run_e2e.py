"""`tracker run` end to end: real CLI, real arxiv/feedparser clients, loopback arXiv."""
from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from tests.arxiv_fake import Fault, entry, feed, fixture
from tests.hostile import expected_shown, render_gfm, visible_text
from tracker.cli.main import cli
from tracker.store.ledger import Ledger

PAGES = {start: fixture(f"api_search_testing_page_start{start}_max10.xml") for start in range(0, 60, 10)}
TESTING = '(ti:"testing" OR abs:"testing")'
DATE = "2026-04-13"


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".tracker" not in p.parts
    }


@pytest.fixture
def testing_topic(arxiv_server, write_config):
    arxiv_server.add_pages(TESTING, PAGES)
    return write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 30\n")


def test_readme_reproduces_a_dailyarxiv_listing(testing_topic, tmp_path):
    result = run_cli("run", "--config", str(testing_topic), "--date", DATE)
    assert result.exit_code == 0, result.output
    # What DailyArXiv shows for the same responses: entries parsed by feedparser, newest first.
    expected = []
    for start in (0, 10, 20):
        for item in feedparser.parse(PAGES[start]).entries:
            expected.append((item.updated[:10], " ".join(item.title.split())))
    expected.sort(key=lambda row: row[0], reverse=True)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    rows = [l for l in readme.splitlines() if l.startswith("| **[")]
    assert len(rows) == 30
    dates = [row.split(" | ")[1][:10].replace("\u2011", "-") for row in rows]  # shown with non-breaking hyphens
    assert dates == [d for d, _ in expected]
    titles = {expected_shown(t) for _, t in expected}  # "$ω$Test" reads "ωTest" (tracker.render.latex)
    # The titles as GitHub shows them (cmark-gfm), from each row's first cell up to the authors.
    shown = {visible_text(render_gfm(row.split(" | ")[0].removeprefix("| ").split("<br>")[0])) for row in rows}
    assert shown == titles
    assert readme.count("## Testing") == 1


def test_second_run_changes_nothing(testing_topic, tmp_path):
    assert run_cli("run", "--config", str(testing_topic), "--date", DATE).exit_code == 0
    before = snapshot(tmp_path)
    again = run_cli("run", "--config", str(testing_topic), "--date", DATE, "--json")
    assert again.exit_code == 0
    summary = json.loads(again.output)
    assert summary["totals"]["new"] == 0 and summary["outputs"] == []
    assert snapshot(tmp_path) == before


def test_same_inputs_give_byte_identical_files(arxiv_server, testing_topic, tmp_path):
    assert run_cli("run", "--config", str(testing_topic), "--date", DATE).exit_code == 0
    first = snapshot(tmp_path)
    for path in tmp_path.iterdir():
        if path.name != "keywords.yaml":
            subprocess.run(["rm", "-rf", str(path)], check=True)
    assert run_cli("run", "--config", str(testing_topic), "--date", DATE).exit_code == 0
    assert snapshot(tmp_path) == first


def test_json_summary(testing_topic, tmp_path):
    result = run_cli("run", "--config", str(testing_topic), "--date", DATE, "--json")
    summary = json.loads(result.output)
    assert summary["date"] == DATE
    assert summary["topics"] == [{"name": "Testing", "fetched": 30, "new": 30, "revised": 0, "excluded": 0, "error": None}]
    assert summary["totals"] == {"fetched": 30, "new": 30, "revised": 0, "excluded": 0, "failed_topics": 0}
    assert str(tmp_path / "digests" / "2026" / "04" / f"{DATE}.md") in summary["outputs"]


def test_dry_run_writes_nothing(testing_topic, tmp_path):
    before = snapshot(tmp_path)
    result = run_cli("run", "--config", str(testing_topic), "--date", DATE, "--dry-run")
    assert result.exit_code == 0 and "would write" in result.output
    assert snapshot(tmp_path) == before


def test_cross_topic_merge_and_revision_across_days(arxiv_server, write_config, tmp_path):
    a, b = '(ti:"alpha" OR abs:"alpha")', '(ti:"beta" OR abs:"beta")'
    shared = entry("2611.00001", 1, title="Alpha beta paper", updated="2026-11-19T10:00:00Z")
    arxiv_server.add_pages(a, {0: feed([shared, entry("2611.00002", title="Only alpha")])})
    arxiv_server.add_pages(b, {0: feed([shared])})
    config = write_config("- name: Alpha\n  keywords: [alpha]\n- name: Beta\n  keywords: [beta]\n")
    first = json.loads(run_cli("run", "--config", str(config), "--date", "2026-11-20", "--json").output)
    assert first["totals"]["new"] == 2
    ledger = Ledger.load(tmp_path / "data")
    assert ledger.get("2611.00001").topics == ("Alpha", "Beta")
    digest = (tmp_path / "digests/2026/11/2026-11-20.md").read_text()
    assert digest.count("Alpha beta paper") == 1 and "` · Alpha, Beta\n" in digest

    revised = entry("2611.00001", 2, title="Alpha beta paper (v2)", updated="2026-11-21T10:00:00Z", published="2026-11-19T10:00:00Z")
    arxiv_server.add_pages(a, {0: feed([revised, entry("2611.00002", title="Only alpha")])})
    arxiv_server.add_pages(b, {0: feed([revised])})
    second = json.loads(run_cli("run", "--config", str(config), "--date", "2026-11-22", "--json").output)
    assert (second["totals"]["new"], second["totals"]["revised"]) == (0, 1)
    digest = (tmp_path / "digests/2026/11/2026-11-22.md").read_text()
    assert "## Revised" in digest and "2611.00001v2" in digest and "## New" not in digest
    readme = (tmp_path / "README.md").read_text()
    assert "2026\u201111\u201121\u00a0(v2)" in readme  # the date cell does not wrap


def test_a_rejected_topic_fails_alone_with_exit_3(arxiv_server, write_config, tmp_path):
    arxiv_server.add_pages(TESTING, PAGES)
    arxiv_server.add_pages("(id:abc)", {0: fixture("legacy_error_incorrect_id_format_from_user_manual.xml")})
    config = write_config("- name: Broken\n  query: id:abc\n- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 10\n")
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", DATE])
    assert result.exit_code == 3
    assert "topic 'Broken' failed: arXiv rejected the query: incorrect id format for 1234.12345" in result.stderr
    assert len(Ledger.load(tmp_path / "data").papers) == 10
    assert "## Testing" in (tmp_path / "README.md").read_text()


def test_when_every_topic_fails_nothing_stored_changes(arxiv_server, testing_topic, tmp_path):
    assert run_cli("run", "--config", str(testing_topic), "--date", DATE).exit_code == 0
    before = snapshot(tmp_path)
    arxiv_server.faults = [Fault(503)] * 10
    result = CliRunner().invoke(cli, ["run", "--config", str(testing_topic), "--date", "2026-04-14"])
    assert result.exit_code == 1
    assert "every topic failed, nothing was written" in result.stderr and "HTTP 503" in result.stderr
    assert snapshot(tmp_path) == before


def test_a_503_burst_is_ridden_out(arxiv_server, testing_topic, tmp_path):
    arxiv_server.faults = [Fault(503), Fault(503), Fault(429, headers={"Retry-After": "0"})]
    result = run_cli("run", "--config", str(testing_topic), "--date", DATE, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["totals"]["new"] == 30


def test_rss_topic_selects_announce_types(arxiv_server, write_config, tmp_path):
    arxiv_server.feeds["cs.CL"] = fixture("made_rss_cs.CL_all_announce_types.xml")
    config = write_config("- name: CL\n  source: rss\n  categories: [cs.CL]\n  keywords: [benchmark, transformers, citation]\n  announce_types: [new, cross]\n")
    summary = json.loads(run_cli("run", "--config", str(config), "--date", "2025-09-19", "--json").output)
    assert summary["topics"][0]["new"] == 2  # the replace-cross citation paper is filtered by type
    assert set(Ledger.load(tmp_path / "data").papers) == {"2509.14521", "2509.14707"}


def test_kill_9_at_any_moment_loses_nothing(arxiv_server, write_config, tmp_path):
    """Kill the real CLI inside the journal window and at spread-out moments; the ledger stays readable,
    the next real run completes the interrupted commit, and the result equals an uninterrupted run."""
    entries = [entry(f"{2001 + m // 12 * 100 + m % 12:04d}.{i:05d}", updated=f"2026-11-{10 + i % 9:02d}T00:00:00Z",
                     title=f"Paper {m}-{i} on testing") for m in range(60) for i in range(2)]
    arxiv_server.add_pages(TESTING, {0: feed(entries)})
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    config.write_text(config.read_text().replace("page_size: 10", "page_size: 200"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}

    def command(folder: Path) -> list[str]:
        return [sys.executable, "-m", "tracker", "run", "--config", str(folder / "keywords.yaml"), "--date", DATE, "--no-embed"]

    folders = {}
    for name in ("reference", "journal-kill"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "keywords.yaml").write_text(config.read_text())
    started = time.monotonic()
    subprocess.run(command(folders["reference"]), env=env, check=True, capture_output=True)
    duration = time.monotonic() - started
    expected = snapshot(folders["reference"])

    # Inside the journal window: TRACKER_TEST_COMMIT_PAUSE (tracker.store.journal) slows the apply step;
    # kill once the journal exists and its first file was renamed, so the commit is half applied.
    folder = folders["journal-kill"]
    process = subprocess.Popen(command(folder), env={**env, "TRACKER_TEST_COMMIT_PAUSE": "0.05"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = folder / "data" / ".commit.json"
    first_stage = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if first_stage is None and journal.exists():
            first = json.loads(journal.read_text())["replace"][0].split("/")
            first_stage = folder.joinpath(*first[:-1], f".{first[-1]}.staged")
        if first_stage is not None and not first_stage.exists():
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert journal.exists() and list(folder.rglob(".*.staged")), "the kill did not land inside the journal window"
    assert Ledger.load(folder / "data", read_only=True).papers == Ledger.load(folders["reference"] / "data").papers
    again = subprocess.run(command(folder), env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "completing the file updates of an interrupted run" in again.stderr, again.stderr
    assert not journal.exists() and snapshot(folder) == expected

    # Spread-out moments, each followed by the next real run (which completes or redoes the work).
    for fraction in (0.3, 0.6, 0.9):
        process = subprocess.Popen(command(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
        Ledger.load(tmp_path / "data", read_only=True)  # readable after every kill (raises if not), nothing changed
    final = subprocess.run(command(tmp_path), env=env, capture_output=True)
    assert final.returncode == 0, final.stderr
    mine = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(tuple(folders))}
    assert mine == expected


def test_excludes_drop_papers_before_the_ledger_and_are_counted(arxiv_server, write_config, tmp_path):
    body = feed([
        entry("2611.00001", title="A survey of testing", categories=("cs.SE",)),
        entry("2611.00002", title="Testing quantum circuits", categories=("quant-ph",)),
        entry("2611.00003", title="Testing compilers", categories=("cs.PL",)),
    ])
    arxiv_server.add_pages(TESTING, {0: body})
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="exclude: [survey]\nexclude_categories: [quant-ph]\n")
    summary = json.loads(run_cli("run", "--config", str(config), "--date", DATE, "--json").output)
    assert summary["topics"][0]["excluded"] == 2 and summary["totals"]["excluded"] == 2
    assert set(Ledger.load(tmp_path / "data").papers) == {"2611.00003"}


def test_archives_follow_the_cap_and_fetch_alone_leaves_them(arxiv_server, write_config, tmp_path):
    arxiv_server.add_pages(TESTING, PAGES)
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 15\n")
    assert run_cli("run", "--config", str(config), "--date", DATE).exit_code == 0
    pages = sorted((tmp_path / "archive" / "testing").glob("*.md"))
    assert pages  # backfill reads whole pages (20 papers); the 5 oldest go to the archive
    readme_rows = [l for l in (tmp_path / "README.md").read_text().splitlines() if l.startswith("| **[")]
    archived = sum(len([l for l in p.read_text().splitlines() if l.startswith("| **[")]) for p in pages)
    assert len(readme_rows) == 15 and len(readme_rows) + archived == len(Ledger.load(tmp_path / "data").papers)
    assert run_cli("fetch", "--config", str(config), "--date", DATE).exit_code == 0
    assert sorted((tmp_path / "archive" / "testing").glob("*.md")) == pages
    # raising the cap brings rows back into the README and removes emptied archive pages
    config.write_text(config.read_text().replace("readme_rows: 15", "readme_rows: 500"))
    assert run_cli("render", "--config", str(config), "--date", DATE, "--no-embed").exit_code == 0
    assert not list((tmp_path / "archive").rglob("*.md"))
