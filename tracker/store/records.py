"""One ledger line <-> one Paper: strict JSON Lines, validated on the way in.

Lines are split at "\\n" only, and every other character that some reader treats as a line
break (U+2028, U+2029, NEL...) is written as a \\uXXXX escape, so any JSON Lines reader sees
one record per line. A line that is not a valid record raises `BadRecord`; the ledger keeps
such lines verbatim instead of dropping or mangling them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from tracker.arxiv_ids import canonical_id, parse_id
from tracker.errors import TrackerError
from tracker.models import Paper

# Characters json.dumps(ensure_ascii=False) leaves raw but some readers split lines at (or that
# cannot be encoded: lone surrogates from a "\ud800" escape in a field we only carry along).
_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")

_REQUIRED_TEXT = ("title", "abstract")
_TEXT = ("primary_category", "abs_url", "pdf_url")
_OPTIONAL_TEXT = (
    "published",
    "updated",
    "comment",
    "journal_ref",
    "doi",
    "first_seen",
    "revised_on",
    "announce_type",
    "tldr",
    "tldr_source",
)
_LISTS = ("authors", "categories", "topics")
KNOWN = frozenset(Paper.__dataclass_fields__) - {"extra"}
MAX_EXTRA_DEPTH = 100  # unknown fields are kept, but no deeper than this (deepcopy and json recurse)
MAX_VERSION = 9999  # as tracker.arxiv_ids reads versions (at most 4 digits)


class BadRecord(ValueError):
    """Why a ledger line cannot be read as a paper (one short phrase)."""


def encode(paper: Paper) -> bytes:
    """One compact, key-sorted JSON line (no trailing newline)."""
    text = json.dumps(paper.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


def decode(raw: bytes) -> tuple[Paper, list[str]]:
    """The paper on one line, and notes on any value read in a changed but unambiguous form."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRecord("not UTF-8 text") from None
    except ValueError as exc:
        raise BadRecord(f"not JSON ({exc})") from None
    except RecursionError:  # "[[[[..." deeper than the parser's stack: no record is nested at all
        raise BadRecord("not a record (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise BadRecord(f"a JSON {type(data).__name__}, not an object")
    notes: list[str] = []
    pid, id_version = _id(data.get("id"), notes)
    version = data.get("version", id_version)
    values: dict[str, Any] = {"id": pid, "version": max(_version(version, notes), id_version or 0)}
    for name in _REQUIRED_TEXT:
        values[name] = _text(name, data.get(name), required=True)
    for name in _TEXT:
        values[name] = _text(name, data.get(name, ""), required=True)
    for name in _OPTIONAL_TEXT:
        values[name] = _text(name, data.get(name))
    for name in _LISTS:
        values[name] = _strings(name, _names(name, data.get(name), notes), notes)
    values["relevance"] = _relevance(data.get("relevance"), notes)
    extra = {key: value for key, value in data.items() if key not in KNOWN}
    if _nested_deeper_than(extra, MAX_EXTRA_DEPTH):  # copying or writing it back would overflow the stack
        raise BadRecord(f"a field we do not know is nested more than {MAX_EXTRA_DEPTH} levels deep")
    return Paper(**values, extra=extra), notes


def line_id(raw: bytes) -> str | None:
    """The id of a line we could not read as a record, if it has one (to keep it in id order)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return canonical_id(value)
    except TrackerError:
        return value


def _id(value: Any, notes: list[str]) -> tuple[str, int | None]:
    """The canonical id, and the version when the id carried one (`2401.01234v2`, another
    version's format): read leniently, so the paper is not taken for new and recorded twice."""
    if not isinstance(value, str):
        raise BadRecord(f"id is {_shown(value)}, not an arXiv id")
    try:
        parsed = parse_id(value)
    except TrackerError:
        raise BadRecord(f"id {value!r} is not an arXiv id") from None
    if parsed.base != value:
        notes.append(f"id {value!r} read as {parsed.base!r}" + (f" version {parsed.version}" if parsed.version else ""))
    return parsed.base, parsed.version


# Author objects of other tools' formats ({"name": ...}, arXiv's keyname/forenames, first/last).
_NAME_KEYS = (("name",), ("full_name",), ("forenames", "keyname"), ("first", "last"), ("given", "family"))


def _names(name: str, value: Any, notes: list[str]) -> Any:
    """`authors` as objects (another version's format) read as their names; anything else unchanged."""
    if name != "authors" or not isinstance(value, list) or not any(isinstance(item, dict) for item in value):
        return value
    names = [_name_of(item) if isinstance(item, dict) else item for item in value]
    if any(n is None for n in names):
        return value  # an object with no name we know: _strings reports it
    notes.append("authors were objects, read as their names")
    return names


def _name_of(author: dict) -> str | None:
    for keys in _NAME_KEYS:
        parts = [part for key in keys if isinstance(part := author.get(key), str)]
        if len(parts) == len(keys):
            return " ".join(part.strip() for part in parts if part.strip())
    return None


def _version(value: Any, notes: list[str]) -> int:
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        number = int(value.strip())  # ("²".isdigit() is True, but int("²") fails; so do 5,000 digits)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_VERSION:
        raise BadRecord(f"version is {_shown(value)}, not a whole number from 1 to {MAX_VERSION}")
    if number is not value:
        notes.append(f"version {value!r} read as {number}")
    return number


def _text(name: str, value: Any, *, required: bool = False) -> str | None:
    if isinstance(value, str) or (value is None and not required):
        return value
    raise BadRecord(f"{name} is {_shown(value)}, not text")


def _strings(name: str, value: Any, notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # `topics: "Hallucination"`: one name, never its characters
        notes.append(f"{name} was a single string, read as a list of one")
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise BadRecord(f"{name} is {_shown(value)}, not a list of text")


def _relevance(value: Any, notes: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRecord(f"relevance is {_shown(value)}, not a number")
    if not math.isfinite(value):
        notes.append(f"relevance {value!r} dropped (it is recomputed)")
        return None
    return float(value)


def _nested_deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            stack += [(child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return False


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."
