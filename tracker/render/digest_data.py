"""The day's digest as data (`digests/YYYY/MM/DATE.json`, beside the Markdown digest).

What reads a day after its run (`tracker notify`, later the site) needs the digest's structure,
not its Markdown: which papers are new, the top picks per profile, the themes. Only ids, labels
and scores are stored; titles and TL;DRs are looked up in the ledger, the one source of truth.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tracker.digest import Digest
from tracker.render.paths import digest_path

log = logging.getLogger(__name__)
VERSION = 1


def digest_data_path(digest_dir: Path, date: str) -> Path:
    return digest_path(digest_dir, date).with_suffix(".json")


def digest_json(digest: Digest) -> str:
    data = {
        "version": VERSION,
        "date": digest.date,
        "new_total": digest.new_total,
        "revised_total": digest.revised_total,
        "new": [item.paper.id for item in digest.new],
        "revised": [item.paper.id for item in digest.revised],
        "failures": [{"topic": topic, "error": error} for topic, error in digest.failures],
        "themes": [
            {"label": theme.label, "papers": [item.paper.id for item in theme.items]} for theme in digest.themes
        ],
        "picks": [
            {
                "profile": group.name,
                "method": group.method,
                "papers": [{"id": pick.item.paper.id, "score": round(pick.score, 4)} for pick in group.picks],
            }
            for group in digest.profile_picks
        ],
        "own_papers": [item.paper.id for item in digest.own_papers],
    }
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_digest_data(path: Path) -> dict[str, Any] | None:
    """The stored digest data, or None when there is none or it is not ours (logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        log.warning("ignoring %s: not a digest data file of this version", path)
        return None
    return data
