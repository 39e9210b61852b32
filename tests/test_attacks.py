"""Issue 9, attacked again: variants the first fixes did not test, each against the real `tracker`
process and loopback servers (arXiv: pytest-httpserver; GitHub: tests/fake_github.py).

Each test names the class of issue 9 it holds down. The variants: other code points and fields
(NEL, C1 controls, tag characters, bidi isolates, category attributes, RSS journal refs), state
files that are links, folders or FIFOs, journals that lead into another project or can never be
applied, markers in tab-indented code, raw HTML blocks and list-item fences, mentions glued to a
URL, old digests on disk, and caches damaged in every way.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.arxiv_fake import RawServer, entry, feed
from tests.fake_github import TOKEN
from tests.fake_github import fake_github as fake  # noqa: F401 - pytest fixture
from tests.hostile import live_references, render_gfm, rss_feed, xml_attr, xml_text
from tests.test_journal import small_disk  # noqa: F401 - pytest fixture (a tmpfs: root only, skipped elsewhere)
from tracker.errors import TrackerError
from tracker.models import Paper
from tracker.publish.commit import _section
from tracker.render.escape import md_text
from tracker.render.paths import ARCHIVE_MARKER
from tracker.render.splice import END_MARKER as E
from tracker.render.splice import START_MARKER as S
from tracker.render.splice import read_readme, splice
from tracker.store.journal import RECOVERABLE_DELETE_HEAD, commit, recover, stage_of
from tracker.store.ledger import Ledger, journal_path
from tracker.store.lock import describe, run_lock

ROOT = Path(__file__).parent.parent
DATE = "2026-11-20"
TESTING = '(ti:"testing" OR abs:"testing")'
# Every kind of character the one normalisation must neutralise, as arXiv can deliver it in XML.
SPECIALS = "\x85\u2028\u2029\u202e\u2066\u061c\u200b\u200d\ufeff\u00ad\x9b\U000e0041\U0001d173\u180e"


def tracker(*args: object, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI in its own process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKER_LOCK_WAIT_SECONDS": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def errors(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def tree(folder: Path, *, caches: bool = False) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and (caches or ".tracker" not in p.parts)}


@pytest.fixture
def project(tmp_path, arxiv_server):
    """A project folder whose keywords.yaml points at the loopback arXiv; returns its config path."""
    folder = tmp_path / "project"
    folder.mkdir()

    def make(topics: str = "- name: Testing\n  keywords: [testing]\n", extra: str = "") -> Path:
        config = folder / "keywords.yaml"
        config.write_text(textwrap.dedent(f"""\
            arxiv:
              api_url: {arxiv_server.api_url}
              rss_url: {arxiv_server.rss_url}
              delay_seconds: 0
              backoff_seconds: 0
              retries: 1
              timeout_seconds: 5
              page_size: 10
            embedding:
              enabled: false
            """) + textwrap.dedent(extra) + "topics:\n" + textwrap.indent(textwrap.dedent(topics), "  "))
        return config

    return make


def run(config: Path, date: str = DATE, *extra: str) -> subprocess.CompletedProcess:
    return tracker("run", "--config", config, "--date", date, "--no-embed", *extra)


def run_here(config: Path, date: str = DATE, *extra: str) -> subprocess.CompletedProcess:
    """The same CLI in this process (click's runner): for checks that need no process of their own."""
    from click.testing import CliRunner

    from tracker.cli.main import cli

    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", date, "--no-embed", *extra])
    return subprocess.CompletedProcess([], result.exit_code, result.stdout, result.stderr)


# --- 1: hostile text in every field, API and RSS --------------------------------------------

def hostile_entry(arxiv_id: str) -> str:
    """An API entry with SPECIALS in every text field, attribute and nested element arXiv sends."""
    dirty = lambda text: xml_text(text.replace("|", SPECIALS))  # noqa: E731
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>{dirty('Testing|title @alice #12')}</title>"
        f"<updated>2026-11-19T10:00:00Z</updated><published>2026-11-19T10:00:00Z</published>"
        f"<summary>{dirty('Abstract|on testing, code https://github.com/a/b|.')}</summary>"
        f"<author><name>{dirty('Ada|Lovelace')}</name><arxiv:affiliation>{dirty('Uni|X')}</arxiv:affiliation></author>"
        f"<author><name>{xml_text(SPECIALS)}</name></author>"
        f"<arxiv:comment>{dirty('15 pages,| 9 figures')}</arxiv:comment><arxiv:journal_ref>{dirty('J.| Ref')}</arxiv:journal_ref>"
        f"<arxiv:doi>{dirty('10.1000/|x')}</arxiv:doi>"
        f"<category term={xml_attr('cs.CL' + SPECIALS)} scheme=\"http://arxiv.org/schemas/atom\"/>"
        f"<category term={xml_attr(SPECIALS)} scheme=\"http://arxiv.org/schemas/atom\"/>"
        f"<arxiv:primary_category term={xml_attr('cs' + SPECIALS + '.CL')}/>"
        f"<link href=\"https://arxiv.org/abs/{arxiv_id}v1\" rel=\"alternate\" type=\"text/html\"/></entry>"
    )


