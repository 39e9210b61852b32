"""`tracker publish` / `tracker schedule` end to end: files a run wrote -> loopback GitHub."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_github import TOKEN
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tracker.cli.main import cli
from tracker.store.ledger import Ledger
from tracker.models import Paper

DATE = "2026-11-20"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A repository checkout as `tracker run` leaves it: config, ledger, digest, last_run.json."""
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\npublish:\n  empty_day: skip\n")
    papers = {
        "2611.00001": Paper("2611.00001", 1, "New one", "a", first_seen=DATE, topics=("LLM",)),
        "2611.00002": Paper("2611.00002", 1, "New two", "b", first_seen=DATE, topics=("LLM",)),
        "2610.00003": Paper("2610.00003", 2, "Revised", "c", first_seen="2026-10-01", revised_on=DATE, topics=("LLM",)),
        "2610.00004": Paper("2610.00004", 1, "Old", "d", first_seen="2026-10-01", topics=("LLM",)),
    }
    for path, text in Ledger(papers).files(tmp_path / "data").items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    digest = tmp_path / "digests" / "2026" / "11" / f"{DATE}.md"
    digest.parent.mkdir(parents=True)
    digest.write_text(f"# arXiv digest {DATE}\n\n| Paper | Title |\n|---|---|\n| 2611.00001 | New one |\n")
    return tmp_path


def write_summary(workdir: Path, errors: dict[str, str] | None = None, date: str = DATE) -> None:
    errors = errors or {}
    summary = {
        "date": date,
        "topics": [{"name": "LLM", "fetched": 3, "new": 2, "revised": 1, "error": errors.get("LLM")}],
        "totals": {"fetched": 3, "new": 2, "revised": 1, "failed_topics": len(errors)},
        "outputs": [str(workdir / "digests" / "2026" / "11" / f"{DATE}.md"), *map(str, (workdir / "data").rglob("*.jsonl"))],
    }
    (workdir / ".tracker").mkdir(exist_ok=True)
    (workdir / ".tracker" / "last_run.json").write_text(json.dumps(summary))


def invoke(workdir: Path, fake, *args: str):
    return CliRunner().invoke(cli, [*args, "--config", str(workdir / "keywords.yaml")], env=github_env(fake), catch_exceptions=False)


def github_env(fake) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers", "TRACKER_GITHUB_WRITE_DELAY": "0"}


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    import tracker.pipeline

    monkeypatch.setattr(tracker.pipeline, "today_utc", lambda: DATE)
    for name in ("GITHUB_ACTIONS", "GITHUB_SERVER_URL", "GITHUB_REF_NAME", "TRACKER_RUN_URL"):
        monkeypatch.delenv(name, raising=False)


def test_publish_opens_the_days_issue_counting_from_the_ledger(workdir, fake):
    write_summary(workdir)
    result = invoke(workdir, fake, "publish")

    assert result.exit_code == 0, result.output
    [issue] = fake.issues.values()
    assert issue["title"] == "arXiv digest 2026-11-20: 2 new papers"
    assert "**2** new and **1** revised papers" in issue["body"] and "| 2611.00001 | New one |" in issue["body"]
    assert "digest issue #1 created" in result.output
    assert invoke(workdir, fake, "publish").output.startswith("digest issue #1 unchanged")


def test_publish_reports_a_partial_run_then_closes_health_after_a_clean_one(workdir, fake):
    write_summary(workdir, {"LLM": "arXiv API HTTP 503"})
    result = invoke(workdir, fake, "publish")
    [health] = [i for i in fake.issues.values() if "tracker-health" in i["labels"]]
    assert "| LLM | arXiv API HTTP 503 |" in health["body"]
    assert f"health issue #{health['number']} opened" in result.output

    write_summary(workdir)
    assert "closed" in invoke(workdir, fake, "publish").output
    assert health["state"] == "closed"


def test_missing_run_summary_counts_as_a_failed_run(workdir, fake):
    write_summary(workdir, date="2026-11-19")  # yesterday's: today's run died before writing one
    invoke(workdir, fake, "publish")
    [health] = [i for i in fake.issues.values() if "tracker-health" in i["labels"]]
    assert "recorded no summary" in health["body"]


def test_commit_mode_writes_the_runs_files_then_links_them(workdir, fake):
    write_summary(workdir)
    result = invoke(workdir, fake, "publish", "--commit")

    assert result.exit_code == 0, result.output
    shards = {p.relative_to(workdir).as_posix() for p in (workdir / "data").rglob("*.jsonl")}
    assert shards and set(fake.files) == {"digests/2026/11/2026-11-20.md", *shards}
    assert "blob/HEAD/digests/2026/11/2026-11-20.md" in fake.issues[1]["body"]
    assert "committed 0 changed" in invoke(workdir, fake, "publish", "--commit").output


def test_dry_run_needs_no_token_and_prints_the_issue(workdir, fake):
    write_summary(workdir)
    result = CliRunner().invoke(cli, ["publish", "--dry-run", "--repo", "acme/papers", "--config", str(workdir / "keywords.yaml")], env={"GITHUB_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert "'arXiv digest 2026-11-20: 2 new papers'" in result.output and "| 2611.00001 | New one |" in result.output
    assert fake.requests == []


def test_errors_are_one_line_and_never_show_the_token(workdir, fake, caplog):
    caplog.set_level(logging.DEBUG)
    write_summary(workdir)
    fake.echo_auth, fake.token = True, "a-different-token"
    result = CliRunner().invoke(
        cli, ["-vv", "publish", "--config", str(workdir / "keywords.yaml")],
        env=github_env(fake),
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "401" in result.output
    assert TOKEN not in result.output and TOKEN not in caplog.text


def test_old_day_without_digest_file_is_a_clear_error(workdir, fake):
    write_summary(workdir)
    (workdir / "digests" / "2026" / "11" / f"{DATE}.md").unlink()
    result = invoke(workdir, fake, "publish")
    assert result.exit_code == 1 and "run `tracker run --date 2026-11-20`" in result.output


def test_schedule_print_next_uses_crontab_weekdays(workdir):
    result = CliRunner().invoke(cli, ["schedule", "--cron", "0 9 * * 1", "--timezone", "Europe/Berlin", "--print-next", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(line.endswith(("Mon CET", "Mon CEST")) for line in lines)


def test_schedule_rejects_bad_cron_in_one_line():
    result = CliRunner().invoke(cli, ["schedule", "--cron", "0 9 * * 9", "--timezone", "UTC", "--print-next", "1"])
    assert result.exit_code == 1 and "day-of-week" in result.output
