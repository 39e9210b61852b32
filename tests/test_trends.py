"""Trends: the growth statistic, the weeks window, rising themes on hand-made vectors, and
`tracker trends` plus the weekly review end to end over several dated runs on the loopback arXiv."""
from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from tests.arxiv_fake import entry, feed
from tests.hostile import expected_shown, render_gfm, visible_text
from tests.search_fakes import HashEncoder, fixture_papers
from tests.test_charts import parse_xychart
from tracker import pipeline
from tracker.cli.main import cli
from tracker.config import load_settings
from tracker.enrich.trends import find_trends, growth, is_news, select_window
from tracker.models import Paper
from tracker.enrich.stage import week_trends
from tracker.pipeline import weekly_review_files
from tracker.render.weekly import build_review

END = "2026-03-29"  # a Sunday: weeks Mar 2-8, 9-15, 16-22, 23-29


def paper(pid: str, seen: str, *, topics=("T",), published: str | None = None, title: str = "A paper",
          relevance: float | None = None) -> Paper:
    published = published or (dt.date.fromisoformat(seen) - dt.timedelta(days=1)).isoformat()
    return Paper(id=pid, version=1, title=title, abstract="An abstract.", topics=topics, first_seen=seen,
                 published=f"{published}T00:00:00Z", relevance=relevance)


# --- growth -----------------------------------------------------------------------------

def test_one_then_two_papers_a_week_is_not_rising_but_a_new_burst_is():
    share = 0.25  # four weeks of equal size
    assert growth(2, 3, share)[0] < 1  # 1, 1, 1 -> 2
    assert growth(2, 0, share)[0] < 1  # 0 -> 2: could be chance
    assert growth(3, 0, share)[0] > 1 and growth(5, 0, share)[0] > growth(3, 0, share)[0]
    assert growth(20, 30, share)[0] > 1  # 10 a week -> 20
    low, median = growth(5, 0, share)
    assert low < median


def test_growth_is_relative_to_how_many_papers_arrived_this_week():
    # the theme doubled, but so did everything: this week holds 2/5 of all papers, not 1/4
    assert growth(4, 6, 0.4)[1] == pytest.approx(growth(2, 6, 0.25)[1], rel=0.5)
    assert growth(4, 6, 0.4)[0] < 1


# --- the window ------------------------------------------------------------------------

def test_window_is_n_weeks_of_seven_days_ending_on_the_date():
    papers = [paper("a", "2026-03-01"), paper("b", "2026-03-02"), paper("c", "2026-03-08"), paper("d", "2026-03-09"),
              paper("e", "2026-03-29"), paper("f", "2026-03-30")]
    window = select_window(papers, END, 4)
    assert [(w.start, w.end) for w in window.weeks] == [
        ("2026-03-02", "2026-03-08"), ("2026-03-09", "2026-03-15"), ("2026-03-16", "2026-03-22"), ("2026-03-23", "2026-03-29")]
    assert dict(zip((p.id for p in window.papers), window.week)) == {"b": 0, "c": 0, "d": 1, "e": 3}
    assert [w.papers for w in window.weeks] == [2, 1, 0, 1]


def test_backfill_old_revisions_and_untracked_papers_are_not_news():
    old = paper("old", "2026-03-24", published="2025-06-01")  # a new topic's backfill, or an old paper revised
    rss = Paper(id="rss", version=1, title="t", abstract="a", topics=("T",), first_seen="2026-03-24")  # no date: counts
    profile = paper("own", "2026-03-24", topics=())  # the group's own paper: tracked by no topic
    other = paper("x", "2026-03-24", topics=("U",))
    garbled = Paper(id="bad", version=1, title="t", abstract="a", topics=("T",), first_seen="someday", published="2026-13-45")
    window = select_window([old, rss, profile, other, garbled, paper("y", "2026-03-25")], END, 4, topic="T")
    assert [p.id for p in window.papers] == ["rss", "y"]
    assert not is_news(old) and is_news(rss)


def test_weeks_before_the_first_run_are_not_tracked():
    window = select_window([paper("a", "2026-03-18"), paper("b", "2026-03-25")], END, 4)
    assert [w.tracked for w in window.weeks] == [False, False, True, True]


# --- rising themes on hand-made vectors ---------------------------------------------------

