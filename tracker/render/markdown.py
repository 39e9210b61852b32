"""Digest and ledger -> Markdown, through Jinja2 templates (users may override any template).

Everything user-supplied (titles, abstracts, comments, names) passes through the filter for
its destination (tracker.render.escape: md_text, md_cell, html_text, md_link), so the reader
sees the text as written and nothing in it can break a table, inject markup or ping anyone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from tracker.digest import Digest
from tracker.enrich.tldr import shown_tldr
from tracker.models import Paper
from tracker.render.charts import Chart
from tracker.render.escape import FILTERS, md_text
from tracker.render.latex import readable
from tracker.render.links import find_code_links
from tracker.render.paths import (
    archive_marker,
    archive_page,
    digest_path,  # noqa: F401  (re-exported: callers import it from here)
    feed_path,
)
from tracker.render.splice import END_MARKER, START_MARKER, splice  # noqa: F401  (re-exported)
from tracker.slugs import topic_slug

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def format_authors(authors: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(authors[:limit])
    return shown + (", et al." if len(authors) > limit else "")


def code_links(paper: Paper) -> list[str]:
    """Code/project URLs in the abstract or comment."""
    return list(dict.fromkeys(find_code_links(paper.abstract) + find_code_links(paper.comment)))


def anchor(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def table_date(paper: Paper) -> str:
    """The date (and version) as one unbreakable run: non-breaking hyphens and space, so a narrow
    table column never wraps it, while it still reads as 2024-01-03."""
    shown = paper.date + (f" (v{paper.version})" if paper.version > 1 else "")
    return shown.replace("-", "\u2011").replace(" ", "\u00a0")


def environment(override_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None and override_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # Markdown, not HTML: each value is escaped for its context (escape.py)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    env.filters["md"] = md_text  # older templates (and user overrides) say `md`
    env.filters["authors"] = format_authors
    env.filters["code_links"] = code_links
    env.filters["table_date"] = table_date
    env.filters["readable"] = readable  # LaTeX -> Unicode; before the destination's escaping filter
    env.filters["tldr"] = shown_tldr
    return env


# --- README -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveLink:
    month: str
    link: str


@dataclass(frozen=True)
class TopicTable:
    name: str
    anchor: str
    count: int
    rows: tuple[Paper, ...]
    archives: tuple[ArchiveLink, ...]


@dataclass(frozen=True)
class TopicLayout:
    """Where a topic's papers go, by id: README rows and archive months, each newest first."""

    readme: tuple[str, ...]
    months: dict[str, tuple[str, ...]]

    @property
    def count(self) -> int:
        return len(self.readme) + sum(map(len, self.months.values()))


# (id, topics, newest-first key: `updated` or "", table date: Paper.date) of one paper
PaperKey = tuple[str, Sequence[str], str, str]


def layout(topics: Sequence[str], keys: Iterable[PaperKey], cap: int) -> dict[str, TopicLayout]:
    """Each topic's newest `cap` papers in the README, the rest on pages by month of their date; from
    keys alone (no record needs to be read)."""
    by_topic: dict[str, list[tuple[str, str, str]]] = {name: [] for name in topics}
    for pid, paper_topics, updated, date in keys:
        for name in paper_topics:
            if name in by_topic:
                by_topic[name].append((updated, pid, date))
    placed = {}
    for name, items in by_topic.items():
        items.sort(reverse=True)  # by_date order: (updated, id), newest first; ids are unique
        months: dict[str, list[str]] = {}
        for _, pid, date in items[cap:]:
            months.setdefault(date[:7] or "undated", []).append(pid)
        placed[name] = TopicLayout(
            tuple(pid for _, pid, _ in items[:cap]), {m: tuple(ids) for m, ids in months.items()}
        )
    return placed


def render_tables(
    env: jinja2.Environment,
    topics: Sequence[str],
    placed: dict[str, TopicLayout],
    lookup: Callable[[Sequence[str]], Sequence[Paper]],
    *,
    total: int,
    date: str,
    cap: int,
    readme_path: Path,
    archive_dir: Path,
    digest_dir: Path,
    pages: Collection[tuple[str, str]] | None = None,
    readme: bool = True,
    activity: Chart | None = None,
) -> tuple[str | None, dict[Path, str]]:
    """The README section (None without `readme`) and the archive pages named in `pages`
    ((topic, month) pairs; None: every page). `lookup` gives the records of ids, in order:
    only the rows rendered are looked up, so a caller can read records lazily."""
    tables, rendered = [], {}
    anchors = unique_anchors(topics)
    for name in topics:
        links = []
        for month, ids in sorted(placed[name].months.items(), reverse=True):
            page_path = archive_page(archive_dir, name, month)
            if pages is None or (name, month) in pages:
                back = f"{_relative(readme_path, page_path.parent)}#{anchors[name]}"
                body = env.get_template("archive.md.j2").render(
                    topic=name, month=month, rows=lookup(ids), readme_link=back, date=date
                )
                rendered[page_path] = f"{archive_marker(topic_slug(name))}\n{body}"
            links.append(ArchiveLink(month, _relative(page_path, readme_path.parent)))
        rows = tuple(lookup(placed[name].readme)) if readme else ()
        tables.append(TopicTable(name, anchors[name], placed[name].count, rows, tuple(links)))
    if not readme:
        return None, rendered
    section = env.get_template("readme.md.j2").render(
        topics=tables,
        date=date,
        cap=cap,
        total=total,
        digests_link=_relative(digest_dir, readme_path.parent),
        feed_link=_relative(feed_path(digest_dir), readme_path.parent),
        activity=activity,
    )
    return section, rendered


def unique_anchors(headings: Sequence[str]) -> dict[str, str]:
    """GitHub's anchors for headings in order: a repeated anchor gets -1, -2, ... as GitHub does."""
    seen: dict[str, int] = {}
    result = {}
    for heading in headings:
        base = anchor(heading)
        count = seen.get(base, 0)
        result[heading] = base if count == 0 else f"{base}-{count}"
        seen[base] = count + 1
    return result


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


# --- digest -----------------------------------------------------------------------------


def render_digest(
    env: jinja2.Environment, digest: Digest, *, cap: int, failures: Iterable[tuple[str, str]] | None = None
) -> str:
    """The day's digest page. `failures` ((topic, arXiv's message) per failed topic) replaces
    `digest.failures` when given: the page then names each one instead of claiming a quiet day."""
    if failures is not None:
        digest = replace(digest, failures=tuple((str(t), str(m)) for t, m in failures))
    return env.get_template("digest.md.j2").render(d=digest, cap=cap)
