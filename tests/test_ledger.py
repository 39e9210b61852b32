import json
import logging

import pytest
from click.testing import CliRunner

from tests.arxiv_fake import entry, feed, fixture
from tracker.cli.main import cli
from tracker.models import Paper
from tracker.store.journal import commit
from tracker.store.ledger import Change, Ledger, journal_path, merge


def paper(pid="2411.00001", version=1, **kw):
    base = dict(title="T", abstract="A", updated=f"2026-11-1{version}T00:00:00Z", published="2026-11-10T00:00:00Z")
    return Paper(id=pid, version=version, **{**base, **kw})


def shard(tmp_path, month="2024-11"):
    return tmp_path / "papers" / f"{month}.jsonl"


def write_lines(tmp_path, lines, month="2024-11"):
    shard(tmp_path, month).parent.mkdir(parents=True, exist_ok=True)
    shard(tmp_path, month).write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n" for l in lines))


def record_line(pid="2411.00001", **fields):
    return json.dumps({"id": pid, "version": 1, "title": "t", "abstract": "a", **fields})


# --- merge rules -----------------------------------------------------------------------

def test_new_paper_records_topic_and_first_seen():
    merged, change = merge(None, paper(), "MLLM", "2026-11-20")
    assert change is Change.NEW
    assert merged.topics == ("MLLM",) and merged.first_seen == "2026-11-20" and merged.revised_on is None


def test_second_topic_is_added_not_reported_again():
    first, _ = merge(None, paper(), "MLLM", "2026-11-20")
    merged, change = merge(first, paper(), "Hallucination", "2026-11-21")
    assert change is Change.TOPIC
    assert merged.topics == ("Hallucination", "MLLM") and merged.first_seen == "2026-11-20"


def test_new_version_is_revised_not_new_and_keeps_history():
    first, _ = merge(None, paper(), "MLLM", "2026-11-20")
    merged, change = merge(first, paper(version=2, title="T v2"), "MLLM", "2026-11-22")
    assert change is Change.REVISED
    assert (merged.version, merged.title, merged.first_seen, merged.revised_on) == (2, "T v2", "2026-11-20", "2026-11-22")
    assert merged.published == "2026-11-10T00:00:00Z"


def test_revision_seen_on_the_first_day_stays_new():
    first, _ = merge(None, paper(), "MLLM", "2026-11-20")
    _, change = merge(first, paper(version=2), "MLLM", "2026-11-20")
    assert change is Change.NEW


def test_older_version_changes_nothing_and_same_is_same():
    current, _ = merge(None, paper(version=3), "MLLM", "2026-11-20")
    assert merge(current, paper(version=2, comment="old"), "MLLM", "2026-11-21") == (current, Change.SAME)
    assert merge(current, paper(version=3), "MLLM", "2026-11-21") == (current, Change.SAME)


def test_same_version_fills_what_rss_did_not_know():
    from_rss, _ = merge(None, paper(version=2, published=None, comment=None), "MLLM", "2026-11-20")
    merged, _ = merge(from_rss, paper(version=2, comment="ICLR 2027"), "MLLM", "2026-11-20")
    assert merged.published == "2026-11-10T00:00:00Z" and merged.comment == "ICLR 2027"


