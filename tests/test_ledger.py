import json

import pytest

from tracker.errors import TrackerError
from tracker.store.ledger import Change, Ledger, merge
from tracker.models import Paper


def paper(pid="2411.00001", version=1, **kw):
    base = dict(title="T", abstract="A", updated=f"2026-11-1{version}T00:00:00Z", published="2026-11-10T00:00:00Z")
    return Paper(id=pid, version=version, **{**base, **kw})


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
    assert merge(current, paper(version=2), "MLLM", "2026-11-21") == (current, Change.SAME)
    assert merge(current, paper(version=3), "MLLM", "2026-11-21") == (current, Change.SAME)


def test_same_version_fills_what_rss_did_not_know():
    from_rss, _ = merge(None, paper(version=2, published=None, comment=None), "MLLM", "2026-11-20")
    merged, _ = merge(from_rss, paper(version=2, comment="ICLR 2027"), "MLLM", "2026-11-20")
    assert merged.published == "2026-11-10T00:00:00Z" and merged.comment == "ICLR 2027"


def save(ledger, data_dir):
    from tracker.store.ledger import journal_path
    from tracker.store.journal import commit

    return commit(ledger.files(data_dir), journal_path(data_dir))


def test_save_shards_by_id_month_sorted_and_roundtrips(tmp_path):
    ledger = Ledger()
    for pid in ["2411.00002", "2410.99999", "2411.00001", "hep-th/9901001"]:
        ledger.record(paper(pid), "T", "2026-11-20")
    written = save(ledger, tmp_path)
    assert sorted(p.name for p in written) == ["1999-01.jsonl", "2024-10.jsonl", "2024-11.jsonl"]
    lines = (tmp_path / "papers" / "2024-11.jsonl").read_text().splitlines()
    assert [json.loads(l)["id"] for l in lines] == ["2411.00001", "2411.00002"]
    assert Ledger.load(tmp_path).papers == ledger.papers
    assert save(ledger, tmp_path) == []  # unchanged: nothing rewritten


def test_unicode_is_stored_readably(tmp_path):
    ledger = Ledger()
    ledger.record(paper(authors=("Jörg Müller",)), "T", "2026-11-20")
    save(ledger, tmp_path)
    assert "Jörg Müller" in (tmp_path / "papers" / "2024-11.jsonl").read_text(encoding="utf-8")


def test_corrupt_line_is_named_not_silently_dropped(tmp_path):
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "2024-11.jsonl").write_text('{"id": "2411.00001", "version": 1, "title": "t", "abstract": "a"}\n{oops\n')
    with pytest.raises(TrackerError, match=r"2024-11.jsonl:2: unreadable ledger record"):
        Ledger.load(tmp_path)


def test_a_commit_killed_after_its_journal_is_rolled_forward_on_load(tmp_path):
    from tracker.store.ledger import journal_path

    ledger = Ledger()
    ledger.record(paper("2411.00001"), "T", "2026-11-20")
    save(ledger, tmp_path)
    ledger.record(paper("2410.00001"), "T", "2026-11-21")
    ledger.record(paper("2411.00001", version=2), "T", "2026-11-21")
    # Simulate a kill right after the journal was written: stages exist, nothing renamed yet.
    plan = []
    for path, text in ledger.files(tmp_path).items():
        stage = path.with_name(f".{path.name}.staged")
        stage.parent.mkdir(parents=True, exist_ok=True)
        stage.write_text(text)
        plan.append({"target": str(path), "stage": str(stage)})
    journal_path(tmp_path).write_text(json.dumps(plan))
    assert Ledger.load(tmp_path).papers == ledger.papers
    assert not journal_path(tmp_path).exists()


def test_stages_without_a_journal_are_ignored(tmp_path):
    ledger = Ledger()
    ledger.record(paper(), "T", "2026-11-20")
    save(ledger, tmp_path)
    (tmp_path / "papers" / ".2024-11.jsonl.staged").write_text("half a line")
    assert Ledger.load(tmp_path).papers == ledger.papers
