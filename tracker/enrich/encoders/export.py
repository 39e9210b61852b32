"""The one-time export of a sentence-transformers model for the CPU runtime, shared by every project folder.

Recipe (needs torch + nncf, ~35 s for MiniLM): the transformer + pooling + L2-normalise traced
into one graph by OpenVINO's PyTorch frontend (`ov.convert_model`, no ONNX step), kept as the
fp32 query graph, then quantised by NNCF post-training quantisation (transformer preset: int8
weights *and* activations, attention matmuls included) for documents, calibrated on
calibration.py's texts. The int8 graph is checked against torch on PROBE_TEXTS before use.

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
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from tracker.enrich.encoders.calibration import CALIBRATION_BATCH, calibration_texts
from tracker.enrich.encoders.models import fingerprint
from tracker.enrich.encoders.openvino import (
    MODEL_FILE, QUERY_MODEL_FILE, QUERY_WEIGHTS_FILE, TOKENIZER_FILE, WEIGHTS_FILE, compile_model, feed,
    openvino_module, run_once, telemetry_off, tokenizer,
)

log = logging.getLogger(__name__)

# Bump when the recipe changes: the key changes with it, so old exports are simply not found.
RECIPE = "ov.convert_model(eager)+nncf-ptq-transformer-int8/v3"
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
MIN_PROBE_COSINE = 0.97  # an int8 export whose vectors drift further than this from torch is rejected


class ExportError(Exception):
    """The model cannot take the OpenVINO path (unsupported layout or a failed export)."""


@dataclass(frozen=True)
class ExportPlan:
    """What a sentence-transformers folder needs to be reproduced as one graph."""

    pooling: str  # "mean" or "cls"
    max_seq_length: int


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


def plan_export(model_dir: Path) -> ExportPlan:
    """The plan for a `Transformer -> Pooling (mean|cls) [-> Normalize]` model; ExportError otherwise.

    Reads both sentence-transformers layouts: <= 5 (pooling flags, max_seq_length in
    sentence_bert_config.json) and 6 (`pooling_mode`, the length in the tokenizer's config).
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ExportError(f"modules {kinds} are not Transformer+Pooling[+Normalize]")
        if modules[0].get("path"):
            raise ExportError("the transformer lives in a subfolder")
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        length = _max_seq_length(model_dir)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ExportError(f"cannot read the sentence-transformers config: {exc}") from exc
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True]
    if isinstance(pooling.get("pooling_mode"), str):
        modes.append(f"pooling_mode_{pooling['pooling_mode']}")
    known = {"pooling_mode_mean_tokens": "mean", "pooling_mode_mean": "mean",
             "pooling_mode_cls_token": "cls", "pooling_mode_cls": "cls"}
    mode = known.get(modes[0]) if len(modes) == 1 else None
    if mode is None:
        raise ExportError(f"pooling {modes} is not supported (only mean or cls)")
    if not (model_dir / TOKENIZER_FILE).is_file():
        raise ExportError("the model has no tokenizer.json (a fast tokenizer is needed)")
    return ExportPlan(pooling=mode, max_seq_length=length)


def _max_seq_length(model_dir: Path) -> int:
    """The token window sentence-transformers truncates to."""
    def read(name: str) -> dict:
        path = model_dir / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    for value in (read("sentence_bert_config.json").get("max_seq_length"),
                  read("tokenizer_config.json").get("model_max_length"),
                  read("config.json").get("max_position_embeddings")):
        if isinstance(value, int) and 0 < value < 100_000:  # tokenizers say "unlimited" with a huge number
            return value
    return 512


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
    if not isinstance(manifest, dict) or manifest.get("recipe") != RECIPE \
            or manifest.get("source") != (source or fingerprint(model_dir)):
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
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()


def ensure_export(model_dir: Path, *, build: bool = True, discard: Path | None = None) -> tuple[Path, dict] | None:
    """(folder, manifest) of a sound export of `model_dir`, exporting it first if needed and `build`.

    `discard`: an export that passed the checks but does not load; it is removed and rebuilt.
    None when there is no export and `build` is false. ExportError when the model cannot be exported.
    """
    from filelock import FileLock, Timeout

    source = fingerprint(model_dir)
    folder = export_folder(model_dir, source)
    if discard is None:
        manifest = find_export(model_dir, folder, source)
        if manifest is not None:
            return folder, manifest
    if not build:
        return None
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(f"{folder}.lock", timeout=LOCK_TIMEOUT):
            manifest = None if discard is not None else find_export(model_dir, folder, source)
            if manifest is None:  # not finished by another process while we waited
                manifest = _build(model_dir, source, folder)
    except Timeout as exc:
        raise ExportError(f"another process has held the export lock {exc.lock_file} for {LOCK_TIMEOUT} s") from exc
    return folder, manifest