def timeline(seed=0, steady=4, burst=5, dim=24):
    """Three steady themes (`steady` papers a week each) and a burst theme in the last week only."""
    rng = np.random.default_rng(seed)
    papers, rows = [], []
    start = dt.date.fromisoformat(END) - dt.timedelta(days=27)
    for week in range(4):
        for theme in range(3):
            for k in range(steady):
                papers.append(paper(f"2603.{week}{theme}{k:03d}", (start + dt.timedelta(days=7 * week + k % 7)).isoformat(),
                                    title=f"steady{theme}"))
                rows.append(np.eye(dim)[theme] * 10 + rng.normal(size=dim))
    for k in range(burst):
        papers.append(paper(f"2603.9{k:04d}", (start + dt.timedelta(days=21 + k % 7)).isoformat(), title="burst",
                            relevance=k / 10))
        rows.append(np.eye(dim)[5] * 10 + rng.normal(size=dim))
    return papers, np.array(rows)


def trends_of(papers, vectors, **kwargs):
    window = select_window(papers, END, 4)
    rows = {p.id: k for k, p in enumerate(papers)}
    return find_trends(window, vectors[[rows[p.id] for p in window.papers]], **kwargs)


def test_a_new_burst_ranks_first_and_steady_themes_do_not_rise():
    papers, vectors = timeline()
    report = trends_of(papers, vectors)
    top = report.themes[0]
    assert top.rising and set(top.papers) == {p.id for p in papers if p.title == "burst"}
    assert top.weekly_counts == (0, 0, 0, 5)
    steady = [t for t in report.themes if t is not top]
    assert steady and not any(t.rising for t in steady)
    assert sorted(t.weekly_counts for t in steady) == [(4, 4, 4, 4)] * 3
    assert report.rising == [top]


def test_a_small_burst_among_many_papers_is_still_found():
    papers, vectors = timeline(seed=1, steady=12, burst=4)
    top = trends_of(papers, vectors).themes[0]
    assert top.rising and set(top.papers) == {p.id for p in papers if p.title == "burst"}


def test_trends_do_not_depend_on_input_order_and_follow_the_key():
    papers, vectors = timeline(seed=2)
    expected = trends_of(papers, vectors, key=lambda p: p.relevance or 0.0)
    assert expected.themes[0].papers == tuple(f"2603.9{k:04d}" for k in range(4, -1, -1))  # by relevance
    order = list(range(len(papers)))
    random.Random(3).shuffle(order)
    again = trends_of([papers[k] for k in order], vectors[order], key=lambda p: p.relevance or 0.0)
    assert again == expected


def test_no_earlier_tracked_week_means_nothing_is_called_rising():
    papers, vectors = timeline()
    last = [k for k, p in enumerate(papers) if p.first_seen >= "2026-03-23"]
    report = trends_of([papers[k] for k in last], vectors[last])
    assert report.themes and all(t.growth is None and not t.rising for t in report.themes)


def test_empty_window_and_mismatched_vectors():
    assert trends_of([], np.zeros((0, 4))).themes == ()
    window = select_window([paper("a", "2026-03-25")], END, 4)
    with pytest.raises(ValueError, match="1 papers"):
        find_trends(window, np.zeros((2, 4)))


def test_json_shape():
    papers, vectors = timeline()
    data = json.loads(json.dumps(trends_of(papers, vectors).to_dict()))
    theme = data["themes"][0]
    assert set(theme) >= {"label", "papers", "weekly_counts", "growth", "rising"}
    assert theme["rising"] and theme["growth"] > 1 and len(theme["weekly_counts"]) == 4
    assert [w["tracked"] for w in data["weeks"]] == [True] * 4


# --- the weekly review (pure parts) -------------------------------------------------------

def test_review_of_a_week_lists_rising_themes_picks_and_counts():
    papers, vectors = timeline()
    review = build_review(*week_trends(papers, vectors, END), END, topics=["T", "Quiet"])
    assert review.week == "2026-W13" and (review.start, review.end) == ("2026-03-23", "2026-03-29")
    assert review.new_papers == 17 and len(review.rising) == 1
    assert {p.title for p in review.rising[0].best} == {"burst"} and review.rising[0].more == 2
    assert [p.relevance for p in review.top_picks] == [0.4, 0.3, 0.2, 0.1, 0.0]
    assert [(t.name, t.this_week, t.before) for t in review.topics] == [("T", 17, (12, 12, 12)), ("Quiet", 0, (0, 0, 0))]
    assert parse_xychart(review.chart.mermaid)["series"] == [("line", [0, 0, 0, 5])]


