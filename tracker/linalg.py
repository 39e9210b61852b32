"""Unit-length rows: the one normalisation behind every cosine (encoders, dedup, themes, relevance)."""

from __future__ import annotations

from typing import Any

import numpy as np


def unit_rows(vectors: Any, dtype: Any = None) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), as `dtype` (None: the input's); a 1-d vector is one row."""
    array = np.asarray(vectors, dtype=dtype)
    if array.ndim == 1:
        array = array[None, :] if array.size else array.reshape(0, 0)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1, norms).astype(array.dtype, copy=False)
