"""The one-time preparation of a sentence-transformers model for the CPU runtime, shared by every project folder.

Recipe (no torch; ~40 s of CPU time for MiniLM, announced on stderr): onnx_graph.py writes the BERT encoder +
pooling + L2-normalise as one ONNX graph from model.safetensors; OpenVINO reads it and keeps it as
the fp32 query graph; NNCF post-training quantisation (transformer preset: int8 weights *and*
activations, attention matmuls included; calibrated on calibration.py's texts) makes the
documents' graph. The int8 graph is checked against the fp32 one on PROBE_TEXTS before use.

Where: `<cache root>/models/<name>-<key>/`, the cache root being `TRACKER_CACHE_DIR` or the
per-user cache dir (platformdirs: ~/.cache/paper-tracker on Linux), the key a hash of the model
files' fingerprint and RECIPE. So every project folder of a user shares one export, another
model (or a retrained one at the same path) or a new recipe gets its own, and nothing is
re-exported per folder. The export is built in a temp folder next to it and renamed into place
(atomic); a file lock next to it makes a second process wait for the first one's export
instead of doing it again. `manifest.json` names the source fingerprint, the recipe and each
file's size, mtime and blake2b; a missing, truncated or edited file means "not exported".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tracker.enrich.encoders.calibration import CALIBRATION_BATCH, calibration_texts
from tracker.enrich.encoders.onnx_graph import ExportError, ExportPlan, encoder_graph, plan_export, save_graph
from tracker.enrich.encoders.openvino import (
    MODEL_FILE,
    QUERY_MODEL_FILE,
    QUERY_WEIGHTS_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    compile_model,
    feed,
    openvino_module,
    run_once,
    telemetry_off,
    tokenizer,
)
from tracker.model_files import fingerprint, hash_file

log = logging.getLogger(__name__)

__all__ = ["ExportError", "ensure_export", "export_folder", "find_export", "plan_export"]

# Bump when the recipe changes: the key changes with it, so old exports are simply not found.
RECIPE = "onnx_graph(safetensors)+nncf-ptq-transformer-int8/v4"
MANIFEST = "manifest.json"
FILES = (WEIGHTS_FILE, MODEL_FILE, QUERY_WEIGHTS_FILE, QUERY_MODEL_FILE, TOKENIZER_FILE)
CACHE_ENV = "TRACKER_CACHE_DIR"
LOCK_TIMEOUT = 1800  # seconds to wait for another process's export before giving up on the fast path
PROBE_TEXTS = (
    "Attention is all you need.",
    "We study the $O(n \\log n)$ complexity of sorting on quantum computers.",
    "Un modèle de langue pour la physique des particules.",
    "Spectral bounds for random graphs. " + "We prove that the second eigenvalue is small. " * 60,
)
MIN_PROBE_COSINE = 0.97  # an int8 export whose vectors drift further than this from fp32 is rejected
STEPS = (
    "building the ONNX graph from model.safetensors",
    "converting it for OpenVINO",
    "quantising to int8 (calibration)",
    "checking the int8 graph",
)
SECONDS_PER_MB = 0.3  # preparation wall time per MB of weights on an idle 2-core CPU (MiniLM: 90 MB, 39 s CPU)


def cache_root() -> Path:
    """`TRACKER_CACHE_DIR`, else the per-user cache dir (~/.cache/paper-tracker on Linux)."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("paper-tracker", appauthor=False))


def export_folder(model_dir: Path, source: str | None = None) -> Path:
    """Where the export of the model in `model_dir` (fingerprint `source`) lives."""
    source = source or fingerprint(model_dir)
    key = hashlib.sha256(f"{RECIPE}\n{source}".encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model_dir).resolve().name).strip("-.")[:40] or "model"
    return cache_root() / "models" / f"{name}-{key}"


# --- finding an export ------------------------------------------------------------------------


