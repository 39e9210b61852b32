"""The site's data files, written from a Catalogue. The page (site/app/*.js) reads exactly these.

data/meta.json          counts, dims, int8 scale, topic and profile names, file names, build date
data/codes.bin          n x dim/8 bytes: sign codes, scanned in full by every semantic search
data/entries.bin        per paper its int8 row (dim bytes) then its display record (UTF-8 JSON), papers
                        in search order (codes.search_order); a search fetches only its candidates'
                        entries, neighbours in one HTTP Range request, and shows their records
data/spans.bin          n x 2 uint32 (little-endian): where paper i's entry starts and ends in entries.bin
data/dates.bin          n x uint16 (little-endian): days since 1970-01-01 of each paper's date (date filter)
data/titles.json        every title, for the lexical search (while the model loads / without WebAssembly)
data/ids.json           every arXiv id, for the paper view (#paper/ID)
data/topic-I.json       positions of topic I's papers (newest first): topic page and topic filter
data/profile-I.json     positions of profile I's papers: the profile filter
data/days.json, data/day/DATE.json, data/today.json, data/themes.json: the browsing views
Positions are indexes in site order (newest first); only entries.bin is in search order. Paper text
is stored as plain strings: the page puts it in the DOM with textContent only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from tracker.site.catalogue import Catalogue, title, tldr
from tracker.site.codes import binary_codes, int8_rows, int8_scale, search_order

FORMAT = 2
_EPOCH = dt.date(1970, 1, 1)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def write_data(
    catalogue: Catalogue, data_dir: Path, *, built: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write every data file under `data_dir`; returns meta.json's content."""
    data_dir.mkdir(parents=True, exist_ok=True)
    vectors = np.asarray(catalogue.vectors, dtype=np.float32)
    if not len(catalogue.papers):  # an empty ledger: an empty site that says so
        vectors = np.zeros((0, 8), dtype=np.float32)
    scale = int8_scale(vectors)
    (data_dir / "codes.bin").write_bytes(binary_codes(vectors).tobytes())
    _write_entries(catalogue, int8_rows(vectors, scale), search_order(vectors), data_dir)
    (data_dir / "dates.bin").write_bytes(np.array([_days(p.date) for p in catalogue.papers], dtype="<u2").tobytes())
    _json(data_dir / "titles.json", [title(p) for p in catalogue.papers])
    _json(data_dir / "ids.json", [p.id for p in catalogue.papers])
    topic_index = {name: i for i, name in enumerate(catalogue.topics)}
    by_topic: dict[int, list[int]] = defaultdict(list)
    for pos, paper in enumerate(catalogue.papers):
        for name in paper.topics:
            by_topic[topic_index[name]].append(pos)
    for i in range(len(catalogue.topics)):
        _json(data_dir / f"topic-{i}.json", by_topic[i])
    for i, name in enumerate(catalogue.profiles):
        _json(data_dir / f"profile-{i}.json", catalogue.profile_members[name])
    _write_days(catalogue, data_dir)
    _json(data_dir / "themes.json", catalogue.themes)
    meta = {
        "format": FORMAT,
        "count": len(catalogue.papers),
        "dim": int(vectors.shape[1]),
        "scale": scale,
        "topics": catalogue.topics,
        "topic_counts": [len(by_topic[i]) for i in range(len(catalogue.topics))],
        "profiles": catalogue.profiles,
        "latest": catalogue.latest_day,
        "built": built,
        **(extra or {}),
    }
    _json(data_dir / "meta.json", meta)
    return meta


def record(paper: Any, topic_index: dict[str, int]) -> list[Any]:
    """One paper as the page shows it: [id, date, title, topic indexes, tldr, authors, abs url, pdf url];
    a url is "" when it is arXiv's own for the id, of any version: the page links the latest version
    (and saves a tenth of the site's data)."""
    return [
        paper.id,
        paper.date,
        title(paper),
        [topic_index[t] for t in paper.topics],
        tldr(paper),
        list(paper.authors[:6]) + ([f"+{len(paper.authors) - 6}"] if len(paper.authors) > 6 else []),
        _unless_arxiv(paper.abs_url, "abs", paper.id),
        _unless_arxiv(paper.pdf_url, "pdf", paper.id),
    ]


def _unless_arxiv(url: str, kind: str, paper_id: str) -> str:
    return "" if re.fullmatch(rf"(https?://arxiv\.org/{kind}/{re.escape(paper_id)}(v\d+)?)?", url or "") else url


def _write_entries(catalogue: Catalogue, rows: np.ndarray, order: np.ndarray, data_dir: Path) -> None:
    """entries.bin (row + record per paper, in `order`) and spans.bin (each position's byte range)."""
    topic_index = {name: i for i, name in enumerate(catalogue.topics)}
    spans = np.zeros((len(catalogue.papers), 2), dtype="<u4")
    offset = 0
    with (data_dir / "entries.bin").open("wb") as out:
        for position in order:
            text = _compact(record(catalogue.papers[position], topic_index))
            entry = rows[position].tobytes() + text.encode("utf-8")
            out.write(entry)
            spans[position] = (offset, offset + len(entry))
            offset += len(entry)
    (data_dir / "spans.bin").write_bytes(spans.tobytes())


def _write_days(catalogue: Catalogue, data_dir: Path) -> None:
    """One file per day the tracker saw new papers (that day's digest), the list of days, and today."""
    by_day: dict[str, list[int]] = defaultdict(list)
    for pos, paper in enumerate(catalogue.papers):
        by_day[_day_name(paper.first_seen or paper.date)].append(pos)
    (data_dir / "day").mkdir(exist_ok=True)
    for day, positions in by_day.items():
        _json(data_dir / "day" / f"{day}.json", {"date": day, "positions": positions})
    _json(data_dir / "days.json", sorted(([day, len(p)] for day, p in by_day.items()), reverse=True))
    _json(
        data_dir / "today.json",
        {"date": catalogue.latest_day, "picks": catalogue.picks, "positions": by_day.get(catalogue.latest_day, [])},
    )


def _day_name(date: str) -> str:
    """A day as a file name: YYYY-MM-DD, or "undated" for anything else a record may hold."""
    return date if _DAY.fullmatch(date or "") else "undated"


def _days(date: str) -> int:
    try:
        return max(0, min(65535, (dt.date.fromisoformat(date[:10]) - _EPOCH).days))
    except ValueError:
        return 0  # no date: sorts before any date filter's start


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json(path: Path, value: Any) -> None:
    path.write_text(_compact(value), encoding="utf-8")
