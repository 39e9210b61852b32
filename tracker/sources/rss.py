"""arXiv's daily announcement feeds (rss.arxiv.org/rss/<cats>), parsed with feedparser.

Each item carries `arxiv:announce_type` (new / cross / replace / replace-cross) and a
description of the form "arXiv:IDvN Announce Type: new \\nAbstract: ...". Feeds are empty on
days without an announcement; that is a normal, quiet day, not an error.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Iterable

import feedparser
import requests

from tracker.arxiv_ids import parse_id
from tracker.errors import SourceError, TrackerError
from tracker.models import Paper
from tracker.sources.http import PoliteSession

log = logging.getLogger(__name__)

_DESCRIPTION = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.S)


def split_authors(creator: str) -> tuple[str, ...]:
    """`dc:creator` is one comma-joined string; commas inside parentheses belong to affiliations."""
    names, depth, current = [], 0, []
    for char in creator:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    cleaned = (" ".join(re.sub(r"\s*\([^)]*\)", "", n).split()) for n in names)
    return tuple(n.removeprefix("and ").strip() for n in cleaned if n.strip())


def _iso(parsed: time.struct_time | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed) if parsed else None


def _entry_to_paper(entry: feedparser.FeedParserDict) -> Paper | None:
    description = entry.get("summary", "")
    match = _DESCRIPTION.match(description)
    raw_id = match.group("id") if match else entry.get("id", "")
    try:
        arxiv_id = parse_id(raw_id)
    except TrackerError:
        log.warning("skipping feed item without an arXiv id: %r", entry.get("title"))
        return None
    abstract = description[match.end():] if match else description
    announced = _iso(entry.get("published_parsed") or entry.get("updated_parsed"))
    announce_type = entry.get("arxiv_announce_type") or (match.group("type") if match else None)
    version = arxiv_id.version or 1
    return Paper(
        id=arxiv_id.base,
        version=version,
        title=" ".join(entry.get("title", "").split()),
        abstract=" ".join(abstract.split()),
        authors=split_authors(entry.get("author", "")),
        categories=tuple(tag["term"] for tag in entry.get("tags", []) if tag.get("term")),
        primary_category=next((tag["term"] for tag in entry.get("tags", []) if tag.get("term")), ""),
        # The feed has no submission times; the announcement time is the best we know.
        published=announced if version == 1 else None,
        updated=announced,
        journal_ref=entry.get("arxiv_journal_reference") or None,
        doi=entry.get("arxiv_doi") or None,
        abs_url=f"https://arxiv.org/abs/{arxiv_id.base}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id.base}v{version}",
        announce_type=announce_type,
    )


def parse_feed(content: bytes) -> list[Paper]:
    feed = feedparser.parse(content)
    if feed.bozo and not feed.entries and not feed.feed.get("title"):
        raise SourceError(f"arXiv feed could not be parsed: {feed.get('bozo_exception')}")
    return [paper for entry in feed.entries if (paper := _entry_to_paper(entry))]


def matches_keywords(paper: Paper, phrases: Iterable[str]) -> bool:
    """Case-insensitive whole-phrase match in title or abstract (what `ti:"x" OR abs:"x"` means)."""
    text = f"{paper.title} {paper.abstract}".casefold()
    return any(re.search(rf"(?<!\w){re.escape(p.casefold())}(?!\w)", text) for p in phrases)


class ArxivRSSSource:
    def __init__(self, url: str, http: PoliteSession):
        self.url = url.rstrip("/")
        self.http = http
        self._cache: dict[str, list[Paper]] = {}  # one fetch per category set per run

    def fetch_categories(self, categories: Iterable[str], announce_types: Iterable[str]) -> list[Paper]:
        key = "+".join(sorted(categories))
        if key not in self._cache:
            url = f"{self.url}/{key}"

            def check(response: requests.Response) -> None:
                if response.status_code != 200:
                    raise SourceError(f"arXiv feed answered HTTP {response.status_code} for {url}")

            response = self.http.get_with_retries(url, check)
            self._cache[key] = parse_feed(response.content)
        wanted = set(announce_types)
        return [p for p in self._cache[key] if p.announce_type in wanted]
