"""arXiv's daily announcement feeds (rss.arxiv.org/rss/<cats>), parsed with feedparser.

Each item carries `arxiv:announce_type` (new / cross / replace / replace-cross) and a
description of the form "arXiv:IDvN Announce Type: new \\nAbstract: ...". Feeds are empty on
days without an announcement; that is a normal, quiet day, not an error. Anything that is not a
complete RSS/Atom document (a body cut short, an HTML page, JSON, an empty body) is a failed
request: retried, then the topic fails. An item that cannot be read is skipped with a warning.
"""

from __future__ import annotations

import logging
import re
import time
import xml.sax
from collections.abc import Iterable

import feedparser

from tracker.arxiv_ids import parse_id
from tracker.errors import SourceError, TrackerError
from tracker.models import Paper
from tracker.redact import redact
from tracker.sources.http import Answer, PoliteSession, TransientError, host_of, local_name, well_formed_xml

log = logging.getLogger(__name__)

_DESCRIPTION = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.S)


def split_authors(creator: str) -> tuple[str, ...]:
    """`dc:creator` is one comma-joined string; commas inside parentheses belong to affiliations."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
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


def _entry_to_paper(entry: feedparser.FeedParserDict) -> Paper:
    description = entry.get("summary", "")
    match = _DESCRIPTION.match(description)
    raw_id = match.group("id") if match else entry.get("id", "")
    arxiv_id = parse_id(raw_id)
    abstract = description[match.end() :] if match else description
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


_FEED_ROOTS = {"rss", "feed", "RDF"}


def _label(entry: feedparser.FeedParserDict) -> str:
    text = entry.get("id") or entry.get("link") or entry.get("title") or "(no id)"
    return redact(repr(" ".join(str(text).split())[:120]))


def parse_feed(content: bytes) -> list[Paper]:
    """The papers of an RSS/Atom announcement feed; SourceError if it is not one.

    Items that cannot be read are skipped with a warning naming them.
    """
    feed = feedparser.parse(content)
    if not feed.get("version"):
        raise SourceError(f"not an RSS or Atom feed: {feed.get('bozo_exception') or 'unrecognised document'}")
    if feed.bozo and isinstance(feed.get("bozo_exception"), xml.sax.SAXException):
        raise SourceError(f"incomplete or malformed feed: {feed.bozo_exception}")
    papers = []
    for entry in feed.entries:
        try:
            papers.append(_entry_to_paper(entry))
        except (TrackerError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("skipped a feed item %s: %s", _label(entry), redact(str(exc)))
    return papers


def check_feed(answer: Answer) -> list[Paper]:
    """An answer of the feed server as papers; TransientError (retry) unless it is a complete feed."""
    where = host_of(answer.url)
    if answer.status != 200:
        raise SourceError(f"arXiv feed answered HTTP {answer.status} from {where}")
    root = well_formed_xml(answer)
    if local_name(root) not in _FEED_ROOTS:
        raise TransientError(f"expected an RSS or Atom feed from {where}, got <{local_name(root)}>")
    try:
        return parse_feed(answer.content)
    except SourceError as exc:
        raise TransientError(f"{exc} (from {where})") from None


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
            parsed: list[list[Paper]] = []
            self.http.get_with_retries(f"{self.url}/{key}", lambda answer: parsed.append(check_feed(answer)))
            self._cache[key] = parsed[-1]
        wanted = set(announce_types)
        return [p for p in self._cache[key] if p.announce_type in wanted]
