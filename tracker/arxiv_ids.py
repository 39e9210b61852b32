"""Parse and canonicalise arXiv identifiers.

New style: YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015-), optional vN.
Old style: archive[.SC]/YYMMNNN ("hep-th/9901001", "math.GT/0309136"), optional vN.
The canonical key of a paper is its identifier without the version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracker.errors import TrackerError

# ASCII digits only (a Unicode \d would admit "٢٦١١.٠٠٠٠١", a second key for a real paper), and a
# version of at most 4 digits: a feed claiming v99999999 would otherwise pin the record forever.
_NEW = re.compile(r"(?P<base>\d{4}\.\d{4,5})(?:v(?P<version>\d{1,4}))?", re.ASCII)
_OLD = re.compile(r"(?P<base>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d{1,4}))?", re.ASCII)
_PREFIXES = (
    "https://arxiv.org/abs/",
    "http://arxiv.org/abs/",
    "https://arxiv.org/pdf/",
    "http://arxiv.org/pdf/",
    "oai:arxiv.org:",
    "arxiv:",
)


@dataclass(frozen=True)
class ArxivId:
    base: str  # canonical id, no version
    version: int | None

    def __str__(self) -> str:
        return self.base if self.version is None else f"{self.base}v{self.version}"


def parse_id(text: str) -> ArxivId:
    """Parse an id in any common spelling: bare, versioned, `arXiv:` prefixed, or an abs/pdf URL."""
    raw = text.strip()
    lowered = raw.lower()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            raw = raw[len(prefix) :]
            break
    raw = raw.removesuffix(".pdf")
    for pattern in (_NEW, _OLD):
        match = pattern.fullmatch(raw)
        if match:
            version = match.group("version")
            base = match.group("base")
            if pattern is _NEW and not _plausible_new_style(base):
                break
            return ArxivId(base, int(version) if version else None)
    raise TrackerError(f"not an arXiv identifier: {text!r} (expected e.g. 2401.01234v2 or hep-th/9901001)")


def _plausible_new_style(base: str) -> bool:
    """Five-digit numbers exist only from 1501 on; months run 01-12."""
    yymm, number = base.split(".")
    month = int(yymm[2:])
    if not 1 <= month <= 12:
        return False
    return len(number) == 4 or int(yymm) >= 1501


def canonical_id(text: str) -> str:
    return parse_id(text).base


def shard_month(canonical: str) -> str:
    """The YYYY-MM an id was assigned in, read from the id itself (so a paper never moves shard)."""
    digits = canonical.split("/")[-1][:4] if "/" in canonical else canonical[:4]
    year, month = int(digits[:2]), digits[2:4]
    century = 1900 if year >= 91 else 2000  # arXiv started in 1991
    return f"{century + year}-{month}"
