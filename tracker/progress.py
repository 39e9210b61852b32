"""Progress where people wait (fetching each topic, embedding papers), always on stderr.

On a terminal: a tqdm bar. Elsewhere (GitHub Actions, a pipe, a log file): plain lines, with no
bar and no carriage return, at the start, about every quarter, and at the end, so a log shows
what the run was doing without thousands of redraws. stdout stays the command's own output
(`--json` stays pure JSON). Work that ends within `delay` seconds (TRACKER_PROGRESS_DELAY, default
2) shows nothing: progress is for waits, not for every quick step. Silent until the CLI turns it
on (`enable()`): the library and its tests print nothing they were not asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_enabled = False
_delay = 2.0
_PLAIN_STEPS = 4  # plain mode: a line every quarter of the work (and at the start and the end)


def enable(on: bool = True) -> None:
    """Called by the CLI only (like logging's configuration)."""
    global _enabled, _delay
    _enabled = on
    try:
        _delay = max(0.0, float(os.environ.get("TRACKER_PROGRESS_DELAY", "2")))
    except ValueError:
        _delay = 2.0


class _Plain:
    """tqdm's `update`/`set_postfix_str` as a few whole lines on stderr: one per named item
    (a topic), else one about every quarter of the work (embedding); none in the first `delay` s."""

    def __init__(self, total: int, desc: str, unit: str, delay: float):
        self.total, self.desc, self.unit, self.done, self.delay = total, desc, unit, 0, delay
        self.started = time.monotonic()
        self.named = self.shown = False
        self._next_line = max(1, total // _PLAIN_STEPS)

    def set_postfix_str(self, note: str) -> None:
        self.named = True
        self._line(f"{note} ({self.done + 1}/{self.total})")

    def update(self, count: int = 1) -> None:
        self.done += count
        if not self.named and self._next_line <= self.done < self.total:
            self._line(f"{self.done}/{self.total} {self.unit}")
            self._next_line = self.done + max(1, self.total // _PLAIN_STEPS)

    def close(self) -> None:
        self._line(
            f"{self.done}/{self.total} {self.unit} done in {time.monotonic() - self.started:.1f} s"
        )  # if it took > delay

    def _line(self, text: str) -> None:
        if time.monotonic() - self.started < self.delay:
            return
        if not self.shown:
            self.shown = True
            print(f"{self.desc}: {self.total} {self.unit} to do", file=sys.stderr, flush=True)
        print(f"{self.desc}: {text}", file=sys.stderr, flush=True)


class _Silent:
    def set_postfix_str(self, note: str) -> None:
        pass

    def update(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def progress(total: int, desc: str, unit: str) -> Iterator:
    """A bar (terminal), plain lines (anything else), or nothing (not enabled, or nothing to do).
    Call `.update(n)` as work is done; `.set_postfix_str(note)` names the item about to finish."""
    bar: Any  # tqdm, _Plain or _Silent: the same three methods
    if not _enabled or total <= 0:
        bar = _Silent()
    elif sys.stderr.isatty():
        from tqdm import tqdm

        known = shutil.get_terminal_size((0, 0)).columns  # size unknown: tqdm would draw nothing
        ncols, nrows = (None, None) if known else (80, 24)
        bar = tqdm(
            total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, delay=_delay, ncols=ncols, nrows=nrows
        )
    else:
        bar = _Plain(total, desc, unit, _delay)
    try:
        yield bar
    finally:
        bar.close()
