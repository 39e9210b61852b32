"""Plain words for config mistakes: did-you-mean for keys, and the fix to write for common slips.

tracker.config turns pydantic's errors into lines; this module only adds the hint, so every key
at every level (a topic's `keyword:`, `arxiv.page_sise:`, a notify channel's field) gets the same
suggestion from the same place: the names the settings models really accept.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel

from tracker.config_yaml import printable


def known_keys(root: type[BaseModel], loc: tuple) -> list[str]:
    """The keys accepted where the unknown key `loc[-1]` was written (a topic's, `arxiv`'s...)."""
    models = [root]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue  # a list index: the models stay those of the list's items
        models = [
            inner
            for model in models
            if item in model.model_fields
            for inner in _models_in(model.model_fields[item].annotation)
        ]
    return sorted({name for model in models for name in model.model_fields if name != "base_dir"})


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The settings models inside a field's type (`list[Topic]`, `Topic | None`, `Annotated[...]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def did_you_mean(word: str, choices: list[str]) -> str:
    """`; did you mean `keywords`?` when one accepted key is close to `word`, else ""."""
    close = difflib.get_close_matches(word.casefold(), choices, n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def unknown_key(root: type[BaseModel], loc: tuple) -> str:
    """The hint after "unknown key `x`": the close accepted key, else the list of accepted ones."""
    choices = known_keys(root, loc)
    hint = did_you_mean(str(loc[-1]), choices)
    if hint or not choices:
        return hint
    return "; the keys allowed here are " + ", ".join(f"`{key}`" for key in choices)


def no_topics() -> str:
    return "`topics` is empty: add at least one topic, with a `name` and its `keywords` or `query`"


def categories_only(name: str, categories: list[str]) -> str:
    """A topic with categories but nothing to search for: the exact line that follows the categories."""
    query = " OR ".join(f"cat:{category}" for category in categories)
    return (
        f"topic {name!r} has `categories` but no `keywords` or `query`; to follow every paper in "
        f"{'them' if len(categories) > 1 else 'it'}, write `query: {query}` instead of `categories`"
    )


def key_name(loc: tuple, data: dict) -> str:
    """topics[1].keywords, or topics[MLLM].keywords when the topic has a name."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and parts:
            entry = node[item] if isinstance(node, list) and item < len(node) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            parts[-1] += f"[{printable(name)}]" if isinstance(name, str) and name.strip() else f"[{item}]"
        else:
            parts.append(printable(str(item)))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
