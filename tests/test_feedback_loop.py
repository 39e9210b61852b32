"""Issue 11 end to end: ticks in the daily issue teach the next day's top picks.

Day 1 runs against the loopback arXiv and is published to the loopback GitHub; a member ticks
three graph papers by editing the issue body; `tracker feedback` records the ticks; day 2's
run (no profile configured at all) opens with top picks learned from those ticks alone.
The real pipeline, PyGithub and HTTP throughout; a bag-of-words encoder stands in for the model.
"""
from __future__ import annotations

import random
import re

import pytest
from click.testing import CliRunner

from tests.arxiv_fake import entry, feed
from tests.fake_github import TOKEN
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.search_fakes import HashEncoder
from tracker import pipeline
from tracker.cli.main import cli
from tracker.config import load_settings
from tracker.store.feedback import load_feedback

QUERY = '(ti:"learning" OR abs:"learning")'
GRAPH = ("graph neural network message passing node edge molecule molecular property link prediction "
         "subgraph isomorphism spectral convolution adjacency heterophily oversmoothing citation network").split()
SPEECH = ("speech recognition acoustic phoneme audio transcription spoken utterance speaker diarization "
          "waveform vocoder prosody keyword spotting microphone noisy far-field accent").split()


def papers(day: int, start: int, kind: str, words: list[str], n: int, hour: int) -> list:
    """n distinct papers of one kind: each draws its own handful of the kind's words."""
    rng = random.Random(start)
    out = []
    for i in range(n):
        picked = rng.sample(words, 8)
        out.append(entry(f"2611.{start + i:05d}", title=f"{picked[0].title()} and {picked[1]} with {picked[2]}",
                         abstract=f"We study learning for {' '.join(picked)}.",
                         updated=f"2026-11-{day:02d}T{hour + i:02d}:00:00Z", published=f"2026-11-{day:02d}T{hour + i:02d}:00:00Z"))
    return out


def run_day(config, date):
    settings = load_settings(config)
    return pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=date, encoder=HashEncoder(dim=512))


def cli_env(fake):
    return {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers",
            "TRACKER_GITHUB_WRITE_DELAY": "0"}


@pytest.fixture
def config(write_config):
    return write_config("- name: ML\n  keywords: [learning]\n",
                        extra="output:\n  readme_rows: 50\n  digest_max_papers: 50\nthemes:\n  min_papers: 100\n")


def top_picks(digest: str) -> list[str]:
    section = digest.split("## Top picks", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"arxiv\.org/abs/(2611\.\d{5})", section)


def test_three_ticks_in_the_issue_lift_the_next_days_top_picks(arxiv_server, config, fake, tmp_path, monkeypatch):
    day1 = papers(20, 1, "graph", GRAPH, 6, 1) + papers(20, 101, "speech", SPEECH, 6, 8)
    arxiv_server.add_pages(QUERY, {0: feed(day1, total=len(day1))})
    run_day(config, "2026-11-20")
    assert "## Top picks" not in (tmp_path / "digests/2026/11/2026-11-20.md").read_text()  # no profile, no ticks yet

    published = CliRunner().invoke(cli, ["publish", "--date", "2026-11-20", "--config", str(config)], env=cli_env(fake))
    assert published.exit_code == 0, published.output
    issue = next(i for i in fake.issues.values() if i["title"].startswith("arXiv digest 2026-11-20"))
    liked = ["2611.00001", "2611.00003", "2611.00005"]
    for pid in liked:  # a member ticks three graph papers by editing the issue body
        issue["body"] = re.sub(rf"- \[ \](?=[^\n]*arxiv\.org/abs/{re.escape(pid)})", "- [x]", issue["body"])

    monkeypatch.setattr(pipeline, "today_utc", lambda: "2026-11-21")
    recorded = CliRunner().invoke(cli, ["feedback", "--config", str(config)], env=cli_env(fake))
    assert recorded.exit_code == 0, recorded.output
    assert sorted(load_feedback(tmp_path / "data" / "feedback.jsonl")) == liked

    # Day 2: the speech papers are newer, so date order would put them first.
    day2 = papers(21, 201, "graph", GRAPH, 5, 1) + papers(21, 301, "speech", SPEECH, 5, 10)
    arxiv_server.add_pages(QUERY, {0: feed(day2 + day1, total=len(day2 + day1))})
    run_day(config, "2026-11-21")
    digest = (tmp_path / "digests/2026/11/2026-11-21.md").read_text()
    picks = top_picks(digest)
    assert len(picks) == 5
    assert sum(pid.startswith("2611.002") for pid in picks) >= 4, picks  # graph papers, like the ticks
    assert not set(picks) & set(liked)  # papers the group already liked are never picks
