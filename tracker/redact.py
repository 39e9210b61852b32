"""Remove credentials from any text before it is logged, stored or published.

Every message that may carry a URL, a header or an exception's text goes through `redact()`:
URL userinfo (`scheme://user:pass@host`), GitHub tokens, secret-looking query parameters,
`Authorization` values, explicitly named secrets and the GITHUB_TOKEN / GH_TOKEN values.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# Explicit secrets shorter than this are not replaced as bare substrings (a one-letter password
# would blank every such letter); inside a URL or header they are still caught by the patterns.
MIN_SECRET_LEN = 4
ENV_SECRETS = ("GITHUB_TOKEN", "GH_TOKEN")

# scheme://userinfo@ — greedy up to the last "@" of the authority (a raw "@" in a password).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s\"'<>]*@")
_GITHUB_TOKEN = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})")
_SECRET_PARAM = re.compile(
    r"(?i)(?<![\w.\-])("
    r"[\w.\-]*(?:token|secret|passw(?:or)?d|api[_\-]?key|signature|credential)[\w.\-]*"
    r"|key|sig|pwd|auth|code"
    r")=(?!\*\*\*)[^&#\s\"'<>]+"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|private-token)(['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(bearer|basic|token|digest)\s+)?(?!(?:bearer|basic|token|digest)\s)(?!\*\*\*)[^\s'\",}]+"
)


def _header_repl(m: re.Match) -> str:
    scheme = f"{m.group(3)} " if m.group(3) else ""
    return f"{m.group(1)}{m.group(2)}{scheme}{MASK}"


_registered: set[str] = set()


def register_secret(value: str) -> None:
    """A secret read at run time (e.g. the LLM endpoint's key): masked by every later `redact()`."""
    if value and len(value) >= MIN_SECRET_LEN:
        _registered.add(value)


def _env_secrets() -> list[str]:
    return [v for v in (os.environ.get(name, "") for name in ENV_SECRETS) if v] + sorted(_registered)


def url_secrets(url: str) -> list[str]:
    """The password (raw and decoded) of a URL's userinfo: to pass as `secrets=`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    out = []
    for value in (parts.password,):
        if value:
            out += [value, unquote(value)]
    return out


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential it may carry replaced by `***`."""
    if not text:
        return text
    text = str(text)
    explicit = {s for s in (*secrets, *_env_secrets()) if s and len(s) >= MIN_SECRET_LEN}
    for secret in sorted(explicit | {quote(s, safe="") for s in explicit}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _AUTH_HEADER.sub(_header_repl, text)
    text = _GITHUB_TOKEN.sub(MASK, text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)


class RedactFilter(logging.Filter):
    """A logging filter that redacts each record's final message (install on a handler)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:  # a handler before this one may have formatted it already
            record.exc_text = redact(record.exc_text, self.secrets)
        return True
