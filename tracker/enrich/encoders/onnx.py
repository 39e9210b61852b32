"""The fast CPU path of tracker.enrich.embed: a sentence-transformers model exported to int8 ONNX.

Export (once per model, needs torch): the Hugging Face transformer + pooling + L2-normalise
are traced with `torch.onnx.export`, then onnxruntime's dynamic int8 quantisation (per-channel
weights) is applied to the MatMuls. Encoding needs only `onnxruntime` and `tokenizers`
(~0.3 s to import, no torch), which is also what makes the search query encoder start fast.

Files live in `<cache_root>/<slug>/`: `model.onnx`, `tokenizer.json`, `manifest.json`.
The manifest is written last and names the source model's fingerprint, the export recipe
and the ONNX file's size, mtime and blake2b digest; anything that does not match (another
model at the same name, a newer recipe, a truncated or edited file) means "not exported".
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from tracker.enrich.embed import Encoder
from tracker.store.journal import write_atomic

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

# Bump when the export recipe changes: existing exports are then rebuilt.
RECIPE = "torchscript-opset17+int8-dynamic-per-channel-matmul-except-layer0-ffn-out/v1"
FP32_NODES = re.compile(r"layer\.0/output/dense/MatMul$")  # BERT-family names; other models: all int8
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
SMALL_FILE = 1 << 20  # source files below 1 MiB are fingerprinted by content, larger ones by size+mtime
PROBE_TEXTS = (
    "Attention is all you need.",
    "We study the $O(n \\log n)$ complexity of sorting on quantum computers.",
    "Un modèle de langue pour la physique des particules.",
    "Spectral bounds for random graphs. " + "We prove that the second eigenvalue is small. " * 60,
)
MIN_PROBE_COSINE = 0.97  # an export whose vectors drift further than this is rejected


class ExportError(Exception):
    """The model cannot take the ONNX path (unsupported layout or a failed export)."""


@dataclass(frozen=True)
class ExportPlan:
    """What a sentence-transformers folder needs to be reproduced as one ONNX graph."""

    pooling: str  # "mean" or "cls"
    max_seq_length: int


def plan_export(model_dir: Path) -> ExportPlan:
    """The plan for a `Transformer -> Pooling (mean|cls) [-> Normalize]` model; ExportError otherwise."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ExportError(f"modules {kinds} are not Transformer+Pooling[+Normalize]")
        if modules[0].get("path"):
            raise ExportError("the transformer lives in a subfolder")
        pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        bert_config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise ExportError(f"cannot read the sentence-transformers config: {exc}") from exc
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode") and on]
    mode = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(modes[0]) if len(modes) == 1 else None
    if mode is None:
        raise ExportError(f"pooling {modes} is not supported (only mean or cls)")
    if not (model_dir / TOKENIZER_FILE).is_file():
        raise ExportError("the model has no tokenizer.json (a fast tokenizer is needed)")
    return ExportPlan(pooling=mode, max_seq_length=int(bert_config.get("max_seq_length") or 512))


