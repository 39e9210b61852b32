"""`tracker publish` / `tracker schedule` end to end: files a run wrote -> loopback GitHub."""
from __future__ import annotations

import html.parser
import json
import os
import time
import logging
import re
from pathlib import Path

import cmarkgfm
import pytest
from click.testing import CliRunner

from tests.fake_github import TOKEN, blob_sha
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tracker.cli.main import cli
from tracker.models import Paper
from tracker.publish.tasks import task_items
from tracker.store.ledger import Ledger

DATE = "2026-11-20"
DIGEST = f"digests/2026/11/{DATE}.md"


def paper(pid: str, title: str, **kw) -> Paper:
    return Paper(pid, kw.pop("version", 1), title, kw.pop("abstract", "An abstract."), abs_url=f"https://arxiv.org/abs/{pid}", topics=("LLM",), **kw)


def write_ledger(folder: Path, papers: list[Paper]) -> None:
    for path, content in Ledger({p.id: p for p in papers}).files(folder / "data").items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A repository checkout as `tracker run` leaves it: config, ledger, digest, last_run.json."""
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\npublish:\n  empty_day: skip\n")
    write_ledger(tmp_path, [
        paper("2611.00001", "New one", first_seen=DATE),
        paper("2611.00002", "New two", first_seen=DATE),
        paper("2610.00003", "Revised", version=2, first_seen="2026-10-01", revised_on=DATE),
        paper("2610.00004", "Old", first_seen="2026-10-01"),
    ])
    digest = tmp_path / DIGEST
    digest.parent.mkdir(parents=True)
    digest.write_text(
        f"# arXiv digest: {DATE}\n\n**2** new papers, **1** revised.\n\n"
        "- **[New one](https://arxiv.org/abs/2611.00001)** · `2611.00001v1`\n"
        "- **[New two](https://arxiv.org/abs/2611.00002)** · `2611.00002v1`\n"
        "- **[Revised](https://arxiv.org/abs/2610.00003)** · `2610.00003v2`\n"
    )
    return tmp_path


def write_summary(folder: Path, errors: dict[str, str] | None = None, date: str = DATE, where: str = ".tracker") -> None:
    errors = errors or {}
    summary = {
        "date": date,
        "topics": [{"name": "LLM", "fetched": 3, "new": 2, "revised": 1, "error": errors.get("LLM")}],
        "totals": {"fetched": 3, "new": 2, "revised": 1, "failed_topics": len(errors)},
        "outputs": [str(folder / DIGEST)],  # what THIS run changed: not all the tracker's files
    }
    (folder / where).mkdir(parents=True, exist_ok=True)
    (folder / where / "last_run.json").write_text(json.dumps(summary))


def github_env(fake) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers", "TRACKER_GITHUB_WRITE_DELAY": "0"}


def invoke(workdir: Path, fake, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, [*args, "--config", str(workdir / "keywords.yaml")], env={**github_env(fake), **(env or {})}, catch_exceptions=False)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    import tracker.pipeline

    monkeypatch.setattr(tracker.pipeline, "today_utc", lambda: DATE)
    for name in ("GITHUB_ACTIONS", "GITHUB_SERVER_URL", "GITHUB_REF_NAME", "TRACKER_RUN_URL"):
        monkeypatch.delenv(name, raising=False)


def health_issues(fake):
    return [i for i in fake.issues.values() if "tracker-health" in i["labels"]]


# --------------------------------------------------------------------------- the day's issue


def test_publish_opens_the_days_issue_with_every_paper_as_a_task(workdir, fake):
    write_summary(workdir)
    result = invoke(workdir, fake, "publish")

    assert result.exit_code == 0, result.output
    [issue] = fake.issues.values()
    assert issue["title"] == "arXiv digest 2026-11-20: 2 new papers"
    assert [i.paper for i in task_items(issue["body"])] == ["2611.00001", "2611.00002", "2610.00003"]
    assert "digest issue #1 created" in result.output
    assert invoke(workdir, fake, "publish").output.startswith("digest issue #1 unchanged")


def test_partial_run_names_the_failed_topic_in_the_issue_and_health_closes_after_a_clean_run(workdir, fake):
    write_summary(workdir, {"LLM": "arXiv API HTTP 503 from http://bob:s3cr3t-pw@export.arxiv.org/api/query"})
    result = invoke(workdir, fake, "publish")
    [health] = health_issues(fake)
    [digest] = [i for i in fake.issues.values() if "digest" in i["labels"]]
    for body in (health["body"], digest["body"]):
        assert "LLM" in body and "arXiv API HTTP 503" in body and "s3cr3t-pw" not in body
    assert f"health issue #{health['number']} opened" in result.output

    write_summary(workdir)
    assert "closed" in invoke(workdir, fake, "publish").output
    assert health["state"] == "closed"


def test_missing_run_summary_counts_as_a_failed_run(workdir, fake):
    write_summary(workdir, date="2026-11-19")  # yesterday's, written a day ago: today's run died before writing one
    day_ago = time.time() - 86_000
    os.utime(workdir / ".tracker" / "last_run.json", (day_ago, day_ago))
    invoke(workdir, fake, "publish")
    [health] = health_issues(fake)
    assert "recorded no summary" in health["body"]


def test_damaged_run_summary_is_a_missing_one_not_a_crash(workdir, fake):
    (workdir / ".tracker").mkdir()
    (workdir / ".tracker" / "last_run.json").write_text('{"date": "2026-11-20", "topics": [')
    result = invoke(workdir, fake, "publish")
    assert result.exit_code == 0, result.output
    assert "recorded no summary" in health_issues(fake)[0]["body"]


def test_the_workflow_outcome_and_other_failed_steps_reach_the_health_issue(workdir, fake):
    write_summary(workdir)  # the run itself looked clean
    result = invoke(workdir, fake, "publish", "--run-outcome", "failure", "--problem", "git push failed: rebase conflict in README.md")
    assert result.exit_code == 0, result.output
    [health] = health_issues(fake)
    assert "ended with 'failure'" in health["body"] and "rebase conflict in README.md" in health["body"]


# --------------------------------------------------------------------------- --commit


def test_commit_mode_sends_what_github_lacks_even_on_an_idempotent_rerun(workdir, fake):
    write_summary(workdir)
    (workdir / "README.md").write_text("# Papers\n")
    (workdir / "data" / "feedback.jsonl").write_text("")
    shards = {p.relative_to(workdir).as_posix() for p in (workdir / "data" / "papers").glob("*.jsonl")}
    expected = {DIGEST, "README.md", "data/feedback.jsonl", *shards}

    result = invoke(workdir, fake, "publish", "--commit")

    assert result.exit_code == 0, result.output
    assert set(fake.files) == expected
    assert f"https://github.test/acme/papers/blob/main/{DIGEST}" in fake.issues[1]["body"]

    fake.files.clear()  # the same files again (nothing changed locally), to a repository that lacks them
    again = invoke(workdir, fake, "publish", "--commit")
    assert f"committed {len(expected)} files" in again.output and set(fake.files) == expected
    assert "committed 0 files" in invoke(workdir, fake, "publish", "--commit").output


def test_the_digest_is_linked_only_when_github_holds_it(workdir, fake):
    write_summary(workdir)
    invoke(workdir, fake, "publish", env={"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main"})
    assert "blob/main" not in fake.issues[1]["body"]  # the push never landed: no dead link

    fake.files[DIGEST] = (workdir / DIGEST).read_bytes()
    invoke(workdir, fake, "publish", env={"GITHUB_REF_NAME": "main"})
    assert f"[{DATE}.md](https://github.test/acme/papers/blob/main/{DIGEST})" in fake.issues[1]["body"]
    assert blob_sha(fake.files[DIGEST]) == blob_sha((workdir / DIGEST).read_bytes())


# --------------------------------------------------------------------------- --dry-run


def test_dry_run_prints_the_issue_the_dry_run_found_with_no_false_health(workdir, fake):
    dry = workdir / ".tracker" / "dry-run" / DATE
    dry.mkdir(parents=True)
    (dry / "digest.md").write_text(f"# arXiv digest: {DATE}\n\n**5** new papers, **0** revised.\n\n"
                                   "- **[Seen by the dry run](https://arxiv.org/abs/2611.00009)** · `2611.00009v1`\n")
    summary = {"date": DATE, "topics": [{"name": "LLM", "error": None}], "totals": {"new": 5, "revised": 0}}
    (dry / "last_run.json").write_text(json.dumps(summary))

    result = CliRunner().invoke(cli, ["publish", "--dry-run", "--repo", "acme/papers", "--config", str(workdir / "keywords.yaml")], env={"GITHUB_TOKEN": ""})

    assert result.exit_code == 0, result.output
    assert "'arXiv digest 2026-11-20: 5 new papers'" in result.output
    assert "- [ ] **[Seen by the dry run](https://arxiv.org/abs/2611.00009)**" in result.output
    assert "<!-- paper-tracker:digest date=2026-11-20 -->" in result.output  # the full body, as it would be sent
    assert "health: the run was clean" in result.output
    assert fake.requests == []


def test_dry_run_without_a_dry_run_uses_the_real_digest_and_claims_no_problem(workdir, fake):
    result = CliRunner().invoke(cli, ["publish", "--dry-run", "--config", str(workdir / "keywords.yaml")], env={"GITHUB_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert "- [ ] **[New one](https://arxiv.org/abs/2611.00001)**" in result.output
    assert "no run summary for 2026-11-20 yet" in result.output and "would open/update" not in result.output


def test_dry_run_previews_the_weeks_review_too(workdir, fake):
    write_summary(workdir)
    (workdir / "digests" / "2026" / "week-47.md").write_text("# Weekly review 2026-W47\n\n- reward models rising\n")
    result = CliRunner().invoke(cli, ["publish", "--dry-run", "--config", str(workdir / "keywords.yaml")], env={"GITHUB_TOKEN": ""})
    assert "weekly: would publish [weekly]: 'Weekly review 2026-W47'" in result.output
    assert "<!-- paper-tracker:weekly week=2026-W47 -->\n- reward models rising" in result.output
    assert fake.requests == []


# --------------------------------------------------------------------------- weekly review


def test_the_weeks_review_page_is_published_as_a_weekly_issue(workdir, fake):
    write_summary(workdir)
    page = workdir / "digests" / "2026" / "week-47.md"  # 2026-11-20 is in ISO week 47
    page.write_text("# Weekly review 2026-W47\n\n## Rising themes\n\n- reward models\n")
    result = invoke(workdir, fake, "publish")
    [weekly] = [i for i in fake.issues.values() if "weekly" in i["labels"]]
    assert weekly["title"] == "Weekly review 2026-W47" and "reward models" in weekly["body"]
    assert f"weekly review issue #{weekly['number']} created" in result.output

    page.write_text("# Something else\n")
    assert "weekly" not in invoke(workdir, fake, "publish").output


# --------------------------------------------------------------------------- what strangers could be sent


class _Text(html.parser.HTMLParser):
    """Text nodes GitHub would scan for mentions and references (not inside code or links)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("code", "pre", "a")

    def handle_endtag(self, tag):
        self.skip -= tag in ("code", "pre", "a")

    def handle_data(self, data):
        if not self.skip:
            self.nodes.append(data)


