"""Papers as GitHub task-list items, so members can tick what they liked in the daily issue.

Every list item of the digest whose first line links a paper's abstract page becomes a task item
(`- [ ] **[Title](https://arxiv.org/abs/ID)** ...`); ticking it in GitHub's UI edits exactly that
`[ ]` into `[x]` in the issue body or comment, which `tracker feedback` reads back.

The paper of an item is the first *link destination* on its first line that is an arXiv abstract
URL (else a bare abstract URL): titles are Markdown-escaped, so a title cannot fake a link
destination. Lines inside fenced code blocks are not items (GitHub renders no box there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tracker.arxiv_ids import canonical_id
from tracker.errors import TrackerError

_ITEM = re.compile(r"^(?P<lead> {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+)(?:\[(?P<box>[ xX])\][ \t]+)?(?P<rest>.*)$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ABS = r"https?://(?:www\.|export\.)?arxiv\.org/abs/"
_LINKED = re.compile(r"(?<!\\)\]\(\s*<?" + _ABS + r"(?P<id>[^)\s>]+)")
_BARE = re.compile(_ABS + r"(?P<id>[\w./-]*\w)")


@dataclass(frozen=True)
class TaskItem:
    line: int  # 1-based, in the text it was read from
    checked: bool
    paper: str | None  # canonical id; None when the item links no paper or a malformed id
    link: str | None  # the id as written in the link (None: no arXiv link at all)
    text: str  # the item's first line, for warnings


def as_task_list(markdown: str) -> str:
    """`markdown` with every list item that links a paper turned into an unticked task item."""
    out = []
    for line, match in _scan(markdown):
        if match and match.group("box") is None and _linked_id(match.group("rest")):
            line = f"{match.group('lead')}[ ] {match.group('rest')}"
        out.append(line)
    return "\n".join(out)


def task_items(markdown: str) -> list[TaskItem]:
    """Every task item in `markdown` (ticked or not), with the paper it names."""
    items = []
    for number, (line, match) in enumerate(_scan(markdown), start=1):
        if match and match.group("box") is not None:
            raw = _linked_id(match.group("rest"))
            items.append(TaskItem(number, match.group("box") != " ", _canonical(raw), raw, line.strip()[:120]))
    return items


def carry_ticks(markdown: str, ticked: Iterable[str]) -> str:
    """`markdown` with the items of papers in `ticked` ticked: a re-publish keeps members' ticks."""
    wanted = set(ticked)
    if not wanted:
        return markdown
    out = []
    for line, match in _scan(markdown):
        if match and match.group("box") == " " and _canonical(_linked_id(match.group("rest"))) in wanted:
            line = f"{match.group('lead')}[x] {match.group('rest')}"
        out.append(line)
    return "\n".join(out)


def _scan(markdown: str) -> Iterator[tuple[str, re.Match | None]]:
    """Each line with its list-item match (None inside code fences and for other lines)."""
    fence: str | None = None
    for line in markdown.split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)[0] * len(opener.group(1))
            yield line, None
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            yield line, None
        else:
            yield line, _ITEM.match(line)


def _linked_id(rest: str) -> str | None:
    found = _LINKED.search(rest) or _BARE.search(rest)
    return found.group("id") if found else None


def _canonical(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return canonical_id(raw.rstrip("/"))
    except TrackerError:
        return None
