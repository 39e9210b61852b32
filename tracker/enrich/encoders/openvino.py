"""The CPU runtime: an exported model (see export.py) run by OpenVINO. Needs only openvino + tokenizers.

Documents run the int8 graph (NNCF static quantisation, weights and activations) on CPUs where
int8 pays (`int8_pays`), else the fp32 graph; queries always run the fp32 graph of the same
export: the same space, rankings closest to the full model, and no torch import, so
`tracker search` starts fast. OpenVINO's own compiled-model cache (`compiled/` in the
export folder) makes a fresh process's compile ~0.2 s instead of ~0.7 s; OpenVINO recompiles when
a blob does not match or load.

Telemetry: `import openvino` starts OpenVINO's usage telemetry (openvino_telemetry), which writes a
client id under ~/intel and would send events. It is off in CI by that package's own rule (the `CI`
environment variable), and NNCF's by `NNCF_CI`; `openvino_module()` sets both while OpenVINO loads
and converts, so nothing is written to the user's home and nothing is sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tracker.enrich.encoders.base import Encoder

log = logging.getLogger(__name__)

MODEL_FILE, WEIGHTS_FILE = "model.xml", "model.bin"  # int8, for documents
QUERY_MODEL_FILE, QUERY_WEIGHTS_FILE = "query.xml", "query.bin"  # fp32, for queries
TOKENIZER_FILE = "tokenizer.json"
COMPILED_DIR = "compiled"


@contextlib.contextmanager
def telemetry_off():
    """OpenVINO/NNCF telemetry off for what runs inside (import, convert_model, quantize)."""
    saved = {name: os.environ.get(name) for name in ("CI", "NNCF_CI")}
    os.environ.update(CI="true", NNCF_CI="1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def openvino_module():
    """`import openvino` with its telemetry off (the import itself starts it)."""
    with telemetry_off():
        import openvino

    return openvino


def tokenizer(folder: Path, max_seq_length: int):
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(Path(folder) / TOKENIZER_FILE))
    loaded.enable_truncation(max_seq_length)
    loaded.enable_padding(pad_id=loaded.padding["pad_id"] if loaded.padding else 0)
    return loaded


def feed(tokens, texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """The model's inputs for `texts`, padded to the longest (padding is masked out by the pooling)."""
    encodings = tokens.encode_batch([text.strip() for text in texts])
    values = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    return {name: values[name] for name in names}


def compile_model(path: Path, cache_dir: Path | None = None):
    ov = openvino_module()
    # THROUGHPUT: one stream per core (here 2 x 1 thread), fed by as many requests in flight;
    # ~10% faster than one 2-thread LATENCY request (less thread synchronisation per op).
    config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": os.cpu_count() or 1}
    # f32 arithmetic everywhere: on CPUs with AVX512_BF16 or AMX, OpenVINO otherwise computes in
    # bfloat16 (vectors ~1e-3 off), so the same paper would embed differently on another runner.
    config["INFERENCE_PRECISION_HINT"] = "f32"
    if cache_dir is not None:
        config["CACHE_DIR"] = str(cache_dir)
    return ov.Core().compile_model(str(path), "CPU", config)


def run_once(compiled, tokens, texts: list[str]) -> np.ndarray:
    """Vectors of `texts` in one synchronous request (used to verify an export)."""
    names = [port.get_any_name() for port in compiled.inputs]
    return np.array(compiled.create_infer_request().infer(feed(tokens, texts, names))[0], dtype=np.float32)


def int8_pays() -> bool:
    """Whether this CPU runs the int8 graph faster than the fp32 one.

    int8 matrix products pay with VNNI or AMX instructions: 2.5x sentence-transformers on a 2-core
    AVX512-VNNI Xeon. On a plain 2-core AVX2 CPU the int8 graph was *slower* than the fp32 one
    (benchmarks/embed.py: int8 1.23x sentence-transformers at cosine 0.993, fp32 1.48x at 1.000),
    so there documents run fp32 too. `TRACKER_CPU_PRECISION=int8|fp32` overrides the choice.
    """
    forced = os.environ.get("TRACKER_CPU_PRECISION", "").strip().lower()
    if forced in ("int8", "fp32"):
        return forced == "int8"
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").split())
    except OSError:  # not Linux: assume a CPU of this decade
        return True
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


class OpenVinoEncoder(Encoder):
    """Encodes with an exported graph: `precision` "int8" (documents, where it pays) or "fp32"."""

    def __init__(
        self, model_name: str, folder: Path, manifest: dict[str, Any], *, batch_size: int = 16, precision: str = "int8"
    ):
        self.model_name, self.device, self.dim = model_name, "cpu", int(manifest["dim"])
        self.batch_size, self.precision = batch_size, precision
        self.folder = Path(folder)
        graph = self.folder / (MODEL_FILE if precision == "int8" else QUERY_MODEL_FILE)
        try:
            self._compiled = compile_model(graph, self.folder / COMPILED_DIR)
        except Exception as exc:  # e.g. a blob another process is writing right now: compile without the cache
            log.info("OpenVINO's compiled-model cache in %s failed (%s); compiling without it", self.folder, exc)
            self._compiled = compile_model(graph)
        self._inputs = [port.get_any_name() for port in self._compiled.inputs]
        count = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._requests = [self._compiled.create_infer_request() for _ in range(max(1, count))]
        self._tokens = tokenizer(self.folder, int(manifest["max_seq_length"]))

    def _encode_batches(self, batches: list[list[str]]) -> Iterator[np.ndarray]:
        """Keeps one batch in flight per stream (round robin), tokenising the next meanwhile."""
        pending: deque = deque()
        try:
            for number, texts in enumerate(batches):
                if len(pending) == len(self._requests):
                    yield _result(pending.popleft())
                request = self._requests[number % len(self._requests)]  # the one just collected
                request.start_async(feed(self._tokens, texts, self._inputs))
                pending.append(request)
            while pending:
                yield _result(pending.popleft())
        finally:
            for request in pending:  # an abandoned encode leaves no request running
                request.wait()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return next(self._encode_batches([texts]))

    def __repr__(self) -> str:
        return f"OpenVinoEncoder({self.model_name!r}, dim={self.dim}, precision={self.precision!r})"


def _result(request) -> np.ndarray:
    request.wait()
    return np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the request is reused
