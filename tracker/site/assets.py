"""The site's static files: the page (site/app), the npm-installed libraries, the query model.

The libraries come from `site/node_modules` (installed by `npm ci` in site/, pinned by its
package-lock.json); nothing is fetched here. The model is the browser export
(tracker.enrich.encoders.browser): its tokenizer files and site/: the graph without its word table or
linear weights (model/model.onnx), the word table (model/words.bin, words.json), which the page
looks up itself, and the linear layers' int8 weights (model/linear.bin, linear.json), which the
page turns into the float32 weights the graph reads; their hash is model/id.txt, so the page's
cache of them is keyed by the files themselves. The wasm runtime is stored gzip-compressed (a
quarter of its size); the page inflates it.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
from pathlib import Path

from tracker.errors import TrackerError
from tracker.model_files import fingerprint, hash_file, model_slug, resolve_model_dir

# (package path under node_modules, file) -> served as vendor/<file> (the .wasm as vendor/<file>.gz)
VENDOR_FILES = (
    ("onnxruntime-web/dist", "ort.wasm.min.mjs"),
    ("onnxruntime-web/dist", "ort-wasm-simd-threaded.mjs"),
    ("onnxruntime-web/dist", "ort-wasm-simd-threaded.wasm"),
    ("@huggingface/tokenizers/dist", "tokenizers.min.mjs"),
)
MODEL_FILES = {
    "tokenizer.json": "tokenizer.json",
    "tokenizer_config.json": "tokenizer_config.json",
    "site/model.onnx": "model.onnx",
    "site/words.bin": "words.bin",
    "site/words.json": "words.json",
    "site/linear.bin": "linear.bin",
    "site/linear.json": "linear.json",
}


def copy_app(app_dir: Path, out: Path) -> None:
    """The hand-written page: index.html, *.js, *.css (no build step)."""
    if not (app_dir / "index.html").is_file():
        raise TrackerError(f"{app_dir / 'index.html'} is missing: the site's page ships in the repository's site/app/")
    for path in sorted(app_dir.iterdir()):
        if path.is_file() and path.suffix in {".html", ".js", ".css", ".svg"}:
            shutil.copyfile(path, out / path.name)


def copy_vendor(node_modules: Path, out: Path) -> None:
    missing = [f"{package}/{name}" for package, name in VENDOR_FILES if not (node_modules / package / name).is_file()]
    if missing:
        raise TrackerError(
            f"{node_modules} lacks {missing[0]}: run `npm ci` in site/ (the page's libraries, "
            f"pinned by site/package-lock.json)"
        )
    (out / "vendor").mkdir(exist_ok=True)
    for package, name in VENDOR_FILES:
        if name.endswith(".wasm"):  # the runtime: 15 MB, 3.8 MB gzip-compressed; the page inflates it
            data = gzip.compress((node_modules / package / name).read_bytes(), 9, mtime=0)
            (out / "vendor" / f"{name}.gz").write_bytes(data)
        else:
            shutil.copyfile(node_modules / package / name, out / "vendor" / name)


def copy_model(model_dir: Path, out: Path) -> str:
    """The query encoder's files into out/model/; returns the graph's short hash."""
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise TrackerError(
            f"model folder {model_dir} lacks {missing[0]} (expected a transformers.js-style "
            f"export: {', '.join(MODEL_FILES)})"
        )
    target = out / "model"
    target.mkdir(exist_ok=True)
    for source, name in MODEL_FILES.items():
        shutil.copyfile(model_dir / source, target / name)
    digest = _files_hash([target / "model.onnx", target / "words.bin", target / "linear.bin"])
    (target / "id.txt").write_text(digest + "\n", encoding="ascii")
    return digest


def exported_model(model: str) -> Path:
    """The browser export of `model` (tracker.enrich.encoders.browser, no torch), built once per
    model version into the per-user export cache and reused by every later build."""
    from tracker.enrich.encoders import browser
    from tracker.enrich.encoders.export import cache_root

    folder = cache_root() / "browser" / f"{model_slug(model)}-{fingerprint(resolve_model_dir(model))[:12]}"
    if all((folder / name).is_file() for name in MODEL_FILES):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        browser.browser_model(model, staging)
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete export of an earlier, failed build
        staging.rename(folder)
    except browser.ExportError as exc:
        raise TrackerError(
            f"model {model!r} cannot run in the browser ({exc}); give an exported folder with --model-dir"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _files_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        hash_file(digest, path)
    return digest.hexdigest()[:16]
