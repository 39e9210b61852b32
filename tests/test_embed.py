"""tracker.enrich.embed: text, device choice, the embedding cache (with a fake encoder) and the real fast path."""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tracker.enrich.embed import (
    DeviceChoice,
    EmbeddingCache,
    Encoder,
    choose_device,
    embed_papers,
    paper_text,
    resolve_model_dir,
    text_hash,
)
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


PAPERS = [make_paper(f"2401.{i:05d}", f"Abstract number {i} about topic {i % 3}.") for i in range(10)]


# --- text and device ------------------------------------------------------------------------


def test_paper_text_collapses_whitespace_and_tolerates_a_missing_abstract():
    assert paper_text(make_paper("1", " We  study\n\tgraphs. ", title="Graphs\n  and  trees")) == \
        "Graphs and trees. We study graphs."
    assert paper_text(make_paper("1", "", title="Only a title")) == "Only a title"
    assert paper_text(Paper(id="1", version=1, title="T", abstract=None)) == "T"  # type: ignore[arg-type]
    assert text_hash(make_paper("1", "a  b")) == text_hash(make_paper("1", "a b")) != text_hash(make_paper("1", "a c"))


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


# --- encoder base class ---------------------------------------------------------------------


def test_encode_returns_unit_float32_rows_in_input_order():
    encoder = CountingEncoder()
    texts = ["a much longer text than the others", "b", "medium text", "c", "dd", "eee"]
    vectors = encoder.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (6, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    alone = np.vstack([CountingEncoder().encode([t]) for t in texts])
    assert np.allclose(vectors, alone, atol=1e-6)  # batching by length does not reorder rows
    assert encoder.encode([]).shape == (0, 16)


# --- embedding cache ------------------------------------------------------------------------


def test_second_run_embeds_nothing_and_returns_the_same_vectors(tmp_path):
    encoder = CountingEncoder()
    first, count = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 10 and len(encoder.embedded) == 10
    again, count = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 0 and len(encoder.embedded) == 10
    assert np.array_equal(first, again)
    assert np.allclose(first, encoder.encode([paper_text(p) for p in PAPERS]), atol=1e-6)


def test_a_changed_abstract_re_embeds_only_that_paper(tmp_path):
    encoder = CountingEncoder()
    embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    changed = list(PAPERS)
    changed[3] = changed[3].with_changes(abstract="A revised abstract.", version=2)
    encoder.embedded.clear()
    vectors, count = embed_papers(changed, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 1 and encoder.embedded == [paper_text(changed[3])]
    assert np.allclose(vectors[3], encoder.encode([paper_text(changed[3])])[0], atol=1e-6)
    assert len(EmbeddingCache(tmp_path, encoder.model_name)) == 10  # replaced, not added


def test_a_model_change_uses_a_separate_namespace(tmp_path):
    first, second = CountingEncoder("model-a"), CountingEncoder("model-b")
    embed_papers(PAPERS, first, EmbeddingCache(tmp_path, "model-a"))
    _, count = embed_papers(PAPERS, second, EmbeddingCache(tmp_path, "model-b"))
    assert count == 10
    _, count = embed_papers(PAPERS, first, EmbeddingCache(tmp_path, "model-a"))
    assert count == 0  # switching back finds model-a's vectors intact
    with pytest.raises(ValueError, match="model-b"):
        embed_papers(PAPERS, second, EmbeddingCache(tmp_path, "model-a"))


def test_model_name_aliases_share_one_cache(tmp_path):
    encoder = CountingEncoder("all-MiniLM-L6-v2")
    embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, "all-MiniLM-L6-v2"))
    encoder.model_name = "sentence-transformers/all-MiniLM-L6-v2"
    _, count = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 0


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_garbage(path: Path) -> None:
    path.write_bytes(b"not a cache at all")


def _damage_vectors(path: Path) -> None:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["vectors"][2] *= -1  # valid file, wrong numbers: only the checksum can tell
    np.savez(path, **arrays)


