"""The GitHub client (tracker.publish.client): PyGithub's GithubRetry with bounded waits, one-line errors.

Against the loopback fake GitHub, through the real PyGithub client and urllib3 retries.
"""
from __future__ import annotations

import logging
import time
import traceback

import pytest

from tests.fake_github import DISCONNECT, TOKEN, Fault
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.test_publish import FakeSleep, connect, digest_issues, digest_md, our_comments, publish_day, summary
from tracker.errors import TrackerError
from tracker.publish import client, health


RATE_LIMITED = {"message": "API rate limit exceeded for installation ID 1."}


@pytest.fixture
def repo(fake):
    return connect(fake)


def test_bad_token_is_one_clear_line(fake):
    with pytest.raises(TrackerError) as err:
        client.connect("ghp_" + "W" * 36, fake.base, "acme/papers", write_delay=0)
    message = str(err.value)
    assert "401" in message and "GITHUB_TOKEN" in message and "\n" not in message


def test_missing_token_and_bad_repo_name_fail_before_any_request(fake):
    with pytest.raises(TrackerError, match="GITHUB_TOKEN is not set"):
        client.connect_from_env(environ={"GITHUB_REPOSITORY": "acme/papers", "TRACKER_GITHUB_API_URL": fake.base})
    with pytest.raises(TrackerError, match="OWNER/NAME"):
        client.connect_from_env(environ={"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base})
    with pytest.raises(TrackerError, match="TRACKER_GITHUB_WRITE_DELAY"):
        client.connect_from_env(environ={"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": "a/b", "TRACKER_GITHUB_WRITE_DELAY": "1e308"})
    assert fake.requests == []


def test_unknown_repository_is_404(fake):
    with pytest.raises(TrackerError) as err:
        client.connect(TOKEN, fake.base, "acme/missing", write_delay=0)
    assert "404" in str(err.value) and "acme/missing" in str(err.value)


def test_env_connection_uses_api_url_and_repository(fake):
    env = {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers"}
    assert client.connect_from_env(environ=env, write_delay=0).full_name == "acme/papers"


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_waits_retry_after_then_succeeds(fake, status):
    sleep = FakeSleep()
    repo = connect(fake, sleep)
    fake.faults.append(Fault("POST", r"/issues$", status, {"Retry-After": "7"}, RATE_LIMITED))

    result = publish_day(repo)

    assert sleep.calls == [7.0]
    assert result.action == "created" and len(digest_issues(fake)) == 1


def test_secondary_limit_without_headers_waits_a_minute(fake):
    sleep = FakeSleep()
    repo = connect(fake, sleep)
    fake.faults.append(Fault("POST", r"/issues$", 403, {}, {"message": "You have exceeded a secondary rate limit"}))
    publish_day(repo)
    assert sleep.calls == [60.0] and len(digest_issues(fake)) == 1


def test_rate_limit_honours_reset_header_and_bounds_every_wait(fake):
    sleep = FakeSleep()
    repo = connect(fake, sleep, max_wait=300, budget=100)
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 42)}
    fake.faults.append(Fault("GET", r"/labels/", 403, reset, RATE_LIMITED))
    publish_day(repo)
    assert len(sleep.calls) == 1 and 40 <= sleep.calls[0] <= 44  # until the reset, + 1 s

    fake.faults.append(Fault("GET", r"/issues$", 403, {"Retry-After": "100000"}, RATE_LIMITED))
    with pytest.raises(TrackerError, match="rate limit.*longer than we wait; rerun later"):
        publish_day(repo, date="2026-11-21")
    fake.faults.append(Fault("GET", r"/issues$", 429, {"Retry-After": "90"}, RATE_LIMITED))
    with pytest.raises(TrackerError, match="rate limit.*90 s"):  # 43 s waited + 90 s > the 100 s budget
        publish_day(repo, date="2026-11-21")
    assert len(sleep.calls) == 1  # neither hopeless wait was started


def test_rate_limit_that_persists_ends_after_the_attempts(fake):
    sleep = FakeSleep()
    repo = connect(fake, sleep, attempts=2)
    fake.faults.append(Fault("GET", r"/issues$", 429, {"Retry-After": "1"}, RATE_LIMITED, times=5))
    with pytest.raises(TrackerError, match="rate limit"):
        publish_day(repo)
    assert sleep.calls == [1.0, 1.0]


def test_forbidden_without_rate_limit_is_not_retried(fake):
    sleep = FakeSleep()
    repo = connect(fake, sleep)
    fake.faults.append(Fault("POST", r"/issues$", 403, {}, {"message": "Resource not accessible by integration"}))
    with pytest.raises(TrackerError, match="403 Resource not accessible.*issues:write"):
        publish_day(repo)
    assert sleep.calls == []


def test_reads_are_retried_after_a_drop_or_a_5xx(fake, repo):
    fake.faults.append(Fault("GET", r"/issues$", DISCONNECT))
    fake.faults.append(Fault("GET", r"/labels/", 502, {}, {"message": "Bad Gateway"}))
    assert publish_day(repo).action == "created"
    assert len(digest_issues(fake)) == 1


def test_a_write_whose_answer_was_lost_is_not_repeated_and_the_rerun_finishes(fake, repo):
    # the connection drops while posting the 2nd continuation comment; a 502 hits the 3rd on the rerun
    fake.faults.append(Fault("POST", r"/issues/\d+/comments$", DISCONNECT, skip=1))
    with pytest.raises(TrackerError, match="network failure.*rerun `tracker publish`"):
        publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    assert len(our_comments(fake, issue["number"])) == 1  # half-published so far, nothing posted twice
    fake.faults.append(Fault("POST", r"/issues/\d+/comments$", 502, {}, {"message": "Bad Gateway"}, skip=1))
    with pytest.raises(TrackerError, match="502"):
        publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)

    result = publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)

    assert result.action == "updated" and len(digest_issues(fake)) == 1
    bodies = [c["body"] for c in our_comments(fake, issue["number"])]
    assert len(bodies) == result.parts - 1
    assert [f"continued {n}/{result.parts}" in b for n, b in enumerate(bodies, start=2)] == [True] * len(bodies)


def test_token_never_appears_in_logs_output_or_errors(fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # includes PyGithub's and urllib3's request logging
    repo = client.connect(TOKEN, fake.base, "acme/papers", write_delay=0)
    publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)
    health.report_health(repo, summary(errors={"llm": f"boom with {TOKEN}"}))

    fake.echo_auth = True  # a server that echoes the credentials back in its error message
    fake.token = "rotated"
    with pytest.raises(TrackerError) as err:
        publish_day(repo, date="2026-11-21")
    shown = "".join(traceback.format_exception(err.value))
    captured = capsys.readouterr()
    assert "401" in str(err.value)
    for text in (caplog.text, captured.out, captured.err, shown, repr(err.value), *fake.sent):
        assert TOKEN not in text
    assert TOKEN[4:] not in caplog.text
