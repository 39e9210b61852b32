"""Load and validate keywords.yaml.

Validation is pydantic's (unknown keys, wrong types, out-of-range numbers are rejected); this module
adds arXiv query and category checks and checks across topics (a name or archive folder used twice),
and reports EVERY problem, one line each naming the file, line and key (`ConfigProblems.problems`).
Reading the file safely (encoding, aliases, depth) is tracker.config_yaml's job.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from tracker import config_hints, config_yaml
from tracker.arxiv_query import build_queries, check_query_syntax
from tracker.config_notify import NotifyChannel, attach_lines
from tracker.config_paths import expand_paths
from tracker.config_types import (
    Category,
    CategoryPattern,
    Float,
    Int,
    RepoName,
    StrictModel,
    SummariesSettings,
    Text,
)
from tracker.config_yaml import printable
from tracker.errors import ConfigError
from tracker.project import Project
from tracker.slugs import topic_slug
from tracker.text import clean_line

DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_RSS_URL = "https://rss.arxiv.org/rss"
AnnounceType = Literal["new", "cross", "replace", "replace-cross"]
ANNOUNCE_TYPES: tuple[AnnounceType, ...] = get_args(AnnounceType)


class ConfigProblems(ConfigError):
    """Several problems in one config; the CLI prints each on its own line (`str()` joins them)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


_Strict = StrictModel


class Topic(_Strict):
    name: Text = Field(min_length=1, max_length=200)
    keywords: list[Text] = Field([], max_length=500)
    query: Text | None = Field(None, max_length=4000)
    categories: list[Category] = []
    exclude: list[Text] = Field([], max_length=500)
    exclude_categories: list[CategoryPattern] = []
    source: Literal["api", "rss"] = "api"
    announce_types: list[AnnounceType] | None = None  # rss only; default from `rss:`

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        value = clean_line(value)  # as the ledger stores it (tracker.text), so the two always match
        if not value:
            raise ValueError("topic name is empty")
        return value

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
        if not self.keywords and not self.query and self.categories:
            raise ValueError(config_hints.categories_only(self.name, self.categories))
        if not self.keywords and not self.query:
            raise ValueError(f"topic {self.name!r} is empty: give it `keywords` or a `query`")
        if self.keywords and self.query:
            raise ValueError(f"topic {self.name!r} has both `keywords` and `query`: keep one")
        if self.source == "rss" and not (self.keywords and self.categories):
            raise ValueError(f"topic {self.name!r} uses source: rss, which needs `keywords` and `categories`")
        if self.source == "api":
            build_queries(self)  # too long for one request and cannot be split: refused here, not as HTTP 414
        return self


# Every number has both bounds: an unbounded value (1e20 rows, a 1e308 s timeout) overflows later,
# far from the config line that caused it. tests/test_config.py checks that each numeric field has them.
class ArxivSettings(_Strict):
    api_url: Text = DEFAULT_API_URL
    rss_url: Text = DEFAULT_RSS_URL
    page_size: Int = Field(100, ge=1, le=2000)
    delay_seconds: Float = Field(3.0, ge=0, le=60)
    retries: Int = Field(5, ge=0, le=20)
    backoff_seconds: Float = Field(2.0, ge=0, le=600)  # first retry wait; doubles each time (Retry-After wins)
    timeout_seconds: Float = Field(30.0, gt=0, le=600)
    request_deadline_seconds: Float = Field(60.0, gt=0, le=3600)  # whole request, however slowly it trickles
    wait_budget_seconds: Float = Field(600.0, ge=0, le=86400)  # all retry waits of a run, all topics together
    max_results_per_run: Int = Field(1000, ge=1, le=10000)
    contact: Text | None = Field(
        None, max_length=200
    )  # e-mail or URL for the User-Agent (arXiv asks API users to say who they are)


class RssSettings(_Strict):
    announce_types: list[AnnounceType] = list(ANNOUNCE_TYPES)


