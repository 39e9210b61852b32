"""BERT-family sentence encoders as ONNX graphs, built from `model.safetensors` with numpy: no torch.

One graph serves both runtimes:
- the CPU path (export.py): `encoder_graph(model_dir, pooling="mean")` adds the model's pooling and
  L2 normalisation, output `sentence_embedding` [batch, hidden]; OpenVINO reads the ONNX directly.
- the browser (site, transformers.js): browser.py writes the folder layout transformers.js loads
  as a local model, graphs with output `last_hidden_state` [batch, seq, hidden] (it pools
  itself), in fp32 and int8 (`onnx/model_quantized.onnx`, weights per column), and the site's copy.

The graph is BERT's encoder written out op by op (opset 17): word + position + token-type
embeddings, LayerNorm, then per layer multi-head self-attention and a GELU feed-forward block,
each followed by a residual LayerNorm. Dimensions come from the model's config.json. Supported:
`model_type: bert` with absolute positions (MiniLM, BERT, BGE, E5...). Other architectures raise
ExportError and run on sentence-transformers where installed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

OPSET = 17  # LayerNormalization; read by OpenVINO and onnxruntime-web alike
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
TOKEN_VECTORS = "token_vectors"  # the browser graph's first input: word embeddings looked up by the page
MASKED = -10000.0  # added to attention scores of padding: exp() underflows to 0, yet stays quantisable
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


class ExportError(Exception):
    """The model cannot take the ONNX/OpenVINO path (unsupported layout or a failed export)."""


@dataclass(frozen=True)
class ExportPlan:
    """How sentence-transformers turns the model's tokens into one vector."""

    pooling: str  # "mean" or "cls"
    max_seq_length: int


@dataclass(frozen=True)
class BertShape:
    layers: int
    hidden: int
    heads: int
    eps: float
    activation: str


# --- reading the model ---------------------------------------------------------------------------


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


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
        length = max_seq_length(model_dir)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ExportError(f"cannot read the sentence-transformers config: {exc}") from exc
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True]
    if isinstance(pooling.get("pooling_mode"), str):
        modes.append(f"pooling_mode_{pooling['pooling_mode']}")
    known = {
        "pooling_mode_mean_tokens": "mean",
        "pooling_mode_mean": "mean",
        "pooling_mode_cls_token": "cls",
        "pooling_mode_cls": "cls",
    }
    mode = known.get(modes[0]) if len(modes) == 1 else None
    if mode is None:
        raise ExportError(f"pooling {modes} is not supported (only mean or cls)")
    if not (model_dir / "tokenizer.json").is_file():
        raise ExportError("the model has no tokenizer.json (a fast tokenizer is needed)")
    return ExportPlan(pooling=mode, max_seq_length=length)


def max_seq_length(model_dir: Path) -> int:
    """The token window sentence-transformers truncates to (never past the model's position table)."""
    positions = read_json(model_dir / "config.json").get("max_position_embeddings")
    positions = positions if isinstance(positions, int) and positions > 0 else 512
    for value in (
        read_json(model_dir / "sentence_bert_config.json").get("max_seq_length"),
        read_json(model_dir / "tokenizer_config.json").get("model_max_length"),
    ):
        if isinstance(value, int) and 0 < value < 100_000:  # tokenizers say "unlimited" with a huge number
            return min(value, positions)
    return positions


def bert_shape(model_dir: Path) -> BertShape:
    """The encoder's dimensions from config.json; ExportError for what this builder does not cover."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        shape = BertShape(
            layers=int(config["num_hidden_layers"]),
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
            activation=str(config.get("hidden_act", "gelu")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"cannot read the model's config.json: {exc}") from exc
    if config.get("model_type") != "bert":
        raise ExportError(f"model_type {config.get('model_type')!r} is not supported (only bert)")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ExportError(f"position_embedding_type {config['position_embedding_type']!r} is not supported")
    if shape.activation not in ACTIVATIONS or shape.hidden % shape.heads:
        raise ExportError(f"hidden_act {shape.activation!r} with {shape.hidden}/{shape.heads} heads is not supported")
    return shape


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The encoder's float32 tensors by BertModel name ("bert." prefixes of task checkpoints dropped)."""
    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise ExportError("the model has no model.safetensors")
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for damaged headers
        raise ExportError(f"cannot read {path.name}: {exc}") from exc
    return {
        name.removeprefix("bert."): value.astype(np.float32, copy=False)
        for name, value in tensors.items()
        if value.dtype.kind == "f"
    }