@pytest.mark.parametrize("field, stored, fuller", [
    ("comment", "15 pages, 9 figures,", "15 pages, 9 figures, accepted at ACL 2026"),
    ("title", "Towards robust", "Towards robust hallucination detection"),
    ("abstract", "We study how models hallu", "We study how models hallucinate and why."),
    ("authors", ("Ada Lovelace",), ("Ada Lovelace", "Alan Turing", "Grace Hopper")),
    ("categories", ("cs.CL",), ("cs.CL", "cs.AI")),
    ("journal_ref", "Phys. Rev.", "Phys. Rev. D 12 (2026)"),
    ("doi", "10.1000/18", "10.1000/182"),
])
def test_a_later_fetch_of_the_same_version_repairs_a_cut_short_record(tmp_path, field, stored, fuller):
    ledger = Ledger()
    ledger.record(paper(**{field: stored}), "T", "2026-11-20")
    assert ledger.record(paper(**{field: fuller}), "T", "2026-11-21") is Change.SAME  # a repair, not news
    assert getattr(ledger.get("2411.00001"), field) == fuller
    assert ledger.get("2411.00001").first_seen == "2026-11-20"
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    before = shard(tmp_path).read_bytes()
    again = Ledger.load(tmp_path)
    again.record(paper(**{field: fuller}), "T", "2026-11-22")
    again.record(paper(**{field: stored}), "T", "2026-11-22")  # the cut-short copy again: never shortens
    assert commit(again.files(tmp_path), journal_path(tmp_path)) == [] and shard(tmp_path).read_bytes() == before


def test_metadata_that_changes_without_a_version_takes_the_latest_but_text_is_not_flipped():
    ledger = Ledger()
    ledger.record(paper(comment="Under review", title="A title"), "T", "2026-11-20")
    ledger.record(paper(comment="Accepted at ICML", title="A different spelling"), "T", "2026-11-21")
    ledger.record(paper(comment=None), "T", "2026-11-21")  # an empty value never erases
    assert (ledger.get("2411.00001").comment, ledger.get("2411.00001").title) == ("Accepted at ICML", "A title")


# --- the one way in: cleaning ------------------------------------------------------------

def test_record_cleans_every_text_field_and_the_topic():
    ledger = Ledger()
    ledger.record(paper(title="Bidi \u202eevil\u202c\u2028title", categories=("cs.CL\u2028x",), journal_ref="J.\u2029Ref\x00"), " Multi\u200b  Modal ", "2026-11-20")
    stored = ledger.get("2411.00001")
    assert (stored.title, stored.categories, stored.journal_ref, stored.topics) == ("Bidi evil title", ("cs.CL x",), "J. Ref", ("Multi Modal",))
    assert ledger.knows(paper(), "Multi  Modal") and not ledger.knows(paper(), "Multi\u200bModal")
    assert ledger.has_topic("Multi Modal") and not ledger.has_topic("Multi\u200b  Modal")


def test_records_written_raw_by_an_older_version_load_and_are_cleaned(tmp_path):
    raw = '{"id":"2411.00001","version":1,"title":"A\u2028B","abstract":"x","categories":["cs.CL\u2028y"],"journal_ref":"J\u2029R","topics":["T"]}'
    write_lines(tmp_path, [raw, record_line("2411.00002")])
    ledger = Ledger.load(tmp_path)
    assert ledger.get("2411.00001").categories == ("cs.CL y",) and ledger.get("2411.00001").title == "A B"
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    text = shard(tmp_path).read_text(encoding="utf-8")
    assert len(text.splitlines()) == 2 == len(text.split("\n")) - 1


def test_every_line_break_character_is_escaped_on_disk(tmp_path):
    breaks = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ledger = Ledger()
    ledger.update([paper(extra={"note": f"kept{breaks}raw", "odd\u2028key": ["\ud800"]})])  # fields we only carry
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    data = shard(tmp_path).read_bytes()
    assert len(data.decode("utf-8").splitlines()) == 1 and data.count(b"\n") == 1
    assert Ledger.load(tmp_path).get("2411.00001").extra == {"note": f"kept{breaks}raw", "odd\u2028key": ["\ud800"]}


