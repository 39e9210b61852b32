"""`tracker demo FOLDER`: offline, lists what it wrote, and never touches a file it did not create."""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli.main import cli
from tracker.config import parse_settings
from tracker.demo import CLAIM_FILE, DEMO_CONFIG, SHOWN_FILES, check_folder, claimed_paths

DEMO_DATE = "2026-04-13"


def demo(folder: Path):
    return CliRunner().invoke(cli, ["demo", str(folder), "--no-embed", "--date", DEMO_DATE])


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "new" / "folder"
    result = demo(folder)
    return folder, result


def test_the_demo_fills_a_new_folder_and_lists_every_file(first_run):
    folder, result = first_run
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("wrote ")))
    total = int(re.match(r"wrote (\d+) files in ", lines[start]).group(1))
    block = list(itertools.takewhile(lambda line: line.startswith("  "), lines[start + 1:]))
    listed = [line.strip() for line in block if not line.startswith("  and ")]
    assert listed[:3] == ["keywords.yaml", "README.md", f"digests/{DEMO_DATE[:4]}/{DEMO_DATE[5:7]}/{DEMO_DATE}.md"]
    assert all((folder / name).is_file() for name in listed)
    assert total > SHOWN_FILES and len(listed) == SHOWN_FILES
    assert f"  and {total - SHOWN_FILES} more" in lines
    digest = folder / "digests" / DEMO_DATE[:4] / DEMO_DATE[5:7] / f"{DEMO_DATE}.md"
    assert f"today's digest: {digest.resolve()}" in lines
    written = [name for name in tree(folder) if not name.startswith(".tracker/") and name != CLAIM_FILE]
    assert len(written) == total  # the count is every file the run wrote, no more, no less


def test_everything_the_demo_writes_is_covered_by_its_claim(first_run):
    folder, _ = first_run
    check_folder(folder, claimed_paths(parse_settings(DEMO_CONFIG)))  # a rerun would be refused otherwise


def test_a_rerun_in_the_demo_folder_changes_nothing(first_run):
    folder, _ = first_run
    before = {k: v for k, v in tree(folder).items() if not k.startswith(".tracker/")}
    result = demo(folder)
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in tree(folder).items() if not k.startswith(".tracker/")} == before


@pytest.mark.parametrize("user_file", ["keywords.yaml", "README.md", "notes.txt", "data/papers/mine.jsonl"])
def test_a_folder_with_files_the_demo_did_not_create_is_refused_untouched(tmp_path, user_file):
    (tmp_path / user_file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / user_file).write_text("my own work\n")
    result = demo(tmp_path)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path} is not empty ({user_file}) and was not made by `tracker demo`; "
        f"give a new or empty folder, e.g. {tmp_path / 'tracker-demo'}"
    ]
    assert tree(tmp_path) == {user_file: b"my own work\n"}


def test_a_file_added_to_a_demo_folder_makes_the_demo_refuse_it(first_run, tmp_path):
    folder, _ = first_run
    note = folder / "notes.txt"
    note.write_text("mine")
    try:
        result = demo(folder)
        assert result.exit_code == 2
        assert "holds files the demo did not create (notes.txt)" in result.stderr
        assert note.read_text() == "mine"
    finally:
        note.unlink()


def test_a_symlink_in_a_demo_folder_is_never_followed_or_replaced(first_run, tmp_path):
    folder, _ = first_run
    outside = tmp_path / "outside.md"
    outside.write_text("precious")
    (folder / "README.md").rename(folder / "README.bak")
    (folder / "README.md").symlink_to(outside)
    try:
        result = demo(folder)
        assert result.exit_code == 2 and "README.md" in result.stderr
        assert outside.read_text() == "precious"
    finally:
        (folder / "README.md").unlink()
        (folder / "README.bak").rename(folder / "README.md")


def test_the_many_files_are_named_and_counted(tmp_path):
    for index in range(5):
        (tmp_path / f"f{index}.txt").write_text("x")
    result = demo(tmp_path)
    assert result.exit_code == 2 and "(f0.txt, f1.txt, f2.txt, and 2 more)" in result.stderr


def test_an_empty_existing_folder_is_used(tmp_path):
    result = demo(tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "README.md").is_file() and (tmp_path / CLAIM_FILE).is_file()


def test_the_demo_leaves_the_callers_environment_as_it_was(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_ARXIV_API_URL", raising=False)
    monkeypatch.setenv("TRACKER_ARXIV_RSS_URL", "http://127.0.0.1:9/rss")
    assert demo(tmp_path / "d").exit_code == 0
    assert "TRACKER_ARXIV_API_URL" not in os.environ
    assert os.environ["TRACKER_ARXIV_RSS_URL"] == "http://127.0.0.1:9/rss"


def test_a_file_as_the_folder_is_a_usage_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = demo(target)
    assert result.exit_code == 2 and target.read_text() == "x"