# --- building the graph --------------------------------------------------------------------------


class _Graph:
    """Collects nodes and initialisers; each `op` returns the name of its one output."""

    def __init__(self, weights: dict[str, np.ndarray], int8: bool):
        self.weights, self.int8 = weights, int8
        self.nodes: list = []
        self.initializers: list = []

    def const(self, value, dtype=np.float32) -> str:
        from onnx import numpy_helper

        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        from onnx import helper

        output = f"{op_type.lower()}{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def weight(self, name: str) -> np.ndarray:
        if name not in self.weights:
            raise ExportError(f"model.safetensors has no tensor {name!r} (not a BERT encoder?)")
        return self.weights[name]

    def linear(self, x: str, prefix: str) -> str:
        """x @ W.T + b of a torch Linear; int8 stores W per output column with a float scale."""
        matrix = self.weight(f"{prefix}.weight").T
        if self.int8:
            values, scales = int8_slices(matrix, axis=0)
            zeros = np.zeros_like(scales, dtype=np.int8)
            matrix_name = self.op(
                "DequantizeLinear", self.const(values, np.int8), self.const(scales), self.const(zeros, np.int8), axis=1
            )
        else:
            matrix_name = self.const(matrix)
        return self.op("Add", self.op("MatMul", x, matrix_name), self.const(self.weight(f"{prefix}.bias")))

    def lookup(self, table_name: str, ids: str) -> str:
        """Rows of an embedding table; int8 gathers int8 rows and their scales (never the whole table)."""
        table = self.weight(table_name)
        if not self.int8:
            return self.op("Gather", self.const(table), ids)
        values, scales = int8_slices(table, axis=1)
        rows = self.op("Cast", self.op("Gather", self.const(values, np.int8), ids), to=1)  # 1 = FLOAT
        return self.op("Mul", rows, self.op("Gather", self.const(scales[:, None]), ids))

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.const(self.weight(f"{prefix}.weight")),
            self.const(self.weight(f"{prefix}.bias")),
            axis=-1,
            epsilon=eps,
        )


