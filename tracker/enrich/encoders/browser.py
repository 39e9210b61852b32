"""The browser's copy of a BERT encoder: the folder transformers.js loads, and what `tracker site` ships.

Built from the graphs of onnx_graph (numpy and onnx only: no torch, no onnxruntime).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tracker.enrich.encoders.onnx_graph import (
    ExportError,
    encoder_graph,
    int8_slices,
    load_weights,
    plan_export,
    read_json,
    save_graph,
)
from tracker.model_files import resolve_model_dir


def browser_model(model: str, out_dir: Path) -> Path:
    """`out_dir` laid out as transformers.js loads a local model, plus the site's smaller copy; returns it.

    config.json, tokenizer.json, tokenizer_config.json (model_max_length set to the window
    sentence-transformers truncates to, so the browser's vectors match ours),
    special_tokens_map.json, onnx/model.onnx (fp32) and onnx/model_quantized.onnx (int8 weights).
    Pool with `{pooling: "mean"|"cls", normalize: true}` as `plan_export(...).pooling` says.
    site/: what `tracker site` ships: the int8 graph without its word table (input `token_vectors`),
    that table as words.bin (`write_word_table`), which the page looks up itself, and the linear
    layers' int8 weights as linear.bin (`split_linear_weights`), which the page turns into the
    float32 weights the graph reads as external data.
    """
    model_dir = resolve_model_dir(model)
    plan = plan_export(model_dir)
    out_dir = Path(out_dir)
    (out_dir / "onnx").mkdir(parents=True, exist_ok=True)
    (out_dir / "site").mkdir(exist_ok=True)
    save_graph(encoder_graph(model_dir), out_dir / "onnx" / "model.onnx")
    save_graph(encoder_graph(model_dir, int8=True), out_dir / "onnx" / "model_quantized.onnx")
    site_graph = split_linear_weights(encoder_graph(model_dir, int8=True, words_given=True), out_dir / "site")
    save_graph(site_graph, out_dir / "site" / "model.onnx")
    write_word_table(load_weights(model_dir)["embeddings.word_embeddings.weight"], out_dir / "site")
    for name in ("config.json", "tokenizer.json", "special_tokens_map.json"):
        if (model_dir / name).is_file():
            shutil.copyfile(model_dir / name, out_dir / name)
    tokenizer_config = {**read_json(model_dir / "tokenizer_config.json"), "model_max_length": plan.max_seq_length}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    return out_dir


LINEAR_DATA = "linear.f32"  # the external data file the site's graph names; the page builds it in memory


def split_linear_weights(model, out_dir: Path):
    """The graph with each int8 linear weight (a DequantizeLinear of constants) made a float32
    initializer stored as external data in LINEAR_DATA, one matrix after another; their int8 copies
    go to out_dir/linear.bin and the layout to linear.json, for the page to rebuild LINEAR_DATA.

    Why: onnxruntime-web has no fast kernel for weights dequantised per query (8-bit MatMulNBits
    fell back to unpacking every weight on every query: ~100 ms a query on a 2-core machine); with
    float32 weights in memory a query takes ~25-35 ms. The site still downloads the int8 bytes.
    linear.bin: per matrix [rows, cols], a float32 scale per column (little-endian), then the int8
    values row by row; linear.json: {"file": LINEAR_DATA, "matrices": [[rows, cols], ...]}.
    """
    from onnx import TensorProto, numpy_helper

    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    kept_nodes, matrices, blocks, offset = [], [], [], 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in constants for name in node.input):
            kept_nodes.append(node)
            continue
        values, scales, zeros = (numpy_helper.to_array(constants[name]) for name in node.input)
        if values.ndim != 2 or zeros.any():
            raise ExportError(f"unexpected int8 weight {node.input[0]!r} of shape {values.shape}")
        rows, cols = values.shape
        weight = TensorProto(name=node.output[0], data_type=TensorProto.FLOAT, dims=[rows, cols])
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", LINEAR_DATA), ("offset", offset), ("length", 4 * rows * cols)):
            weight.external_data.add(key=key, value=str(value))
        model.graph.initializer.append(weight)
        blocks.append(scales.astype("<f4").tobytes() + values.astype(np.int8).tobytes())
        matrices.append([rows, cols])
        offset += 4 * rows * cols
    used = {name for node in kept_nodes for name in node.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.node[:], model.graph.initializer[:]
    model.graph.node.extend(kept_nodes)
    model.graph.initializer.extend(kept)
    (out_dir / "linear.bin").write_bytes(b"".join(blocks))
    (out_dir / "linear.json").write_text(json.dumps({"file": LINEAR_DATA, "matrices": matrices}), encoding="utf-8")
    return model


def read_linear_weights(folder: Path) -> bytes:
    """LINEAR_DATA as the page rebuilds it from linear.bin: the float32 matrices, one after another."""
    layout = json.loads((folder / "linear.json").read_text(encoding="utf-8"))
    data, at, out = (folder / "linear.bin").read_bytes(), 0, []
    for rows, cols in layout["matrices"]:
        scales = np.frombuffer(data, dtype="<f4", count=cols, offset=at)
        values = np.frombuffer(data, dtype=np.int8, count=rows * cols, offset=at + 4 * cols).reshape(rows, cols)
        out.append((values * scales).astype("<f4").tobytes())
        at += 4 * cols + rows * cols
    return b"".join(out)


def write_word_table(table: np.ndarray, out_dir: Path) -> None:
    """The word table as the int8 graph holds it, for the page to look up (half the int8 graph's bytes,
    and none of its set-up time in onnxruntime-web): words.json {"rows", "dim"} and words.bin: one
    float32 scale per row (little-endian), then the int8 rows."""
    values, scales = int8_slices(np.asarray(table, dtype=np.float32), axis=1)
    rows, dim = values.shape
    (out_dir / "words.json").write_text(json.dumps({"rows": rows, "dim": dim}), encoding="utf-8")
    (out_dir / "words.bin").write_bytes(scales.astype("<f4").tobytes() + values.tobytes())


def read_word_table(folder: Path) -> np.ndarray:
    """The table as the page rebuilds it: [rows, dim] float32."""
    shape = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    data = (folder / "words.bin").read_bytes()
    scales = np.frombuffer(data, dtype="<f4", count=shape["rows"])
    values = np.frombuffer(data, dtype=np.int8, offset=4 * shape["rows"]).reshape(shape["rows"], shape["dim"])
    return values * scales[:, None]
