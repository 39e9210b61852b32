"""`tracker site`: the lab's static page (GitHub Pages), searching every paper in the browser.

build_site() gathers what to show (catalogue.py), writes the data files (files.py) and copies the
page, its npm-installed libraries and the query model (assets.py) into a fresh folder, which then
replaces `out` in one rename, so a failed build leaves the previous site as it was. A folder that
is not a site this command built is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import TrackerError
from tracker.render.paths import feed_path
from tracker.site import assets
from tracker.site.catalogue import build_catalogue
from tracker.site.files import write_data

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)

MARKER = ".paper-tracker-site"  # in every built site: the only kind of folder `--out` may replace


def build_site(
    settings: Settings,
    papers: list,
    out: Path,
    *,
    site_dir: Path,
    model_dir: Path,
    encoder: Any = None,
    built: str | None = None,
) -> dict[str, Any]:
    """Build the site for `papers` (the ledger's) into `out`; returns the data's meta.json content."""
    out = Path(out).resolve()
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=out.parent))
    try:
        assets.copy_app(site_dir / "app", staging)
        assets.copy_vendor(site_dir / "node_modules", staging)
        model_id = assets.copy_model(model_dir, staging)
        catalogue = build_catalogue(settings, papers, encoder)
        meta = write_data(
            catalogue,
            staging / "data",
            built=built or dt.datetime.now(dt.timezone.utc).date().isoformat(),
            extra={"model": model_id},
        )
        _copy_feed(settings, staging)
        (staging / MARKER).write_text("built by `tracker site`; replaced whole by the next build\n", encoding="utf-8")
        (staging / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve files as they are
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("site: %d papers, %d topics in %s", meta["count"], len(meta["topics"]), out)
    return meta


def _copy_feed(settings: Settings, staging: Path) -> None:
    """The Atom feed at the same path on the page: Pages serves it as XML (raw GitHub files are text/plain)."""
    feed = feed_path(settings.path(settings.output.digest_dir))
    if feed.is_file():
        (staging / "digests").mkdir(exist_ok=True)
        shutil.copyfile(feed, staging / "digests" / "feed.xml")


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise TrackerError(f"--out {out} exists and is not a site built by `tracker site`: give an empty or new folder")


def _replace(staging: Path, out: Path) -> None:
    old = out.with_name(out.name + ".old") if out.exists() else None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    staging.chmod(0o755)  # mkdtemp made it private; a site is for everyone to read
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
