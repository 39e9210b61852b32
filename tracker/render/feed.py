"""The daily digests as an Atom feed (RFC 4287), `<digest_dir>/feed.xml`, for feed readers.

Deterministic: the same digest files give the same bytes (no clock is read; ids are tag: URIs
built from the repository and the digest's path), so an unchanged day rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from tracker.config_types import REPO_NAME
from tracker.render.digest_data import read_digest_data
from tracker.render.paths import feed_path

ATOM = "http://www.w3.org/2005/Atom"
log = logging.getLogger(__name__)
GITHUB = "https://github.com"
FEED_DAYS = 30
_DIGEST_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})\.md")
_WEEKLY_NAME = re.compile(r"week-(\d{2})\.md")  # <digest_dir>/YYYY/week-WW.md, the weekly review
# Characters XML 1.0 cannot carry at all (a feed holding one is not well-formed).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A backslash escape (the character itself: `\&amp;` is the text "&amp;"), an entity (decoded), or our
# bold/code markers.
_MD_INLINE = re.compile(
    r"\\([!-/:-@\[-`{-~])|(&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)|\*\*|`"
)
_MD_LINK = re.compile(r"(?<!\\)\[((?:\\.|[^\\\]])*)\]\([^()\s]*\)")  # [label](url): our links encode parentheses
_OUR_MARKUP = re.compile(r"<span>\$</span>|\u200b|<br>")  # a literal dollar, mention breakers, line breaks
# A paper in a digest or weekly page: a list item opening with its bold title; its TL;DR is the next line.
_PAPER = re.compile(r"^(?:-|\d{1,3}\.) (?:\[[ xX]\] )?\*\*(?P<title>.+?)\*\*")
_CODE_SPAN = re.compile(r"(?<!\\)`")
_SUMMARY_CHARS = 6000  # beyond it the summary says how many papers are left for the page
_ON_DISK = object()  # a digest file this run does not rewrite: read only if it is in the window


class FeedItem(NamedTuple):
    date: str  # YYYY-MM-DD
    path: str  # the digest file, relative to the repository root (POSIX)
    title: str
    summary: str


def render_feed(
    digests: Iterable[tuple[str, str, str, str]],
    *,
    feed_file: str,
    repo: str | None = None,
    branch: str = "main",
    title: str | None = None,
    updated: str = "1970-01-01",
    server: str = GITHUB,
) -> str:
    """The Atom document for `digests` (date, path, title, summary), newest first.

    With `repo` ("owner/name") entries link to the digest on GitHub (`server`) and the feed names
    its own URL (`feed_url`); without it, entries link to the digest's path relative to
    `feed_file` (both repository-relative POSIX paths). `updated` is used only when there is no digest.
    """
    items = sorted((FeedItem(*d) for d in digests), key=lambda i: (i.date, i.path), reverse=True)
    ET.register_namespace("", ATOM)
    feed = ET.Element(_q("feed"))
    _text(feed, "id", _tag_uri(repo, "feed"))
    _text(feed, "title", title or (f"arXiv digests: {repo}" if repo else "arXiv digests"))
    _text(feed, "updated", _timestamp(items[0].date if items else updated))
    author = ET.SubElement(feed, _q("author"))
    _text(author, "name", repo.split("/")[0] if repo else "paper-tracker")
    _text(feed, "generator", "paper-tracker")
    if repo:
        ET.SubElement(
            feed, _q("link"), rel="self", type="application/atom+xml", href=feed_url(repo, feed_file, branch, server)
        )
        ET.SubElement(
            feed,
            _q("link"),
            rel="alternate",
            type="text/html",
            href=f"{server}/{_url(repo)}/tree/{_url(branch)}/{_url(_posix_dir(feed_file))}",
        )
    for item in items:
        entry = ET.SubElement(feed, _q("entry"))
        _text(entry, "id", _tag_uri(repo, item.path))
        _text(entry, "title", item.title)
        _text(entry, "updated", _timestamp(item.date))
        ET.SubElement(entry, _q("link"), rel="alternate", href=_link(item.path, feed_file, repo, branch, server))
        _text(entry, "summary", item.summary).set("type", "text")
    ET.indent(feed, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def feed_url(repo: str, feed_file: str, branch: str = "main", server: str = GITHUB) -> str:
    """Where readers subscribe: the repository's GitHub Pages site, which serves the feed as XML
    (raw.githubusercontent.com serves it as text/plain, which feed readers flag). Pages must
    publish the branch's root (Settings > Pages > Deploy from a branch). Off github.com (GitHub
    Enterprise), the raw file on the server."""
    if server.rstrip("/") != GITHUB:
        return f"{server.rstrip('/')}/{_url(repo)}/raw/{_url(branch)}/{_url(feed_file)}"
    owner, _, name = repo.partition("/")
    site = f"https://{owner.lower()}.github.io"
    if name.lower() == f"{owner.lower()}.github.io":  # a user or organisation site is served at the root
        return f"{site}/{_url(feed_file)}"
    return f"{site}/{_url(name)}/{_url(feed_file)}"


def repository(configured: str | None, environ: Mapping[str, str] = os.environ) -> tuple[str | None, str]:
    """(owner/name, server URL) of the repository the feed lives in: `publish.repo`, else in
    GitHub Actions `GITHUB_REPOSITORY` on `GITHUB_SERVER_URL`; (None, github.com) when unknown."""
    server = (environ.get("GITHUB_SERVER_URL") or GITHUB).rstrip("/")
    repo = configured or environ.get("GITHUB_REPOSITORY") or None
    if repo and not REPO_NAME.fullmatch(repo):  # it goes into every link: "evil.org@acme/x" must not
        log.warning("GITHUB_REPOSITORY %r is not OWNER/NAME; links stay relative", repo)
        repo = None
    return repo, server if server.startswith("https://") else GITHUB


def digest_feed(
    digest_dir: Path,
    root: Path,
    *,
    repo: str | None = None,
    pending: Mapping[Path, str | None] | None = None,
    days: int = FEED_DAYS,
    server: str = GITHUB,
) -> tuple[Path, str]:
    """`(path, text)` of the feed over the digests of the last `days` days (counted back from the
    newest digest that has papers, so neither a run for an earlier `--date` nor empty days shrink it).
    `pending`: files this run is about to write (their text wins over the disk; None: about to be deleted)."""
    root = Path(os.path.abspath(root))
    texts: dict[Path, object] = {Path(os.path.abspath(p)): _ON_DISK for p in _digest_files(Path(digest_dir))}
    for path, text in (pending or {}).items():
        if page_date(Path(path), Path(digest_dir)):
            texts[Path(os.path.abspath(path))] = text
    dated = {p: (d, t) for p, t in texts.items() if t is not None and (d := page_date(p, Path(digest_dir)))}
    # The window counts back from the newest digest with something in it: days of "nothing new"
    # after it are listed, but never push a real digest out.
    by_date = sorted(dated.items(), key=lambda item: item[1][0], reverse=True)
    real = (date for path, (date, _) in by_date if not _empty_day(path, pending or {}))
    newest = next(real, None) or (by_date[0][1][0] if by_date else None)
    items = []
    if newest:
        oldest = (dt.date.fromisoformat(newest) - dt.timedelta(days=days - 1)).isoformat()
        for path, (date, content) in dated.items():
            if date >= oldest:  # only the window's files are read: cost stays flat over the years
                title, summary = digest_summary(content if isinstance(content, str) else _read(path), date)
                items.append((date, Path(os.path.relpath(path, root)).as_posix(), title, summary))
    target = feed_path(Path(digest_dir))
    feed_rel = Path(os.path.relpath(os.path.abspath(target), root)).as_posix()
    return target, render_feed(items, feed_file=feed_rel, repo=repo, server=server)


def _empty_day(page: Path, pending: Mapping[Path, str | None]) -> bool:
    """A daily digest whose data file (digest_data) says it has no paper and no failure to report."""
    data_file = page.with_suffix(".json")
    if data_file.name.startswith("week-"):
        return False
    given = {Path(os.path.abspath(p)): text for p, text in pending.items()}.get(data_file, _ON_DISK)
    try:
        data = json.loads(given) if isinstance(given, str) else read_digest_data(data_file)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False  # no data file (an older digest): a real day
    return not (data.get("new_total") or data.get("revised_total") or data.get("failures"))


def digest_summary(markdown: str, date: str) -> tuple[str, str]:
    """Title (the first heading) and a plain-text summary: the text before the first section, then
    each paper's title and TL;DR, one per line, as far as _SUMMARY_CHARS allows."""
    title = f"arXiv digest: {date}"
    lines: list[str] = []
    all_lines = markdown.splitlines()
    for line in all_lines:
        if line.startswith("# ") and not lines:
            title = _plain(line[2:])
        elif line.startswith("## "):
            break
        elif line.strip() and not line.startswith(("<!--", ">")):
            text = _plain(line.strip())
            if text.startswith("- "):  # a list item: make it a sentence of its own
                text = text[2:] + ("" if text.endswith((".", ";", ":")) else ";")
            lines.append(text)
    summary = " ".join(lines)
    if len(summary) > _SUMMARY_CHARS:
        summary = summary[: _SUMMARY_CHARS - 1].rstrip() + "…"
    return title, _with_papers(summary or title, paper_lines(all_lines))