LIVE = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w-]*|(?<![\w&])#\d+|\bGH-\d+|\b[\w.-]+/[\w.-]+#\d+", re.IGNORECASE)


def live_references(markdown: str) -> list[str]:
    rendered = cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    parser = _Text()
    parser.feed(rendered)
    return [m.group(0) for node in parser.nodes for m in LIVE.finditer(node)]


HOSTILE = [
    paper("2611.00011", "Beating @octocat and @acme/reviewers at #12", first_seen=DATE,
          abstract="We fix GH-7 and torvalds/linux#1 (see #345); thanks @someone.", authors=("@evil", "Jane #5 Doe"),
          comment="cc @maintainer, closes acme/papers#9"),
    paper("2611.00012", "A [title](https://arxiv.org/abs/2401.99999) with @mention", first_seen=DATE, authors=("Ann @ Lab",)),
]


def test_nothing_sent_to_github_carries_a_live_mention_or_reference(workdir, fake):
    assert live_references("hello @octocat and #12") == ["@octocat", "#12"]  # the checker itself sees them
    write_ledger(workdir, HOSTILE)
    rendered = CliRunner().invoke(cli, ["render", "--date", DATE, "--no-embed", "--config", str(workdir / "keywords.yaml")])
    assert rendered.exit_code == 0, rendered.output
    write_summary(workdir, {"LLM": "arXiv says: query @octocat #44 failed (GH-3) at http://u:pw@export.arxiv.org"})

    result = invoke(workdir, fake, "publish", env={"TRACKER_RUN_URL": "https://github.test/acme/papers/actions/runs/1"})

    assert result.exit_code == 0, result.output
    assert len(fake.sent) >= 3  # digest title + body, health title + body
    assert "octocat" in "".join(fake.sent) and "GH" in "".join(fake.sent)  # shown to readers, but inert
    for text in fake.sent:
        assert live_references(text) == [], text
        assert "pw@" not in text
    tasks = [i.paper for i in task_items(next(i["body"] for i in fake.issues.values() if "digest" in i["labels"]))]
    assert {"2611.00011", "2611.00012"} <= set(tasks) and "2401.99999" not in tasks  # the title's fake link did not win


