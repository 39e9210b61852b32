"""Archive pages: unique stable folders, cleanup that deletes only the tracker's own pages, and
daily runs that rewrite no page whose rows did not change. Real CLI against a loopback arXiv."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings as hsettings, strategies as st

from tests.arxiv_fake import entry, feed
from tracker.cli.main import cli
from tracker.render.paths import archive_marker, stale_archive_pages
from tracker.slugs import topic_slug

TESTING = '(ti:"testing" OR abs:"testing")'
SLUG_SHAPE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def run(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- topic_slug -----------------------------------------------------------------------------

def test_plain_names_keep_their_readable_slug():
    # Existing archive folders must not move: names of ASCII words keep the slug they always had.
    assert topic_slug("Hallucination") == "hallucination"
    assert topic_slug("Reward Model") == "reward-model"
    assert topic_slug("Vision-Language Models") == "vision-language-models"
    assert topic_slug("MLLM") == "mllm"


@pytest.mark.parametrize("names", [
    ("C++", "C", "C#", "C plus plus"),
    ("🤖", "🦾", "🤖🤖", "LLM 🤖", "LLM"),
    ("幻觉", "推理", "大模型推理"),
    ("A/B", "A B", "A.B", "A_B", "A:B"),
    ("Café", "Cafe", "CAFÉ"),
    ("", " ", ".", "..", "/", "\\", "\x00"),
    ("x" * 200, "x" * 200 + "y", "x" * 61),
])
def test_names_that_used_to_collide_get_distinct_safe_slugs(names):
    slugs = [topic_slug(n) for n in names]
    assert len(set(slugs)) == len(names), dict(zip(names, slugs))
    for slug in slugs:
        assert SLUG_SHAPE.fullmatch(slug) and len(slug) <= 70


def test_symbols_are_spelled_out_and_the_slug_is_stable_across_processes():
    assert topic_slug("C++").startswith("c-plus-plus-") and topic_slug("C#").startswith("c-sharp-")
    # A fixed value: the hash is of the exact name, not Python's per-process hash().
    assert topic_slug("C++") == "c-plus-plus-f1deb75f"


def test_reserved_windows_names_are_not_bare_folder_names():
    assert topic_slug("CON") != "con" and topic_slug("nul") != "nul"


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_any_two_names_get_safe_slugs_that_differ_unless_only_case_or_separators_differ(a, b):
    for name in (a, b):
        slug = topic_slug(name)
        assert SLUG_SHAPE.fullmatch(slug) and slug not in (".", "..") and len(slug) <= 70
        assert topic_slug(name) == slug
    plain = re.compile(r"[A-Za-z0-9 \-]+")
    same_words = bool(plain.fullmatch(a) and plain.fullmatch(b)) and re.split(r"[ \-]+", a.strip(" -").lower()) == re.split(r"[ \-]+", b.strip(" -").lower())
    if a != b and not same_words:
        assert topic_slug(a) != topic_slug(b)


# --- stale page cleanup: only our own pages ---------------------------------------------------

def marked(path: Path, slug: str, body: str = "# old page\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{archive_marker(slug)}\n{body}", encoding="utf-8")
    return path


def test_cleanup_deletes_only_marked_month_pages_of_configured_topics(tmp_path):
    archive = tmp_path / "archive"
    ours = marked(archive / "testing" / "2024-01.md", "testing")
    kept_page = marked(archive / "testing" / "2024-02.md", "testing")
    undated = marked(archive / "testing" / "undated.md", "testing")
    hand_written = archive / "testing" / "2024-03.md"
    hand_written.write_text("# My notes for March\n")
    wrong_marker = marked(archive / "testing" / "2024-04.md", "other-topic")
    notes = archive / "meetings" / "notes.md"
    notes.parent.mkdir()
    notes.write_text("# Lab meeting\n")
    unconfigured = marked(archive / "retired" / "2024-01.md", "retired")
    not_a_month = marked(archive / "testing" / "summary.md", "testing")

    stale = stale_archive_pages(archive, ["Testing"], {kept_page}, tmp_path)
    assert stale == [ours, undated]
    for survivor in (kept_page, hand_written, wrong_marker, notes, unconfigured, not_a_month):
        assert survivor in set(archive.rglob("*.md")) and survivor not in stale


def test_cleanup_follows_no_link_and_leaves_the_repository_alone(tmp_path):
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    archive = repo / "archive"
    victim = marked(outside / "2024-01.md", "linked")
    outside_page = marked(outside / "pages" / "2024-02.md", "testing")
    (archive / "testing").mkdir(parents=True)
    (archive / "linked").symlink_to(outside)  # a topic folder that is a link out of the repository
    (archive / "testing" / "2024-02.md").symlink_to(outside_page)  # a page that is a link
    inside_target = marked(repo / "elsewhere" / "2024-03.md", "testing")
    (archive / "testing" / "2024-03.md").symlink_to(inside_target)
    assert stale_archive_pages(archive, ["Testing", "Linked"], set(), repo) == []

    # The archive folder itself a link out of the repository: nothing is even looked at.
    linked_root = repo / "linked-archive"
    linked_root.symlink_to(outside)
    assert stale_archive_pages(linked_root, ["Linked"], set(), repo) == []
    assert stale_archive_pages(linked_root.resolve(), ["Linked"], set(), repo) == []  # given resolved, as settings.path does
    assert victim.exists() and outside_page.exists() and inside_target.exists()


def test_cleanup_recognises_pages_written_before_the_marker(tmp_path):
    legacy = tmp_path / "archive" / "testing" / "2024-01.md"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("# Testing: 2024-01\n\n_Papers of 2024-01 that no longer fit in the README table (updated 2026-04-13)._\n\n| Title |\n")
    lookalike = legacy.with_name("2024-02.md")
    lookalike.write_text("# Testing: 2024-02\n\n_Papers of 2024-01 that no longer fit in the README table (updated 2026-04-13)._\n")
    assert stale_archive_pages(tmp_path / "archive", ["Testing"], set(), tmp_path) == [legacy]


def day_pages(papers: list[str]) -> dict[int, bytes]:
    """Feed pages of 10, newest first, as arXiv serves a query sorted by last update."""
    pages = {start: feed(papers[start:start + 10], total=len(papers), start=start) for start in range(0, len(papers), 10)}
    return {start: body.replace(b"itemsPerPage>100<", b"itemsPerPage>10<") for start, body in pages.items()}


def paper_entry(i: int, month: int) -> str:
    return entry(f"2501.{i:05d}", title=f"Testing paper {i}", abstract=f"Abstract {i} about testing.",
                 updated=f"2025-{month:02d}-1{i % 10}T10:00:00Z", authors=(f"Author {i}",))


def archive_snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.md"))}


def rows(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if line.startswith("| **[")]


def test_a_days_run_rewrites_no_archive_page_whose_rows_did_not_change(arxiv_server, write_config, tmp_path):
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 5\n")
    old = [paper_entry(i, month=12 - i) for i in range(10)]  # one paper a month, Dec back to Mar
    arxiv_server.add_pages(TESTING, day_pages(old))
    run("run", "--config", str(config), "--date", "2026-04-13")
    before = archive_snapshot(tmp_path / "archive")
    assert len(before) == 5

    new = [entry(f"2604.{i:05d}", title=f"New testing paper {i}", updated=f"2026-04-1{i}T10:00:00Z") for i in range(3)]
    arxiv_server.add_pages(TESTING, day_pages(new[::-1] + old))
    summary = run("run", "--config", str(config), "--date", "2026-04-14")
    assert summary["totals"]["new"] == 3
    after = archive_snapshot(tmp_path / "archive")
    written = {Path(p).relative_to(tmp_path / "archive").as_posix() for p in summary["outputs"] if "archive" in Path(p).parts}
    moved_down = {f"testing/2025-{m:02d}.md" for m in (10, 9, 8)}  # the three README rows pushed out
    assert written == moved_down and set(after) == set(before) | moved_down
    for page, text in before.items():
        assert rows(after[page]) == rows(text) and after[page] == text  # unchanged rows: same bytes, not rewritten
    assert b"2026-04-14" not in b"".join(after.values())  # no run date in any page


def test_raising_the_cap_removes_only_our_pages_in_a_real_run(arxiv_server, write_config, tmp_path):
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 5\n")
    arxiv_server.add_pages(TESTING, day_pages([paper_entry(i, month=12 - i) for i in range(10)]))
    run("run", "--config", str(config), "--date", "2026-04-13")
    archive = tmp_path / "archive"
    ours = sorted((archive / "testing").glob("*.md"))
    assert len(ours) == 5 and all(p.read_text().startswith(archive_marker("testing") + "\n") for p in ours)
    user_files = {
        archive / "meetings" / "notes.md": "# Lab meeting\n",
        archive / "testing" / "2019-01.md": "# hand-written, named like a month\n",
        archive / "testing" / "reading-list.md": "# Papers to read\n",
    }
    for path, text in user_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config.write_text(config.read_text().replace("readme_rows: 5", "readme_rows: 50"))
    result = CliRunner().invoke(cli, ["render", "--config", str(config), "--date", "2026-04-13"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in ours)
    assert all(path.read_text() == text for path, text in user_files.items())
    assert "Older papers" not in (tmp_path / "README.md").read_text()


def test_archive_dir_docs_keeps_the_users_docs(arxiv_server, write_config, tmp_path):
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 50\n  archive_dir: docs\n")
    docs = {tmp_path / "docs" / "index.md": "# Docs\n", tmp_path / "docs" / "testing" / "2025-01.md": "# My testing notes\n",
            tmp_path / "docs" / "guide" / "2025-02.md": "# Guide\n"}
    for path, text in docs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    arxiv_server.add_pages(TESTING, day_pages([paper_entry(i, month=12 - i) for i in range(10)]))
    run("run", "--config", str(config), "--date", "2026-04-13")
    assert all(path.read_text() == text for path, text in docs.items())
