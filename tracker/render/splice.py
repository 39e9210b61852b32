"""The README splice: the tracker owns only the lines between its two marker lines.

A marker counts only as a line of its own that Markdown reads as an HTML comment block: at
most 3 columns of indentation (a tab counts to the next multiple of 4, so a tab-indented marker
is indented code), outside fenced code (also inside list items and quotes) and outside raw HTML
blocks with an end condition (`<pre>`, `<script>`, `<style>`, `<textarea>`, a multi-line
`<!-- ... -->` comment, `<?...?>`, `<!X...>`, CDATA). A marker quoted in prose, in backticks or
in a code example, or commented out, is the user's text. Anything but exactly one start line followed by one
end line (or neither: the block is appended) is an error naming the README and the lines, so
a run never guesses and grows or eats the README.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tracker.errors import TrackerError

START_MARKER = "<!-- paper-tracker:start -->"
END_MARKER = "<!-- paper-tracker:end -->"
# CommonMark fences: up to 3 spaces, then 3+ backticks (info string without backticks) or tildes;
# also inside list items and block quotes (any run of "- ", "1. ", "> " container prefixes).
_FENCE = re.compile(r"^ {0,3}(?:(?:[-+*]|\d{1,9}[.)])[ \t]+ {0,3}|>[ \t]? {0,3})*(`{3,}(?=[^`]*$)|~{3,})")
# Raw HTML blocks (CommonMark types 1-5) that run until a line holding their end string.
_HTML_BLOCKS = (
    (
        re.compile(r"<(?:pre|script|style|textarea)(?:[ \t>]|$)", re.I),
        re.compile(r"</(?:pre|script|style|textarea)>", re.I),
    ),
    (re.compile(r"<!--"), re.compile(r"-->")),
    (re.compile(r"<\?"), re.compile(r"\?>")),
    (re.compile(r"<![A-Za-z]"), re.compile(r">")),
    (re.compile(r"<!\[CDATA\["), re.compile(r"\]\]>")),
)


class SpliceError(TrackerError):
    """The README's marker lines are not one start line followed by one end line."""


def read_readme(path: Path) -> str:
    """The README's text ("" when there is none yet), or a one-line SpliceError: it must be a
    UTF-8 regular file (a folder or FIFO cannot be spliced; a link may lead out of the repository)."""
    if not os.path.lexists(path):
        return ""
    if path.is_symlink() or not path.is_file():
        kind = "a link" if path.is_symlink() else "a folder" if path.is_dir() else "not a regular file"
        raise SpliceError(f"{path} is {kind}; the tracker writes its section only into a regular README file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpliceError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the README as UTF-8"
        ) from None


def splice(existing: str, section: str, readme: Path | str = "README.md") -> str:
    """`existing` with the text between our marker lines replaced by `section`.

    Without markers, the marked block is appended at the end. Everything outside is kept byte
    for byte.
    """
    block = f"{START_MARKER}\n{section.strip()}\n{END_MARKER}"
    inner = find_markers(section)
    if inner[START_MARKER] or inner[END_MARKER]:
        raise SpliceError(
            f"the README template writes a marker line itself ({START_MARKER} or {END_MARKER}); remove it"
        )
    lines = _split_lines(existing)
    found = find_markers(existing)
    starts, ends = found[START_MARKER], found[END_MARKER]
    if not starts and not ends:
        if found["open_fence"]:
            raise SpliceError(
                f"{readme}: the code fence opened at line {found['open_fence']} is never closed, so the "
                "tracker's section cannot be added after it; close the fence"
            )
        separator = "" if not existing else ("\n" if existing.endswith("\n") else "\n\n")
        return existing + separator + block + "\n"
    _check_pair(readme, starts, ends)
    start, end = starts[0] - 1, ends[0] - 1  # 0-based line indexes
    ending = _line_ending(lines[end])
    return "".join(lines[:start]) + block + (ending if ending else "") + "".join(lines[end + 1 :])


def find_markers(text: str) -> dict:
    """1-based line numbers of marker lines outside code fences and raw HTML blocks, and an unclosed fence's line."""
    found: dict = {START_MARKER: [], END_MARKER: [], "open_fence": 0}
    fence = ""  # the opening fence run while inside a fenced block
    html_end = None  # the end condition while inside a raw HTML block
    for number, line in enumerate(_split_lines(text), start=1):
        line = line.rstrip("\r\n")
        match = _FENCE.match(line)
        if fence:
            if (
                match
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= len(fence)
                and not line[match.end() :].strip(" \t")
            ):
                fence = ""
            continue
        if html_end is not None:
            html_end = None if html_end.search(line) else html_end
            continue
        if match:
            fence, found["open_fence"] = match.group(1), number
            continue
        content = line.lstrip(" \t")
        if _columns(line[: len(line) - len(content)]) > 3:
            continue  # indented code
        if content.rstrip(" \t") in (START_MARKER, END_MARKER):
            found[content.rstrip(" \t")].append(number)
            continue
        for start, end in _HTML_BLOCKS:
            if opened := start.match(content):
                html_end = None if end.search(content, opened.end()) else end
                break
    if not fence:
        found["open_fence"] = 0
    return found


def _columns(indent: str) -> int:
    """The column an indentation of spaces and tabs reaches (tab stops every 4 columns)."""
    column = 0
    for char in indent:
        column = column + 4 - column % 4 if char == "\t" else column + 1
    return column


def _check_pair(readme: Path | str, starts: list[int], ends: list[int]) -> None:
    fix = f"keep exactly one {START_MARKER} line followed by one {END_MARKER} line"
    if len(starts) > 1 or len(ends) > 1:
        raise SpliceError(
            f"{readme}: {len(starts)} start marker lines ({_lines(starts)}) and {len(ends)} end marker "
            f"lines ({_lines(ends)}): {fix}"
        )
    if not starts or not ends:
        have, lacks = ("start", "end") if starts else ("end", "start")
        raise SpliceError(f"{readme}: {have} marker at line {(starts or ends)[0]} but no {lacks} marker line: {fix}")
    if ends[0] < starts[0]:
        raise SpliceError(
            f"{readme}: the end marker (line {ends[0]}) comes before the start marker (line {starts[0]}): {fix}"
        )


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, split at "\n" only (as editors and git count lines)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _lines(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) if numbers else "none"


def _line_ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]
