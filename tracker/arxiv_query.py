"""arXiv's query language: build a topic's exact `search_query`, and catch what arXiv would misread.

arXiv does not reject a malformed query; it silently searches something else (lowercase `and` is a
word, an unquoted phrase is an OR of words). So the config refuses the first and `tracker check`
warns about the second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote_plus


class QueryParts(Protocol):
    """What build_query reads from a topic (config.Topic has these fields)."""

    @property
    def query(self) -> str | None: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def exclude(self) -> Sequence[str]: ...


# The longest request URL we send: what servers and proxies on the way accept (8 KB is common,
# not universal). A topic's query is split to fit (build_queries); profile ids go in chunks.
MAX_URL_CHARS = 4000
MAX_QUERY_CHARS = MAX_URL_CHARS - 300  # the search_query once URL-encoded; the rest is base URL and paging

_OPERATOR_TYPO = re.compile(r"(?<![\w:])(and|or|andnot|And|Or|AndNot|Andnot|Not|not)(?![\w:])")


def _outside_quotes(query: str) -> str:
    return re.sub(r'"[^"]*"', '""', query)


def check_query_syntax(query: str) -> None:
    """Reject queries arXiv would silently read as something else."""
    if not query.strip():
        raise ValueError("query is empty")
    if query.count('"') % 2:
        raise ValueError(f"unbalanced double quote in query {query!r}")
    bare = _outside_quotes(query)
    depth = 0
    for char in bare:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in query {query!r}")
    typo = _OPERATOR_TYPO.search(bare)
    if typo:
        raise ValueError(
            f"query {query!r} uses {typo.group(1)!r}: arXiv operators are uppercase AND, OR, ANDNOT "
            "(lowercase words are searched as terms)"
        )


def query_warnings(query: str) -> list[str]:
    """Legal but surprising constructs, shown by `tracker check`."""
    warnings = []
    bare = _outside_quotes(query)
    for match in re.finditer(
        r"\b(ti|au|abs|co|jr|cat|rn|id|all):([^\s()\"]+)\s+(?!AND\b|OR\b|ANDNOT\b)([^\s()\":]+)(?=\s|\)|$)", bare
    ):
        field, first, second = match.groups()
        warnings.append(
            f"unquoted multi-word term `{field}:{first} {second}`: arXiv reads it as "
            f'`{field}:{first} OR {second}`; write `{field}:"{first} {second}"` to search the phrase'
        )
    return warnings


def _phrase_clause(phrases: Sequence[str]) -> str:
    parts = [f'{field}:"{p}"' for p in phrases for field in ("ti", "abs")]
    return "(" + " OR ".join(parts) + ")" if len(parts) > 1 else parts[0]


def build_query(topic: QueryParts) -> str:
    """The exact arXiv API `search_query` for a topic (phrases matched in title or abstract)."""
    query = f"({topic.query})" if topic.query else _phrase_clause(topic.keywords)
    if topic.categories:
        cats = " OR ".join(f"cat:{c}" for c in topic.categories)
        query += f" AND ({cats})" if len(topic.categories) > 1 else f" AND {cats.strip()}"
    if topic.exclude:
        query += f" ANDNOT {_phrase_clause(topic.exclude)}"
    return query


def build_queries(topic: Any) -> list[str]:
    """The topic's query, split into several (phrases in groups) when one would not fit in a URL.

    Their results together are the one query's. ValueError when even one phrase per query does
    not fit (a long `query:` or `exclude` list), so `tracker check` refuses it, naming the topic."""
    whole = build_query(topic)
    if len(quote_plus(whole)) <= MAX_QUERY_CHARS:
        return [whole]
    if not topic.keywords:
        raise ValueError(_too_long(topic, whole, "shorten its `query`"))
    groups: list[list[str]] = []
    for phrase in topic.keywords:
        if (
            groups
            and len(quote_plus(build_query(topic.model_copy(update={"keywords": groups[-1] + [phrase]}))))
            <= MAX_QUERY_CHARS
        ):
            groups[-1].append(phrase)
            continue
        single = build_query(topic.model_copy(update={"keywords": [phrase]}))
        if len(quote_plus(single)) > MAX_QUERY_CHARS:
            raise ValueError(_too_long(topic, single, "shorten its `exclude` list or `categories`"))
        groups.append([phrase])
    return [build_query(topic.model_copy(update={"keywords": group})) for group in groups]


def _too_long(topic: Any, query: str, advice: str) -> str:
    return (
        f"topic {topic.name!r}: its arXiv query is {len(quote_plus(query))} characters once URL-encoded, "
        f"over the {MAX_QUERY_CHARS} one request can carry; {advice}"
    )
