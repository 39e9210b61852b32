"""The first hour with the tracker (issue 21): plain config messages on the right line, `--config`
on either side of the command name, `render` without `--date`, a feed that keeps real digests,
counts in words, progress on a terminal and plain lines in a log. Real CLI invocations throughout."""
from __future__ import annotations

import datetime as dt
import json
import os
import pty
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.arxiv_fake import fixture
from tracker.cli.main import cli
from tracker.text import counted

ROOT = Path(__file__).resolve().parent.parent
TESTING = '(ti:"testing" OR abs:"testing")'


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="tracker")


def check(tmp_path: Path, text: str) -> list[str]:
    """`tracker check` on a config with `text`: the error lines."""
    config = tmp_path / "k.yaml"
    config.write_text(textwrap.dedent(text), encoding="utf-8")
    result = invoke("check", "--config", config)
    assert result.exit_code == 2, result.output
    return [line.replace(str(config), "k.yaml") for line in result.stderr.splitlines()]


# --- config messages ---------------------------------------------------------------------

@pytest.mark.parametrize("opener, closer, word", [("[", "]", "["), ("{", "}", "{"), ('"', "", "quote"), ("'", "", "quote")])
@pytest.mark.parametrize("line_after", ["  - name: B\n    keywords: [c]\n", "arxiv:\n  page_size: 5\n", ""])
def test_an_unclosed_bracket_or_quote_is_reported_on_the_line_that_opens_it(tmp_path, opener, closer, word, line_after):
    lines = check(tmp_path, f"# a comment\ntopics:\n  - name: A\n    keywords: {opener}a, b\n{line_after}")
    assert len(lines) == 1
    assert lines[0].startswith(f"error: k.yaml:4: invalid YAML: this {word} is never closed"), lines


@pytest.mark.parametrize("text, line", [
    ("topics:\n  - name: A\n    keywords: [a]\n   - name: B\n    keywords: [c]\n", 4),  # a list item one column off
    ("topics:\n- name: A\n  keywords: [a]\n  exclude:\n    - x\n bad: 1\n", 6),  # a key between two levels
    ("arxiv:\n    page_size: 5\n  retries: 2\ntopics:\n  - name: A\n    keywords: [a]\n", 3),
])
def test_a_bad_indent_is_a_plain_sentence_on_its_line(tmp_path, text, line):
    lines = check(tmp_path, text)
    assert len(lines) == 1 and lines[0].startswith(f"error: k.yaml:{line}: invalid YAML: "), lines
    assert "indented differently" in lines[0]
    assert "<block" not in lines[0]  # no parser vocabulary


def test_a_tab_in_the_indentation_says_so(tmp_path):
    lines = check(tmp_path, "topics:\n  - name: A\n\tkeywords: [a]\n")
    assert lines == ["error: k.yaml:3: invalid YAML: a tab in the indentation: indent with spaces only"]


@pytest.mark.parametrize("text, line, key, suggestion", [
    ("topics:\n  - name: A\n    keyword: [a]\n", 3, "topics[A].keyword", "keywords"),
    ("topics:\n  - name: A\n    keywords: [a]\n    Query: x\n", 4, "topics[A].Query", "query"),
    ("topics:\n  - name: A\n    keywords: [a]\narxiv:\n  page_sise: 5\n", 5, "arxiv.page_sise", "page_size"),
    ("topics:\n  - name: A\n    keywords: [a]\noutputs:\n  readme_rows: 5\n", 4, "outputs", "output"),
    ("topics:\n  - name: A\n    keywords: [a]\nprofiles:\n  - name: me\n    interest: [x]\n", 6, "profiles[me].interest", "interests"),
    ("topics:\n  - name: A\n    keywords: [a]\nweekly:\n  weekdy: 2\n", 5, "weekly.weekdy", "weekday"),
])
def test_an_unknown_key_at_any_level_gets_the_close_key_suggested(tmp_path, text, line, key, suggestion):
    assert check(tmp_path, text) == [f"error: k.yaml:{line}: unknown key `{key}`; did you mean `{suggestion}`?"]


def test_an_unknown_key_with_nothing_close_lists_the_keys_allowed_there(tmp_path):
    [line] = check(tmp_path, "topics:\n  - name: A\n    keywords: [a]\narxiv:\n  zzqx: 1\n")
    assert line.startswith("error: k.yaml:5: unknown key `arxiv.zzqx`; the keys allowed here are ")
    assert "`page_size`" in line and "`topics`" not in line  # arxiv's keys, not the top level's


