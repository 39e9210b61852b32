"""tracker.publish against a stateful loopback fake of GitHub, driven by the real PyGithub client."""
from __future__ import annotations

import pytest

from tests.fake_github import TOKEN
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tracker.errors import TrackerError
from tracker.publish import client, commit, health, issues, split
from tracker.publish.digest_issue import publish_digest, publish_weekly
from tracker.publish.split import body_size, split_markdown
from tracker.publish.tasks import as_task_list, carry_ticks, task_items

DATE = "2026-11-20"


class FakeSleep:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def connect(fake, sleep=None, **policy):
    retry = client.RetryPolicy(sleep=sleep or FakeSleep(), **policy)
    # per_page=2 so listing issues and comments exercises Link-header pagination
    return client.connect(TOKEN, fake.base, "acme/papers", write_delay=0, per_page=2, retry=retry)


@pytest.fixture
def repo(fake):
    return connect(fake)


def entry(t: int, i: int) -> str:
    """One paper as the digest template lays it out: a list item with indented continuation lines."""
    pid = f"2611.{t}{i:04d}"
    return (
        f"- **[Title {t}-{i} on things](https://arxiv.org/abs/{pid}v1)** · `{pid}v1`\n\n"
        f"  A. Author, B. Author<br>\n  2026-11-19 · cs.CL · topics: T{t}\n\n"
        f"  <details><summary>Abstract</summary>An abstract about things {t}-{i}.</details>\n"
    )


def digest_md(rows: int, topics: int = 1) -> str:
    out = [f"# arXiv digest: {DATE}", "", f"**{rows * topics}** new papers, **0** revised.", ""]
    for t in range(topics):
        out += [f"## Topic {t}", ""] + [entry(t, i) for i in range(rows)]
    return "\n".join(out)


def publish_day(repo, date=DATE, new=3, revised=1, md=None, **kw):
    return publish_digest(repo, date=date, new_count=new, revised_count=revised, digest_markdown=digest_md(new) if md is None else md, **kw)


def digest_issues(fake):
    return [i for i in fake.issues.values() if "digest" in i["labels"]]


def our_comments(fake, number):
    return [c for c in fake.comments_of(number) if "paper-tracker:digest-part" in c["body"]]


def parts_of(fake, number):
    return [fake.issues[number]["body"]] + [c["body"] for c in our_comments(fake, number)]


# --------------------------------------------------------------------------- the digest issue


def test_first_publish_opens_labelled_issue_with_marker(fake, repo):
    result = publish_day(repo, new=3, digest_url="https://github.test/acme/papers/blob/main/digests/2026/11/2026-11-20.md")

    assert result.action == "created" and result.parts == 1
    [issue] = digest_issues(fake)
    assert issue["title"] == "arXiv digest 2026-11-20: 3 new papers"
    assert issue["body"].startswith("<!-- paper-tracker:digest date=2026-11-20 -->")
    assert "- [ ] **[Title 0-2 on things](https://arxiv.org/abs/2611.00002v1)**" in issue["body"]
    assert "[2026-11-20.md](https://github.test/acme/papers/blob/main/digests/2026/11/2026-11-20.md)" in issue["body"]
    assert issue["body"].count("**3** new") == 1  # the digest states the counts; the issue does not repeat them
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
    assert publish_day(repo, new=4).action == "unchanged"
    assert len(fake.writes()) == writes_before  # nothing rewritten when nothing changed


def test_an_issue_without_the_marker_is_not_ours_even_with_a_digest_title(fake, repo):
    # with a personal token the bot IS a member: a digest-like title alone proves nothing
    mine = fake.add_issue("arXiv digest 2026-11-20: why was 2611.99999 missed?", "a question", ["digest"])
    publish_day(repo)
    assert len(digest_issues(fake)) == 2
    assert fake.issues[mine["number"]]["title"].endswith("missed?") and fake.issues[mine["number"]]["body"] == "a question"


def test_long_digest_splits_between_papers_and_keeps_every_paper_whole(fake, repo):
    md = digest_md(60, topics=2)
    result = publish_day(repo, new=120, md=md, limit=3000)

    [issue] = digest_issues(fake)
    parts = parts_of(fake, issue["number"])
    assert result.parts == len(parts) > 3
    assert all(body_size(p) <= 3000 for p in parts)
    assert f"(continued below: part 1/{len(parts)})" in parts[0]
    for n, part in enumerate(parts[1:], start=2):
        assert f"*(continued {n}/{len(parts)})*" in part
    joined = "\n".join(parts)
    for t in range(2):
        for i in range(60):  # each paper's item arrives whole, as one task item, in order
            task = entry(t, i).replace("- **", "- [ ] **", 1).split("\n\n  <details>")[0]  # the issue has no <details>
            assert task in joined or task.rstrip("\n") in joined
    items = [item.paper for p in parts for item in task_items(p)]
    assert items == [f"2611.{t}{i:04d}" for t in range(2) for i in range(60)]