def test_a_paper_with_line_separators_from_the_api_and_rss_never_breaks_a_later_run(arxiv_server, write_config, tmp_path):
    api = entry("2611.00001", title="Sep\u2028arated", categories=("cs.CL", "cs.CL\u2028evil"), comment="c\u2029d")
    arxiv_server.add_pages('(ti:"separated" OR abs:"separated")', {0: feed([api])})
    rss = fixture("made_rss_cs.CL_all_announce_types.xml").replace(
        b"<arxiv:announce_type>new</arxiv:announce_type>",
        b"<arxiv:announce_type>new</arxiv:announce_type><arxiv:journal_reference>J. X\xe2\x80\xa8 12</arxiv:journal_reference>", 1)
    arxiv_server.feeds["cs.CL"] = rss
    config = write_config("- name: Sep\n  keywords: [separated]\n- name: CL\n  source: rss\n  categories: [cs.CL]\n  keywords: [retrieval]\n")
    for day in ("2026-11-20", "2026-11-21"):
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", day, "--no-embed"])
        assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["render", "--config", str(config), "--date", "2026-11-21", "--no-embed"]).exit_code == 0
    for path in (tmp_path / "data" / "papers").glob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        assert all(json.loads(line) for line in text.splitlines())  # any reader's line split is a record split
    ledger = Ledger.load(tmp_path / "data")
    assert ledger.get("2611.00001").categories == ("cs.CL", "cs.CL evil")
    assert ledger.get("2509.14988").journal_ref == "J. X 12"


# --- shards ------------------------------------------------------------------------------

def save(ledger, data_dir):
    return commit(ledger.files(data_dir), journal_path(data_dir))


def test_save_shards_by_id_month_sorted_and_roundtrips(tmp_path):
    ledger = Ledger()
    for pid in ["2411.00002", "2410.99999", "2411.00001", "hep-th/9901001"]:
        ledger.record(paper(pid), "T", "2026-11-20")
    written = save(ledger, tmp_path)
    assert sorted(p.name for p in written) == ["1999-01.jsonl", "2024-10.jsonl", "2024-11.jsonl"]
    lines = shard(tmp_path).read_text().splitlines()
    assert [json.loads(l)["id"] for l in lines] == ["2411.00001", "2411.00002"]
    assert Ledger.load(tmp_path).papers == ledger.papers
    assert save(ledger, tmp_path) == []  # unchanged: nothing rewritten
    assert save(Ledger.load(tmp_path), tmp_path) == []


def test_unicode_is_stored_readably(tmp_path):
    ledger = Ledger()
    ledger.record(paper(authors=("Jörg Müller",)), "T", "2026-11-20")
    save(ledger, tmp_path)
    assert "Jörg Müller" in shard(tmp_path).read_text(encoding="utf-8")


def test_a_record_in_the_wrong_shard_moves_and_no_shard_is_deleted(tmp_path):
    write_lines(tmp_path, [record_line("2411.00001")], month="2024-10")
    ledger = Ledger.load(tmp_path)
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    assert shard(tmp_path, "2024-10").read_bytes() == b""
    assert [json.loads(l)["id"] for l in shard(tmp_path).read_text().splitlines()] == ["2411.00001"]
    assert commit(Ledger.load(tmp_path).files(tmp_path), journal_path(tmp_path)) == []


# --- validation on load ------------------------------------------------------------------

def test_a_string_where_a_list_belongs_is_one_item_not_its_characters(tmp_path, caplog):
    write_lines(tmp_path, [record_line(topics="Hallucination", authors="Ada Lovelace", version="2")])
    with caplog.at_level(logging.WARNING):
        ledger = Ledger.load(tmp_path)
    got = ledger.get("2411.00001")
    assert (got.topics, got.authors, got.version) == (("Hallucination",), ("Ada Lovelace",), 2)
    assert f"{shard(tmp_path)}:1: topics was a single string" in caplog.text
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    assert json.loads(shard(tmp_path).read_text())["topics"] == ["Hallucination"]