def test_1_specials_in_every_field_of_api_and_rss_leave_a_ledger_every_reader_splits_alike(arxiv_server, project, tmp_path):
    arxiv_server.add_pages(TESTING, {0: feed([hostile_entry("2611.00001"), hostile_entry("2611.00002")])})
    dirty = Paper("2611.00003", 1, f"Testing{SPECIALS}rss", f"testing{SPECIALS}abstract", authors=(f"Eve{SPECIALS}Smith", SPECIALS),
                  categories=(f"cs.CL{SPECIALS}",), journal_ref=f"15 pages{SPECIALS}", doi=f"10.1/{SPECIALS}")
    arxiv_server.feeds["cs.CL"] = rss_feed([dirty])
    config = project("- name: Testing\n  keywords: [testing]\n- name: CL\n  source: rss\n  categories: [cs.CL]\n  keywords: [testing]\n")
    first = run(config)
    assert first.returncode == 0 and not errors(first), first.stderr
    again = tracker("render", "--config", config, "--date", "2026-11-21", "--no-embed")
    assert again.returncode == 0 and not errors(again), again.stderr
    folder = config.parent
    shards = list((folder / "data" / "papers").glob("*.jsonl"))
    for shard in shards:
        text = shard.read_bytes().decode("utf-8")
        assert len(text.splitlines()) == text.count("\n")  # str.splitlines() splits only where "\n" is
        for line in text.splitlines():
            record = json.loads(line)
            values = [v for v in record.values() if isinstance(v, str)] + [x for v in record.values() if isinstance(v, list) for x in v]
            assert not [v for v in values if set(v) & set(SPECIALS)], record
    assert set(Ledger.load(folder / "data", read_only=True).papers) == {"2611.00001", "2611.00002", "2611.00003"}
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert readme.count("| **[Testing") == 3 and not set(readme) & (set(SPECIALS) - {"\u200b"})
    assert live_references(render_gfm(readme)) == []


@pytest.mark.parametrize("arxiv_id", ["2611.00001v99999999", "\u0662\u0666\u0661\u0661.\u0660\u0660\u0660\u0660\u0661v1",
                                      "2611.00001v\u0662", "2611.000\u00b21v1"])
def test_an_entry_whose_id_would_poison_the_ledger_is_skipped_by_name(arxiv_id, caplog):
    from tracker.sources.api import parse_page, to_papers
    from tracker.sources.http import Answer, well_formed_xml

    url = "https://export.arxiv.org/api/query?search_query=x&start=0&max_results=10"
    body = feed([entry("2611.00002", title="fine"), entry("2611.00001").replace("2611.00001v1</id>", f"{arxiv_id}</id>")])
    papers = to_papers(parse_page(well_formed_xml(Answer(url, 200, {}, body)), url).results)
    assert [(p.id, p.version) for p in papers] == [("2611.00002", 1)]
    assert "skipped an arXiv entry" in caplog.text and "not an arXiv identifier" in caplog.text


