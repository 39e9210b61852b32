"""Where rendered files live: topic folder names, and which archive pages are ours to delete.

A topic's slug names its archive folder, so it must be stable (a folder must not move when
nothing changed) and distinct for distinct names. Names made only of ASCII letters, digits,
spaces and hyphens keep the plain slug they always had ("Reward Model" -> "reward-model");
any other name also carries a short hash of the exact name, so "C++" and "C", two emoji names,
two Chinese names, or "A/B" and "A B" get different folders. Names that still collide (they
differ only in case or in space vs hyphen) are rejected at config load.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

# Common symbols spelled out so the readable part stays meaningful ("C++" -> "c-plus-plus-…").
_SPELLED = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at ", "%": " percent "}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 \-]+")
_RUNS = re.compile(r"[^a-z0-9]+")
_MAX_BASE = 60  # keeps folder names far below every filesystem's 255-byte limit
# Folder names Windows cannot check out (a clone of the repository there must still work).
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def topic_slug(name: str) -> str:
    """A topic's folder name: lowercase ASCII words joined by '-', plus a hash when lossy.

    Never empty, never "." or "..", never a path separator; the same name always gives the
    same slug, on every machine and Python version.
    """
    spelled = "".join(_SPELLED.get(ch, ch) for ch in name)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    base = _RUNS.sub("-", ascii_text.lower()).strip("-")
    lossy = not _PLAIN_NAME.fullmatch(name) or len(base) > _MAX_BASE or base in _RESERVED
    base = base[:_MAX_BASE].rstrip("-")
    if not lossy and base:
        return base
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{base or 'topic'}-{digest}"


# --- archive pages ------------------------------------------------------------------------

ARCHIVE_MARKER = "<!-- paper-tracker:archive topic={slug} -->"
_PAGE_NAME = re.compile(r"(\d{4}-\d{2}|undated)\.md")
# Pages written before the marker existed: their third line was always exactly this.
_LEGACY_LINE = re.compile(r"_Papers of (\S+) that no longer fit in the README table \(updated \d{4}-\d{2}-\d{2}\)\._")


def archive_marker(slug: str) -> str:
    """The first line of every archive page: only files that carry it are ever deleted."""
    return ARCHIVE_MARKER.format(slug=slug)


def archive_page(archive_dir: Path, topic: str, month: str) -> Path:
    return archive_dir / topic_slug(topic) / f"{month}.md"


def digest_path(digest_dir: Path, date: str) -> Path:
    year, month, _ = date.split("-")
    return digest_dir / year / month / f"{date}.md"


def feed_path(digest_dir: Path) -> Path:
    return digest_dir / "feed.xml"


def stale_archive_pages(archive_dir: Path, topics: Iterable[str], keep: Iterable[Path], root: Path) -> list[Path]:
    """Archive pages the tracker wrote earlier that this run no longer writes (e.g. after raising the cap).

    Looks only in the folders of the configured `topics`, deletes only pages that carry our
    marker (or the exact header of pages written before it), and follows no link: a folder or
    page that is a symlink, or that resolves outside `root` (the repository), is left alone.
    """
    root = Path(root).resolve()
    kept = {_absolute(p) for p in keep}
    archive_dir = Path(_absolute(archive_dir))
    if not _safe_folder(archive_dir, root):
        log.warning("not cleaning %s: it is a link or lies outside %s", archive_dir, root)
        return []
    stale = []
    for slug in sorted({topic_slug(name) for name in topics}):
        folder = archive_dir / slug
        if folder.is_symlink() or not folder.is_dir() or not _within(folder.resolve(), root):
            continue
        for page in sorted(folder.iterdir()):
            if _absolute(page) in kept or not _PAGE_NAME.fullmatch(page.name):
                continue
            if page.is_symlink() or not page.is_file() or not _within(page.resolve(), root):
                continue
            if _written_by_us(page, slug):
                stale.append(page)
    return stale


def _written_by_us(page: Path, slug: str) -> bool:
    try:
        with page.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline(500).rstrip("\r\n") for _ in range(3)]
    except OSError:
        return False
    if head[0] == archive_marker(slug):
        return True
    legacy = _LEGACY_LINE.fullmatch(head[2])
    return bool(legacy) and legacy.group(1) == page.stem and head[0].startswith("# ") and head[0].endswith(f": {page.stem}")


def _absolute(path: Path | str) -> Path:
    return Path(os.path.abspath(path))


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _safe_folder(folder: Path, root: Path) -> bool:
    """`folder` lies inside `root` with no symlink on the way down (or resolves inside it, if given resolved)."""
    if not _within(folder.resolve(), root):
        return False
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        return True  # given in resolved form already (inside root, checked above)
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            return False
    return True