def find_export(model_dir: Path, folder: Path, source: str | None = None) -> dict[str, Any] | None:
    """The manifest of a complete export of `model_dir` by RECIPE in `folder`, else None (logged if damaged)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        log.warning("exported model in %s has an unreadable manifest (%s); rebuilding it", folder, exc)
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("recipe") != RECIPE
        or manifest.get("source") != (source or fingerprint(model_dir))
    ):
        log.info("exported model in %s is for another model or recipe; re-exporting", folder)
        return None
    for name in FILES:
        expected = (manifest.get("files") or {}).get(name) or {}
        try:
            stat = (folder / name).stat()
        except OSError:
            stat = None
        if stat is None or stat.st_size != expected.get("size"):
            log.warning("exported model in %s is incomplete (%s); rebuilding it", folder, name)
            return None
        # A full digest only when the file was touched since it was written (keeps start-up fast).
        if stat.st_mtime_ns != expected.get("mtime_ns") and file_digest(folder / name) != expected.get("blake2b"):
            log.warning("exported file %s fails its checksum; rebuilding it", folder / name)
            return None
    return manifest


def file_digest(path: Path) -> str:
    digest = hashlib.blake2b()
    hash_file(digest, path)
    return digest.hexdigest()


def ensure_export(model_dir: Path, *, discard: Path | None = None, label: str = "") -> tuple[Path, dict]:
    """(folder, manifest) of a sound export of `model_dir`, exporting it first if needed.

    `discard`: an export that passed the checks but does not load; it is removed and rebuilt.
    `label`: the model's name for the user (default: its folder's). ExportError when the model cannot be exported.
    """
    from filelock import FileLock, Timeout

    source = fingerprint(model_dir)
    folder = export_folder(model_dir, source)
    if discard is None:
        manifest = find_export(model_dir, folder, source)
        if manifest is not None:
            return folder, manifest
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(f"{folder}.lock", timeout=LOCK_TIMEOUT):
            manifest = None if discard is not None else find_export(model_dir, folder, source)
            if manifest is None:  # not finished by another process while we waited
                manifest = _build(model_dir, source, folder, label or model_dir.name)
    except Timeout as exc:
        raise ExportError(f"another process has held the export lock {exc.lock_file} for {LOCK_TIMEOUT} s") from exc
    return folder, manifest


def _build(model_dir: Path, source: str, folder: Path, label: str) -> dict[str, Any]:
    """Export into a temp folder beside `folder`, then swap it in."""
    plan = plan_export(model_dir)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        with _announced(model_dir, folder, label) as step:
            manifest = _export(model_dir, plan, source, work, step)
        if folder.exists():  # a damaged export of the same key (we hold the lock)
            shutil.rmtree(folder)
        os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported %s to %s", model_dir, folder)
    return manifest


@contextlib.contextmanager
def _announced(model_dir: Path, folder: Path, label: str):
    """Tell the user what the wait is for, that it happens once, and each step (stderr: a bar on a terminal)."""
    from tqdm import tqdm

    megabytes = sum(p.stat().st_size for p in model_dir.glob("*.safetensors")) / 1e6
    expected = max(5, round(megabytes * SECONDS_PER_MB))
    print(
        f"preparing the embedding model {label} for this CPU (once per user, ~{expected} s); later runs reuse {folder}",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    bar = tqdm(total=len(STEPS), unit="step", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)

    def step(what: str) -> None:
        if bar.disable:
            print(f"  {what}", file=sys.stderr, flush=True)  # plain lines in Actions and logs
        bar.set_description(what)
        bar.update(1)

    try:
        yield step
    finally:
        bar.close()
    print(f"embedding model ready in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


# --- the export itself ------------------------------------------------------------------------


def _export(model_dir: Path, plan: ExportPlan, source: str, work: Path, step) -> dict[str, Any]:
    tokens = tokenizer(model_dir, plan.max_seq_length)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    try:
        step(STEPS[0])
        save_graph(encoder_graph(model_dir, pooling=plan.pooling), work / "model.onnx")
        step(STEPS[1])
        ov = openvino_module()
        model = ov.Core().read_model(str(work / "model.onnx"))
        ov.save_model(model, str(work / QUERY_MODEL_FILE), compress_to_fp16=False)
        (work / "model.onnx").unlink()
        step(STEPS[2])
        ov.save_model(_quantise(model, tokens, inputs), str(work / MODEL_FILE), compress_to_fp16=False)
        step(STEPS[3])
        reference = run_once(compile_model(work / QUERY_MODEL_FILE), tokens, list(PROBE_TEXTS))
        got = run_once(compile_model(work / MODEL_FILE), tokens, list(PROBE_TEXTS))
    except ExportError:
        raise
    except Exception as exc:  # onnx, NNCF and OpenVINO fail in many library-specific ways
        raise ExportError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    cosine = float((reference * got).sum(axis=1).min())
    if cosine < MIN_PROBE_COSINE:
        raise ExportError(f"the int8 export drifts from the model (cosine {cosine:.3f} < {MIN_PROBE_COSINE})")
    shutil.copyfile(model_dir / TOKENIZER_FILE, work / TOKENIZER_FILE)
    files = {}
    for name in FILES:
        _fsync(work / name)
        stat = (work / name).stat()
        files[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "blake2b": file_digest(work / name)}
    manifest = {
        "recipe": RECIPE,
        "source": source,
        "source_dir": str(model_dir),
        "pooling": plan.pooling,
        "max_seq_length": plan.max_seq_length,
        "inputs": inputs,
        "dim": int(reference.shape[1]),
        "probe_cosine": round(cosine, 4),
        "files": files,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    _fsync(work / MANIFEST)
    return manifest


def _fsync(path: Path) -> None:
    """Data on disk before the rename publishes it (a crash must not leave a same-size, zero-filled file)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _quantise(model, tokens, inputs: list[str]):
    texts = calibration_texts()
    batches = [feed(tokens, texts[i : i + CALIBRATION_BATCH], inputs) for i in range(0, len(texts), CALIBRATION_BATCH)]
    with telemetry_off():
        import nncf

        logging.disable(logging.INFO)  # NNCF logs every step on its own logger and draws progress bars
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return nncf.quantize(
                    model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches)
                )
        finally:
            logging.disable(logging.NOTSET)
