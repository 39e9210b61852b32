"""Embedding throughput: the project's CPU encoder against plain sentence-transformers.

Baseline: `SentenceTransformer(model).encode(texts)` (its defaults: batch 32, torch fp32).
Ours: `tracker.enrich.encoders.load_encoder(model, device="cpu")` (the ONNX graph built from
model.safetensors without torch, run by OpenVINO, int8 or fp32 as the CPU suits: see tracker/enrich/encoders/openvino.py; TRACKER_CPU_PRECISION forces one), exported into a fresh temp cache (TRACKER_CACHE_DIR) so the
one-time export is timed too. Texts are `tracker.enrich.embed.embed_text` of each paper.
Texts: realistic abstracts (150-300 words) recombined deterministically from the sentences of
the real arXiv abstracts in the shared fixtures. The two encoders take turns on chunks of
the same texts, so load from other processes on a shared machine hits both alike.

Run: python benchmarks/embed.py [--n 2000] [--chunk 250] [--cache DIR]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.enrich.embed import embed_text  # noqa: E402
from tracker.models import Paper  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures" / "arxiv-api"
ATOM = "{http://www.w3.org/2005/Atom}"


def real_abstracts() -> list[tuple[str, str]]:
    """(title, abstract) of every distinct real paper in the recorded API responses."""
    found = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for entry in ET.parse(path).getroot().iter(f"{ATOM}entry"):
            title = " ".join((entry.findtext(f"{ATOM}title") or "").split())
            abstract = " ".join((entry.findtext(f"{ATOM}summary") or "").split())
            if title and title != "Error" and len(abstract.split()) > 40:
                found[title] = abstract
    return sorted(found.items())


def synthetic_papers(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (title, abstract) pairs, abstracts of 150-300 words: a real abstract's sentences, topped up from others."""
    papers = real_abstracts()
    split = lambda text: [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 4]  # noqa: E731
    pool = [sentence for _, abstract in papers for sentence in split(abstract)]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        title, abstract = rng.choice(papers)
        sentences, target = split(abstract), rng.randint(150, 300)
        rng.shuffle(sentences)
        words: list[str] = []
        while len(words) < target:
            words += (sentences.pop() if sentences else rng.choice(pool)).split()
        out.append((title, " ".join(words[:target])))
    return out


def synthetic_abstracts(n: int, seed: int = 0) -> list[str]:
    """The embedded texts of `synthetic_papers`, as production builds them."""
    return [embed_text(Paper(id="0", version=1, title=t, abstract=a)) for t, a in synthetic_papers(n, seed)]


def query_start_seconds() -> float:
    """Wall time of a fresh process that loads the query encoder and embeds one query."""
    code = "from tracker.enrich.encoders import load_query_encoder as q; q().encode(['graph neural networks'])"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--cache", help="reuse this model cache (TRACKER_CACHE_DIR) instead of exporting afresh")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from tracker.enrich.encoders import load_encoder
    from tracker.model_files import resolve_model_dir

    texts = synthetic_abstracts(args.n)
    words = [len(t.split()) for t in texts]
    print(f"{len(texts)} abstracts, {min(words)}-{max(words)} words (mean {np.mean(words):.0f})")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRACKER_CACHE_DIR"] = args.cache or tmp
        start = time.perf_counter()
        ours = load_encoder(args.model, device="cpu")
        print(f"ours: {ours!r}; export + load {time.perf_counter() - start:.1f} s (once per model)")
        baseline = SentenceTransformer(str(resolve_model_dir(args.model)), device="cpu")
        baseline.encode(texts[:8]), ours.encode(texts[:8])  # warm-up
        spent, vectors = {"baseline": 0.0, "ours": 0.0}, {"baseline": [], "ours": []}
        for start_row in range(0, len(texts), args.chunk):
            chunk = texts[start_row:start_row + args.chunk]
            for name, encode in (("baseline", baseline.encode), ("ours", ours.encode)):
                began = time.perf_counter()
                vectors[name].append(np.asarray(encode(chunk), dtype=np.float32))
                spent[name] += time.perf_counter() - began
        query_start = query_start_seconds()
    base, mine = (np.concatenate(vectors[name]) for name in ("baseline", "ours"))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    cosine = (base * mine).sum(axis=1)
    rate = {name: len(texts) / seconds for name, seconds in spent.items()}
    print(f"baseline SentenceTransformer.encode: {rate['baseline']:6.1f} abstracts/s")
    print(f"ours ({type(ours).__name__}):          {rate['ours']:6.1f} abstracts/s")
    print(f"ratio: {rate['ours'] / rate['baseline']:.2f}x   cosine to baseline: mean {cosine.mean():.4f}, "
          f"min {cosine.min():.4f}")
    print(f"query encoder, fresh process to first vector: {query_start:.2f} s")


if __name__ == "__main__":
    main()
