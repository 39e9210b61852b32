"""A topic's folder name (its slug): used by the config to reject colliding names and by render.

A slug names the topic's archive folder, so it must be stable (a folder must not move when
nothing changed) and distinct for distinct names. Names made only of ASCII letters, digits,
spaces and hyphens keep the plain slug they always had ("Reward Model" -> "reward-model");
any other name also carries a short hash of the exact name, so "C++" and "C", two emoji names,
two Chinese names, or "A/B" and "A B" get different folders. Names that still collide (they
differ only in case or in space vs hyphen) are rejected at config load.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Common symbols spelled out so the readable part stays meaningful ("C++" -> "c-plus-plus-…").
_SPELLED = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at ", "%": " percent "}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 \-]+")
_RUNS = re.compile(r"[^a-z0-9]+")
_MAX_BASE = 60  # keeps folder names far below every filesystem's 255-byte limit
# Folder names Windows cannot check out (a clone of the repository there must still work).
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def topic_slug(name: str) -> str:
    """A topic's folder name: lowercase ASCII words joined by '-', plus a hash when lossy.

    Never empty, never "." or "..", never a path separator; the same name always gives the
    same slug, on every machine and Python version.
    """
    spelled = "".join(_SPELLED.get(ch, ch) for ch in name)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    base = _RUNS.sub("-", ascii_text.lower()).strip("-")
    lossy = not _PLAIN_NAME.fullmatch(name) or len(base) > _MAX_BASE or base in _RESERVED
    base = base[:_MAX_BASE].rstrip("-")
    if not lossy and base:
        return base
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{base or 'topic'}-{digest}"
