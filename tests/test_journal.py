"""tracker.store.journal: many files replaced as one unit; a journal on disk is trusted only after checks."""
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tracker.errors import TrackerError
from tracker.store.journal import WriteError, commit, pending, recover, write_atomic

JOURNAL = "data/.commit.json"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "data" / "papers").mkdir(parents=True)
    (root / "data" / "papers" / "2024-11.jsonl").write_text("old ledger\n")
    (root / "README.md").write_text("old readme\n")
    (root / "archive" / "t").mkdir(parents=True)
    (root / "archive" / "t" / "2024-01.md").write_text("<!-- paper-tracker:archive topic=t -->\nold page\n")  # as we write them
    return root


def pending_journal(root: Path, plan: dict, stages: dict[str, str]) -> Path:
    """What a run killed right after writing its journal leaves behind."""
    for rel, text in stages.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_name(f".{target.name}.staged").write_text(text)
    journal = root / JOURNAL
    journal.write_text(json.dumps(plan) if not isinstance(plan, str) else plan)
    return journal


def good_plan(**changes):
    return {"format": 2, "journal": JOURNAL, "replace": ["README.md", "data/papers/2024-11.jsonl"], "delete": ["archive/t/2024-01.md"], **changes}


def test_commit_replaces_and_deletes_together_and_reports_only_changes(project):
    files = {project / "README.md": "new readme\n", project / "data/papers/2024-11.jsonl": "old ledger\n",
             project / "archive/t/2024-01.md": None, project / "digests/2026/x.md": "digest\n"}
    changed = commit(files, project / JOURNAL)
    assert changed == sorted([project / "README.md", project / "archive/t/2024-01.md", project / "digests/2026/x.md"])
    assert tree(project) == {"README.md": b"new readme\n", "data/papers/2024-11.jsonl": b"old ledger\n", "digests/2026/x.md": b"digest\n"}
    assert commit(files, project / JOURNAL) == []


def test_a_pending_journal_is_rolled_forward_with_paths_relative_to_its_own_location(project):
    pending_journal(project, good_plan(), {"README.md": "new readme\n", "data/papers/2024-11.jsonl": "new ledger\n"})
    copy = project.parent / "copy"
    shutil.copytree(project, copy)
    original = tree(project)
    recover(copy / JOURNAL)
    assert tree(copy) == {"README.md": b"new readme\n", "data/papers/2024-11.jsonl": b"new ledger\n"}
    assert tree(project) == original  # the folder it was copied from is untouched


def test_a_read_only_view_of_a_pending_journal_changes_nothing(project):
    pending_journal(project, good_plan(), {"README.md": "new readme\n", "data/papers/2024-11.jsonl": "new ledger\n"})
    before = tree(project)
    view = pending(project / JOURNAL)
    assert view[project.resolve() / "README.md"].read_text() == "new readme\n"
    assert view[project.resolve() / "archive/t/2024-01.md"] is None
    assert tree(project) == before


@pytest.mark.parametrize("plan, problem, placeable", [
    ("[]", "not a journal this version wrote", False),
    ('[{"target": "/etc/passwd", "stage": "/tmp/x"}]', "not a journal this version wrote", False),  # the old format
    ("{oops", "unreadable", False),
    ("\xff\xfe", "unreadable", False),
    ('{"format": 2, "journal": "data/.commit.json", "replace": "README.md", "delete": []}', "`replace` is not a list", False),
    ('{"format": 2, "journal": "data/.commit.json", "replace": [1, "README.md"], "delete": []}', "is not a relative path", True),
    ('{"format": 3, "journal": "data/.commit.json", "replace": ["README.md"], "delete": []}', "not a journal this version wrote", True),
    (good_plan(journal="elsewhere/.commit.json"), "records its own location", False),
    (good_plan(journal="/abs/data/.commit.json"), "absolute or leaves", False),
    (good_plan(replace=["README.md", "../outside.md"]), "absolute or leaves", True),
    (good_plan(replace=["README.md", "data/./x"]), "absolute or leaves", True),
    (good_plan(replace=["README.md", "OUTSIDE_ABS"]), "absolute or leaves", True),
    (good_plan(replace=["README.md", "link/evil.md"]), "resolves outside the project folder", True),
    (good_plan(delete=["data/papers/2024-11.jsonl"]), "would delete", True),
    (good_plan(delete=["keywords.yaml"]), "would delete", True),
])
def test_a_journal_that_fails_a_check_is_discarded_and_nothing_applied(project, caplog, plan, problem, placeable):
    outside = project.parent / "outside.md"
    outside.write_text("not ours\n")
    (project / "link").symlink_to(project.parent)
    if isinstance(plan, dict):
        plan = json.loads(json.dumps(plan).replace("OUTSIDE_ABS", str(outside)))
    pending_journal(project, plan, {"README.md": "new readme\n", "data/papers/2024-11.jsonl": "new ledger\n"})
    (project / "link" / ".evil.md.staged").write_text("evil\n")
    with caplog.at_level(logging.WARNING):
        recover(project / JOURNAL)
    assert "discarding commit journal" in caplog.text and problem in caplog.text
    assert (project / "README.md").read_text() == "old readme\n" and (project / "data/papers/2024-11.jsonl").read_text() == "old ledger\n"
    assert (project / "archive/t/2024-01.md").exists() and outside.read_text() == "not ours\n"
    assert not (project / JOURNAL).exists()
    assert (project / ".README.md.staged").exists() is not placeable  # stages it can place safely are removed
    assert (project.parent / ".evil.md.staged").exists()  # and nothing outside the project, ever


