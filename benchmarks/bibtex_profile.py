"""Time and peak memory of reading a large BibTeX profile: the parse (baseline) vs. the cached read.

A synthetic BibTeX file of `--mb` megabytes (Google Scholar / Zotero-like entries: some with an
arXiv eprint, some with only a title and abstract, a few @string macros) is read the way a run
reads it (tracker.enrich.profile.build_profile). Baseline: no cache (every run before this
change parsed the whole file). Then the same call with the `.tracker/` cache folder: first
(cold, parses and stores) and again (warm, what every later run pays). Each measurement runs in
a fresh process so imports and peak RSS are counted honestly; the cold/warm results are checked
to be identical to the baseline's.

Run: python benchmarks/bibtex_profile.py [--mb 10]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import hashlib, json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from tracker.enrich.profile import build_profile
cache = {cache!r}
start = time.perf_counter()
profile = build_profile(bibtex={path!r}, cache_dir=Path(cache) if cache else None)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ids": len(profile.ids), "texts": len(profile.texts), "warnings": len(profile.warnings),
                  "digest": hashlib.sha256(repr((profile.ids, profile.texts, profile.warnings)).encode()).hexdigest()}}))
"""


def synthetic_bibtex(megabytes: float, seed: int = 7) -> str:
    rng = random.Random(seed)
    words = ("transformer attention language model retrieval graph neural robust sparse diffusion "
             "quantum estimation kernel bayesian causal inference benchmark protein policy").split()
    parts = ['@string{neurips = "Advances in Neural Information Processing Systems"}\n',
             '@string{icml = "International Conference on Machine Learning"}\n']
    size, n = sum(map(len, parts)), 0
    while size < megabytes * 1_000_000:
        n += 1
        title = " ".join(rng.choice(words) for _ in range(rng.randint(5, 12))).title()
        abstract = " ".join(rng.choice(words) for _ in range(rng.randint(60, 120)))
        if n % 3:
            body = f"  eprint = {{{20 + n % 5}{n % 12 + 1:02d}.{n % 99999:05d}}},\n  archiveprefix = {{arXiv}},\n"
        else:
            body = f"  booktitle = {rng.choice(['neurips', 'icml'])},\n"
        entry = (f"@article{{key{n},\n  title = {{{{{title}}}}},\n  author = {{Lovelace, Ada and Noether, Emmy}},\n"
                 f"{body}  year = {{{2000 + n % 25}}},\n  abstract = {{{abstract}}},\n}}\n\n")
        parts.append(entry)
        size += len(entry)
    return "".join(parts)


def measure(path: Path, cache: Path | None) -> dict:
    code = _CHILD.format(root=str(ROOT), path=str(path), cache=str(cache) if cache else None)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of the synthetic BibTeX file (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "group.bib"
        path.write_text(synthetic_bibtex(args.mb), encoding="utf-8")
        cache = Path(tmp) / "state" / "bibtex"
        baseline = measure(path, None)
        cold = measure(path, cache)
        warm = measure(path, cache)
    print(f"BibTeX profile of {args.mb:g} MB: {baseline['ids']} ids, {baseline['texts']} texts, {baseline['warnings']} warnings")
    for name, r in (("baseline (parse, no cache)", baseline), ("cache cold (parse + store)", cold), ("cache warm (every later run)", warm)):
        print(f"  {name:30s} {r['seconds']:8.2f} s in the call  {r['process_seconds']:8.2f} s process  peak RSS {r['peak_mb']:7.0f} MB")
    same = baseline["digest"] == cold["digest"] == warm["digest"]
    print(f"  warm vs baseline: {baseline['seconds'] / max(warm['seconds'], 1e-9):.0f}x faster, "
          f"{baseline['peak_mb'] / max(warm['peak_mb'], 1e-9):.1f}x less peak memory; identical profile: {same}")


if __name__ == "__main__":
    main()