def test_an_empty_topic_list_asks_for_a_topic_in_plain_words(tmp_path):
    [line] = check(tmp_path, "topics: []\n")
    assert line.startswith("error: k.yaml:1: `topics` is empty: add at least one topic")
    assert "List should have" not in line


@pytest.mark.parametrize("categories, query", [("[cs.CL]", "cat:cs.CL"), ("[cs.CL, stat.ML]", "cat:cs.CL OR cat:stat.ML")])
def test_a_topic_with_only_categories_is_shown_the_exact_query_line(tmp_path, categories, query):
    [line] = check(tmp_path, f"topics:\n  - name: NLP\n    categories: {categories}\n")
    assert line.startswith("error: k.yaml:2: ") and f"write `query: {query}`" in line
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(f"topics:\n  - name: NLP\n    query: {query}\n")  # the suggestion, as written, is valid
    assert invoke("check", "--config", fixed).exit_code == 0


# --- the command line --------------------------------------------------------------------

@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "elsewhere" / "k.yaml"
    path.parent.mkdir()
    path.write_text("topics:\n  - name: A\n    keywords: [a]\n")
    return path


@pytest.mark.parametrize("before", [True, False])
@pytest.mark.parametrize("command", [["check"], ["trends"], ["notify", "--dry-run"]])
def test_config_is_accepted_before_or_after_the_command_name(tmp_path, monkeypatch, config, before, command):
    monkeypatch.chdir(tmp_path)  # no keywords.yaml here: the default would fail
    args = ["--config", config, *command] if before else [*command, "--config", config]
    result = invoke(*args)
    assert "config file not found" not in result.output
    assert result.exit_code in (0, 1), result.output


def test_two_different_configs_are_a_usage_error(config, tmp_path):
    result = invoke("--config", config, "check", "--config", tmp_path / "other.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '--config': given twice, as {config} and {tmp_path / 'other.yaml'}; keep one "
        "(see `tracker check --help`)"]


def test_without_config_the_default_is_keywords_yaml_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "keywords.yaml: config file not found" in invoke("check").stderr
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: Only\n    keywords: [a]\n")
    assert "OK: 1 topic;" in invoke("check").output


def test_feedback_asks_only_for_read_access(tmp_path, monkeypatch, config):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = invoke("feedback", "--config", config, "--repo", "acme/papers")
    assert result.exit_code != 0
    assert "read access to issues" in result.stderr and "write" not in result.stderr
    assert "read access to issues only" in invoke("feedback", "--help").output


@pytest.mark.parametrize("count, word, plural, text", [
    (0, "file", None, "0 files"), (1, "file", None, "1 file"), (2, "file", None, "2 files"),
    (1, "entry", "entries", "1 entry"), (3, "entry", "entries", "3 entries"),
])
def test_counts_are_in_words(count, word, plural, text):
    assert counted(count, word, plural) == text


def test_no_command_prints_a_made_up_plural():
    for path in (ROOT / "tracker").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "echo" in line or "lines.append" in line or "f\"wrote" in line:
                assert "(s)" not in line and "(ies)" not in line, f"{path}:{number}: {line.strip()}"


# --- render without --date, and the feed -------------------------------------------------

@pytest.fixture
def fetched(arxiv_server, write_config):
    """A project whose ledger holds one day, 2026-04-13, of recorded arXiv papers."""
    arxiv_server.add_pages(TESTING, {0: fixture("api_search_testing_page_start0_max10.xml")})
    path = write_config("- name: Testing\n  keywords: [testing]\n", extra="output:\n  readme_rows: 10\n")
    assert invoke("run", "--config", path, "--date", "2026-04-13", "--no-embed").exit_code == 0
    return path


def feed_dates(project: Path) -> list[str]:
    text = (project / "digests" / "feed.xml").read_text()
    return [line.strip()[9:19] for line in text.splitlines() if line.strip().startswith("<updated>")][1:]


def test_render_without_a_date_renders_the_latest_day_with_papers(fetched):
    project = fetched.parent
    before = sorted(p.relative_to(project).as_posix() for p in (project / "digests").rglob("*.md"))
    result = invoke("render", "--config", fetched, "--no-embed")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("rendered 2026-04-13 (the latest day with papers): wrote ")
    after = sorted(p.relative_to(project).as_posix() for p in (project / "digests").rglob("*.md"))
    assert after == before == ["digests/2026/04/2026-04-13.md"]  # no empty digest for today
    assert feed_dates(project) == ["2026-04-13"]


