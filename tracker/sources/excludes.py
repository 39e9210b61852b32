"""Exclusion filter: drop papers by term or category before any other stage sees them.

Terms match case-insensitively as whole words or phrases in the title or abstract ("LLM"
drops "LLM-based" but not "LLMs"; "graph neural network" also matches across a line break).
Categories match any of a paper's categories, exactly or as a glob (`cs.*`, `hep-*`); a bare
archive (`astro-ph`, `math`) covers its subject classes too.
The caller merges global and per-topic lists (config `exclude`, `exclude_categories`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from tracker.models import Paper


def apply_excludes(
    papers: Iterable[Paper], terms: Sequence[str] = (), categories: Sequence[str] = ()
) -> tuple[list[Paper], dict[str, int]]:
    """(papers kept, number dropped per reason); reasons read "category:cs.*" or "term:quantum"."""
    term_patterns = [(term, _term_pattern(term)) for term in dict.fromkeys(t.strip() for t in terms) if term]
    category_globs = [c.strip() for c in dict.fromkeys(categories) if c.strip()]
    kept: list[Paper] = []
    dropped: Counter[str] = Counter()
    for paper in papers:
        reason = _category_reason(paper, category_globs) or _term_reason(paper, term_patterns)
        if reason:
            dropped[reason] += 1
        else:
            kept.append(paper)
    return kept, dict(dropped)


def _term_pattern(term: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in term.split()]
    # Word boundaries as lookarounds so terms that start or end with a symbol ("C++") work.
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _term_reason(paper: Paper, patterns: list[tuple[str, re.Pattern[str]]]) -> str | None:
    text = f"{paper.title}\n{paper.abstract}"
    for term, pattern in patterns:
        if pattern.search(text):
            return f"term:{term}"
    return None


def _category_reason(paper: Paper, globs: list[str]) -> str | None:
    # arXiv category names are case-sensitive (cs.LG vs math.LO); compare lower-cased so a
    # config typo in case still works — no two real categories differ only in case.
    cats = [c.lower() for c in (*paper.categories, paper.primary_category) if c]
    for glob in globs:
        if any(_category_matches(cat, glob.lower()) for cat in cats):
            return f"category:{glob}"
    return None


def _category_matches(category: str, glob: str) -> bool:
    """Exact or glob match; a bare archive ("astro-ph", "math") also covers its subject classes."""
    if fnmatchcase(category, glob):
        return True
    return "." not in glob and not any(ch in glob for ch in "*?[") and category.startswith(glob + ".")