def test_shrinking_digest_deletes_surplus_comments_but_not_human_ones(fake, repo):
    publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    human = fake.add_comment(issue["number"], "nice paper in here!")
    quoting = fake.add_comment(issue["number"], "> <!-- paper-tracker:digest-part date=2026-11-20 -->\n> quoted")

    result = publish_day(repo, new=5, md=digest_md(5), limit=3000)

    assert result.parts == 1
    assert [c["id"] for c in fake.comments_of(issue["number"])] == [human["id"], quoting["id"]]
    assert "(continued" not in fake.issues[issue["number"]]["body"]

    grown = publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)
    assert len(our_comments(fake, issue["number"])) == grown.parts - 1 + 1  # + the human's quote, untouched
    assert fake.comments[quoting["id"]]["body"].endswith("> quoted")


def test_split_repeats_table_header_and_keeps_header_with_separator_and_first_row():
    text = "intro\n\n| A | B |\n|---|---|\n" + "\n".join(f"| {i} | x |" for i in range(40))
    chunks = split_markdown(text, 120)
    assert all(body_size(c) <= 120 for c in chunks)
    for chunk in chunks[1:]:
        assert chunk.splitlines()[:2] == ["| A | B |", "|---|---|"]
    rows = [line for c in chunks for line in c.splitlines() if line.startswith("| ") and "A" not in line]
    assert rows == [f"| {i} | x |" for i in range(40)]
    lines = ["p" * 50, "| H |", "|---|", "| 1 |"]
    assert split_markdown("\n".join(lines), 58) == ["p" * 50, "| H |\n|---|\n| 1 |"]


def test_split_never_cuts_a_line_it_replaces_one_too_long_by_a_note():
    chunks = split_markdown("short\n" + "é" * 500 + "\nend", 100)
    assert all(body_size(c) <= 100 for c in chunks)
    assert "".join(chunks).replace("\n", "") == "short" + split.LEFT_OUT_LINE + "end"


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


def test_failed_topics_are_named_once_and_never_called_a_quiet_day(fake, repo):
    failures = [("Vision", "arXiv API HTTP 503 from http://user:pw@export.arxiv.org/api after 4 tries")]
    result = publish_day(repo, new=0, revised=0, md="", empty_day="issue", failures=failures)
    body = fake.issues[result.number]["body"]
    assert "Vision" in body and "HTTP 503" in body and "pw@" not in body
    assert "No new or revised papers" not in body

    shown = digest_md(2) + "\n> Vision failed: arXiv API HTTP 503 from http://\\*\\*\\*@export.arxiv.org/api after 4 tries\n"
    again = publish_day(repo, date="2026-11-21", new=2, md=shown, failures=failures)
    assert fake.issues[again.number]["body"].count("HTTP 503") == 1  # the digest names it already


# --------------------------------------------------------------------------- ticks


def test_every_paper_is_a_task_item_and_ticks_survive_a_republish(fake, repo):
    publish_day(repo, new=120, md=digest_md(60, topics=2), limit=3000)
    [issue] = digest_issues(fake)
    number = issue["number"]
    # members tick one paper in the body and one in a continuation comment (GitHub edits the text)
    issue["body"] = issue["body"].replace("- [ ] **[Title 0-1 ", "- [x] **[Title 0-1 ")
    comment = our_comments(fake, number)[-1]
    last = task_items(comment["body"])[-1].paper
    comment["body"] = carry_ticks(comment["body"], {last})

    publish_day(repo, new=121, md=digest_md(60, topics=2) + "\n" + entry(3, 0), limit=3000)

    ticked = {item.paper for p in parts_of(fake, number) for item in task_items(p) if item.checked}
    assert ticked == {"2611.00001", last}


def test_task_items_read_only_real_links_outside_code():
    md = "\n".join([
        "- **[A \\](https://arxiv.org/abs/2401.99999)](https://arxiv.org/abs/2401.01234v3)** · x",  # escaped title text
        "1. **[Top pick](https://arxiv.org/abs/hep-th/9901001)**",
        "- plain item without a paper",
        "```",
        "- **[In code](https://arxiv.org/abs/2401.05555)**",
        "```",
    ])
    tasks = as_task_list(md)
    assert as_task_list(tasks) == tasks  # idempotent
    assert [(i.paper, i.checked) for i in task_items(tasks)] == [("2401.01234", False), ("hep-th/9901001", False)]
    assert "- plain item without a paper" in tasks and "- **[In code]" in tasks
    ticked = task_items(carry_ticks(tasks, {"hep-th/9901001"}))
    assert [i.checked for i in ticked] == [False, True]


# --------------------------------------------------------------------------- weekly review


def test_weekly_review_issue_is_labelled_idempotent_and_closes_older_weeks(fake, repo):
    old = publish_weekly(repo, page="# Weekly review 2026-W46\n\nlast week", week="2026-W46")
    page = "# Weekly review 2026-W47\n\n" + "\n".join(f"- rising theme {i}: " + "x" * 80 for i in range(60))
    first = publish_weekly(repo, page=page, week="2026-W47", limit=2000)
    again = publish_weekly(repo, page=page, week="2026-W47", limit=2000)

    issue = fake.issues[first.number]
    assert issue["labels"] == ["weekly"] and issue["title"] == "Weekly review 2026-W47"
    assert first.action == "created" and again.action == "unchanged" and first.parts > 1
    assert fake.issues[old.number]["state"] == "closed" and first.closed == (old.number,)
    assert digest_issues(fake) == []
    with pytest.raises(TrackerError, match="Weekly review 2026-W48"):
        publish_weekly(repo, page="# Something else", week="2026-W48")


