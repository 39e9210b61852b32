"""A project for site tests: the recorded real papers in two topics over several days, a profile, and
hostile papers (HTML in titles, javascript: links). Shared by tests/test_site.py."""
from __future__ import annotations

import textwrap
from pathlib import Path

from tests.search_fakes import fixture_papers
from tracker.models import Paper
from tracker.store.ledger import Ledger

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE = (
    Paper(id="2601.00666", version=1, title=HOSTILE_TITLE,
          abstract="<script>alert(2)</script> We study [click](javascript:alert(3)) payloads. Second sentence.",
          authors=("<b onmouseover=alert(4)>Mallory</b>",), topics=("Testing",), published="2026-04-10T00:00:00Z",
          updated="2026-04-10T00:00:00Z", abs_url="javascript:alert(5)", pdf_url="javascript:alert(6)",
          first_seen="2026-04-13", extra={"tldr": "<svg onload=alert(7)> code at javascript:alert(8)"}),
    Paper(id="2601.00667", version=1, title="Attack \u202e\u0000 <a href=\"https://evil.example/\">click</a> <style>*{}</style>",
          abstract="A javascript:alert(9) link and <iframe src=https://evil.example></iframe>.", authors=("Eve",),
          topics=("Learning",), published="2026-04-11T00:00:00Z", updated="2026-04-11T00:00:00Z",
          abs_url="https://evil.example/abs", pdf_url="data:text/html,<script>alert(10)</script>", first_seen="2026-04-12"),
)
DAYS = ("2026-04-11", "2026-04-12", "2026-04-13")


def site_papers() -> list[Paper]:
    """~120 real papers: even ones in Testing, odd ones in Learning, seen over three days."""
    papers = []
    for i, paper in enumerate(sorted(fixture_papers(), key=lambda p: p.id)):
        topic = "Testing" if i % 2 == 0 else "Learning"
        papers.append(paper.with_changes(topics=(topic,), first_seen=DAYS[i % 3]))
    return papers + list(HOSTILE)


def save_ledger(papers: list[Paper], data_dir: Path) -> None:
    """The ledger's shard files, as a run would leave them."""
    for path, content in Ledger({p.id: p for p in papers}).files(data_dir).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def write_project(folder: Path) -> Path:
    save_ledger(site_papers(), folder / "data")
    config = folder / "keywords.yaml"
    config.write_text(textwrap.dedent("""\
        topics:
          - name: Testing
            keywords: [testing]
          - name: Learning
            keywords: [learning]
        profile:
          interests: ["software testing of machine learning systems"]
        """), encoding="utf-8")
    return config