# --------------------------------------------------------------------------- errors


def test_errors_are_one_line_and_never_show_the_token(workdir, fake, caplog):
    caplog.set_level(logging.DEBUG)
    write_summary(workdir)
    fake.echo_auth, fake.token = True, "a-different-token"
    result = CliRunner().invoke(cli, ["-vv", "publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "401" in result.output
    assert TOKEN not in result.output and TOKEN not in caplog.text


def test_old_day_without_digest_file_is_a_clear_error(workdir, fake):
    write_summary(workdir)
    (workdir / DIGEST).unlink()
    result = invoke(workdir, fake, "publish")
    assert result.exit_code == 1 and "run `tracker run --date 2026-11-20`" in result.output


def test_bad_date_is_a_usage_error(workdir, fake):
    result = CliRunner().invoke(cli, ["publish", "--date", "2026-13-01", "--config", str(workdir / "keywords.yaml")])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


# --------------------------------------------------------------------------- schedule


def test_schedule_print_next_uses_crontab_weekdays(workdir):
    result = CliRunner().invoke(cli, ["schedule", "--cron", "0 9 * * 1", "--timezone", "Europe/Berlin", "--print-next", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(line.endswith(("Mon CET", "Mon CEST")) for line in lines)


def test_schedule_rejects_bad_cron_in_one_line():
    result = CliRunner().invoke(cli, ["schedule", "--cron", "0 9 * * 9", "--timezone", "UTC", "--print-next", "1"])
    assert result.exit_code == 1 and "day-of-week" in result.output


def test_a_failed_digest_publish_still_reports_health_then_fails(workdir, fake):
    from tests.fake_github import Fault

    write_summary(workdir)
    fake.faults.append(Fault("POST", r"/issues$", 403, {}, {"message": "Resource not accessible by integration"}))
    result = CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake))
    assert result.exit_code == 1 and "publishing the digest issue" in result.output and "403" in result.output
    [health] = health_issues(fake)
    assert "| run | publishing the digest issue: GitHub refused access (403 " in health["body"]


def test_dry_run_where_every_topic_failed_names_the_failure_not_a_quiet_day(workdir, fake):
    write_summary(workdir)  # yesterday's real state says all is well; the dry run says otherwise
    dry = workdir / ".tracker" / "dry-run" / DATE
    dry.mkdir(parents=True)
    summary = {"date": DATE, "topics": [{"name": "LLM", "error": "cannot resolve export.arxiv.org: are you offline?"}],
               "totals": {"new": 0, "revised": 0}, "error": "every topic failed"}
    (dry / "last_run.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(cli, ["publish", "--dry-run", "--config", str(workdir / "keywords.yaml")], env={"GITHUB_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert "nothing new (from the dry run" in result.output
    assert "health: would open/update a [tracker-health] issue" in result.output and "are you offline?" in result.output
