"""The run summary has one definition: what `run` writes is what `publish` reads."""
from __future__ import annotations

import json

from tracker.models import RunSummary, TopicSummary
from tracker.publish.day import failures, read_summary


def test_a_summary_reads_back_as_it_was_written(tmp_path):
    summary = RunSummary(date="2026-11-20", topics=[TopicSummary("A", 5, 2, 1, 1), TopicSummary("B", error="HTTP 503")],
                         new_papers=2, revised_papers=1, outputs=["README.md"], extra={"embedded": 3}, error="stopped")
    path = tmp_path / "last_run.json"
    path.write_text(json.dumps(summary.to_dict()), encoding="utf-8")
    again = read_summary(path, "2026-11-20")
    assert again == summary and again.to_dict() == summary.to_dict()
    assert failures(again) == [("B", "HTTP 503")]
    assert read_summary(path, "2026-11-21") is None  # another day's summary is not this day's


def test_a_damaged_summary_reads_as_empty_fields_never_crashes(tmp_path):
    path = tmp_path / "last_run.json"
    hostile = {"date": "2026-11-20", "topics": [{"name": "A", "new": -3, "error": ["x"]}, "junk", None],
               "totals": {"new": True, "revised": "7"}, "outputs": ["README.md", 3, None], "dry_run": "yes"}
    path.write_text(json.dumps(hostile), encoding="utf-8")
    summary = read_summary(path, "2026-11-20")
    assert (summary.new_papers, summary.revised_papers, summary.dry_run) == (0, 0, False)
    assert summary.outputs == ["README.md"] and [t.new for t in summary.topics] == [0]
    assert failures(summary) == [("A", "['x']")]
