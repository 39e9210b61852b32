"""The group's interest profiles: arXiv ids, BibTeX entries and free-text interests.

Config `profile: {papers: [ids], bibtex: path, interests: [text]}` (one unnamed profile; every
part optional) and/or `profiles: [{name, papers, bibtex, interests}, ...]` (named profiles).
Problems in the profile (a malformed id, an unreadable BibTeX entry) become warnings naming
what was skipped and where: a bad profile entry must not stop the daily run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.arxiv_ids import canonical_id
from tracker.errors import TrackerError
from tracker.store.journal import write_atomic

if TYPE_CHECKING:
    from tracker.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileText:
    """A profile item embedded from its own text (an interest, or a BibTeX entry without an id)."""

    label: str
    text: str
    date: str | None = None  # ISO date when known; newer items may weigh more


@dataclass(frozen=True)
class Profile:
    name: str = ""  # "" for the single `profile:`; each of `profiles:` has its own
    ids: tuple[str, ...] = ()  # canonical arXiv ids; their text comes from the ledger
    texts: tuple[ProfileText, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.ids and not self.texts


def build_profile(
    papers: Iterable[str] = (),
    bibtex: str | Path | None = None,
    interests: Iterable[str] = (),
    *,
    name: str = "",
    cache_dir: Path | None = None,
) -> Profile:
    """Read every configured part of the profile. Only the BibTeX file is read from disk
    (its parse cached in `cache_dir` by content, see read_bibtex_cached)."""
    where = f"profiles[{name}].papers" if name else "profile.papers"
    ids, warnings = parse_ids(papers, where=where)
    texts = [ProfileText(label=f"interest: {_shorten(t)}", text=t.strip()) for t in interests if t.strip()]
    if bibtex:
        bib_ids, bib_texts, bib_warnings = _read_bibtex_file(Path(bibtex), cache_dir)
        ids += bib_ids
        texts += bib_texts
        warnings += bib_warnings
    for warning in warnings:
        logger.warning("%s", warning)
    return Profile(name=name, ids=tuple(dict.fromkeys(ids)), texts=tuple(texts), warnings=tuple(warnings))


def profiles_from_settings(settings: Settings) -> list[Profile]:
    """Every configured profile: the unnamed `profile:` first (when set), then `profiles:` in order.

    BibTeX paths resolve relative to the config file.
    """
    confs = [("", settings.profile)] + [(conf.name, conf) for conf in getattr(settings, "profiles", ())]
    cache = settings.path(settings.output.state_dir) / BIBTEX_CACHE
    profiles = [
        build_profile(
            conf.papers, settings.path(conf.bibtex) if conf.bibtex else None, conf.interests, name=name, cache_dir=cache
        )
        for name, conf in confs
    ]
    return [p for p in profiles if not p.empty or p.name]


def profile_from_settings(settings: Settings) -> Profile:
    """All configured profiles as one (their ids and texts together): what to fetch, what is the group's own."""
    return merge_profiles(profiles_from_settings(settings))


@dataclass(frozen=True)
class RelevanceInputs:
    """What tracker.enrich.relevance.score_profiles needs besides the ledger and its vectors."""

    profiles: tuple[Profile, ...]
    profile_vectors: dict[str, Any]  # profile name -> vectors of its texts, row for row
    feedback: dict[str, str]  # ticked id -> date first ticked

    @property
    def empty(self) -> bool:
        return all(p.empty for p in self.profiles) and not self.feedback


def relevance_inputs(
    settings: Settings, encode: Callable[[list[str]], Any], *, profiles: Iterable[Profile] | None = None
) -> RelevanceInputs:
    """Read the profiles (BibTeX files) and the group's ticks (data/feedback.jsonl); encode the
    profiles' texts with `encode` (called only when some profile has texts, so no model loads
    otherwise). The one place a run and `tracker explain` gather these, so both score alike."""
    import numpy as np

    from tracker.store.feedback import feedback_path, load_feedback  # no PyGithub import in a run

    profiles = tuple(profiles_from_settings(settings) if profiles is None else profiles)
    texts = [t.text for p in profiles for t in p.texts]
    encoded = np.asarray(encode(texts), dtype=np.float32) if texts else np.zeros((0, 0), np.float32)
    vectors, start = {}, 0
    for profile in profiles:
        vectors[profile.name] = encoded[start : start + len(profile.texts)]
        start += len(profile.texts)
    return RelevanceInputs(profiles, vectors, load_feedback(feedback_path(settings)))


