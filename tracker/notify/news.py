"""The day's news for chat and e-mail, as platform-neutral blocks (read from the run's files).

`gather_news` reads the digest data the run wrote (tracker.render.digest_data) and looks each
paper up in the ledger for its title and TL;DR. Everything here is still hostile text: each
platform's formatter (tracker.notify.formats) escapes it for where it goes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.enrich.tldr import shown_tldr
from tracker.errors import TrackerError
from tracker.models import Paper
from tracker.render.digest_data import digest_data_path, read_digest_data
from tracker.render.feed import repository
from tracker.render.latex import readable
from tracker.render.links import safe_url
from tracker.render.paths import digest_path
from tracker.store.ledger import Ledger

if TYPE_CHECKING:
    from tracker.config import Settings

PICKS_PER_PROFILE = 5  # a chat message is a teaser; the digest has the rest
PAPERS_WITHOUT_PROFILE = 5
TITLE_CHARS = 300
TLDR_WORDS = 45


@dataclass(frozen=True)
class Block:
    """One line of the message: a heading, a paper (title linking to arXiv, its TL;DR) or plain text."""

    kind: str  # "heading" | "paper" | "text"
    text: str
    url: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class DayNews:
    date: str
    headline: str  # one line: counts and failed topics, never paper text
    blocks: tuple[Block, ...]
    link: str | None  # the full digest (page or issue), when known


def gather_news(settings: Settings, date: str) -> DayNews:
    digest_dir = settings.path(settings.output.digest_dir)
    data = read_digest_data(digest_data_path(digest_dir, date))
    if data is None:
        raise TrackerError(f"no digest data for {date} in {digest_dir} (run `tracker run --date {date}` first)")
    ledger = Ledger.load(settings.path(settings.output.data_dir), read_only=True)
    return DayNews(date, headline(data), tuple(blocks(data, ledger.papers)), digest_link(settings, date))


def headline(data: dict) -> str:
    new, revised = _count(data.get("new_total")), _count(data.get("revised_total"))
    text = f"arXiv digest {data.get('date')}: {new} new, {revised} revised papers"
    failures = [f for f in data.get("failures") or [] if isinstance(f, dict)]
    if failures:
        text += f"; {len(failures)} topic(s) failed: " + ", ".join(str(f.get("topic"))[:60] for f in failures)
    return text


def blocks(data: dict, papers: Mapping[str, Paper]) -> list[Block]:
    out: list[Block] = []
    groups = [g for g in data.get("picks") or [] if isinstance(g, dict)]
    for group in groups:
        name = str(group.get("profile") or "")
        out.append(Block("heading", f"Top picks: {name}" if name else "Top picks"))
        ids = [p.get("id") for p in group.get("papers") or [] if isinstance(p, dict)]
        out += _paper_blocks(ids[:PICKS_PER_PROFILE], papers)
    if not groups and data.get("new"):
        out.append(Block("heading", "New today"))
        out += _paper_blocks(list(data["new"])[:PAPERS_WITHOUT_PROFILE], papers)
    themes = [t for t in data.get("themes") or [] if isinstance(t, dict)]
    if themes:
        out.append(Block("heading", "Themes"))
        out += [Block("text", f"{t.get('label')} ({len(t.get('papers') or [])})") for t in themes]
    return out


def _paper_blocks(ids: list, papers: Mapping[str, Paper]) -> list[Block]:
    found = [papers[i] for i in ids if isinstance(i, str) and i in papers]
    return [
        Block("paper", readable(paper.title)[:TITLE_CHARS], f"https://arxiv.org/abs/{paper.id}", tldr_of(paper))
        for paper in found
    ]


def tldr_of(paper: Paper) -> str:
    """The TL;DR the digest shows, its LaTeX made readable as there; at most TLDR_WORDS words."""
    words = readable(shown_tldr(paper)).split()
    return " ".join(words[:TLDR_WORDS]) + (" …" if len(words) > TLDR_WORDS else "")


def digest_link(settings: Settings, date: str) -> str | None:
    """The digest page on GitHub when the repository is known (config, or Actions' environment)."""
    repo, server = repository(settings.publish.repo)
    if not repo:
        return None
    branch = os.environ.get("GITHUB_REF_NAME") or "main"
    page = digest_path(settings.path(settings.output.digest_dir), date)
    try:
        relative = Path(page).relative_to(settings.path(".")).as_posix()
    except ValueError:
        return None
    return safe_url(f"{server.rstrip('/')}/{repo}/blob/{branch}/{relative}")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