def test_commit_refuses_targets_outside_the_root_and_deleting_shards(project):
    with pytest.raises(TrackerError, match="outside the project folder"):
        commit({project.parent / "x.md": "x"}, project / JOURNAL, root=project)
    with pytest.raises(TrackerError, match="would delete"):
        commit({project / "data/papers/2024-11.jsonl": None}, project / JOURNAL)
    assert tree(project)["data/papers/2024-11.jsonl"] == b"old ledger\n"
    assert not list(project.rglob("*.staged")) and not (project / JOURNAL).exists()


def test_a_write_error_names_the_file_removes_stages_and_changes_nothing(project):
    (project / "digests").mkdir()
    (project / "digests" / "locked").mkdir()
    os.chmod(project / "digests" / "locked", 0o500)
    if os.access(project / "digests" / "locked", os.W_OK):
        os.chmod(project / "digests" / "locked", 0o700)
        (project / "digests" / "locked").rmdir()
        (project / "digests" / "locked").write_text("a file where a folder must be")  # root ignores modes
    before = tree(project)
    files = {project / "README.md": "new\n", project / "data/papers/2024-11.jsonl": "new\n", project / "digests/locked/new/d.md": "d\n"}
    with pytest.raises(WriteError, match=r"while writing .*digests/locked/new/d.md: nothing was changed") as info:
        commit(files, project / JOURNAL)
    assert isinstance(info.value, TrackerError) and isinstance(info.value, OSError)
    os.chmod(project / "digests" / "locked", 0o700) if (project / "digests" / "locked").is_dir() else None
    assert tree(project) == before and not list(project.rglob(".*.staged")) and not (project / JOURNAL).exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only; skipped elsewhere), unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_disk_full_during_a_commit_leaves_the_old_state_and_no_stages(small_disk):
    root = small_disk / "project"
    old = {root / "README.md": "old\n", root / "data/papers/2024-11.jsonl": "x" * 1000 + "\n"}
    commit(old, root / JOURNAL)
    before = tree(root)
    big = {root / "README.md": "new\n", root / "data/papers/2024-11.jsonl": "y" * 100_000, root / "data/papers/2024-12.jsonl": "z" * 200_000}
    with pytest.raises(WriteError, match=r"^disk full while writing .*/data/papers/2024-1[12].jsonl: nothing was changed$"):
        commit(big, root / JOURNAL)
    assert tree(root) == before
    assert not [p for p in root.rglob("*") if p.name.endswith((".staged", ".tmp"))] and not (root / JOURNAL).exists()
    with pytest.raises(WriteError, match="^disk full while writing"):
        write_atomic(root / "big.bin", b"0" * 300_000)
    assert not (root / "big.bin").exists() and not list(root.glob(".big.bin.*"))


def test_disk_full_during_a_real_run_is_one_line_and_exit_1(small_disk, arxiv_server):
    from tests.arxiv_fake import entry, feed

    root = small_disk / "project"
    root.mkdir()
    query = '(ti:"testing" OR abs:"testing")'
    arxiv_server.add_pages(query, {0: feed([entry("2611.00001", title="Small testing paper")])})
    config = root / "keywords.yaml"
    config.write_text(f"arxiv:\n  api_url: {arxiv_server.api_url}\n  delay_seconds: 0\n  backoff_seconds: 0\n  retries: 0\n"
                      "embedding:\n  enabled: false\noutput:\n  state_dir: ../state\n"
                      "topics:\n  - name: Testing\n    keywords: [testing]\n")
    command = [sys.executable, "-m", "tracker", "run", "--config", str(config), "--date", "2026-11-20", "--no-embed"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    first = subprocess.run(command, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    big = [entry(f"2611.{i:05d}", title=f"Testing paper {i}", abstract="word " * 400) for i in range(2, 120)]
    arxiv_server.add_pages(query, {0: feed(big)})
    before = tree(root)
    second = subprocess.run([*command[:-2], "2026-11-21", "--no-embed"], env=env, capture_output=True, text=True)
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disk full while writing" in errors[0] and "nothing was changed" in errors[0], second.stderr
    assert "Traceback" not in second.stderr
    assert tree(root) == before and not [p for p in root.rglob("*") if p.name.endswith((".staged", ".tmp"))]
