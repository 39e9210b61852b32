"""tracker.enrich.embed and tracker.enrich.encoders: the text, device choice, the base class, and the
OpenVINO export (a tiny real model for the export's mechanics; the bundled model, exported once per
session, for agreement with sentence-transformers)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_bert import write_tiny_bert
from tracker.enrich.embed import embed_text, text_hash
from tracker.enrich.encoders import DeviceChoice, Encoder, choose_device
from tracker.model_files import resolve_model_dir
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
    """embed.py does not import the encoders, the encoders do not import embed.py; onnxruntime runs nothing of ours."""
    import tomllib

    for code in ("import sys, tracker.enrich.embed; assert 'tracker.enrich.encoders' not in sys.modules",
                 "import sys, tracker.enrich.encoders.export, tracker.enrich.encoders.sentence_transformer; "
                 "assert not {'tracker.enrich.embed', 'openvino', 'torch'} & set(sys.modules)"):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    assert not (ROOT / "tracker" / "enrich" / "encoders" / "onnx.py").exists()
    # onnx builds graphs; OpenVINO runs them; onnxruntime only checks the site's graph in the tests
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith("onnxruntime")]
    assert {name for name, deps in project["optional-dependencies"].items()
            if any(dep.startswith("onnxruntime") for dep in deps)} <= {"dev"}


# --- the export's mechanics, on a tiny real model ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer, 32-d random BERT saved as a sentence-transformers folder (numpy only): exports in seconds."""
    return write_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


