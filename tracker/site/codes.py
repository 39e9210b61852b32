"""Compact vectors for searching in the browser: 384-bit sign codes scanned in full, int8 rows re-scored.

A unit vector of dim d becomes:
  - a binary code of d/8 bytes: bit j of byte b is 1 when component 8*b+j is positive (LSB first).
    The page scores every code against the float query (asymmetric: sum of +q or -q per bit,
    through a 256-entry table per byte), which ranks far closer to cosine than Hamming distance;
  - an int8 row: round(v * scale), one scale for the whole site (rows are unit vectors, so their
    components share a range). The page fetches only the candidates' rows and re-scores them.
The int8 rows are stored in search order (`search_order`): papers with near vectors sit near each
other in the file, so a query's candidates fall into a few byte ranges, each one HTTP request.
Pure numpy; the page's search.js reads exactly these layouts.
"""

from __future__ import annotations

import numpy as np


def binary_codes(vectors: np.ndarray) -> np.ndarray:
    """(n, d) float -> (n, d/8) uint8 sign codes, little bit order (d must be a multiple of 8)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] % 8:
        raise ValueError(f"vectors of shape {vectors.shape}: need (n, d) with d a multiple of 8")
    return np.packbits(vectors > 0, axis=1, bitorder="little")


def int8_scale(vectors: np.ndarray) -> float:
    """The one scale mapping every component into int8 without clipping."""
    largest = float(np.abs(vectors).max()) if vectors.size else 0.0
    return 127.0 / largest if largest > 0 else 1.0


def int8_rows(vectors: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * scale), -127, 127).astype(np.int8)


def asymmetric_scores(query: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """What the page computes in its full scan: sum over bits of +q_i (bit set) or -q_i (not set)."""
    signs = np.unpackbits(codes, axis=1, bitorder="little").astype(np.float32) * 2 - 1
    return signs @ np.asarray(query, dtype=np.float32)


LEAF = 16  # search_order stops splitting at this many papers


def search_order(vectors: np.ndarray, leaf: int = LEAF) -> np.ndarray:
    """Positions ordered so that near vectors sit near each other: a 2-means tree, read left to right.

    Each set is split in two by k-means (scipy), started from its two halves along its main direction
    (principal component), so the split follows the gap between groups and the result is
    deterministic; each side again, down to `leaf` papers.
    """
    from scipy.cluster.vq import kmeans2

    vectors = np.asarray(vectors, dtype=np.float32)
    order: list[int] = []
    stack = [np.arange(len(vectors))]
    while stack:
        part = stack.pop()
        if len(part) <= leaf:
            order.extend(part.tolist())
            continue
        points = vectors[part]
        centred = points - points.mean(axis=0)
        projection = centred @ _main_direction(centred)
        upper = projection > np.median(projection)
        if upper.all() or not upper.any():  # all the same along it: any halves will do
            upper = np.arange(len(part)) >= len(part) // 2
        start = np.stack([points[~upper].mean(axis=0), points[upper].mean(axis=0)])
        _, side = kmeans2(points, start, iter=8, minit="matrix")
        if side.min() == side.max():
            side = upper.astype(int)
        stack += [part[side == 1], part[side == 0]]  # side 0 comes next
    return np.array(order, dtype=np.int64)


def _main_direction(centred: np.ndarray, steps: int = 6) -> np.ndarray:
    """The direction of largest spread, by power iteration from a fixed start (deterministic)."""
    direction = np.full(centred.shape[1], 1.0, dtype=np.float32)
    for _ in range(steps):
        direction = centred.T @ (centred @ direction)
        direction /= float(np.linalg.norm(direction)) or 1.0
    return direction