def test_weeks_before_the_tracker_ran_are_left_out_of_the_review_not_drawn_as_zeros():
    from tracker.render.markdown import environment

    papers, vectors = timeline()
    since = [k for k, p in enumerate(papers) if p.first_seen >= "2026-03-16"]  # the tracker's first run: Mar 16
    review = build_review(*week_trends([papers[k] for k in since], vectors[since], END), END, topics=["T"])
    chart = parse_xychart(review.chart.mermaid)
    assert chart["x"] == ["Mar 16", "Mar 23"] and chart["series"] == [("line", [0, 5])]
    assert chart["title"].endswith("2026-03-16 to 2026-03-29")
    assert review.rising[0].counts == (0, 5) and review.topics[0].before == (12,)
    page = environment(None).get_template("weekly.md.j2").render(r=review)
    assert "compared with the 1 week before" in page and "weekly papers: 0, 5)" in page and "| T | 17 | 12 |" in page


def test_no_review_before_the_tracker_ran_a_week_or_without_vectors_no_themes():
    papers, vectors = timeline()
    assert build_review(*week_trends([p for p in papers if p.first_seen >= "2026-03-23"], None, END), END) is None
    review = build_review(*week_trends(papers, None, END), END)
    assert review is not None and not review.embedded and review.rising == () and review.chart is None


# --- end to end: several dated runs on the loopback arXiv -------------------------------------

QUERY = '(ti:"testing" OR abs:"testing")'
RUNS = ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"]  # Mondays
HOSTILE_TITLE = "Surface-code decoders | <b>$x_1$</b> @team #12 *fast*"
BURST = [  # a coherent sub-topic that appears only in the last week
    (HOSTILE_TITLE, "Surface code decoders for quantum error correction: we decode surface code syndromes with "
                    "matching decoders and measure logical error rates of the surface code."),
    ("Neural decoders for the surface code", "Neural surface code decoders learn syndromes; logical error rates of "
                                              "quantum error correction drop with our surface code decoders."),
    ("Fast matching decoders", "Matching decoders for surface code syndromes: quantum error correction with lower "
                               "logical error rates; surface code decoders in real time."),
    ("Decoding biased noise", "Surface code decoders under biased noise: syndromes, matching decoders and logical "
                              "error rates for quantum error correction with the surface code."),
    ("Surface codes on hardware", "We run surface code decoders on hardware syndromes; quantum error correction with "
                                  "matching decoders reaches low logical error rates of the surface code."),
]


def _batches():
    ordinary = sorted(fixture_papers(), key=lambda p: p.id)
    random.Random(7).shuffle(ordinary)
    batches = []
    for k, day in enumerate(RUNS):
        published = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat() + "T18:00:00Z"
        batch = [entry(p.id, title=p.title, abstract=p.abstract, updated=published) for p in ordinary[8 * k: 8 * k + 8]]
        if day == RUNS[-1]:
            batch += [entry(f"2603.{9000 + n}", title=t, abstract=a, updated=published) for n, (t, a) in enumerate(BURST)]
        batches.append(batch)
    return batches


@pytest.fixture
def tracked(arxiv_server, write_config, tmp_path):
    """Five Monday runs; the last one brings the burst. Returns (config, encoder)."""
    config = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 100\n")
    encoder = HashEncoder(dim=512)
    settings = load_settings(config)
    for day, batch in zip(RUNS, _batches()):
        arxiv_server.once[(QUERY, 0)] = [feed(batch)]
        pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=day, encoder=encoder)
    return config, encoder


