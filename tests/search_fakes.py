"""Test doubles for the search tests: a real (if crude) encoder with predictable vectors; the fixture
papers; `in_text`, the oracle of theme labels (tests and benchmarks/themes.py)."""
from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from tracker.arxiv_ids import parse_id
from tracker.models import Paper


def in_text(phrase: str, text: str) -> bool:
    """Whether `phrase` appears in `text` as written (case and spacing aside)."""
    pattern = r"(?<![\w-])" + r"\s+".join(map(re.escape, phrase.split())) + r"(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


class HashEncoder:
    """Hashed bag of words: texts sharing words get close vectors; counts what it encoded."""

    def __init__(self, model_name: str = "fake-bow", dim: int = 64):
        self.model_name, self.dim = model_name, dim
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def paper(pid: str, title: str, *, date: str = "2024-01-10", topics=("llm",), authors=("Ada Lovelace",),
          version: int = 1, abstract: str | None = None) -> Paper:
    return Paper(id=pid, version=version, title=title, abstract=abstract or f"About {title.lower()}.",
                 authors=tuple(authors), topics=tuple(topics), published="2023-12-01T00:00:00Z",
                 updated=f"{date}T12:00:00Z")


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "arxiv-api"


def fixture_papers() -> list[Paper]:
    """Every distinct real paper in the recorded arXiv API responses (~117 abstracts)."""
    import feedparser

    papers: dict[str, Paper] = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            if "/abs/" not in entry.get("id", ""):
                continue
            parsed = parse_id(entry.id.rsplit("/abs/", 1)[1])
            papers.setdefault(parsed.base, Paper(
                id=parsed.base, version=parsed.version or 1, title=" ".join(entry.title.split()),
                abstract=" ".join(entry.summary.split()), authors=tuple(a.name for a in entry.get("authors", [])),
                published=entry.get("published"), updated=entry.get("updated"), topics=("fixtures",),
            ))
    return list(papers.values())
