"""Load and validate keywords.yaml.

Validation is pydantic's (unknown keys and wrong types are rejected); this module adds
arXiv query checks and turns every problem into one line naming the key and its line.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tracker.errors import ConfigError

DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_RSS_URL = "https://rss.arxiv.org/rss"
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
AnnounceType = Literal["new", "cross", "replace", "replace-cross"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    name: str = Field(min_length=1)
    keywords: list[str] = []
    query: str | None = None
    categories: list[str] = []
    exclude: list[str] = []
    exclude_categories: list[str] = []
    source: Literal["api", "rss"] = "api"
    announce_types: list[AnnounceType] | None = None  # rss only; default from `rss:`

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("topic name is empty")
        return value.strip()

    @field_validator("keywords", "exclude")
    @classmethod
    def _phrases_quotable(cls, values: list[str]) -> list[str]:
        for phrase in values:
            if not phrase.strip():
                raise ValueError("empty phrase")
            if '"' in phrase:
                raise ValueError(f"phrase {phrase!r} contains a double quote; write the words without quotes")
        return [p.strip() for p in values]

    @field_validator("query")
    @classmethod
    def _query_syntax(cls, value: str | None) -> str | None:
        if value is not None:
            check_query_syntax(value)
        return value

    @model_validator(mode="after")
    def _has_a_query(self) -> Topic:
        if not self.keywords and not self.query:
            raise ValueError(f"topic {self.name!r} is empty: give it `keywords` or a `query`")
        if self.keywords and self.query:
            raise ValueError(f"topic {self.name!r} has both `keywords` and `query`: keep one")
        if self.source == "rss" and not (self.keywords and self.categories):
            raise ValueError(f"topic {self.name!r} uses source: rss, which needs `keywords` and `categories`")
        return self


class ArxivSettings(_Strict):
    api_url: str = DEFAULT_API_URL
    rss_url: str = DEFAULT_RSS_URL
    page_size: int = Field(100, ge=1, le=2000)
    delay_seconds: float = Field(3.0, ge=0)
    retries: int = Field(5, ge=0, le=20)
    backoff_seconds: float = Field(2.0, ge=0)  # first retry wait; doubles each time (Retry-After wins)
    timeout_seconds: float = Field(30.0, gt=0)
    max_results_per_run: int = Field(1000, ge=1, le=10000)


class RssSettings(_Strict):
    announce_types: list[AnnounceType] = list(ANNOUNCE_TYPES)


class OutputSettings(_Strict):
    readme: str = "README.md"
    readme_rows: int = Field(100, ge=1)
    archive_dir: str = "archive"
    digest_dir: str = "digests"
    digest_max_papers: int = Field(50, ge=1)
    data_dir: str = "data"
    state_dir: str = ".tracker"
    templates_dir: str | None = None  # user overrides, looked up before the built-in templates


class EmbeddingSettings(_Strict):
    model: str = "all-MiniLM-L6-v2"
    device: Literal["cpu", "cuda", "mps"] | None = None
    batch_size: int | None = Field(None, ge=1)
    enabled: bool = True


class DedupSettings(_Strict):
    threshold: float | None = Field(None, gt=0, le=1)  # None: the measured default in tracker.enrich.dedup


class ThemeSettings(_Strict):
    min_papers: int = Field(6, ge=1)
    max_themes: int = Field(8, ge=1)


class PublishSettings(_Strict):
    repo: str | None = None
    label: str = "digest"
    empty_day: Literal["skip", "issue"] = "skip"
    health_label: str = "tracker-health"


class ScheduleSettings(_Strict):
    cron: str = "17 2 * * 1-5"  # Mon-Fri UTC: after arXiv's Sun-Thu 20:00 US Eastern announcements
    timezone: str = "UTC"


class ProfileSettings(_Strict):
    papers: list[str] = []
    bibtex: str | None = None
    interests: list[str] = []


class Settings(_Strict):
    topics: list[Topic] = Field(min_length=1)
    arxiv: ArxivSettings = ArxivSettings()
    rss: RssSettings = RssSettings()
    output: OutputSettings = OutputSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    dedup: DedupSettings = DedupSettings()
    themes: ThemeSettings = ThemeSettings()
    publish: PublishSettings = PublishSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    profile: ProfileSettings = ProfileSettings()
    exclude: list[str] = []
    exclude_categories: list[str] = []
    base_dir: Path = Path(".")  # the config file's folder; not read from YAML

    @model_validator(mode="after")
    def _unique_topic_names(self) -> Settings:
        seen: set[str] = set()
        for topic in self.topics:
            if topic.name.casefold() in seen:
                raise ValueError(f"topic name {topic.name!r} appears twice")
            seen.add(topic.name.casefold())
        return self

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the config file's folder."""
        return (self.base_dir / relative).resolve()

    @property
    def api_url(self) -> str:
        return os.environ.get("TRACKER_ARXIV_API_URL") or self.arxiv.api_url

    @property
    def rss_url(self) -> str:
        return os.environ.get("TRACKER_ARXIV_RSS_URL") or self.arxiv.rss_url


