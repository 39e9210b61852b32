"""Moved to tracker.model_files (the vector store needs model names too); kept so encoder code imports stay short."""

from tracker.model_files import (  # noqa: F401 (re-exported)
    BUNDLED,
    DEFAULT_MODEL,
    canonical_model_name,
    fingerprint,
    model_identity,
    model_slug,
    not_available,
    resolve_model_dir,
    same_model,
)