def _damage_shape(path: Path) -> None:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["vectors"] = arrays["vectors"][:, :8]
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage", [_damage_truncate, _damage_garbage, _damage_vectors, _damage_shape])
def test_a_corrupt_cache_is_logged_and_rebuilt(tmp_path, caplog, damage):
    encoder = CountingEncoder()
    expected, _ = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    cache_file = next(tmp_path.glob("*.npz"))
    damage(cache_file)
    with caplog.at_level(logging.WARNING, logger="tracker.enrich.embed"):
        vectors, count = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 10 and np.array_equal(vectors, expected)
    assert "rebuilding" in caplog.text
    caplog.clear()
    _, count = embed_papers(PAPERS, encoder, EmbeddingCache(tmp_path, encoder.model_name))
    assert count == 0 and "rebuilding" not in caplog.text  # the rebuilt file is sound


def test_a_dim_change_under_the_same_name_rebuilds(tmp_path, caplog):
    embed_papers(PAPERS, CountingEncoder(dim=16), EmbeddingCache(tmp_path, "fake-model"))
    with caplog.at_level(logging.WARNING, logger="tracker.enrich.embed"):
        vectors, count = embed_papers(PAPERS, CountingEncoder(dim=8), EmbeddingCache(tmp_path, "fake-model"))
    assert count == 10 and vectors.shape == (10, 8) and "dim" in caplog.text


def test_cached_vectors_can_be_read_without_an_encoder(tmp_path):
    encoder = CountingEncoder()
    vectors, _ = embed_papers(PAPERS[:6], encoder, EmbeddingCache(tmp_path, encoder.model_name))
    cache = EmbeddingCache(tmp_path, encoder.model_name)
    edited = PAPERS[5].with_changes(abstract="Edited since.")
    found = cache.vectors_for([*PAPERS[:5], edited, PAPERS[7]])
    assert sorted(found) == sorted(p.id for p in PAPERS[:5])  # stale and unknown texts are left out
    assert np.array_equal(found[PAPERS[2].id], vectors[2])
    assert {pid for pid, _, _ in cache.items()} == {p.id for p in PAPERS[:6]}


def test_save_false_leaves_the_disk_alone_and_duplicates_are_embedded_once(tmp_path):
    encoder = CountingEncoder()
    vectors, count = embed_papers([PAPERS[0], PAPERS[0], PAPERS[1]], encoder,
                                  EmbeddingCache(tmp_path, encoder.model_name), save=False)
    assert count == 2 and np.array_equal(vectors[0], vectors[1]) and not list(tmp_path.iterdir())


def test_any_object_with_encode_works_as_encoder(tmp_path):
    class Plain:  # duck-typed, like the test doubles elsewhere in the suite
        model_name, dim = "plain", 4

        def encode(self, texts):
            return np.tile(np.eye(4, dtype=np.float32)[0], (len(texts), 1))

    vectors, count = embed_papers(PAPERS[:3], Plain(), EmbeddingCache(tmp_path, "plain"))
    assert count == 3 and vectors.shape == (3, 4)


# --- the real model: fast path against sentence-transformers ----------------------------------

REAL_TEXTS = [
    paper_text(make_paper("1", "", title="Helium-4 Luttinger liquids in nanopores")),  # empty abstract
    paper_text(make_paper("2", title="Spectral gaps of random regular graphs", abstract=(
        "We show that for $d \\geq 3$ the second eigenvalue satisfies $\\lambda_2(G) \\le 2\\sqrt{d-1} + "
        "\\epsilon$ with probability $1 - O(n^{-\\tau})$, where $\\tau = \\lceil (\\sqrt{d-1}+1)/2 \\rceil - 1$. "
        "Our proof uses the trace method on $\\mathrm{Tr}(A^{2k})$ and a bound on tangle-free walks."))),
    paper_text(make_paper("3", title="Über die Dynamik ultrakalter Quantengase", abstract=(
        "Wir untersuchen die Dynamik eines Bose-Einstein-Kondensats in einem optischen Gitter und zeigen, "
        "dass die Dekohärenz durch Wechselwirkungen zwischen den Atomen bestimmt wird."))),
    paper_text(make_paper("4", title="Testing web applications with learned oracles", abstract=(
        "Web application testing is an essential practice. We propose a learning-based approach that "
        "generates test verdicts from recorded executions and evaluate it on twelve open-source systems."))),
]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The fast encoder (exported once into a temp state dir) and sentence-transformers' vectors."""
    from sentence_transformers import SentenceTransformer

    from tracker.enrich.embed import load_encoder

    state_dir = tmp_path_factory.mktemp("state")
    encoder = load_encoder("all-MiniLM-L6-v2", "cpu", cache_dir=state_dir)
    exact = SentenceTransformer(str(resolve_model_dir("all-MiniLM-L6-v2")), device="cpu")
    return state_dir, encoder, exact.encode(REAL_TEXTS, normalize_embeddings=True)


