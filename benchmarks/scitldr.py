"""Real ML abstracts for the theme and trend benchmarks: SciTLDR (title + abstract sentences).

    from benchmarks.scitldr import load_scitldr, scitldr_vectors

2,609 OpenReview papers in /work/shared/fixtures/scitldr/{train,dev}.jsonl (or SCITLDR_DIR). Each
becomes a Paper (id "scitldr-<paper_id>"); `subject_of` files a paper under a subject by keywords
of its title (the benchmark's planted bursts). Vectors come from the tracker's own encoder
(tracker.enrich.encoders.load_encoder) and are cached in benchmarks/.cache (gitignored): the
first run embeds for a few minutes, later runs load.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from tracker.models import Paper

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SCITLDR_DIR", "/work/shared/fixtures/scitldr"))
CACHE = ROOT / "benchmarks" / ".cache"


def load_scitldr(splits: tuple[str, ...] = ("train", "dev")) -> list[Paper]:
    """Every paper with a title and an abstract, in file order, first occurrence of an id kept."""
    papers: dict[str, Paper] = {}
    for split in splits:
        for line in (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            title, abstract = " ".join(record.get("title", "").split()), " ".join(record.get("source") or [])
            pid = f"scitldr-{record['paper_id']}"
            if title and abstract and pid not in papers:
                papers[pid] = Paper(id=pid, version=1, title=title, abstract=abstract)
    return list(papers.values())


def scitldr_vectors(papers: list[Paper]) -> np.ndarray:
    """Row i embeds papers[i] (tracker.enrich.embed.embed_text), cached by the texts' hash."""
    from tracker.enrich.embed import embed_text

    texts = [embed_text(p) for p in papers]
    digest = hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"scitldr-{digest}.npy"
    if path.exists():
        return np.load(path)
    from tracker.enrich.encoders import load_encoder

    vectors = load_encoder().encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def subject_of(paper: Paper, subjects: dict[str, str]) -> str | None:
    """The first subject (name -> title regex) whose pattern the title matches."""
    for name, pattern in subjects.items():
        if re.search(pattern, paper.title, re.IGNORECASE):
            return name
    return None