def _load_in_process(model: Path, cache: Path, home: Path) -> subprocess.Popen:
    """`load_encoder` of `model` in a fresh process with its own cache root and HOME, torch and
    sentence-transformers unimportable (as on a CPU-only install); prints a JSON summary."""
    code = textwrap.dedent(f"""
        import json, logging, sys
        sys.modules.update(torch=None, transformers=None, sentence_transformers=None)
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        from tracker.enrich.encoders import load_encoder
        encoder = load_encoder({str(model)!r}, device="cpu")
        print(json.dumps({{"kind": type(encoder).__name__, "folder": str(getattr(encoder, "folder", "")),
                           "vector": encoder.encode(["graph neural networks"])[0].tolist()}}))
    """)
    env = {**os.environ, "TRACKER_CACHE_DIR": str(cache), "HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> tuple[dict, str]:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-2000:]
    return json.loads(out), err


@pytest.fixture(scope="module")
def tiny_export(tiny_model, tmp_path_factory):
    """Two processes load the tiny model at once into one empty per-user cache (with an empty HOME)."""
    cache, home = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("home")
    started = [_load_in_process(tiny_model, cache, home) for _ in range(2)]
    return cache, home, [_finish(process) for process in started]


def test_export_is_shared_per_user_built_once_by_two_processes_and_writes_nothing_to_home(tiny_model, tiny_export):
    cache, home, results = tiny_export
    (first, first_log), (second, second_log) = results
    assert first["kind"] == second["kind"] == "OpenVinoEncoder"
    assert first["folder"] == second["folder"] and Path(first["folder"]).parent == cache / "models"
    assert (first_log + second_log).count("exported ") == 1, first_log + second_log  # the other waited, reused it
    # the one that prepared it said so, and that it happens once; the one that waited did not
    assert (first_log + second_log).count(f"preparing the embedding model {tiny_model} for this CPU (once per user") == 1
    assert (first_log + second_log).count("embedding model ready in") == 1
    assert np.allclose(first["vector"], second["vector"], atol=1e-6)
    assert [p.name for p in (cache / "models").iterdir() if not p.name.endswith(".lock")] == \
        [Path(first["folder"]).name]  # no temp folders left behind
    assert not list(home.iterdir())  # no ~/intel: OpenVINO's and NNCF's telemetry stayed off


def test_a_damaged_or_stale_export_is_found_out_and_rebuilt(tiny_model, tiny_export, tmp_path, monkeypatch):
    from tracker.enrich.encoders import export

    cache, home, [(first, _), _] = tiny_export
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(cache))
    folder = export.export_folder(tiny_model)
    assert str(folder) == first["folder"] and export.find_export(tiny_model, folder) is not None
    for name in export.FILES:
        copy = shutil.copytree(folder, tmp_path / f"copy-{name}")
        data = (copy / name).read_bytes()
        (copy / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit off
        assert export.find_export(tiny_model, copy) is None
        (copy / name).write_bytes(data[: len(data) // 2])
        assert export.find_export(tiny_model, copy) is None
    other = shutil.copytree(tiny_model, tmp_path / "retrained")
    (other / "config_sentence_transformers.json").write_text("{}")
    assert export.export_folder(other) != folder and export.find_export(other, folder) is None

    for blob in (folder / "compiled").iterdir():  # OpenVINO's compiled-model cache: damage is recompiled
        blob.write_bytes(b"\0" * 100)
    again, log = _finish(_load_in_process(tiny_model, cache, home))
    assert "exported " not in log and np.allclose(again["vector"], first["vector"], atol=1e-5)
    (folder / export.WEIGHTS_FILE).write_bytes(b"\0" * 100)  # a damaged export is rebuilt, then used
    rebuilt, log = _finish(_load_in_process(tiny_model, cache, home))
    assert "rebuilding" in log and "exported " in log and rebuilt["kind"] == "OpenVinoEncoder"
    assert np.allclose(rebuilt["vector"], first["vector"], atol=1e-5)  # the recipe is deterministic


def test_an_unwritable_cache_falls_back_to_sentence_transformers(tiny_model, tmp_path, monkeypatch, caplog):
    pytest.importorskip("sentence_transformers")
    from tracker.enrich.encoders import load_encoder

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TRACKER_CACHE_DIR", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="tracker.enrich.encoders"):
        encoder = load_encoder(str(tiny_model), device="cpu")
    assert type(encoder).__name__ == "SentenceTransformerEncoder" and "OpenVINO path" in caplog.text
    assert encoder.encode(["a text"]).shape == (1, 32)


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


REFERENCE = ROOT / "tests" / "fixtures" / "minilm-reference.json"


@pytest.fixture(scope="module")
def exact_vectors():
    """sentence-transformers' vectors of REAL_TEXTS, recorded (so the CPU path is checked without torch)."""
    recorded = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert recorded["texts"] == REAL_TEXTS, "REAL_TEXTS changed: re-record with test_the_recorded_reference_is_current"
    return np.array(recorded["vectors"], dtype=np.float32)


@pytest.mark.model
def test_the_recorded_reference_is_what_sentence_transformers_computes(exact_vectors):
    SentenceTransformer = pytest.importorskip("sentence_transformers").SentenceTransformer
    live = SentenceTransformer(str(resolve_model_dir("all-MiniLM-L6-v2")), device="cpu").encode(
        REAL_TEXTS, normalize_embeddings=True)
    assert np.allclose(live, exact_vectors, atol=1e-5)


@pytest.mark.model
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_cpu_path_agrees_with_sentence_transformers(real_encoder, exact_vectors, model_cache_dir, monkeypatch,
                                                     precision):
    from tracker.enrich.encoders import load_encoder
    from tracker.enrich.encoders.openvino import int8_pays

    monkeypatch.setenv("TRACKER_CPU_PRECISION", precision)  # the documented override of the CPU's choice
    assert int8_pays() is (precision == "int8")
    encoder = load_encoder("all-MiniLM-L6-v2", device="cpu")
    assert type(encoder).__name__ == "OpenVinoEncoder" and encoder.dim == 384 and encoder.precision == precision
    assert encoder.folder == real_encoder.folder and encoder.folder.parent == model_cache_dir / "models"
    cosine = (encoder.encode(REAL_TEXTS) * exact_vectors).sum(axis=1)
    assert cosine.min() >= (0.99 if precision == "int8" else 0.9999), cosine
    single = np.vstack([encoder.encode([text]) for text in REAL_TEXTS])  # each text alone: no padding
    assert (single * encoder.encode(REAL_TEXTS)).sum(axis=1).min() >= 0.999


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


def test_model_file_digest_reads_every_chunk_of_a_big_file(tmp_path):
    """The export cache checks model files by digest (hashlib.file_digest is Python 3.11+, so the file
    is read in chunks): a byte changed past the first chunk must change the digest."""
    from tracker.enrich.encoders.export import file_digest

    data = bytearray(os.urandom(3 * (1 << 20) + 7))
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    before = file_digest(path)
    assert before == hashlib.blake2b(bytes(data)).hexdigest()
    data[-3] ^= 0xFF
    path.write_bytes(data)
    assert file_digest(path) != before