def _build(model_dir: Path, source: str, folder: Path) -> dict[str, Any]:
    """Export into a temp folder beside `folder`, then swap it in."""
    plan = plan_export(model_dir)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        manifest = _export(model_dir, plan, source, work)
        if folder.exists():  # a damaged export of the same key (we hold the lock)
            shutil.rmtree(folder)
        os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("exported %s to %s", model_dir, folder)
    return manifest


# --- the export itself ------------------------------------------------------------------------


def _export(model_dir: Path, plan: ExportPlan, source: str, work: Path) -> dict[str, Any]:
    tokens = tokenizer(model_dir, plan.max_seq_length)
    try:
        model, inputs, reference = _convert(model_dir, plan)
        ov = openvino_module()
        ov.save_model(model, str(work / QUERY_MODEL_FILE), compress_to_fp16=False)
        ov.save_model(_quantise(model, tokens, inputs), str(work / MODEL_FILE), compress_to_fp16=False)
        compiled = compile_model(work / MODEL_FILE)
    except Exception as exc:  # tracing, NNCF and OpenVINO fail in many library-specific ways
        raise ExportError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    got = run_once(compiled, tokens, list(PROBE_TEXTS))
    cosine = float((reference * got).sum(axis=1).min())
    if cosine < MIN_PROBE_COSINE:
        raise ExportError(f"the int8 export drifts from the model (cosine {cosine:.3f} < {MIN_PROBE_COSINE})")
    shutil.copyfile(model_dir / TOKENIZER_FILE, work / TOKENIZER_FILE)
    files = {}
    for name in FILES:
        _fsync(work / name)
        stat = (work / name).stat()
        files[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "blake2b": file_digest(work / name)}
    manifest = {"recipe": RECIPE, "source": source, "source_dir": str(model_dir), "pooling": plan.pooling,
                "max_seq_length": plan.max_seq_length, "inputs": inputs, "dim": int(reference.shape[1]),
                "probe_cosine": round(cosine, 4), "files": files}
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    _fsync(work / MANIFEST)
    return manifest


def _fsync(path: Path) -> None:
    """Data on disk before the rename publishes it (a crash must not leave a same-size, zero-filled file)."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _convert(model_dir: Path, plan: ExportPlan):
    """(fp32 OpenVINO model, its input names, torch's vectors of PROBE_TEXTS)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    with _quiet_transformers():
        # Eager attention traces into plain MatMul/Softmax nodes, which OpenVINO fuses and NNCF quantises.
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
        hf_tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in hf_tokenizer.model_input_names]
        wrapper = _pooled(model, plan.pooling, inputs)
        probe = hf_tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=plan.max_seq_length,
                             return_tensors="pt")
        example = tuple(probe[name] for name in inputs)
        ov = openvino_module()
        with torch.no_grad(), warnings.catch_warnings(), telemetry_off():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code are expected
            reference = wrapper(*example).numpy()  # before tracing, which can leave torch's mask helpers altered
            converted = ov.convert_model(wrapper, example_input=example)  # dynamic batch and length
    for port, name in zip(converted.inputs, inputs):
        port.get_tensor().set_names({name})
    converted.reshape({port: ov.PartialShape([-1, -1]) for port in converted.inputs})
    return converted, inputs, reference


@contextlib.contextmanager
def _quiet_transformers():
    """transformers' config notes and weight-loading bars mean nothing to our users: errors only."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _pooled(model, pooling: str, inputs: list[str]):
    """transformer -> mean (or CLS) pooling -> L2 normalise, as one torch module (torch imported lazily)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            given = dict(zip(inputs, args))
            tokens = self.model(**given)[0]
            if pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = given["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled()


def _quantise(model, tokens, inputs: list[str]):
    texts = calibration_texts()
    batches = [feed(tokens, texts[i:i + CALIBRATION_BATCH], inputs) for i in range(0, len(texts), CALIBRATION_BATCH)]
    with telemetry_off():
        import nncf

        logging.disable(logging.INFO)  # NNCF logs every step on its own logger and draws progress bars
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return nncf.quantize(model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER,
                                     subset_size=len(batches))
        finally:
            logging.disable(logging.NOTSET)

