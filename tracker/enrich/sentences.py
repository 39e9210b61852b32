"""Split an abstract into sentences: fast, and careful where abstracts put full stops mid-sentence.

Why not a library: pysbd, the well-kept rule-based splitter, takes ~12 ms per abstract and the
TL;DR must cost a few milliseconds; the handful of traps abstracts actually contain are listed
here instead, each with a test (tests/test_tldr_model.py). A full stop does not end a sentence:
- inside inline math (`$x. Y$`, `\\(...\\)`) or a URL (`https://a.b/c?d=1`);
- after an abbreviation (e.g., i.e., et al., Fig., Eq., Sec., vs., cf., ...), an initial
  (`J. Smith`, `U.S.`) or inside a number (`3.5%` has no space after the dot anyway);
- when the next word starts in lower case (`such as e.g. a social network`).
"""

from __future__ import annotations

import bisect
import re

# Words that end in a full stop without ending the sentence (compared lower-case, no dot).
ABBREVIATIONS = frozenset(
    """e.g eg i.e ie et al cf vs viz resp approx ca fig figs eq eqs eqn sec secs tab ref refs
    no nos vol pp ch app appx thm lem def prop cor alg dr prof mr ms mrs st jr inc ltd co
    w.r.t wrt a.k.a aka u.s e.t.c""".split()
)
# Spans whose dots and question marks are not sentence ends: $...$, $$...$$, \(...\), URLs.
_PROTECTED = re.compile(
    r"\$\$.{0,400}?\$\$|\$[^$]{0,400}\$|\\\(.{0,400}?\\\)|(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]]"
)
# A candidate end: . ! or ? (plus closing quotes/brackets), then whitespace.
_CANDIDATE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
# What may open a sentence: upper case, a digit, math, a LaTeX command, a quote or bracket.
_OPENER = re.compile(r"\s+[\"'“‘(\[]?[A-Z0-9$\\À-ÖØ-Þ]")
_WORD_BEFORE = re.compile(r"(\S+)$")


def _protected_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PROTECTED.finditer(text)]


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    """Whether `pos` falls in one of `spans` (sorted, disjoint): a binary search, so long text stays linear."""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the token ending at `end` (its final dot excluded) is an abbreviation or an initial."""
    match = _WORD_BEFORE.search(text, max(0, end - 80), end)  # a window: a search from 0 is quadratic
    if not match:
        return False
    word = match.group(1).lstrip("([\"'“‘")
    if word.lower() in ABBREVIATIONS:
        return True
    # An initial ("J. Smith") or letters between dots ("U.S."); a lone lower-case letter is
    # usually a variable ending a sentence ("... to approximate f. We also show").
    return bool(re.fullmatch(r"[A-Z]|(?:[A-Za-z]\.)+[A-Za-z]", word))


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (whitespace collapsed), in order; [] for blank text."""
    text = " ".join(text.split())
    if not text:
        return []
    spans = _protected_spans(text)
    sentences, start = [], 0
    for match in _CANDIDATE_END.finditer(text):
        stop = match.end()
        if _inside(match.start(), spans) or not _OPENER.match(text, stop):
            continue
        if text[match.start()] == "." and _is_abbreviation(text, match.start()):
            continue
        sentences.append(text[start:stop].strip())
        start = stop
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]