def test_render_refuses_a_day_after_today_or_before_the_first_run(fetched):
    tomorrow = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    for day, reason in ((tomorrow, "is after today"), ("2026-04-12", "is before the ledger's first run (2026-04-13)")):
        result = invoke("render", "--config", fetched, "--no-embed", "--date", day)
        assert result.exit_code == 2
        assert len(result.stderr.splitlines()) == 1 and reason in result.stderr
        assert not (fetched.parent / "digests" / day[:4] / day[5:7] / f"{day}.md").exists()


@pytest.mark.parametrize("empty_day", ["2026-04-14", "2026-06-30"])  # the next day, and far beyond the feed's window
def test_an_empty_day_never_pushes_a_real_digest_out_of_the_feed(fetched, empty_day):
    result = invoke("render", "--config", fetched, "--no-embed", "--date", empty_day)
    assert result.exit_code == 0, result.output
    assert (fetched.parent / "digests" / empty_day[:4] / empty_day[5:7] / f"{empty_day}.md").is_file()
    assert feed_dates(fetched.parent) == [empty_day, "2026-04-13"]


def test_the_feed_window_counts_back_from_the_last_day_with_papers_or_failures(tmp_path):
    from tracker.render.feed import digest_feed

    digests = tmp_path / "digests"
    pages = {}
    days = {"2026-01-02": {"new_total": 2}, "2026-01-20": {"revised_total": 1},
            "2026-03-01": {"failures": [{"topic": "A", "error": "HTTP 500"}]}, "2026-05-01": {}, "2026-06-01": {}}
    for day, data in days.items():
        page = digests / day[:4] / day[5:7] / f"{day}.md"
        pages[page] = f"# arXiv digest: {day}\n"
        pages[page.with_suffix(".json")] = json.dumps({"version": 1, "new_total": 0, "revised_total": 0, "failures": [], **data})
    _, feed = digest_feed(digests, tmp_path, pending=pages, days=30)
    shown = [day for day in days if f"{day}.md" in feed]
    assert shown == ["2026-03-01", "2026-05-01", "2026-06-01"]  # 30 days back from the failure day, empties after it
    _, feed = digest_feed(digests, tmp_path, pending=pages, days=45)
    assert [day for day in days if f"{day}.md" in feed] == ["2026-01-20", "2026-03-01", "2026-05-01", "2026-06-01"]


# --- progress ----------------------------------------------------------------------------