def test_trends_and_weekly_review_end_to_end(tracked, tmp_path, arxiv_server):
    tracked_server = arxiv_server
    config, encoder = tracked
    burst = {f"2603.{9000 + n}" for n in range(len(BURST))}
    result = CliRunner().invoke(cli, ["trends", "--config", str(config), "--date", RUNS[-1], "--json"],
                                obj={"encoder": encoder})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    top = data["themes"][0]
    assert top["rising"] and set(top["papers"]) == burst and top["weekly_counts"] == [0, 0, 0, 5]
    assert all(not t["rising"] for t in data["themes"][1:])
    assert [w["papers"] for w in data["weeks"]] == [8, 8, 8, 13]

    text = CliRunner().invoke(cli, ["trends", "--config", str(config), "--date", RUNS[-1]], obj={"encoder": encoder})
    assert text.exit_code == 0 and "Rising:" in text.output and "2603.9000" in text.output
    assert "Surface-code decoders | <b>$x_1$</b> @team #12 *fast*" in text.output

    # one review per ISO week from the second week on, named after the week it was issued in
    reviews = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "digests").rglob("week-*.md"))
    assert reviews == ["digests/2026/week-11.md", "digests/2026/week-12.md", "digests/2026/week-13.md",
                       "digests/2026/week-14.md"]
    page = (tmp_path / "digests/2026/week-14.md").read_text(encoding="utf-8")
    assert page.splitlines()[0] == "# Weekly review 2026-W14"
    assert top["label"] in page and parse_xychart(page)["series"] == [("line", [0, 0, 0, 5])]
    shown = visible_text(render_gfm(page))
    assert expected_shown(HOSTILE_TITLE) in shown
    assert "| Testing | 13 | 8, 8, 8 |" in page
    quiet = (tmp_path / "digests/2026/week-12.md").read_text(encoding="utf-8")
    assert "No theme grew faster" in quiet

    # the README shows the weekly activity chart; a second run the same day changes nothing
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert parse_xychart(readme)["series"][0][0] == "line"
    settings = load_settings(config)
    tracked_server.once[(QUERY, 0)] = [feed(_batches()[-1])]
    again = pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=RUNS[-1], encoder=encoder)
    assert again.outputs == [] and (tmp_path / "digests/2026/week-14.md").read_text(encoding="utf-8") == page


def test_trends_cli_names_the_known_topics_and_needs_embeddings(tracked):
    config, encoder = tracked
    bad = CliRunner().invoke(cli, ["trends", "--config", str(config), "--topic", "Nope"], obj={"encoder": encoder})
    assert bad.exit_code == 2 and "'Testing'" in bad.output
    ok = CliRunner().invoke(cli, ["trends", "--config", str(config), "--topic", "testing", "--date", RUNS[-1], "--json"],
                            obj={"encoder": encoder})
    assert ok.exit_code == 0 and json.loads(ok.output)["topic"] == "Testing"
    no_model = CliRunner().invoke(cli, ["trends", "--config", str(config)])
    assert no_model.exit_code == 1 and "embedding.enabled" in no_model.output


def test_weekly_review_respects_its_settings(tmp_path):
    from tracker.config import Settings

    papers, vectors = timeline()
    base = {"topics": [{"name": "T", "keywords": ["t"]}], "base_dir": tmp_path}
    monday = "2026-03-30"
    assert weekly_review_files(Settings(**base, weekly={"enabled": False}), papers, vectors, monday) == {}
    assert weekly_review_files(Settings(**base, weekly={"weekday": 3}), papers, vectors, monday) == {}  # before Wed
    files = weekly_review_files(Settings(**base, weekly={"weekday": 1, "weeks": 3}), papers, vectors, monday)
    (path, page), = files.items()
    assert path == tmp_path / "digests" / "2026" / "week-14.md" and "the 2 weeks before" in page


# --- a burst held whole -------------------------------------------------------------------

def heterogeneous_timeline(seed: int, kinds: int = 4, per_kind: int = 2, mix: float = 0.6, dim: int = 32):
    """`kinds` steady themes (4 papers a week each) and, in the last week only, a burst of `per_kind`
    papers of each kind: each shares the burst's direction (`mix`) with its kind's steady theme
    (video RL: video, and reinforcement learning), so the tree files its papers under old themes."""
    rng = np.random.default_rng(seed)
    papers, rows = [], []
    start = dt.date.fromisoformat(END) - dt.timedelta(days=27)
    for week in range(4):
        for theme in range(kinds):
            for k in range(4):
                day = (start + dt.timedelta(days=7 * week + k)).isoformat()
                papers.append(paper(f"2603.{week}{theme}{k:03d}", day, title=f"steady{theme}"))
                rows.append(np.eye(dim)[theme] * 10 + rng.normal(size=dim))
    for kind in range(kinds):
        for k in range(per_kind):
            papers.append(paper(f"2603.9{kind}{k:03d}", (start + dt.timedelta(days=21 + k)).isoformat(), title="burst"))
            rows.append((np.eye(dim)[dim - 1] * mix + np.eye(dim)[kind] * (1 - mix)) * 10 + rng.normal(size=dim))
    return papers, np.array(rows)