def int8_slices(matrix: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 values and one float scale per slice along the other axis (max |w| -> 127)."""
    scales = np.abs(matrix).max(axis=axis) / 127.0
    scales = np.where(scales == 0, 1.0, scales).astype(np.float32)
    scaled = matrix / (scales[None, :] if axis == 0 else scales[:, None])
    return np.clip(np.rint(scaled), -127, 127).astype(np.int8), scales


def _activation(g: _Graph, x: str, kind: str) -> str:
    if kind == "relu":
        return g.op("Relu", x)
    if kind == "gelu":  # exact: x/2 * (1 + erf(x / sqrt 2)); OpenVINO fuses it into one Gelu
        erf = g.op("Erf", g.op("Div", x, g.const(np.sqrt(2.0))))
        return g.op("Mul", g.op("Mul", x, g.const(0.5)), g.op("Add", erf, g.const(1.0)))
    cube = g.op("Mul", g.op("Mul", x, x), x)  # tanh approximation (gelu_new)
    inner = g.op("Mul", g.op("Add", x, g.op("Mul", cube, g.const(0.044715))), g.const(np.sqrt(2 / np.pi)))
    return g.op("Mul", g.op("Mul", x, g.const(0.5)), g.op("Add", g.op("Tanh", inner), g.const(1.0)))


def _embeddings(g: _Graph, shape: BertShape, words_given: bool) -> str:
    """Word + token-type + position embeddings, LayerNorm; `words_given`: the word vectors are an input."""
    first = TOKEN_VECTORS if words_given else "input_ids"
    length = g.op("Gather", g.op("Shape", first), g.const(1, np.int64))
    positions = g.op("Range", g.const(0, np.int64), length, g.const(1, np.int64))
    words = first if words_given else g.lookup("embeddings.word_embeddings.weight", "input_ids")
    summed = g.op(
        "Add",
        g.op("Add", words, g.lookup("embeddings.token_type_embeddings.weight", "token_type_ids")),
        g.lookup("embeddings.position_embeddings.weight", positions),
    )
    return g.layer_norm(summed, "embeddings.LayerNorm", shape.eps)


def _attention(g: _Graph, x: str, prefix: str, shape: BertShape, mask_bias: str) -> str:
    """Multi-head self-attention: [batch, seq, hidden] -> [batch, seq, hidden]."""
    head = shape.hidden // shape.heads
    split = g.const([0, 0, shape.heads, head], np.int64)  # 0 keeps batch and seq as they are

    def heads(name: str, perm: list[int]) -> str:
        return g.op("Transpose", g.op("Reshape", g.linear(x, f"{prefix}.self.{name}"), split), perm=perm)

    scores = g.op("MatMul", heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1]))
    scores = g.op("Add", g.op("Mul", scores, g.const(1 / np.sqrt(head))), mask_bias)
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), heads("value", [0, 2, 1, 3]))
    merged = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), g.const([0, 0, shape.hidden], np.int64))
    return g.layer_norm(
        g.op("Add", g.linear(merged, f"{prefix}.output.dense"), x), f"{prefix}.output.LayerNorm", shape.eps
    )


def _layer(g: _Graph, x: str, number: int, shape: BertShape, mask_bias: str) -> str:
    prefix = f"encoder.layer.{number}"
    attended = _attention(g, x, f"{prefix}.attention", shape, mask_bias)
    inner = _activation(g, g.linear(attended, f"{prefix}.intermediate.dense"), shape.activation)
    return g.layer_norm(
        g.op("Add", g.linear(inner, f"{prefix}.output.dense"), attended), f"{prefix}.output.LayerNorm", shape.eps
    )


def _pool_and_normalise(g: _Graph, tokens: str, mask: str, pooling: str) -> str:
    """sentence-transformers' Pooling (mean over real tokens, or CLS) and Normalize: [batch, hidden]."""
    if pooling == "cls":
        pooled = g.op("Gather", tokens, g.const(0, np.int64), axis=1)
    else:
        weights = g.op("Unsqueeze", mask, g.const([2], np.int64))  # [batch, seq, 1]
        total = g.op("ReduceSum", g.op("Mul", tokens, weights), g.const([1], np.int64), keepdims=0)
        count = g.op("ReduceSum", weights, g.const([1], np.int64), keepdims=0)
        pooled = g.op("Div", total, g.op("Max", count, g.const(1e-9)))
    norm = g.op("ReduceL2", pooled, axes=[-1], keepdims=1)
    return g.op("Div", pooled, g.op("Max", norm, g.const(1e-12)))


def encoder_graph(model_dir: Path, *, pooling: str | None = None, int8: bool = False, words_given: bool = False):
    """The model as an onnx.ModelProto: `last_hidden_state`, or with `pooling` the unit `sentence_embedding`.

    `words_given`: the first input is `token_vectors` [batch, sequence, hidden] (the word embeddings,
    looked up by the caller) instead of `input_ids`; the graph then holds no word table.
    """
    from onnx import TensorProto, checker, helper

    model_dir = Path(model_dir)
    shape = bert_shape(model_dir)
    g = _Graph(load_weights(model_dir), int8)
    mask = g.op("Cast", "attention_mask", to=1)  # 1 = FLOAT
    unattended = g.op("Sub", g.const(1.0), g.op("Unsqueeze", mask, g.const([1, 2], np.int64)))
    mask_bias = g.op("Mul", unattended, g.const(MASKED))  # [batch, 1, 1, seq]: 0 for tokens, MASKED for padding
    x = _embeddings(g, shape, words_given)
    for number in range(shape.layers):
        x = _layer(g, x, number, shape, mask_bias)
    dims: list[str | int]
    if pooling is None:
        name, dims = "last_hidden_state", ["batch", "sequence", shape.hidden]
    else:
        name, dims = "sentence_embedding", ["batch", shape.hidden]
        x = _pool_and_normalise(g, x, mask, pooling)
    g.nodes.append(helper.make_node("Identity", [x], [name]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in INPUTS]
    if words_given:
        inputs[0] = helper.make_tensor_value_info(TOKEN_VECTORS, TensorProto.FLOAT, ["batch", "sequence", shape.hidden])
    graph = helper.make_graph(
        g.nodes,
        "sentence_encoder",
        inputs,
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="paper-tracker")
    model.ir_version = 8  # readable by onnxruntime >= 1.10 (transformers.js) and OpenVINO
    checker.check_model(model)
    return model


def save_graph(model, path: Path) -> Path:
    """Write an ONNX model to `path` atomically (temp file beside it, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(model.SerializeToString())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