def run_with_stderr_on(tty: bool, config: Path, delay: str = "0") -> tuple[str, str]:
    """`tracker run --json` in a subprocess, stderr on a pseudo-terminal or a pipe: (stdout, stderr).
    `delay`: seconds of work before progress shows (0 here: the loopback answers at once)."""
    command = [sys.executable, "-m", "tracker", "run", "--config", str(config), "--date", "2026-04-13", "--no-embed", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKER_PROGRESS_DELAY": delay}
    env.pop("COLUMNS", None)
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the child is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = proc.stdout.read().decode()
        assert proc.wait(timeout=120) == 0
    os.close(leader)
    return stdout, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def two_topics(arxiv_server, write_config):
    for query in (TESTING, '(ti:"fuzzing" OR abs:"fuzzing")'):
        arxiv_server.add_pages(query, {0: fixture("api_search_testing_page_start0_max10.xml")})
    return write_config("- name: Testing\n  keywords: [testing]\n- name: Fuzzing\n  keywords: [fuzzing]\n",
                        extra="output:\n  readme_rows: 10\n")


def test_a_run_on_a_terminal_draws_a_bar_naming_each_topic_and_keeps_stdout_pure_json(two_topics):
    stdout, stderr = run_with_stderr_on(True, two_topics)
    assert json.loads(stdout)["totals"]["new"] > 0
    assert "\r" in stderr and "fetching:" in stderr
    assert "/2 [" in stderr and "Fuzzing]" in stderr  # a bar of 2 topics, naming the one being fetched
    assert "topics to do" not in stderr  # the plain lines are for logs only


def test_a_run_in_a_log_prints_plain_lines_with_no_bar(two_topics):
    stdout, stderr = run_with_stderr_on(False, two_topics)
    assert json.loads(stdout)["totals"]["new"] > 0
    assert "\r" not in stderr and "%|" not in stderr
    lines = stderr.splitlines()
    assert lines[:3] == ["fetching: 2 topics to do", "fetching: Testing (1/2)", "fetching: Fuzzing (2/2)"]
    assert lines[3].startswith("fetching: 2/2 topics done in ")


def test_work_quicker_than_the_delay_shows_no_progress(two_topics):
    stdout, stderr = run_with_stderr_on(False, two_topics, delay="30")
    assert json.loads(stdout)["totals"]["new"] > 0 and stderr == ""


def test_the_library_prints_no_progress_unless_the_cli_asks(capsys):
    from tracker.progress import progress

    with progress(10, "embedding", "papers") as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""


def test_embedding_progress_moves_every_quarter_and_the_vectors_are_those_of_one_call(capsys, monkeypatch):
    import numpy as np

    from tracker import progress
    from tracker.enrich.embed import encode_with_progress

    class Letters:  # a real encoder would do; this one is fast and deterministic
        calls = 0

        def encode(self, texts):
            Letters.calls += 1
            return np.array([[len(t), t.count("a"), ord(t[0])] for t in texts], dtype=np.float32)

    texts = [f"{chr(97 + i % 26)} paper {i} " + "a" * (i % 7) for i in range(300)]
    monkeypatch.setenv("TRACKER_PROGRESS_DELAY", "0")
    progress.enable()
    try:
        vectors = encode_with_progress(Letters(), texts, batch=30)
    finally:
        progress.enable(False)
    assert np.array_equal(vectors, Letters().encode(texts))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "embedding: 300 papers to do"
    assert lines[1:4] == ["embedding: 90/300 papers", "embedding: 180/300 papers", "embedding: 270/300 papers"]
    assert lines[4].startswith("embedding: 300/300 papers done in ") and len(lines) == 5


# --- the demo ----------------------------------------------------------------------------

DEMO_DAY = "2026-04-13"


def test_demo_papers_are_dated_into_the_weeks_before_the_demo_day_the_same_way_every_time():
    from tracker.demo_server import BURST_DAYS, MADE_UP_FROM, SPAN_DAYS, demo_papers

    papers = demo_papers(DEMO_DAY)
    assert papers == demo_papers(DEMO_DAY)  # deterministic
    end = dt.date.fromisoformat(DEMO_DAY)
    ages = [(end - dt.date.fromisoformat(p.published)).days for p in papers]
    assert min(ages) >= 0 and max(ages) < SPAN_DAYS and len(set(ages)) > 20  # several weeks, every day used
    later = demo_papers("2026-05-13")  # another day moves every date by the same 30 days
    assert [(dt.date.fromisoformat(a.published) - dt.date.fromisoformat(b.published)).days
            for a, b in zip(sorted(later, key=lambda p: p.title), sorted(papers, key=lambda p: p.title))] == [30] * len(papers)
    made_up = [p for p in papers if re.fullmatch(r"\d{4}\.(\d{5})v1", p.id) and int(p.id[5:10]) >= MADE_UP_FROM]
    assert len({p.id for p in papers}) == len(papers) and len(made_up) > 200  # SciTLDR's, never a real arXiv id
    last_week = [p for p, age in zip(papers, ages) if age < BURST_DAYS]
    adversarial = sum("adversarial" in (p.title + p.abstract).lower() for p in last_week)
    assert adversarial > len(last_week) / 2  # the planted burst


def test_the_demo_server_answers_the_trackers_queries_for_the_day_it_is_told(tmp_path):
    import arxiv

    from tracker.demo_server import demo_papers, replay_server

    with replay_server(demo_papers(DEMO_DAY)) as server:
        server.day = "2026-03-20"
        client = arxiv.Client(page_size=7, delay_seconds=0, num_retries=0)
        client.query_url_format = f"{server.url}/api/query?{{}}"
        found = list(client.results(arxiv.Search(query='(ti:"graph neural network" OR abs:"graph neural network")',
                                                  max_results=100)))
    assert found and all(r.published.date().isoformat() <= "2026-03-20" for r in found)
    assert all("graph neural network" in (r.title + r.summary).lower() for r in found)


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory):
    """The demo with a real (hashed bag-of-words) encoder, so top picks, themes and trends are computed."""
    from tests.search_fakes import HashEncoder

    encoder = HashEncoder(model_name="all-MiniLM-L6-v2")  # the config's model name: every command uses one store
    folder = tmp_path_factory.mktemp("full") / "demo"
    result = CliRunner().invoke(cli, ["demo", str(folder), "--date", DEMO_DAY], obj={"encoder": encoder},
                                prog_name="tracker")
    assert result.exit_code == 0, result.output
    return folder, result.output.splitlines(), encoder