def paper_lines(lines: list[str]) -> list[str]:
    """ "Title: TL;DR" of each paper on a page, once each (a top pick is listed again below)."""
    found: dict[str, str] = {}
    for line, after in pairwise(lines):
        paper = _PAPER.match(line)
        # the next line is its TL;DR unless it is a collapsed block or the metadata line (the
        # one with a code span, the id: a TL;DR's backticks are escaped)
        if (
            paper
            and after.startswith("  ")
            and after.strip()
            and not after.lstrip().startswith("<")
            and not _CODE_SPAN.search(after)
        ):
            found.setdefault(_plain(paper["title"]), _plain(after.strip().removesuffix("\\")))
    return [f"{name}: {tldr}" for name, tldr in found.items()]


def _with_papers(summary: str, papers: list[str]) -> str:
    for shown, line in enumerate(papers):
        more = f"… and {len(papers) - shown} more papers on the page."
        if len(summary) + len(line) + len(more) + 2 > _SUMMARY_CHARS:
            return f"{summary}\n{more}"
        summary += f"\n{line}"
    return summary


def _digest_files(digest_dir: Path) -> list[Path]:
    """Every digest page `YYYY/MM/YYYY-MM-DD.md` and weekly review `YYYY/week-WW.md` (no links followed)."""
    pages = [
        *digest_dir.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/*.md"),
        *digest_dir.glob("[0-9][0-9][0-9][0-9]/week-*.md"),
    ]
    return [
        path
        for path in sorted(pages)
        if page_date(path, digest_dir)
        and path.is_file()
        and not any(p.is_symlink() for p in (path, path.parent, path.parent.parent))
    ]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""  # unreadable: listed with its date as title


def page_date(path: Path, digest_dir: Path) -> str | None:
    """The ISO date a feed entry is dated by, or None for anything but our pages: a digest
    `<digest_dir>/YYYY/MM/YYYY-MM-DD.md` (its date, matching its folders) or a weekly review
    `<digest_dir>/YYYY/week-WW.md` (the Monday of that ISO week)."""
    digest_dir = Path(os.path.abspath(digest_dir))
    weekly = _WEEKLY_NAME.fullmatch(path.name)
    if weekly and Path(os.path.abspath(path.parent.parent)) == digest_dir and path.parent.name.isdigit():
        try:
            return dt.date.fromisocalendar(int(path.parent.name), int(weekly.group(1)), 1).isoformat()
        except ValueError:
            return None
    match = _DIGEST_NAME.fullmatch(path.name)
    if not match or Path(os.path.abspath(path.parent.parent.parent)) != digest_dir:
        return None
    try:
        dt.date.fromisoformat(path.stem)
    except ValueError:
        return None
    return path.stem if (match.group(1), match.group(2)) == (path.parent.parent.name, path.parent.name) else None


def _plain(markdown_line: str) -> str:
    """Inline Markdown as text: links as their label, our emphasis markers, mention breakers and
    backslash escapes removed, entities decoded. Underscores stay (the weekly's `_…_`)."""
    text = _OUR_MARKUP.sub(lambda m: {"<span>$</span>": "$", "<br>": " "}.get(m.group(), ""), markdown_line)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    return _MD_INLINE.sub(lambda m: m.group(1) or (html.unescape(m.group(2)) if m.group(2) else ""), text)


def _link(path: str, feed_file: str, repo: str | None, branch: str, server: str = GITHUB) -> str:
    if repo:
        return f"{server}/{_url(repo)}/blob/{_url(branch)}/{_url(path)}"
    return _url(Path(os.path.relpath(path, _posix_dir(feed_file) or ".")).as_posix())


def _url(text: str) -> str:
    return quote(text, safe="/-._~")


def _posix_dir(path: str) -> str:
    return path.rpartition("/")[0]


def _tag_uri(repo: str | None, specific: str) -> str:
    """RFC 4151 tag: the repository on github.com when known, else a local authority."""
    if repo:
        return f"tag:github.com,2008:{_url(repo)}/{_url(specific)}"
    return f"tag:paper-tracker.invalid,2024:{_url(specific)}"


def _timestamp(date: str) -> str:
    return f"{date}T00:00:00Z"


def _q(name: str) -> str:
    return f"{{{ATOM}}}{name}"


def _text(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    element.text = _NOT_XML.sub("\ufffd", text)
    return element