def merge_profiles(profiles: Iterable[Profile]) -> Profile:
    profiles = list(profiles)
    return Profile(
        ids=tuple(dict.fromkeys(pid for p in profiles for pid in p.ids)),
        texts=tuple(t for p in profiles for t in p.texts),
        warnings=tuple(w for p in profiles for w in p.warnings),
    )


def parse_ids(values: Iterable[str], *, where: str = "profile.papers") -> tuple[list[str], list[str]]:
    """Canonical ids of `values` (prefix `arXiv:`, versions, old style accepted) and warnings."""
    ids: list[str] = []
    warnings: list[str] = []
    for value in values:
        try:
            ids.append(canonical_id(str(value)))
        except TrackerError:
            warnings.append(f"{where}: {value!r} is not an arXiv id; skipped")
    return ids, warnings


def missing_ids(profile: Profile, known_ids: Iterable[str]) -> list[str]:
    """Profile ids not in the ledger yet: fetch these once by id (arXiv API `id_list`)."""
    known = set(known_ids)
    return [i for i in profile.ids if i not in known]


# --- BibTeX ----------------------------------------------------------------------------------

# An entry starts with `@type{` or `@type(` at the start of a line. Splitting the raw text on
# these lets us parse entries one at a time: bibtexparser 1.x silently drops a broken entry,
# and we want to name its line instead.
_ENTRY_START = re.compile(r"^[ \t]*@[ \t]*(\w+)[ \t]*[{(]", re.MULTILINE)
_ID_FIELDS = ("eprint", "arxiv", "arxivid", "arxiv_id")
_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([^\s?#}]+?)(?:\.pdf)?(?=$|[\s?#}])", re.IGNORECASE)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(\S+)", re.IGNORECASE)
_ARXIV_NOTE = re.compile(r"arxiv:\s*(\S+)", re.IGNORECASE)  # Google Scholar: journal={arXiv preprint arXiv:...}


def _read_bibtex_file(path: Path, cache_dir: Path | None = None) -> tuple[list[str], list[ProfileText], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [], [f"profile.bibtex: cannot read {path}: {exc}"]
    return read_bibtex_cached(text, str(path), cache_dir) if cache_dir else read_bibtex(text, source=str(path))


BIBTEX_CACHE = "bibtex"  # under the state folder (.tracker/): a cache, rebuilt when missing or damaged
_BIBTEX_CACHE_FORMAT = 1  # bump when read_bibtex's output changes


def read_bibtex_cached(text: str, source: str, cache_dir: Path) -> tuple[list[str], list[ProfileText], list[str]]:
    """read_bibtex, parsed once per file content: a 10 MB BibTeX takes minutes and ~1 GB to parse,
    so the result is kept in `cache_dir` under the hash of the text and where it came from."""
    key = hashlib.blake2b(f"{_BIBTEX_CACHE_FORMAT}\0{source}\0{text}".encode("utf-8", "surrogatepass"), digest_size=16)
    path = cache_dir / f"{key.hexdigest()}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["ids"], [ProfileText(**t) for t in data["texts"]], data["warnings"]
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, KeyError) as exc:
        logger.warning("%s: damaged BibTeX cache (%s); parsing the file again", path, exc)
    ids, texts, warnings = read_bibtex(text, source=source)
    data = {"ids": ids, "texts": [vars(t) for t in texts], "warnings": warnings}
    try:
        write_atomic(path, json.dumps(data, ensure_ascii=False))
        for old in cache_dir.glob("*.json"):  # one file's parse is kept: older versions of it are garbage
            if old != path and old.stat().st_mtime < path.stat().st_mtime - 86400 * 30:
                old.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("could not cache the BibTeX parse in %s (%s); the next run parses it again", cache_dir, exc)
    return ids, texts, warnings


def read_bibtex(text: str, *, source: str = "bibtex") -> tuple[list[str], list[ProfileText], list[str]]:
    """Profile ids and texts from BibTeX source; unreadable entries are warnings with their line."""
    ids: list[str] = []
    texts: list[ProfileText] = []
    warnings: list[str] = []
    chunks = _split_entries(text)
    strings = "\n".join(chunk for kind, _, chunk in chunks if kind == "string")
    for kind, line, chunk in chunks:
        if kind in ("string", "comment", "preamble"):
            continue
        where = f"{source} line {line}"
        entries = _parse_chunk(chunk, strings)
        if not entries:
            warnings.append(f"{where}: unreadable BibTeX entry; skipped")
        for entry in entries:  # more than one only when entries share a line
            arxiv_id, bad_id = _entry_arxiv_id(entry)
            if bad_id:
                warnings.append(f"{where}: {bad_id!r} in entry {entry.get('ID', '?')!r} is not an arXiv id")
            if arxiv_id:
                ids.append(arxiv_id)
            elif profile_text := _entry_text(entry):
                texts.append(profile_text)
            else:
                warnings.append(f"{where}: entry {entry.get('ID', '?')!r} has no arXiv id and no title; skipped")
    return ids, texts, warnings


def _split_entries(text: str) -> list[tuple[str, int, str]]:
    """(entry type lower-cased, 1-based line number, raw chunk) for each `@type{` in `text`."""
    starts = list(_ENTRY_START.finditer(text))
    chunks = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        line = text.count("\n", 0, match.start()) + 1
        chunks.append((match.group(1).lower(), line, text[match.start() : end]))
    return chunks


def _parse_chunk(chunk: str, strings: str) -> list[dict[str, str]]:
    import bibtexparser  # ~0.1 s import; only needed when a BibTeX profile is configured
    from bibtexparser.bparser import BibTexParser

    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    try:
        return bibtexparser.loads(f"{strings}\n{chunk}", parser=parser).entries
    except Exception:  # pyparsing raises assorted types on broken input
        return []


def _entry_arxiv_id(entry: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(canonical id or None, the offending value when a dedicated id field is malformed)."""
    archive = (entry.get("archiveprefix") or entry.get("eprinttype") or "arxiv").strip().lower()
    for name in _ID_FIELDS:
        if name == "eprint" and archive != "arxiv":
            continue  # an eprint of another archive (IACR, HAL, ...)
        value = entry.get(name, "").strip()
        if value:
            try:
                return canonical_id(value), None
            except TrackerError:
                return None, value
    for name, pattern in (
        ("url", _ARXIV_URL),
        ("doi", _ARXIV_DOI),
        ("journal", _ARXIV_NOTE),
        ("note", _ARXIV_NOTE),
        ("howpublished", _ARXIV_NOTE),
    ):
        match = pattern.search(entry.get(name, ""))
        if match:
            try:
                return canonical_id(match.group(1).rstrip(".,;")), None
            except TrackerError:
                continue
    return None, None


def _entry_text(entry: Mapping[str, str]) -> ProfileText | None:
    title = _plain(entry.get("title", ""))
    if not title:
        return None
    abstract = _plain(entry.get("abstract", ""))
    year = entry.get("year", "").strip()
    date = f"{year}-01-01" if re.fullmatch(r"\d{4}", year) else None
    return ProfileText(label=title, text=f"{title}. {abstract}" if abstract else title, date=date)


def _plain(value: str) -> str:
    """LaTeX-ish BibTeX field -> plain text: accents to unicode, grouping braces dropped."""
    from bibtexparser.latexenc import latex_to_unicode

    return " ".join(latex_to_unicode(value).replace("{", "").replace("}", "").split())


def _shorten(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