# --------------------------------------------------------------------------- run health


def summary(date=DATE, errors=None):
    errors = errors or {}
    topics = [{"name": n, "fetched": 0 if n in errors else 5, "new": 1, "revised": 0, "error": errors.get(n)}
              for n in ("llm", "vision", "graphs")]
    return {"date": date, "topics": topics, "totals": {"failed_topics": len(errors)}, "outputs": []}


def test_health_issue_opens_updates_and_closes(fake, repo):
    opened = health.report_health(repo, summary(errors={"vision": "arXiv API HTTP 503 after 4 tries"}))
    assert opened.action == "opened"
    issue = fake.issues[opened.number]
    assert issue["labels"] == ["tracker-health"]
    assert "| vision | arXiv API HTTP 503 after 4 tries |" in issue["body"]
    assert "1 of 3 topics failed" in issue["body"]

    updated = health.report_health(repo, summary("2026-11-21", {"llm": "timeout", "vision": "x|y"}))
    assert updated == health.HealthResult("updated", opened.number)
    assert len([i for i in fake.issues.values() if "tracker-health" in i["labels"]]) == 1
    assert "| vision | x\\|y |" in fake.issues[opened.number]["body"]

    closed = health.report_health(repo, summary("2026-11-22"))
    assert closed == health.HealthResult("closed", opened.number)
    assert fake.issues[opened.number]["state"] == "closed"
    assert "2026-11-22 completed cleanly" in fake.comments_of(opened.number)[-1]["body"]


def test_clean_run_without_health_issue_does_nothing(fake, repo):
    assert health.report_health(repo, summary()).action == "none"
    assert fake.writes() == []


def test_health_body_redacts_credentials_and_survives_a_malformed_summary():
    body = health.render_health_body({"date": "not a date", "topics": "oops", "error": "GET http://u:hunter22@h/x?token=abc"})
    assert "hunter22" not in body and "token=abc" not in body
    assert "an unknown day" in body and "| run |" in body


# --------------------------------------------------------------------------- commit mode


def test_commit_files_compares_with_the_remote_by_folder_listing(fake, repo):
    fake.files["README.md"] = b"old"
    fake.files["data/papers/2026-11.jsonl"] = b"same\n"
    fake.files["archive/t/2026-01.md"] = b"gone soon"
    files = {"README.md": b"new", "data/papers/2026-11.jsonl": b"same\n", "digests/2026/11/2026-11-20.md": b"# d\n"}

    result = commit.commit_files(repo, files, message="arXiv digest 2026-11-20", branch="main", deleted=["archive/t/2026-01.md"])

    assert result.changed == ["README.md", "digests/2026/11/2026-11-20.md"] and result.deleted == ["archive/t/2026-01.md"]
    assert fake.files["README.md"] == b"new" and fake.files["digests/2026/11/2026-11-20.md"] == b"# d\n"
    assert "archive/t/2026-01.md" not in fake.files
    assert [c["branch"] for c in fake.commits] == ["main"] * 3
    listings = [p for m, p in fake.requests if m == "GET" and "/contents" in p]
    assert len(listings) == 4  # one listing per folder (root, data/papers, digests/2026/11, archive/t), not per file
    assert commit.commit_files(repo, files, message="again").changed == []
    assert result.remote["digests/2026/11/2026-11-20.md"] == commit.git_blob_sha(b"# d\n")


def test_commit_keeps_readme_edits_made_on_github(fake, repo):
    fake.files["README.md"] = b"# Lab papers\n\nEdited on GitHub.\n\n<!-- paper-tracker:start -->\nold table\n<!-- paper-tracker:end -->\n"
    local = b"# Lab papers\n\nstale intro\n\n<!-- paper-tracker:start -->\nnew table\n<!-- paper-tracker:end -->\n"
    commit.commit_files(repo, {"README.md": local}, message="m", readme="README.md")
    assert fake.files["README.md"].decode() == (
        "# Lab papers\n\nEdited on GitHub.\n\n<!-- paper-tracker:start -->\nnew table\n<!-- paper-tracker:end -->\n"
    )


def test_issue_kinds_find_their_key_by_marker_only():
    class Issue:
        def __init__(self, title, body):
            self.title, self.body = title, body

    assert issues.DIGEST.key_of(Issue("x", "<!-- paper-tracker:digest date=2026-11-20 -->\nhi")) == "2026-11-20"
    assert issues.DIGEST.key_of(Issue("arXiv digest 2026-11-21: 3 new papers", "edited")) is None
    assert issues.WEEKLY.key_of(Issue("Weekly review 2026-W47", None)) is None
    assert issues.WEEKLY.key_of(Issue("x", "<!-- paper-tracker:digest date=2026-11-20 -->")) is None
