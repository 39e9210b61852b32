"""Where rendered files live: archive pages per topic folder, and which of them are ours to delete.

Topic folder names come from tracker.slugs.topic_slug (the config checks them at load too).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

from tracker.slugs import topic_slug

log = logging.getLogger(__name__)

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
    return (
        legacy is not None
        and legacy.group(1) == page.stem
        and head[0].startswith("# ")
        and head[0].endswith(f": {page.stem}")
    )


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
