"""What was sent: once a day per channel, across reruns and fresh checkouts.

`data/notify.json` (committed with the ledger, so a retried workflow on a fresh checkout sees it)
maps each channel's key (kind + where its secret comes from; never the secret) to the dates it
was sent. `.tracker/notify/DATE.json` holds the last attempt's failures for the health issue.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import TrackerError
from tracker.redact import redact
from tracker.store.journal import write_atomic

if TYPE_CHECKING:
    from tracker.config import Settings

log = logging.getLogger(__name__)
SENT_FILE = "notify.json"
KEEP_DATES = 62  # per channel: enough to answer "sent today?" after any outage


def sent_path(settings: Settings) -> Path:
    return settings.path(settings.output.data_dir) / SENT_FILE


def load_sent(path: Path) -> dict[str, list[str]]:
    """The record; a file we cannot read is an error (sending again could spam the channel)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise TrackerError(f"{path}: cannot read the notification record ({exc}); fix or delete it") from None
    try:
        data = json.loads(text)
        sent = data["sent"]
        if not isinstance(sent, dict) or not all(isinstance(v, list) for v in sent.values()):
            raise ValueError("`sent` is not a mapping of lists")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise TrackerError(
            f"{path}: not a notification record ({str(exc)[:120]}); fix it (git conflict?) or delete it"
        ) from None
    return {str(key): [str(d) for d in dates] for key, dates in sent.items()}


def mark_sent(path: Path, key: str, date: str) -> None:
    sent = load_sent(path)
    dates = sorted(set(sent.get(key, [])) | {date})[-KEEP_DATES:]
    sent[key] = dates
    write_atomic(path, json.dumps({"sent": dict(sorted(sent.items()))}, indent=1, sort_keys=True) + "\n")


def failures_path(settings: Settings, date: str) -> Path:
    return settings.project.notify_record(date)


def save_failures(settings: Settings, date: str, failures: list[str]) -> None:
    path = failures_path(settings, date)
    try:
        write_atomic(path, json.dumps({"date": date, "failures": [redact(f) for f in failures]}, indent=1) + "\n")
    except OSError as exc:  # a cache: the health issue will miss it, the run goes on
        log.warning("could not save %s (%s)", path, exc)


def notify_problems(settings: Settings, date: str) -> list[str]:
    """The channels that failed for `date` (for the health issue); [] when none or unknown."""
    try:
        data = json.loads(failures_path(settings, date).read_text(encoding="utf-8"))
        failures = data.get("failures") if isinstance(data, dict) else None
    except (OSError, ValueError, RecursionError):
        return []
    return [f"notify: {redact(str(f))}" for f in failures] if isinstance(failures, list) else []