@pytest.mark.parametrize("bad, reason", [
    (record_line(authors=5), "authors is 5, not a list of text"),
    (record_line(topics=["A", 3]), "topics is"),
    (record_line(title=None), "title is null, not text"),
    (record_line(comment={"x": 1}), "comment is"),
    (record_line(version=0), "version is 0"),
    (record_line(version=True), "version is true"),
    (record_line(relevance="high"), "relevance is"),
    (record_line(pid="not-an-id"), "not an arXiv id"),
    ('["a", "list"]', "not an object"),
    ('{"id": "2411.00001", "version": 1, "title": "cut', "not JSON"),
    (b'{"id": "2411.00001", "title": "\xff\xfe"}', "not UTF-8"),
])
def test_a_record_we_cannot_read_is_named_and_kept_verbatim(tmp_path, caplog, bad, reason):
    good = record_line("2411.00002", topics=["T"])
    write_lines(tmp_path, [good, bad])
    original = shard(tmp_path).read_bytes()
    with caplog.at_level(logging.WARNING):
        ledger = Ledger.load(tmp_path)
    assert f"{shard(tmp_path)}:2: " in caplog.text and reason in caplog.text and "kept unchanged" in caplog.text
    assert set(ledger.papers) == {"2411.00002"}
    ledger.record(paper("2411.00003"), "T", "2026-11-20")
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    lines = shard(tmp_path).read_bytes().split(b"\n")
    bad_bytes = bad if isinstance(bad, bytes) else bad.encode()
    assert bad_bytes in lines and original.split(b"\n")[1] == bad_bytes  # byte for byte
    assert set(Ledger.load(tmp_path).papers) == {"2411.00002", "2411.00003"}


def test_unknown_fields_survive_every_rewrite(tmp_path):
    write_lines(tmp_path, [record_line(topics=["T"], reviewer_notes={"by": "Ada", "score": [1, 2]}, zz=None)])
    ledger = Ledger.load(tmp_path)
    ledger.record(paper("2411.00001", version=2, title="v2"), "U", "2026-11-20")
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    stored = json.loads(shard(tmp_path).read_text())
    assert stored["reviewer_notes"] == {"by": "Ada", "score": [1, 2]} and "zz" in stored and stored["version"] == 2


def test_two_records_of_one_paper_are_merged_by_the_ledger_rule(tmp_path, caplog):
    older = record_line(topics=["A"], first_seen="2026-11-01", comment="15 pages,")
    newer = record_line(topics=["B"], first_seen="2026-11-05", version=2, title="v2", revised_on="2026-11-05")
    same = record_line(topics=["C"], first_seen="2026-11-03", comment="15 pages, 3 figures")
    write_lines(tmp_path, [older, record_line("2411.00002"), newer], month="2024-11")
    write_lines(tmp_path, [same], month="2024-12")
    with caplog.at_level(logging.WARNING):
        ledger = Ledger.load(tmp_path)
    got = ledger.get("2411.00001")
    assert (got.version, got.title, got.topics, got.first_seen, got.revised_on) == (2, "v2", ("A", "B", "C"), "2026-11-01", "2026-11-05")
    assert f"{shard(tmp_path)}:1 and {shard(tmp_path)}:3 both hold 2411.00001" in caplog.text
    assert f"both hold 2411.00001; merged" in caplog.text and f"{shard(tmp_path, '2024-12')}:1" in caplog.text
    commit(ledger.files(tmp_path), journal_path(tmp_path))
    assert [json.loads(l)["id"] for l in shard(tmp_path).read_text().splitlines()] == ["2411.00001", "2411.00002"]


def test_same_version_duplicates_keep_the_fuller_text(tmp_path):
    write_lines(tmp_path, [record_line(comment="Under review"), record_line(comment="Accepted")])
    assert Ledger.load(tmp_path).get("2411.00001").comment == "Accepted"  # latest wins for comments...
    write_lines(tmp_path, [record_line(comment="15 pages, 9 figures, accepted"), record_line(comment="15 pages, 9 figures,")])
    assert Ledger.load(tmp_path).get("2411.00001").comment == "15 pages, 9 figures, accepted"  # ...unless cut short
    write_lines(tmp_path, [record_line(title="Full title here"), record_line(title="Full ti")])
    assert Ledger.load(tmp_path).get("2411.00001").title == "Full title here"  # ...never a cut-short title


