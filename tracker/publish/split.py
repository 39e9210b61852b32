"""Split a long Markdown body into pieces GitHub accepts, without breaking what it renders.

Pieces are cut between blocks: a list item with its indented continuation lines (authors, a
collapsed abstract) stays whole, and a piece that starts inside a table repeats the table's
header and separator rows so it still renders as a table. Only a single line longer than the
limit is cut (a pathological case).
"""
from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

GITHUB_BODY_LIMIT = 65_536  # GitHub rejects issue/comment bodies longer than this
_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def body_size(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (>= characters; safe for emoji)."""
    return len(text.encode("utf-16-le")) // 2


def split_markdown(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` (see `body_size`), cut only between blocks."""
    lines = _cut_long_lines(text.split("\n"), limit)
    chunks: list[list[str]] = []
    current: list[str] = []
    for block, head in _blocks(lines, limit):
        if current and _size(current) + _size(block) > limit:
            chunks.append(current)
            current = head if head and _size(head) + _size(block) <= limit else []
        current = current + block
    chunks.append(current)
    texts = ("\n".join(chunk).strip("\n") for chunk in chunks)
    return [text for text in texts if text.strip()]


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
                out += [(part, []) for part in _fit(lines[i : i + size], limit)]  # header, separator, first row together
                i += size
                continue
            out.append(([lines[i]], head))
            i += 1
            continue
        head = []
        end = _item_end(lines, i)
        out += [(part, []) for part in _fit(lines[i:end], limit)]
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
    """A block too big for one chunk falls back to single lines."""
    return [block] if _size(block) <= limit else [[line] for line in block]


def _is_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def _cut_long_lines(lines: list[str], limit: int) -> list[str]:
    """Last resort for single lines longer than the limit (never a real table row or paragraph)."""
    out = []
    step = max((limit - 1) // 2, 1)  # <= 2 UTF-16 units per character, so each piece fits
    for line in lines:
        if body_size(line) + 1 <= limit:
            out.append(line)
        else:
            log.warning("a %d-character line is longer than GitHub's body limit; cutting it", len(line))
            out += [line[k : k + step] for k in range(0, len(line), step)]
    return out
