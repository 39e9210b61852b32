"""Extractive TL;DR of one abstract.

# placeholder, replaced by the fitted model (helper 17a builds it; same signature).
Picks the first sentence that states a contribution ("we propose / present / introduce"),
else the first sentence.
"""
from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_CONTRIBUTION = re.compile(r"\bwe (?:propose|present|introduce)\b", re.IGNORECASE)


def extractive_tldr(title: str, abstract: str) -> str:
    sentences = [s.strip() for s in _SENTENCE_END.split(" ".join(abstract.split())) if s.strip()]
    if not sentences:
        return ""
    return next((s for s in sentences if _CONTRIBUTION.search(s)), sentences[0])
