"""The exact path: sentence-transformers itself (CUDA in fp16 with big batches, MPS, or CPU as a fallback)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from tracker.enrich.encoders.base import Encoder
from tracker.enrich.encoders.device import DeviceChoice
from tracker.model_files import not_available

log = logging.getLogger(__name__)


class SentenceTransformerEncoder(Encoder):
    def __init__(self, model_name: str, model: Any, choice: DeviceChoice):
        self.model_name, self.model, self.device = model_name, model, choice.device
        self.batch_size = choice.batch_size
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def load(model: str, model_dir: Path, choice: DeviceChoice) -> SentenceTransformerEncoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network from here on
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(str(model_dir), device=choice.device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise not_available(model, f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if choice.half_precision:
        st = st.half()
    log.info("embedding with sentence-transformers on %s (batch %d)", choice.device, choice.batch_size)
    return SentenceTransformerEncoder(model, st, choice)