@pytest.mark.parametrize("value", ['"\u00b2"', '"\u0663"', '"' + "1" * 5000 + '"', "99999999", "1.5", "true"])
def test_a_ledger_version_that_is_no_small_whole_number_is_kept_verbatim_not_a_traceback(tmp_path, value, caplog):
    good = b'{"abs_url":"","abstract":"a","id":"2611.00002","pdf_url":"","primary_category":"","title":"t","version":1}'
    bad = ('{"abs_url":"","abstract":"a","id":"2611.00001","pdf_url":"","primary_category":"","title":"t","version":%s}' % value).encode()
    deep = b'{"abs_url":"","abstract":"a","id":"2611.00003","pdf_url":"","primary_category":"","title":"t","version":1,"x":' \
        + b"[" * 500 + b"]" * 500 + b"}"
    shard = tmp_path / "data" / "papers" / "2026-11.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(bad + b"\n" + good + b"\n" + deep + b"\n")
    ledger = Ledger.load(tmp_path / "data")
    assert set(ledger.papers) == {"2611.00002"} and "version is" in caplog.text and "nested more than" in caplog.text
    commit(ledger.files(tmp_path / "data"), journal_path(tmp_path / "data"))  # written back: the bad lines kept as they were
    lines = shard.read_bytes().split(b"\n")
    assert bad in lines and deep in lines and Ledger.load(tmp_path / "data").get("2611.00002") is not None


# --- 2, 9, 10, 3: damaged state never fails a run, and never leads outside the repository ----

def test_state_files_that_are_links_folders_fifos_or_garbage_are_cleared_or_ignored(arxiv_server, project, tmp_path):
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="testing one")])})
    config = project()
    folder = config.parent
    assert run_here(config).returncode == 0
    state, papers = folder / ".tracker", folder / "data" / "papers"
    for cached in [p for p in state.rglob("*") if p.is_file() and p.name != "run.lock"]:
        cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])  # every cache cut short
    for name in ("run.lock", "run.lock.json"):  # an empty folder where the lock or its holder info goes
        (state / name).unlink(missing_ok=True)
        (state / name).mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=ghp_exfiltrated\n")
    (papers / "2026-12.jsonl").symlink_to(secret)  # a shard that leads out of the repository
    os.mkfifo(papers / "2026-10.jsonl")  # a read would block forever
    nested = b"[" * 100_000  # deeper than any JSON parser's stack
    (papers / "2026-11.jsonl").write_bytes((papers / "2026-11.jsonl").read_bytes() + nested + b"\n")
    other = tmp_path / "other"  # another project with a commit pending: our journal is a link to it
    (other / "data").mkdir(parents=True)
    (other / "README.md").write_text("theirs, old\n")
    stage_of(other / "README.md").write_text("theirs, new\n")
    (other / "data" / ".commit.json").write_text(json.dumps({"format": 2, "journal": "data/.commit.json", "replace": ["README.md"], "delete": []}))
    (folder / "data" / ".commit.json").symlink_to(other / "data" / ".commit.json")

    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00002", title="testing two"), entry("2611.00001", title="testing one")])})
    second = run(config, "2026-11-21")
    assert second.returncode == 0 and not errors(second), second.stderr
    assert "2026-12.jsonl is not a regular file" in second.stderr and "2026-10.jsonl is not a regular file" in second.stderr
    assert "nested too deeply" in second.stderr and "not a commit journal" in second.stderr
    assert not [p for p, data in tree(folder, caches=True).items() if b"ghp_exfiltrated" in data]
    assert secret.read_text() == "TOKEN=ghp_exfiltrated\n" and (papers / "2026-12.jsonl").is_symlink()
    assert (other / "README.md").read_text() == "theirs, old\n"  # the other project was not touched
    assert set(Ledger.load(folder / "data", read_only=True).papers) == {"2611.00001", "2611.00002"}
    assert nested in (papers / "2026-11.jsonl").read_bytes()  # kept verbatim, not lost
    third = run_here(config, "2026-11-21")
    assert third.returncode == 0 and "error:" not in third.stderr, third.stderr


def test_a_state_folder_that_is_a_file_is_one_line_and_changes_nothing(tmp_path):
    (tmp_path / ".tracker").write_text("not a folder")
    with pytest.raises(TrackerError) as caught:
        with run_lock(tmp_path / ".tracker"):
            pass
    assert str(caught.value) == (f"{tmp_path / '.tracker'} is a file, but the tracker keeps its state (run lock, caches) "
                                 "in a folder there: move the file away or set output.state_dir; nothing was done")
    assert (tmp_path / ".tracker").read_text() == "not a folder"


