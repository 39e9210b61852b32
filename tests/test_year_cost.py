"""A year of daily commits: a run writes only files whose content changed, renders only pages
that can change, and reads only the ledger shards it needs; the caches that make this cheap
(tracker.store.ledger_index, tracker.render.plan) never change what is written.

Real CLI against a loopback arXiv; "not rewritten" is checked by inode and mtime, not only bytes.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.arxiv_fake import api, entry, feed
from tracker.cli.main import cli
from tracker.models import Paper
from tracker.store.journal import commit
from tracker.store.ledger import Ledger, journal_path

TOPICS = "- name: Alpha\n  keywords: [alpha]\n- name: Beta\n  keywords: [beta]\n"
QUERIES = {"Alpha": '(ti:"alpha" OR abs:"alpha")', "Beta": '(ti:"beta" OR abs:"beta")'}
MONTHS = ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]


class World:
    """What arXiv holds: each paper's fields and the topics whose query matches it."""

    def __init__(self, server):
        self.server = server
        self.papers: dict[str, dict] = {}

    def add(self, pid: str, topics: set[str], updated: str, **fields) -> None:
        self.papers[pid] = {"version": 1, "title": f"Paper {pid}", "comment": None, **self.papers.get(pid, {}),
                            "topics": set(topics), "updated": updated, **fields}

    def publish(self) -> None:
        """Serve each topic newest-updated first, in pages of 10 (the test config's page size)."""
        self.server.pages.clear()
        for name, query in QUERIES.items():
            ids = sorted((p for p in self.papers if name in self.papers[p]["topics"]),
                         key=lambda p: (self.papers[p]["updated"], p), reverse=True)
            entries = [self._entry(pid) for pid in ids]
            for start in range(0, max(len(entries), 1), 10):
                self.server.pages[(query, start)] = feed(entries[start:start + 10], total=len(entries), start=start)

    def _entry(self, pid: str) -> str:
        p = self.papers[pid]
        return entry(pid, p["version"], title=p["title"], abstract=f"About {pid}.", updated=p["updated"],
                     published=p["updated"], comment=p["comment"])


def seed(world: World, data_dir: Path) -> None:
    """Two papers a month per topic over six months (one a month in both), on arXiv and, as the
    real client reads them from there, in the ledger."""
    for m, month in enumerate(MONTHS):
        yymm = month[2:4] + month[5:7]
        for i, topics in enumerate(({"Alpha"}, {"Alpha", "Beta"}, {"Beta"})):
            world.add(f"{yymm}.{i + 1:05d}", topics, f"{month}-1{i}T10:00:00Z")
    world.publish()
    ledger = Ledger()
    for name, query in QUERIES.items():
        for paper in api(world.server.base_url).fetch_query(query, limit=100):
            ledger.record(paper, name, (paper.updated or "")[:10])
    commit(ledger.files(data_dir), journal_path(data_dir))


@pytest.fixture
def project(arxiv_server, write_config, tmp_path):
    world = World(arxiv_server)
    seed(world, tmp_path / "data")
    config = write_config(TOPICS, extra="output:\n  readme_rows: 3\n")
    run(config, "2026-03-02")  # renders everything once: no render state yet
    return world, config, tmp_path


