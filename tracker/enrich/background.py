"""How common a phrase is across everything seen: the background that tells a label from a cliché.

A phrase that a large share of all papers use ("language models", "future research", "neural
networks") says nothing about one theme, however often the theme's papers use it. Its document
frequency is counted over the ledger's papers (everything the tracker has seen) pooled with a
table shipped with the tracker (SHIPPED: counts over the recorded arXiv responses and 2,609 ML
abstracts, written by `python benchmarks/labels.py --background`), so a new tracker whose ledger
holds one day still knows what every paper says. A phrase used by GENERIC_SHARE of the pooled
papers or more is generic. Inflections are merged ("models" counts for "model").

Only the phrases asked about are counted (a label's candidates: a few hundred a run): a word
index over the ledger's texts (lowercased, punctuation spaced out) narrows each phrase to the
papers holding all its words, and a substring check counts those, instead of parsing every
abstract into phrases on every run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from tracker.enrich.labels import LabelContext, phrase_key

SHIPPED = Path(__file__).with_name("background_phrases.json")
# benchmarks/labels.py: of ML papers, "neural networks" 0.38, "deep neural networks" 0.12,
# "reinforcement learning" 0.12
GENERIC_SHARE = 0.1


class Background:
    def __init__(self, texts: Iterable[str] = (), shipped: tuple[int, dict[str, int]] | None = None):
        self.texts = [normalise(t) for t in texts]
        self.shipped_docs, self.shipped_counts = shipped if shipped is not None else shipped_table()
        self._counts: dict[str, int] = {}

    @property
    def docs(self) -> int:
        return len(self.texts) + self.shipped_docs

    def share(self, phrase: str) -> float:
        """The share of all papers (ledger and shipped) that use `phrase`, inflections merged."""
        key = phrase_key(phrase)
        if key not in self._counts:
            self._counts[key] = self._count(key)
        return (self._counts[key] + self.shipped_counts.get(key, 0)) / self.docs if self.docs else 0.0

    def generic(self, phrase: str) -> bool:
        return self.share(phrase) >= GENERIC_SHARE

    def _count(self, key: str) -> int:
        """Texts holding `key` (or its plural): the texts with all its words, then a substring check."""
        rows = set.intersection(*(self._rows_with(w) for w in key.split())) if key else set()
        forms = [f" {key}"] + ([f" {key[:-1]}ies"] if key.endswith("y") else [])
        return sum(1 for row in rows if any(form in self.texts[row] for form in forms))

    @cached_property
    def _papers_with(self) -> dict[str, set[int]]:
        """Word as written -> the texts using it; built on the first count."""
        index: dict[str, set[int]] = {}
        for row, text in enumerate(self.texts):
            for word in set(text.split()):
                index.setdefault(word, set()).add(row)
        return index

    def _rows_with(self, word: str) -> set[int]:
        forms = (word, word + "s", word + "es") + ((word[:-1] + "ies",) if word.endswith("y") else ())
        return set().union(*(self._papers_with.get(form, ()) for form in forms))


def normalise(text: str) -> str:
    """Lowercase words separated by single spaces, with a space in front ("Deep-RL, LLMs." -> " deep-rl llms ")."""
    return " " + " ".join(re.sub(r"[^\w-]+", " ", text.lower()).split()) + " "


def shipped_table() -> tuple[int, dict[str, int]]:
    """(papers, {phrase key: papers using it}) of the shipped table; (0, {}) when it is missing or
    damaged (the ledger alone then decides)."""
    try:
        data = json.loads(SHIPPED.read_text(encoding="utf-8"))
        return int(data["docs"]), {str(k): int(v) for k, v in data["counts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0, {}


def label_context(encoder, texts: Iterable[str]) -> LabelContext:
    """What the digest, the weekly review and `tracker trends` label themes with: the run's
    encoder (None: no re-ranking) and the ledger's papers' texts as the background."""
    return LabelContext(encoder, Background(texts))