@pytest.mark.parametrize("name", ["run.lock", "run.lock.json"])
def test_a_lock_file_that_is_a_link_is_dropped_and_its_target_untouched(tmp_path, name, caplog):
    (tmp_path / "elsewhere.txt").write_text("precious\n")
    (tmp_path / ".tracker").mkdir()
    (tmp_path / ".tracker" / name).symlink_to(tmp_path / "elsewhere.txt")
    with run_lock(tmp_path / ".tracker", wait_seconds=0):
        assert (tmp_path / ".tracker" / "run.lock.json").is_file()
    assert (tmp_path / "elsewhere.txt").read_text() == "precious\n" and "a link where the run lock goes" in caplog.text


def test_lock_holder_text_from_disk_is_one_clean_line():
    holder = {"pid": os.getpid(), "host": "elsewhere\n\x1b[31mred", "started": "2026\u202e-11", "command": "x\u2028error: fake"}
    shown = describe(holder)
    assert "\n" not in shown and "\x1b" not in shown and "\u2028" not in shown and "\u202e" not in shown


# --- 10: a journal on disk is trusted no further than it can be checked -----------------------

@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "data" / "papers").mkdir(parents=True)
    (root / "README.md").write_text("# Our lab\n\nHand-written.\n")
    (root / "archive" / "t").mkdir(parents=True)
    (root / "archive" / "t" / "2024-01.md").write_text(ARCHIVE_MARKER.format(slug="t") + "\nours\n")
    (root / "docs").mkdir()
    (root / "docs" / "2024-02.md").write_text("a user's page\n")
    return root


def journal(root: Path, replace=(), delete=()) -> Path:
    path = root / "data" / ".commit.json"
    path.write_text(json.dumps({"format": 2, "journal": "data/.commit.json", "replace": list(replace), "delete": list(delete)}))
    return path


def test_recovery_deletes_only_the_trackers_own_archive_pages(repo, caplog):
    recover(journal(repo, delete=["README.md", "docs/2024-02.md", "archive/t/2024-01.md"]))
    assert (repo / "README.md").exists() and (repo / "docs" / "2024-02.md").exists()
    assert not (repo / "archive" / "t" / "2024-01.md").exists()
    assert caplog.text.count("it is not an archive page the tracker wrote") == 2
    assert RECOVERABLE_DELETE_HEAD.decode() == ARCHIVE_MARKER.split("{")[0]  # the two definitions agree


def test_recovery_moves_only_regular_stages_and_skips_steps_that_can_never_succeed(repo, tmp_path, caplog):
    stage_of(repo / "README.md").mkdir()  # a folder of the stage's name: never becomes the README
    (tmp_path / "outside.md").write_text("outside\n")
    stage_of(repo / "data" / "papers" / "2024-01.jsonl").symlink_to(tmp_path / "outside.md")
    (repo / "digests").mkdir()
    (repo / "digests" / "x.md").mkdir()  # the target became a folder after the journal was written
    stage_of(repo / "digests" / "x.md").write_text("digest\n")
    path = journal(repo, replace=["README.md", "data/papers/2024-01.jsonl", "digests/x.md", "a" * 300 + ".md"])
    recover(path)
    assert (repo / "README.md").read_text() == "# Our lab\n\nHand-written.\n" and not (repo / "data/papers/2024-01.jsonl").exists()
    assert (repo / "digests" / "x.md").is_dir() and not stage_of(repo / "digests" / "x.md").exists()
    assert not path.exists() and caplog.text.count("skipped") == 2 and caplog.text.count("not a regular file") == 2
    commit({repo / "README.md": "new\n"}, path)  # and the next commit goes through
    assert (repo / "README.md").read_text() == "new\n"


@pytest.mark.parametrize("kind", ["fifo", "folder", "deep", "link"])
def test_a_journal_that_is_no_journal_is_removed_without_blocking_or_applying(repo, tmp_path, kind, caplog):
    path = repo / "data" / ".commit.json"
    stage_of(repo / "README.md").write_text("theirs\n")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "deep":
        path.write_text("[" * 100_000)
    else:
        other = journal(repo, replace=["README.md"]).rename(tmp_path / "elsewhere.json")
        path.symlink_to(other)
    recover(path)
    assert not os.path.lexists(path) and (repo / "README.md").read_text() == "# Our lab\n\nHand-written.\n"
    assert "journal" in caplog.text


def test_an_output_that_is_the_journal_or_the_folder_of_another_is_refused_before_anything_is_written(repo):
    before = tree(repo)
    for files in ({repo / "data" / ".commit.json": "readme\n"}, {repo / "data": "x", repo / "data" / "papers" / "2024-01.jsonl": "y"}):
        with pytest.raises(TrackerError, match=r"cannot write .*(commit journal|folder of).*nothing was changed"):
            commit(files, repo / "data" / ".commit.json")
        assert tree(repo) == before and not list(repo.rglob("*.staged"))


