"""Digest and ledger -> Markdown, through Jinja2 templates (users may override any template).

Everything user-supplied (titles, abstracts, comments, names) passes through `md_inline`,
so `|`, newlines, HTML, backticks and LaTeX cannot break a table or inject markup.
"""
from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import jinja2

from tracker.render.digest import Digest, by_date
from tracker.render.links import find_code_links
from tracker.models import Paper

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
START_MARKER = "<!-- paper-tracker:start -->"
END_MARKER = "<!-- paper-tracker:end -->"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$#])")


def md_inline(text: str | None) -> str:
    """Make arbitrary text safe inside a Markdown table cell, heading, list item or link text."""
    flat = " ".join((text or "").split())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def format_authors(authors: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(authors[:limit])
    return shown + (", et al." if len(authors) > limit else "")


def code_links(paper: Paper) -> list[str]:
    """Code/project URLs in the abstract or comment."""
    return list(dict.fromkeys(find_code_links(paper.abstract) + find_code_links(paper.comment)))


def anchor(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "topic"


def environment(override_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None and override_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(override_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # Markdown, not HTML: escaping is explicit through the `md` filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_inline
    env.filters["authors"] = format_authors
    env.filters["code_links"] = code_links
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


def split_for_archive(papers: Iterable[Paper], cap: int) -> tuple[list[Paper], dict[str, list[Paper]]]:
    """The newest `cap` papers stay in the README; the rest go to pages by month of their date."""
    ordered = sorted(papers, key=by_date, reverse=True)  # newest first, as in the digest
    months: dict[str, list[Paper]] = {}
    for paper in ordered[cap:]:
        months.setdefault(paper.date[:7] or "undated", []).append(paper)
    return ordered[:cap], months


def render_readme(
    env: jinja2.Environment,
    topics: Sequence[str],
    papers: Sequence[Paper],
    *,
    date: str,
    cap: int,
    readme_path: Path,
    archive_dir: Path,
    digest_dir: Path,
) -> tuple[str, dict[Path, str]]:
    """The marked README section, and every archive page keyed by its path."""
    tables, pages = [], {}
    for name in topics:
        rows, months = split_for_archive((p for p in papers if name in p.topics), cap)
        links = []
        for month, month_papers in sorted(months.items(), reverse=True):
            page_path = archive_dir / slug(name) / f"{month}.md"
            pages[page_path] = env.get_template("archive.md.j2").render(topic=name, month=month, rows=month_papers, date=date)
            links.append(ArchiveLink(month, _relative(page_path, readme_path.parent)))
        count = len(rows) + sum(len(v) for v in months.values())
        tables.append(TopicTable(name, anchor(name), count, tuple(rows), tuple(links)))
    section = env.get_template("readme.md.j2").render(
        topics=tables, date=date, cap=cap, total=len(papers), digests_link=_relative(digest_dir, readme_path.parent)
    )
    return section, pages


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def splice(existing: str, section: str) -> str:
    """Replace only the text between our markers; add the marked block at the end if absent."""
    block = f"{START_MARKER}\n{section.strip()}\n{END_MARKER}"
    start, end = existing.find(START_MARKER), existing.find(END_MARKER)
    if start != -1 and end > start:
        return existing[:start] + block + existing[end + len(END_MARKER):]
    separator = "" if not existing else ("\n" if existing.endswith("\n") else "\n\n")
    return existing + separator + block + "\n"


# --- digest -----------------------------------------------------------------------------

def digest_path(digest_dir: Path, date: str) -> Path:
    year, month, _ = date.split("-")
    return digest_dir / year / month / f"{date}.md"


def render_digest(env: jinja2.Environment, digest: Digest, *, cap: int) -> str:
    return env.get_template("digest.md.j2").render(d=digest, cap=cap)
