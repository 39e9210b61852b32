"""data/feedback.jsonl (tracker.store.feedback) and `tracker feedback` against the loopback GitHub."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_github import TOKEN
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tracker.cli.main import cli
from tracker.models import Paper
from tracker.store.feedback import load_feedback, load_feedback_records, save_feedback
from tracker.store.ledger import Ledger

DATE = "2026-11-20"


# --------------------------------------------------------------------------- the file


def test_missing_file_is_no_feedback(tmp_path):
    assert load_feedback(tmp_path / "nope.jsonl") == {}


def test_save_is_sorted_canonical_byte_stable_and_atomic(tmp_path):
    path = tmp_path / "data" / "feedback.jsonl"
    entries = {"2401.01234v2": "2026-11-29", "hep-th/9901001": {"ticked": "2026-11-28", "issue": 3, "note": "kept"}}
    assert save_feedback(path, entries) is True
    first = path.read_bytes()
    assert first.decode().splitlines() == [
        '{"id": "2401.01234", "ticked": "2026-11-29"}',
        '{"id": "hep-th/9901001", "issue": 3, "note": "kept", "ticked": "2026-11-28"}',
    ]
    assert save_feedback(path, dict(reversed(list(entries.items())))) is False  # same bytes: not rewritten
    assert load_feedback(path) == {"2401.01234": "2026-11-29", "hep-th/9901001": "2026-11-28"}
    assert load_feedback_records(path)["hep-th/9901001"]["note"] == "kept"  # unknown fields survive
    assert [p.name for p in path.parent.iterdir()] == ["feedback.jsonl"]  # no temp file left behind


def test_bad_lines_are_skipped_with_file_and_line(tmp_path, caplog):
    path = tmp_path / "feedback.jsonl"
    lines = [
        b'{"id": "2401.01234", "ticked": "2026-11-29"}',
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"id": "nonsense", "ticked": "2026-11-29"}',
        b'{"id": "2401.05555", "ticked": "yesterday"}',
        b'{"id": "2401.06666", "ticked": "2026-11-29", "issue": "twelve"}',
        b'{"id": "2401.01234v3", "ticked": "2026-11-02"}',  # the same paper again: the earliest tick wins
        '{"id": "2401.07777", "ticked": "2026-11-29", "issue": 12, "note": "a\u2028b"}'.encode(),  # raw U+2028 in a value
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    caplog.set_level(logging.WARNING)

    assert load_feedback(path) == {"2401.01234": "2026-11-02", "2401.07777": "2026-11-29"}
    warned = [r.getMessage() for r in caplog.records]
    for line in (2, 3, 4, 5, 6, 7):
        assert any(m.startswith(f"{path}:{line}: ") for m in warned), line
    assert any("'ticked'" in m and ":6:" in m for m in warned) and any("'issue'" in m for m in warned)


def test_saving_a_bad_entry_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'ticked'"):
        save_feedback(tmp_path / "f.jsonl", {"2401.01234": "soon"})
    assert not (tmp_path / "f.jsonl").exists()


# --------------------------------------------------------------------------- `tracker feedback`


PAPERS = [f"2611.0000{i}" for i in range(1, 6)]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\n")
    papers = {
        pid: Paper(pid, 1, f"Paper {pid}", "abstract", first_seen=DATE, topics=("LLM",), abs_url=f"https://arxiv.org/abs/{pid}v1")
        for pid in PAPERS
    }
    for path, content in Ledger(papers).files(tmp_path / "data").items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return tmp_path


def digest_body(date: str, ids: list[str], extra: str = "") -> str:
    items = "\n".join(f"- [ ] **[Paper {pid}](https://arxiv.org/abs/{pid}v1)** · `{pid}v1`" for pid in ids)
    return f"<!-- paper-tracker:digest date={date} -->\n# arXiv digest: {date}\n\n{items}\n{extra}"


def tick(text: str, pid: str, mark: str = "x") -> str:
    return text.replace(f"- [ ] **[Paper {pid}]", f"- [{mark}] **[Paper {pid}]")


def run_feedback(workdir, fake, *args, today=DATE, monkeypatch=None):
    return CliRunner().invoke(
        cli, ["feedback", "--config", str(workdir / "keywords.yaml"), *args],
        env={"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers",
             "TRACKER_GITHUB_WRITE_DELAY": "0"},
    )


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    import tracker.pipeline

    monkeypatch.setattr(tracker.pipeline, "today_utc", lambda: "2026-11-22")


def test_ticks_and_unticks_in_the_issue_body_and_comments_reach_the_feedback_file(workdir, fake, caplog):
    issue = fake.add_issue(f"arXiv digest {DATE}: 5 new papers", digest_body(DATE, PAPERS[:3]), ["digest"])
    part = fake.add_comment(issue["number"], digest_body(DATE, PAPERS[3:]).replace("digest date=", "digest-part date="), user="bot")
    result = run_feedback(workdir, fake)
    assert result.exit_code == 0, result.output
    assert load_feedback(workdir / "data" / "feedback.jsonl") == {}

    # a member ticks two papers by editing the body, one in the bot's continuation comment
    issue["body"] = tick(tick(issue["body"], PAPERS[0]), PAPERS[2], "X")
    part["body"] = tick(part["body"], PAPERS[4])
    result = run_feedback(workdir, fake)
    assert result.exit_code == 0, result.output
    assert "3 newly ticked" in result.output
    records = load_feedback_records(workdir / "data" / "feedback.jsonl")
    assert records == {pid: {"id": pid, "ticked": "2026-11-22", "issue": issue["number"]} for pid in (PAPERS[0], PAPERS[2], PAPERS[4])}

    # an untick removes it; the other ticks keep the date they were first seen
    issue["body"] = issue["body"].replace(f"- [x] **[Paper {PAPERS[0]}]", f"- [ ] **[Paper {PAPERS[0]}]")
    result = run_feedback(workdir, fake)
    assert "1 unticked" in result.output
    assert sorted(load_feedback(workdir / "data" / "feedback.jsonl")) == [PAPERS[2], PAPERS[4]]
    assert any(q.get("state") == "all" and q.get("labels") == "digest" and q.get("since") for q in fake.queries)


def test_garbage_and_strangers_comments_are_skipped_with_warnings(workdir, fake, caplog):
    caplog.set_level(logging.WARNING)
    garbage = "\n".join([
        "- [x] a ticked line without any link",
        "- [x] **[Unknown](https://arxiv.org/abs/2401.99999)**",
        "- [x] **[Broken](https://arxiv.org/abs/not-an-id)**",
        "```",
        f"- [x] **[In code](https://arxiv.org/abs/{PAPERS[3]})**",
        "```",
    ])
    issue = fake.add_issue(f"arXiv digest {DATE}: 5 new papers", tick(digest_body(DATE, PAPERS[:2], garbage), PAPERS[1]), ["digest"])
    stranger = tick(digest_body(DATE, [PAPERS[2]]), PAPERS[2]).replace("digest date=", "digest-part date=")
    fake.add_comment(issue["number"], stranger, user="someone")  # looks like ours, is not the bot's

    result = run_feedback(workdir, fake)

    assert result.exit_code == 0, result.output
    assert load_feedback(workdir / "data" / "feedback.jsonl") == {PAPERS[1]: "2026-11-22"}
    assert "3 items skipped" in result.output
    text = caplog.text
    assert f"#{issue['number']} line" in text and "without an arXiv link" in text
    assert "2401.99999 is not in the ledger" in text and "'not-an-id' is not an arXiv id" in text


def test_only_recent_digest_issues_are_read_and_older_ticks_are_kept(workdir, fake):
    path = workdir / "data" / "feedback.jsonl"
    old = fake.add_issue("arXiv digest 2026-10-01: 1 new paper", digest_body("2026-10-01", [PAPERS[0]]), ["digest"], state="closed")
    save_feedback(path, {PAPERS[0]: {"ticked": "2026-10-02", "issue": old["number"]}, PAPERS[1]: "2026-10-03"})
    fake.add_issue("Not a digest", tick(digest_body(DATE, [PAPERS[2]]), PAPERS[2]).replace("<!-- paper-tracker:digest date=2026-11-20 -->", ""), ["digest"])
    recent = fake.add_issue(f"arXiv digest {DATE}: 1 new paper", digest_body(DATE, [PAPERS[1], PAPERS[3]]), ["digest"])
    recent["body"] = tick(recent["body"], PAPERS[3])

    result = run_feedback(workdir, fake, "--days", "7")

    assert result.exit_code == 0, result.output
    # the old issue's untick is out of the window; PAPERS[1] was hand-added (no issue): kept
    assert load_feedback(path) == {PAPERS[0]: "2026-10-02", PAPERS[1]: "2026-10-03", PAPERS[3]: "2026-11-22"}
    assert "read 1 digest issue " in result.output
    assert json.loads(path.read_text().splitlines()[-1])["issue"] == recent["number"]


def test_feedback_needs_a_token(workdir, fake):
    result = CliRunner().invoke(cli, ["feedback", "--config", str(workdir / "keywords.yaml"), "--repo", "acme/papers"], env={"GITHUB_TOKEN": ""})
    assert result.exit_code == 1 and "GITHUB_TOKEN is not set" in result.output


def test_feedback_never_writes_beside_a_running_run(workdir, fake):
    import threading

    from tracker.store.lock import run_lock

    issue = fake.add_issue(f"arXiv digest {DATE}: 5 new papers", digest_body(DATE, PAPERS), ["digest"])
    issue["body"] = tick(issue["body"], PAPERS[0])
    held, release = threading.Event(), threading.Event()

    def a_run():
        with run_lock(workdir / ".tracker", command="tracker run"):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=a_run)
    holder.start()
    try:
        assert held.wait(5)
        env = {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers",
               "TRACKER_GITHUB_WRITE_DELAY": "0", "TRACKER_LOCK_WAIT_SECONDS": "0.2"}
        result = CliRunner().invoke(cli, ["feedback", "--config", str(workdir / "keywords.yaml")], env=env)
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 1 and "another tracker run is in progress" in result.output and "tracker run" in result.output
    assert not (workdir / "data" / "feedback.jsonl").exists()
    assert run_feedback(workdir, fake).exit_code == 0  # once the run is done, the tick is recorded
    assert load_feedback(workdir / "data" / "feedback.jsonl") == {PAPERS[0]: "2026-11-22"}
