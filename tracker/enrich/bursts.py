"""A rising theme grown into the whole burst it is part of: a ball around the theme's centre.

A burst is a set of papers that is new this week and closer to each other than to the earlier
weeks' papers. One whose papers differ among themselves (video generation, video RL, video
benchmarks) sits in the Ward tree as several subtrees and its odd papers next to old themes, but
its centre still points at what they share. So: take the centre of the theme's papers of this
week; walk outwards from it through every paper, nearest first; stop where the ball holds the
most papers of this week net of the earlier weeks' papers it took in, each earlier paper costing
OLD_COST of this week's: a ring joins when three in four of its papers are new, so an old theme's
new papers stay out. Only when the earlier weeks hold more papers than this week (trends.py):
with fewer, where the ordinary papers lie is not known well enough. Re-centre on the ball's papers of this week and
repeat until the ball stops changing (mean shift). Measured by benchmarks/trends.py.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 10  # re-centrings; the ball settles in two or three
OLD_COST = 3.0  # tuned on benchmarks/trends.py's tuning subjects: 2 to 5 score alike


def grow(
    vectors: np.ndarray, rows: np.ndarray, now: np.ndarray, before: np.ndarray, free: np.ndarray, *, min_now: int = 3
) -> np.ndarray:
    """The ball grown from theme `rows` (sorted row indices), drawn from the `free` rows only.

    `vectors`: unit rows; `now` / `before`: masks of the tracked papers of this week / of the
    earlier weeks. Returns `rows` unchanged when no ball holds `min_now` papers of this week."""
    for _ in range(ROUNDS):
        core = rows[now[rows]]
        if not len(core):
            return rows
        centre = vectors[core].sum(axis=0)
        ball = _ball(vectors, centre / np.linalg.norm(centre), now, before, free, OLD_COST, min_now)
        if ball is None or np.array_equal(ball, rows):
            return rows
        rows = ball
    return rows


def _ball(vectors, centre, now, before, free, cost: float, min_now: int) -> np.ndarray | None:
    close = vectors @ centre
    candidates = np.flatnonzero(free)
    order = candidates[np.argsort(-close[candidates], kind="stable")]
    new, old = np.cumsum(now[order]), np.cumsum(before[order])
    net = np.where(new >= min_now, new - cost * old, -np.inf)
    end = int(np.argmax(net))
    return np.sort(order[: end + 1]) if np.isfinite(net[end]) else None