def test_a_readme_setting_that_is_another_outputs_folder_is_one_config_line_and_a_fixed_config_runs(arxiv_server, project):
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="testing one")])})
    config = project(extra="output:\n  readme: data\n")
    result = run(config)
    # refused when the config is read (exit 2), before anything is fetched; commit() refuses it too (above)
    assert result.returncode == 2 and len(errors(result)) == 1 and "output.readme" in errors(result)[0]
    assert not (config.parent / "data").exists() and not list(config.parent.rglob("*.staged"))
    fixed = run_here(project())
    assert fixed.returncode == 0 and "error:" not in fixed.stderr, fixed.stderr


# --- 11: a dry run with a damaged cache ---------------------------------------------------------

def test_a_dry_run_whose_preview_cannot_be_saved_still_succeeds_and_writes_nothing(arxiv_server, project):
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="testing one")])})
    config = project()
    (config.parent / ".tracker").mkdir()
    (config.parent / ".tracker" / "dry-run").write_text("a file where the preview folder goes")
    before = tree(config.parent)
    result = run_here(config, DATE, "--dry-run")
    assert result.returncode == 0 and not errors(result), result.stderr
    assert "could not save the dry run's preview" in result.stderr and tree(config.parent) == before


# --- 12: markers in code and raw HTML are the user's text ---------------------------------------

HOSTILE_README = (
    "# Lab\n\nTab-indented example:\n\n"
    f"\t{S}\n\tyour rows\n\t{E}\n\n"
    f"<pre>\n{S}\nkept\n{E}\n</pre>\n\n"
    f"- a list item with a fence:\n  ```\n  {S}\n  {E}\n  ```\n\n"
    f"> ```\n> {S}\n> ```\n"
)


@pytest.mark.parametrize("readme", [
    HOSTILE_README,
    f"   \t{S}\n\tx\n\t{E}\n",  # 3 spaces + a tab: column 4, indented code
    f"\u00a0{S}\n\u00a0{E}\n",  # a no-break space is not indentation: a paragraph
    f"<script>\n{S}\n</script>\n<?php\n{E}\n?>\n<![CDATA[\n{S}\n]]>\n",
])
def test_markers_inside_code_raw_html_or_after_odd_indentation_are_not_ours(readme):
    out = splice(readme, "NEW")
    assert out.startswith(readme) and out.endswith(f"{S}\nNEW\n{E}\n")
    assert splice(out, "NEW") == out and _section(out, S, E) == "NEW"


def test_markers_commented_out_are_a_one_line_error_not_a_splice_into_the_comment():
    with pytest.raises(TrackerError, match=r"README.md: end marker at line 6 but no start marker line"):
        splice(f"# t\n<!--\nold:\n{S}\nkept\n{E}\n-->\n", "NEW", "README.md")


def test_a_readme_with_quoted_markers_keeps_them_in_real_runs(arxiv_server, project):
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="testing one")])})
    config = project()
    (config.parent / "README.md").write_text(HOSTILE_README)
    result = run(config)
    assert result.returncode == 0 and not errors(result), result.stderr
    readme = (config.parent / "README.md").read_text()  # (a rerun changes nothing: see the splice tests above)
    assert readme.startswith(HOSTILE_README) and readme.count(S) == HOSTILE_README.count(S) + 1
    assert "testing one" in readme[len(HOSTILE_README):]


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"caf\xe9\n"), r"README.md:1: not UTF-8 text \(byte 0xe9 at offset 3\)"),
    (lambda p: p.mkdir(), "README.md is a folder"),
    (lambda p: os.mkfifo(p), "README.md is not a regular file"),
    (lambda p: p.symlink_to("/etc/hostname"), "README.md is a link"),
])
def test_a_readme_that_cannot_be_spliced_is_one_line(tmp_path, make, message):
    make(tmp_path / "README.md")
    with pytest.raises(TrackerError, match=message) as caught:
        read_readme(tmp_path / "README.md")
    assert "\n" not in str(caught.value)


# --- 13: mentions glued to links, and digests on disk written before the escaping ---------------

