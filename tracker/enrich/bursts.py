"""Bursts: papers that are new together this week, each burst grown into the ball around its centre.

A burst is a set of papers that is new this week and closer to each other than to the earlier
weeks' papers. One whose papers differ among themselves (video generation, video RL, video
benchmarks) has no tight core; what holds it together is that its papers' nearest neighbours are
new papers too, and its centre still points at what they share. So (`find_bursts`):

1. Closeness is measured after taking out the window's mean direction (`centred`): every abstract
   of a field shares it, and left in, it makes an ordinary paper about as close to a burst's centre
   as the burst's odd papers are.
2. A paper of this week is bursty when at least BURSTY of its NEIGHBOURS nearest papers are of
   this week too. Ordinary papers arrive alike in every week, so about a quarter of their neighbours
   are of this week over four weeks; a burst's papers have their fellows as neighbours.
3. Bursty papers among each other's nearest neighbours form a seed (the connected components of the
   nearest-neighbour graph): a burst of several kinds is chained through its kinds.
4. Each seed grows into a ball (`grow`): walk outwards from the seed's centre through every paper,
   nearest first, and stop where the ball holds the most papers of this week net of the earlier
   weeks' papers it took in, each earlier paper costing OLD_COST of this week's; re-centre on the
   ball's papers of this week and repeat until it stops changing (mean shift). The first centre
   leans on the burstiest papers (weight: their count of new neighbours, squared), so a stranger
   that joined the seed at its edge does not pull it away. Last, papers less than REACH times as
   close to the centre (of the others) as the ball's typical paper leave it (`_within_reach`):
   new papers that came before any earlier one by chance, past a gap. A ball is a burst when at
   least `min_now` of its papers of this week stand out: each closer to the centre of the others
   than every earlier paper is (`_standing_out`); a chance gathering of ordinary papers has earlier
   papers of its kind as close.

The caller (tracker.enrich.trends) keeps the balls that still rise, burstiest first (`excess`: new
neighbours beyond the week's share, summed over the ball's papers of this week), each taking the
papers no burstier ball took. Measured by benchmarks/trends.py.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from tracker.linalg import unit_rows

NEIGHBOURS = 3  # tuned on benchmarks/trends.py's tuning subjects: 2-5 score within a few runs of each other
BURSTY = 2  # of the NEIGHBOURS nearest papers of this week
ROUNDS = 10  # re-centrings; the ball settles in two or three
OLD_COST = 3.0  # tuned on the tuning subjects: 2 to 7 score alike
REACH = 0.4  # of the closeness of a ball's typical paper to its centre; tuning subjects: 0.3-0.45 alike, 0.5 worse


def centred(vectors: np.ndarray) -> np.ndarray:
    """Unit rows after taking out the rows' mean (step 1)."""
    return unit_rows(vectors - vectors.mean(axis=0))


def find_bursts(vectors: np.ndarray, now: np.ndarray, before: np.ndarray, *, min_now: int = 3) -> list[np.ndarray]:
    """Candidate bursts, burstiest first: one ball (sorted row indices) per seed; balls may overlap.

    `vectors`: unit rows; `now` / `before`: masks of the tracked papers of this week / of the
    earlier weeks; a ball holds at least `min_now` papers of this week (else the seed is kept as it is)."""
    n = len(vectors)
    if n <= NEIGHBOURS or not now.any():
        return []
    close = centred(vectors)
    nearest = _nearest(close, NEIGHBOURS)
    new_neighbours = now[nearest].sum(axis=1)
    bursty = now & (new_neighbours >= BURSTY)
    balls = []
    for seed in _seeds(nearest, bursty):
        weights = new_neighbours[seed].astype(np.float64) ** 2
        centre = (close[seed] * weights[:, None]).sum(axis=0)
        everyone = np.ones(n, bool)
        first = _ball(close, centre / np.linalg.norm(centre), now, before, everyone, OLD_COST, min_now)
        grown = grow(close, seed if first is None else first, now, before, everyone, min_now=min_now)
        ball = _within_reach(close, grown, now)
        if _standing_out(close, ball, now, before) >= min_now:
            balls.append(ball)
    share = now.sum() / max(now.sum() + before.sum(), 1)
    excess = [float((new_neighbours[ball[now[ball]]] - NEIGHBOURS * share).sum()) for ball in balls]
    return [balls[k] for k in sorted(range(len(balls)), key=lambda k: (-excess[k], k))]


def _within_reach(vectors: np.ndarray, ball: np.ndarray, now: np.ndarray) -> np.ndarray:
    """`ball` without the papers less than REACH times as close to its centre as its typical paper
    of this week (the median), each paper of this week measured against the centre of the others:
    a stranger that came before any earlier paper by chance, past a gap, is close only to itself."""
    total = vectors[ball[now[ball]]].sum(axis=0)
    others = total[None, :] - vectors[ball] * now[ball][:, None]
    close = (vectors[ball] * unit_rows(others)).sum(axis=1)
    return ball[close >= REACH * np.median(close[now[ball]])]


def _standing_out(vectors: np.ndarray, ball: np.ndarray, now: np.ndarray, before: np.ndarray) -> int:
    """How many of the ball's papers of this week are closer to the centre of its other papers of
    this week than every earlier paper is: a chance gathering of ordinary papers has earlier papers
    of its kind as close to it, a burst has not."""
    core = ball[now[ball]]
    others = unit_rows(vectors[core].sum(axis=0)[None, :] - vectors[core])
    own = (vectors[core] * others).sum(axis=1)
    earlier = (vectors[before] @ others.T).max(axis=0, initial=-np.inf)
    return int((own > earlier).sum())


def _nearest(vectors: np.ndarray, k: int) -> np.ndarray:
    """Row i: the indices of the k rows closest to row i (itself left out), in no order."""
    close = vectors @ vectors.T
    np.fill_diagonal(close, -np.inf)
    return np.argpartition(-close, k - 1, axis=1)[:, :k]


def _seeds(nearest: np.ndarray, bursty: np.ndarray) -> list[np.ndarray]:
    """Connected components (at least two papers) of the bursty papers on the nearest-neighbour graph."""
    n, k = nearest.shape
    rows, cols = np.repeat(np.arange(n), k), nearest.ravel()
    keep = bursty[rows] & bursty[cols]
    graph = csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    components = (np.flatnonzero(bursty & (label == c)) for c in np.unique(label[bursty]))
    return [rows for rows in components if len(rows) >= 2]


def grow(
    vectors: np.ndarray, rows: np.ndarray, now: np.ndarray, before: np.ndarray, free: np.ndarray, *, min_now: int = 3
) -> np.ndarray:
    """The ball grown from `rows` (sorted row indices), drawn from the `free` rows only (step 4).

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
