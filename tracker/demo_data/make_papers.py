"""Build papers.jsonl, the demo's papers (run by hand once; `tracker demo` only reads the result).

    python tracker/demo_data/make_papers.py /path/to/scitldr/train.jsonl

Two sources: the recorded arXiv API pages beside this file (real arXiv entries for `all:testing`)
and abstracts from SciTLDR (Cachola et al., 2020, https://github.com/allenai/scitldr, Apache-2.0;
see ATTRIBUTION.md). SciTLDR papers have no arXiv id: the demo gives them ids numbered from 99001
in their month, which arXiv has not reached. `burst` marks the papers the demo dates into its
last week, so `tracker trends` has a rising theme to find.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import feedparser

HERE = Path(__file__).resolve().parent
PICKS = {"reinforcement learning": 60, "graph neural network": 28, "language model": 40, "adversarial": 90}
BURST = ("adversarial", 55)  # this many of the first topic's papers arrive in the demo's last week


def recorded() -> list[dict]:
    papers = []
    for page in sorted(HERE.glob("api_search_testing_page_start*_max10.xml")):
        for entry in feedparser.parse(page.read_bytes()).entries:
            papers.append(
                {
                    "id": entry.id.split("/abs/", 1)[1],
                    "title": " ".join(entry.title.split()),
                    "abstract": " ".join(entry.summary.split()),
                    "authors": [a.name for a in entry.authors],
                    "categories": [t.term for t in entry.tags],
                    "source": "arXiv API recording",
                }
            )
    return papers


def scitldr(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    papers, taken = [], set()
    for phrase, count in PICKS.items():
        found = [r for r in rows if r["paper_id"] not in taken and re.search(phrase, " ".join(r["source"]), re.I)]
        for rank, row in enumerate(found[:count]):
            taken.add(row["paper_id"])
            papers.append(
                {
                    "id": None,
                    "key": row["paper_id"],
                    "title": " ".join(row["title"].split()),
                    "abstract": " ".join(" ".join(row["source"]).split()),
                    "authors": ["SciTLDR authors"],
                    "categories": ["cs.LG"],
                    "source": "SciTLDR (Apache-2.0)",
                    "burst": phrase == BURST[0] and rank < BURST[1],
                }
            )
    return papers


if __name__ == "__main__":
    with (HERE / "papers.jsonl").open("w", encoding="utf-8") as out:
        for paper in recorded() + scitldr(Path(sys.argv[1])):
            out.write(json.dumps(paper, ensure_ascii=False, sort_keys=True) + "\n")
