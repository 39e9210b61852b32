"""The Encoder base class: texts -> float32 (n, dim) L2-normalised rows.

Backends (openvino.py, sentence_transformer.py) implement `_encode_batch` (or `_encode_batches`
to keep several batches in flight); this class sorts texts by length so that a batch holds
texts of similar length (little compute spent on padding), restores the input order, shows a
progress bar for long jobs on a terminal, and normalises the rows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import numpy as np

from tracker.linalg import unit_rows

PROGRESS_FROM = 64  # texts; smaller jobs get no progress bar


class Encoder:
    """Texts -> float32 (n, dim) L2-normalised rows. Subclasses implement `_encode_batch`."""

    model_name: str
    dim: int
    device: str = "cpu"
    batch_size: int = 32

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        with _progress(len(texts)) as bar:
            encoded = self._encode_batches([[texts[i] for i in rows] for rows in batches])
            for rows, vectors in zip(batches, encoded, strict=True):
                out[rows] = vectors
                bar.update(len(rows))
        return normalise(out)

    def _encode_batches(self, batches: list[list[str]]) -> Iterator[np.ndarray]:
        """One (len(batch), dim) array per batch, in order; override to overlap batches."""
        for batch in batches:
            yield self._encode_batch(batch)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_name!r}, dim={self.dim}, device={self.device!r})"


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    return unit_rows(vectors, np.float32)


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="text", disable=total < PROGRESS_FROM or not sys.stderr.isatty())
