"""The default CPU path of tracker.enrich.embed: the model quantised to int8 by NNCF and run by OpenVINO.

Export (once per model, needs torch + nncf): the transformer + pooling + L2-normalise graph
traced by tracker.enrich.encoders.onnx, read by OpenVINO, then NNCF post-training quantisation
(transformer preset: int8 weights *and* activations, including the attention matmuls),
calibrated on CALIBRATION_TEXTS. Encoding needs only `openvino` and `tokenizers` (no torch).

Files live in `<folder>/`: `model.xml` + `model.bin` (OpenVINO IR), `tokenizer.json`,
`manifest.json` (written last: recipe, source fingerprint, each file's size, mtime and
blake2b), and `compiled/` (OpenVINO's own cache of the compiled model, which makes a fresh
process start ~0.5 s faster; OpenVINO recompiles when a blob does not match or load).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tracker.enrich.embed import Encoder
from tracker.enrich.encoders.onnx import (
    MANIFEST,
    MIN_PROBE_COSINE,
    PROBE_TEXTS,
    TOKENIZER_FILE,
    ExportError,
    _export_fp32,
    _file_digest,
    _tokenizer,
    current_manifest,
    fingerprint,
    open_export,
    plan_export,
)
from tracker.store.journal import write_atomic

log = logging.getLogger(__name__)

# Bump when the export recipe changes: existing exports are then rebuilt.
RECIPE = "torchscript-opset17+openvino+nncf-ptq-transformer-int8/v2"
MODEL_FILE, WEIGHTS_FILE, COMPILED_DIR = "model.xml", "model.bin", "compiled"
# Queries are one short text: the fp32 graph costs nothing there and keeps search rankings
# closest to the full model (int8 queries over int8 documents lost ~12% of the top-10).
QUERY_MODEL_FILE, QUERY_WEIGHTS_FILE = "query.xml", "query.bin"
FILES = (WEIGHTS_FILE, MODEL_FILE, QUERY_WEIGHTS_FILE, QUERY_MODEL_FILE, TOKENIZER_FILE)
CALIBRATION_BATCH = 8  # padded like real batches: padding positions are part of the activation ranges
CALIBRATION_COUNT = 96

# Calibration sentences written for this purpose (not taken from arXiv): the mix of topics,
# notation and languages a digest sees. Activation ranges come from texts recombined from these.
CALIBRATION_SENTENCES = (
    "We propose a simple and efficient method for learning sparse representations of graphs.",
    "Our approach combines a variational encoder with a contrastive objective over random walks.",
    "Experiments on six benchmark datasets show consistent gains over strong baselines.",
    "We prove that the estimator is consistent and attains the minimax rate $O(n^{-1/2})$ under mild assumptions.",
    "The spectral gap of the Laplacian $L = D - A$ controls the mixing time of the walk.",
    "Let $\\mathcal{H}$ be a separable Hilbert space and $T: \\mathcal{H} \\to \\mathcal{H}$ a compact operator.",
    "We measure the cross section of top-quark pair production at $\\sqrt{s} = 13$ TeV with the detector.",
    "The observed excess has a local significance of 3.2 standard deviations.",
    "Using density functional theory, we compute the band structure of the layered material.",
    "Superconductivity emerges below 4 K when the sample is doped with electrons.",
    "We present high-resolution spectroscopy of a young star cluster in the Large Magellanic Cloud.",
    "The galaxy rotation curves are well fitted by a cored dark matter profile.",
    "Large language models often hallucinate facts when asked about rare entities.",
    "We release our code, data and trained models to support reproducible research.",
    "A user study with 24 participants indicates that the interface reduces task completion time.",
    "Protein structure prediction has improved dramatically with deep learning.",
    "We sequence single cells from mouse cortex and identify eleven transcriptional states.",
    "The scheduler reduces tail latency by 38% on a production cluster of 2,000 machines.",
    "Our compiler pass eliminates redundant bounds checks without changing program semantics.",
    "We formalise the protocol in Coq and verify its safety and liveness properties.",
    "Numerical simulations of the Navier-Stokes equations confirm the asymptotic analysis.",
    "The policy is trained with reinforcement learning and transferred to a real robot arm.",
    "Nous proposons une nouvelle méthode pour l'analyse des séries temporelles.",
    "Wir zeigen, dass das Verfahren für große Gitter effizient ist.",
    "Finally, we discuss limitations and directions for future work.",
    "Quantum error correction requires physical error rates below a threshold of about one percent.",
    "We derive tight regret bounds of order $\\tilde{O}(\\sqrt{dT})$ for linear contextual bandits.",
    "The dataset contains 1.2 million annotated images collected from 37 countries.",
)


def calibration_texts(count: int = CALIBRATION_COUNT) -> list[str]:
    """Deterministic title-like to abstract-length texts (0-320 words) recombined from CALIBRATION_SENTENCES."""
    rng, texts = random.Random(0), []
    for i in range(count):
        pool = list(CALIBRATION_SENTENCES)
        rng.shuffle(pool)
        target, words = rng.choice([0, 40, 120, 200, 260, 320]), []
        while len(words) < target and pool:
            words += pool.pop().split()
        texts.append(f"{CALIBRATION_SENTENCES[i % len(CALIBRATION_SENTENCES)]} {' '.join(words)}".strip())
    return texts


# --- the export -----------------------------------------------------------------------------


def find_export(model_dir: Path, folder: Path) -> dict[str, Any] | None:
    """The manifest of a complete, current export of `model_dir` in `folder`, else None."""
    manifest = current_manifest(model_dir, folder, RECIPE)
    if manifest is None:
        return None
    for name in FILES:
        expected = manifest.get("files", {}).get(name, {})
        try:
            stat = (folder / name).stat()
        except OSError:
            stat = None
        if stat is None or stat.st_size != expected.get("size"):
            log.warning("exported model in %s is incomplete (%s); rebuilding it", folder, name)
            return None
        # A full digest only when the file was touched since it was written (keeps start-up fast).
        if stat.st_mtime_ns != expected.get("mtime_ns") and _file_digest(folder / name) != expected.get("blake2b"):
            log.warning("exported file %s fails its checksum; rebuilding it", folder / name)
            return None
    return manifest


def export(model_dir: Path, folder: Path) -> dict[str, Any]:
    """Export + quantise `model_dir` into `folder` atomically; verify it against torch. ExportError on failure."""
    plan = plan_export(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # from here on the folder is "not exported" until done
    tokenizer = _tokenizer(model_dir, plan.max_seq_length)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
        work = Path(tmp)
        try:
            inputs, dim, reference = _export_fp32(model_dir, plan, work / "fp32.onnx")
            _quantise(work / "fp32.onnx", work / MODEL_FILE, tokenizer, inputs)
            _save_fp32(work / "fp32.onnx", work / QUERY_MODEL_FILE)
            compiled = _compile(work / MODEL_FILE, cache_dir=None)
        except ExportError:
            raise
        except Exception as exc:  # tracing, NNCF and OpenVINO fail in many library-specific ways
            raise ExportError(f"{type(exc).__name__}: {exc}") from exc
        _verify(reference, compiled, tokenizer)
        for name in (WEIGHTS_FILE, MODEL_FILE, QUERY_WEIGHTS_FILE, QUERY_MODEL_FILE):
            os.replace(work / name, folder / name)
    write_atomic(folder / TOKENIZER_FILE, (model_dir / TOKENIZER_FILE).read_bytes())
    files = {}
    for name in FILES:
        stat = (folder / name).stat()
        files[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "blake2b": _file_digest(folder / name)}
    manifest = {"recipe": RECIPE, "source": fingerprint(model_dir), "source_dir": str(model_dir),
                "pooling": plan.pooling, "max_seq_length": plan.max_seq_length, "inputs": inputs,
                "dim": dim, "files": files}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2))
    log.info("exported %s to %s", model_dir, folder)
    return manifest


def _quantise(source: Path, target: Path, tokenizer, inputs: list[str]) -> None:
    # NNCF sends usage telemetry unless told it runs in CI; this flag does nothing else in it.
    os.environ.setdefault("NNCF_CI", "1")
    import nncf
    import openvino as ov

    texts = calibration_texts()
    batches = [_feed(tokenizer, texts[i:i + CALIBRATION_BATCH], inputs)
               for i in range(0, len(texts), CALIBRATION_BATCH)]
    model = ov.Core().read_model(str(source))
    logging.disable(logging.INFO)  # NNCF logs every step on its own logger and draws progress bars
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantised = nncf.quantize(model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER,
                                      subset_size=len(batches))
    finally:
        logging.disable(logging.NOTSET)
    ov.save_model(quantised, str(target), compress_to_fp16=False)


def _save_fp32(source: Path, target: Path) -> None:
    import openvino as ov

    ov.save_model(ov.Core().read_model(str(source)), str(target), compress_to_fp16=False)


def _verify(reference: np.ndarray, compiled, tokenizer) -> None:
    """Compare the quantised graph with the torch model on a few texts; reject a drifting export."""
    got = _run(compiled.create_infer_request(), tokenizer, list(PROBE_TEXTS), compiled)
    cosine = float((reference * got).sum(axis=1).min())
    if cosine < MIN_PROBE_COSINE:
        raise ExportError(f"the int8 export drifts from the model (cosine {cosine:.3f} < {MIN_PROBE_COSINE})")


# --- running it -----------------------------------------------------------------------------


def _compile(path: Path, cache_dir: Path | None):
    import openvino as ov

    # THROUGHPUT: one stream per core (here 2 x 1 thread), fed by as many requests in flight;
    # ~10% faster than one 2-thread LATENCY request (less thread synchronisation per op).
    config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": os.cpu_count() or 1}
    if cache_dir is not None:
        config["CACHE_DIR"] = str(cache_dir)
    return ov.Core().compile_model(str(path), "CPU", config)


def _feed(tokenizer, texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch([text.strip() for text in texts])
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
    return {name: feed[name] for name in names}


def _run(request, tokenizer, texts: list[str], compiled) -> np.ndarray:
    names = [port.get_any_name() for port in compiled.inputs]
    return np.array(request.infer(_feed(tokenizer, texts, names))[0], dtype=np.float32)


class OpenVinoEncoder(Encoder):
    """Encodes with the exported int8 OpenVINO model; needs only openvino + tokenizers."""

    def __init__(self, model_name: str, folder: Path, manifest: dict[str, Any], *, batch_size: int = 16,
                 model_file: str = MODEL_FILE):
        self.model_name, self.device, self.dim = model_name, "cpu", int(manifest["dim"])
        self.batch_size = batch_size
        self._compiled = _compile(folder / model_file, folder / COMPILED_DIR)
        self._inputs = [port.get_any_name() for port in self._compiled.inputs]
        count = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._requests = [self._compiled.create_infer_request() for _ in range(max(1, count))]
        self._tokenizer = _tokenizer(folder, int(manifest["max_seq_length"]))

    def _encode_batches(self, batches: list[list[str]]) -> Iterator[np.ndarray]:
        """Keeps one batch in flight per stream (round robin), tokenising the next meanwhile."""
        pending: deque = deque()
        try:
            for number, texts in enumerate(batches):
                if len(pending) == len(self._requests):
                    yield _result(pending.popleft())
                request = self._requests[number % len(self._requests)]  # the one just collected
                request.start_async(_feed(self._tokenizer, texts, self._inputs))
                pending.append(request)
            while pending:
                yield _result(pending.popleft())
        finally:
            for request in pending:  # an abandoned encode leaves no request running
                request.wait()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return next(self._encode_batches([texts]))


def _result(request) -> np.ndarray:
    request.wait()
    return np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the request is reused


def open_or_export(model_name: str, model_dir: Path, folder: Path, *, batch_size: int = 16,
                   allow_export: bool = True, for_queries: bool = False) -> OpenVinoEncoder | None:
    """The OpenVINO encoder for `model_dir`, exported into `folder` if needed and allowed.

    `for_queries` runs the fp32 graph of the same export (same space, closest to the model).
    """
    model_file = QUERY_MODEL_FILE if for_queries else MODEL_FILE
    return open_export(
        model_name, model_dir, folder, find=find_export, export_to=export, allow_export=allow_export,
        make=lambda manifest: OpenVinoEncoder(model_name, folder, manifest, batch_size=batch_size, model_file=model_file),
        backend="OpenVINO",
    )