class OutputSettings(_Strict):
    readme: str = "README.md"
    readme_rows: Int = Field(100, ge=1, le=10000)
    archive_dir: str = "archive"
    digest_dir: str = "digests"
    digest_max_papers: Int = Field(50, ge=1, le=1000)
    data_dir: str = "data"
    state_dir: str = ".tracker"
    templates_dir: str | None = None  # user overrides, looked up before the built-in templates

    @field_validator("readme", "archive_dir", "digest_dir", "data_dir", "state_dir", "templates_dir")
    @classmethod
    def _usable_path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value)):
            raise ValueError("must be a non-empty path without control characters")
        return value

    @field_validator("readme", "archive_dir", "digest_dir", "data_dir")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        # These are committed: they must stay inside the project folder (state_dir, a cache, may not).
        path = PurePosixPath(value.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or PureWindowsPath(value).drive:
            raise ValueError(f"{value!r} must be a path inside the project folder (relative, no '..')")
        return value

    @field_validator("readme")
    @classmethod
    def _markdown_readme(cls, value: str) -> str:
        if not value.lower().endswith(".md"):  # never a ledger shard, the config or another file of the user's
            raise ValueError(f"{value!r} must be a Markdown file (*.md)")
        return value

    @model_validator(mode="after")
    def _outputs_apart(self) -> OutputSettings:
        folders = {"data_dir": self.data_dir, "archive_dir": self.archive_dir, "digest_dir": self.digest_dir}
        norm = {key: PurePosixPath(value.replace("\\", "/")) for key, value in folders.items()}
        readme = PurePosixPath(self.readme.replace("\\", "/"))
        for key, folder in norm.items():
            if folder == readme or folder in readme.parents:
                raise ValueError(f"readme {self.readme!r} lies inside {key} {folders[key]!r}; keep outputs apart")
            for other, other_folder in norm.items():
                if key < other and (
                    folder == other_folder or folder in other_folder.parents or other_folder in folder.parents
                ):
                    raise ValueError(
                        f"{key} {folders[key]!r} and {other} {folders[other]!r} overlap; keep outputs apart"
                    )
        return self


class EmbeddingSettings(_Strict):
    model: str = "all-MiniLM-L6-v2"
    device: Literal["cpu", "cuda", "mps"] | None = None
    batch_size: Int | None = Field(None, ge=1, le=4096)
    enabled: bool = True


class DedupSettings(_Strict):
    threshold: Float | None = Field(None, gt=0, le=1)  # None: the measured default in tracker.enrich.dedup


class ThemeSettings(_Strict):
    min_papers: Int = Field(6, ge=1, le=10000)
    max_themes: Int = Field(8, ge=1, le=100)


class WeeklySettings(_Strict):
    """The weekly review (tracker.render.weekly): written by the first run on or after `weekday` of each ISO week."""

    enabled: bool = True
    weekday: Int = Field(1, ge=1, le=7)  # 1 = Monday ... 7 = Sunday
    weeks: Int = Field(4, ge=2, le=52)  # weeks compared, the reviewed one included


class PublishSettings(_Strict):
    repo: RepoName | None = None
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


class NamedProfileSettings(ProfileSettings):
    """One of `profiles:` (a sub-group's or a student's interests): it gets its own top picks."""

    name: Text = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("profile name is empty")
        return value.strip()

    @model_validator(mode="after")
    def _not_empty(self) -> NamedProfileSettings:
        if not (self.papers or self.bibtex or self.interests):
            raise ValueError(f"profile {self.name!r} is empty: give it `papers`, `bibtex` or `interests`")
        return self


def _unique_profile_names(profiles: list[NamedProfileSettings]) -> list[NamedProfileSettings]:
    seen: set[str] = set()
    for profile in profiles:
        if profile.name.casefold() in seen:
            raise ValueError(f"profile name {profile.name!r} appears twice")
        seen.add(profile.name.casefold())
    return profiles


Profiles = Annotated[list[NamedProfileSettings], AfterValidator(_unique_profile_names)]


class Settings(_Strict):
    topics: list[Topic] = Field(min_length=1)
    arxiv: ArxivSettings = ArxivSettings()
    rss: RssSettings = RssSettings()
    output: OutputSettings = OutputSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    dedup: DedupSettings = DedupSettings()
    themes: ThemeSettings = ThemeSettings()
    publish: PublishSettings = PublishSettings()
    weekly: WeeklySettings = WeeklySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    profile: ProfileSettings = ProfileSettings()  # the group's one unnamed profile
    profiles: Profiles = Field([], max_length=100)  # named profiles, each with its own top picks
    exclude: list[Text] = []
    exclude_categories: list[CategoryPattern] = []
    notify: list[NotifyChannel] = Field([], max_length=20)  # chat/email channels for `tracker notify`
    summaries: SummariesSettings = SummariesSettings()  # optional LLM TL;DRs
    base_dir: Path = Path(".")  # the config file's folder; not read from YAML

    @property
    def project(self) -> Project:
        """Where this project's files live, its templates and encoder settings (tracker.project)."""
        return Project.from_settings(self)

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the config file's folder."""
        return (self.base_dir / relative).resolve()

    @property
    def api_url(self) -> str:
        return os.environ.get("TRACKER_ARXIV_API_URL") or self.arxiv.api_url

    @property
    def rss_url(self) -> str:
        return os.environ.get("TRACKER_ARXIV_RSS_URL") or self.arxiv.rss_url


# --- loading ----------------------------------------------------------------------------


def load_settings(path: str | Path) -> Settings:
    config_path = Path(path)
    try:
        with config_path.open("rb") as handle:
            raw = handle.read(config_yaml.MAX_CONFIG_BYTES + 1)  # never read a huge file whole
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: config file not found (create it, or pass --config PATH)") from None
    except IsADirectoryError:
        raise ConfigError(f"{config_path}: is a folder; --config takes the keywords.yaml file") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read config: {exc.strerror}") from None
    text = config_yaml.decode(raw, str(config_path))
    # Relative paths start from the folder where the config is named, not a symlink's target:
    # a keywords.yaml linked from a shared folder still writes into this project.
    return parse_settings(text, source=str(config_path), base_dir=config_path.absolute().parent.resolve())


def parse_settings(text: str, *, source: str = "keywords.yaml", base_dir: Path = Path(".")) -> Settings:
    """Validate a config's text; every problem found is reported (ConfigProblems), one line each."""
    doc = config_yaml.load(text, source)
    data = doc.data
    if data is None:
        raise ConfigError(f"{source}: the config is empty; it needs a `topics` list (see README: keywords.yaml)")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a `topics` list at the top level, found {_kind(data)}")
    problems = [(_line_of(p), p) for p in doc.problems] + _topic_clashes(data, doc.lines, source)
    problems += expand_paths(data, doc.lines, source, base_dir.absolute())
    settings = None
    try:
        settings = Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems += [_describe(error, data, doc.lines, source) for error in exc.errors()]
    if problems or settings is None:  # (settings is None only with problems)
        ordered = sorted(dict.fromkeys(problems), key=lambda item: item[0])  # by line; each problem once
        raise ConfigProblems([message for _, message in ordered])
    attach_lines(settings.notify, doc.lines)
    return settings


def require_topic(settings: Settings, name: str) -> Topic:
    """The topic called `name` (any case, blanks ignored), or a usage error naming the known topics."""
    wanted = name.strip().casefold()
    for topic in settings.topics:
        if topic.name.casefold() == wanted:
            return topic
    known = ", ".join(repr(t.name) for t in settings.topics)
    raise ConfigError(f"no topic named {printable(name)!r} in the config; the topics are: {known}")


def _kind(data: Any) -> str:
    names = {list: "a list", str: "a single value", int: "a number", float: "a number", bool: "true/false"}
    return names.get(type(data), type(data).__name__)


def _line_of(problem: str) -> int:
    match = re.match(r"[^\n]*?:(\d+): ", problem)
    return int(match.group(1)) if match else 0


def _topic_clashes(data: dict, lines: dict[tuple, int], source: str) -> list[tuple[int, str]]:
    """Two topics with one name (any case), or whose names share an archive folder (slug)."""
    topics = data.get("topics")
    if not isinstance(topics, list):
        return []
    problems: list[tuple[int, str]] = []
    by_name: dict[str, tuple[str, int]] = {}
    by_slug: dict[str, tuple[str, int]] = {}
    for index, topic in enumerate(topics):
        name = topic.get("name") if isinstance(topic, dict) else None
        name = clean_line(name) if isinstance(name, str) else ""  # the name as Topic stores it
        if not name:
            continue
        line = lines.get(("topics", index, "name")) or lines.get(("topics", index), 0)
        first = by_name.get(name.casefold())
        slug = topic_slug(name)
        if first:
            message = f"topic name {printable(name)!r} appears twice (first at line {first[1]})"
        elif slug in by_slug:
            other, other_line = by_slug[slug]
            message = (
                f"topics {printable(other)!r} (line {other_line}) and {printable(name)!r} would share the "
                f"archive folder {slug!r}; rename one"
            )
        else:
            by_name[name.casefold()] = by_slug[slug] = (name, line)
            continue
        problems.append((line, f"{source}:{line}: `topics[{printable(name)}].name`: {message}"))
    return problems


def _describe(error: ErrorDetails, data: dict, lines: dict[tuple, int], source: str) -> tuple[int, str]:
    loc = tuple(error["loc"])
    key = config_hints.key_name(loc, data)
    line = config_hints.line_for(loc, lines)
    where = f"{source}:{line}" if line else source
    kind = error["type"]
    if kind == "extra_forbidden":
        message = f"unknown key `{key}`" + config_hints.unknown_key(Settings, loc)
    elif kind == "too_short" and loc == ("topics",):
        message = config_hints.no_topics()
    elif kind == "missing":
        message = f"missing key `{key}`"
    else:
        message = f"`{key}`: {printable(error['msg'].removeprefix('Value error, '), 300)}"
        given = error.get("input")
        if isinstance(given, (str, int, float)) and not isinstance(given, bool) and kind != "value_error":
            message += f" (got {printable(str(given), 40)})"
    return line or 0, f"{where}: {message}"
