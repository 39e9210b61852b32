"""One normalisation for every text field, whatever source it came from.

Paper text is hostile: arXiv passes through NUL and other control characters, Unicode line
and paragraph separators (which many JSON Lines readers split on), bidi overrides that reorder
what a reader sees, and zero-width or tag characters that hide text. `clean_line` (titles,
authors, categories, comments, ...) and `clean_block` (abstracts: keeps line breaks) remove
all of them, turn every kind of line break into "\n" or a space, normalise to NFC and collapse
whitespace. Both are idempotent: cleaning clean text returns it unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# Everything str.splitlines() treats as a line break (JSON Lines readers differ on which they honour).
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

# Control (Cc), format (Cf: bidi controls, zero-width, soft hyphen, tags...), surrogate (Cs),
# line/paragraph separators (Zl, Zp) and noncharacters. A superset over recent Unicode
# versions; tests/test_text.py checks it covers every such code point this Python knows.
_SPECIAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufdd0-\ufdef\ufeff\ufff9-\ufffb\ufffe\uffff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17))
    + "]"
)


def _replacement(char: str, multiline: bool) -> str:
    if char in LINE_BREAKS:
        return "\n" if multiline else " "
    if char.isspace():  # tab, unit separator
        return " "
    if "\ud800" <= char <= "\udfff":  # a lone surrogate (e.g. from a JSON "\ud800" escape) cannot be encoded
        return "\ufffd"
    return ""


def _neutralise(text: str, multiline: bool) -> str:
    # isprintable() is False for every Cc/Cf/Cs/Zl/Zp/Cn character (and for some harmless
    # ones): a fast C check that lets ordinary text skip the slower pattern.
    if not text.isprintable():
        if multiline and "\r\n" in text:
            text = text.replace("\r\n", "\n")  # one break, not two
        text = _SPECIAL.sub(lambda m: _replacement(m.group(), multiline), text)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def _plain(text: str) -> str | None:
    """`text` normalised, when it is already one clean line (the common case, checked in C); else None."""
    if not text.isprintable() or "  " in text or text[:1] == " " or text[-1:] == " ":
        return None  # printable text holds no whitespace but the ASCII space
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def clean_line(text: str) -> str:
    """A single-line field: specials removed, every line break a space, whitespace collapsed, NFC."""
    plain = _plain(text)
    return plain if plain is not None else " ".join(_neutralise(text, multiline=False).split())


def clean_block(text: str) -> str:
    """A multi-line field (an abstract): as clean_line per line; at most one blank line between paragraphs."""
    plain = _plain(text)
    if plain is not None:
        return plain
    lines = [" ".join(line.split()) for line in _neutralise(text, multiline=True).split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept)


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 file", "2 files", "0 files": a count with its noun in the right number (`plural` when not +s)."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
