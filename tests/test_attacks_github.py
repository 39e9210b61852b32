"""Attacks on the GitHub side of publishing, against the loopback fake with the real PyGithub client.

Other people's issues (a member's digest-titled question, a pasted marker, a deleted label),
GitHub as it is (files over 1 MB, secondary limits on edits, URLs naming another port, answers
PyGithub cannot read), a member ticking while the bot writes, a day too big for an issue, a
publish just after midnight, and a cron that never fires.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_github import DISCONNECT, TOKEN, Fault, blob_sha
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.hostile import render_gfm
from tests.test_publish import DATE, FakeSleep, connect, digest_issues, digest_md, entry, parts_of, publish_day, summary
from tests.test_publish_cli import fixed_today, github_env, health_issues, workdir, write_summary  # noqa: F401 - fixtures (fixed_today: autouse)
from tracker.cli.main import cli
from tracker.errors import TrackerError
from tracker.publish import commit, health, identity, issues
from tracker.publish.feedback import read_ticks
from tracker.publish.split import body_size
from tracker.publish.tasks import task_items

MARK = f"<!-- paper-tracker:digest date={DATE} -->"
SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}


@pytest.fixture
def repo(fake):
    return connect(fake)


def ticked(text: str) -> set[str]:
    return {i.paper for i in task_items(text) if i.checked}


def tick(text: str, paper: str, on: bool = True) -> str:
    """What GitHub's UI does to the body when a member (un)ticks `paper`'s box."""
    box_from, box_to = ("[ ]", "[x]") if on else ("[x]", "[ ]")
    return re.sub(rf"^(- ){re.escape(box_from)}( \*\*\[[^\n]*abs/{re.escape(paper)})", rf"\1{box_to}\2", text, count=1, flags=re.M)


# --------------------------------------------------------------------------- only its own issues


def test_a_members_digest_titled_question_and_pasted_marker_are_never_edited_or_closed(fake, repo):
    question = fake.add_issue("arXiv digest 2026-11-19: the tracker missed 2611.99999, why?", "see title", ["digest"], user="alice")
    reading = fake.add_issue("Reading group 19 Nov", f"<!-- paper-tracker:digest date=2026-11-19 -->\npasted", ["digest"], user="bob")
    today_by_hand = fake.add_issue(f"arXiv digest {DATE}: 9 new papers", f"{MARK}\n- [x] fake", ["digest"], user="carol")
    before = {n: dict(fake.issues[n]) for n in (question["number"], reading["number"], today_by_hand["number"])}

    result = publish_day(repo)

    assert result.action == "created" and result.closed == ()
    for number, issue in before.items():
        assert fake.issues[number] == issue  # title, body, labels, state: untouched
    assert fake.issues[result.number]["user"] == "bot"
    assert not [w for w in fake.writes() if re.search(rf"/issues/({question['number']}|{reading['number']}|{today_by_hand['number']})$", w[1])]


def test_ticks_in_a_members_issue_quoting_the_marker_are_not_feedback(fake, repo):
    publish_day(repo, new=3)
    [ours] = digest_issues(fake)
    fake.issues[ours["number"]]["body"] = tick(ours["body"], "2611.00001")
    fake.add_issue("Papers I liked", f"{MARK}\n- [x] **[Paper](https://arxiv.org/abs/2611.00002)**", ["digest"], user="mallory")

    ticks = read_ticks(repo, "digest", since="2026-11-01", known={"2611.00000", "2611.00001", "2611.00002"})

    assert set(ticks.ticked) == {"2611.00001"} and ticks.issues == [ours["number"]]


def test_deleting_the_label_loses_no_issue_no_tick_and_earlier_days_still_close(fake, repo):
    first = publish_day(repo, date="2026-11-19")
    day = publish_day(repo, new=3)
    fake.issues[day.number]["body"] = tick(fake.issues[day.number]["body"], "2611.00002")
    fake.delete_label("digest")

    again = publish_day(repo, new=4)  # a rerun of the day, with one more paper

    assert again.number == day.number and again.action == "updated"
    assert len([i for i in fake.issues.values() if i["user"] == "bot"]) == 2  # no second issue for the day
    assert "digest" in fake.issues[day.number]["labels"]  # put back
    assert ticked(fake.issues[day.number]["body"]) == {"2611.00002"}
    fake.delete_label("digest")
    later = publish_day(repo, date="2026-11-21")
    assert set(later.closed) == {day.number} and fake.issues[day.number]["state"] == "closed"
    assert fake.issues[first.number]["state"] == "closed"  # closed by the second publish already


def test_a_day_whose_issue_a_member_closed_and_unlabelled_is_updated_not_opened_again(fake, repo):
    day = publish_day(repo, new=3)
    fake.issues[day.number]["state"] = "closed"
    fake.delete_label("digest")
    again = publish_day(repo, new=4)
    assert again.number == day.number and len(digest_issues(fake)) == 1
    closed_lookups = [q for q in fake.queries if q.get("state") == "closed"]
    assert closed_lookups and all(q.get("since", "").startswith("2026-11-18") for q in closed_lookups)  # recent ones only


def test_a_server_refusing_the_creator_filter_still_finds_the_labelled_issue(fake, repo, caplog):
    first = publish_day(repo)
    fake.faults.append(Fault("GET", r"/issues$", 422, {}, {"message": "Validation Failed"}, skip=1))  # the creator listing
    with caplog.at_level(logging.WARNING):
        again = publish_day(repo, new=4)
    assert again.number == first.number and len(digest_issues(fake)) == 1 and "by label only" in caplog.text
    assert any(q.get("creator") == "bot" for q in fake.queries)


def test_a_members_weekly_titled_issue_is_not_closed_by_the_next_weeks_review(fake, repo):
    from tracker.publish.digest_issue import publish_weekly

    member = fake.add_issue("Weekly review 2026-W46", "<!-- paper-tracker:weekly week=2026-W46 -->\nmy notes", ["weekly"], user="alice")
    ours = publish_weekly(repo, page="# Weekly review 2026-W46\n\nthemes", week="2026-W46")
    fake.delete_label("weekly")
    result = publish_weekly(repo, page="# Weekly review 2026-W47\n\nthemes", week="2026-W47")
    assert ours.number != member["number"] and result.closed == (ours.number,)
    assert fake.issues[member["number"]]["state"] == "open" and fake.issues[member["number"]]["body"].endswith("my notes")


def test_feedback_reads_ticks_of_an_issue_whose_label_was_deleted(fake, repo):
    day = publish_day(repo, new=3)
    fake.issues[day.number]["body"] = tick(fake.issues[day.number]["body"], "2611.00000")
    fake.delete_label("digest")
    ticks = read_ticks(repo, "digest", since="2026-11-01", known={"2611.00000"})
    assert ticks.ticked == {"2611.00000": day.number}


def test_installation_token_the_bot_is_github_actions_and_a_pat_users_issues_are_not_ours(fake):
    fake.installation = True  # Actions' GITHUB_TOKEN: GET /user is forbidden
    pat_user_issue = fake.add_issue(f"arXiv digest {DATE}: 2 new papers", f"{MARK}\nold", ["digest"], user="bot")
    repo = connect(fake)

    result = publish_day(repo)

    assert identity.bot_login(repo) == "github-actions[bot]"
    assert result.number != pat_user_issue["number"] and fake.issues[pat_user_issue["number"]]["body"] == f"{MARK}\nold"
    assert publish_day(repo, new=4).number == result.number  # and it finds its own again


def test_a_configured_login_is_used_and_a_wrong_one_corrected_by_the_issue_it_opens(fake, monkeypatch, caplog):
    monkeypatch.setenv(identity.LOGIN_ENV, "my-app[bot]")
    fake.installation = True
    repo = connect(fake)
    assert identity.bot_login(repo) == "my-app[bot]"
    assert ("GET", "/user") not in fake.requests  # configured: no need to ask
    with caplog.at_level(logging.WARNING):
        created = publish_day(repo)
    assert f"{identity.LOGIN_ENV}=github-actions[bot]" in caplog.text
    assert publish_day(repo, new=4).number == created.number


def test_another_apps_login_is_learned_from_its_first_issue_and_recorded_for_the_next_runs(workdir, fake, caplog):
    fake.installation, fake.app_login = True, "lab-bot[bot]"
    write_summary(workdir)
    publish = lambda: CliRunner().invoke(  # noqa: E731
        cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake), catch_exceptions=False)
    with caplog.at_level(logging.WARNING):
        assert publish().exit_code == 0
    assert f"{identity.LOGIN_ENV}=lab-bot[bot]" in caplog.text
    assert (workdir / ".tracker" / identity.RECORD).read_text().strip() == "lab-bot[bot]"
    assert publish().exit_code == 0
    assert len(digest_issues(fake)) == 1  # the next run knew its login: no second issue for the day

    (workdir / ".tracker" / identity.RECORD).write_text("alice\n")  # a tampered cache names a member
    theirs = fake.add_issue(f"arXiv digest {DATE}: x", f"{MARK}\nmine", ["digest"], user="alice")
    publish()
    assert fake.issues[theirs["number"]]["body"] == f"{MARK}\nmine"


def test_health_issues_a_member_marked_are_not_closed_and_ours_is_found_without_its_label(fake, repo):
    member = fake.add_issue("My notes", f"{health.HEALTH_MARK}\nI copied this", ["tracker-health"], user="alice")
    opened = health.report_health(repo, summary(errors={"vision": "HTTP 503"}))
    fake.delete_label("tracker-health")

    updated = health.report_health(repo, summary(errors={"vision": "HTTP 500"}))
    assert updated.number == opened.number and updated.action == "updated"
    assert "tracker-health" in fake.issues[opened.number]["labels"]
    fake.delete_label("tracker-health")

    assert health.report_health(repo, summary()).action == "closed"
    assert fake.issues[opened.number]["state"] == "closed" and fake.issues[member["number"]]["state"] == "open"
    assert len(health_issues(fake)) <= 2 and fake.issues[member["number"]]["body"].endswith("I copied this")


# --------------------------------------------------------------------------- GitHub as it is


def big_readme(text: str) -> bytes:
    filler = "".join(f"| row {i} | {'x' * 60} |\n" for i in range(20_000))  # ~1.4 MB
    return f"# Lab\n\n{text}\n\n<!-- paper-tracker:start -->\n{filler}<!-- paper-tracker:end -->\n".encode()


def test_commit_over_a_1mb_readme_reads_it_as_a_blob_and_keeps_edits_made_on_github(fake, repo):
    fake.files["README.md"] = big_readme("Edited on GitHub.")
    assert len(fake.files["README.md"]) > 1024 * 1024
    local = big_readme("Local text.").replace(b"| row 0 |", b"| row NEW |")

    result = commit.commit_files(repo, {"README.md": local, "digests/a.md": b"x" * (1024 * 1024 + 5)}, message="m", readme="README.md")

    text = fake.files["README.md"].decode()
    assert "Edited on GitHub." in text and "Local text." not in text and "| row NEW |" in text
    assert any(path.startswith("/repos/acme/papers/git/blobs/") for _, path in fake.requests)
    assert sorted(result.changed) == ["README.md", "digests/a.md"]
    before = len(fake.writes())
    commit.commit_files(repo, {"README.md": local, "digests/a.md": b"x" * (1024 * 1024 + 5)}, message="m", readme="README.md")
    assert len(fake.writes()) == before  # blob SHAs still decide: nothing resent


def test_a_blob_that_does_not_match_its_sha_is_one_line_and_nothing_is_written(fake, repo):
    fake.files["README.md"] = big_readme("Edited.")
    sha = blob_sha(fake.files["README.md"])
    fake.faults.append(Fault("GET", r"/git/blobs/", 200, {}, {"sha": sha, "encoding": "base64", "content": "aGVsbG8=", "size": 5}))
    with pytest.raises(TrackerError, match=r"README.md .*damaged") as err:
        commit.commit_files(repo, {"README.md": big_readme("Local.")}, message="m", readme="README.md")
    assert "\n" not in str(err.value) and fake.files["README.md"] == big_readme("Edited.")


@pytest.mark.parametrize("method,path", [
    ("PATCH", r"/issues/\d+$"),  # editing the issue body
    ("PATCH", r"/issues/comments/\d+$"),  # editing a continuation comment
    ("DELETE", r"/issues/comments/\d+$"),  # deleting a surplus one
])
@pytest.mark.parametrize("limit", [{"Retry-After": "9"}, {}])
def test_a_secondary_limit_on_an_edit_or_delete_waits_and_retries_like_a_post(fake, method, path, limit):
    sleep = FakeSleep()
    repo = connect(fake, sleep)
    first = publish_day(repo, new=60, md=digest_md(30, topics=2), limit=3000)
    fake.faults.append(Fault(method, path, 403, limit, SECONDARY))

    result = publish_day(repo, new=20, md=digest_md(10, topics=2).replace("A. Author", "A. Changed"), limit=2000)

    assert sleep.calls == [9.0 if limit else 60.0]
    [issue] = digest_issues(fake)
    parts = parts_of(fake, issue["number"])
    assert result.action == "updated" and 1 < result.parts == len(parts) < first.parts
    assert "A. Author" not in "".join(parts) and "".join(parts).count("A. Changed") == 20  # the issue shows no abstracts


def test_a_secondary_limit_on_a_put_waits_and_an_edit_whose_answer_was_lost_is_not_repeated(fake):
    sleep = FakeSleep()
    repo = connect(fake, sleep)
    fake.files["data/a.jsonl"] = b"old\n"
    fake.faults.append(Fault("PUT", r"/contents/data/a.jsonl$", 429, {"Retry-After": "4"}, SECONDARY))
    commit.commit_files(repo, {"data/a.jsonl": b"new\n"}, message="m")
    assert sleep.calls == [4.0] and fake.files["data/a.jsonl"] == b"new\n"

    publish_day(repo)
    fake.faults.append(Fault("PATCH", r"/issues/\d+$", DISCONNECT))
    with pytest.raises(TrackerError, match="network failure"):
        publish_day(repo, new=5)
    assert [r for r in fake.requests if r[0] == "PATCH"] == [("PATCH", "/repos/acme/papers/issues/1")]  # sent once


@pytest.mark.parametrize("elsewhere", ["port", "prefix"])
def test_urls_naming_another_port_or_prefix_are_one_line_never_an_assertion_traceback(fake, workdir, elsewhere):
    for n in range(5):  # more than one page: PyGithub follows the Link header the "proxy" wrote
        fake.add_issue(f"old {n}", "x", ["digest"])
    env = github_env(fake)
    port = int(fake.base.split(":")[2].split("/")[0])
    if elsewhere == "port":  # a proxy in front names the port behind it
        fake.base = fake.base.replace(f":{port}/", f":{port - 1 if port > 2000 else port + 1}/")
    else:  # or a path prefix of its own
        fake.base = fake.base.replace("/api/v3", "/github/api/v3")
    write_summary(workdir)

    result = CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=env, catch_exceptions=False)

    assert result.exit_code == 1 and "Traceback" not in result.output and "AssertionError" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors and all("URL outside the API URL" in line for line in errors), result.output
    assert TOKEN not in result.output


@pytest.mark.parametrize("answer", [["a", "list"], {"number": "NaN", "labels": 7, "user": "x"}, "a string", b"<html>proxy error", b"\xff\xfe{"])
@pytest.mark.parametrize("where", [("POST", r"/issues$"), ("GET", r"/issues$"), ("GET", r"/labels/digest$")])
def test_answers_pygithub_cannot_read_are_one_line(fake, repo, answer, where):
    fake.faults.append(Fault(*where, 201 if where[0] == "POST" else 200, {}, answer))  # type: ignore[arg-type]
    try:
        publish_day(repo)
    except TrackerError as exc:  # or it went through: what it could read was enough
        assert "\n" not in str(exc) and TOKEN not in str(exc)
    assert len([i for i in fake.issues.values() if i["user"] == "bot"]) <= 1


def test_a_local_file_error_inside_a_github_step_is_not_called_a_network_failure(repo, tmp_path):
    from tracker.publish.client import Api

    with pytest.raises(TrackerError) as err:
        Api(repo).call("linking the digest", lambda: (tmp_path / "gone.md").read_bytes())
    assert "FileNotFoundError" in str(err.value) and "network" not in str(err.value)


# --------------------------------------------------------------------------- ticks made while the bot writes


def member_edits_after_first(fake, method: str, path_re: str, edit) -> None:
    """Run `edit()` once, right after the bot's first request matching method/path (its read)."""
    def hook(m: str, path: str) -> None:
        if m == method and re.search(path_re, path):
            fake.after.remove(hook)
            edit()
    fake.after.append(hook)