@pytest.mark.parametrize("text", ["@https://x.org/a", "#https://x.org", ":https://x.org:", "cc @www.example.org now"])
def test_a_mention_glued_to_a_url_is_neutralised_like_any_other(text):
    assert live_references(render_gfm(md_text(text))) == []


def test_an_old_digest_on_disk_reaches_github_without_a_live_mention(tmp_path, fake):
    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\n")
    new = Paper("2611.00001", 1, "Thanks @octocat", "An abstract.", topics=("LLM",), first_seen=DATE)
    for path, data in Ledger({new.id: new}).files(tmp_path / "data").items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    digest = tmp_path / "digests" / "2026" / "11" / f"{DATE}.md"
    digest.parent.mkdir(parents=True)
    digest.write_text(f"# arXiv digest: {DATE}\n\n- **[Thanks @octocat](https://arxiv.org/abs/2611.00001)** · `2611.00001v1`\n"
                      "  fixes #12, GH-7 and acme/papers#9; see https://github.com/acme/papers/issues/3 and "
                      "[this](https://github.com/acme/papers/pull/4), ping @acme/team\n")
    env = {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers",
           "TRACKER_GITHUB_WRITE_DELAY": "0"}
    result = tracker("publish", "--config", tmp_path / "keywords.yaml", "--date", DATE, env=env)
    assert result.returncode == 0, result.stderr
    bodies = [text for text in fake.sent if "octocat" in text]
    assert bodies and all(live_references(render_gfm(text)) == [] for text in fake.sent), fake.sent
    assert not [t for t in fake.sent if "github.com/acme/papers/issues/3" in t or "github.com/acme/papers/pull/4" in t]


def test_state_nested_deeper_than_the_parser_is_damage_not_a_traceback(tmp_path, caplog):
    from tracker.publish.day import read_summary
    from tracker.store.feedback import load_feedback

    (tmp_path / "last_run.json").write_text("[" * 100_000)
    assert read_summary(tmp_path / "last_run.json", DATE) is None
    (tmp_path / "feedback.jsonl").write_text('{"id": "2611.00001", "ticked": "2026-11-20"}\n' + "[" * 100_000 + "\n")
    assert load_feedback(tmp_path / "feedback.jsonl") == {"2611.00001": "2026-11-20"}
    assert "feedback.jsonl:2: skipped feedback line" in caplog.text


# --- 4: topics whose names once shared a folder, in a real run ----------------------------------

def test_topics_that_once_shared_a_slug_keep_separate_archives_in_a_real_run(arxiv_server, project):
    arxiv_server.add_pages('(ti:"c plus plus" OR abs:"c plus plus")', {0: feed([
        entry("2611.00001", title="C++ new", updated="2026-11-19T10:00:00Z"), entry("2610.00001", title="C++ old", updated="2026-10-01T10:00:00Z")])})
    arxiv_server.add_pages('(ti:"c language" OR abs:"c language")', {0: feed([
        entry("2611.00002", title="C new", updated="2026-11-19T10:00:00Z"), entry("2610.00002", title="C old", updated="2026-10-01T10:00:00Z")])})
    config = project("- name: C++\n  keywords: [c plus plus]\n- name: C\n  keywords: [c language]\n", extra="output:\n  readme_rows: 1\n")
    result = run_here(config)
    assert result.returncode == 0 and not errors(result), result.stderr
    pages = sorted(p.relative_to(config.parent / "archive").as_posix() for p in (config.parent / "archive").rglob("*.md"))
    assert len(pages) == 2 and len({p.split("/")[0] for p in pages}) == 2, pages
    shown = {p: (config.parent / "archive" / p).read_text() for p in pages}
    assert sorted("C++ old" in text for text in shown.values()) == [False, True]



# --- 15: credentials in the feed URL and in the proxy settings --------------------------------

@pytest.mark.parametrize("proxy_up", [False, True])
def test_credentials_in_the_rss_url_or_the_proxy_reach_no_message(arxiv_server, monkeypatch, caplog, proxy_up):
    from tests.arxiv_fake import Fault, session
    from tracker.errors import SourceError
    from tracker.sources.rss import ArxivRSSSource

    closed = socket_port_closed()
    proxy = f"http://puser:Pr0xyS3cret@127.0.0.1:{arxiv_server.base_url.rsplit(':', 1)[1].strip('/') if proxy_up else closed}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    arxiv_server.faults = [Fault(503, body=b"down")] * 5  # the loopback server is the proxy and answers 503
    url = arxiv_server.rss_url.replace("http://", "http://ruser:RssS3cret9@")
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as caught:
        ArxivRSSSource(url, session(retries=1)).fetch_categories(["cs.CL"], ["new"])
    shown = str(caught.value) + caplog.text
    assert "Pr0xyS3cret" not in shown and "RssS3cret9" not in shown and ("503" in shown or "proxy" in shown), shown


