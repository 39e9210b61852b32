"""tracker.publish.github against a stateful loopback fake of GitHub, driven by the real PyGithub client."""
from __future__ import annotations

import logging
import traceback

import pytest

from tests.fake_github import DISCONNECT, TOKEN, Fault, blob_sha
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tracker.publish import github as publish
from tracker.errors import TrackerError

DATE = "2026-11-20"
RATE_LIMITED = {"message": "API rate limit exceeded for installation ID 1."}


@pytest.fixture
def repo(fake):
    # per_page=2 so listing issues and comments exercises Link-header pagination
    return publish.connect(TOKEN, fake.base, "acme/papers", write_delay=0, per_page=2)


class FakeSleep:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def digest_md(rows: int, topics: int = 1) -> str:
    out = [f"# arXiv digest {DATE}", ""]
    for t in range(topics):
        out += [f"## Topic {t}", "", "| Paper | Title | Authors |", "|---|---|---|"]
        out += [f"| [2611.{t}{i:04d}](https://arxiv.org/abs/2611.{t}{i:04d}) | Title {t}-{i} on things | A. Author, B. Author |" for i in range(rows)]
        out.append("")
    return "\n".join(out)


def publish_day(repo, date=DATE, new=3, revised=1, md=None, **kw):
    return publish.publish_digest(
        repo, date=date, new_count=new, revised_count=revised,
        digest_markdown=digest_md(new) if md is None else md, **kw,
    )


def digest_issues(fake):
    return [i for i in fake.issues.values() if "digest" in i["labels"]]


def our_comments(fake, number):
    return [c for c in fake.comments_of(number) if "paper-tracker:digest-part" in c["body"]]


# --------------------------------------------------------------------------- the digest issue


def test_first_publish_opens_labelled_issue_with_marker(fake, repo):
    result = publish_day(repo, new=3, digest_url="https://github.test/acme/papers/blob/main/digests/2026/11/2026-11-20.md")

    assert result.action == "created" and result.parts == 1
    [issue] = digest_issues(fake)
    assert issue["title"] == "arXiv digest 2026-11-20: 3 new papers"
    assert issue["body"].startswith("<!-- paper-tracker:digest date=2026-11-20 -->")
    assert "| Title 0-2 on things |" in issue["body"]
    assert "[2026-11-20.md](https://github.test/acme/papers/blob/main/digests/2026/11/2026-11-20.md)" in issue["body"]
    assert fake.labels["digest"]["color"]  # label created because it was missing
    assert fake.unhandled == []


def test_same_day_twice_updates_the_issue_and_never_opens_a_second(fake, repo):
    publish_day(repo, new=3)
    second = publish_day(repo, new=4)

    assert second.action == "updated"
    [issue] = digest_issues(fake)
    assert issue["title"] == "arXiv digest 2026-11-20: 4 new papers"
    assert "Title 0-3" in issue["body"]

    writes_before = len(fake.writes())
    third = publish_day(repo, new=4)
    assert third.action == "unchanged"
    assert len(fake.writes()) == writes_before  # nothing rewritten when nothing changed


def test_issue_found_by_title_when_marker_was_edited_away(fake, repo):
    fake.add_issue("arXiv digest 2026-11-20: 2 new papers", "a human rewrote this", ["digest"])
    publish_day(repo)
    assert len(digest_issues(fake)) == 1


def test_long_digest_splits_into_comments_without_cutting_lines(fake, repo):
    md = digest_md(120, topics=2)
    result = publish_day(repo, new=240, md=md, limit=3000)

    [issue] = digest_issues(fake)
    parts = [issue["body"]] + [c["body"] for c in our_comments(fake, issue["number"])]
    assert result.parts == len(parts) > 3
    assert all(publish.body_size(p) <= 3000 for p in parts)
    assert f"(continued below: part 1/{len(parts)})" in parts[0]
    for n, part in enumerate(parts[1:], start=2):
        assert f"*(continued {n}/{len(parts)})*" in part
        rows = [line for line in part.splitlines() if line.startswith("|")]
        if rows:  # a chunk holding table rows opens with the table header, so it renders
            assert rows[:2] == ["| Paper | Title | Authors |", "|---|---|---|"]
    # every original line arrives whole and in order
    seen = [line for p in parts for line in p.splitlines() if line.startswith("| [2611.")]
    assert seen == [line for line in md.splitlines() if line.startswith("| [2611.")]