@pytest.mark.parametrize("on", [True, False])
def test_a_tick_or_untick_made_between_the_bots_read_and_write_survives(fake, repo, on):
    publish_day(repo, new=3)
    [issue] = digest_issues(fake)
    number = issue["number"]
    if not on:
        fake.issues[number]["body"] = tick(fake.issues[number]["body"], "2611.00001")

    def member():
        fake.issues[number]["body"] = tick(fake.issues[number]["body"], "2611.00001", on)

    member_edits_after_first(fake, "GET", r"/issues/\d+/comments$", member)  # the bot's last read before it writes

    assert publish_day(repo, new=4).action == "updated"
    assert ticked(fake.issues[number]["body"]) == ({"2611.00001"} if on else set())


def test_a_tick_in_a_continuation_comment_made_during_the_publish_survives(fake, repo):
    publish_day(repo, new=60, md=digest_md(30, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    comment = fake.comments_of(issue["number"])[-1]
    paper = next(i.paper for i in task_items(comment["body"]))

    def member():
        comment["body"] = tick(comment["body"], paper)

    member_edits_after_first(fake, "PATCH", r"/issues/\d+$", member)  # after the comments were read
    publish_day(repo, new=60, md=digest_md(30, topics=2).replace("A. Author", "A. New"), limit=3000)

    assert paper in ticked(comment["body"]) and "A. New" in comment["body"]


# --------------------------------------------------------------------------- a day too big for an issue


def test_a_1mb_visible_field_is_shortened_whole_never_cut_through_details_and_said_so(fake, repo):
    # Abstracts (in <details>) never reach the issue; a visible line can still be huge.
    huge = entry(0, 7).replace("A. Author, B. Author", "word " * 200_000)
    md = digest_md(12).replace(entry(0, 7), huge)
    url = "https://github.test/acme/papers/blob/main/digests/2026/11/2026-11-20.md"

    result = publish_day(repo, new=12, md=md, digest_url=url)

    [issue] = digest_issues(fake)
    parts = parts_of(fake, issue["number"])
    assert result.parts == len(parts) <= 2 and result.shortened == 1 and result.left_out == 0
    for part in parts:
        assert body_size(part) <= 65_536 and part.count("<details>") == part.count("</details>")
    joined = "\n".join(parts)
    assert [i.paper for p in parts for i in task_items(p)] == [f"2611.0{i:04d}" for i in range(12)]  # every paper still tickable
    assert "1 entry was too long and shortened" in joined and f"]({url})" in joined
    assert "Not everything fits" in render_gfm(parts[-1]) or "Not everything fits" in parts[-1]


def test_parts_are_capped_and_the_issue_names_how_many_entries_it_left_out(fake, repo, monkeypatch):
    monkeypatch.setattr(issues, "MAX_PARTS", 3)
    result = publish_day(repo, new=200, md=digest_md(100, topics=2), limit=3000)

    [issue] = digest_issues(fake)
    parts = parts_of(fake, issue["number"])
    shown = [i.paper for p in parts for i in task_items(p)]
    assert result.parts == len(parts) == 3 and result.left_out == 200 - len(shown) > 0
    assert f"{result.left_out} more entries did not fit in this issue" in parts[-1]
    assert "the digest page in the repository" in parts[-1]  # no URL: it says where instead


def test_the_publish_command_reports_what_did_not_fit(workdir, fake):
    digest = workdir / "digests/2026/11/2026-11-20.md"
    digest.write_text(digest.read_text().replace("· `2611.00002v1`", "· `2611.00002v1`\n\n  " + "é" * 70_000))
    write_summary(workdir)

    result = CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake), catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "warning: too big for a GitHub issue: 0 entries left out, 1 shortened" in result.output
    [issue] = digest_issues(fake)
    assert "1 entry was too long and shortened" in issue["body"] and "é" * 100 not in issue["body"]
    assert {i.paper for i in task_items(issue["body"])} == {"2611.00001", "2611.00002", "2610.00003"}


# --------------------------------------------------------------------------- dates and schedules


def test_publish_just_after_midnight_posts_the_day_that_was_run_and_no_false_health(workdir, fake, monkeypatch):
    import tracker.pipeline

    write_summary(workdir)  # the run for DATE finished minutes ago
    monkeypatch.setattr(tracker.pipeline, "today_utc", lambda: "2026-11-21")

    result = CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake), catch_exceptions=False)

    assert result.exit_code == 0, result.output
    [issue] = digest_issues(fake)
    assert issue["title"].startswith(f"arXiv digest {DATE}") and health_issues(fake) == []


