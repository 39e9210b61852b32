"""tracker.enrich.encoders.onnx_graph: BERT as an ONNX graph from safetensors (no torch), run by OpenVINO,
and the browser's transformers.js folder. Tiny random BERTs (tests/tiny_bert.py) for the mechanics;
sentence-transformers, where installed, as the reference."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_bert import bert_tensors, write_tiny_bert
from tracker.enrich.encoders import onnx_graph
from tracker.enrich.encoders.browser import LINEAR_DATA, browser_model, read_linear_weights, read_word_table
from tracker.enrich.encoders.onnx_graph import ExportError, encoder_graph, save_graph
from tracker.enrich.encoders.openvino import compile_model, feed, tokenizer

INPUTS = list(onnx_graph.INPUTS)
HOSTILE = [
    "",
    "Attention is all you need.",
    "Ünïcödé ✓ 🚀 数学 العربية \u200b\u202e<script>alert(1)</script> **bold** [x](javascript:1)",
    "We prove $\\lambda_2 \\le 2\\sqrt{d-1}$. " * 400,  # far past the token window: truncated
]


def run_graph(model, path: Path, folder: Path, texts: list[str], max_length: int = 64) -> np.ndarray:
    save_graph(model, path)
    compiled = compile_model(path)
    return np.array(compiled(feed(tokenizer(folder, max_length), texts, INPUTS))[0], dtype=np.float32)


def mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


@pytest.mark.parametrize("activation, pooling, prefix", [
    ("gelu", "mean", ""), ("gelu_new", "cls", "bert."), ("relu", "mean", "bert."),
])
def test_graph_reproduces_sentence_transformers(tmp_path, activation, pooling, prefix):
    SentenceTransformer = pytest.importorskip("sentence_transformers").SentenceTransformer
    folder = write_tiny_bert(tmp_path / "m", activation=activation, pooling=pooling, prefix=prefix, seed=3)
    graph = encoder_graph(folder, pooling=pooling)
    got = run_graph(graph, tmp_path / "m.onnx", folder, HOSTILE)
    exact = SentenceTransformer(str(folder), device="cpu").encode(HOSTILE, normalize_embeddings=True)
    assert np.allclose(got, exact, atol=2e-5), np.abs(got - exact).max()


def test_vectors_do_not_depend_on_padding_or_batch_mates(tiny, tmp_path):
    """The attention mask and mean pooling ignore padding: a text alone equals the text in a padded batch."""
    graph = encoder_graph(tiny, pooling="mean")
    batched = run_graph(graph, tmp_path / "g.onnx", tiny, HOSTILE)
    alone = np.vstack([run_graph(graph, tmp_path / "g.onnx", tiny, [text]) for text in HOSTILE])
    assert batched.shape == (len(HOSTILE), 32) and np.allclose(np.linalg.norm(batched, axis=1), 1, atol=1e-5)
    assert np.allclose(batched, alone, atol=1e-5)
    assert (batched @ batched.T)[1, 2] < 0.999  # different texts, different vectors


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.joinpath("config.json").write_text(json.dumps({**json.loads(f.joinpath("config.json").read_text()),
                                                                "model_type": "roberta"})), "model_type 'roberta'"),
    (lambda f: f.joinpath("config.json").write_text(json.dumps({**json.loads(f.joinpath("config.json").read_text()),
                                                                "position_embedding_type": "relative_key"})),
     "position_embedding_type"),
    (lambda f: f.joinpath("config.json").write_text(json.dumps({**json.loads(f.joinpath("config.json").read_text()),
                                                                "hidden_act": "swish"})), "hidden_act 'swish'"),
    (lambda f: f.joinpath("config.json").write_text("{not json"), "config.json"),
    (lambda f: f.joinpath("model.safetensors").unlink(), "no model.safetensors"),
    (lambda f: f.joinpath("model.safetensors").write_bytes(b"\xff" * 64), "cannot read model.safetensors"),
])
def test_what_the_builder_does_not_cover_is_one_clear_error(tmp_path, damage, message):
    folder = write_tiny_bert(tmp_path / "m")
    damage(folder)
    with pytest.raises(ExportError, match=message):
        encoder_graph(folder)


def test_a_checkpoint_missing_a_layer_names_the_tensor(tmp_path):
    from safetensors.numpy import save_file

    folder = write_tiny_bert(tmp_path / "m")
    tensors = bert_tensors(30522, 32, 2, 64, 128, seed=0)
    del tensors["encoder.layer.1.attention.self.key.weight"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ExportError, match=r"no tensor 'encoder\.layer\.1\.attention\.self\.key\.weight'"):
        encoder_graph(folder)


def test_browser_model_is_the_transformers_js_layout_with_an_int8_copy(tiny, tmp_path):
    import onnx

    out = browser_model(str(tiny), tmp_path / "site-model")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "config.json", "onnx/model.onnx", "onnx/model_quantized.onnx", "site/linear.bin", "site/linear.json",
        "site/model.onnx", "site/words.bin", "site/words.json", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json"]
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == 64  # ST's window, not 512
    full = onnx.load(str(out / "onnx" / "model.onnx"))
    assert [i.name for i in full.graph.input] == INPUTS and [o.name for o in full.graph.output] == ["last_hidden_state"]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in full.graph.input]
    assert dims == [["batch", "sequence"]] * 3 and full.opset_import[0].version >= 17
    quantised = out / "onnx" / "model_quantized.onnx"
    assert quantised.stat().st_size < 0.35 * (out / "onnx" / "model.onnx").stat().st_size
    onnx.checker.check_model(str(quantised))

    inputs = feed(tokenizer(out, 64), HOSTILE, INPUTS)
    hidden = {name: np.array(compile_model(out / "onnx" / name)(inputs)[0])
              for name in ("model.onnx", "model_quantized.onnx")}
    assert hidden["model.onnx"].shape == (len(HOSTILE), inputs["input_ids"].shape[1], 32)
    pooled = {name: mean_pooled(h, inputs["attention_mask"]) for name, h in hidden.items()}
    # what transformers.js computes with {pooling: "mean", normalize: true} is our CPU vector
    ours = run_graph(encoder_graph(tiny, pooling="mean"), tmp_path / "p.onnx", tiny, HOSTILE)
    assert np.allclose(pooled["model.onnx"], ours, atol=1e-5)
    assert (pooled["model_quantized.onnx"] * ours).sum(axis=1).min() > 0.98
    site = site_vectors(out, inputs, tmp_path / "page")  # the int8 graph's numbers, as the page runs them
    assert np.allclose(site, pooled["model_quantized.onnx"], atol=1e-5)


def page_folder(out: Path, folder: Path) -> Path:
    """The site's graph beside the float32 weights the page builds from linear.bin (its external data)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "site" / "model.onnx", folder / "model.onnx")
    (folder / LINEAR_DATA).write_bytes(read_linear_weights(out / "site"))
    return folder / "model.onnx"