def try_next_commands(lines: list[str]) -> list[list[str]]:
    import shlex

    start = lines.index("try next:")
    return [shlex.split(line)[1:] for line in lines[start + 1:]]


def test_the_demo_shows_every_feature_and_every_command_it_suggests_works(full_demo):
    folder, lines, encoder = full_demo
    runs = [line for line in lines if re.fullmatch(r"\d{4}-\d\d-\d\d: \d+ new papers?", line)]
    assert len(runs) == 5 and runs[-1].startswith(DEMO_DAY)
    digest = (folder / "digests" / "2026" / "04" / f"{DEMO_DAY}.md").read_text()
    assert "## Top picks" in digest
    assert list((folder / "digests" / "2026").glob("week-*.md")), "no weekly review"
    commands = try_next_commands(lines)
    assert [c[0] for c in commands] == ["search", "similar", "explain", "trends", "notify", "publish"]
    for command in commands:
        result = CliRunner().invoke(cli, command, obj={"encoder": encoder, "query_encoder": encoder})
        assert result.exit_code == 0, (command, result.output)
        assert result.output.strip(), command
        if command[0] == "trends":
            assert "Rising:" in result.output and "adversarial" in result.output.lower()
        if command[0] in ("similar", "search"):
            assert " 1. " in result.output
        if command[0] == "explain":
            assert "interest: " in result.output


def test_a_rerun_never_overwrites_a_file_the_user_changed(full_demo):
    folder, _, encoder = full_demo
    config = folder / "keywords.yaml"
    mine = config.read_text().replace("readme_rows: 25", "readme_rows: 40") + "# my edit\n"
    config.write_text(mine)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and ".tracker/" not in p.as_posix()}
    try:
        result = CliRunner().invoke(cli, ["demo", str(folder)], obj={"encoder": encoder}, prog_name="tracker")
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [
            f"error: {folder}: keywords.yaml changed since the demo wrote it; the demo never overwrites your edits: "
            f"run the tracker on it (tracker run --config {config}) or give the demo a new folder"]
        after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and ".tracker/" not in p.as_posix()}
        assert after == before
    finally:
        config.write_text(config.read_text().replace("readme_rows: 40", "readme_rows: 25").replace("# my edit\n", ""))


def test_a_rerun_of_a_finished_demo_keeps_its_day_and_says_what_it_wrote_in_words(full_demo):
    folder, _, encoder = full_demo
    result = CliRunner().invoke(cli, ["demo", str(folder), "--date", "2026-10-05"], obj={"encoder": encoder})
    assert result.exit_code == 0, result.output
    assert re.search(rf"^{DEMO_DAY}: 0 new papers$", result.output, re.M)  # the folder's own day, not the new one
    assert re.search(r"^wrote (1 file|\d+ files) in ", result.output, re.M) and "(s)" not in result.output


@pytest.mark.parametrize("claim", [{"day": "soon"}, {"day": "2026-04-13", "files": {"../outside.txt": "0"}}, "[]"])
def test_a_damaged_claim_file_is_one_line_or_ignored_never_a_traceback(tmp_path, claim):
    folder = tmp_path / "demo"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("not the demo's")
    (folder / ".tracker-demo.json").write_text(json.dumps(claim) if isinstance(claim, dict) else claim)
    result = CliRunner().invoke(cli, ["demo", str(folder), "--no-embed", "--date", DEMO_DAY])
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    if claim == {"day": "soon"}:
        assert result.exit_code == 2 and "`day` 'soon' is not a date" in result.stderr
    else:
        assert result.exit_code == 0, result.output
    assert (tmp_path / "outside.txt").read_text() == "not the demo's"


def test_the_demo_takes_no_config_before_its_name_either(tmp_path):
    result = invoke("--config", tmp_path / "k.yaml", "demo", tmp_path / "demo", "--no-embed")
    assert result.exit_code == 2 and not (tmp_path / "demo").exists()
    assert result.stderr.splitlines() == [
        "error: tracker demo writes its own keywords.yaml into FOLDER; it takes no --config (see `tracker demo --help`)"]