def test_other_files_in_the_shard_folder_are_left_alone(tmp_path, caplog):
    write_lines(tmp_path, [record_line()])
    (tmp_path / "papers" / "notes.jsonl").write_text("{not a shard}\n")
    with caplog.at_level(logging.WARNING):
        ledger = Ledger.load(tmp_path)
    assert "notes.jsonl is not a ledger shard" in caplog.text
    assert tmp_path / "papers" / "notes.jsonl" not in ledger.files(tmp_path)


# --- the journal at load -----------------------------------------------------------------

def _pending_commit(tmp_path, ledger):
    """The state a run killed right after writing its journal leaves: stages + journal, nothing renamed."""
    plan = {"format": 2, "journal": f"{tmp_path.name}/.commit.json", "replace": [], "delete": []}
    for path, data in ledger.files(tmp_path).items():
        stage = path.with_name(f".{path.name}.staged")
        stage.parent.mkdir(parents=True, exist_ok=True)
        stage.write_bytes(data)
        plan["replace"].append(path.relative_to(tmp_path.parent).as_posix())
    journal_path(tmp_path).write_text(json.dumps(plan))


def _two_days(tmp_path):
    ledger = Ledger()
    ledger.record(paper("2411.00001"), "T", "2026-11-20")
    save(ledger, tmp_path)
    ledger.record(paper("2410.00001"), "T", "2026-11-21")
    ledger.record(paper("2411.00001", version=2), "T", "2026-11-21")
    _pending_commit(tmp_path, ledger)
    return ledger


def test_a_commit_killed_after_its_journal_is_rolled_forward_on_load(tmp_path):
    ledger = _two_days(tmp_path)
    assert Ledger.load(tmp_path).papers == ledger.papers
    assert not journal_path(tmp_path).exists() and not list(tmp_path.rglob("*.staged"))


def test_a_read_only_load_sees_the_pending_commit_and_changes_no_file(tmp_path):
    ledger = _two_days(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert Ledger.load(tmp_path, read_only=True).papers == ledger.papers
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_stages_without_a_journal_are_ignored(tmp_path):
    ledger = Ledger()
    ledger.record(paper(), "T", "2026-11-20")
    save(ledger, tmp_path)
    (tmp_path / "papers" / ".2024-11.jsonl.staged").write_text("half a line")
    assert Ledger.load(tmp_path).papers == ledger.papers


def test_a_dry_run_reads_a_pending_commit_but_never_applies_it(arxiv_server, write_config, tmp_path):
    query = '(ti:"testing" OR abs:"testing")'
    first, second = entry("2611.00001", title="First testing paper"), entry("2611.00002", title="Second testing paper")
    arxiv_server.add_pages(query, {0: feed([first])})
    config = write_config("- name: Testing\n  keywords: [testing]\n")
    assert CliRunner().invoke(cli, ["run", "--config", str(config), "--date", "2026-11-20", "--no-embed"]).exit_code == 0
    ledger = Ledger.load(tmp_path / "data")
    ledger.record(paper("2611.00002", title="Second testing paper"), "Testing", "2026-11-21")
    _pending_commit(tmp_path / "data", ledger)  # a run killed after its journal: the second paper is promised
    files = lambda: {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and ".tracker" not in p.parts}
    before = files()
    arxiv_server.add_pages(query, {0: feed([second, first])})
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--date", "2026-11-21", "--no-embed", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{"):])["totals"]["new"] == 0  # it saw the promised state
    assert files() == before  # journal, stages, ledger and README untouched
    assert CliRunner().invoke(cli, ["run", "--config", str(config), "--date", "2026-11-21", "--no-embed"]).exit_code == 0
    assert set(Ledger.load(tmp_path / "data").papers) == {"2611.00001", "2611.00002"}
    assert not journal_path(tmp_path / "data").exists()
