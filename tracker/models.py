"""Plain data passed between pipeline stages. No I/O here."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from tracker.text import clean_block, clean_line

MULTILINE_FIELDS = frozenset({"abstract"})  # every other text field of a Paper is a single line
FIRST_DATE = datetime.date(1991, 1, 1)  # before arXiv existed: no run or paper can be dated earlier


def latest_date() -> datetime.date:
    """Tomorrow in UTC: the latest run date accepted (tomorrow, for time zones ahead of UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=1)


@dataclass(frozen=True)
class Paper:
    """One arXiv paper, as a source reports it and as the ledger stores it.

    `id` is the canonical identifier without version ("2401.01234", "hep-th/9901001").
    Dates of the paper are ISO-8601 UTC strings ("2024-01-03T17:00:00Z"); dates of
    the tracker (`first_seen`, `revised_on`) are run dates ("2024-01-04").
    """

    id: str
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str = ""
    published: str | None = None  # v1 submission time (unknown for some RSS items)
    updated: str | None = None  # submission time of `version`
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    abs_url: str = ""
    pdf_url: str = ""
    topics: tuple[str, ...] = ()
    first_seen: str | None = None  # run date the paper entered the ledger
    revised_on: str | None = None  # run date a newer version was last recorded
    announce_type: str | None = None  # RSS only: new / cross / replace / replace-cross
    relevance: float | None = None  # similarity to the group's profile, when configured
    tldr: str | None = None  # one line saying what the paper does, for this version (tracker.enrich.tldr)
    tldr_source: str | None = None  # "extractive" or "llm:<model>"
    # Fields a ledger record had that this version does not know: kept so a rewrite loses nothing.
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def versioned_id(self) -> str:
        return f"{self.id}v{self.version}"

    @property
    def date(self) -> str:
        """The date shown in tables: the latest version's submission day."""
        return (self.updated or self.published or self.first_seen or "")[:10]

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _STORED_FIELDS}  # not asdict(): no deep copies of strings
        for name in _ABSENT_WHEN_NONE:
            if data[name] is None:
                del data[name]
        for key in ("authors", "categories", "topics"):
            data[key] = list(data[key])
        return {**copy.deepcopy(self.extra), **data} if self.extra else data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Paper:
        """From trusted data (e.g. `to_dict` output). Ledger lines go through tracker.store.records."""
        known = set(cls.__dataclass_fields__) - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("authors", "categories", "topics"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    def cleaned(self) -> Paper:
        """Every text field through tracker.text: the one normalisation, applied at the ledger's door."""
        changes: dict[str, Any] = {}
        for name, optional in _TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                new: Any = clean_block(value) if name in MULTILINE_FIELDS else clean_line(value)
                if not new and optional:
                    new = None  # an optional field that held only noise is absent
            elif isinstance(value, tuple):
                new = tuple(item for item in map(clean_line, value) if item)
                if name == "topics":
                    new = tuple(sorted(set(new)))
                elif name == "categories":
                    new = tuple(dict.fromkeys(new))
            else:
                continue
            if new != value:
                changes[name] = new
        return replace(self, **changes) if changes else self

    def capped(self) -> tuple[Paper, list[str]]:
        """The paper with each field cut to FIELD_CAPS (the cut marked "…"), and the names of the
        fields cut: a 1 MB abstract would make a 3 MB README and an issue cut in the middle."""
        changes: dict[str, Any] = {}
        for name, cap in FIELD_CAPS.items():
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > cap:
                changes[name] = value[: cap - 1].rstrip() + "…"
            elif isinstance(value, tuple):
                items = tuple(v if len(v) <= MAX_NAME_CHARS else v[: MAX_NAME_CHARS - 1] + "…" for v in value)
                if len(items) > cap:
                    items = items[: cap - 1] + (f"… and {len(items) - cap + 1} more",)
                if items != value:
                    changes[name] = items
        return (replace(self, **changes), sorted(changes)) if changes else (self, [])

    def with_changes(self, **changes: Any) -> Paper:
        return replace(self, **changes)


# Fields added after ledgers existed: left out while unset, so an older record is written back byte for byte.
_ABSENT_WHEN_NONE = ("tldr", "tldr_source")

# Longest value kept per field (characters; for lists, items). Far above any real arXiv record
# (titles < 300 chars, abstracts < 2,000 words, the largest author lists ~3,000 names: cut, with
# the count of the rest). Documented in README.md ("No silent caps").
FIELD_CAPS = {
    "title": 1000,
    "abstract": 20000,
    "comment": 2000,
    "journal_ref": 1000,
    "doi": 300,
    "authors": 500,
    "categories": 100,
}
MAX_NAME_CHARS = 300  # one author's name, one category


_STORED_FIELDS = tuple(f.name for f in fields(Paper) if f.name != "extra")
_TEXT_FIELDS = tuple(
    (f.name, f.default is None) for f in fields(Paper) if f.name not in ("version", "relevance", "extra")
)


@dataclass(frozen=True)
class TopicResult:
    """What one topic's fetch produced in one run."""

    name: str
    papers: tuple[Paper, ...] = ()
    error: str | None = None
    excluded: int = 0  # dropped by `exclude` / `exclude_categories`


@dataclass
class TopicSummary:
    name: str
    fetched: int = 0
    new: int = 0
    revised: int = 0
    excluded: int = 0
    error: str | None = None


@dataclass
class RunSummary:
    """The result of one `tracker run`; printed by `--json`."""

    date: str
    topics: list[TopicSummary] = field(default_factory=list)
    new_papers: int = 0  # unique papers: one paper matched by two topics counts once here
    revised_papers: int = 0
    outputs: list[str] = field(default_factory=list)
    dry_run: bool = False
    backlog: dict[str, int] = field(default_factory=dict)  # topic -> papers past the cap, fetched by the next runs
    shortened: dict[str, int] = field(default_factory=dict)  # field -> values cut to its length cap this run
    extra: dict[str, Any] = field(default_factory=dict)  # later stages: embedded, clusters...
    error: str | None = None  # why the run stopped early (written to last_run.json for the health issue)

    @property
    def failed(self) -> list[TopicSummary]:
        return [t for t in self.topics if t.error]

    def to_dict(self) -> dict[str, Any]:
        totals = {
            "fetched": sum(t.fetched for t in self.topics),
            "new": self.new_papers,
            "revised": self.revised_papers,
            "excluded": sum(t.excluded for t in self.topics),
            "failed_topics": len(self.failed),
        }
        return {
            "date": self.date,
            "topics": [asdict(t) for t in self.topics],
            "totals": totals,
            "outputs": list(self.outputs),
            "dry_run": self.dry_run,
            "backlog": dict(self.backlog),
            "shortened": dict(self.shortened),
            **self.extra,
            **({"error": self.error} if self.error else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """The summary `to_dict` wrote (last_run.json, a cache): fields of the wrong type read as empty."""
        topics = [
            TopicSummary(
                str(t.get("name", "")),
                fetched=_count(t.get("fetched")),
                new=_count(t.get("new")),
                revised=_count(t.get("revised")),
                excluded=_count(t.get("excluded")),
                error=str(t["error"]) if t.get("error") else None,
            )
            for t in _list(data.get("topics"))
            if isinstance(t, Mapping)
        ]
        totals = data.get("totals")
        totals = totals if isinstance(totals, Mapping) else {}
        return cls(
            date=str(data.get("date", "")),
            topics=topics,
            new_papers=_count(totals.get("new")),
            revised_papers=_count(totals.get("revised")),
            outputs=[p for p in _list(data.get("outputs")) if isinstance(p, str)],
            dry_run=data.get("dry_run") is True,
            error=str(data["error"]) if data.get("error") else None,
            backlog=_counts(data.get("backlog")),
            shortened=_counts(data.get("shortened")),
            extra={k: v for k, v in data.items() if k not in _SUMMARY_KEYS},
        )


_SUMMARY_KEYS = {"date", "topics", "totals", "outputs", "dry_run", "error", "backlog", "shortened"}


def _counts(value: Any) -> dict[str, int]:
    return {str(k): _count(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def papers_of_day(papers: Iterable[Paper], date: str) -> tuple[list[Paper], list[Paper]]:
    """New papers first seen on `date`, and known papers revised on `date`.

    Papers with no topic (e.g. the group's own profile papers, fetched by id) are not news.
    """
    new, revised = [], []
    for paper in papers:
        if not paper.topics:
            continue
        if paper.first_seen == date:
            new.append(paper)
        elif paper.revised_on == date:
            revised.append(paper)
    return new, revised