def socket_port_closed() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


# --- 17 / 10: `publish --commit` trusts the run summary (a cache) only to name tracker files ---

def test_a_run_summary_cannot_make_publish_commit_or_delete_other_files(tmp_path, fake):
    from click.testing import CliRunner

    from tracker.cli.main import cli

    (tmp_path / "keywords.yaml").write_text("topics:\n  - name: LLM\n    keywords: [llm]\n")
    (tmp_path / ".env").write_text("GITHUB_TOKEN=ghp_local_secret\n")
    new = Paper("2611.00001", 1, "A paper", "An abstract.", topics=("LLM",), first_seen=DATE)
    for path, data in Ledger({new.id: new}).files(tmp_path / "data").items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    digest = tmp_path / "digests" / "2026" / "11" / f"{DATE}.md"
    digest.parent.mkdir(parents=True)
    digest.write_text(f"# arXiv digest: {DATE}\n\n- **[A paper](https://arxiv.org/abs/2611.00001)** · `2611.00001v1`\n")
    (tmp_path / ".tracker").mkdir()
    outputs = [".env", "keywords.yaml", "src/app.py", ".github/workflows/daily.yml", str(digest)]
    (tmp_path / ".tracker" / "last_run.json").write_text(json.dumps({"date": DATE, "topics": [], "outputs": outputs}))
    fake.files.update({"src/app.py": b"print('hi')\n", ".github/workflows/daily.yml": b"on: push\n"})
    env = {"GITHUB_TOKEN": TOKEN, "TRACKER_GITHUB_API_URL": fake.base, "GITHUB_REPOSITORY": "acme/papers",
           "TRACKER_GITHUB_WRITE_DELAY": "0"}
    result = CliRunner().invoke(cli, ["publish", "--commit", "--date", DATE, "--config", str(tmp_path / "keywords.yaml")], env=env)
    assert result.exit_code == 0, result.output
    shards = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "data" / "papers").glob("*.jsonl")}
    assert set(fake.files) == {"src/app.py", ".github/workflows/daily.yml", f"digests/2026/11/{DATE}.md", *shards}
    assert not any(b"ghp_local_secret" in data for data in fake.files.values())


# --- 18: disk full with the state folder on the same full disk ---------------------------------


def test_disk_full_with_the_state_folder_on_the_full_disk_too(small_disk, arxiv_server, project):
    root = small_disk / "project"
    root.mkdir()
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="Small testing paper")])})
    config = project()
    (root / "keywords.yaml").write_text(config.read_text())
    config = root / "keywords.yaml"  # default state_dir: .tracker, on the small disk with everything else
    first = run_here(config)
    assert first.returncode == 0, first.stderr
    big = [entry(f"2611.{i:05d}", title=f"Testing paper {i}", abstract="word " * 400) for i in range(2, 120)]
    arxiv_server.add_pages(TESTING, {0: feed(big)})
    before = tree(root)
    full = run(config, "2026-11-21")
    assert full.returncode == 1, full.stderr
    assert len(errors(full)) == 1 and "disk full while writing" in errors(full)[0] and "nothing was changed" in errors(full)[0]
    assert tree(root) == before and not [p for p in root.rglob("*") if p.name.endswith((".staged", ".tmp"))]
    dry = run_here(config, "2026-11-21", "--dry-run")
    assert dry.returncode == 0 and tree(root) == before, dry.stderr


# --- 16: the config as an attack, read by the real process --------------------------------------

MERGE_KEY_BOMB = "a: &a {x: [lol, lol, lol, lol, lol, lol, lol, lol, lol]}\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)}\n  <<: *{chr(97 + i)}\n  y: [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)) + "topics:\n  - name: T\n    keywords: [t]\n"