# --- arXiv query building and checking ---------------------------------------------------

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
    for match in re.finditer(r"\b(ti|au|abs|co|jr|cat|rn|id|all):([^\s()\"]+)\s+(?!AND\b|OR\b|ANDNOT\b)([^\s()\":]+)(?=\s|\)|$)", bare):
        field, first, second = match.groups()
        warnings.append(
            f"unquoted multi-word term `{field}:{first} {second}`: arXiv reads it as "
            f"`{field}:{first} OR {second}`; write `{field}:\"{first} {second}\"` to search the phrase"
        )
    return warnings


def _phrase_clause(phrases: list[str]) -> str:
    parts = [f'{field}:"{p}"' for p in phrases for field in ("ti", "abs")]
    return "(" + " OR ".join(parts) + ")" if len(parts) > 1 else parts[0]


def build_query(topic: Topic) -> str:
    """The exact arXiv API `search_query` for a topic (phrases matched in title or abstract)."""
    query = f"({topic.query})" if topic.query else _phrase_clause(topic.keywords)
    if topic.categories:
        cats = " OR ".join(f"cat:{c}" for c in topic.categories)
        query += f" AND ({cats})" if len(topic.categories) > 1 else f" AND {cats.strip()}"
    if topic.exclude:
        query += f" ANDNOT {_phrase_clause(topic.exclude)}"
    return query


# --- loading ----------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """YAML that keeps float-looking scalars as written: `2305.18290` is an arXiv id, not 2305.1829.

    pydantic still turns "3.5" into 3.5 where a field is a float.
    """


_Loader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: loader.construct_scalar(node))

def load_settings(path: str | Path) -> Settings:
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: config file not found (create it, or pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read config: {exc.strerror}") from None
    return parse_settings(text, source=str(config_path), base_dir=config_path.resolve().parent)


def parse_settings(text: str, *, source: str = "keywords.yaml", base_dir: Path = Path(".")) -> Settings:
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a `topics` list at the top level")
    lines = _line_index(node)
    try:
        return Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, data, lines, source)) from None


def _describe(exc: ValidationError, data: dict, lines: dict[tuple, int], source: str) -> str:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    key = _key_name(loc, data)
    line = _line_for(loc, lines)
    where = f"{source}:{line}" if line else source
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f"unknown key `{key}`"
    elif kind == "missing":
        message = f"missing key `{key}`"
    else:
        message = f"`{key}`: {error['msg'].removeprefix('Value error, ')}"
    more = len(exc.errors()) - 1
    return f"{where}: {message}" + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _key_name(loc: tuple, data: dict) -> str:
    """topics[1].keywords, or topics[name=MLLM].keywords when the topic has a name."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            name = node[item].get("name") if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) else None
            parts[-1] += f"[{name}]" if name else f"[{item}]"
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def _line_index(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path to the 1-based line it is written on."""
    lines: dict[tuple, int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            lines.update(_line_index(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_line_index(item, path + (index,)))
    return lines


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
