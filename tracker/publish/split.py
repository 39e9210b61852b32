"""Split a long Markdown body into pieces GitHub accepts, without breaking what it renders.

Pieces are cut between blocks: a list item with its indented continuation lines (authors, a
collapsed abstract) stays whole, and a piece that starts inside a table repeats the table's
header and separator rows so it still renders as a table. Nothing is ever cut mid-block (a cut
through `<details>` breaks the rendering of every later paper): a block longer than one piece
keeps its first line (the paper's title, which members tick) with a note, and pieces past a cap
are left out; both are counted so the caller can say so, with a link to the full digest.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

GITHUB_BODY_LIMIT = 65_536  # GitHub rejects issue/comment bodies longer than this
_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_ENTRY_RE = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]")  # a list item: one paper in a digest
SHORTENED_NOTE = "  *(shortened: too long for a GitHub issue; the full digest has it)*"
LEFT_OUT_LINE = "*(an entry too long for a GitHub issue was left out; the full digest has it)*"


@dataclass(frozen=True)
class Split:
    chunks: list[str]
    shortened: int = 0  # blocks longer than a piece, kept as their first line (or a note)
    left_out: int = 0  # entries (list items) in pieces past `max_parts`: not sent at all


def body_size(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (>= characters; safe for emoji)."""
    return len(text.encode("utf-16-le")) // 2


def split_markdown(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` (see `body_size`), cut only between blocks."""
    return split_blocks(text, limit).chunks


def split_blocks(text: str, limit: int, max_parts: int | None = None) -> Split:
    """`split_markdown`, counting what did not fit: shortened blocks, entries past `max_parts`."""
    chunks: list[list[str]] = []
    current: list[str] = []
    shortened = 0
    for block, head in _blocks(text.split("\n"), limit):
        if _size(block) > limit:
            block, shortened = _shorten(block, limit), shortened + 1
        if current and _size(current) + _size(block) > limit:
            chunks.append(current)
            current = head if head and _size(head) + _size(block) <= limit else []
        current = current + block
    chunks.append(current)
    chunks = [chunk for chunk in chunks if "\n".join(chunk).strip()]
    kept = chunks if max_parts is None else chunks[:max_parts]
    left_out = sum(1 for chunk in chunks[len(kept) :] for line in chunk if _ENTRY_RE.match(line))
    if len(kept) < len(chunks):
        log.warning(
            "the issue would need %d parts; sending %d and leaving %d entries out", len(chunks), len(kept), left_out
        )
    return Split(["\n".join(chunk).strip("\n") for chunk in kept], shortened, left_out)


def _shorten(block: list[str], limit: int) -> list[str]:
    """A block too long for any piece: its first line and a note, or only a note."""
    first = block[0]
    log.warning("a %d-character block is longer than GitHub's body limit; shortening it", sum(map(len, block)))
    if _size([first, SHORTENED_NOTE]) <= limit and "<details" not in first.lower():
        return [first, SHORTENED_NOTE]
    lead = _ENTRY_RE.match(first)
    return [(lead.group(0) if lead else "") + LEFT_OUT_LINE]


def _size(lines: list[str]) -> int:
    return sum(body_size(line) + 1 for line in lines)


def _blocks(lines: list[str], limit: int) -> list[tuple[list[str], list[str]]]:
    """(block lines, table head to repeat before it) in order; blocks never exceed `limit`."""
    out: list[tuple[list[str], list[str]]] = []
    head: list[str] = []
    i = 0
    while i < len(lines):
        if _is_row(lines[i]):
            if i + 1 < len(lines) and _SEPARATOR_RE.match(lines[i + 1]) and not _SEPARATOR_RE.match(lines[i]):
                head = lines[i : i + 2]
                size = 3 if i + 2 < len(lines) and _is_row(lines[i + 2]) else 2
                out += [
                    (part, []) for part in _fit(lines[i : i + size], limit)
                ]  # header, separator, first row together
                i += size
                continue
            out.append(([lines[i]], head))
            i += 1
            continue
        head = []
        end = _item_end(lines, i)
        whole = _ENTRY_RE.match(lines[i])  # a paper is shortened as a whole, never scattered over parts
        out += [(part, []) for part in ([lines[i:end]] if whole else _fit(lines[i:end], limit))]
        i = end
    return out


def _item_end(lines: list[str], start: int) -> int:
    """End of the block starting at `start`: a line plus the indented lines (and inner blanks) after it."""
    end = start + 1
    while end < len(lines):
        if lines[end][:1] in (" ", "\t"):
            end += 1
        elif not lines[end].strip() and end + 1 < len(lines) and lines[end + 1][:1] in (" ", "\t"):
            end += 1
        else:
            break
    return end


def _fit(block: list[str], limit: int) -> list[list[str]]:
    """A block too big for one chunk falls back to single lines (each shortened if still too big)."""
    return [block] if _size(block) <= limit else [[line] for line in block]


def _is_row(line: str) -> bool:
    return line.lstrip().startswith("|")