@pytest.mark.parametrize("command, data, expected", [
    ("check", MERGE_KEY_BOMB.encode(), ["keywords.yaml:3: invalid YAML: YAML aliases (*a) are not allowed in the config"]),
    ("run", b"output:\n  readme_rows: 1e20\narxiv:\n  timeout_seconds: 1e308\ntopics:\n  - name: T\n    keywords: [t]\n",
     ["keywords.yaml:2: `output.readme_rows`", "keywords.yaml:4: `arxiv.timeout_seconds`"]),
    ("run", b"topics:\n  - name: Caf\xe9\n    keywords: [t]\n", ["keywords.yaml:2: not UTF-8 text: byte 0xe9"]),
])
def test_a_hostile_config_is_exit_2_with_one_line_per_problem_at_once(tmp_path, command, data, expected):
    (tmp_path / "keywords.yaml").write_bytes(data)
    result = tracker(command, "--config", tmp_path / "keywords.yaml", timeout=20)
    lines = errors(result)
    assert result.returncode == 2 and len(lines) == len(expected), result.stderr
    for line, part in zip(lines, expected):
        assert part in line
    assert not (tmp_path / "data").exists() and not (tmp_path / "README.md").exists()


# --- 5, 6, 8: a dropping, trickling, redirect-looping and page-2-resetting server in one real run ---

class RoutedServer(RawServer):
    """A loopback HTTP server below HTTP's rules: the first route whose key is in the request line answers."""

    def __init__(self, routes: dict):
        self.routes = routes
        super().__init__()

    def responder_for(self, request_line: str):
        respond = next((r for key, r in self.routes.items() if key in request_line), None)
        return None if respond is None else (lambda conn: respond(conn, request_line))


def test_each_transport_fault_fails_only_its_own_topic_in_a_real_run(tmp_path):
    import socket
    import struct
    import time

    from tests.arxiv_fake import answer, dropped_mid_chunk, trickle

    good = feed([entry("2611.00001", title="good paper")])
    two_pages = [feed([entry(f"2611.{i:05d}", title=f"paged {i}") for i in range(10 + 10 * p, 20 + 10 * p)], total=20, start=10 * p)
                 for p in range(2)]

    def reset(conn, line):
        if "start=0" in line:
            return answer(two_pages[0])(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close

    def loop(conn, line):
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {line.split()[1]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode())

    server = RoutedServer({
        "good": lambda conn, line: answer(good)(conn),
        "drop": lambda conn, line: dropped_mid_chunk(good, len(good) // 2)(conn),
        "trickle": lambda conn, line: trickle(good, 0.05)(conn),
        "loop": loop,
        "paged": reset,
    })
    try:
        topics = "".join(f"  - name: {name.title()}\n    keywords: [{name}]\n" for name in ("good", "drop", "trickle", "loop", "paged"))
        (tmp_path / "keywords.yaml").write_text(
            f"arxiv:\n  api_url: {server.url}api/query\n  delay_seconds: 0\n  backoff_seconds: 0\n  retries: 1\n"
            "  timeout_seconds: 5\n  request_deadline_seconds: 0.5\n  page_size: 10\n"
            "embedding:\n  enabled: false\ntopics:\n" + topics)
        started = time.monotonic()
        result = tracker("run", "--config", tmp_path / "keywords.yaml", "--date", DATE, "--no-embed")
        took = time.monotonic() - started
    finally:
        server.close()
    lines = errors(result)
    assert result.returncode == 3, result.stderr
    assert [line.split("'")[1] for line in lines] == ["Drop", "Trickle", "Loop", "Paged"], lines
    assert "broken mid-body" in lines[0] and "within 0.5 s" in lines[1] and "redirect loop" in lines[2] and "reset" in lines[3]
    assert took < 30 and set(Ledger.load(tmp_path / "data", read_only=True).papers) == {"2611.00001"}
    assert "good paper" in (tmp_path / "README.md").read_text()


def test_nested_json_in_render_state_or_the_ledger_index_is_a_rebuilt_cache(arxiv_server, project):
    arxiv_server.add_pages(TESTING, {0: feed([entry("2611.00001", title="testing one")])})
    config = project()
    assert run_here(config, DATE).returncode == 0
    state = config.parent / ".tracker"
    poisoned = [p for p in state.rglob("*.json") if p.is_file() and "vectors" not in p.parts and p.name != "last_run.json"]
    assert poisoned  # the render state and the ledger index
    for path in poisoned:
        path.write_text("[" * 100_000)
    again = run_here(config, DATE)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
