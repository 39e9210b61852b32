"""Retrying within a budget: one reader of Retry-After, one wall-clock budget, one rule for the next wait.

Used by arXiv requests (tracker.sources.http, whose budget counts only the waits), the optional
LLM TL;DRs (tracker.enrich.tldr_llm) and notifications (tracker.notify.deliver).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, cap: float) -> float | None:
    """A Retry-After value (seconds or an HTTP date) in seconds, at most `cap`; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


def next_wait(asked: float | None, backoff: float) -> float:
    """The wait before the next try: what the server asked for (Retry-After wins), else our backoff."""
    return asked if asked is not None else backoff


@dataclass
class Deadline:
    """A budget of `seconds` of wall-clock time from its creation (requests and waits together)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.started))
