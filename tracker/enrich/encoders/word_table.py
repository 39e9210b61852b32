"""The browser's word-embedding table at 4 bits a number, looked up by the page itself.

The word table (vocab x hidden: 30,522 x 384 for MiniLM) is half of the int8 graph. The browser
graph leaves it out (onnx_graph's `words_given`) and the page looks up each token's row here,
at half the int8 size. Each column gets 16 levels fitted to its values (Lloyd's algorithm: every
level becomes the mean of the values nearest to it, from the column's quantiles), so dimensions
with a wide range keep their detail. On all-MiniLM-L6-v2 the sentence vectors stay at cosine
0.996 (mean) to the float model's, against 0.999 for the int8 table; benchmarks/site.py measures
the ranking agreement with `tracker search`.

Files: words.json {"rows": vocab, "dim": hidden, "levels": 16} and words.bin: the levels, float32
[dim, 16] (little-endian), then the codes row after row, two per byte (even column in the low nibble).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LEVELS = 16
ROUNDS = 12  # Lloyd iterations: the error stops improving after ~10


def fit_levels(table: np.ndarray) -> np.ndarray:
    """[dim, LEVELS] sorted levels per column that make the squared rounding error small."""
    table = np.asarray(table, dtype=np.float32)
    levels = np.quantile(table, (np.arange(LEVELS) + 0.5) / LEVELS, axis=0).T.astype(np.float32)
    for _ in range(ROUNDS):
        codes = encode(table, levels)
        for column in range(table.shape[1]):
            counts = np.bincount(codes[:, column], minlength=LEVELS)
            sums = np.bincount(codes[:, column], weights=table[:, column], minlength=LEVELS)
            levels[column] = np.where(counts > 0, sums / np.maximum(counts, 1), levels[column])
        levels.sort(axis=1)
    return levels


def encode(table: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """[rows, dim] uint8: each number's nearest level."""
    codes = np.empty(table.shape, dtype=np.uint8)
    for column in range(table.shape[1]):
        middles = (levels[column, 1:] + levels[column, :-1]) / 2
        codes[:, column] = np.searchsorted(middles, table[:, column])
    return codes


def write_word_table(table: np.ndarray, out_dir: Path) -> None:
    rows, dim = table.shape
    if dim % 2:
        raise ValueError(f"a word table of width {dim}: two codes share a byte, so it must be even")
    levels = fit_levels(table)
    codes = encode(np.asarray(table, dtype=np.float32), levels)
    packed = codes[:, 0::2] | (codes[:, 1::2] << 4)
    (out_dir / "words.json").write_text(json.dumps({"rows": rows, "dim": dim, "levels": LEVELS}), encoding="utf-8")
    (out_dir / "words.bin").write_bytes(levels.astype("<f4").tobytes() + packed.tobytes())


def read_word_table(folder: Path) -> np.ndarray:
    """The table as the page rebuilds it: [rows, dim] float32."""
    shape = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    rows, dim, count = shape["rows"], shape["dim"], shape["levels"]
    data = (folder / "words.bin").read_bytes()
    levels = np.frombuffer(data, dtype="<f4", count=dim * count).reshape(dim, count)
    packed = np.frombuffer(data, dtype=np.uint8, offset=dim * count * 4).reshape(rows, dim // 2)
    codes = np.empty((rows, dim), dtype=np.intp)
    codes[:, 0::2], codes[:, 1::2] = packed & 15, packed >> 4
    return levels[np.arange(dim), codes]