def test_a_burst_of_several_kinds_is_held_whole_by_the_first_rising_theme():
    pure = []
    for seed in range(10):
        papers, vectors = heterogeneous_timeline(seed)
        burst = {p.id for p in papers if p.title == "burst"}
        top = trends_of(papers, vectors).themes[0]
        assert top.rising and burst <= set(top.papers), seed
        pure.append(len(set(top.papers) - burst) <= 0.2 * len(top.papers))  # strangers: at most one in five
    assert sum(pure) >= 9


def ordinary_timeline(seed: int, per_week: int = 25, topics: int = 8, dim: int = 32):
    """Four weeks of `per_week` papers, each of a random one of `topics` topics: the same mix every week."""
    rng = np.random.default_rng(seed)
    start = dt.date.fromisoformat(END) - dt.timedelta(days=27)
    papers, rows = [], []
    for week in range(4):
        for k in range(per_week):
            papers.append(paper(f"2603.{week}{k:04d}", (start + dt.timedelta(days=7 * week + k % 7)).isoformat()))
            rows.append(np.eye(dim)[rng.integers(topics)] * 10 + rng.normal(size=dim))
    return papers, rows, rng


def planted(papers, rows, rng, direction: np.ndarray, count: int, name: str):
    """`count` papers along `direction` in the last week, titled `name`."""
    start = dt.date.fromisoformat(END) - dt.timedelta(days=6)
    for k in range(count):
        papers.append(paper(f"2603.9{name}{k:03d}", (start + dt.timedelta(days=k % 7)).isoformat(), title=name))
        rows.append(direction * 10 + rng.normal(size=len(direction)))


def test_without_a_burst_chance_gatherings_of_ordinary_papers_are_not_called_bursts():
    from tracker.enrich.trends import rising_bursts

    found = 0
    for seed in range(10):
        papers, rows, _ = ordinary_timeline(seed)
        vectors = np.array(rows) / np.linalg.norm(rows, axis=1, keepdims=True)
        now = np.array([p.first_seen >= "2026-03-23" for p in papers])
        found += len(rising_bursts(vectors, now, ~now))
    assert found <= 1


def test_two_bursts_at_once_are_both_found_the_bigger_first():
    for seed in range(5):
        papers, rows, rng = ordinary_timeline(seed)
        planted(papers, rows, rng, np.eye(32)[20], 8, "big")
        planted(papers, rows, rng, np.eye(32)[25], 4, "small")
        report = trends_of(papers, np.array(rows))
        for theme, name in zip(report.themes[:2], ("big", "small"), strict=True):
            ids = {p.id for p in papers if p.title == name}
            assert theme.rising and set(theme.papers) == ids, (seed, name)


def test_a_ball_grows_from_a_theme_over_this_weeks_papers_and_stops_at_the_old_ones():
    from tracker.enrich.bursts import grow

    rng = np.random.default_rng(1)
    burst = np.eye(6)[0] * 10 + rng.normal(size=(6, 6))
    old = np.eye(6)[1] * 10 + rng.normal(size=(12, 6))
    new_ordinary = np.eye(6)[1] * 10 + rng.normal(size=(4, 6))  # this week, like the old weeks' papers
    vectors = np.vstack([burst, old, new_ordinary])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    now = np.array([True] * 6 + [False] * 12 + [True] * 4)
    free = np.ones(len(vectors), bool)
    assert grow(vectors, np.array([0, 1, 2]), now, ~now, free)[:6].tolist() == list(range(6))
    free[4:6] = False  # taken by another theme
    assert grow(vectors, np.array([0, 1, 2]), now, ~now, free)[:4].tolist() == list(range(4))
    assert grow(vectors, np.array([0, 18]), now, ~now, free, min_now=30).tolist() == [0, 18]  # no ball big enough
