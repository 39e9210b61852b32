"""The rising themes of issue 22's round two, the named baseline of benchmarks/trends.py.

    trends.theme_members = round_two.theme_members  # then trends.find_trends runs round two

A growth scan over one Ward tree of the window: every subtree with MIN_THIS_WEEK papers of this
week and no looser than the digest's theme cut is a candidate, the rising themes are the candidates
of highest growth that do not overlap; a rising subtree is reported as its parent when the sibling
rises too or the parent rises nearly (NEARLY) as fast (`whole_burst`); every paper then moves once
to the theme whose centre it is closest to (`settle`); last, each rising theme grows into a ball
(tracker.enrich.bursts.grow) in the embedding space as it is (not centred).
"""
from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from tracker.enrich.bursts import grow
from tracker.enrich.cluster import WARD_CUT
from tracker.enrich.trends import MIN_THEME, MIN_THIS_WEEK, growth
from tracker.linalg import unit_rows as unit

NEARLY = 0.8  # a parent rising at least this share as fast as its rising subtree holds the burst whole


def theme_members(vectors: np.ndarray, this_week: np.ndarray, tracked: np.ndarray) -> list[np.ndarray]:
    """Row indices of each theme: the rising subtrees first (scan), then the digest cut's themes;
    each paper settled into the theme closest to it; the rising themes grown into balls."""
    n = len(vectors)
    if n < 3:
        return [np.arange(n)] if n >= MIN_THEME else []
    spread = float(np.sqrt(((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if spread < 1e-6:
        return [np.arange(n)]
    tree = linkage(vectors, method="ward")
    leaves = _subtree_leaves(tree, n)
    now = np.append(this_week & tracked, np.zeros(n - 1, bool)).astype(int)
    before = np.append(~this_week & tracked, np.zeros(n - 1, bool)).astype(int)
    for k, (a, b, _, _) in enumerate(tree):
        now[n + k] = now[int(a)] + now[int(b)]
        before[n + k] = before[int(a)] + before[int(b)]
    share = float(this_week[tracked].mean()) if tracked.any() else 0.0
    within = np.append(np.ones(n, bool), tree[:, 2] <= WARD_CUT * spread)
    candidates = [node for node in range(n, 2 * n - 1) if within[node] and now[node] >= MIN_THIS_WEEK]
    taken = np.zeros(n, bool)
    themes: list[np.ndarray] = []
    flat = fcluster(tree, t=WARD_CUT * spread, criterion="distance")
    if before.any() and 0 < share < 1:
        scores = growth(now, before, share)[0]
        parent = {int(child): n + k for k, pair in enumerate(tree[:, :2]) for child in pair}
        for node in sorted(candidates, key=lambda node: (-scores[node], node)):
            if scores[node] <= 1.0:
                break
            whole = whole_burst(node, tree, parent, scores, within)
            for choice in (whole, node):  # the whole burst, or the subtree alone if part of it is taken
                if not taken[leaves[choice]].any():
                    themes.append(np.sort(leaves[choice]))
                    taken[leaves[choice]] = True
                    break
    for label in np.unique(flat):
        rows = np.flatnonzero((flat == label) & ~taken)
        if len(rows) >= MIN_THEME:
            themes.append(rows)
    themes = settle(vectors, themes)
    return grow_rising(vectors, themes, this_week & tracked, ~this_week & tracked)


def grow_rising(vectors: np.ndarray, themes: list[np.ndarray], now: np.ndarray, before: np.ndarray) -> list[np.ndarray]:
    """Each rising theme, most rising first, grown into the ball around its centre
    (tracker.enrich.bursts) if the ball still rises; the other themes keep what is left to them."""
    share = now.sum() / max(now.sum() + before.sum(), 1)
    if not 0 < share < 0.5:  # the earlier weeks must show where ordinary papers lie (bursts.py)
        return themes
    scores = [growth(int(now[rows].sum()), int(before[rows].sum()), share)[0] for rows in themes]
    free = np.ones(len(vectors), bool)
    grown = []
    for k in sorted(range(len(themes)), key=lambda k: -scores[k]):
        if not scores[k] > 1.0:
            break
        rows = themes[k][free[themes[k]]]
        if now[rows].sum() < 2:
            continue
        ball = grow(vectors, rows, now, before, free, min_now=MIN_THIS_WEEK)
        if growth(int(now[ball].sum()), int(before[ball].sum()), share)[0] > 1.0:
            grown.append(ball)
            free[ball] = False
    left = (rows[free[rows]] for rows in themes)
    return grown + [rows for rows in left if len(rows) >= MIN_THEME]


def settle(vectors: np.ndarray, themes: list[np.ndarray]) -> list[np.ndarray]:
    """`themes` with each paper moved to the theme whose centre it is closest to (its own theme's
    centre without it), once: the tree files a burst's odd paper (a graph paper on adversarial
    attacks) under the old theme it sits next to, though it is closer to the burst as a whole.
    Papers of every week move alike, so a theme's growth stays honest."""
    if len(themes) < 2:
        return themes
    label = np.full(len(vectors), -1)
    for k, rows in enumerate(themes):
        label[rows] = k
    sums = np.stack([vectors[rows].sum(axis=0) for rows in themes])
    close = vectors @ unit(sums).T
    inside = np.flatnonzero(label >= 0)
    own = unit(sums[label[inside]] - vectors[inside])
    close[inside, label[inside]] = (vectors[inside] * own).sum(axis=1)
    best = np.argmax(close, axis=1)
    moved = np.where(label >= 0, best, -1)
    kept = [np.flatnonzero(moved == k) for k in range(len(themes))]
    return [rows for rows in kept if len(rows) >= MIN_THEME]


def whole_burst(node: int, tree: np.ndarray, parent: dict[int, int], scores: np.ndarray, within: np.ndarray) -> int:
    """The subtree to report for the rising subtree `node`: its parent (and so on up) while the
    parent is no looser than the theme cut (`within`) and rises too, and either the sibling rises as well
    or the parent rises nearly (NEARLY) as fast: a burst whose papers differ among themselves
    sits in the tree as sibling subtrees, and reporting one of them alone cuts it into pieces."""
    n = len(tree) + 1
    while node in parent and within[parent[node]] and scores[parent[node]] > 1.0:
        up = parent[node]
        a, b = (int(c) for c in tree[up - n, :2])
        sibling = b if a == node else a
        if not (scores[sibling] > 1.0 or scores[up] >= NEARLY * scores[node]):
            break
        node = up
    return node


def _subtree_leaves(tree: np.ndarray, n: int) -> dict[int, np.ndarray]:
    leaves: dict[int, np.ndarray] = {i: np.array([i]) for i in range(n)}
    for k, (a, b, _, _) in enumerate(tree):
        leaves[n + k] = np.concatenate([leaves[int(a)], leaves[int(b)]])
    return leaves