def test_a_summary_of_yesterday_restored_from_a_cache_means_todays_run_died(workdir, fake, monkeypatch):
    import tracker.pipeline

    write_summary(workdir)
    old = time.time() - 20 * 3600
    os.utime(workdir / ".tracker" / "last_run.json", (old, old))
    monkeypatch.setattr(tracker.pipeline, "today_utc", lambda: "2026-11-21")
    CliRunner().invoke(cli, ["publish", "--config", str(workdir / "keywords.yaml")], env=github_env(fake), catch_exceptions=False)
    [health_issue] = health_issues(fake)
    assert "2026-11-21" in health_issue["title"] and "recorded no summary" in health_issue["body"]


def test_a_cron_that_never_fires_is_refused_at_once_not_waited_on(tmp_path):
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\n")
    args = [sys.executable, "-m", "tracker", "schedule", "--cron", "0 0 30 2 *", "--timezone", "UTC", "--config", str(tmp_path / "keywords.yaml")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "never fires" in done.stderr, done.stderr


@pytest.mark.parametrize("cron", ["0 0 31 4,6,9,11 *", "15 3 31 2 *", "0 0 30,31 2 *"])
def test_cron_variants_that_never_fire_are_a_usage_error(cron):
    result = CliRunner().invoke(cli, ["schedule", "--cron", cron, "--timezone", "Asia/Kolkata", "--print-next", "2"])
    assert result.exit_code == 2 and "never fires" in result.output and result.output.count("\n") == 1


def test_a_rare_but_real_cron_is_accepted():
    result = CliRunner().invoke(cli, ["schedule", "--cron", "0 0 29 2 *", "--timezone", "UTC", "--print-next", "1"])
    assert result.exit_code == 0 and "-02-29T00:00:00" in result.output