def run(config: Path, date: str, command: str = "run") -> dict:
    result = CliRunner().invoke(cli, [command, "--config", str(config), "--date", date, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def full_render_writes(config: Path, date: str) -> int:
    """How many files `tracker render` (every page from the whole ledger) changes: 0 if the runs kept up."""
    result = CliRunner().invoke(cli, ["render", "--config", str(config), "--date", date, "--no-embed"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return int(result.output.split("wrote ")[1].split()[0])


def files(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every committed file (not the .tracker cache): bytes, inode and mtime (a rewrite changes them)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".tracker" not in path.parts:
            stat = path.stat()
            found[path.relative_to(root).as_posix()] = (path.read_bytes(), stat.st_ino, stat.st_mtime_ns)
    return found


def rows(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if line.startswith("| **[")]


def written(before: dict, after: dict) -> set[str]:
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


# --- a commit changes only what changed ------------------------------------------------------

def test_a_days_run_rewrites_exactly_the_pages_whose_rows_change(project):
    world, config, root = project
    before = files(root)
    pages = {p for p in before if p.startswith("archive/")}
    assert len(pages) == 10  # 6 months x 2 topics, less the 3 newest rows of each in the README
    world.add("2603.00001", {"Alpha"}, "2026-03-02T09:00:00Z")  # new: pushes Alpha's oldest README row out
    world.add("2510.00001", {"Alpha"}, "2026-03-02T08:00:00Z", version=2)  # revised: leaves its 2025-10 page
    world.add("2511.00001", {"Alpha", "Beta"}, world.papers["2511.00001"]["updated"])  # Beta matches it now
    world.add("2512.00002", {"Alpha", "Beta"}, world.papers["2512.00002"]["updated"], comment="Accepted at ACL")
    world.publish()

    summary = run(config, "2026-03-03")
    after = files(root)
    changed = {p for p in written(before, after) if p.startswith("archive/")}
    pages |= {p for p in after if p.startswith("archive/")}
    row_changes = {p for p in pages if rows(before.get(p, (b"",))[0]) != rows(after.get(p, (b"",))[0])}
    assert changed == row_changes  # rewritten if and only if its rows changed
    assert {"archive/alpha/2025-10.md", "archive/beta/2025-11.md", "archive/alpha/2025-12.md",
            "archive/beta/2025-12.md", "archive/alpha/2026-01.md"} <= changed
    assert "archive/alpha/2025-09.md" not in changed and "archive/beta/2025-09.md" not in changed
    assert (summary["totals"]["new"], summary["totals"]["revised"]) == (1, 1)
    assert full_render_writes(config, "2026-03-03") == 0  # the pages it skipped are what a full render gives


def test_a_run_with_nothing_new_writes_no_file_and_parses_only_the_shards_arxiv_answered_from(project, caplog):
    world, config, root = project
    before = files(root)
    assert run(config, "2026-03-02")["outputs"] == []  # the same day again
    assert files(root) == before

    with caplog.at_level(logging.INFO, logger="tracker.store.ledger"):
        summary = run(config, "2026-03-03")  # the next day, nothing new on arXiv
    assert written(before, files(root)) == {"digests/2026/03/2026-03-03.md", "digests/2026/03/2026-03-03.json", "digests/feed.xml"}
    assert sorted(Path(p).name for p in summary["outputs"]) == ["2026-03-03.json", "2026-03-03.md", "feed.xml"]
    parsed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ledger: parsed")]
    # arXiv's first page per topic holds only known papers of 2025-10..2026-02: no older shard is read
    assert parsed and "2025-09" not in parsed[0] and "of 6 shards" in parsed[0] and parsed[0].endswith("wrote 0")


# --- the caches are only caches ----------------------------------------------------------------

def test_hand_edits_fetches_and_lost_or_stale_caches_still_give_what_a_full_render_gives(project):
    world, config, root = project
    state = root / ".tracker"
    shard = root / "data" / "papers" / "2025-10.jsonl"  # archived on every topic's pages
    shard.write_text(shard.read_text().replace("Paper 2510.00002", "Paper 2510.00002 (corrected by hand)"))
    run(config, "2026-03-03")
    assert "corrected by hand" in (root / "archive" / "alpha" / "2025-10.md").read_text()
    assert full_render_writes(config, "2026-03-03") == 0

    (root / "archive" / "beta" / "2025-11.md").unlink()
    (root / "archive" / "alpha" / "2025-11.md").write_text("edited by hand\n")
    run(config, "2026-03-04")
    assert "Paper 2511.00002" in (root / "archive" / "beta" / "2025-11.md").read_text()
    assert "edited by hand" not in (root / "archive" / "alpha" / "2025-11.md").read_text()
    assert full_render_writes(config, "2026-03-04") == 0

    stale = root / "stale-state"
    shutil.copytree(state, stale)  # CI restores a cache saved days ago
    for day, pid in (("2026-03-05", "2603.00001"), ("2026-03-06", "2603.00002")):
        world.add(pid, {"Alpha", "Beta"}, f"{day}T06:00:00Z")
        world.publish()
        run(config, day)
    world.add("2603.00003", {"Beta"}, "2026-03-09T06:00:00Z")
    world.publish()
    run(config, "2026-03-09", command="fetch")  # into the ledger only: renders nothing
    shutil.rmtree(state)
    shutil.copytree(stale, state)
    world.add("2603.00004", {"Alpha"}, "2026-03-10T06:00:00Z")
    world.publish()
    run(config, "2026-03-10")
    assert full_render_writes(config, "2026-03-10") == 0

    for cache in [*(state / "ledger-index").glob("*.json"), state / "render-state.json"]:
        cache.write_text("{ damaged")
    world.add("2603.00005", {"Alpha"}, "2026-03-11T06:00:00Z")
    world.publish()
    run(config, "2026-03-11")
    assert full_render_writes(config, "2026-03-11") == 0


def test_changed_templates_or_settings_re_render_every_page(project):
    world, config, root = project
    (root / "templates").mkdir()
    builtin = Path(__file__).resolve().parents[1] / "templates" / "archive.md.j2"
    (root / "templates" / "archive.md.j2").write_text(builtin.read_text() + "\n_Our lab's archive._\n")
    run(config, "2026-03-03")  # nothing new on arXiv, yet every page shows the new footer
    pages = sorted((root / "archive").rglob("*.md"))
    assert len(pages) == 10 and all("_Our lab's archive._" in p.read_text() for p in pages)
    config.write_text(config.read_text().replace("readme_rows: 3", "readme_rows: 4"))
    run(config, "2026-03-04")
    assert full_render_writes(config, "2026-03-04") == 0 and len(list((root / "archive").rglob("*.md"))) == 8


# --- the ledger reads and writes only the shards it needs --------------------------------------

def test_an_indexed_ledger_parses_and_writes_only_the_shards_a_change_touches(arxiv_server, tmp_path):
    world = World(arxiv_server)
    seed(world, tmp_path)
    index = tmp_path / "index"
    full = Ledger.load(tmp_path)
    first = Ledger.load(tmp_path, index=index)  # no index yet: every shard is parsed
    assert first.papers == full.papers and len(first.papers.loaded) == len(full.papers)
    first.files(tmp_path)
    first.save_index()

    ledger = Ledger.load(tmp_path, index=index)
    assert not ledger.papers.loaded and len(ledger.papers) == len(full.papers)  # known, not parsed
    assert ledger.knows(full.papers["2511.00002"], "Beta") and not ledger.knows(full.papers["2511.00001"], "Beta")
    ledger.record(Paper(id="2512.00001", version=2, title="Paper 2512.00001", abstract="New."), "Alpha", "2026-03-03")
    shards = ledger.files(tmp_path)
    assert set(shards) == {tmp_path / "papers" / "2025-12.jsonl"}
    assert {paper.id for paper in ledger.papers.loaded.values()} == {f"2512.{i:05d}" for i in (1, 2, 3)}
    (tmp_path / "papers" / "2025-12.jsonl").write_bytes(shards[tmp_path / "papers" / "2025-12.jsonl"])
    assert Ledger.load(tmp_path).papers == ledger.papers  # the rewritten shard kept its other records
    assert ledger.papers == {**full.papers, "2512.00001": ledger.papers["2512.00001"]}  # every record still there
    assert ledger.papers["2512.00001"].revised_on == "2026-03-03"


def test_a_shard_changed_behind_the_index_is_read_in_full_again(arxiv_server, tmp_path, caplog):
    world = World(arxiv_server)
    seed(world, tmp_path)
    index = tmp_path / "index"
    ledger = Ledger.load(tmp_path, index=index)
    ledger.files(tmp_path)
    ledger.save_index()
    shard = tmp_path / "papers" / "2026-01.jsonl"
    record = json.loads(shard.read_text().splitlines()[0])
    shard.write_text(shard.read_text() + json.dumps({**record, "id": "2601.00009", "title": "Added by hand"}) + "\n")
    (tmp_path / "papers" / "2026-02.jsonl").write_text("not json\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        reread = Ledger.load(tmp_path, index=index)
    assert reread.papers == Ledger.load(tmp_path).papers and reread.get("2601.00009").title == "Added by hand"
    assert "2026-02.jsonl:1" in caplog.text  # the bad line is named, and kept
    assert os.path.getsize(tmp_path / "papers" / "2026-02.jsonl") > 0


def test_a_copy_of_a_record_added_to_another_shard_by_hand_is_merged_back_into_one(arxiv_server, tmp_path):
    world = World(arxiv_server)
    seed(world, tmp_path)
    index = tmp_path / "index"
    ledger = Ledger.load(tmp_path, index=index)
    ledger.files(tmp_path)
    ledger.save_index()
    own = json.loads((tmp_path / "papers" / "2025-12.jsonl").read_text().splitlines()[0])
    other = tmp_path / "papers" / "2026-01.jsonl"
    other.write_text(other.read_text() + json.dumps({**own, "version": 2, "title": "Paper v2"}) + "\n")
    reread = Ledger.load(tmp_path, index=index)
    for path, data in reread.files(tmp_path).items():
        path.write_bytes(data)
    holders = [p.name for p in (tmp_path / "papers").glob("*.jsonl") if f'"id":"{own["id"]}"' in p.read_text()]
    assert holders == ["2025-12.jsonl"] and Ledger.load(tmp_path).get(own["id"]).version == 2


def test_a_shard_nearing_githubs_file_limit_is_named(tmp_path, caplog, monkeypatch):
    from tracker.store import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "SHARD_WARN_BYTES", 1000)  # the real limit needs ~24,000 records
    ledger = Ledger()
    for i in range(3):
        ledger.record(Paper(id=f"2601.{i:05d}", version=1, title="T", abstract="A" * 400), "Alpha", "2026-01-05")
    with caplog.at_level(logging.WARNING):
        ledger.files(tmp_path)
    assert "2026-01.jsonl is 0 MB (3 papers); GitHub warns at 50 MB" in caplog.text
