"""What a paper's vector is made of: one text per paper, used by every stage that embeds a paper.

The vector store (tracker.store.vectors) keys vectors by `text_hash`, so a paper is embedded
again only when this text changes. Encoders live in tracker.enrich.encoders.
"""
from __future__ import annotations

import hashlib
from typing import Any

_SENTENCE_END = (".", "?", "!", ":", ";")


def embed_text(paper: Any) -> str:
    """Title and abstract as one text, whitespace collapsed: "Title. Abstract" (either may be empty).

    The title is closed with a full stop unless it already ends a sentence ("Why X?").
    """
    title = " ".join((getattr(paper, "title", "") or "").split())
    abstract = " ".join((getattr(paper, "abstract", "") or "").split())
    if not (title and abstract):
        return title or abstract
    return f"{title} {abstract}" if title.endswith(_SENTENCE_END) else f"{title}. {abstract}"


def text_hash(paper_or_text: Any) -> str:
    """Short content hash of a paper's embedded text (or of a text)."""
    text = paper_or_text if isinstance(paper_or_text, str) else embed_text(paper_or_text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