def fingerprint(model_dir: Path) -> str:
    """Identity of the source model: small files by content, weights by size and mtime."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and ".git" not in p.parts):
        stat = path.stat()
        digest.update(str(path.relative_to(model_dir)).encode())
        if stat.st_size < SMALL_FILE:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def current_manifest(model_dir: Path, folder: Path, recipe: str) -> dict[str, Any] | None:
    """The manifest in `folder` if it describes an export of `model_dir` by `recipe`, else None."""
    manifest = _read_manifest(folder)
    if manifest is None:
        return None
    if manifest.get("recipe") != recipe or manifest.get("source") != fingerprint(model_dir):
        log.info("exported model in %s is for another model or recipe; re-exporting", folder)
        return None
    return manifest


def find_export(model_dir: Path, folder: Path) -> dict[str, Any] | None:
    """The manifest of a complete, current export of `model_dir` in `folder`, else None."""
    manifest = current_manifest(model_dir, folder, RECIPE)
    if manifest is None:
        return None
    model = folder / MODEL_FILE
    try:
        stat = model.stat()
    except OSError:
        return None
    if not (folder / TOKENIZER_FILE).is_file() or stat.st_size != manifest.get("size"):
        log.warning("exported model in %s is incomplete; rebuilding it", folder)
        return None
    # A full digest only when the file was touched since it was written (keeps start-up fast).
    if stat.st_mtime_ns != manifest.get("mtime_ns") and _file_digest(model) != manifest.get("blake2b"):
        log.warning("exported model %s fails its checksum; rebuilding it", model)
        return None
    return manifest


def export(model_dir: Path, folder: Path) -> dict[str, Any]:
    """Export + quantise `model_dir` into `folder` atomically; verify it against torch. ExportError on failure."""
    plan = plan_export(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
        work = Path(tmp)
        try:
            inputs, dim, reference = _export_fp32(model_dir, plan, work / "fp32.onnx")
            _quantise(work / "fp32.onnx", work / MODEL_FILE)
            session = _session(work / MODEL_FILE)
        except ExportError:
            raise
        except Exception as exc:  # export and quantisation fail in many library-specific ways
            raise ExportError(f"{type(exc).__name__}: {exc}") from exc
        _verify(reference, session, _tokenizer(model_dir, plan.max_seq_length))
        os.replace(work / MODEL_FILE, folder / MODEL_FILE)
    write_atomic(folder / TOKENIZER_FILE, (model_dir / TOKENIZER_FILE).read_bytes())
    stat = (folder / MODEL_FILE).stat()
    manifest = {
        "recipe": RECIPE, "source": fingerprint(model_dir), "source_dir": str(model_dir),
        "pooling": plan.pooling, "max_seq_length": plan.max_seq_length, "inputs": inputs,
        "dim": dim,
        "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "blake2b": _file_digest(folder / MODEL_FILE),
    }
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2))
    log.info("exported %s to %s", model_dir, folder)
    return manifest


def _export_fp32(model_dir: Path, plan: ExportPlan, target: Path) -> tuple[list[str], int, np.ndarray]:
    """Trace the model to `target`; returns its input names, dim and torch's vectors of PROBE_TEXTS."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention traces into plain MatMul/Softmax nodes that onnxruntime fuses well.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    inputs = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in tokenizer.model_input_names]
    wrapper = _pooled(model, plan.pooling, inputs)
    probe = tokenizer(list(PROBE_TEXTS), padding=True, truncation=True, max_length=plan.max_seq_length,
                      return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code are expected
        # The reference comes first: tracing leaves transformers' mask helpers in a state
        # where the torch model itself no longer gives the right vectors.
        reference = wrapper(*(probe[name] for name in inputs)).numpy()
        axes = {name: {0: "batch", 1: "tokens"} for name in inputs} | {"embedding": {0: "batch"}}
        torch.onnx.export(wrapper, tuple(probe[name] for name in inputs), str(target), input_names=inputs,
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return inputs, int(reference.shape[1]), reference


def _pooled(model, pooling: str, inputs: list[str]):
    """transformer -> mean (or CLS) pooling -> L2 normalise, as one torch module (torch imported lazily)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model, pooling: str, inputs: list[str]):
            super().__init__()
            self.model, self.pooling, self.inputs = model, pooling, inputs

        def forward(self, *args):
            feed = dict(zip(self.inputs, args))
            tokens = self.model(**feed)[0]
            if self.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = feed["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled(model, pooling, inputs)


def _quantise(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weights: per-tensor ones drop MiniLM's mean cosine to ~0.92 (outlier channels).
    # The first FFN down-projection stays fp32: it alone costs most of the remaining error on
    # short texts (titles) for ~6% of the compute. Embedding tables stay fp32 (MatMul only).
    graph = onnx.load(str(source), load_external_data=False).graph
    keep_fp32 = [node.name for node in graph.node if FP32_NODES.search(node.name)]
    logging.disable(logging.WARNING)  # the quantiser logs every tensor (and advice) on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_fp32,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True})
    finally:
        logging.disable(logging.NOTSET)


def _verify(reference: np.ndarray, session, tokenizer) -> None:
    """Compare the quantised graph with the torch model on a few texts; reject a drifting export."""
    got = _run(session, tokenizer, list(PROBE_TEXTS))
    cosine = float((reference * got).sum(axis=1).min())
    if cosine < MIN_PROBE_COSINE:
        raise ExportError(f"the int8 export drifts from the model (cosine {cosine:.3f} < {MIN_PROBE_COSINE})")


def _tokenizer(model_dir: Path, max_seq_length: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
    tokenizer.enable_truncation(max_seq_length)
    tokenizer.enable_padding(pad_id=tokenizer.padding["pad_id"] if tokenizer.padding else 0)
    return tokenizer


def _session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    # Threads that spin while idle steal the CPU from the tokenizer and from other processes.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, tokenizer, texts: list[str]) -> np.ndarray:
    encodings = tokenizer.encode_batch([text.strip() for text in texts])
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {name: feed[name] for name in names})[0]


class OnnxEncoder(Encoder):
    """Encodes with an exported int8 graph; needs only onnxruntime + tokenizers."""

    def __init__(self, model_name: str, folder: Path, manifest: dict[str, Any], *, batch_size: int = 16):
        self.model_name, self.device, self.dim = model_name, "cpu", int(manifest["dim"])
        self.batch_size = batch_size
        self._session = _session(folder / MODEL_FILE)
        self._tokenizer = _tokenizer(folder, int(manifest["max_seq_length"]))

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return _run(self._session, self._tokenizer, texts)


def open_export(model_name: str, model_dir: Path, folder: Path, *, find: Callable, export_to: Callable,
                make: Callable, allow_export: bool, backend: str) -> Any:
    """Shared by the ONNX and OpenVINO paths: a checked export of `model_dir` in `folder`, built
    if needed and allowed, opened by `make(manifest)`. None (after logging why) when the model
    cannot take this path; ExportError never escapes."""
    for _ in range(2):  # a second round rebuilds an export that passed the checks but does not load
        manifest = find(model_dir, folder)
        if manifest is None:
            if not allow_export:
                return None
            try:
                manifest = export_to(model_dir, folder)
            except ExportError as exc:
                log.warning("model %s cannot use the %s path (%s)", model_name, backend, exc)
                return None
        try:
            return make(manifest)
        except Exception as exc:  # runtimes raise their own exception types for unreadable models
            log.warning("exported model in %s does not load (%s); rebuilding it", folder, exc)
            (folder / MANIFEST).unlink(missing_ok=True)
    return None


def open_or_export(model_name: str, model_dir: Path, folder: Path, *, batch_size: int = 16,
                   allow_export: bool = True) -> OnnxEncoder | None:
    """The onnxruntime encoder for `model_dir`, exported into `folder` if needed and allowed."""
    return open_export(
        model_name, model_dir, folder, find=find_export, export_to=export, allow_export=allow_export,
        make=lambda manifest: OnnxEncoder(model_name, folder, manifest, batch_size=batch_size), backend="ONNX",
    )