def site_vectors(out: Path, inputs: dict, folder: Path) -> np.ndarray:
    """What the page computes: word rows from words.bin, the rest by the site's graph, mean-pooled."""
    words = read_word_table(out / "site")
    given = {"token_vectors": words[inputs["input_ids"]], **{k: v for k, v in inputs.items() if k != "input_ids"}}
    hidden = np.array(compile_model(page_folder(out, folder))(given)[0])
    return mean_pooled(hidden, inputs["attention_mask"])


def test_the_site_graph_holds_no_int8_weight_and_onnxruntime_runs_it_as_the_page_does(tiny, tmp_path):
    """onnxruntime(-web) unpacks int8 weights on every query (~100 ms a query in the browser): the site's
    graph reads float32 weights, which the page rebuilds from linear.bin (a quarter of their bytes)."""
    onnxruntime = pytest.importorskip("onnxruntime")
    import onnx

    out = browser_model(str(tiny), tmp_path / "site-model")
    graph = onnx.load(str(out / "site" / "model.onnx"), load_external_data=False).graph
    assert not {"DequantizeLinear", "MatMulNBits", "MatMulInteger"} & {node.op_type for node in graph.node}
    external = [t for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    layout = json.loads((out / "site" / "linear.json").read_text())
    assert [list(t.dims) for t in external] == layout["matrices"] and len(external) == 6 * 2  # 2 layers x 6
    assert (out / "site" / "linear.bin").stat().st_size < 0.3 * len(read_linear_weights(out / "site"))
    inputs = feed(tokenizer(out, 64), HOSTILE, INPUTS)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # as the page
    session = onnxruntime.InferenceSession(str(page_folder(out, tmp_path / "ort")), options,
                                           providers=["CPUExecutionProvider"])
    words = read_word_table(out / "site")
    given = {"token_vectors": words[inputs["input_ids"]], **{k: v for k, v in inputs.items() if k != "input_ids"}}
    hidden = session.run(None, {i.name: given[i.name] for i in session.get_inputs()})[0]
    assert np.allclose(mean_pooled(hidden, inputs["attention_mask"]), site_vectors(out, inputs, tmp_path / "ov"),
                       atol=1e-5)


def test_another_model_without_sentence_transformers_is_one_clear_error(tmp_path, monkeypatch):
    from tracker.enrich.encoders import load_encoder
    from tracker.errors import TrackerError

    folder = write_tiny_bert(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "mpnet"}))
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(TrackerError, match=r"model_type 'mpnet' is not supported.*pip install 'paper-tracker\[gpu\]'"):
        load_encoder(str(folder), device="cpu")


@pytest.mark.model
def test_the_browser_graphs_of_the_bundled_model_agree_with_sentence_transformers(tmp_path):
    from tests.test_embed import REFERENCE

    recorded = json.loads(REFERENCE.read_text(encoding="utf-8"))  # sentence-transformers' own vectors
    exact = np.array(recorded["vectors"], dtype=np.float32)
    out = browser_model("all-MiniLM-L6-v2", tmp_path / "site")
    inputs = feed(tokenizer(out, 256), recorded["texts"], INPUTS)
    for name, floor in (("model.onnx", 0.9999), ("model_quantized.onnx", 0.99)):
        hidden = np.array(compile_model(out / "onnx" / name)(inputs)[0])
        cosine = (mean_pooled(hidden, inputs["attention_mask"]) * exact).sum(axis=1)
        assert cosine.min() >= floor, (name, cosine)
    cosine = (site_vectors(out, inputs, tmp_path / "page") * exact).sum(axis=1)
    assert cosine.min() >= 0.99, cosine


def test_a_window_longer_than_the_position_table_is_cut_to_it(tmp_path):
    """A config asking for 1,000 tokens of a 128-position model: long texts still encode (no index overflow)."""
    folder = write_tiny_bert(tmp_path / "m", max_seq_length=1000)
    assert onnx_graph.plan_export(folder).max_seq_length == 128
    vectors = run_graph(encoder_graph(folder, pooling="mean"), tmp_path / "g.onnx", folder, HOSTILE[-1:], 128)
    assert np.isfinite(vectors).all() and np.allclose(np.linalg.norm(vectors), 1, atol=1e-5)