def test_shrinking_digest_deletes_surplus_comments_but_not_human_ones(fake, repo):
    publish_day(repo, new=240, md=digest_md(120, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    human = fake.add_comment(issue["number"], "nice paper in here!")

    result = publish_day(repo, new=5, md=digest_md(5), limit=3000)

    assert result.parts == 1
    assert our_comments(fake, issue["number"]) == []
    assert [c["id"] for c in fake.comments_of(issue["number"])] == [human["id"]]
    assert "(continued" not in fake.issues[issue["number"]]["body"]

    grown = publish_day(repo, new=240, md=digest_md(120, topics=2), limit=3000)
    assert len(our_comments(fake, issue["number"])) == grown.parts - 1


def test_split_repeats_table_header_and_keeps_header_with_separator():
    text = "intro\n\n| A | B |\n|---|---|\n" + "\n".join(f"| {i} | x |" for i in range(40))
    chunks = publish.split_markdown(text, 120)
    assert all(publish.body_size(c) <= 120 for c in chunks)
    for chunk in chunks[1:]:
        assert chunk.splitlines()[:2] == ["| A | B |", "|---|---|"]
    # a chunk boundary falling between header and separator moves the header along
    lines = ["p" * 50, "| H |", "|---|", "| 1 |"]
    chunks = publish.split_markdown("\n".join(lines), 58)
    assert chunks == ["p" * 50, "| H |\n|---|\n| 1 |"]


def test_publishing_a_day_closes_earlier_open_digests_only(fake, repo):
    later = publish_day(repo, date="2026-11-21")  # e.g. a re-run of an older day comes next
    yesterday = publish_day(repo, date="2026-11-19")
    other = fake.add_issue("Discuss the digest format", "no marker", ["digest"])

    result = publish_day(repo, date=DATE)

    assert result.closed == (yesterday.number,)
    assert fake.issues[yesterday.number]["state"] == "closed"
    assert fake.issues[later.number]["state"] == "open"  # a later day stays open
    assert fake.issues[other["number"]]["state"] == "open"  # not ours: untouched
    assert fake.issues[result.number]["state"] == "open"


def test_empty_day_skip_touches_nothing(fake, repo):
    result = publish_day(repo, new=0, revised=0, md="", empty_day="skip")
    assert result.action == "skipped"
    assert fake.writes() == [] and fake.issues == {}


def test_empty_day_issue_opens_short_issue(fake, repo):
    result = publish_day(repo, new=0, revised=0, md="# arXiv digest\n\nnothing", empty_day="issue")
    issue = fake.issues[result.number]
    assert issue["title"] == "arXiv digest 2026-11-20: no new papers"
    assert "No new or revised papers" in issue["body"] and len(issue["body"]) < 300


# --------------------------------------------------------------------------- run health


def summary(date=DATE, errors=None):
    errors = errors or {}
    topics = [{"name": n, "fetched": 0 if n in errors else 5, "new": 1, "revised": 0, "error": errors.get(n)}
              for n in ("llm", "vision", "graphs")]
    return {"date": date, "topics": topics, "totals": {"failed_topics": len(errors)}, "outputs": []}


def test_health_issue_opens_updates_and_closes(fake, repo):
    opened = publish.report_health(repo, summary(errors={"vision": "arXiv API HTTP 503 after 4 tries"}))
    assert opened.action == "opened"
    issue = fake.issues[opened.number]
    assert issue["labels"] == ["tracker-health"]
    assert "| vision | arXiv API HTTP 503 after 4 tries |" in issue["body"]
    assert "1 of 3 topics failed" in issue["body"]

    updated = publish.report_health(repo, summary("2026-11-21", {"llm": "timeout", "vision": "x|y"}))
    assert updated == publish.HealthResult("updated", opened.number)
    assert len([i for i in fake.issues.values() if "tracker-health" in i["labels"]]) == 1
    assert "| vision | x\\|y |" in fake.issues[opened.number]["body"]

    closed = publish.report_health(repo, summary("2026-11-22"))
    assert closed == publish.HealthResult("closed", opened.number)
    assert fake.issues[opened.number]["state"] == "closed"
    assert "2026-11-22 completed cleanly" in fake.comments_of(opened.number)[-1]["body"]


def test_clean_run_without_health_issue_does_nothing(fake, repo):
    assert publish.report_health(repo, summary()).action == "none"
    assert fake.writes() == []


def test_whole_run_failure_is_reported():
    body = publish.render_health_body({"date": DATE, "topics": [], "error": "every topic failed"})
    assert "| run | every topic failed |" in body and "failed" in body


# --------------------------------------------------------------------------- commit mode


def test_commit_files_creates_updates_and_skips_unchanged(fake, repo):
    fake.files["README.md"] = b"old"
    fake.files["data/papers/2026-11.jsonl"] = b"same\n"
    files = {"README.md": b"new", "data/papers/2026-11.jsonl": b"same\n", "digests/2026/11/2026-11-20.md": b"# d\n"}

    changed = publish.commit_files(repo, files, message="arXiv digest 2026-11-20", branch="main")

    assert changed == ["README.md", "digests/2026/11/2026-11-20.md"]
    assert fake.files["README.md"] == b"new" and fake.files["digests/2026/11/2026-11-20.md"] == b"# d\n"
    assert [c["branch"] for c in fake.commits] == ["main", "main"]
    assert publish.commit_files(repo, files, message="again") == []
    assert publish.git_blob_sha(b"same\n") == blob_sha(b"same\n")


# --------------------------------------------------------------------------- faults


def test_bad_token_is_one_clear_line(fake):
    with pytest.raises(TrackerError) as err:
        publish.connect("ghp_" + "W" * 36, fake.base, "acme/papers", write_delay=0)
    message = str(err.value)
    assert "401" in message and "GITHUB_TOKEN" in message and "\n" not in message


def test_missing_token_and_bad_repo_name_fail_before_any_request(fake):
    with pytest.raises(TrackerError, match="GITHUB_TOKEN is not set"):
        publish.connect_from_env(environ={"GITHUB_REPOSITORY": "acme/papers", "TRACKER_GITHUB_API_URL": fake.base})
    with pytest.raises(TrackerError, match="OWNER/NAME"):
        publish.connect_from_env(environ={"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base})
    assert fake.requests == []


def test_unknown_repository_is_404(fake):
    with pytest.raises(TrackerError) as err:
        publish.connect(TOKEN, fake.base, "acme/missing", write_delay=0)
    assert "404" in str(err.value) and "acme/missing" in str(err.value)


def test_env_connection_uses_api_url_and_repository(fake):
    env = {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers"}
    assert publish.connect_from_env(environ=env, write_delay=0).full_name == "acme/papers"


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_waits_retry_after_then_succeeds(fake, repo, status):
    fake.faults.append(Fault("POST", r"/issues$", status, {"Retry-After": "7"}, RATE_LIMITED))
    sleep = FakeSleep()

    result = publish_day(repo, retry=publish.RetryPolicy(sleep=sleep))

    assert sleep.calls == [7.0]
    assert result.action == "created" and len(digest_issues(fake)) == 1


def test_rate_limit_honours_reset_header_and_bounds_the_wait(fake, repo):
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000042"}
    fake.faults.append(Fault("GET", r"/labels/", 403, reset, RATE_LIMITED))
    sleep = FakeSleep()
    publish_day(repo, retry=publish.RetryPolicy(sleep=sleep, clock=lambda: 1_000_000.0))
    assert sleep.calls == [43.0]  # reset - now + 1 s

    fake.faults.append(Fault("GET", r"/issues$", 403, {"Retry-After": "3600"}, RATE_LIMITED))
    sleep = FakeSleep()
    with pytest.raises(TrackerError, match="rate limit.*3600 s"):
        publish_day(repo, date="2026-11-21", retry=publish.RetryPolicy(sleep=sleep, max_wait=300))
    assert sleep.calls == []


def test_forbidden_without_rate_limit_is_not_retried(fake, repo):
    fake.faults.append(Fault("POST", r"/issues$", 403, {}, {"message": "Resource not accessible by integration"}))
    sleep = FakeSleep()
    with pytest.raises(TrackerError, match="403 Resource not accessible.*issues:write"):
        publish_day(repo, retry=publish.RetryPolicy(sleep=sleep))
    assert sleep.calls == []


def test_network_failure_midway_is_completed_by_the_next_publish(fake, repo):
    # the connection drops while posting the 2nd continuation comment
    fake.faults.append(Fault("POST", r"/issues/\d+/comments$", DISCONNECT, skip=1))
    with pytest.raises(TrackerError, match="network failure.*rerun `tracker publish`"):
        publish_day(repo, new=240, md=digest_md(120, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    assert len(our_comments(fake, issue["number"])) == 1  # half-published so far

    result = publish_day(repo, new=240, md=digest_md(120, topics=2), limit=3000)

    assert result.action == "updated"
    assert len(digest_issues(fake)) == 1
    bodies = [c["body"] for c in our_comments(fake, issue["number"])]
    assert len(bodies) == result.parts - 1
    assert [f"continued {n}/{result.parts}" in b for n, b in enumerate(bodies, start=2)] == [True] * len(bodies)


def test_token_never_appears_in_logs_output_or_errors(fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # includes PyGithub's and urllib3's request logging
    repo = publish.connect(TOKEN, fake.base, "acme/papers", write_delay=0)
    publish_day(repo, new=240, md=digest_md(120, topics=2), limit=3000)
    publish.report_health(repo, summary(errors={"llm": "boom"}))

    fake.echo_auth = True  # a server that echoes the credentials back in its error message
    fake.token = "rotated"
    with pytest.raises(TrackerError) as err:
        publish_day(repo, date="2026-11-21")
    shown = "".join(traceback.format_exception(err.value))
    captured = capsys.readouterr()
    assert "401" in str(err.value)
    for text in (caplog.text, captured.out, captured.err, shown, repr(err.value)):
        assert TOKEN not in text
    assert TOKEN[4:] not in caplog.text


def test_rate_limit_wait_is_none_for_ordinary_errors():
    assert publish.rate_limit_wait(404, {}, "Not Found") is None
    assert publish.rate_limit_wait(403, {}, "Resource not accessible by integration") is None
    assert publish.rate_limit_wait(403, {}, "You have exceeded a secondary rate limit") == 60.0