@pytest.mark.model
def test_fast_path_agrees_with_sentence_transformers(real):
    _, encoder, expected = real
    assert type(encoder).__name__ == "OpenVinoEncoder" and encoder.dim == 384
    cosine = (encoder.encode(REAL_TEXTS) * expected).sum(axis=1)
    assert cosine.min() >= 0.99, cosine
    single = np.vstack([encoder.encode([text]) for text in REAL_TEXTS])  # each text alone: no padding
    assert (single * encoder.encode(REAL_TEXTS)).sum(axis=1).min() >= 0.999


@pytest.mark.model
def test_query_encoder_starts_without_torch_and_shares_the_space(real):
    state_dir, encoder, expected = real
    code = ("import sys, numpy as np; from pathlib import Path; from tracker.enrich.embed import load_query_encoder; "
            f"v = load_query_encoder('all-MiniLM-L6-v2', cache_dir=Path({str(state_dir)!r})).encode({REAL_TEXTS!r}); "
            "sys.stdout.buffer.write(v.tobytes()); "
            "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules and 'nncf' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True).stdout
    vectors = np.frombuffer(out, dtype=np.float32).reshape(len(REAL_TEXTS), -1)
    # the fp32 graph of the same export: the documents' space, and closer still to the model
    assert (vectors * encoder.encode(REAL_TEXTS)).sum(axis=1).min() >= 0.98
    assert (vectors * expected).sum(axis=1).min() >= 0.999


@pytest.mark.model
def test_a_damaged_or_stale_export_is_not_used(real, tmp_path):
    from tracker.enrich.encoders.openvino import MODEL_FILE, WEIGHTS_FILE, find_export

    state_dir, _, _ = real
    model_dir = resolve_model_dir("all-MiniLM-L6-v2")
    folder = _export_folder(state_dir)
    assert find_export(model_dir, folder) is not None

    for name in (WEIGHTS_FILE, MODEL_FILE):
        copy = shutil.copytree(folder, tmp_path / f"export-{name}")
        data = (copy / name).read_bytes()
        (copy / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit off
        assert find_export(model_dir, copy) is None
        (copy / name).write_bytes(data[: len(data) // 2])
        assert find_export(model_dir, copy) is None

    other_model = shutil.copytree(model_dir, tmp_path / "model", ignore=shutil.ignore_patterns("*.safetensors"))
    (other_model / "config.json").write_text((model_dir / "config.json").read_text() + "\n")
    assert find_export(other_model, folder) is None  # another model's export is not reused


@pytest.mark.model
def test_a_corrupt_export_is_rebuilt(real, tmp_path):
    from tracker.enrich.encoders.openvino import COMPILED_DIR, WEIGHTS_FILE, find_export, open_or_export

    state_dir, encoder, expected = real
    model_dir = resolve_model_dir("all-MiniLM-L6-v2")
    copy = shutil.copytree(_export_folder(state_dir), tmp_path / "export")
    blobs = list((copy / COMPILED_DIR).iterdir())
    assert blobs  # loading the encoder filled OpenVINO's compiled-model cache
    for blob in blobs:  # a damaged blob is recompiled, not trusted
        blob.chmod(0o644)
        blob.write_bytes(b"\0" * 100)
    assert np.allclose(open_or_export("all-MiniLM-L6-v2", model_dir, copy, allow_export=False)
                       .encode(REAL_TEXTS), encoder.encode(REAL_TEXTS), atol=1e-5)
    (copy / WEIGHTS_FILE).write_bytes(b"\0" * 100)
    rebuilt = open_or_export("all-MiniLM-L6-v2", model_dir, copy)
    assert rebuilt is not None and find_export(model_dir, copy) is not None
    cosine = (rebuilt.encode(REAL_TEXTS) * encoder.encode(REAL_TEXTS)).sum(axis=1)
    assert cosine.min() > 0.9999  # the recipe is deterministic


def _export_folder(state_dir: Path) -> Path:
    return next(p for p in (state_dir / "models").iterdir() if p.name.endswith("-openvino"))
