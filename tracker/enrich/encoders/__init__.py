"""Encoders: texts -> unit vectors. One CPU runtime (OpenVINO, int8 via NNCF) and sentence-transformers on GPUs.

- `load_encoder(model, device=...)`: documents. On CPU (the default without a GPU) the model's
  OpenVINO export (export.py: an ONNX graph built from model.safetensors, no torch; shared per
  user, built once) runs int8 where the CPU has VNNI/AMX, else fp32 (openvino.int8_pays); on
  CUDA (fp16, batches of 256) or MPS sentence-transformers runs the model itself. A model the
  exporter does not support (not BERT, no safetensors, or an export that drifts) falls back to
  sentence-transformers on CPU, logged, where the `gpu` extra installed it; else one clear error.
- `load_query_encoder(model)`: short queries for `tracker search`; the fp32 graph of the same
  export, so it starts without importing torch and ranks closest to the full model.

Nothing heavy is imported until an encoder is loaded. Measured (benchmarks/embed.py) and the
reasons for the recipe: see export.py and the README.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from pathlib import Path

from tracker.enrich.encoders.base import Encoder, normalise
from tracker.enrich.encoders.device import DeviceChoice, choose_device, detect_accelerators
from tracker.errors import TrackerError
from tracker.model_files import DEFAULT_MODEL, resolve_model_dir

log = logging.getLogger(__name__)

__all__ = ["DeviceChoice", "Encoder", "choose_device", "load_encoder", "load_query_encoder", "normalise"]


def load_encoder(model: str = DEFAULT_MODEL, *, device: str | None = None, batch_size: int | None = None) -> Encoder:
    """The document encoder for `model` on the best (or requested) device. Never downloads anything."""
    model_dir = resolve_model_dir(model)
    choice = choose_device(device, *detect_accelerators(), batch_size)
    if choice.device == "cpu":
        fast = _openvino(model, model_dir, batch_size=choice.batch_size)
        if fast is not None:
            return fast
    from tracker.enrich.encoders import sentence_transformer

    return sentence_transformer.load(model, model_dir, choice)


def load_query_encoder(model: str = DEFAULT_MODEL) -> Encoder:
    """An encoder for short queries that starts fast (no torch) once the model has been exported.

    Without an export yet, it builds one (slow, once per user and model).
    """
    model_dir = resolve_model_dir(model)
    fast = _openvino(model, model_dir, for_queries=True)
    if fast is not None:
        return fast
    from tracker.enrich.encoders import sentence_transformer

    return sentence_transformer.load(model, model_dir, choose_device("cpu", False, False))


def _openvino(model: str, model_dir: Path, *, batch_size: int = 16, for_queries: bool = False) -> Encoder | None:
    """The OpenVINO encoder of `model`'s export (built if needed and possible); None to fall back."""
    if find_spec("openvino") is None:
        log.warning("openvino is not installed; embedding with sentence-transformers (slower)")
        return None
    from tracker.enrich.encoders import export
    from tracker.enrich.encoders.openvino import OpenVinoEncoder, int8_pays

    broken: Path | None = None
    for _ in range(2):  # the second round rebuilds an export that passed its checks but does not load
        try:
            folder, manifest = export.ensure_export(model_dir, discard=broken, label=model)
        except (export.ExportError, OSError) as exc:
            if find_spec("sentence_transformers") is None:
                raise TrackerError(
                    f"embedding model {model!r} cannot run on the built-in CPU path ({exc}); "
                    f"other models need torch: pip install 'paper-tracker[gpu]'"
                ) from exc
            log.warning("model %s cannot use the OpenVINO path (%s); using sentence-transformers", model, exc)
            return None
        try:
            precision = "int8" if not for_queries and int8_pays() else "fp32"
            return OpenVinoEncoder(model, folder, manifest, batch_size=batch_size, precision=precision)
        except Exception as exc:  # OpenVINO raises its own types for unreadable models
            log.warning("exported model in %s does not load (%s); rebuilding it", folder, exc)
            broken = folder
    return None
